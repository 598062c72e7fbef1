package planner

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

type fakeHistory map[string][]ledger.Notice

func (f fakeHistory) History(_ context.Context, _, org string) ([]ledger.Notice, error) {
	return f[org], nil
}

func TestSnapshot(t *testing.T) {
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-07-20", "2021-07-27")
	hist := fakeHistory{"C3": {
		{Campaign: "c1", Org: "C3", OrgName: "Org C3", Stage: "advance", Status: ledger.Sent, MessageID: "m1"},
		{Campaign: "c1", Org: "C3", OrgName: "Org C3", Stage: "reminder", Status: ledger.Sent, MessageID: "m2"},
	}}
	for _, tc := range []struct {
		name       string
		org, stage string
		want       func(ledger.Notice) bool
		wantErr    string // "" for none; else the whole message, which wraps ErrNothingToRender
	}{
		{name: "due: the plan's stage", org: " a1 ",
			want: func(n ledger.Notice) bool {
				return n.Org == "A1" && n.Stage == "advance" && n.FirstContact && n.PlannedFor == day("2021-07-27") &&
					cmp.Equal(n.Recipients, []string{"la@a1.nhs.net", "pla@a1.nhs.net"}) && len(n.Accounts) == 1 && n.Status == ""
			}},
		{name: "due: a chosen stage", org: "A1", stage: "final",
			want: func(n ledger.Notice) bool { return n.Org == "A1" && n.Stage == "final" && len(n.Accounts) == 1 }},
		{name: "not due: the latest ledger entry, restaged", org: "c3", stage: "final",
			want: func(n ledger.Notice) bool {
				return n.Org == "C3" && n.Stage == "final" && n.MessageID == "m2" && n.Status == "" && n.PlannedFor == day("2021-07-27")
			}},
		{name: "unknown stage", org: "A1", stage: "nope", wantErr: `nothing to render: campaign c1 has no stage "nope"`},
		{name: "not due, no stage", org: "B2", wantErr: "nothing to render: no notice is due for B2 on 2021-07-27 (not affected)"},
		{name: "not due, no history", org: "B2", stage: "final", wantErr: "nothing to render: B2 has no notice to render on 2021-07-27 (not affected)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := w.p.Snapshot(context.Background(), hist, w.camp, tc.org, tc.stage, day("2021-07-27"))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !errors.Is(err, ErrNothingToRender) {
					t.Fatalf("Snapshot: %v, want %q wrapping ErrNothingToRender", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(n) {
				t.Errorf("Snapshot = %+v", n)
			}
		})
	}
	if w.l.Len() != 0 {
		t.Errorf("Snapshot wrote %d ledger entries", w.l.Len())
	}
}
