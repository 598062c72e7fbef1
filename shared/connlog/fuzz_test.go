package connlog

import (
	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"

	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// fuzzScan scans data as format f and checks the invariants every parser must keep: no panic,
// counts that add up, findings that marshal, and no password reaching the output.
func fuzzScan(t *testing.T, f Format, data []byte) {
	s, err := NewScanner(caseRules(), Options{Format: f, MaxSessions: 4, MaxLineBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := s.Scan(context.Background(), "fuzz", bytes.NewReader(data))
	fs := s.Findings()
	var total int64
	for _, x := range fs {
		if x.Successes+x.Failures == 0 {
			t.Fatalf("finding without events: %+v", x)
		}
		if len(x.ClientIPs) > agg.MaxClientIPs || len(x.UserAgents) > agg.MaxUserAgents || len(x.DeviceIDs) > agg.MaxDeviceIDs {
			t.Fatalf("list over its cap: %+v", x)
		}
		total += x.Successes + x.Failures
		js, err := json.Marshal(x)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(js, []byte("*****")) {
			t.Fatalf("mask reached a finding: %s", js)
		}
	}
	if total != sum.Events || int64(len(fs)) != sum.Findings || sum.Lines < sum.Malformed {
		t.Fatalf("counts do not add up: %d events in findings, %+v", total, sum)
	}
}

// seed adds the fixtures (under testdata/, e.g. "formats/iis.log") to f, each also with a byte
// order mark and CRLF line endings (go test reads the committed corpus under
// testdata/fuzz/<name>/ by itself). A missing fixture fails: a fuzz target without its seed
// would quietly fuzz from nothing.
func seed(f *testing.F, fixtures ...string) {
	for _, fx := range fixtures {
		b, err := os.ReadFile(filepath.Join("testdata", fx))
		if err != nil {
			f.Fatalf("fuzz seed: %v", err)
		}
		f.Add(b)
		f.Add(append(append([]byte(nil), bom...), bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))...))
	}
}

func FuzzIIS(f *testing.F) {
	seed(f, "formats/iis.log", "cases/ipv6-zone.iis.log", "cases/bom-before-fields.iis.log", "cases/concatenated.iis.log", "cases/headerless.iis.log", "cases/header-only.iis.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatIIS, b) })
}

func FuzzHTTPProxy(f *testing.F) {
	seed(f, "formats/httpproxy.log", "cases/short-rows.httpproxy.log", "cases/headerless.httpproxy.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatHTTPProxy, b) })
}

func FuzzIMAP4(f *testing.F) {
	seed(f, "formats/imap4.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatIMAP4, b) })
}

func FuzzPOP3(f *testing.F) {
	seed(f, "formats/pop3.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatPOP3, b) })
}

func FuzzSMTPReceive(f *testing.F) {
	seed(f, "formats/smtp-receive.log", "cases/short-rows.smtp-receive.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatSMTPReceive, b) })
}

func FuzzALB(f *testing.F) {
	seed(f, "formats/alb.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatALB, b) })
}

func FuzzNLB(f *testing.F) {
	seed(f, "formats/nlb.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatNLB, b) })
}

func FuzzJSONL(f *testing.F) {
	seed(f, "formats/mapped.jsonl")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatJSONL, b) })
}

func FuzzCSV(f *testing.F) {
	seed(f, "formats/mapped.csv", "cases/short-rows.csv")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatCSV, b) })
}

func FuzzELB(f *testing.F) {
	seed(f, "formats/elb.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatELB, b) })
}

// FuzzDetect feeds anything to auto-detection, gzip included.
func FuzzDetect(f *testing.F) {
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add([]byte("{\"ts\":1}\n"))
	seed(f, "formats/nlb.log", "formats/elb.log", "cases/empty.log", "cases/headerless.iis.log", "cases/headerless.httpproxy.log")
	f.Fuzz(func(t *testing.T, b []byte) { fuzzScan(t, FormatAuto, b) })
}

// FuzzSplitCSV checks the CSV splitter against its own round trip.
func FuzzSplitCSV(f *testing.F) {
	f.Add([]byte(`a,"b,""c""",d`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, _, ok := splitCSV(b, nil, nil)
		if !ok {
			return
		}
		if len(fields) < 1+bytes.Count(b, []byte(",")) && !bytes.Contains(b, []byte(`"`)) {
			t.Fatalf("%q split into %d fields", b, len(fields))
		}
	})
}
