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
// random lines full of awkward values, the prefiltered path (serial and parallel) gives the
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
	run := func(noPrefilter bool, workers int) (Summary, []Finding) {
		s, _ := NewScanner(testRules(), Options{Workers: workers})
		s.noPrefilter, s.testBlock = noPrefilter, 4096
		sum, err := s.Scan(context.Background(), "awkward", strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return sum, s.Findings()
	}
	s0, f0 := run(true, 1)
	if s0.Events < 5000 || s0.Ignored == 0 || s0.Unattributed == 0 || len(f0) < 100 {
		t.Fatalf("fixture does not exercise the paths: %+v, %d findings", s0, len(f0))
	}
	for _, workers := range []int{1, 2, 3} {
		s1, f1 := run(false, workers)
		if d := cmp.Diff(s0, s1); d != "" {
			t.Errorf("workers %d: summary differs (-full +fast):\n%s", workers, d)
		}
		if d := cmp.Diff(f0, f1, cmpopts.IgnoreUnexported(Finding{})); d != "" {
			t.Errorf("workers %d: findings differ (-full +fast):\n%s", workers, d)
		}
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
