package connlog

import (
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"

	"bytes"
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// parallelFixture is an IIS log mixing everything the parallel reader must get right: headers
// redeclared mid-file (with and without a host column, with a #Date and no date column),
// garbage, blank and over-long lines, CRLF endings and a last line without a newline.
func parallelFixture(seed int64, lines, maxLine int) string {
	rng := rand.New(rand.NewSource(seed))
	var b strings.Builder
	b.WriteString("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n")
	hostCol, dateCol := false, true
	for i := 0; i < lines; i++ {
		switch rng.Intn(40) {
		case 0:
			b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n")
			hostCol, dateCol = true, true
		case 1:
			b.WriteString("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\r\n")
			hostCol, dateCol = false, true
		case 2:
			fmt.Fprintf(&b, "#Date: 2021-08-%02d 00:00:00\n#Fields: time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\n", 1+rng.Intn(28))
			hostCol, dateCol = false, false
		case 3:
			b.WriteString("garbage line\n")
		case 4:
			b.WriteString("\n")
		case 5:
			b.WriteString("2021-08-02 01:00:00 " + strings.Repeat("x", maxLine-30+rng.Intn(60)) + " mail.nhs.net\n")
		case 6:
			b.WriteString("#" + strings.Repeat("F", maxLine-5+rng.Intn(10)) + "\n")
		}
		sip := []string{"10.20.0.14", "10.30.0.1", "10.20.0.11"}[rng.Intn(3)]
		q := []string{"-", "Cmd=Sync&DeviceId=D1&Log=V1_HH:eas.nhs.net_", "Log=V1_HH:outlook.office365.com_", "Log=V1_hh:10.20.0.14_"}[rng.Intn(4)]
		line := fmt.Sprintf("01:%02d:%02d.%03d %s GET /%s/ %s 443 u%d@nhs.net 198.51.100.%d UA/%d", rng.Intn(60), rng.Intn(60), rng.Intn(1000), sip,
			[]string{"owa", "ews", "Microsoft-Server-ActiveSync"}[rng.Intn(3)], q, rng.Intn(20), rng.Intn(5), rng.Intn(3))
		if dateCol {
			line = fmt.Sprintf("2021-08-%02d ", 1+rng.Intn(28)) + line
		}
		if hostCol || rng.Intn(10) == 0 {
			line += " " + []string{"mail.nhs.net", "MAIL.NHS.NET", "outlook.office365.com", "-", "10.20.0.14", "eas.nhs.net."}[rng.Intn(6)]
		}
		b.WriteString(line + " " + []string{"200", "401"}[rng.Intn(2)] + []string{"\n", "\r\n"}[rng.Intn(2)])
	}
	b.WriteString("2021-08-02 02:00:00 10.20.0.14 GET /owa/ - 443 last@nhs.net 198.51.100.1 UA 200")
	return b.String()
}

// The parallel path is an optimisation only: whatever the block size, the number of workers and
// the read sizes, every count, malformed line number and finding is the serial path's.
func TestParallelChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		maxLine, block, workers, chunk int
		gz                             bool
	}{
		{300, 301, 2, 997, false},
		{300, 1000, 3, 50, false},
		{1000, 4096, 2, 65536, false},
		{1000, 777, 4, 4096, true},
		{4096, 64 << 10, 2, 1 << 20, true},
	} {
		name := fmt.Sprintf("maxLine=%d/block=%d/workers=%d/chunk=%d/gz=%v", tc.maxLine, tc.block, tc.workers, tc.chunk, tc.gz)
		t.Run(name, func(t *testing.T) {
			data := []byte(parallelFixture(int64(tc.block), 20000, tc.maxLine))
			if tc.gz {
				data = gzipBytes(t, data)
			}
			run := func(workers int) (Summary, []Finding) {
				s, err := NewScanner(testRules(), Options{MaxLineBytes: tc.maxLine, Workers: workers})
				if err != nil {
					t.Fatal(err)
				}
				s.testBlock = tc.block
				sum, err := s.Scan(context.Background(), "mix", &oneByteChunks{r: bytes.NewReader(data), n: tc.chunk})
				if err != nil {
					t.Fatal(err)
				}
				return sum, s.Findings()
			}
			s1, f1 := run(1)
			s2, f2 := run(tc.workers)
			if d := cmp.Diff(s1, s2); d != "" {
				t.Errorf("summary differs (-serial +parallel):\n%s", d)
			}
			if d := cmp.Diff(f1, f2, cmpopts.IgnoreUnexported(Finding{})); d != "" {
				t.Errorf("findings differ (-serial +parallel):\n%s", d)
			}
			if s1.Events == 0 || s1.Unresolved == 0 || s1.Malformed < 20 || len(s1.MalformedLines) != maxMalformedSamples {
				t.Errorf("fixture does not exercise every path: %+v", s1)
			}
		})
	}
}

// A read error part-way keeps the events of the lines before it, as the serial path does.
func TestParallelTruncatedGzip(t *testing.T) {
	data := gzipBytes(t, []byte(parallelFixture(3, 20000, 1000)))
	data = data[:len(data)*2/3]
	run := func(workers int) (Summary, []Finding, error) {
		s, _ := NewScanner(testRules(), Options{MaxLineBytes: 1000, Workers: workers})
		s.testBlock = 999
		sum, err := s.Scan(context.Background(), "cut.log.gz", bytes.NewReader(data))
		return sum, s.Findings(), err
	}
	s1, f1, err1 := run(1)
	s2, f2, err2 := run(2)
	if err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("errors: serial %v, parallel %v", err1, err2)
	}
	if d := cmp.Diff(s1, s2); d != "" {
		t.Errorf("summary differs (-serial +parallel):\n%s", d)
	}
	if d := cmp.Diff(f1, f2, cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("findings differ:\n%s", d)
	}
}

// Cancelling the context stops the parallel path with the context's error.
func TestParallelCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ := NewScanner(testRules(), Options{Workers: 2})
	_, err := s.Scan(ctx, "big", strings.NewReader(parallelFixture(1, 20000, 1000)))
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("err = %v", err)
	}
}

// The value table holds only what findings' lists hold: a client address dropped from every list
// is forgotten, so memory does not grow with the addresses that went by (agg's
// TestValueTableBounded counts the table itself).
func TestValueTableBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(iisHeader)
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "2021-08-02 01:%02d:%02d 10.30.0.1 GET /owa/ - 443 a@nhs.net 2001:db8::%x UA/%d mail.nhs.net 200\n", i/60%60, i%60, i, i%7)
		fmt.Fprintf(&b, "2021-08-02 01:%02d:%02d 10.30.0.1 GET /owa/ - 443 b@nhs.net 198.51.%d.%d - mail.nhs.net 200\n", i/60%60, i%60, i/256, i%256)
	}
	s, _ := NewScanner(testRules(), Options{})
	if _, err := s.Scan(context.Background(), "spray", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
	f := s.Findings()
	if len(f) != 2 || len(f[0].ClientIPs) != agg.MaxClientIPs || len(f[0].UserAgents) != agg.MaxUserAgents || len(f[1].ClientIPs) != agg.MaxClientIPs || len(f[1].UserAgents) != 0 {
		t.Fatalf("findings: %+v", f)
	}
	// The latest time is 01:59:59, line 3599's.
	if f[0].ClientIPs[0] != "2001:db8::e0f" || f[1].ClientIPs[0] != "198.51.14.15" {
		t.Errorf("most recent addresses: %q, %q", f[0].ClientIPs[0], f[1].ClientIPs[0])
	}
}

// headerStart finds the first '#' at or after from that starts a line: after a newline, or
// after a byte order mark that starts a line (or the data), on data full of newlines, '#' and
// byte order marks.
func TestHeaderStart(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	tokens := []string{"\n", "#", "a", " ", "\xEF\xBB\xBF", "\xBF"}
	for i := 0; i < 20000; i++ {
		var b []byte
		for n := rng.Intn(20); n > 0; n-- {
			b = append(b, tokens[rng.Intn(len(tokens))]...)
		}
		from := rng.Intn(len(b) + 1)
		want := -1
		for at := from; at < len(b); at++ {
			lineStart := func(p int) bool { return p > 0 && b[p-1] == '\n' }
			bomStart := at >= 3 && string(b[at-3:at]) == "\xEF\xBB\xBF" && (at == 3 || b[at-4] == '\n')
			if b[at] == '#' && (lineStart(at) || bomStart) {
				want = at
				break
			}
		}
		if got := headerStart(b, from); got != want {
			t.Fatalf("headerStart(%q, %d) = %d, want %d", b, from, got, want)
		}
	}
}
