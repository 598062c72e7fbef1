package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// crashingLedger is the real ledger, except that the sender "dies" after SES accepted each
// message: MarkSent never lands, as when the process is killed between the two calls.
type crashingLedger struct{ *ledger.Ledger }

func (crashingLedger) MarkSent(context.Context, string, string, string, string, string) error {
	return errors.New("the sender died before recording the send")
}

// A sender crashes between SendEmail and recording each of the day's notices, on the local
// stack. SES's Send event, delivered to the feedback handler, settles one of them to sent with
// no second email; the others stay in doubt, sunset reconcile lists them, and --resend (only
// with a reason) sends exactly one more email for the one it names and keeps why.
func TestCrashThenSettleOrReconcile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli, db, table, id, must := demoFirstDay(t, "crash")
	t0 := cli.now

	clock := func() time.Time { return t0 }
	l := ledger.New(db, table, clock)
	crashing := sender.New(cli.ses, crashingLedger{l}, campaign.NewStore(db, table, clock), suppression.New(db, table, clock), clock, sender.Options{})
	res, err := planner.New(db, table, cli.stage, clock).Run(ctx, id, calendar.Of(t0), crashing)
	if err != nil || len(res.Claimed) != 3 {
		t.Fatalf("run: %d claimed, %v", len(res.Claimed), err)
	}
	emails := func(org string) []localstacktest.Email {
		var out []localstacktest.Email
		for _, m := range localstacktest.SentEmails(t) {
			if m.Header("X-Sunset-Campaign") == id && m.Header("X-Sunset-Org") == org {
				out = append(out, m)
			}
		}
		return out
	}
	for _, n := range res.Claimed {
		if got := len(emails(n.Org)); got != 1 {
			t.Fatalf("%s: %d emails after the crash, want 1", n.Org, got)
		}
		if n, _ := l.Get(ctx, id, n.Org, n.Stage); !n.InDoubt() {
			t.Fatalf("%s not in doubt after the crash: %+v", n.Org, n)
		}
	}

	// SES's Send event for RX1's message settles RX1; no email is sent for it.
	fb := feedback.New(suppression.New(db, table, clock), l, feedback.Options{})
	rx1 := emails("RX1")[0]
	if _, err := lambda.NewHandler(fb.Handle).Invoke(ctx, rx1.SESEvent("Send")); err != nil {
		t.Fatal(err)
	}
	n, err := l.Get(ctx, id, "RX1", "advance")
	if err != nil || n.Status != ledger.Sent || n.MessageID != rx1.MessageID || n.SettledBy != "Send" {
		t.Fatalf("RX1 after SES's Send event: %+v %v; want sent as %s", n, err, rx1.MessageID)
	}
	if got := len(emails("RX1")); got != 1 {
		t.Errorf("RX1: %d emails, want exactly 1", got)
	}

	// Without an event: listed after the grace period, not before.
	if out := must(0, "reconcile", "--campaign", id); !strings.Contains(out, "0 notices in doubt") {
		t.Errorf("reconcile within the grace period:\n%s", out)
	}
	cli.now = t0.Add(2 * time.Hour)
	out := must(0, "reconcile", "--campaign", id)
	if !strings.Contains(out, "2 notices in doubt") || strings.Contains(out, "RX1 ") || !strings.Contains(out, "--resend --org") {
		t.Errorf("reconcile:\n%s", out)
	}
	var listed []ledger.Notice
	if err := json.Unmarshal([]byte(must(0, "reconcile", "--campaign", id, "--json")), &listed); err != nil || len(listed) != 2 {
		t.Fatalf("reconcile --json: %d notices, %v", len(listed), err)
	}
	other := listed[0].Org

	must(2, "reconcile", "--campaign", id, "--resend", "--org", other)                  // no reason
	must(2, "reconcile", "--campaign", id, "--reason", "x")                             // reason without --resend
	must(1, "reconcile", "--campaign", id, "--resend", "--org", "RX1", "--reason", "x") // settled: nothing to resend
	out = must(0, "reconcile", "--campaign", id, "--resend", "--org", other, "--reason", "SES has no record of the message")
	if !strings.Contains(out, "released by alice") || !strings.Contains(out, "and sent") {
		t.Errorf("resend output:\n%s", out)
	}
	if got := len(emails(other)); got != 2 {
		t.Errorf("%s: %d emails after --resend, want exactly 2 (the crashed one and the resend)", other, got)
	}
	n, _ = l.Get(ctx, id, other, listed[0].Stage)
	if n.Status != ledger.Sent || len(n.Resends) != 1 || n.Resends[0].By != "alice" || n.Resends[0].Reason != "SES has no record of the message" ||
		n.Resends[0].SendStartedAt != t0.Format(time.RFC3339Nano) {
		t.Errorf("%s after resend: status %s, resends %+v", other, n.Status, n.Resends)
	}
	if out := must(0, "reconcile", "--campaign", id); !strings.Contains(out, "1 notice in doubt") {
		t.Errorf("after one resend:\n%s", out)
	}
	must(1, "reconcile", "--campaign", id, "--resend", "--org", other, "--reason", "again") // no longer in doubt: nothing resent
	if got := len(emails(other)); got != 2 {
		t.Errorf("%s: %d emails, want still 2", other, got)
	}
}

// A failed notice is sent again only on purpose: listed with --failed, released with a reason
// for one organisation, sent once, and recorded on the notice; a second release finds nothing.
func TestResendAFailedNotice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli := newTestCLI(t, map[string]string{"USER": "alice"})
	db, table := cli.useLocalStack()
	t0 := time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	cli.now = t0
	id := "failed-" + localstacktest.Unique()
	spec, err := os.ReadFile(filepath.Join("..", "..", "infra", "demo", "data", "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "campaign.yaml")
	os.WriteFile(file, []byte(strings.Replace(string(spec), "id: demo-legacy-hostnames-2021", "id: "+id, 1)), 0o644)
	must := func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := cli.run(args...)
		if code != wantCode {
			t.Fatalf("sunset %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}
	must(0, "campaign", "apply", file)
	l := ledger.New(db, table, cli.clock)
	to := "la-" + localstacktest.Unique() + "@example.nhs.net"
	if ok, err := l.Claim(ctx, ledger.Notice{Campaign: id, Org: "RX1", OrgName: "Example Trust", Stage: "advance",
		PlannedFor: calendar.Of(t0), Recipients: []string{to}}); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, err := l.BeginSend(ctx, id, "RX1", "advance"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFailed(ctx, id, "RX1", "advance", "SES rejected the message: Illegal address"); err != nil {
		t.Fatal(err)
	}
	out := must(0, "reconcile", "--campaign", id, "--failed")
	if !strings.Contains(out, "1 failed notice") || !strings.Contains(out, "Illegal address") || !strings.Contains(out, "--failed --resend --org RX1") {
		t.Errorf("reconcile --failed:\n%s", out)
	}
	must(2, "reconcile", "--campaign", id, "--failed", "--resend", "--reason", "address fixed") // no --org
	must(2, "reconcile", "--campaign", id, "--failed", "--resend", "--org", "RX1")              // no reason
	out = must(0, "reconcile", "--campaign", id, "--failed", "--resend", "--org", "RX1", "--reason", "address fixed in the directory")
	if !strings.Contains(out, "released by alice") || !strings.Contains(out, "and sent") {
		t.Errorf("resend output:\n%s", out)
	}
	sent := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") == id {
			sent++
		}
	}
	n, _ := l.Get(ctx, id, "RX1", "advance")
	if sent != 1 || n.Status != ledger.Sent || len(n.Resends) != 1 || n.Resends[0].Failed != "SES rejected the message: Illegal address" || n.Resends[0].By != "alice" {
		t.Errorf("after the resend: %d emails, status %s, resends %+v", sent, n.Status, n.Resends)
	}
	must(1, "reconcile", "--campaign", id, "--failed", "--resend", "--org", "RX1", "--reason", "again") // nothing failed now
}

// crashingMailLedger is the real ledger, except that the sender dies after SES accepted each
// merged email: MarkMailSent never lands.
type crashingMailLedger struct{ *ledger.Ledger }

func (crashingMailLedger) MarkMailSent(context.Context, ledger.MailKey, string, string) error {
	return errors.New("the sender died before recording the merged email")
}

// The demo's federation LA gets one merged email for two organisations; the sender dies before
// recording it. sunset reconcile says so and --mails lists it after the grace period; --mails
// --resend, only with a reason, sends it once more, on record.
func TestReconcileMergedEmails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli, db, table, id, must := demoFirstDay(t, "mails")
	t0 := cli.now

	clock := func() time.Time { return t0 }
	l := ledger.New(db, table, clock)
	crashing := sender.New(cli.ses, crashingMailLedger{l}, campaign.NewStore(db, table, clock), suppression.New(db, table, clock), clock, sender.Options{})
	res, err := planner.New(db, table, cli.stage, clock).Run(ctx, id, calendar.Of(t0), crashing)
	if err != nil || res.Mails != 1 {
		t.Fatalf("run: %d merged emails, %v", res.Mails, err)
	}
	merged := func() int {
		n := 0
		for _, m := range localstacktest.SentEmails(t) {
			if m.Header("X-Sunset-Campaign") == id && m.Header("X-Sunset-Mail") != "" {
				n++
			}
		}
		return n
	}
	if got := merged(); got != 1 {
		t.Fatalf("%d merged emails sent, want 1", got)
	}
	cli.now = t0.Add(2 * time.Hour)
	if out := must(0, "reconcile", "--campaign", id); !strings.Contains(out, "1 merged emails are in doubt too") {
		t.Errorf("reconcile does not point at the merged email:\n%s", out)
	}
	out := must(0, "reconcile", "--campaign", id, "--mails")
	if !strings.Contains(out, "1 merged emails in doubt") || !strings.Contains(out, "it.support@federation.example.nhs.net") || !strings.Contains(out, "RTH Y0123") {
		t.Errorf("reconcile --mails:\n%s", out)
	}
	var listed []ledger.Mail
	if err := json.Unmarshal([]byte(must(0, "reconcile", "--campaign", id, "--mails", "--json")), &listed); err != nil || len(listed) != 1 {
		t.Fatalf("reconcile --mails --json: %v %v", listed, err)
	}
	must(2, "reconcile", "--campaign", id, "--mails", "--resend")
	must(2, "reconcile", "--campaign", id, "--mails", "--org", "RTH")
	out = must(0, "reconcile", "--campaign", id, "--mails", "--resend", "--mail", listed[0].ID(), "--reason", "not in SES's sending statistics")
	if !strings.Contains(out, "released by alice") || !strings.Contains(out, "sent") {
		t.Errorf("resend:\n%s", out)
	}
	if got := merged(); got != 2 {
		t.Errorf("%d merged emails after the resend, want 2 (the one on record)", got)
	}
	m, err := l.GetMail(ctx, listed[0].MailKey)
	if err != nil || m.Status != ledger.Sent || len(m.Resends) != 1 || m.Resends[0].By != "alice" || len(m.Carried) != 2 {
		t.Errorf("mail after the resend: %+v %v", m, err)
	}
	if out := must(0, "reconcile", "--campaign", id, "--mails"); !strings.Contains(out, "0 merged emails in doubt") {
		t.Errorf("after the resend:\n%s", out)
	}
}

// demoFirstDay is the demo's first day under a campaign id of its own (prefix-<random>), as a
// sender's crash meets it: the directory imported, the campaign applied, the first phase's logs
// ingested, the CLI's clock at 08:00 UTC on 27 July 2021; must runs a command and checks its
// exit code.
func demoFirstDay(t *testing.T, prefix string) (cli *testCLI, db *dynamodb.Client, table, id string, must func(int, ...string) string) {
	t.Helper()
	cli = newTestCLI(t, map[string]string{"USER": "alice"})
	db, table = cli.useLocalStack()
	cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	id = prefix + "-" + localstacktest.Unique()
	data := filepath.Join("..", "..", "infra", "demo", "data")
	spec, err := os.ReadFile(filepath.Join(data, "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "campaign.yaml")
	if err := os.WriteFile(file, []byte(strings.Replace(string(spec), "id: demo-legacy-hostnames-2021", "id: "+id, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	must = func(wantCode int, args ...string) string {
		t.Helper()
		out, errOut, code := cli.run(args...)
		if code != wantCode {
			t.Fatalf("sunset %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
		}
		return out + errOut
	}
	must(0, "directory", "import", "--orgs", filepath.Join(data, "orgs.csv"), "--accounts", filepath.Join(data, "accounts.csv"))
	must(0, "campaign", "apply", file)
	logs, _ := filepath.Glob(filepath.Join(data, "logs", "1", "*"))
	must(0, append([]string{"ingest", "--campaign", id}, logs...)...)
	return cli, db, table, id, must
}
