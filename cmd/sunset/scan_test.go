package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

const scanIIS = `#Software: Microsoft Internet Information Services 10.0
#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status
2021-08-02 01:00:00 10.30.0.1 GET /owa/ - 443 jo.bloggs@nhs.net 198.51.100.7 Mozilla/5.0 mail.nhs.net 200
2021-08-02 01:00:01 10.30.0.1 GET /owa/ - 443 jo.bloggs@nhs.net 198.51.100.7 Mozilla/5.0 outlook.office365.com 200
`

// fakeRules reads no campaign file: "bad" paths are a campaign-file mistake.
func fakeRules(path string) (connlog.Rules, error) {
	if strings.Contains(path, "bad") {
		return connlog.Rules{}, errors.New(path + ": hostnames[0].name: required")
	}
	return connlog.Rules{Hostnames: []string{"mail.nhs.net"}}, nil
}

func runScanCLI(t *testing.T, rules func(string) (connlog.Rules, error), stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c := newTestCLI(t, nil)
	c.stdin, c.rules = stdin, rules
	stdout, stderr, code = c.run(args...)
	return code, stdout, stderr
}

func writeScanFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzScan(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestScanCommand(t *testing.T) {
	t.Parallel()
	good := writeScanFile(t, "u_ex210802.log", []byte(scanIIS))
	full := gzScan(t, scanIIS)
	truncated := writeScanFile(t, "trunc.log.gz", full[:len(full)-12])
	random := writeScanFile(t, "random.bin", []byte("\x00\x01\x02garbage\xff\xfe not a log\n"))
	tests := []struct {
		name       string
		stdin      string
		args       []string
		code       int
		findings   int
		stderrHas  []string
		stderrLack []string
	}{
		{name: "file", args: []string{"--campaign", "c.yaml", good}, code: 0, findings: 1,
			stderrHas: []string{"format=iis lines=4 events=1 findings=1"}},
		{name: "stdin", stdin: scanIIS, args: []string{"--campaign", "c.yaml", "-"}, code: 0, findings: 1},
		{name: "quiet", args: []string{"--campaign", "c.yaml", "--quiet", good}, code: 0, findings: 1, stderrLack: []string{"format="}},
		{name: "flags after the files, as people type them", args: []string{good, good, "--campaign", "c.yaml", "--format", "iis"}, code: 0, findings: 1,
			stderrHas: []string{"format=iis lines=4"}, stderrLack: []string{"open --format"}},
		{name: "after --, a file named like a flag", args: []string{"--campaign", "c.yaml", "--", "--quiet"}, code: 1, stderrHas: []string{"--quiet"}},
		{name: "truncated gzip keeps findings so far", args: []string{"--campaign", "c.yaml", good, truncated}, code: 1, findings: 1,
			stderrHas: []string{"trunc.log.gz", "byte offset"}},
		{name: "unknown format", args: []string{"--campaign", "c.yaml", random}, code: 1, stderrHas: []string{"random.bin", "unknown format"}},
		{name: "missing file", args: []string{"--campaign", "c.yaml", "/nonexistent/x.log"}, code: 1, stderrHas: []string{"/nonexistent/x.log"}},
		{name: "bad campaign", args: []string{"--campaign", "bad.yaml", good}, code: 2, stderrHas: []string{"hostnames[0].name"}},
		{name: "no campaign", args: []string{good}, code: 2},
		{name: "no logs", args: []string{"--campaign", "c.yaml"}, code: 2},
		{name: "bad format", args: []string{"--campaign", "c.yaml", "--format", "xml", good}, code: 2, stderrHas: []string{"xml"}},
		{name: "bad map", args: []string{"--campaign", "c.yaml", "--map", "account", good}, code: 2},
		{name: "unknown map key", args: []string{"--campaign", "c.yaml", "--map", "colour=c", good}, code: 2, stderrHas: []string{"colour"}},
		{name: "cpuprofile nowhere", args: []string{"--campaign", "c.yaml", "--cpuprofile", "/nonexistent/cpu.pprof", good}, code: 2,
			stderrHas: []string{"--cpuprofile", "/nonexistent/cpu.pprof"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runScanCLI(t, fakeRules, tt.stdin, append([]string{"scan"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			if n := strings.Count(out, "\n"); n != tt.findings {
				t.Errorf("%d findings, want %d:\n%s", n, tt.findings, out)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
			for _, s := range tt.stderrLack {
				if strings.Contains(errOut, s) {
					t.Errorf("stderr has %q:\n%s", s, errOut)
				}
			}
		})
	}
}

// --cpuprofile writes a profile of the scan (gzip-compressed protocol buffers, as runtime/pprof
// writes them) and changes nothing else. Only this test starts a profile: one runs at a time.
func TestScanCPUProfile(t *testing.T) {
	t.Parallel()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	code, out, errOut := runScanCLI(t, fakeRules, scanIIS, "scan", "--campaign", "c.yaml", "--quiet", "--cpuprofile", prof, "-")
	_, want, _ := runScanCLI(t, fakeRules, scanIIS, "scan", "--campaign", "c.yaml", "--quiet", "-")
	if code != 0 || out != want {
		t.Fatalf("exit %d, findings\n%s\nwant\n%s\nstderr: %s", code, out, want, errOut)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("%s is not a profile (%d bytes, % x...)", prof, len(b), b[:min(len(b), 4)])
	}
}

func TestScanCommandOutput(t *testing.T) {
	t.Parallel()
	code, out, _ := runScanCLI(t, fakeRules, scanIIS, "scan", "--campaign", "c.yaml", "--quiet", "-")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := `{"account":"jo.bloggs@nhs.net","hostname":"mail.nhs.net","protocol":"OWA","first_seen":"2021-08-02T01:00:00Z","last_seen":"2021-08-02T01:00:00Z","successes":1,"failures":0,"client_ips":["198.51.100.7"],"user_agents":["Mozilla/5.0"],"device_ids":[],"direct_ip":false}` + "\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestScanWithCampaignFile(t *testing.T) {
	t.Parallel()
	yaml := `id: legacy-hostnames-2021
title: Retirement of legacy NHSmail hostnames
timezone: Europe/London
shutdown: 2021-09-07
hostnames:
  - name: mail.nhs.net
    replacement: {host: outlook.office365.com}
  - name: smtp.nhs.net
    replacement: {host: smtp.office365.com, port: 587, encryption: TLS}
endpoints:
  "10.20.0.13": smtp.nhs.net
ignore_accounts: ["healthmailbox*"]
`
	camp := writeScanFile(t, "campaign.yaml", []byte(yaml))
	code, out, errOut := runScanCLI(t, campaignScanRules, scanIIS, "scan", "--campaign", camp, "-")
	if code != 0 || strings.Count(out, "\n") != 1 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	bad := writeScanFile(t, "bad.yaml", []byte("id: x\nhostnames: 3\n"))
	code, _, errOut = runScanCLI(t, campaignScanRules, scanIIS, "scan", "--campaign", bad, "-")
	if code != 2 || !strings.Contains(errOut, "hostnames") {
		t.Errorf("bad campaign: exit %d, stderr %q", code, errOut)
	}
}
