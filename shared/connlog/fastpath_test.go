package connlog

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The IIS legacy-line shortcuts (needles found in any case, HH token found in the lower-cased query, accounts that need no
// change kept as they are, user agents converted once per distinct value) change nothing: on
// random lines full of awkward values, the prefiltered path gives the
// findings and counts of the full parse of every line.
func TestIISFastPathsChangeNothing(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	hh := []string{"HH:eas.nhs.net", "hh:MAIL.nhs.NET", "HH%3aoutlook.nhs.net", "HH:outloo\u212a.nhs.net", "HH:ma\u0130l.nhs.net", "HH:10.20.0.14", "HH:x.nhs.net", "HH:eas.nhs.net.", "HH:EAS.NHS.NET:443"}
	users := []string{"pat.lee@nhs.net", "PAT.LEE@NHS.NET", `NHS\pat.lee`, `nhs\pat.lee@nhs.net\shared`, "pat%2Elee@nhs.net", "-", "Anonymous", "anonymous", "x***y", "healthmailbox01", "HealthMailbox02", "p+l@nhs.net", "é@nhs.net", "\xff@nhs.net"}
	uas := []string{"Apple-iPhone13C2/1905.245", "Mozilla/5.0+(Windows+NT+10.0)", "ua+password=hunter2+x", "***", "+", "UA\xfe"}
	var b strings.Builder
	b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n")
	for i := 0; i < 20000; i++ {
		ua := uas[rng.Intn(len(uas))]
		if rng.Intn(4) == 0 { // many distinct values: the memo fills and starts again
			ua = fmt.Sprintf("UA+%d", rng.Intn(3000))
		}
		fmt.Fprintf(&b, "2021-08-02 01:%02d:%02d.%d 10.30.0.%d GET /Microsoft-Server-ActiveSync/ Cmd=Sync&DeviceId=D%d&Log=V1_%s_ 443 %s 198.51.100.%d %s %s\n",
			rng.Intn(60), rng.Intn(60), rng.Intn(10), rng.Intn(3), rng.Intn(9), hh[rng.Intn(len(hh))], users[rng.Intn(len(users))], rng.Intn(256), ua,
			[]string{"200", "401", "403"}[rng.Intn(3)])
	}
	data := b.String()
	run := func(noPrefilter bool) (Summary, []Finding) {
		s, _ := NewScanner(testRules(), Options{})
		s.noPrefilter = noPrefilter
		sum, err := s.Scan(context.Background(), "awkward", strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return sum, s.Findings()
	}
	s0, f0 := run(true)
	if s0.Events < 5000 || s0.Ignored == 0 || s0.Unattributed == 0 || len(f0) < 100 {
		t.Fatalf("fixture does not exercise the paths: %+v, %d findings", s0, len(f0))
	}
	s1, f1 := run(false)
	if d := cmp.Diff(s0, s1); d != "" {
		t.Errorf("summary differs (-full +fast):\n%s", d)
	}
	if d := cmp.Diff(f0, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("findings differ (-full +fast):\n%s", d)
	}
}

// dayCache gives parseTime's answer for every input, whatever dates came before: same and
// changing dates, impossible dates, leap seconds, bad digits, fractions and zones.
func TestDayCacheMatchesParseTime(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	days := []string{"2021-08-02", "2021-08-03", "2020-02-29", "2021-02-29", "2021-02-31", "0001-01-01", "9999-12-31", "1969-12-31", "2021-8-02x", "2021-08-0a"}
	tails := []string{"", "", "", ".5", ".123456789", "Z", "+01:00", "-0530", "x"}
	var c dayCache
	for i := 0; i < 100000; i++ {
		d := days[rng.Intn(3)] // mostly a run of the same few dates
		if rng.Intn(8) == 0 {
			d = days[rng.Intn(len(days))]
		}
		sep := []string{" ", "T", "t", "_"}[rng.Intn(4)]
		tm := fmt.Sprintf("%02d:%02d:%02d", rng.Intn(26), rng.Intn(62), rng.Intn(62))
		if rng.Intn(20) == 0 {
			tm = tm[:rng.Intn(8)] + "a" + tm[rng.Intn(8)+1:]
		}
		s := d + sep + tm
		if rng.Intn(6) == 0 {
			s += tails[rng.Intn(len(tails))]
		}
		got, gotPrec, gotOK := c.parse([]byte(s))
		want, wantPrec, wantOK := parseTime([]byte(s))
		if got != want || gotPrec != wantPrec || gotOK != wantOK {
			t.Fatalf("dayCache.parse(%q) = %v, %d, %v; parseTime gives %v, %d, %v", s, got, gotPrec, gotOK, want, wantPrec, wantOK)
		}
	}
}

// The IIS parser's remembered protocol of the last stem is protocolFromPath's answer.
func TestIISProtocolMemo(t *testing.T) {
	stems := []string{"/Microsoft-Server-ActiveSync/default.eas", "/microsoft-server-activesync", "/EWS/Exchange.asmx", "/owa/", "/OWA", "/mapi/emsmdb/", "/rpc/rpcproxy.dll", "/", "", "https://mail.nhs.net/ews/x", "/oab/x", "/autodiscover/autodiscover.xml", "/ews"}
	rng := rand.New(rand.NewSource(9))
	var p iisParser
	for i := 0; i < 10000; i++ {
		s := stems[rng.Intn(len(stems))]
		if got, want := p.protocol([]byte(s)), protocolFromPath(s); got != want {
			t.Fatalf("protocol(%q) = %q after earlier stems, want %q", s, got, want)
		}
	}
}

// The fast paths give the full parse's answer on IPv6 server and client addresses: zone
// indexes, other spellings of one address, IPv4-mapped addresses, bracketed host headers and
// ports; every line whose server address is mapped resolves, whichever path reads it.
func TestFastPathsOnIPv6(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	sips := []string{"fe80::1c2d:3e4f:5a6b:7c8d", "fe80::1c2d:3e4f:5a6b:7c8d%12", "FE80::1C2D:3E4F:5A6B:7C8D%7", "fe80:0:0:0:1c2d:3e4f:5a6b:7c8d",
		"fe80::1c2d:3e4f:5a6b:7c8e%12", "::ffff:10.20.0.14", "10.20.0.14", "2001:db8::99", "2001:DB8:0::99%eth0", "10.30.0.1", "-"}
	hosts := []string{"-", "-", "[fe80::1c2d:3e4f:5a6b:7c8d%12]", "[fe80::1c2d:3e4f:5a6b:7c8d]:443", "fe80::1c2d:3e4f:5a6b:7c8d", "[::ffff:10.20.0.14]",
		"mail.nhs.net", "outlook.office365.com", "[2001:db8::99]:993", "10.20.0.14"}
	queries := []string{"-", "Cmd=Ping&DeviceId=D1", "Log=V1_HH:[fe80::1c2d:3e4f:5a6b:7c8d%252]_", "Log=V1_HH:eas.nhs.net_", "Log=V1_HH:2001:db8::99_"}
	cips := []string{"2001:db8:1::10", "2001:db8:1::10%3", "fe80::9%eth1", "198.51.100.7", "::ffff:198.51.100.8"}
	var b strings.Builder
	for i := 0; i < 20000; i++ {
		if i%500 == 0 {
			if rng.Intn(2) == 0 {
				b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n")
			} else {
				b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n")
			}
		}
		line := fmt.Sprintf("2021-08-04 08:%02d:%02d %s GET /%s/ %s %s u%d@nhs.net %s UA/%d", rng.Intn(60), rng.Intn(60),
			sips[rng.Intn(len(sips))], []string{"owa", "ews", "Microsoft-Server-ActiveSync"}[rng.Intn(3)], queries[rng.Intn(len(queries))],
			[]string{"443", "993", "444"}[rng.Intn(3)], rng.Intn(30), cips[rng.Intn(len(cips))], rng.Intn(3))
		if strings.Contains(b.String()[strings.LastIndex(b.String(), "#Fields"):], "cs-host") {
			line += " " + hosts[rng.Intn(len(hosts))]
		}
		b.WriteString(line + " " + []string{"200", "401"}[rng.Intn(2)] + "\n")
	}
	data := b.String()
	run := func(noPrefilter bool) (Summary, []Finding) {
		s, _ := NewScanner(caseRules(), Options{})
		s.noPrefilter = noPrefilter
		sum, err := s.Scan(context.Background(), "v6", strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return sum, s.Findings()
	}
	s0, f0 := run(true)
	if s0.Events < 5000 || s0.Unresolved < 1000 || s0.Malformed != 0 {
		t.Fatalf("fixture does not exercise the paths: %+v", s0)
	}
	for _, f := range f0 {
		for _, ip := range f.ClientIPs {
			if strings.Contains(ip, "%") {
				t.Fatalf("a client address kept its zone: %q", ip)
			}
		}
	}
	s1, f1 := run(false)
	if d := cmp.Diff(s0, s1); d != "" {
		t.Errorf("summary differs (-full +fast):\n%s", d)
	}
	if d := cmp.Diff(f0, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("findings differ (-full +fast):\n%s", d)
	}
}

// The HttpProxy quick check gives the full parse's answer on short and long rows and on IPv6
// host headers.
func TestHTTPProxyFastPathOnShortRows(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	names := strings.Split(DefaultFields[FormatHTTPProxy], ",")
	col := func(n string) int { return colIndex(names, n) }
	hosts := []string{"mail.nhs.net", "outlook.office365.com", "[fe80::1c2d:3e4f:5a6b:7c8d%12]", "10.20.0.14", "[2001:db8::99]:993", ""}
	var b strings.Builder
	b.WriteString("#Software: Microsoft Exchange Server\n#Log-type: HttpProxy Logs\n#Fields: " + strings.Join(names, ",") + "\n")
	for i := 0; i < 5000; i++ {
		r := make([]string, len(names))
		r[col("DateTime")] = fmt.Sprintf("2021-08-02T10:%02d:%02dZ", rng.Intn(60), rng.Intn(60))
		r[col("Protocol")] = []string{"Eas", "Owa", "Ews"}[rng.Intn(3)]
		r[col("UrlHost")] = hosts[rng.Intn(len(hosts))]
		r[col("AuthenticatedUser")] = fmt.Sprintf("u%d@nhs.net", rng.Intn(20))
		r[col("ClientIpAddress")] = []string{"198.51.100.1", "2001:db8:1::10%4", "[2001:db8:1::11]:5000"}[rng.Intn(3)]
		r[col("HttpStatus")] = []string{"200", "401", "x"}[rng.Intn(3)]
		r[col("RoutingStatus")] = []string{"", "CafeV1"}[rng.Intn(2)]
		n := len(names) - rng.Intn(62) + rng.Intn(4) // short, whole and long rows
		for len(r) < n {
			r = append(r, []string{"", "extra"}[rng.Intn(2)])
		}
		b.WriteString(strings.Join(r[:n], ",") + "\n")
	}
	data := b.String()
	run := func(noPrefilter bool) (Summary, []Finding) {
		s, _ := NewScanner(caseRules(), Options{})
		s.noPrefilter = noPrefilter
		sum, err := s.Scan(context.Background(), "proxy", strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return sum, s.Findings()
	}
	s0, f0 := run(true)
	if s0.Events < 500 || s0.Malformed < 500 {
		t.Fatalf("fixture does not exercise the paths: %+v", s0)
	}
	s1, f1 := run(false)
	if d := cmp.Diff(s0, s1); d != "" {
		t.Errorf("summary differs (-full +fast):\n%s", d)
	}
	if d := cmp.Diff(f0, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("findings differ (-full +fast):\n%s", d)
	}
}

// Whatever an IIS log holds, quick and the full parse agree: the same summary and findings with
// the fast path as with every line parsed whole. Seeded with lines
// that take each of quick's branches (host, HH token, server address; names, addresses, zones).
func FuzzIISFastPathMatchesFullParse(f *testing.F) {
	const fields = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n"
	for _, l := range []string{
		"2021-08-02 01:00:00 10.30.0.1 GET /Microsoft-Server-ActiveSync/ Cmd=Sync&DeviceId=D1&Log=V1_HH:eas.nhs.net_ 443 pat.lee@nhs.net 198.51.100.1 UA - 200",
		"2021-08-02 01:00:01 10.30.0.1 GET /owa/ - 443 pat.lee@nhs.net 198.51.100.1 UA MAIL.nhs.NET. 200",
		"2021-08-02 01:00:02 10.20.0.11 GET /owa/ - 993 pat.lee@nhs.net 198.51.100.1 UA - 401",
		"2021-08-02 01:00:03 fe80::1c2d:3e4f:5a6b:7c8d%12 GET /owa/ - 443 pat.lee@nhs.net 2001:db8::1 UA 10.20.0.13 200",
		"2021-08-02 01:00:04 10.30.0.1 GET /ews/ Log=V1_HH%3aoutlook.nhs.net_ 443 - 198.51.100.2 UA x.nhs.net:443 200",
		"2021-08-02 01:00:05 10.30.0.1 GET /ews/ Log=V1_HH:10.20.0.13_ 443 nhs\\pat 198.51.100.2 UA - 200",
		"2021-08-02 01:00:06 10.30.0.1 GET /ews/ - 443 pat 198.51.100.2 UA",
	} {
		f.Add(fields + l + "\n" + l + "\n")
	}
	f.Fuzz(func(t *testing.T, data string) {
		run := func(noPrefilter bool) (Summary, []Finding, error) {
			s, _ := NewScanner(testRules(), Options{Format: FormatIIS})
			s.noPrefilter = noPrefilter
			sum, err := s.Scan(context.Background(), "fuzz", strings.NewReader(data))
			return sum, s.Findings(), err
		}
		s0, f0, err0 := run(true)
		s1, f1, err1 := run(false)
		if (err0 == nil) != (err1 == nil) {
			t.Fatalf("error %v, full parse %v", err1, err0)
		}
		if d := cmp.Diff(s0, s1); d != "" {
			t.Fatalf("summary differs (-full +fast):\n%s", d)
		}
		if d := cmp.Diff(f0, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
			t.Fatalf("findings differ (-full +fast):\n%s", d)
		}
	})
}

// memo returns what conv returns, for values of one length (one front slot) and of many,
// converts a value held in the front or the map once, and keeps copies: the buffer a raw value
// was read from is reused.
func TestMemo(t *testing.T) {
	var m memo
	calls := map[string]int{}
	conv := func(b []byte) string { calls[string(b)]++; return strings.ToUpper(string(b)) }
	buf := make([]byte, 0, 64)
	get := func(s string) string {
		buf = append(buf[:0], s...)
		v := m.get(buf, conv)
		copy(buf, strings.Repeat("#", len(buf))) // the read buffer moves on
		return v
	}
	sameLen := []string{"ua-a", "ua-b", "ua-c"} // one front slot, three values: the map behind it
	for round := 0; round < 3; round++ {
		for _, s := range append(sameLen, "a longer user agent", "x") {
			if got := get(s); got != strings.ToUpper(s) {
				t.Fatalf("get(%q) = %q", s, got)
			}
		}
	}
	for s, n := range calls {
		if n != 1 {
			t.Errorf("%q converted %d times, want once", s, n)
		}
	}
	for i := 0; i < 3*memoMax; i++ { // more values than the map holds: it starts again
		s := fmt.Sprintf("agent-%d", i%(2*memoMax))
		if got := get(s); got != strings.ToUpper(s) {
			t.Fatalf("get(%q) = %q", s, got)
		}
	}
	if len(m.m) > memoMax {
		t.Errorf("the map holds %d values, more than %d", len(m.m), memoMax)
	}
	if got := m.get(nil, func([]byte) string { return "-" }); got != "-" {
		t.Errorf("get(empty) = %q, want conv's answer", got)
	}
}
