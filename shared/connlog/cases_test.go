package connlog

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// caseRules are testRules plus what the real-estate cases need: an IPv6 server address given
// with a zone (the zone is ignored), one with a port, and the default field lists declared for
// header-less IIS and HttpProxy lines.
func caseRules() Rules {
	r := testRules()
	r.Endpoints = maps.Clone(r.Endpoints)
	r.Endpoints["fe80::1c2d:3e4f:5a6b:7c8d%12"] = "mail.nhs.net"
	r.Endpoints["[2001:db8::99]:993"] = "imap.nhs.net"
	r.Fields = map[string]string{"iis": "default", "exchange-httpproxy": "default"}
	return r
}

// variants are the ways one log reaches us: as written, with a byte order mark, with CRLF line
// endings, gzipped, and all three.
func variants(t testing.TB, data []byte) map[string][]byte {
	crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
	withBOM := append(append([]byte(nil), bom...), data...)
	all := append(append([]byte(nil), bom...), crlf...)
	return map[string][]byte{
		"plain": data, "bom": withBOM, "crlf": crlf, "gzip": gzipBytes(t, data), "bom+crlf+gzip": gzipBytes(t, all),
	}
}

// Every real-estate case gives its golden findings and summary, and each variant of it (BOM,
// CRLF, gzip) gives byte-identical findings and the same counts.
func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") || strings.HasSuffix(path, ".md") {
			continue
		}
		n++
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for _, v := range []string{"plain", "bom", "crlf", "gzip", "bom+crlf+gzip"} {
				s, err := NewScanner(caseRules(), Options{})
				if err != nil {
					t.Fatal(err)
				}
				sum, err := s.Scan(context.Background(), name, bytes.NewReader(variants(t, data)[v]))
				if err != nil {
					t.Fatalf("%s: Scan: %v", v, err)
				}
				sum.Gzip = false
				// A byte order mark alone on an empty file is a line of its own.
				if len(data) == 0 && strings.HasPrefix(v, "bom") {
					sum.Lines = 0
				}
				got := render(t, sum, s.Findings())
				assertNoSecrets(t, got)
				if want == nil {
					want = got
					continue
				}
				if d := cmp.Diff(string(want), string(got)); d != "" {
					t.Errorf("%s differs from plain (-plain +%s):\n%s", v, v, d)
				}
			}
			golden := path + ".golden"
			if *update {
				if err := os.WriteFile(golden, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if d := cmp.Diff(string(exp), string(want)); d != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, d)
			}
		})
	}
	if n < 10 {
		t.Fatalf("%d cases, want at least 10", n)
	}
}
