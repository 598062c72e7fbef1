#!/usr/bin/env python3
"""Writes the demo's connection logs (fictional) into logs/<phase>/. Run from this folder.

Phase 1 (ingested before 27 July 2021): every affected organisation still uses legacy names.
Phase 2 (before 17 August): Thameside (RTH) has fixed its accounts: it no longer appears.
Phase 3 (before 31 August): Meadowbank (Y0123) has fixed its accounts too; Riverside has not.
"""
import gzip, os

IIS_HDR = ("#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: {d} 00:00:00\n"
           "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
IMAP_HDR = ("#Software: Microsoft Exchange Server\n#Version: 15.01.2507.006\n#Log-type: IMAP4 Protocol Log\n#Date: {d}T00:00:00.000Z\n"
            "#Fields: dateTime,sessionId,seqNumber,sIp,cIp,user,duration,rqsize,rpsize,command,parameters,context\n")
SMTP_HDR = ("#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n#Log-type: SMTP Receive Protocol Log\n#Date: {d}T00:00:00.000Z\n"
            "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context\n")

def iis(d, rows):
    out = IIS_HDR.format(d=d)
    for t, host, stem, q, user, ip, ua, status in rows:
        out += f"{d} {t} 10.20.0.14 POST {stem} {q}&Log=V160_HH:{host}_ 443 {user} {ip} {ua} - {status} 0 0 12\n"
    return out

def imap(d, rows):
    out = IMAP_HDR.format(d=d)
    for i, (t, user, ip, ok) in enumerate(rows):
        sid = f"08D955A1B2C3{d[-2:]}{i:02d}"
        res = '"R=""a1 OK LOGIN completed."""' if ok else '"R=""a1 NO LOGIN failed."""'
        out += f"{d}T{t}.000Z,{sid},1,10.20.0.11:993,{ip}:5{i:04d},{user if ok else ''},12,40,30,login,{user} *****,{res}\n"
    return out

def smtp(d, rows):
    out = SMTP_HDR.format(d=d)
    for i, (t, user, ip) in enumerate(rows):
        sid = f"08D9A00000{d[-2:]}{i:04d}"
        ep = f"10.20.0.13:587,{ip}:51{i:03d}"
        out += f"{d}T{t}.000Z,MBX01\\Client Frontend MBX01,{sid},0,{ep},+,,\n"
        out += f"{d}T{t}.100Z,MBX01\\Client Frontend MBX01,{sid},1,{ep},<,AUTH LOGIN,\n"
        out += f"{d}T{t}.200Z,MBX01\\Client Frontend MBX01,{sid},2,{ep},*,{user},authenticated\n"
        out += f"{d}T{t}.900Z,MBX01\\Client Frontend MBX01,{sid},3,{ep},-,,Local\n"
    return out

EAS = "/Microsoft-Server-ActiveSync/default.eas"
EWS = ("/EWS/Exchange.asmx", "-")

def write(path, text, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if gz:
        with gzip.GzipFile(path, "wb", mtime=0) as f:
            f.write(text.encode())
    else:
        with open(path, "w") as f:
            f.write(text)

# Phase 1: 19 and 20 July 2021.
for d in ("2021-07-19", "2021-07-20"):
    write(f"logs/1/iis-{d}.log" + (".gz" if d == "2021-07-20" else ""), iis(d, [
        ("07:12:01", "eas.nhs.net", EAS, "Cmd=Sync&User=dr.amelia.jones&DeviceId=ApplF17A1&DeviceType=iPhone", "NHS\\dr.amelia.jones", "203.0.113.5", "Apple-iPhone13C2/1905.245", 200),
        ("08:40:10", "mail.nhs.net", "/EWS/Exchange.asmx", "-", "pharmacy.orders@nhs.net", "10.1.1.5", "PharmSys/4.2", 200),
        ("09:01:00", "eas.nhs.net", EAS, "Cmd=Ping&User=district.nursing&DeviceId=SEC99&DeviceType=Android", "district.nursing@nhs.net", "198.51.100.40", "Android-SAMSUNG/1.0", 200),
        ("10:15:30", "outlook.nhs.net", "/EWS/Exchange.asmx", "-", "NHS\\podiatry.bookings", "198.51.100.41", "Microsoft+Office/16.0", 200),
        ("11:00:00", "eas.nhs.net", EAS, "Cmd=Sync&User=dr.sam.hughes&DeviceId=ApplB7&DeviceType=iPad", "dr.sam.hughes@nhs.net", "192.0.2.60", "Apple-iPad8C1/1805.436", 200),
        ("12:30:00", "mail.nhs.net", "/EWS/Exchange.asmx", "-", "locum.contractor@nhs.net", "192.0.2.99", "Microsoft+Office/16.0", 200),
    ]), gz=(d == "2021-07-20"))
    write(f"logs/1/imap4-{d}.log", imap(d, [
        ("06:00:00", "ward7.scanner@nhs.net", "10.20.30.40", True),
        ("06:05:00", "ward7.scanner@nhs.net", "10.20.30.40", False),
        ("07:30:00", "reception.meadowbank@nhs.net", "192.0.2.61", True),
    ]))
    write(f"logs/1/smtp-receive-{d}.log", smtp(d, [
        ("05:00:00", "NHS\\theatres.printer", "10.20.30.41"),
        ("09:45:00", "reception.meadowbank@nhs.net", "192.0.2.61"),
    ]))

# Phase 2: 9 and 10 August: Thameside has gone quiet.
for d in ("2021-08-09", "2021-08-10"):
    write(f"logs/2/iis-{d}.log", iis(d, [
        ("07:12:01", "eas.nhs.net", EAS, "Cmd=Sync&User=dr.amelia.jones&DeviceId=ApplF17A1&DeviceType=iPhone", "NHS\\dr.amelia.jones", "203.0.113.5", "Apple-iPhone13C2/1905.245", 200),
        ("11:00:00", "eas.nhs.net", EAS, "Cmd=Sync&User=dr.sam.hughes&DeviceId=ApplB7&DeviceType=iPad", "dr.sam.hughes@nhs.net", "192.0.2.60", "Apple-iPad8C1/1805.436", 200),
    ]))
    write(f"logs/2/imap4-{d}.log", imap(d, [
        ("06:00:00", "ward7.scanner@nhs.net", "10.20.30.40", True),
    ]))
    write(f"logs/2/smtp-receive-{d}.log", smtp(d, [
        ("05:00:00", "NHS\\theatres.printer", "10.20.30.41"),
    ]))

# Phase 3: 25 and 26 August: only Riverside's scanner and printer remain.
for d in ("2021-08-25", "2021-08-26"):
    write(f"logs/3/imap4-{d}.log", imap(d, [
        ("06:00:00", "ward7.scanner@nhs.net", "10.20.30.40", True),
    ]))
    write(f"logs/3/smtp-receive-{d}.log", smtp(d, [
        ("05:00:00", "NHS\\theatres.printer", "10.20.30.41"),
    ]))
