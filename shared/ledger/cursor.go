package ledger

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Cursor reads a campaign's notices organisation by organisation, in ODS order, a page at a
// time, with only what planning needs (status, stage, dates, the lease): the planner walks it
// beside the organisations it plans, so it never holds the ledger.
type Cursor struct {
	l     *Ledger
	mem   []Notice // a cursor over notices in memory (NewCursor) has no query
	in    *dynamodb.QueryInput
	items []map[string]types.AttributeValue
	i     int
	begun bool
	more  bool
	// the next organisation's notices, read ahead by Peek
	org  string
	hist []Notice
	err  error
}

// Histories returns a cursor over campaign's notices.
func (l *Ledger) Histories(campaign string) *Cursor {
	return &Cursor{l: l, in: &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ProjectionExpression:      aws.String("campaign, org, stage, #s, planned_for, claimed_at, sent_at, send_started_at, deadline, recipients, merged, day_taken"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(store.Key("NOTICES", campaign))},
	}}
}

// NewCursor is a cursor over notices already in memory, in the order the index keeps them (by
// organisation, then stage): what an in-memory ledger (ledgertest) hands the planner.
func NewCursor(notices []Notice) *Cursor {
	mem := slices.Clone(notices)
	slices.SortStableFunc(mem, func(a, b Notice) int {
		return cmp.Or(cmp.Compare(strings.ToUpper(a.Org), strings.ToUpper(b.Org)), cmp.Compare(a.Stage, b.Stage))
	})
	return &Cursor{mem: mem, begun: true}
}

// FailingCursor is a cursor whose first read fails with err (for fakes that inject errors).
func FailingCursor(err error) *Cursor { return &Cursor{begun: true, err: err} }

// Peek is the next organisation the cursor has notices of ("" when there are no more).
func (c *Cursor) Peek(ctx context.Context) (string, error) {
	if c.org == "" && c.err == nil {
		c.org, c.hist, c.err = c.read(ctx)
	}
	return c.org, c.err
}

// Take returns the notices of org if it is the next organisation (and moves past it), else
// none.
func (c *Cursor) Take(ctx context.Context, org string) ([]Notice, error) {
	next, err := c.Peek(ctx)
	if err != nil || next != org {
		return nil, err
	}
	h := c.hist
	c.org, c.hist = "", nil
	return h, nil
}

// read gathers the next organisation's notices (they are consecutive in the index).
func (c *Cursor) read(ctx context.Context) (string, []Notice, error) {
	var org string
	var hist []Notice
	if c.l == nil {
		for c.i < len(c.mem) && (org == "" || strings.EqualFold(c.mem[c.i].Org, org)) {
			org = strings.ToUpper(c.mem[c.i].Org)
			hist = append(hist, c.mem[c.i])
			c.i++
		}
		return org, hist, nil
	}
	for {
		if c.i >= len(c.items) {
			if c.begun && !c.more {
				return org, hist, nil
			}
			out, err := c.l.db.Query(ctx, c.in)
			if err != nil {
				return "", nil, fmt.Errorf("read notices: %w", err)
			}
			c.begun, c.items, c.i = true, out.Items, 0
			c.more = len(out.LastEvaluatedKey) > 0
			c.in.ExclusiveStartKey = out.LastEvaluatedKey
			continue
		}
		n, err := noticeOf(c.items[c.i])
		if err != nil {
			return "", nil, err
		}
		if org != "" && n.Org != org {
			return org, hist, nil
		}
		org = n.Org
		hist = append(hist, n)
		c.i++
	}
}
