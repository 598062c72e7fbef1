package planner

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
)

// generate fills a world with orgs organisations in every situation the planner tells apart:
// one to four accounts each, seen on scattered days before and after the deadlines over several
// hostnames, client addresses and devices; accounts whose owner changed since their findings
// were written (to another organisation, to none, from none); accounts no organisation owns;
// accounts whose names sort oddly in the day partitions; traffic with no account; organisations the
// directory lacks, no longer lists or gives no contacts; suppressed addresses; extensions.
func generate(w *world, orgs int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	start := day("2021-06-20")
	hosts := []string{"imap.nhs.net", "smtp.nhs.net", "pop.nhs.net"}
	protos := []string{"IMAP", "SMTP", "POP"}
	w.d.orgs, w.d.owners = map[string]directory.Org{}, map[string]string{}
	seen := map[string]bool{}
	for i := range orgs {
		ods := fmt.Sprintf("R%04d", i)
		org := directory.Org{ODS: ods, Name: "Org " + ods, LAEmails: []string{fmt.Sprintf("la%d@r%d.nhs.net", i, i)}, PLAEmail: fmt.Sprintf("pla%d@r%d.nhs.net", i, i)}
		switch r.IntN(40) {
		case 0:
			continue // not in the directory
		case 1:
			org.Gone = true
		case 2:
			org.LAEmails, org.PLAEmail = nil, ""
		case 3:
			w.s[org.LAEmails[0]] = true // the PLA stands in
		case 4:
			w.s[org.LAEmails[0]], w.s[org.PLAEmail] = true, true
		}
		w.d.orgs[ods] = org
		if r.IntN(25) == 0 {
			w.c.AddExtension(w.camp.ID, campaign.Extension{ODS: ods, Until: w.camp.Shutdown.AddDays(30), Original: w.camp.Shutdown})
		}
		for a := range 1 + r.IntN(4) {
			acct := fmt.Sprintf("user%d.%d@r%d.nhs.net", i, a, i)
			switch r.IntN(30) {
			case 0:
				acct = fmt.Sprintf("odd#user%d.%d", i, a)
			case 1:
				acct = fmt.Sprintf("odd!user%d.%d@r%d.nhs.net", i, a, i)
			}
			stored, owner := ods, ods
			switch r.IntN(20) {
			case 0:
				owner = fmt.Sprintf("R%04d", r.IntN(orgs)) // moved to another organisation
			case 1:
				owner = "" // no longer owned
			case 2:
				stored = findings.Unassigned // owned since
			case 3:
				stored, owner = findings.Unassigned, "" // never owned
			}
			if owner != "" {
				w.d.owners[acct] = owner
			}
			for range 1 + r.IntN(6) {
				d := start.AddDays(r.IntN(110))
				h := r.IntN(len(hosts))
				if k := acct + d.String() + hosts[h]; seen[k] {
					continue // one finding per account, day and hostname, as the table keeps them
				} else {
					seen[k] = true
				}
				t := d.Start(time.UTC).Add(time.Duration(r.IntN(86400)) * time.Second)
				w.f.acts = append(w.f.acts, findings.Activity{
					Account: acct, Hostname: hosts[h], Protocol: protos[h], Day: d, ODS: stored,
					FirstSeen: t, LastSeen: t.Add(time.Duration(r.IntN(3600)) * time.Second),
					Successes: int64(r.IntN(9)), Failures: int64(r.IntN(3)),
					ClientIPs:  []string{fmt.Sprintf("10.%d.%d.%d", r.IntN(4), r.IntN(256), r.IntN(256))},
					UserAgents: []string{[]string{"iOS/15", "Outlook-Android", "Thunderbird"}[r.IntN(3)]},
					DeviceIDs:  []string{fmt.Sprintf("dev%d", r.IntN(8))},
				})
			}
		}
	}
	for range orgs / 10 {
		d := start.AddDays(r.IntN(110))
		ip := fmt.Sprintf("192.0.2.%d", r.IntN(256))
		if seen[ip+d.String()] {
			continue
		}
		seen[ip+d.String()] = true
		w.f.acts = append(w.f.acts, findings.Activity{Hostname: "mail.nhs.net", Protocol: "TLS", Day: d,
			ClientIP: ip, Successes: 1, LastSeen: d.Start(time.UTC)})
	}
	r.Shuffle(len(w.f.acts), func(i, j int) { w.f.acts[i], w.f.acts[j] = w.f.acts[j], w.f.acts[i] })
}

// The streaming planner plans exactly what the planner that held the window planned, on a
// generated campaign of 2,000 organisations, on every date a stage falls on and others between,
// before and after the shutdown: the same due notices (with the same accounts, recipients and
// superseded stages), the same skips and reasons, the same unassigned and unattributed lists and
// funnel. Between dates the streaming Run claims, so later dates plan against a real history.
func TestStreamingPlanMatchesTheReference(t *testing.T) {
	w := newWorld(t, campaignYAML)
	generate(w, 2000, 14)
	ctx := context.Background()
	claimed := 0
	for _, at := range []string{"2021-07-20", "2021-07-27", "2021-07-28", "2021-08-10", "2021-08-17", "2021-08-31",
		"2021-09-01", "2021-09-06", "2021-09-07", "2021-09-08", "2021-10-07"} {
		want, err := w.p.referencePlan(ctx, w.f, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.p.Plan(ctx, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Due) == 0 && at == "2021-07-27" {
			t.Fatal("the generated campaign has nothing due on the advance date: it tests nothing")
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: streaming plan differs from the reference (-reference +streaming):\n%s", at, diff)
		}
		res, err := w.p.Run(ctx, w.camp.ID, day(at), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Claimed) != len(want.Due) {
			t.Errorf("%s: Run claimed %d, the plan had %d due", at, len(res.Claimed), len(want.Due))
		}
		claimed += len(res.Claimed)
	}
	if claimed < 1000 {
		t.Errorf("only %d notices over the campaign: the generated world is too quiet", claimed)
	}
}

// The same on a per-organisation (roster) campaign, whose cases come from the roster.
func TestStreamingRosterPlanMatchesTheReference(t *testing.T) {
	w := newWorld(t, `id: byo
audience_source: roster
roster: r.csv
max_extension_days: 92
activity_window_days: 30
stages: [{name: notice, days_before: 21}, {name: final, days_before: 7}, {name: expired, days_after: 0}]
sender: {from: "noreply@example.nhs.net"}
`)
	generate(w, 500, 7)
	var roster []campaign.RosterEntry
	r := rand.New(rand.NewPCG(3, 3))
	for i := range 500 {
		if r.IntN(10) == 0 {
			continue
		}
		roster = append(roster, campaign.RosterEntry{ODS: fmt.Sprintf("R%04d", i), Deadline: day("2021-09-01").AddDays(r.IntN(60)),
			Domain: fmt.Sprintf("r%d.nhs.net", i), Done: r.IntN(15) == 0})
	}
	w.c.SetRoster(w.camp.ID, roster)
	ctx := context.Background()
	for _, at := range []string{"2021-07-25", "2021-08-10", "2021-09-01", "2021-09-20", "2021-10-15"} {
		want, err := w.p.referencePlan(ctx, w.f, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		got, err := w.p.Plan(ctx, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: streaming plan differs from the reference (-reference +streaming):\n%s", at, diff)
		}
		if _, err := w.p.Run(ctx, w.camp.ID, day(at), nil); err != nil {
			t.Fatal(err)
		}
	}
}
