package planner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
)

// The campaign-file keys of issue 18: send_window and skip_bank_holidays move stages off
// non-working days; escalation adds audiences and sends the helpdesk a daily digest; brownouts
// are announced before and reported the day after. A campaign without them is TestCalendars.

const hostnames = `hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993}
activity_window_days: 30
sender: {from: "noreply@example.nhs.net"}
helpdesk: {email: "helpdesk@example.nhs.net"}
`

func TestWorkingDays(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		seen       [2]string
		want       []string
		// plans: the dry run on a date says, of A1, this (a due stage's shift, or a skip).
		plans map[string]string
	}{
		{
			name: "weekends and an England bank holiday: before the deadline the working day before, after it the one after",
			// Shutdown Tue 7 Sep 2021: advance due Sat 24 Jul, reminder due Mon 30 Aug (Summer
			// bank holiday), final Mon 6 Sep, retired due Sun 12 Sep.
			yaml: `id: c1
shutdown: 2021-09-07
send_window: {days: [mon..fri], from: "09:00", to: "16:00"}
skip_bank_holidays: england-and-wales
stages:
  - {name: advance, days_before: 45}
  - {name: reminder, days_before: 8}
  - {name: final, days_before: 1}
  - {name: retired, days_after: 5}
`,
			seen: [2]string{"2021-06-01", "2021-09-30"},
			want: []string{"2021-07-23 A1 advance first", "2021-08-27 A1 reminder", "2021-09-06 A1 final", "2021-09-13 A1 retired"},
			plans: map[string]string{
				"2021-07-23": "due advance: due 2021-07-24, Saturday",
				"2021-07-24": "skip not-a-working-day advance: Saturday is not a working day",
				"2021-08-27": "due reminder: due 2021-08-30, Summer bank holiday (a bank holiday)",
				"2021-09-13": "due retired: due 2021-09-12, Sunday",
			},
		},
		{
			name: "Good Friday and Easter Monday, bank holidays only: weekends stay working days",
			// Shutdown Fri 9 Apr 2021: advance due Good Friday 2 Apr, reminder Easter Monday 5 Apr.
			yaml: `id: c1
shutdown: 2021-04-09
skip_bank_holidays: england-and-wales
stages:
  - {name: advance, days_before: 7}
  - {name: reminder, days_before: 4}
  - {name: retired, days_after: 0}
`,
			seen: [2]string{"2021-03-01", "2021-04-30"},
			want: []string{"2021-04-01 A1 advance first", "2021-04-04 A1 reminder", "2021-04-09 A1 retired"},
			plans: map[string]string{
				"2021-04-01": "due advance: due 2021-04-02, Good Friday (a bank holiday)",
				"2021-04-02": "skip not-a-working-day advance: Good Friday (a bank holiday) is not a working day",
			},
		},
		{
			name: "Scotland keeps Easter Monday as a working day",
			yaml: `id: c1
shutdown: 2021-04-09
skip_bank_holidays: scotland
stages:
  - {name: advance, days_before: 7}
  - {name: reminder, days_before: 4}
`,
			seen: [2]string{"2021-03-01", "2021-04-30"},
			want: []string{"2021-04-01 A1 advance first", "2021-04-05 A1 reminder"},
		},
		{
			name: "around the BST changes: the Sunday the clocks change moves to the Friday, the Monday after stays",
			// Shutdown Mon 1 Nov 2021: advance due Sun 28 Mar (BST starts), reminder Mon 29 Mar,
			// final Sun 31 Oct (BST ends), retired Mon 1 Nov.
			yaml: `id: c1
shutdown: 2021-11-01
send_window: {days: [mon..fri], from: "09:00", to: "16:00"}
stages:
  - {name: advance, days_before: 218}
  - {name: reminder, days_before: 217}
  - {name: final, days_before: 1}
  - {name: retired, days_after: 0}
`,
			seen:  [2]string{"2021-03-01", "2021-11-30"},
			want:  []string{"2021-03-26 A1 advance first", "2021-03-29 A1 reminder", "2021-10-29 A1 final", "2021-11-01 A1 retired"},
			plans: map[string]string{"2021-03-29": "due reminder"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.yaml+hostnames)
			w.seen("A1", tc.seen[0], tc.seen[1])
			for date, want := range tc.plans { // before any run: the dry run on its own
				if got := planOfA1(t, w, date); !strings.HasPrefix(got, want) {
					t.Errorf("plan on %s: %q, want %q...", date, got, want)
				}
			}
			got := w.runDays(t, day(tc.seen[0]).String(), day(tc.seen[1]).String())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

// planOfA1 is what the dry run on date says of A1, in a line.
func planOfA1(t *testing.T, w *world, date string) string {
	t.Helper()
	pl, err := w.p.Plan(context.Background(), w.camp.ID, day(date))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pl.Due {
		if d.Org == "A1" {
			if d.Shift == nil {
				return "due " + d.Stage
			}
			return "due " + d.Stage + ": due " + d.Shift.From.String() + ", " + d.Shift.Reason
		}
	}
	for _, s := range pl.Skipped {
		if s.Org == "A1" {
			return "skip " + string(s.Reason) + " " + s.Stage + ": " + s.Detail
		}
	}
	return "nothing"
}

// The send window, in the campaign's time zone, on the working days either side of each BST
// change: the sender defers a notice until it opens.
func TestSendWindowAcrossBST(t *testing.T) {
	w := newWorld(t, "id: c1\nshutdown: 2021-11-01\nsend_window: {days: [mon..fri], from: \"09:00\", to: \"16:00\"}\nstages: [{name: final, days_before: 1}]\n"+hostnames)
	utc := func(s string) time.Time {
		t.Helper()
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tc := range []struct {
		at   string
		open bool
		next string
	}{
		{"2021-03-26T08:30:00Z", false, "2021-03-26T09:00:00Z"}, // Friday, GMT: 08:30 in London
		{"2021-03-26T16:30:00Z", false, "2021-03-29T08:00:00Z"}, // after hours: Monday 09:00 BST
		{"2021-03-28T12:00:00Z", false, "2021-03-29T08:00:00Z"}, // the Sunday the clocks go forward
		{"2021-03-29T08:30:00Z", true, ""},                      // Monday, BST: 09:30 in London
		{"2021-10-29T15:30:00Z", false, "2021-11-01T09:00:00Z"}, // Friday, BST: 16:30 in London
		{"2021-11-01T15:30:00Z", true, ""},                      // Monday, GMT: 15:30 in London
	} {
		open, next := w.camp.Window(utc(tc.at))
		if open != tc.open || (!open && !next.Equal(utc(tc.next))) {
			t.Errorf("Window(%s) = %v, %s; want %v, %s", tc.at, open, next.UTC().Format(time.RFC3339), tc.open, tc.next)
		}
	}
}

func TestEscalationAddsThePLAOnce(t *testing.T) {
	for _, tc := range []struct {
		name, audience string
		want           map[string][]string
	}{
		{"LA audience: the PLA joins after the reminder", "[la]", map[string][]string{
			"advance": {"la@a1.nhs.net"}, "reminder": {"la@a1.nhs.net"},
			"reminder-2": {"la@a1.nhs.net", "pla@a1.nhs.net"}, "final": {"la@a1.nhs.net", "pla@a1.nhs.net"}, "retired": {"la@a1.nhs.net", "pla@a1.nhs.net"},
		}},
		{"PLA already in the audience: listed once", "[la, pla]", map[string][]string{
			"advance": {"la@a1.nhs.net", "pla@a1.nhs.net"}, "reminder": {"la@a1.nhs.net", "pla@a1.nhs.net"},
			"reminder-2": {"la@a1.nhs.net", "pla@a1.nhs.net"}, "final": {"la@a1.nhs.net", "pla@a1.nhs.net"}, "retired": {"la@a1.nhs.net", "pla@a1.nhs.net"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Two rules adding the PLA: still once.
			w := newWorld(t, campaignYAML+"audience: "+tc.audience+`
escalation:
  - {after_stage: reminder, add: [pla]}
  - {after_stage: reminder, add: [pla, la]}
`)
			w.seen("A1", "2021-06-01", "2021-09-10")
			w.runDays(t, "2021-07-01", "2021-09-10")
			got := map[string][]string{}
			for stage := range tc.want {
				got[stage] = w.notice("A1", stage).Recipients
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("recipients (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHelpdeskDigestOncePerDay(t *testing.T) {
	w := newWorld(t, campaignYAML+`helpdesk: {email: "helpdesk@example.nhs.net"}
send_window: {days: [mon..fri], from: "09:00", to: "16:00"}
escalation: [{after_stage: final, notify: helpdesk}]
`)
	w.seen("A1", "2021-06-01", "2021-09-14") // still seen after the final notice (Mon 6 Sep)
	w.seen("B2", "2021-06-01", "2021-09-05") // seen until the day before: still in the window
	w.seen("C3", "2021-06-01", "2021-08-01") // quiet well before: no final, not in the digest
	got := w.runDays(t, "2021-09-01", "2021-09-14")
	var digests []string
	for _, c := range got {
		if strings.Contains(c, ledger.HelpdeskOrg) {
			digests = append(digests, c)
		}
	}
	// Every working day after the final notice's day (not the weekend of 11-12 Sep).
	want := []string{
		"2021-09-07 HELPDESK digest-2021-09-07", "2021-09-08 HELPDESK digest-2021-09-08", "2021-09-09 HELPDESK digest-2021-09-09",
		"2021-09-10 HELPDESK digest-2021-09-10", "2021-09-13 HELPDESK digest-2021-09-13", "2021-09-14 HELPDESK digest-2021-09-14",
	}
	if diff := cmp.Diff(want, digests); diff != "" {
		t.Errorf("digests (-want +got):\n%s", diff)
	}
	// A second run the same day claims nothing more, and the digest still stands as claimed.
	res, err := w.p.Run(context.Background(), "c1", day("2021-09-14"), nil)
	if err != nil || len(res.Claimed) != 0 {
		t.Errorf("second run the same day: claimed %v (%v)", res.Claimed, err)
	}
	d := w.notice(ledger.HelpdeskOrg, "digest-2021-09-08")
	if !cmp.Equal(d.Recipients, []string{"helpdesk@example.nhs.net"}) || d.Status != ledger.Claimed {
		t.Errorf("digest notice %+v", d)
	}
	wantRows := []ledger.DigestOrg{
		{ODS: "A1", Name: "Org A1", Stage: "retired", Contacts: []string{"la@a1.nhs.net", "pla@a1.nhs.net"}, Accounts: []string{"user@a1.nhs.net"}, Count: 1, LastSeen: day("2021-09-08")},
		{ODS: "B2", Name: "Org B2", Stage: "retired", Contacts: []string{"la@b2.nhs.net", "pla@b2.nhs.net"}, Accounts: []string{"user@b2.nhs.net"}, Count: 1, LastSeen: day("2021-09-05")},
	}
	if diff := cmp.Diff(wantRows, d.Digest); diff != "" {
		t.Errorf("digest of 8 Sep (-want +got):\n%s", diff)
	}
	// The planner never plans for the helpdesk as if it were an organisation.
	pl, _ := w.p.Plan(context.Background(), "c1", day("2021-09-15"))
	for _, s := range pl.Skipped {
		if s.Org == ledger.HelpdeskOrg {
			t.Errorf("the helpdesk in the plan: %+v", s)
		}
	}
	if len(pl.Digest) != 2 {
		t.Errorf("the dry run's digest lists %d organisations, want 2", len(pl.Digest))
	}
	// And the digest renders: one row an organisation, the CSV attached.
	r, err := notice.New(w.camp, "")
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Render(d, day("2021-09-08").Start(w.camp.Location()).Add(10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Org A1 (A1)", "la@a1.nhs.net, pla@a1.nhs.net", "user@b2.nhs.net", "Please call them"} {
		if !strings.Contains(e.Text, s) || !strings.Contains(e.HTML, s) {
			t.Errorf("the digest does not say %q:\n%s", s, e.Text)
		}
	}
}

func TestBrownouts(t *testing.T) {
	// A brownout on Tue 24 Aug 2021, 09:00-12:00 London time (08:00-11:00 UTC); notices on 17,
	// 25 and 31 Aug.
	w := newWorld(t, `id: c1
shutdown: 2021-09-07
stages:
  - {name: reminder, days_before: 21}
  - {name: reminder-2, days_before: 13}
  - {name: final, days_before: 7}
brownouts: [{date: 2021-08-24, hours: "09:00-12:00", hostnames: [imap.nhs.net]}]
`+hostnames)
	w.seen("A1", "2021-08-01", "2021-09-10") // 09:00-17:00 UTC, a failure each day: overlaps 08:00-11:00
	w.seen("B2", "2021-08-01", "2021-09-10")
	for i := range w.f.acts { // B2 signs in only after the brownout's hours that day
		if a := &w.f.acts[i]; a.ODS == "B2" && a.Day == day("2021-08-24") {
			a.FirstSeen = a.Day.Start(time.UTC).Add(12 * time.Hour)
		}
	}
	w.f.acts = append(w.f.acts, findings.Activity{Account: "other@a1.nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: day("2021-08-24"),
		ODS: "A1", FirstSeen: day("2021-08-24").Start(time.UTC).Add(9 * time.Hour), LastSeen: day("2021-08-24").Start(time.UTC).Add(10 * time.Hour), Successes: 3})
	pl, err := w.p.Plan(context.Background(), "c1", day("2021-08-17"))
	if err != nil || len(pl.Brownouts) != 1 || pl.Brownouts[0].Hours != "09:00-12:00" {
		t.Fatalf("the plan does not show the brownout: %+v (%v)", pl.Brownouts, err)
	}
	w.runDays(t, "2021-08-01", "2021-09-10")
	seen := w.notice("A1", "reminder-2").Brownout
	want := &ledger.BrownoutSeen{Date: day("2021-08-24"), Hours: "09:00-12:00", Hostnames: []string{"imap.nhs.net"}, Accounts: []string{"user@a1.nhs.net"}}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("A1's notice the day after (-want +got):\n%s", diff)
	}
	if b := w.notice("B2", "reminder-2").Brownout; b != nil {
		t.Errorf("B2 signed in only after the brownout, yet its notice says %+v", b)
	}
	for _, st := range []string{"reminder", "final"} {
		if b := w.notice("A1", st).Brownout; b != nil {
			t.Errorf("the %s notice reports a brownout: %+v", st, b)
		}
	}
	r, err := notice.New(w.camp, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage    string
		announce bool
	}{{"reminder", true}, {"reminder-2", false}, {"final", false}} {
		n := w.notice("A1", tc.stage)
		e, err := r.Render(n, n.PlannedFor.Start(w.camp.Location()).Add(10*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(e.Text, "Tuesday 24 August 2021, 09:00-12:00"); got != tc.announce {
			t.Errorf("%s notice (%s) announces the brownout: %v, want %v", tc.stage, n.PlannedFor, got, tc.announce)
		}
	}
}

// The stage an organisation reached is its latest notice out, whatever the stage names' order
// in the ledger's keys (final sorts before reminder).
func TestReached(t *testing.T) {
	n := func(stage, planned string, st ledger.Status) ledger.Notice {
		return ledger.Notice{Stage: stage, PlannedFor: day(planned), Status: st}
	}
	for _, tc := range []struct {
		history []ledger.Notice
		want    string
	}{
		{nil, ""},
		{[]ledger.Notice{n("advance", "2021-07-27", ledger.Superseded)}, ""},
		{[]ledger.Notice{n("advance", "2021-07-27", ledger.Sent), n("final", "2021-09-06", ledger.Claimed), n("reminder", "2021-08-17", ledger.Sent)}, "final"},
		{[]ledger.Notice{n("advance", "2021-07-27", ledger.Sent), n("reminder", "2021-08-17", ledger.Superseded)}, "advance"},
	} {
		got := ""
		if r := reached(tc.history); r != nil {
			got = r.Stage
		}
		if got != tc.want {
			t.Errorf("reached(%v) = %q, want %q", tc.history, got, tc.want)
		}
	}
}

// A digest counts each account once, however many hostnames it was seen on, past the 20 it
// lists by name.
func TestDigestCountsAccountsOnce(t *testing.T) {
	w := newWorld(t, campaignYAML+"helpdesk: {email: \"helpdesk@example.nhs.net\"}\nescalation: [{after_stage: final, notify: helpdesk}]\n")
	w.seen("A1", "2021-06-01", "2021-09-08")
	for i := range 25 {
		for _, host := range []string{"imap.nhs.net", "pop.nhs.net"} {
			acct := fmt.Sprintf("user%02d@a1.nhs.net", i)
			w.d.owners[acct] = "A1"
			w.f.acts = append(w.f.acts, findings.Activity{Account: acct, Hostname: host, Protocol: "IMAP", Day: day("2021-09-07"), ODS: "A1",
				FirstSeen: day("2021-09-07").Start(time.UTC).Add(9 * time.Hour), LastSeen: day("2021-09-07").Start(time.UTC).Add(10 * time.Hour), Successes: 1})
		}
	}
	w.runDays(t, "2021-09-06", "2021-09-08")
	d := w.notice(ledger.HelpdeskOrg, "digest-2021-09-08")
	if len(d.Digest) != 1 || d.Digest[0].Count != 26 || len(d.Digest[0].Accounts) != ledger.MaxDigestAccounts {
		t.Errorf("digest %+v", d.Digest)
	}
}
