package ledger

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// The cursor hands each organisation's notices once, in ODS order, with what planning reads,
// and Take of an organisation that is not next hands nothing; an in-memory cursor does the
// same.
func TestHistories(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	var all []Notice
	for i := range 60 {
		org := fmt.Sprintf("R%03d", 59-i)
		for j, stage := range []string{"advance", "reminder"} {
			if i%3 == 0 && j == 1 {
				continue
			}
			n := notice(org, stage, fmt.Sprintf("2021-07-%02d", 10+j))
			if _, err := l.Claim(ctx, n); err != nil {
				t.Fatal(err)
			}
			n.Status = Claimed
			all = append(all, n)
		}
	}
	for name, cur := range map[string]*Cursor{"table": l.Histories("c1"), "memory": NewCursor(all)} {
		t.Run(name, func(t *testing.T) {
			if h, err := cur.Take(ctx, "R999"); err != nil || h != nil {
				t.Fatalf("Take of an organisation that is not next = %v, %v", h, err)
			}
			var orgs []string
			for {
				org, err := cur.Peek(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if org == "" {
					break
				}
				h, err := cur.Take(ctx, org)
				if err != nil || len(h) == 0 {
					t.Fatalf("Take(%s) = %v, %v", org, h, err)
				}
				for _, n := range h {
					if n.Org != org || n.Status != Claimed || n.PlannedFor.IsZero() {
						t.Errorf("%s: notice %+v", org, n)
					}
				}
				orgs = append(orgs, org)
			}
			if len(orgs) != 60 || !slices.IsSorted(orgs) {
				t.Errorf("organisations %v: want all 60, sorted", orgs)
			}
		})
	}
}
