package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// Credentials planted in a log (a password parameter in the user agent, a token in the query
// the device id comes from, a password in the user name, a bearer token) never come out: not in
// what scan prints, nor ingest, plan, preview and run, nor in the email or its CSV attachment as
// the SES emulator received them.
func TestPlantedCredentialsNeverComeOut(t *testing.T) {
	t.Parallel()
	const secret = "Zq9plantedCredential7"
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	data := filepath.Join("..", "..", "infra", "demo", "data")
	dir := t.TempDir()
	spec, _ := os.ReadFile(filepath.Join(data, "campaign.yaml"))
	id := "secrets-" + localstacktest.Unique()
	camp := filepath.Join(dir, "campaign.yaml")
	os.WriteFile(camp, []byte(strings.Replace(string(spec), "id: demo-legacy-hostnames-2021", "id: "+id, 1)), 0o644)
	log := filepath.Join(dir, "iis-2021-07-26.log")
	os.WriteFile(log, []byte("#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n"+
		"2021-07-26 07:12:01 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&DeviceId=dev%26token%3D"+secret+"&Log=V160_HH:eas.nhs.net_ 443 NHS\\dr.amelia.jones 203.0.113.5 Outlook+pass="+secret+" - 200 0 0 12\n"+
		"2021-07-26 08:40:10 10.20.0.14 POST /EWS/Exchange.asmx -&Log=V160_HH:mail.nhs.net_ 443 pharmacy.orders@nhs.net 10.1.1.5 PharmSys/4.2+Authorization:+Bearer+"+secret+" - 200 0 0 12\n"), 0o644)
	var all strings.Builder
	must := func(args ...string) {
		t.Helper()
		out, errOut, code := cli.run(args...)
		all.WriteString(out + errOut)
		if code != 0 {
			t.Fatalf("sunset %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	must("directory", "import", "--orgs", filepath.Join(data, "orgs.csv"), "--accounts", filepath.Join(data, "accounts.csv"))
	must("campaign", "apply", camp, "--at", "2021-07-01")
	must("scan", "--campaign", camp, log)
	must("ingest", "--campaign", id, log)
	must("plan", "--campaign", id, "--at", "2021-07-27", "--json")
	must("preview", "--campaign", id, "--org", "RX1", "--at", "2021-07-27", "--out", dir)
	must("run", "--campaign", id, "--at", "2021-07-27")
	must("report", "--campaign", id, "--csv")
	if !strings.Contains(all.String(), "[redacted]") {
		t.Fatalf("the planted lines did not reach the output at all (nothing to check):\n%s", all.String())
	}
	if strings.Contains(all.String(), secret) {
		t.Errorf("the credential came out of the CLI:\n%s", all.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, id+"-*"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); strings.Contains(string(b), secret) {
			t.Errorf("the credential is in %s", f)
		}
	}
	sent := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") != id {
			continue
		}
		sent++
		text := m.Subject + m.Body.HTML + m.Body.Text
		for _, a := range m.Attachments {
			b, _ := base64.StdEncoding.DecodeString(a.Content)
			text += a.Content + string(b)
		}
		if strings.Contains(text, secret) {
			t.Errorf("the credential is in the email to %v", m.Destination.To)
		}
	}
	if sent == 0 {
		t.Error("no email was sent: the emails were not checked")
	}
}
