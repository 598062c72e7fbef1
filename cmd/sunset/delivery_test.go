package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/report"
)

// The delivery commands on the demo's data: preview and send-test write no ledger entry, run
// sends each due notice once, report shows it.
func TestPreviewSendTestRunReport(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, map[string]string{"SUNSET_TEST_RECIPIENTS": "@example.nhs.net"})
	cli.useLocalStack()
	cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	data := filepath.Join("..", "..", "infra", "demo", "data")
	const id = "demo-legacy-hostnames-2021"

	must := func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := cli.run(args...)
		if code != wantCode {
			t.Fatalf("sunset %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}
	must(0, "directory", "import", "--orgs", filepath.Join(data, "orgs.csv"), "--accounts", filepath.Join(data, "accounts.csv"))
	must(0, "campaign", "apply", filepath.Join(data, "campaign.yaml"))
	logs, _ := filepath.Glob(filepath.Join(data, "logs", "1", "*"))
	must(0, append([]string{"ingest", "--campaign", id}, logs...)...)

	readReport := func() report.Report {
		t.Helper()
		var r report.Report
		if err := json.Unmarshal([]byte(must(0, "report", "--campaign", id, "--json")), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// preview: the stage a run would pick, three files, nothing in the ledger.
	dir := t.TempDir()
	out := must(0, "preview", "--campaign", id, "--org", "rx1", "--out", dir)
	if !strings.Contains(out, "subject: Action required by 07 September 2021: 4 accounts at Riverside Teaching Hospitals NHS Foundation Trust") {
		t.Errorf("preview output:\n%s", out)
	}
	for _, ext := range []string{".html", ".txt", ".eml"} {
		b, err := os.ReadFile(filepath.Join(dir, id+"-RX1-advance"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if ext == ".eml" && !strings.Contains(string(b), "Content-Disposition: attachment; filename=affected-accounts-demo-legacy-hostnames-2021-RX1.csv") {
			t.Error(".eml has no CSV attachment")
		}
		if ext == ".html" && !strings.Contains(string(b), `<html lang="en-GB">`) {
			t.Error("HTML is not marked en-GB")
		}
	}
	out = must(0, "preview", "--campaign", id, "--org", "RX1", "--stage", "final", "--at", "2021-07-28", "--out", dir)
	if !strings.Contains(out, "Final reminder") || !strings.Contains(out, "as on 2021-07-28") {
		t.Errorf("preview of a chosen stage:\n%s", out)
	}
	// The federation's LA is in two organisations' notices: its one email of the day, merged.
	out = must(0, "preview", "--campaign", id, "--recipient", "it.support@federation.example.nhs.net", "--out", dir)
	if !strings.Contains(out, "2 organisations") || !strings.Contains(out, "action needed at 2 organisations you look after") {
		t.Errorf("preview of a merged email:\n%s", out)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, id+"-2021-07-27_*.eml")); len(files) != 1 {
		t.Errorf("merged preview files: %v", files)
	}
	must(2, "preview", "--campaign", id, "--recipient", "nobody@example.nhs.net", "--out", dir)
	must(2, "preview", "--campaign", id, "--recipient", "it.support@federation.example.nhs.net", "--org", "RX1", "--out", dir)
	must(2, "preview", "--campaign", id, "--org", "RYJ", "--out", dir) // not affected: nothing to render
	must(2, "preview", "--campaign", id, "--org", "RX1")               // no --out
	must(2, "preview", "--campaign", id, "--org", "RX1", "--stage", "nope", "--at", "2021-07-28", "--out", dir)

	// send-test: marked [TEST], to the given address only, no ledger write.
	to := "internal-" + localstacktest.Unique() + "@example.nhs.net"
	must(0, "send-test", "--campaign", id, "--org", "Y0123", "--stage", "advance", "--to", to)
	var tests int
	for _, m := range localstacktest.SentEmails(t) {
		if len(m.Destination.To) == 1 && strings.Contains(m.Destination.To[0], to) {
			tests++
			if !strings.HasPrefix(m.Subject, "[TEST] Action required") {
				t.Errorf("test subject %q", m.Subject)
			}
		}
	}
	if tests != 1 {
		t.Errorf("%d test emails to %s, want 1", tests, to)
	}
	mergedTo := "internal-" + localstacktest.Unique() + "@example.nhs.net"
	must(0, "send-test", "--campaign", id, "--recipient", "it.support@federation.example.nhs.net", "--to", mergedTo)
	tests = 0
	for _, m := range localstacktest.SentEmails(t) {
		if len(m.Destination.To) == 1 && strings.Contains(m.Destination.To[0], mergedTo) {
			tests++
			if !strings.HasPrefix(m.Subject, "[TEST] ") || !strings.Contains(m.Subject, "2 organisations") || m.Header("X-Sunset-Test") != "yes" {
				t.Errorf("merged test subject %q", m.Subject)
			}
		}
	}
	if tests != 1 {
		t.Errorf("%d merged test emails to %s, want 1", tests, mergedTo)
	}
	must(2, "send-test", "--campaign", id, "--org", "Y0123", "--stage", "advance", "--to", "a@b.net\r\nBcc: x@y.net")
	if out := must(2, "send-test", "--campaign", id, "--org", "Y0123", "--stage", "advance", "--to", "someone@outside.example"); !strings.Contains(out, "not an internal address") {
		t.Errorf("a test to an outside address: %s", out)
	}
	if r := readReport(); len(r.Notices) != 0 {
		t.Fatalf("preview/send-test wrote the ledger: %+v", r.Notices)
	}

	// run: sends every due notice, once.
	must(0, "run", "--campaign", id, "--at", "2021-07-27")
	r := readReport()
	if len(r.Notices) != 3 {
		t.Fatalf("%d notices after run, want 3: %+v", len(r.Notices), r.Notices)
	}
	if len(r.Mails) != 1 || r.Mails[0].To != "it.support@federation.example.nhs.net" || len(r.Mails[0].Orgs) != 2 || r.Mails[0].Status != "sent" {
		t.Errorf("merged emails in the report: %+v", r.Mails)
	}
	ids := map[string]bool{}
	for _, n := range r.Notices {
		if n.Status != "sent" || n.MessageID == "" || n.SentAt == nil || len(n.To) == 0 || len(n.Accounts) == 0 || n.Accounts[0].Account == "" {
			t.Errorf("notice %+v", n)
		}
		ids[n.MessageID] = true
	}
	if len(r.Unassigned) != 1 || r.Unassigned[0] != "locum.contractor@nhs.net" {
		t.Errorf("unassigned %v", r.Unassigned)
	}
	count := func() int {
		n := 0
		for _, m := range localstacktest.SentEmails(t) {
			if ids[m.MessageID] {
				n++
			}
		}
		return n
	}
	if got := count(); got != 3 {
		t.Errorf("%d of the ledger's message ids in the SES emulator, want 3", got)
	}
	must(0, "run", "--campaign", id, "--at", "2021-07-27")
	if r2 := readReport(); len(r2.Notices) != 3 || r2.Notices[0].MessageID != r.Notices[0].MessageID {
		t.Errorf("a second run changed the ledger: %+v", r2.Notices)
	}

	csv := must(0, "report", "--campaign", id, "--csv")
	if lines := strings.Count(csv, "\n"); lines != 4 || !strings.HasPrefix(csv, "org,org_name,stage,status,to,sent_at,message_id,accounts,error\n") {
		t.Errorf("csv:\n%s", csv)
	}
	table := must(0, "report", "--campaign", id)
	if !strings.Contains(table, "3 notices (3 sent") || !strings.Contains(table, "locum.contractor@nhs.net") ||
		!strings.Contains(table, "Merged emails (one email a day to an address in several organisations' notices): 1") ||
		!strings.Contains(table, "2021-07-27  it.support@federation.example.nhs.net  RTH/advance Y0123/advance  sent") {
		t.Errorf("table:\n%s", table)
	}
	must(2, "report", "--campaign", id, "--json", "--csv")
	must(1, "report", "--campaign", "nope")
}
