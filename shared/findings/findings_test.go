package findings_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

func ptr(s string) *string { return &s }

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

var expires = time.Date(2022, 3, 6, 0, 0, 0, 0, time.UTC)

// ingest stages and commits one file's findings, as ingest does.
func ingest(t *testing.T, w *findings.Writer, src string, owners map[string]string, fs []connlog.Finding) {
	t.Helper()
	ctx := context.Background()
	if err := w.Stage(ctx, findings.Batch{Campaign: "c1", Source: src, Owners: owners}, fs); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, "c1", src, 1); err != nil {
		t.Fatal(err)
	}
}

func clock() time.Time { return time.Date(2021, 8, 3, 6, 0, 0, 0, time.UTC) }

// Two files see the same account on the same day, in the wrong order; each is committed
// twice, one of them after a merge of the other; an unattributed finding and an unassigned
// account come along. Readers see the same totals before, between and after the merges.
func TestCommitIsIdempotentPerFileAndMergesAddUp(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	stage := localstacktest.Stage(t)
	w := findings.NewWriter(db, table, stage, clock)
	r := findings.NewReader(db, table, stage)
	m := findings.NewMerger(db, table, stage, clock, "test")
	owners := map[string]string{"jo@nhs.net": "RX1"}

	later := []connlog.Finding{
		{Account: ptr("jo@nhs.net"), Hostname: "IMAP.nhs.net", Protocol: "IMAP", Day: "2021-08-02",
			FirstSeen: at("2021-08-02T10:00:00Z"), LastSeen: at("2021-08-02T18:30:00.25Z"),
			Successes: 5, Failures: 1, ClientIPs: []string{"198.51.100.7"}, UserAgents: []string{"Thunderbird"}},
		{Account: ptr("stranger@nhs.net"), Hostname: "pop.nhs.net", Protocol: "POP", Day: "2021-08-02",
			FirstSeen: at("2021-08-02T11:00:00Z"), LastSeen: at("2021-08-02T11:00:00Z"), Successes: 1},
	}
	earlier := []connlog.Finding{
		{Account: ptr("jo@nhs.net"), Hostname: "imap.nhs.net", Protocol: "IMAP", Day: "2021-08-02",
			FirstSeen: at("2021-08-02T01:00:00Z"), LastSeen: at("2021-08-02T02:00:00Z"),
			Successes: 2, Failures: 3, ClientIPs: []string{"198.51.100.7", "203.0.113.9"}, DirectIP: true},
		{Hostname: "mail.nhs.net", Protocol: "TLS", Day: "2021-08-01", ClientIPs: []string{"192.0.2.1"},
			FirstSeen: at("2021-08-01T23:59:59Z"), LastSeen: at("2021-08-01T23:59:59Z"), Successes: 4},
	}
	view := func() *findings.View {
		t.Helper()
		v, err := r.View(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	window := func() []findings.Activity {
		t.Helper()
		got, err := view().Window(ctx, day("2021-08-01"), day("2021-08-02"))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ingest(t, w, "logs/b.log#v2", owners, later)
	ingest(t, w, "logs/b.log#v2", owners, later)
	if _, err := m.Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	ingest(t, w, "logs/a.log#v1", owners, earlier)
	ingest(t, w, "logs/a.log#v1", owners, earlier)
	got := window()
	want := []findings.Activity{
		{Hostname: "mail.nhs.net", Protocol: "TLS", Day: day("2021-08-01"), ClientIP: "192.0.2.1",
			FirstSeen: at("2021-08-01T23:59:59Z"), LastSeen: at("2021-08-01T23:59:59Z"), Successes: 4,
			ClientIPs: []string{"192.0.2.1"}, Sources: 1},
		{Account: "jo@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-02"), ODS: "RX1",
			FirstSeen: at("2021-08-02T01:00:00Z"), LastSeen: at("2021-08-02T18:30:00.25Z"),
			Successes: 7, Failures: 4, ClientIPs: []string{"198.51.100.7", "203.0.113.9"},
			UserAgents: []string{"Thunderbird"}, DirectIP: true, Sources: 2},
		{Account: "stranger@nhs.net", Hostname: "pop.nhs.net", Protocol: "POP", Day: day("2021-08-02"), ODS: findings.Unassigned,
			FirstSeen: at("2021-08-02T11:00:00Z"), LastSeen: at("2021-08-02T11:00:00Z"), Successes: 1, Sources: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Window, one file merged and one pending (-want +got):\n%s", diff)
	}
	if _, err := m.Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window()); diff != "" || view().Pending != 0 {
		t.Errorf("Window, both merged (-want +got):\n%s", diff)
	}
	// A merge with nothing committed writes nothing.
	if res, err := m.Merge(ctx, "c1", expires); err != nil || res.Written != 0 || len(res.Batches) != 0 {
		t.Errorf("empty merge = %+v, %v", res, err)
	}

	r2 := view()
	un, err := r2.Unassigned(ctx, day("2021-08-01"), day("2021-08-31"))
	if err != nil {
		t.Fatal(err)
	}
	if len(un) != 1 || un[0].Account != "stranger@nhs.net" {
		t.Errorf("Unassigned = %+v, want stranger@nhs.net only", un)
	}
	org, err := r2.Org(ctx, "rx1", day("2021-08-02"), day("2021-08-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(org) != 1 || org[0].Successes != 7 {
		t.Errorf("Org(RX1) = %+v, want jo's one finding", org)
	}
	acct, err := accountOf(ctx, r2, "jo@nhs.net", day("2021-08-03"), day("2021-08-09"))
	if err != nil || len(acct) != 0 {
		t.Errorf("Account outside the window = %+v, %v; want none", acct, err)
	}

	// The directory changes: the next file's merge re-files the item it touches.
	ingest(t, w, "logs/c.log#v1", map[string]string{"stranger@nhs.net": "Y123"},
		[]connlog.Finding{{Account: ptr("stranger@nhs.net"), Hostname: "pop.nhs.net", Protocol: "POP", Day: "2021-08-02",
			FirstSeen: at("2021-08-02T12:00:00Z"), LastSeen: at("2021-08-02T12:00:00Z"), Successes: 1}})
	if _, err := m.Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	un, err = view().Unassigned(ctx, day("2021-08-01"), day("2021-08-31"))
	if err != nil || len(un) != 0 {
		t.Errorf("Unassigned after reassignment = %+v, %v; want none", un, err)
	}
}

func TestStageRefusesFindingsWithoutDay(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	w := findings.NewWriter(db, table, localstacktest.Stage(t), clock)
	err := w.Stage(context.Background(), findings.Batch{Campaign: "c1", Source: "s"}, []connlog.Finding{{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP"}})
	if err == nil {
		t.Fatal("a finding without a day was written")
	}
}

func TestFileLedger(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	w := findings.NewWriter(db, table, nil, clock)
	r := findings.NewReader(db, table, nil)
	if f, err := r.File(ctx, "b/k#v1", "c1"); err != nil || f != nil {
		t.Fatalf("File before Done = %v, %v; want nil", f, err)
	}
	f := findings.FileFromSummary("b/k#v1", "b/k", "c1", connlog.Summary{Format: "iis", Lines: 10, Events: 4, Findings: 2,
		Unresolved: 1, Malformed: 1, MalformedLines: []connlog.LineError{{Line: 7, Reason: "too few fields"}}})
	f.Parts, f.Batch, f.WriteUnits, f.DurationMS, f.FinishedAt = 1, 3, 4.5, 15, at("2021-08-02T03:15:23.5Z")
	if err := w.Done(ctx, f, expires); err != nil {
		t.Fatal(err)
	}
	got, err := r.File(ctx, "b/k#v1", "c1")
	if err != nil || got == nil {
		t.Fatalf("File = %v, %v", got, err)
	}
	f.State = findings.StateDone
	if diff := cmp.Diff(f, *got); diff != "" {
		t.Errorf("File (-want +got):\n%s", diff)
	}
	list, err := r.Files(ctx, day("2021-08-02"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]findings.File{f}, list, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// A reader without a stage refuses to view a campaign with committed, unmerged files rather
// than leave them out; once merged, it reads the table.
func TestViewWithoutStageRefusesPendingFiles(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	stage := localstacktest.Stage(t)
	ingest(t, findings.NewWriter(db, table, stage, clock), "logs/a.log#v1", nil, []connlog.Finding{{Account: ptr("jo@nhs.net"),
		Hostname: "imap.nhs.net", Protocol: "IMAP", Day: "2021-08-02", FirstSeen: at("2021-08-02T10:00:00Z"), LastSeen: at("2021-08-02T10:00:00Z"), Successes: 1}})
	if _, err := findings.NewReader(db, table, nil).View(ctx, "c1"); err == nil || !strings.Contains(err.Error(), "no stage") {
		t.Fatalf("View without a stage = %v, want it refused", err)
	}
	if _, err := findings.NewMerger(db, table, stage, clock, "test").Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	v, err := findings.NewReader(db, table, nil).View(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if acts, err := accountOf(ctx, v, "jo@nhs.net", day("2021-08-02"), day("2021-08-02")); err != nil || len(acts) != 1 {
		t.Errorf("after the merge: %+v, %v; want jo's finding", acts, err)
	}
}

// accountOf reads one account's findings from..to as the planner does: the survey, then the
// items it saw the account at.
func accountOf(ctx context.Context, v *findings.View, account string, from, to calendar.Date) ([]findings.Activity, error) {
	var out []findings.Activity
	err := v.Accounts(ctx, from, to, func(s findings.Seen) error {
		if s.Account != account {
			return nil
		}
		acts, err := v.AccountSeen(ctx, s, from, to)
		out = acts
		return err
	})
	return out, err
}
