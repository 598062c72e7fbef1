package progress_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

func day(s string) calendar.Date {
	d, err := calendar.Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Days and organisations round-trip through the table; a second run on a day replaces the
// first; organisations come back in ODS order over several pages and batches; campaigns do
// not mix.
func TestRecordAndRead(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	s := progress.NewStore(db, table)
	exp := time.Date(2022, 9, 7, 0, 0, 0, 0, time.UTC)
	for _, d := range []progress.Day{
		{At: day("2021-08-17"), Affected: 3, AffectedAccounts: 7, Notified: 2, Unassigned: 1},
		{At: day("2021-07-27"), Affected: 2, AffectedAccounts: 5},
		{At: day("2021-08-17"), Affected: 3, AffectedAccounts: 6, Notified: 3, Fixed: 1},
	} {
		if err := s.RecordDay(ctx, "c1", d, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordDay(ctx, "other", progress.Day{At: day("2021-07-01"), Affected: 99}, exp); err != nil {
		t.Fatal(err)
	}
	days, err := s.Days(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []progress.Day{
		{At: day("2021-07-27"), Affected: 2, AffectedAccounts: 5},
		{At: day("2021-08-17"), Affected: 3, AffectedAccounts: 6, Notified: 3, Fixed: 1},
	}
	if d := cmp.Diff(want, days); d != "" {
		t.Errorf("days (-want +got):\n%s", d)
	}

	var orgs []progress.Org
	for i := 59; i >= 0; i-- { // written out of order, more than two batches
		o := progress.Org{ODS: fmt.Sprintf("R%03d", i), AsOf: day("2021-08-17"), Accounts: i}
		if i%2 == 0 {
			o.Name, o.Affected, o.LastSeen = fmt.Sprintf("Trust %d", i), true, day("2021-08-16")
			o.Stage, o.Status, o.LastNotice = "reminder", "sent", day("2021-08-17")
		}
		orgs = append(orgs, o)
	}
	if err := s.RecordOrgs(ctx, "c1", orgs, exp); err != nil {
		t.Fatal(err)
	}
	got, err := s.Orgs(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 {
		t.Fatalf("got %d organisations, want 60", len(got))
	}
	for i, o := range got {
		if d := cmp.Diff(orgs[59-i], o); d != "" {
			t.Fatalf("organisation %d (-want +got):\n%s", i, d)
		}
	}
}

// An organisation counts as still seen only as the latest run saw it.
func TestStillSeen(t *testing.T) {
	o := progress.Org{AsOf: day("2021-08-17"), Affected: true, Accounts: 4}
	for _, tc := range []struct {
		latest string
		want   int
	}{{"2021-08-17", 4}, {"2021-08-31", 0}} {
		if got := o.StillSeen(day(tc.latest)); got != tc.want {
			t.Errorf("latest run %s: still seen %d, want %d", tc.latest, got, tc.want)
		}
	}
	o.Affected = false
	if got := o.StillSeen(day("2021-08-17")); got != 0 {
		t.Errorf("not affected: still seen %d, want 0", got)
	}
}
