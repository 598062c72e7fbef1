// Command genw3c writes a synthetic Exchange front-end IIS W3C log for the scan benchmark: a
// given share of lines reach a legacy hostname (through the front end's HH token), the rest are
// ordinary OWA/EWS/MAPI/ActiveSync traffic to the new service.
//
// Two shapes. The default (narrow): 20,000 accounts, each with a home address and one device,
// legacy lines ActiveSync only, over three legacy hostnames. -wide: 50,000 accounts over four
// legacy hostnames and five kinds of request, with a client address and device id that change
// from request to request (mobile networks, NAT pools): many more distinct findings, and nearly
// every legacy event adds a new address and device to its finding's lists.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"time"
)

func main() {
	lines := flag.Int("lines", 3_000_000, "data lines to write")
	legacy := flag.Float64("legacy", 0.02, "share of lines on a legacy hostname")
	seed := flag.Int64("seed", 1, "random seed")
	accounts := flag.Int("accounts", 0, "distinct accounts (default 20000, or 50000 with -wide)")
	wide := flag.Bool("wide", false, "the wide shape: 50,000 accounts, four legacy hostnames, five kinds of request, address and device per request")
	flag.Parse()
	if *accounts == 0 {
		*accounts = 20000
		if *wide {
			*accounts = 50000
		}
	}
	rng := rand.New(rand.NewSource(*seed))
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	legacyHosts := []string{"eas.nhs.net", "mail.nhs.net", "outlook.nhs.net"}
	stems := []string{"/owa/service.svc", "/EWS/Exchange.asmx", "/mapi/emsmdb/", "/Microsoft-Server-ActiveSync/default.eas"}
	legacyStems := stems[3:]
	if *wide {
		legacyHosts = append(legacyHosts, "imap.nhs.net")
		legacyStems = append(stems, "/autodiscover/autodiscover.xml")
	}
	uas := []string{"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36", "Microsoft+Office/16.0+(Windows+NT+10.0;+Microsoft+Outlook+16.0.5122)", "Apple-iPhone13C2/1905.245", "Outlook-iOS/709.2189947.prod.iphone"}
	fmt.Fprintf(w, "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2021-08-02 00:00:00\n")
	fmt.Fprintf(w, "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
	t := time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC)
	for i := 0; i < *lines; i++ {
		t = t.Add(time.Duration(rng.Intn(60)) * time.Millisecond)
		// Each account has a home address and one device; one request in ten comes from elsewhere.
		a := rng.Intn(*accounts)
		acct := fmt.Sprintf("user%05d@nhs.net", a)
		status := 200
		if rng.Intn(20) == 0 {
			status = 401
		}
		ip := fmt.Sprintf("203.0.%d.%d", a/256%256, a%256)
		device := fmt.Sprintf("DEV%06d", a)
		if *wide {
			ip = fmt.Sprintf("10.%d.%d.%d", rng.Intn(256), rng.Intn(256), rng.Intn(256))
			device = fmt.Sprintf("DEV%08X", rng.Uint32())
		} else if rng.Intn(10) == 0 {
			ip = fmt.Sprintf("198.51.%d.%d", rng.Intn(256), rng.Intn(256))
		}
		ua := uas[a%len(uas)]
		var stem, query string
		if rng.Float64() < *legacy {
			stem = legacyStems[rng.Intn(len(legacyStems))]
			query = fmt.Sprintf("Cmd=Sync&User=%s&DeviceId=%s&DeviceType=iPhone&Log=V160_Ers1_HH:%s_Ty:iPhone_", acct, device, legacyHosts[rng.Intn(len(legacyHosts))])
		} else {
			stem = stems[rng.Intn(len(stems))]
			if stem == stems[3] {
				query = fmt.Sprintf("Cmd=Ping&User=%s&DeviceId=%s&DeviceType=iPhone&Log=V160_Ers1_HH:outlook.office365.com_Ty:iPhone_", acct, device)
			} else {
				query = fmt.Sprintf("ClientRequestId=%08x-%04x&action=GetItem&app=Mail", rng.Uint32(), rng.Intn(65536))
			}
		}
		fmt.Fprintf(w, "%s 10.30.0.%d POST %s %s 443 %s %s %s - %d 0 0 %d\n",
			t.Format("2006-01-02 15:04:05"), 1+rng.Intn(4), stem, query, acct, ip, ua, status, rng.Intn(500))
	}
}
