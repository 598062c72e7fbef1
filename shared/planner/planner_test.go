package planner

import (
	stdcmp "cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/campaign/campaigntest"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/ledger/ledgertest"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

const campaignYAML = `id: c1
shutdown: 2021-09-07
hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993}
max_extension_days: 92
activity_window_days: 30
stages:
  - {name: advance,  days_before: 42}
  - {name: reminder, days_before: 21}
  - {name: reminder-2, days_before: 7}
  - {name: final,    days_before: 1}
  - {name: retired,  days_after: 0}
sender: {from: "noreply@example.nhs.net"}
`

// fakes: in-memory versions of the planner's dependencies, for whole-calendar tests. The
// campaign store and the ledger are the shared ones (campaigntest, ledgertest).
// fakeFindings keeps findings as the table does, each filed under the owner it was written
// with (ODS; "" reads as findings.Unassigned), and reads them in the table's orders.
type fakeFindings struct {
	acts []findings.Activity
	// an index of acts in day-index order, by stored owner and by account, rebuilt when acts
	// grows (tests append to acts directly)
	indexed            int
	all                []findings.Activity
	byOwner, byAccount map[string][]findings.Activity
}

func (f *fakeFindings) index() {
	if f.indexed == len(f.acts) && f.all != nil {
		return
	}
	f.all = slices.Clone(f.acts)
	sort.SliceStable(f.all, func(i, j int) bool { return dayIndexKey(f.all[i]) < dayIndexKey(f.all[j]) })
	f.byOwner, f.byAccount = map[string][]findings.Activity{}, map[string][]findings.Activity{}
	for _, a := range f.all {
		if a.Account != "" {
			o := strings.ToUpper(stdcmp.Or(a.ODS, findings.Unassigned))
			f.byOwner[o] = append(f.byOwner[o], a)
			f.byAccount[a.Account] = append(f.byAccount[a.Account], a)
		}
	}
	f.indexed = len(f.acts)
}

// sorted is the acts of list (nil: all) that keep, in day-index order.
func (f *fakeFindings) sorted(list func() []findings.Activity, keep func(findings.Activity) bool) []findings.Activity {
	f.index()
	src := f.all
	if list != nil {
		src = list()
	}
	var out []findings.Activity
	for _, a := range src {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// dayIndexKey is a finding's place in the day partitions: the day, then account#hostname#protocol,
// unattributed findings last.
func dayIndexKey(a findings.Activity) string {
	if a.Account == "" {
		return a.Day.String() + "#~UNATTR#" + a.Hostname + "#" + a.Protocol + "#" + a.ClientIP
	}
	return findings.SortKey(a)
}

func in(a findings.Activity, from, to calendar.Date) bool {
	return !a.Day.Before(from) && !a.Day.After(to)
}

func (f *fakeFindings) View(context.Context, string) (FindingsView, error) { return f, nil }

func (f *fakeFindings) Window(_ context.Context, from, to calendar.Date) ([]findings.Activity, error) {
	return f.sorted(nil, func(a findings.Activity) bool { return in(a, from, to) }), nil
}

func (f *fakeFindings) Accounts(_ context.Context, from, to calendar.Date, fn func(findings.Seen) error) error {
	acts := f.sorted(nil, func(a findings.Activity) bool { return in(a, from, to) && a.Account != "" })
	sort.SliceStable(acts, func(i, j int) bool { return acts[i].Account < acts[j].Account })
	for i := 0; i < len(acts); {
		s := findings.Seen{Account: acts[i].Account}
		for ; i < len(acts) && acts[i].Account == s.Account; i++ {
			ods := stdcmp.Or(acts[i].ODS, findings.Unassigned)
			if !slices.Contains(s.Stored, ods) {
				s.Stored = append(s.Stored, ods)
			}
			if acts[i].Day.After(s.Last) {
				s.Last = acts[i].Day
			}
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeFindings) Org(_ context.Context, ods string, from, to calendar.Date) ([]findings.Activity, error) {
	return f.sorted(func() []findings.Activity { return f.byOwner[strings.ToUpper(ods)] }, func(a findings.Activity) bool { return in(a, from, to) }), nil
}

func (f *fakeFindings) AccountSeen(_ context.Context, s findings.Seen, from, to calendar.Date) ([]findings.Activity, error) {
	return f.sorted(func() []findings.Activity { return f.byAccount[s.Account] }, func(a findings.Activity) bool { return in(a, from, to) }), nil
}

func (f *fakeFindings) Unattributed(_ context.Context, from, to calendar.Date) ([]findings.Activity, error) {
	return f.sorted(nil, func(a findings.Activity) bool { return a.Account == "" && in(a, from, to) }), nil
}

type fakeDirectory struct {
	owners map[string]string
	orgs   map[string]directory.Org
}

func (f *fakeDirectory) Resolve(_ context.Context, accounts []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range accounts {
		if o, ok := f.owners[a]; ok {
			out[a] = o
		}
	}
	return out, nil
}
func (f *fakeDirectory) Orgs(_ context.Context, ods []string) (map[string]directory.Org, error) {
	out := map[string]directory.Org{}
	for _, o := range ods {
		if org, ok := f.orgs[o]; ok {
			out[o] = org
		}
	}
	return out, nil
}

type fakeSuppression map[string]bool

func (f fakeSuppression) Suppressed(_ context.Context, addrs []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, a := range addrs {
		out[a] = f[a]
	}
	return out, nil
}

type world struct {
	c    *campaigntest.Store
	rec  *campaign.Record
	f    *fakeFindings
	d    *fakeDirectory
	s    fakeSuppression
	l    *ledgertest.Ledger
	p    *Planner
	camp *campaign.Campaign
}

func newWorld(t *testing.T, yaml string) *world {
	t.Helper()
	c, err := campaign.Parse([]byte(yaml), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec := &campaign.Record{Campaign: c, Status: campaign.Active}
	w := &world{
		c:    campaigntest.New(rec),
		rec:  rec,
		f:    &fakeFindings{},
		d:    &fakeDirectory{owners: map[string]string{}, orgs: map[string]directory.Org{}},
		s:    fakeSuppression{},
		l:    ledgertest.New(),
		camp: c,
	}
	w.p = &Planner{Campaigns: w.c, Findings: w.f, Directory: w.d, Suppression: w.s, Ledger: w.l}
	for _, ods := range []string{"A1", "B2", "C3", "D4"} {
		w.d.orgs[ods] = directory.Org{ODS: ods, Name: "Org " + ods, LAEmails: []string{"la@" + strings.ToLower(ods) + ".nhs.net"}, PLAEmail: "pla@" + strings.ToLower(ods) + ".nhs.net"}
		w.d.owners["user@"+strings.ToLower(ods)+".nhs.net"] = ods
	}
	return w
}

// notice is the ledger's entry of org at stage (the zero notice when there is none).
func (w *world) notice(org, stage string) ledger.Notice {
	n, err := w.l.Get(context.Background(), w.camp.ID, org, stage)
	if err != nil {
		return ledger.Notice{}
	}
	return *n
}

// seen records that org's account used imap.nhs.net on each day from..to.
func (w *world) seen(ods, from, to string) {
	for d := day(from); !d.After(day(to)); d = d.AddDays(1) {
		w.f.acts = append(w.f.acts, findings.Activity{
			Account: "user@" + strings.ToLower(ods) + ".nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: d,
			ODS: ods, FirstSeen: d.Start(time.UTC).Add(9 * time.Hour), LastSeen: d.Start(time.UTC).Add(17 * time.Hour),
			Successes: 5, Failures: 1, ClientIPs: []string{"10.1.1.1"},
		})
	}
}

// runDays runs the planner every day from..to except the skipped days; it returns each day's
// claims as "date org stage [first]".
func (w *world) runDays(t *testing.T, from, to string, skip ...string) []string {
	t.Helper()
	var out []string
	for d := day(from); !d.After(day(to)); d = d.AddDays(1) {
		if contains(skip, d.String()) {
			continue
		}
		res, err := w.p.Run(context.Background(), w.camp.ID, d, nil)
		if err != nil {
			t.Fatalf("run %s: %v", d, err)
		}
		for _, n := range res.Claimed {
			s := fmt.Sprintf("%s %s %s", d, n.Org, n.Stage)
			if n.FirstContact {
				s += " first"
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestCalendars(t *testing.T) {
	// Shutdown 2021-09-07: advance 07-27, reminder 08-17, reminder-2 08-31, final 09-06, retired 09-07.
	for _, tc := range []struct {
		name  string
		setup func(w *world)
		skip  []string
		want  []string
		after func(t *testing.T, w *world)
	}{
		{
			name:  "found early: every stage on its day",
			setup: func(w *world) { w.seen("A1", "2021-06-01", "2021-09-10") },
			want: []string{
				"2021-07-27 A1 advance first", "2021-08-17 A1 reminder", "2021-08-31 A1 reminder-2",
				"2021-09-06 A1 final", "2021-09-07 A1 retired",
			},
		},
		{
			name:  "found late: the latest due stage only, earlier ones superseded",
			setup: func(w *world) { w.seen("B2", "2021-08-20", "2021-09-10") },
			want:  []string{"2021-08-20 B2 reminder first", "2021-08-31 B2 reminder-2", "2021-09-06 B2 final", "2021-09-07 B2 retired"},
			after: func(t *testing.T, w *world) {
				if n := w.notice("B2", "advance"); n.Status != ledger.Superseded {
					t.Errorf("advance = %+v", n)
				}
			},
		},
		{
			name:  "skipped runs: one notice, not a burst",
			setup: func(w *world) { w.seen("A1", "2021-06-01", "2021-09-10") },
			skip:  daysBetween("2021-07-20", "2021-09-01"),
			want:  []string{"2021-09-02 A1 reminder-2 first", "2021-09-06 A1 final", "2021-09-07 A1 retired"},
		},
		{
			name:  "remediated after the advance notice: no reminder, no retired",
			setup: func(w *world) { w.seen("A1", "2021-07-01", "2021-07-15") },
			want:  []string{"2021-07-27 A1 advance first"},
		},
		{
			name: "re-appears after going quiet: the stage due then, earlier unsent one superseded",
			setup: func(w *world) {
				w.seen("A1", "2021-07-01", "2021-07-10")
				w.seen("A1", "2021-09-01", "2021-09-01")
			},
			// Seen again within the window of final and retired too, so those go as well.
			want: []string{"2021-07-27 A1 advance first", "2021-09-01 A1 reminder-2", "2021-09-06 A1 final", "2021-09-07 A1 retired"},
			after: func(t *testing.T, w *world) {
				if n := w.notice("A1", "reminder"); n.Status != ledger.Superseded {
					t.Errorf("reminder = %+v", n)
				}
			},
		},
		{
			name: "extension moves the whole schedule",
			setup: func(w *world) {
				w.seen("C3", "2021-06-01", "2021-12-31")
				w.c.AddExtension(w.camp.ID, campaign.Extension{ODS: "C3", Until: day("2021-10-07")})
			},
			want: []string{"2021-08-26 C3 advance first", "2021-09-16 C3 reminder", "2021-09-30 C3 reminder-2", "2021-10-06 C3 final", "2021-10-07 C3 retired"},
		},
		{
			name: "unassigned account: listed, no notice",
			setup: func(w *world) {
				w.f.acts = append(w.f.acts, findings.Activity{Account: "ghost@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-07-27"), Successes: 1})
			},
			want: nil,
		},
		{
			name: "no contacts; every LA suppressed falls back to the PLA; all suppressed unreachable",
			setup: func(w *world) {
				w.seen("A1", "2021-07-27", "2021-07-27")
				w.seen("B2", "2021-07-27", "2021-07-27")
				w.seen("C3", "2021-07-27", "2021-07-27")
				w.d.orgs["A1"] = directory.Org{ODS: "A1", Name: "No contacts"}
				w.s["la@b2.nhs.net"] = true
				w.s["la@c3.nhs.net"], w.s["pla@c3.nhs.net"] = true, true
				w.camp.Audience = []string{"la"}
			},
			want: []string{"2021-07-27 B2 advance first", "2021-08-17 B2 reminder"},
			after: func(t *testing.T, w *world) {
				if r := w.notice("B2", "advance").Recipients; !cmp.Equal(r, []string{"pla@b2.nhs.net"}) {
					t.Errorf("B2 recipients %v", r)
				}
				pl, _ := w.p.Plan(context.Background(), "c1", day("2021-08-17"))
				got := map[string]SkipReason{}
				for _, s := range pl.Skipped {
					got[s.Org] = s.Reason
				}
				if diff := cmp.Diff(map[string]SkipReason{"A1": SkipNoContacts, "B2": SkipAlreadySent, "C3": SkipUnreachable}, got); diff != "" {
					t.Errorf("skipped (-want +got):\n%s", diff)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, campaignYAML)
			tc.setup(w)
			got := w.runDays(t, "2021-06-01", "2021-12-31", tc.skip...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if tc.after != nil {
				tc.after(t, w)
			}
		})
	}
}

func daysBetween(from, to string) []string {
	var out []string
	for d := day(from); !d.After(day(to)); d = d.AddDays(1) {
		out = append(out, d.String())
	}
	return out
}

func TestPauseResumeCancel(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-06-01", "2021-09-10")
	w.rec.Status = campaign.Paused
	got := w.runDays(t, "2021-07-20", "2021-08-20")
	if len(got) != 0 {
		t.Fatalf("paused campaign claimed %v", got)
	}
	pl, _ := w.p.Plan(context.Background(), "c1", day("2021-08-20"))
	if len(pl.Due) != 0 || len(pl.Skipped) != 1 || pl.Skipped[0].Reason != SkipPaused || pl.Skipped[0].Stage != "reminder" {
		t.Errorf("paused plan = %+v", pl)
	}
	w.rec.Status = campaign.Active // resume: the latest due stage, advance superseded
	got = w.runDays(t, "2021-08-21", "2021-08-31")
	if diff := cmp.Diff([]string{"2021-08-21 A1 reminder first", "2021-08-31 A1 reminder-2"}, got); diff != "" {
		t.Errorf("after resume (-want +got):\n%s", diff)
	}
	w.rec.Status = campaign.Cancelled
	if got := w.runDays(t, "2021-09-01", "2021-09-30"); len(got) != 0 {
		t.Errorf("cancelled campaign claimed %v", got)
	}
}

func TestRosterBYOMX(t *testing.T) {
	// BYO-MX: mail on the old domain for 6 months after migration, notice 14 days before expiry.
	w := newWorld(t, `id: byo
audience_source: roster
roster: r.csv
max_extension_days: 92
stages: [{name: expiry-warning, days_before: 14}]
sender: {from: "noreply@example.nhs.net"}
`)
	migrated := day("2024-01-15")
	w.c.SetRoster(w.camp.ID, []campaign.RosterEntry{
		{ODS: "A1", Deadline: migrated.AddMonths(6), Domain: "a1.nhs.uk"},
		{ODS: "B2", Deadline: day("2024-03-31")},
		{ODS: "C3", Deadline: day("2024-05-01"), Done: true},
		{ODS: "D4", Deadline: day("2024-04-30")},
	})
	w.c.AddExtension(w.camp.ID, campaign.Extension{ODS: "D4", Until: day("2024-07-31")})
	got := w.runDays(t, "2024-01-01", "2024-12-31")
	want := []string{"2024-03-17 B2 expiry-warning first", "2024-07-01 A1 expiry-warning first", "2024-07-17 D4 expiry-warning first"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if n := w.notice("A1", "expiry-warning"); n.Domain != "a1.nhs.uk" || n.Deadline != day("2024-07-15") {
		t.Errorf("A1 notice = %+v", n)
	}
}

func TestBSTBoundaries(t *testing.T) {
	// Deadlines on the days the clocks change: stage dates are civil dates, and a run at 08:00
	// London time (07:00 UTC in summer, 08:00 in winter) plans for that London date.
	for _, shutdown := range []string{"2021-03-28", "2021-10-31", "2021-11-01"} {
		t.Run(shutdown, func(t *testing.T) {
			w := newWorld(t, strings.Replace(campaignYAML, "2021-09-07", shutdown, 1))
			w.seen("A1", "2020-12-01", "2021-12-31")
			got := w.runDays(t, "2021-01-01", "2021-12-31")
			dl := day(shutdown)
			want := []string{
				dl.AddDays(-42).String() + " A1 advance first", dl.AddDays(-21).String() + " A1 reminder",
				dl.AddDays(-7).String() + " A1 reminder-2", dl.AddDays(-1).String() + " A1 final", dl.String() + " A1 retired",
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			// 23:30 UTC the night before the deadline is already the deadline day in BST.
			utc := dl.Start(time.UTC).Add(-30 * time.Minute)
			wantToday := dl
			if _, off := utc.In(w.camp.Location()).Zone(); off == 0 {
				wantToday = dl.AddDays(-1)
			}
			if got := w.camp.Today(utc); got != wantToday {
				t.Errorf("Today(%s) = %s, want %s", utc, got, wantToday)
			}
		})
	}
}

func TestPlanJSONShape(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-07-20", "2021-07-27")
	w.f.acts = append(w.f.acts,
		findings.Activity{Account: "ghost@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-07-26"), Successes: 2},
		findings.Activity{Hostname: "imap.nhs.net", Protocol: "TLS", Day: day("2021-07-26"), ClientIP: "192.0.2.7", Successes: 4})
	pl, err := w.p.Plan(context.Background(), "c1", day("2021-07-27"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pl.Due) != 1 {
		t.Fatalf("due = %+v", pl.Due)
	}
	d := pl.Due[0]
	if d.Org != "A1" || d.OrgName != "Org A1" || d.Stage != "advance" || !d.FirstContact || d.Deadline != day("2021-09-07") ||
		!cmp.Equal(d.Recipients, []string{"la@a1.nhs.net", "pla@a1.nhs.net"}) || len(d.Accounts) != 1 ||
		d.Accounts[0].Successes != 40 || d.Accounts[0].Failures != 8 {
		t.Errorf("due = %+v", d)
	}
	if len(pl.Unassigned) != 1 || pl.Unassigned[0].Account != "ghost@nhs.net" || len(pl.Unattributed) != 1 || pl.Unattributed[0].ClientIPs[0] != "192.0.2.7" {
		t.Errorf("unassigned %+v unattributed %+v", pl.Unassigned, pl.Unattributed)
	}
	if w.l.Len() != 0 {
		t.Error("Plan wrote to the ledger")
	}
}

// The funnel: affected organisations and accounts in the window, those notified, and those
// notified and no longer seen; and Run's count of the stages it superseded.
func TestFunnelAndSuperseded(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-07-01", "2021-08-20") // notified on 07-27, seen until 08-20
	w.seen("B2", "2021-07-01", "2021-07-28") // notified on 07-27, quiet since 07-28
	w.seen("C3", "2021-08-16", "2021-08-20") // found late: reminder due, advance superseded
	w.f.acts = append(w.f.acts, findings.Activity{Account: "second@a1.nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-20")})
	w.d.owners["second@a1.nhs.net"] = "A1"
	ctx := context.Background()
	if _, err := w.p.Run(ctx, w.camp.ID, day("2021-07-27"), nil); err != nil {
		t.Fatal(err)
	}
	res, err := w.p.Run(ctx, w.camp.ID, day("2021-08-17"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Superseded != 1 {
		t.Errorf("superseded %d, want 1 (C3's advance)", res.Superseded)
	}
	// On 08-30, the 30-day window is 07-31..08-30: A1 (two accounts) and C3 are affected; B2,
	// notified and quiet since 07-28, is fixed; A1 and C3 are notified too (claimed).
	pl, err := w.p.Plan(ctx, w.camp.ID, day("2021-08-30"))
	if err != nil {
		t.Fatal(err)
	}
	want := Funnel{Affected: 2, AffectedAccounts: 3, Notified: 3, Fixed: 1}
	if pl.Funnel != want {
		t.Errorf("funnel %+v, want %+v", pl.Funnel, want)
	}
}

// recorder keeps what runs tell Progress, in memory.
type recorder struct {
	days []progress.Day
	orgs map[string]progress.Org
}

func (r *recorder) RecordDay(_ context.Context, _ string, d progress.Day, _ time.Time) error {
	r.days = append(r.days, d)
	return nil
}

func (r *recorder) RecordOrgs(_ context.Context, _ string, orgs []progress.Org, _ time.Time) error {
	for _, o := range orgs {
		r.orgs[o.ODS] = o
	}
	return nil
}

// Each run records its funnel and every organisation it looked at, as it leaves them (a claim
// made by the run is the stage reached); a dry run records nothing.
func TestRunRecordsProgress(t *testing.T) {
	w := newWorld(t, campaignYAML)
	rec := &recorder{orgs: map[string]progress.Org{}}
	w.p.Progress = rec
	w.seen("A1", "2021-07-01", "2021-08-20")
	w.seen("B2", "2021-07-01", "2021-07-28")
	w.seen("C3", "2021-08-16", "2021-08-20")
	w.f.acts = append(w.f.acts, findings.Activity{Account: "second@a1.nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-20")})
	w.d.owners["second@a1.nhs.net"] = "A1"
	ctx := context.Background()
	for _, d := range []string{"2021-07-27", "2021-08-17", "2021-08-30"} {
		if _, err := w.p.Run(ctx, w.camp.ID, day(d), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.p.Plan(ctx, w.camp.ID, day("2021-08-31")); err != nil {
		t.Fatal(err)
	}
	wantDays := []progress.Day{
		{At: day("2021-07-27"), Affected: 2, AffectedAccounts: 2, Notified: 0},
		{At: day("2021-08-17"), Affected: 3, AffectedAccounts: 3, Notified: 2},
		{At: day("2021-08-30"), Affected: 2, AffectedAccounts: 3, Notified: 3, Fixed: 1},
	}
	if d := cmp.Diff(wantDays, rec.days); d != "" {
		t.Errorf("days (-want +got):\n%s", d)
	}
	at := day("2021-08-30")
	wantOrgs := map[string]progress.Org{
		"A1": {ODS: "A1", Name: "Org A1", AsOf: at, Affected: true, Accounts: 2, LastSeen: day("2021-08-20"), Stage: "reminder", Status: "claimed", LastNotice: day("2021-08-17")},
		"B2": {ODS: "B2", Name: "Org B2", AsOf: at, Stage: "reminder", Status: "claimed", LastNotice: day("2021-08-17")},
		"C3": {ODS: "C3", Name: "Org C3", AsOf: at, Affected: true, Accounts: 1, LastSeen: day("2021-08-20"), Stage: "reminder", Status: "claimed", LastNotice: day("2021-08-17")},
	}
	if d := cmp.Diff(wantOrgs, rec.orgs); d != "" {
		t.Errorf("organisations (-want +got):\n%s", d)
	}

	// An organisation a stage is due for that nobody can be written to: the run says why.
	w.d.orgs["D4"] = directory.Org{ODS: "D4", Name: "Org D4"}
	w.seen("D4", "2021-08-25", "2021-08-30")
	if _, err := w.p.Run(ctx, w.camp.ID, day("2021-08-31"), nil); err != nil {
		t.Fatal(err)
	}
	if o := rec.orgs["D4"]; o.Skipped != string(SkipNoContacts) || o.Stage != "" || !o.Affected {
		t.Errorf("D4 recorded as %+v, want skipped for no contacts", o)
	}
}

// Unassigned lists the accounts filed as nobody's that still are nobody's: one the directory has
// given an owner since drops out.
func TestUnassigned(t *testing.T) {
	w := newWorld(t, campaignYAML)
	for _, a := range []string{"locum@nhs.net", "later.owned@nhs.net"} {
		w.f.acts = append(w.f.acts, findings.Activity{Account: a, Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-02"),
			LastSeen: time.Date(2021, 8, 2, 9, 0, 0, 0, time.UTC), Successes: 2})
	}
	w.d.owners["later.owned@nhs.net"] = "B2"
	got, err := w.p.Unassigned(context.Background(), w.camp, day("2021-07-01"), day("2021-08-30"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Account != "locum@nhs.net" || got[0].Successes != 2 {
		t.Errorf("unassigned %+v, want locum@nhs.net alone", got)
	}
	if got, _ := w.p.Unassigned(context.Background(), w.camp, day("2021-08-03"), day("2021-08-30")); len(got) != 0 {
		t.Errorf("outside the days asked: %+v", got)
	}
}

// fakeAnswers is what organisations answered, in memory.
type fakeAnswers struct {
	a      answers.Answers
	owners map[string]string
}

func (f *fakeAnswers) List(context.Context, string) (answers.Answers, error) { return f.a, nil }
func (f *fakeAnswers) Owners(context.Context, string) (map[string]string, error) {
	return f.owners, nil
}

// The next notice says what the organisation told us: its acknowledgement (it is still seen),
// an account it disputes marked under review while the team decides, and an account the team
// reassigned listed for its new organisation, not the old one.
func TestAnswersShapeTheNextNotice(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-07-01", "2021-08-16")
	w.seen("B2", "2021-07-01", "2021-08-16")
	for _, a := range []string{"printer@a1.nhs.net", "kiosk@a1.nhs.net"} {
		w.d.owners[a] = "A1"
		w.f.acts = append(w.f.acts, findings.Activity{Account: a, Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-10"), ODS: "A1",
			LastSeen: time.Date(2021, 8, 10, 9, 0, 0, 0, time.UTC), Successes: 1})
	}
	ackAt := time.Date(2021, 8, 12, 10, 0, 0, 0, time.UTC)
	w.p.Answers = &fakeAnswers{
		a: answers.Answers{
			Acks: []answers.Ack{{Org: "A1", Stage: "advance", By: "la@a1.nhs.net", At: ackAt}},
			Disputes: []answers.Dispute{
				{Org: "A1", Account: "printer@a1.nhs.net", Status: answers.Pending},
				{Org: "A1", Account: "kiosk@a1.nhs.net", Status: answers.Reassigned, ReassignedTo: "B2"},
			},
		},
		owners: map[string]string{"kiosk@a1.nhs.net": "B2"},
	}
	res, err := w.p.Run(context.Background(), w.camp.ID, day("2021-08-17"), nil)
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[string][]string{}
	for _, n := range res.Claimed {
		for _, a := range n.Accounts {
			s := a.Account
			if a.UnderReview {
				s += " (under review)"
			}
			accounts[n.Org] = append(accounts[n.Org], s)
		}
		switch {
		case n.Org == "A1" && (n.Acknowledged == nil || !n.Acknowledged.At.Equal(ackAt) || n.Acknowledged.By != "la@a1.nhs.net"):
			t.Errorf("A1's reminder does not recall its acknowledgement: %+v", n.Acknowledged)
		case n.Org == "B2" && n.Acknowledged != nil:
			t.Errorf("B2's reminder recalls an acknowledgement it never made")
		}
	}
	want := map[string][]string{
		"A1": {"printer@a1.nhs.net (under review)", "user@a1.nhs.net"},
		"B2": {"kiosk@a1.nhs.net", "user@b2.nhs.net"},
	}
	for org := range accounts {
		slices.Sort(accounts[org])
	}
	if d := cmp.Diff(want, accounts); d != "" {
		t.Errorf("accounts in the reminders (-want +got):\n%s", d)
	}
	// Stored in the ledger as sent: the acknowledgement survives the round trip.
	if n := w.notice("A1", "reminder"); n.Acknowledged == nil {
		t.Error("the ledger's notice lost the acknowledgement")
	}
}

// dispatched records what the planner hands to the sender, run by run.
type dispatched struct{ runs [][]string }

func (d *dispatched) Dispatch(_ context.Context, notices []ledger.Notice) error {
	var run []string
	for _, n := range notices {
		run = append(run, n.Org+" "+n.Stage+" "+n.PlannedFor.String())
	}
	d.runs = append(d.runs, run)
	return nil
}

func (d *dispatched) DispatchMails(context.Context, []ledger.MailKey) error { return nil }

// A notice claimed on one day that SES would not send (the sandbox, the daily quota) is still
// claimed and never leased: each later day's run hands it over again, until it goes. One in
// doubt is not handed over (SES's events or reconcile settle it).
func TestWaitingNoticesAreHandedOverOnLaterDays(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-07-20", "2021-07-28")
	d := &dispatched{}
	ctx := context.Background()
	for _, at := range []string{"2021-07-27", "2021-07-28"} {
		if _, err := w.p.Run(ctx, "c1", day(at), d); err != nil {
			t.Fatal(err)
		}
	}
	want := [][]string{{"A1 advance 2021-07-27"}, {"A1 advance 2021-07-27"}}
	if diff := cmp.Diff(want, d.runs); diff != "" {
		t.Fatalf("hand-offs (-want +got):\n%s", diff)
	}
	n := w.notice("A1", "advance")
	n.SendStartedAt = day("2021-07-28").Start(time.UTC) // leased, then the sender died
	w.l.Set(n)
	if _, err := w.p.Run(ctx, "c1", day("2021-07-29"), d); err != nil {
		t.Fatal(err)
	}
	if len(d.runs) > 2 && len(d.runs[2]) != 0 {
		t.Errorf("a notice in doubt was handed over again: %v", d.runs)
	}
}
