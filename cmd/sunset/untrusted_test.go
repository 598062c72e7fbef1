package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// hostile is text a log or a directory export could carry: a window title, a screen clear, a
// bell, a carriage return that hides what came before, a right-to-left override and a
// zero-width space.
const hostile = "\x1b]0;pwned\x07\x1b[2J\rcut\u202Egnp.exe\u200B"

// rawControls reports what a terminal or a reader would act on instead of showing.
func rawControls(s string) []string {
	var bad []string
	for _, c := range []string{"\x1b", "\x07", "\u202E", "\u200B", "\x9b"} {
		if strings.Contains(s, c) {
			bad = append(bad, c)
		}
	}
	if strings.Contains(strings.ReplaceAll(s, "\r\n", ""), "\r") {
		bad = append(bad, "\\r")
	}
	return bad
}

// Names from the directory, accounts from logs and notes from answers reach plan, report and
// responses (text and JSON), and the notices, escaped: visible, never acting.
func TestHostileTextIsShownEscaped(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	demo := filepath.Join("..", "..", "infra", "demo", "data")
	orgs, _ := os.ReadFile(filepath.Join(demo, "orgs.csv"))
	os.WriteFile(filepath.Join(data, "orgs.csv"), []byte(strings.Replace(string(orgs), "Riverside Teaching Hospitals", "Riverside"+hostile+"Hospitals", 1)), 0o644)
	accts, _ := os.ReadFile(filepath.Join(demo, "accounts.csv"))
	os.WriteFile(filepath.Join(data, "accounts.csv"), accts, 0o644)
	os.MkdirAll(filepath.Join(data, "logs", "1"), 0o755)
	logs, _ := filepath.Glob(filepath.Join(demo, "logs", "1", "*"))
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		os.WriteFile(filepath.Join(data, "logs", "1", filepath.Base(l)), b, 0o644)
	}
	iis := "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken\n" +
		"2021-07-19 09:00:00 10.20.0.14 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Sync&DeviceType=iPhone 443 NHS\\mal" + strings.ReplaceAll(hostile, " ", "") + "lory 203.0.113.9 Evil" + strings.ReplaceAll(hostile, " ", "") + "Agent/1 - 200 0 0 12\n"
	os.WriteFile(filepath.Join(data, "logs", "1", "iis-hostile.log"), []byte(iis), 0o644)

	j := newJourney(t)
	j.cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	j.demoFrom(t, data, "")
	check := func(what, out string) {
		t.Helper()
		if bad := rawControls(out); len(bad) > 0 {
			t.Errorf("%s prints %q raw:\n%.3000s", what, bad, out)
		}
	}
	plan := j.must("plan", "--campaign", j.id, "--at", "2021-07-27")
	check("sunset plan", plan)
	if !strings.Contains(plan, `\u001B]0;pwned\u0007`) || !strings.Contains(plan, `\u202E`) {
		t.Errorf("sunset plan does not show the hostile names escaped:\n%s", plan)
	}
	check("sunset plan --json", j.must("plan", "--campaign", j.id, "--at", "2021-07-27", "--json"))
	j.must("run", "--campaign", j.id, "--at", "2021-07-27")
	check("sunset report", j.must("report", "--campaign", j.id))
	check("sunset report --csv", j.must("report", "--campaign", j.id, "--csv"))

	j.cli.now = time.Date(2021, 8, 12, 10, 30, 0, 0, time.UTC)
	rx1 := j.email(t, "RX1", "advance")
	if code, body := j.answer(t, rx1, "fixed", "We have changed these settings",
		url.Values{"by": {"la.banks@riverside.example.nhs.net"}, "note": {"done " + hostile}}); code != 200 {
		t.Fatalf("answer: %d %s", code, body)
	}
	responses := j.must("responses", "--campaign", j.id)
	check("sunset responses", responses)
	if !strings.Contains(responses, `\u202E`) {
		t.Errorf("sunset responses does not show the note escaped:\n%s", responses)
	}

	// The notice: subject, text, HTML and the accounts CSV.
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") != j.id || m.Header("X-Sunset-Org") != "RX1" {
			continue
		}
		check("the notice's subject", m.Subject)
		check("the notice's text", m.Body.Text)
		check("the notice's HTML", m.Body.HTML)
		for _, a := range m.Attachments {
			check("the notice's "+a.Filename, a.Content)
		}
		if !strings.Contains(m.Body.Text, `Riverside\u001B]0;pwned\u0007\u001B[2J cut\u202Egnp.exe\u200BHospitals`) {
			t.Errorf("the notice does not show the organisation's name escaped:\n%.2000s", m.Body.Text)
		}
	}
}
