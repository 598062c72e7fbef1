package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/campaign/campaigntest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/ledger/ledgertest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// The real types are what Build reads in production.
var (
	_ Campaigns    = (*campaign.Store)(nil)
	_ Ledger       = (*ledger.Ledger)(nil)
	_ Suppressions = (*suppression.List)(nil)
	_ Planner      = (*planner.Planner)(nil)
)

type fakeSuppressions []suppression.Entry

func (f fakeSuppressions) All(context.Context) ([]suppression.Entry, error) { return f, nil }

// fakePlanner returns its unassigned accounts and records the days asked about.
type fakePlanner struct {
	unassigned []ledger.Account
	err        error
	asked      [2]calendar.Date
}

func (f *fakePlanner) Unassigned(_ context.Context, _ *campaign.Campaign, from, to calendar.Date) ([]ledger.Account, error) {
	f.asked = [2]calendar.Date{from, to}
	return f.unassigned, f.err
}

// fakeProgress is what the daily runs recorded.
type fakeProgress struct {
	days []progress.Day
	orgs []progress.Org
}

func (f fakeProgress) Days(context.Context, string) ([]progress.Day, error) { return f.days, nil }
func (f fakeProgress) Orgs(context.Context, string) ([]progress.Org, error) { return f.orgs, nil }

var _ Progress = (*progress.Store)(nil)

func days(n int) *int { return &n }

func date(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// demoCampaign: shutdown Tuesday 07 September 2021; stages 42 and 14 days before, 1 day
// before, 7 days after; extensions up to 30 days.
func demoCampaign() *campaign.Campaign {
	return &campaign.Campaign{
		ID: "c1", Timezone: "Europe/London", Shutdown: date("2021-09-07"), MaxExtensionDays: 30,
		Stages: []campaign.Stage{
			{Name: "advance", DaysBefore: days(42)},
			{Name: "reminder", DaysBefore: days(14)},
			{Name: "final", DaysBefore: days(1)},
			{Name: "retired", DaysAfter: days(7)},
		},
	}
}

func TestBuild(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	sentLocal := time.Date(2021, 7, 27, 9, 30, 0, 0, london) // 08:30 UTC
	sentUTC := sentLocal.UTC()
	now := time.Date(2021, 8, 30, 8, 0, 0, 0, time.UTC)
	acct := func(names ...string) []ledger.Account {
		var as []ledger.Account
		for _, n := range names {
			as = append(as, ledger.Account{Account: n, Hostname: "imap.nhs.net", Protocol: "IMAP"})
		}
		return as
	}
	advanceA1 := append(acct("One@nhs.net", "two@nhs.net"), ledger.Account{Account: "one@nhs.net", Hostname: "pop.nhs.net"})
	none := []ledger.Account{}
	notices := []ledger.Notice{
		{Campaign: "c1", Org: "B2", OrgName: "Bravo", Stage: "reminder", Status: ledger.Sent, Recipients: []string{"la@b.nhs.net"},
			SentAt: sentLocal, MessageID: "m-b", Accounts: acct("x@nhs.net")},
		{Campaign: "c1", Org: "A1", OrgName: "Alpha", Stage: "final", Status: ledger.Claimed, Recipients: []string{"la@a.nhs.net"}},
		{Campaign: "c1", Org: "A1", OrgName: "Alpha", Stage: "reminder", Status: ledger.Superseded},
		// The same account on two hostnames counts once.
		{Campaign: "c1", Org: "A1", OrgName: "Alpha", Stage: "advance", Status: ledger.Sent, Recipients: []string{"la@a.nhs.net"},
			SentAt: sentLocal, MessageID: "m-a", Accounts: advanceA1},
		// Every recipient suppressed (compared trimmed and lower-cased): unreachable.
		{Campaign: "c1", Org: "C3", OrgName: "Charlie", Stage: "advance", Status: ledger.Suppressed, Recipients: []string{" LA@c.nhs.net", "pla@c.nhs.net"}, Error: "suppressed"},
		// One recipient still reachable: not unreachable.
		{Campaign: "c1", Org: "D4", OrgName: "Delta", Stage: "advance", Status: ledger.Suppressed, Recipients: []string{"la@c.nhs.net", "ok@d.nhs.net"}},
		{Campaign: "c1", Org: "E5", OrgName: "=Echo", Stage: "unknown-stage", Status: ledger.Failed, Error: "MessageRejected"},
	}
	supp := fakeSuppressions{
		{Address: "la@c.nhs.net", Reason: "bounce", At: sentUTC},
		{Address: "pla@c.nhs.net", Reason: "complaint", At: sentUTC},
	}
	pl := &fakePlanner{unassigned: acct("Locum@nhs.net", "", "locum@nhs.net", "early@nhs.net")}
	// The latest run (30 August) found F6 unreachable; H8 only an earlier run did.
	prog := fakeProgress{days: []progress.Day{{At: date("2021-07-27"), Affected: 5}, {At: date("2021-08-30"), Affected: 4}},
		orgs: []progress.Org{{ODS: "F6", AsOf: date("2021-08-30"), Skipped: "unreachable"}, {ODS: "G7", AsOf: date("2021-08-30"), Skipped: "no-contacts"},
			{ODS: "H8", AsOf: date("2021-07-27"), Skipped: "unreachable"}}}
	src := Sources{
		Campaigns:    campaigntest.New(&campaign.Record{Campaign: demoCampaign()}),
		Ledger:       ledgertest.New(notices...),
		Suppressions: supp,
		Planner:      pl,
		Progress:     prog,
	}
	got, err := Build(context.Background(), src, "c1", now)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Campaign: "c1",
		Notices: []Notice{
			{Org: "A1", OrgName: "Alpha", Stage: "advance", Status: "sent", To: []string{"la@a.nhs.net"}, SentAt: &sentUTC, MessageID: "m-a", Accounts: advanceA1},
			{Org: "A1", OrgName: "Alpha", Stage: "final", Status: "claimed", To: []string{"la@a.nhs.net"}, Accounts: none},
			{Org: "B2", OrgName: "Bravo", Stage: "reminder", Status: "sent", To: []string{"la@b.nhs.net"}, SentAt: &sentUTC, MessageID: "m-b", Accounts: acct("x@nhs.net")},
			{Org: "C3", OrgName: "Charlie", Stage: "advance", Status: "suppressed", To: []string{" LA@c.nhs.net", "pla@c.nhs.net"}, Accounts: none, Error: "suppressed"},
			{Org: "D4", OrgName: "Delta", Stage: "advance", Status: "suppressed", To: []string{"la@c.nhs.net", "ok@d.nhs.net"}, Accounts: none},
			{Org: "E5", OrgName: "=Echo", Stage: "unknown-stage", Status: "failed", To: []string{}, Accounts: none, Error: "MessageRejected"},
		},
		Mails:             []Mail{},
		Unassigned:        []string{"early@nhs.net", "locum@nhs.net"},
		Unreachable:       []string{"C3", "F6"}, // H8 was unreachable only in an earlier run
		Suppressed:        []string{"la@c.nhs.net", "pla@c.nhs.net"},
		SuppressedEntries: supp,
		Progress:          prog.days,
		Markers:           Markers(demoCampaign()),
		Title:             demoCampaign().Title,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Build (-want +got):\n%s", diff)
	}
	if got.Notices[0].SentAt.Location() != time.UTC {
		t.Errorf("sent_at in %v, want UTC", got.Notices[0].SentAt.Location())
	}
	// Unassigned accounts from the first stage date already past (its window: 0 days here) to today.
	if diff := cmp.Diff([2]calendar.Date{date("2021-07-27"), date("2021-08-30")}, pl.asked); diff != "" {
		t.Errorf("unassigned asked for (-want +got):\n%s", diff)
	}
}

func TestBuildErrors(t *testing.T) {
	boom := errors.New("boom")
	good := func() Sources {
		return Sources{
			Campaigns:    campaigntest.New(&campaign.Record{Campaign: demoCampaign()}),
			Ledger:       ledgertest.New(),
			Suppressions: fakeSuppressions{},
			Planner:      &fakePlanner{},
		}
	}
	for _, tc := range []struct {
		name string
		id   string
		edit func(*Sources)
		want error
	}{
		{name: "unknown campaign", id: "nope", want: campaign.ErrNotFound},
		{name: "ledger", id: "c1", edit: func(s *Sources) { s.Ledger = &ledgertest.Ledger{Err: boom} }, want: boom},
		{name: "planner", id: "c1", edit: func(s *Sources) { s.Planner = &fakePlanner{err: boom} }, want: boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := good()
			if tc.edit != nil {
				tc.edit(&src)
			}
			if _, err := Build(context.Background(), src, tc.id, time.Date(2021, 8, 30, 8, 0, 0, 0, time.UTC)); !errors.Is(err, tc.want) {
				t.Errorf("Build: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBuildEmpty(t *testing.T) {
	r, err := Build(context.Background(), Sources{
		Campaigns:    campaigntest.New(&campaign.Record{Campaign: demoCampaign(), Status: campaign.Active}),
		Ledger:       ledgertest.New(),
		Suppressions: fakeSuppressions{},
		Planner:      &fakePlanner{},
	}, "c1", time.Date(2021, 8, 30, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	// Empty lists are [] in the JSON, never null.
	if want := `{"campaign":"c1","status":"active","delivery":{"sends":0,"bounces":0,"complaints":0,"bounce_rate":0},"notices":[],"mails":[],"unassigned":[],"unreachable":[],"suppressed":[],"progress":[]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

func TestPlanDates(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  time.Time
		edit func(*campaign.Campaign)
		want []calendar.Date
	}{
		{name: "before the first stage", now: time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC), want: []calendar.Date{date("2021-07-01")}},
		{name: "stage dates already past", now: time.Date(2021, 8, 30, 8, 0, 0, 0, time.UTC),
			want: []calendar.Date{date("2021-08-30"), date("2021-07-27"), date("2021-08-24")}},
		// 23:30 UTC on 26 July is 00:30 on 27 July in London: the advance date is today, not past.
		{name: "today in the campaign's zone", now: time.Date(2021, 7, 26, 23, 30, 0, 0, time.UTC), want: []calendar.Date{date("2021-07-27")}},
		{name: "campaign over: the last deadline", now: time.Date(2022, 1, 1, 8, 0, 0, 0, time.UTC),
			want: []calendar.Date{date("2021-10-07"), date("2021-07-27"), date("2021-08-24"), date("2021-09-06"), date("2021-09-14")}},
		{name: "roster campaign: no shutdown, no stage dates", now: time.Date(2021, 8, 30, 8, 0, 0, 0, time.UTC),
			edit: func(c *campaign.Campaign) { c.Shutdown, c.RosterUntil = calendar.Date{}, date("2021-12-31") },
			want: []calendar.Date{date("2021-08-30")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := demoCampaign()
			if tc.edit != nil {
				tc.edit(c)
			}
			if diff := cmp.Diff(tc.want, planDates(c, tc.now)); diff != "" {
				t.Errorf("planDates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStageOrder(t *testing.T) {
	stages := demoCampaign().Stages
	for _, tc := range []struct {
		name string
		want int
	}{{"advance", 0}, {"final", 2}, {"retired", 3}, {"gone", 4}, {"", 4}} {
		t.Run(tc.name, func(t *testing.T) {
			if got := stageOrder(stages, tc.name); got != tc.want {
				t.Errorf("stageOrder(%q) = %d, want %d", tc.name, got, tc.want)
			}
		})
	}
}

func TestAllSuppressed(t *testing.T) {
	supp := map[string]bool{"a@x.net": true, "b@x.net": true}
	for _, tc := range []struct {
		name  string
		addrs []string
		want  bool
	}{
		{"all", []string{"a@x.net", "b@x.net"}, true},
		{"normalised", []string{" A@X.net ", "B@x.NET"}, true},
		{"one reachable", []string{"a@x.net", "c@x.net"}, false},
		{"no addresses", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := allSuppressed(tc.addrs, supp); got != tc.want {
				t.Errorf("allSuppressed(%q) = %v, want %v", tc.addrs, got, tc.want)
			}
		})
	}
}

func TestDistinctAccounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		as   []ledger.Account
		want int
	}{
		{"none", nil, 0},
		{"case-insensitive", []ledger.Account{{Account: "A@nhs.net"}, {Account: "a@nhs.net", Hostname: "pop.nhs.net"}}, 1},
		{"two", []ledger.Account{{Account: "a@nhs.net"}, {Account: "b@nhs.net"}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := distinctAccounts(tc.as); got != tc.want {
				t.Errorf("distinctAccounts = %d, want %d", got, tc.want)
			}
		})
	}
}

func sample() Report {
	sent := time.Date(2021, 7, 27, 8, 30, 0, 0, time.UTC)
	return Report{
		Campaign: "c1",
		Notices: []Notice{
			{Org: "A1", OrgName: "Alpha", Stage: "advance", Status: "sent", To: []string{"la@a.nhs.net", "pla@a.nhs.net"}, SentAt: &sent, MessageID: "m-a", Accounts: []ledger.Account{
				{Account: "one@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", LastSeen: sent, Successes: 3, Failures: 1},
				{Account: "two@nhs.net", Hostname: "smtp.nhs.net", Protocol: "SMTP", LastSeen: sent, Successes: 1}}},
			{Org: "E5", OrgName: "=HYPERLINK(\"x\")", Stage: "final", Status: "failed", To: []string{}, Accounts: []ledger.Account{}, Error: "-bad address"},
		},
		Unassigned:  []string{"locum@nhs.net"},
		Unreachable: []string{},
		Suppressed:  []string{"la@c.nhs.net"},
		SuppressedEntries: []suppression.Entry{
			{Address: "la@c.nhs.net", Reason: "bounce", At: sent, Detail: "permanent"},
		},
	}
}

// The JSON is the CLI's contract (issue 6): these keys, sent_at null until sent, error only
// when there is one, and the suppression details left out; the campaign's status, pause
// reason and SES delivery counts (issue 13).
func TestJSON(t *testing.T) {
	r := sample()
	r.Status, r.PauseReason = "paused", "bounce rate 9.0% (9 of 100 recipients since the first send) passed the 8.0% limit on 2021-07-28 09:00 UTC"
	r.Delivery = Delivery{Sends: 100, Bounces: 9, Complaints: 1, BounceRate: 0.09}
	r.Progress = []progress.Day{{At: date("2021-07-27"), Affected: 2, AffectedAccounts: 5, Notified: 2, Fixed: 1, Unassigned: 1}}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"campaign":"c1","status":"paused",
	"pause_reason":"bounce rate 9.0% (9 of 100 recipients since the first send) passed the 8.0% limit on 2021-07-28 09:00 UTC",
	"delivery":{"sends":100,"bounces":9,"complaints":1,"bounce_rate":0.09},
	"notices":[
	  {"org":"A1","org_name":"Alpha","stage":"advance","status":"sent","to":["la@a.nhs.net","pla@a.nhs.net"],"sent_at":"2021-07-27T08:30:00Z","message_id":"m-a","accounts":[
	    {"account":"one@nhs.net","hostname":"imap.nhs.net","protocol":"IMAP","last_seen":"2021-07-27T08:30:00Z","successes":3,"failures":1},
	    {"account":"two@nhs.net","hostname":"smtp.nhs.net","protocol":"SMTP","last_seen":"2021-07-27T08:30:00Z","successes":1,"failures":0}]},
	  {"org":"E5","org_name":"=HYPERLINK(\"x\")","stage":"final","status":"failed","to":[],"sent_at":null,"message_id":"","accounts":[],"error":"-bad address"}],
	"mails":null,"unassigned":["locum@nhs.net"],"unreachable":[],"suppressed":["la@c.nhs.net"],
	"progress":[{"date":"2021-07-27","affected_organisations":2,"affected_accounts":5,"notified_organisations":2,"fixed_organisations":1,"unassigned_accounts":1}]}`
	var got, exp any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(exp, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestWriteCSV(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := `org,org_name,stage,status,to,sent_at,message_id,accounts,error
A1,Alpha,advance,sent,la@a.nhs.net pla@a.nhs.net,2021-07-27T08:30:00Z,m-a,2,
E5,"'=HYPERLINK(""x"")",final,failed,,,,0,'-bad address
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := sample().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"Campaign c1: 2 notices (1 sent, 0 claimed, 1 failed, 0 suppressed)",
		"",
		"ORG  NAME             STAGE    STATUS  SENT (UTC)        ACCOUNTS  TO                           NOTE",
		"A1   Alpha            advance  sent    2021-07-27 08:30  2         la@a.nhs.net, pla@a.nhs.net  ",
		`E5   =HYPERLINK("x")  final    failed  -                 0                                      -bad address`,
		"",
		"Unassigned accounts (no organisation owns them: fix the directory): 1",
		"  locum@nhs.net",
		"",
		"Unreachable organisations (every LA/PLA address suppressed): 0",
		"",
		"Suppressed addresses (all campaigns): 1",
		"  la@c.nhs.net  bounce  2021-07-27  permanent",
		"",
	}, "\n")
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	for name, write := range map[string]func(Report) error{
		"table": func(r Report) error { return r.WriteTable(failWriter{}) },
		"csv":   func(r Report) error { return r.WriteCSV(failWriter{}) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := write(sample()); err == nil || err.Error() != "disk full" {
				t.Errorf("write: %v, want disk full", err)
			}
		})
	}
}

// What a crash and an auto-pause leave behind reads plainly: the pause and its reason, SES's
// counts, the notice in doubt, the one settled by an SES event and the one resent.
func TestWriteTableAfterACrash(t *testing.T) {
	at := time.Date(2021, 7, 27, 10, 0, 0, 0, time.UTC)
	r := Report{Campaign: "c1", Status: "paused", PauseReason: "bounce rate 9.0% (9 of 100 recipients) passed the 8.0% limit",
		Delivery: Delivery{Sends: 100, Bounces: 9, Complaints: 0, BounceRate: 0.09},
		Notices: []Notice{
			{Org: "A1", Stage: "advance", Status: "claimed", InDoubt: true},
			{Org: "B2", Stage: "advance", Status: "sent", SentAt: &at, SettledBy: "Send"},
			{Org: "C3", Stage: "advance", Status: "sent", SentAt: &at, Resends: []ledger.Resend{{At: at, By: "alice", Reason: "no SES record"}}},
		}}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Campaign c1: 3 notices (2 sent, 1 claimed, 0 failed, 0 suppressed, 1 in doubt: sunset reconcile)\n",
		"Paused automatically: bounce rate 9.0% (9 of 100 recipients) passed the 8.0% limit\n",
		"SES events: 100 recipients sent to, 9 bounced, 0 complained; bounce rate 9.0%\n",
		"A1         advance  in doubt",
		"settled by SES's Send event",
		"resent by alice on 2021-07-27: no SES record",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// Every column is neutralised, the addresses too, and a formula behind a tab or spaces.
func TestWriteCSVNeutralisesEveryColumn(t *testing.T) {
	r := Report{Campaign: "c1", Notices: []Notice{
		{Org: "A1", OrgName: "\t=cmd|' /C calc'!A0", Stage: "advance", Status: "failed", To: []string{"=HYPERLINK(\"http://x\")@a.nhs.net"},
			Error: "  @SUM(1)"},
	}}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "org,org_name,stage,status,to,sent_at,message_id,accounts,error\n" +
		"A1,'\t=cmd|' /C calc'!A0,advance,failed,\"'=HYPERLINK(\"\"http://x\"\")@a.nhs.net\",,,0,'  @SUM(1)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

// The report shows each brownout, and for one past, how many organisations the notices the
// day after told of accounts that failed during it.
func TestBuildBrownouts(t *testing.T) {
	c := demoCampaign()
	c.Brownouts = []campaign.Brownout{
		{Date: date("2021-08-24"), Hours: "09:00-12:00", Hostnames: []string{"imap.nhs.net"}},
		{Date: date("2021-08-31"), Hours: "10:00-11:00", Hostnames: []string{"imap.nhs.net", "pop.nhs.net"}},
	}
	seen := func(accounts ...string) *ledger.BrownoutSeen {
		return &ledger.BrownoutSeen{Date: date("2021-08-24"), Hours: "09:00-12:00", Hostnames: []string{"imap.nhs.net"}, Accounts: accounts}
	}
	src := Sources{
		Campaigns: campaigntest.New(&campaign.Record{Campaign: c}),
		Ledger: ledgertest.New(
			ledger.Notice{Campaign: "c1", Org: "A1", Stage: "reminder", Status: ledger.Sent, Brownout: seen("a@nhs.net", "b@nhs.net")},
			ledger.Notice{Campaign: "c1", Org: "B2", Stage: "reminder", Status: ledger.Sent, Brownout: seen("c@nhs.net")},
			ledger.Notice{Campaign: "c1", Org: "C3", Stage: "reminder", Status: ledger.Sent}),
		Suppressions: fakeSuppressions{},
		Planner:      &fakePlanner{},
	}
	r, err := Build(context.Background(), src, "c1", time.Date(2021, 8, 26, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []Brownout{{Brownout: c.Brownouts[0], Organisations: 2, Accounts: 3}, {Brownout: c.Brownouts[1]}}
	if diff := cmp.Diff(want, r.Brownouts); diff != "" {
		t.Errorf("brownouts (-want +got):\n%s", diff)
	}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "09:00-12:00 imap.nhs.net: 2 organisations told of 3 accounts that failed during it") {
		t.Errorf("table:\n%s", out.String())
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"brownouts":[{"date":"2021-08-24","hours":"09:00-12:00","hostnames":["imap.nhs.net"],"organisations_told":2,"accounts_failed":3}`) {
		t.Errorf("JSON: %s", b)
	}
}
