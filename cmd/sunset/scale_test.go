package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// An organisation with 5,000 affected accounts, each with its device and app, goes through the
// whole day on the local stack: directory import, a log of their sign-ins, the daily run's plan
// and claim (its rows past one item go to row parts), the rendering and the send. Its
// administrator gets one email that counts all 5,000 accounts and attaches every one.
func TestLargeOrganisationEndToEnd(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	la := "la-big-" + localstacktest.Unique() + "@example.nhs.net"
	const accounts = 5000
	var accts, log strings.Builder
	accts.WriteString("email,ods_code\n")
	log.WriteString("#Software: Microsoft Internet Information Services 10.0\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n")
	for i := range accounts {
		user := fmt.Sprintf("user.%05d", i)
		fmt.Fprintf(&accts, "%s@nhs.net,BIG1\n", user)
		for d := range 3 { // three devices each, as a busy estate's would churn
			fmt.Fprintf(&log, "2021-07-19 07:%02d:%02d 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&User=%s&DeviceId=Appl%05dD%d&DeviceType=iPhone&Log=V160_HH:eas.nhs.net_ 443 %s@nhs.net 203.0.%d.%d Apple-iPhone13C2/1905.%d - 200 0 0 12\n",
				i%60, d*10, user, i, d, user, i%250, d+1, 200+d)
		}
	}
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	orgs := write("orgs.csv", "ods_code,name,la_emails,pla_email,subdomain\nBIG1,Big Teaching Hospitals NHS Foundation Trust,"+la+",,\n")
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := cli.run(args...)
		if code != 0 {
			t.Fatalf("sunset %s: exit %d\n%s%s", args[0], code, out, errOut)
		}
		return out
	}
	const id = "demo-legacy-hostnames-2021"
	must("directory", "import", "--orgs", orgs, "--accounts", write("accounts.csv", accts.String()))
	must("campaign", "apply", filepath.Join("..", "..", "infra", "demo", "data", "campaign.yaml"))
	must("ingest", "--campaign", id, write("u_ex210719.log", log.String()))
	must("run", "--campaign", id, "--at", "2021-07-27")

	var got []localstacktest.Email
	for _, m := range localstacktest.SentEmails(t) {
		if len(m.Destination.To) > 0 && strings.Contains(strings.Join(m.Destination.To, ","), la) {
			got = append(got, m)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d emails to the administrator, want 1", len(got))
	}
	m := got[0]
	if !strings.Contains(m.Subject, "5,000 accounts") && !strings.Contains(m.Subject, "5000 accounts") {
		t.Errorf("subject %q does not count the 5,000 accounts", m.Subject)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("%d attachments", len(m.Attachments))
	}
	csv := m.Attachments[0].Content
	if b, err := base64.StdEncoding.DecodeString(csv); err == nil {
		csv = string(b)
	}
	for _, want := range []string{"user.00000@nhs.net", "user.04999@nhs.net", "Apple-iPhone13C2/1905.20"} {
		if !strings.Contains(csv, want) {
			t.Errorf("the CSV lacks %q", want)
		}
	}
	if rows := strings.Count(csv, "@nhs.net,"); rows != accounts {
		t.Errorf("the CSV has %d account rows, want %d", rows, accounts)
	}
}
