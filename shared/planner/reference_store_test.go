package planner

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/findings/findingstest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// The comparison again on the real stores (the local DynamoDB): the generated world written as
// the directory import, the findings writer and the suppression list write it, then planned by
// the streaming planner and by the reference reading findings.Reader.Window, on dates before
// and after the shutdown with the streaming Run claiming between. Here the findings come from
// the real partitions and index, in their real orders, including accounts whose names the day partitions split.
func TestStreamingPlanMatchesTheReferenceOnTheTable(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a table")
	}
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	clock := func() time.Time { return time.Date(2021, 7, 1, 8, 0, 0, 0, time.UTC) }
	w := newWorld(t, campaignYAML)
	generate(w, 400, 21)
	// Two accounts whose index keys interleave ("shared@r1.nhs.net#jx#..." sorts between
	// "shared@r1.nhs.net#imap..." and "shared@r1.nhs.net#smtp..."), so the day partition holds the
	// owned account's findings in two runs: it must still count, and be read, once.
	d0 := day("2021-07-20")
	w.d.owners["shared@r1.nhs.net"] = "R0001"
	for _, a := range []findings.Activity{
		{Account: "shared@r1.nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: d0, ODS: "R0001"},
		{Account: "shared@r1.nhs.net", Hostname: "smtp.nhs.net", Protocol: "SMTP", Day: d0, ODS: "R0001"},
		{Account: "shared@r1.nhs.net#jx", Hostname: "imap.nhs.net", Protocol: "IMAP", Day: d0, ODS: "R0002"},
	} {
		a.FirstSeen, a.LastSeen, a.Successes = d0.Start(time.UTC), d0.Start(time.UTC).Add(time.Hour), 1
		w.f.acts = append(w.f.acts, a)
	}

	// The directory: every organisation and owned account, then the gone ones pruned.
	var orgs, live strings.Builder
	orgs.WriteString("ods_code,name,la_emails,pla_email\n")
	live.WriteString("ods_code,name,la_emails,pla_email\n")
	for _, ods := range slices.Sorted(func(yield func(string) bool) {
		for k := range w.d.orgs {
			if !yield(k) {
				return
			}
		}
	}) {
		o := w.d.orgs[ods]
		row := fmt.Sprintf("%s,%s,%s,%s\n", o.ODS, o.Name, strings.Join(o.LAEmails, ";"), o.PLAEmail)
		orgs.WriteString(row)
		if !o.Gone {
			live.WriteString(row)
		}
	}
	var accounts strings.Builder
	accounts.WriteString("email,ods_code\n")
	for a, ods := range w.d.owners {
		accounts.WriteString(a + "," + ods + "\n")
	}
	dir := directory.New(db, table, clock)
	for i, o := range []string{orgs.String(), live.String()} {
		if _, err := dir.Import(ctx, directory.ImportInput{Orgs: strings.NewReader(o), OrgsName: "orgs.csv",
			Accounts: strings.NewReader(accounts.String()), AccountsName: "accounts.csv", Prune: i == 1}); err != nil {
			t.Fatal(err)
		}
	}
	// The campaign, its extensions and the suppression list.
	cs := campaign.NewStore(db, table, clock)
	if _, _, err := cs.Apply(ctx, w.camp, "test"); err != nil {
		t.Fatal(err)
	}
	exts, _ := w.c.Extensions(ctx, w.camp.ID)
	for ods, e := range exts {
		if _, err := cs.Extend(ctx, w.camp.ID, ods, e.Until, "test", "test"); err != nil {
			t.Fatal(err)
		}
	}
	sup := suppression.New(db, table, clock)
	for a := range w.s {
		if err := sup.Add(ctx, a, suppression.Bounce, "test"); err != nil {
			t.Fatal(err)
		}
	}
	// The findings, filed under the owner each was written with (one owner per account).
	b := findingstest.Batch{Campaign: w.camp.ID, Owners: map[string]string{}, ExpiresAt: clock().AddDate(1, 0, 0)}
	var fs []connlog.Finding
	for _, a := range w.f.acts {
		f := connlog.Finding{Hostname: a.Hostname, Protocol: a.Protocol, Day: a.Day.String(), FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
			Successes: a.Successes, Failures: a.Failures, ClientIPs: a.ClientIPs, UserAgents: a.UserAgents, DeviceIDs: a.DeviceIDs}
		if a.Account != "" {
			f.Account = &a.Account
			if a.ODS != "" && a.ODS != findings.Unassigned {
				b.Owners[a.Account] = a.ODS
			}
		} else {
			f.ClientIPs = []string{a.ClientIP}
		}
		fs = append(fs, f)
	}
	its, err := findingstest.Items(ctx, b, fs)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.BatchPut(ctx, db, table, its); err != nil {
		t.Fatal(err)
	}

	p := New(db, table, nil, clock) // seeded: nothing staged
	reader, err := findings.NewReader(db, table, nil).View(ctx, w.camp.ID)
	if err != nil {
		t.Fatal(err)
	}
	due := 0
	for _, at := range []string{"2021-07-20", "2021-07-27", "2021-08-17", "2021-09-07", "2021-09-20"} {
		want, err := p.referencePlan(ctx, reader, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Plan(ctx, w.camp.ID, day(at))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: streaming plan differs from the reference (-reference +streaming):\n%s", at, diff)
		}
		due += len(got.Due)
		if _, err := p.Run(ctx, w.camp.ID, day(at), nil); err != nil {
			t.Fatal(err)
		}
	}
	if due < 100 {
		t.Errorf("only %d notices due over the dates: the seeded world is too quiet", due)
	}
}
