package connlog

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testRules is the campaign every fixture is scanned with.
func testRules() Rules {
	return Rules{
		Hostnames: []string{"imap.nhs.net", "pop.nhs.net", "smtp.nhs.net", "eas.nhs.net", "mail.nhs.net", "outlook.nhs.net"},
		Endpoints: map[string]string{
			"10.20.0.11:993": "imap.nhs.net",
			"10.20.0.12:995": "pop.nhs.net",
			"10.20.0.13":     "smtp.nhs.net",
			"10.20.0.14":     "mail.nhs.net",
		},
		IgnoreAccounts: []string{"healthmailbox*"},
		Mapping:        map[string]string{"account": "upn", "hostname": "host", "time": "ts", "client_ip": "ip", "protocol": "proto", "status": "result"},
	}
}

// render is what a golden file holds: the summary, then one finding per line.
func render(t *testing.T, sum Summary, fs []Finding) []byte {
	t.Helper()
	var b bytes.Buffer
	sum.Bytes = 0 // line endings differ between checkouts
	js, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	b.Write(js)
	b.WriteByte('\n')
	for _, f := range fs {
		js, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(js)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestGoldenFormats(t *testing.T) {
	files, err := filepath.Glob("testdata/formats/*")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Format{
		"iis.log": FormatIIS, "httpproxy.log": FormatHTTPProxy, "imap4.log": FormatIMAP4, "pop3.log": FormatPOP3,
		"smtp-receive.log": FormatSMTPReceive, "alb.log": FormatALB, "nlb.log": FormatNLB, "elb.log": FormatELB,
		"mapped.jsonl": FormatJSONL, "mapped.csv": FormatCSV,
	}
	for _, path := range files {
		if strings.HasSuffix(path, ".golden") {
			continue
		}
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewScanner(testRules(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := s.Scan(context.Background(), name, bytes.NewReader(data))
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			if sum.Format != want[name] {
				t.Errorf("detected %q, want %q", sum.Format, want[name])
			}
			got := render(t, sum, s.Findings())
			assertNoSecrets(t, got)
			golden := path + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			exp, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if d := cmp.Diff(string(exp), string(got)); d != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, d)
			}
			// The same file gzipped, and with the format forced, gives the same findings.
			s2, _ := NewScanner(testRules(), Options{Format: want[name]})
			sum2, err := s2.Scan(context.Background(), name, bytes.NewReader(gzipBytes(t, data)))
			if err != nil {
				t.Fatalf("gzip Scan: %v", err)
			}
			if !sum2.Gzip {
				t.Error("gzip not detected")
			}
			sum2.Gzip = false
			if d := cmp.Diff(string(got), string(render(t, sum2, s2.Findings()))); d != "" {
				t.Errorf("gzip scan differs:\n%s", d)
			}
		})
	}
}

// assertNoSecrets fails if anything credential-like reached the output.
func assertNoSecrets(t *testing.T, out []byte) {
	t.Helper()
	for _, bad := range []string{"hunter2", "secret", "*****"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("output holds %q", bad)
		}
	}
}

// Several files scanned at once by one Scanner (the CLI's one goroutine a file) give the
// findings and per-file summaries of the same files scanned one after another: the race
// detector checks the table's shards and each file's own state.
func TestConcurrentFilesMatchSequential(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "formats", "*"))
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	for _, f := range files {
		if !strings.HasSuffix(f, ".golden") && !strings.HasSuffix(f, ".yaml") {
			logs = append(logs, f)
		}
	}
	if len(logs) < 5 {
		t.Fatalf("only %d sample logs", len(logs))
	}
	logs = append(logs, logs...) // each twice: the same events from two files
	scan := func(s *Scanner, path string) Summary {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return Summary{}
		}
		sum, _ := s.Scan(context.Background(), path, bytes.NewReader(b))
		return sum
	}
	seq, _ := NewScanner(testRules(), Options{})
	want := make([]Summary, len(logs))
	for i, p := range logs {
		want[i] = scan(seq, p)
	}
	par, _ := NewScanner(testRules(), Options{})
	got := make([]Summary, len(logs))
	var wg sync.WaitGroup
	for i, p := range logs {
		wg.Go(func() { got[i] = scan(par, p) })
	}
	wg.Wait()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summaries differ (-sequential +concurrent):\n%s", d)
	}
	if d := cmp.Diff(seq.Findings(), par.Findings(), cmpopts.IgnoreUnexported(Finding{})); d != "" {
		t.Errorf("findings differ (-sequential +concurrent):\n%s", d)
	}
}
