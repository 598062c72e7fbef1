package findings

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// This file is what the streaming planner reads before it looks at any organisation: who was
// seen in the window, without holding the window.

// Seen is one account's presence in a window of days: the organisations its findings were
// stored under (resolved when they were written; Unassigned for none) and the last day it was
// seen.
type Seen struct {
	Account string
	Stored  []string
	Last    calendar.Date
}

// Accounts calls fn exactly once for every account with findings of the campaign on the days
// from..to. It reads each day's index partition (GSI1 DAY#...) with only the key and three
// small attributes, a page at a time, and merges the days in index-key order: the requests grow
// with the window's findings, the memory with the number of days, never with the accounts.
//
// The index key is account#hostname#protocol, so an account's keys are consecutive unless
// another account extends its name with a byte up to '#' ("ann" and "ann#x": "ann#imap...",
// "ann#x#imap...", "ann#smtp..."). An account's group therefore stays open until the merged
// key passes account+"$", above every key it can still have; normally that is the very next
// account, so one or two groups are open at a time.
func (r *Reader) Accounts(ctx context.Context, campaignID string, from, to calendar.Date, fn func(Seen) error) error {
	var h dayHeap
	for d := from; !d.After(to); d = d.AddDays(1) {
		it := &dayIter{db: r.db, in: &dynamodb.QueryInput{
			TableName:                aws.String(r.table),
			IndexName:                aws.String(store.GSI1),
			KeyConditionExpression:   aws.String("GSI1PK = :p AND GSI1SK < :u"),
			ProjectionExpression:     aws.String("GSI1SK, account, ods, #d"),
			ExpressionAttributeNames: map[string]string{"#d": "day"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": store.S(store.Key("DAY", campaignID, d.String())), ":u": store.S("~"),
			},
		}}
		ok, err := it.next(ctx)
		if err != nil {
			return fmt.Errorf("read accounts of %s on %s: %w", campaignID, d, err)
		}
		if ok {
			h = append(h, it)
		}
	}
	heap.Init(&h)
	var open []*Seen // groups that may still continue, oldest first
	for h.Len() > 0 {
		it := h[0]
		item := it.item()
		key, acct, ods := it.key(), store.Str(item["account"]), store.Str(item["ods"])
		day, err := calendar.Parse(store.Str(item["day"]))
		if err != nil {
			return fmt.Errorf("read accounts of %s: %s: day: %w", campaignID, key, err)
		}
		still := open[:0]
		var cur *Seen
		for _, g := range open {
			switch {
			case g.Account == acct:
				cur = g
				still = append(still, g)
			case key >= g.Account+"$": // past every key g can have
				if err := fn(*g); err != nil {
					return err
				}
			default:
				still = append(still, g)
			}
		}
		open = still
		if cur == nil {
			cur = &Seen{Account: acct}
			open = append(open, cur)
		}
		if !slices.Contains(cur.Stored, ods) {
			cur.Stored = append(cur.Stored, ods)
		}
		if day.After(cur.Last) {
			cur.Last = day
		}
		ok, err := it.next(ctx)
		if err != nil {
			return fmt.Errorf("read accounts of %s: %w", campaignID, err)
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	for _, g := range open {
		if err := fn(*g); err != nil {
			return err
		}
	}
	return nil
}

// dayIter walks one day's index partition a page at a time.
type dayIter struct {
	db    store.Querier
	in    *dynamodb.QueryInput
	items []map[string]types.AttributeValue
	i     int
	more  bool // a page after this one
	begun bool
}

// next moves to the next item, reading the next page when this one is done.
func (it *dayIter) next(ctx context.Context) (bool, error) {
	it.i++
	for it.i >= len(it.items) {
		if it.begun && !it.more {
			return false, nil
		}
		out, err := it.db.Query(ctx, it.in)
		if err != nil {
			return false, err
		}
		it.begun = true
		it.items, it.i = out.Items, 0
		it.more = len(out.LastEvaluatedKey) > 0
		it.in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return true, nil
}

func (it *dayIter) item() map[string]types.AttributeValue { return it.items[it.i] }

func (it *dayIter) key() string { return store.Str(it.item()["GSI1SK"]) }

// dayHeap orders the days' iterators by their current index key.
type dayHeap []*dayIter

func (h dayHeap) Len() int           { return len(h) }
func (h dayHeap) Less(i, j int) bool { return h[i].key() < h[j].key() }
func (h dayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dayHeap) Push(x any)        { *h = append(*h, x.(*dayIter)) }
func (h *dayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Unattributed returns the campaign's findings without an account (load balancers) on the
// days from..to, day by day in index order.
func (r *Reader) Unattributed(ctx context.Context, campaignID string, from, to calendar.Date) ([]Activity, error) {
	var out []Activity
	for d := from; !d.After(to); d = d.AddDays(1) {
		err := r.query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(r.table),
			IndexName:              aws.String(store.GSI1),
			KeyConditionExpression: aws.String("GSI1PK = :p AND GSI1SK >= :u"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": store.S(store.Key("DAY", campaignID, d.String())), ":u": store.S("~"),
			},
		}, &out)
		if err != nil {
			return nil, fmt.Errorf("read unattributed findings of %s on %s: %w", campaignID, d, err)
		}
	}
	return out, nil
}

// SortKey is the order the planner reads an organisation's findings in, the order of the day
// index: day, then account, hostname and protocol as the index key joins them.
func SortKey(a Activity) string {
	return store.Key(a.Day.String(), a.Account, strings.ToLower(a.Hostname), a.Protocol)
}
