package ledgertest

import (
	"context"
	"errors"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// The fake keeps the real ledger's guards: one entry per stage, one claim per day.
func TestGuards(t *testing.T) {
	ctx := context.Background()
	d1, _ := calendar.Parse("2021-07-27")
	d2 := d1.AddDays(1)
	n := func(org, stage string, on calendar.Date) ledger.Notice {
		return ledger.Notice{Campaign: "c1", Org: org, Stage: stage, PlannedFor: on}
	}
	l := New()
	for _, tc := range []struct {
		name  string
		claim func() (bool, error)
		want  bool
	}{
		{"first claim", func() (bool, error) { return l.Claim(ctx, n("A1", "advance", d1)) }, true},
		{"same stage again", func() (bool, error) { return l.Claim(ctx, n("a1", "advance", d2)) }, false},
		{"another stage the same day", func() (bool, error) { return l.Claim(ctx, n("A1", "reminder", d1)) }, false},
		{"another stage the next day", func() (bool, error) { return l.Claim(ctx, n("A1", "reminder", d2)) }, true},
		{"supersede a claimed stage", func() (bool, error) { return l.MarkSuperseded(ctx, n("A1", "advance", d2)) }, false},
		{"supersede an unclaimed stage", func() (bool, error) { return l.MarkSuperseded(ctx, n("B2", "advance", d2)) }, true},
	} {
		if got, err := tc.claim(); err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if got, err := l.Get(ctx, "c1", "B2", "advance"); err != nil || got.Status != ledger.Superseded {
		t.Errorf("Get B2 advance = %+v, %v", got, err)
	}
	if _, err := l.Get(ctx, "c1", "B2", "final"); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Get of a missing notice: %v, want ErrNotFound", err)
	}
	list, _ := l.List(ctx, "c1")
	if len(list) != 3 || list[0].Stage != "advance" || list[1].Stage != "reminder" || l.Len() != 3 {
		t.Errorf("List = %+v", list)
	}
	boom := errors.New("boom")
	l.Err = boom
	if _, err := l.List(ctx, "c1"); !errors.Is(err, boom) {
		t.Errorf("List with Err set: %v", err)
	}
}
