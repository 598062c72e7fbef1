package findings

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
	// items are the stored items it was seen at, for reading them back (View.AccountSeen).
	items []seenItem
}

// seenItem is one stored item of an account: its table key and its day.
type seenItem struct{ pk, sk, day string }

// Accounts calls fn exactly once for every account with findings of the campaign on the days
// from..to. It reads each day's table partitions (DAY#...#<shard>) for the key and three small
// attributes, a page at a time, and merges them in key order: the
// requests grow with the window's findings, the memory with the number of days and shards,
// never with the accounts. Accounts only the view's pending files hold come last.
//
// The sort key is account#hostname#protocol, so an account's keys are consecutive unless
// another account extends its name with a byte up to '#' ("ann" and "ann#x": "ann#imap...",
// "ann#x#imap...", "ann#smtp..."). An account's group therefore stays open until the merged
// key passes account+"$", above every key it can still have; normally that is the very next
// account, so one or two groups are open at a time.
func (v *View) Accounts(ctx context.Context, from, to calendar.Date, fn func(Seen) error) error {
	campaignID := v.campaign
	pending := v.pendingAccounts(from, to)
	emit := func(s Seen) error {
		if p := pending[s.Account]; p != nil {
			for _, ods := range p.Stored {
				if !slices.Contains(s.Stored, ods) {
					s.Stored = append(s.Stored, ods)
				}
			}
			if p.Last.After(s.Last) {
				s.Last = p.Last
			}
			delete(pending, s.Account)
		}
		return fn(s)
	}
	h, err := v.dayIters(ctx, from, to)
	if err != nil {
		return fmt.Errorf("read accounts of %s: %w", campaignID, err)
	}
	heap.Init(&h)
	var open []*Seen // groups that may still continue, oldest first
	for h.Len() > 0 {
		it := h[0]
		row := it.row()
		key, acct, ods := row.sk, row.account, row.ods
		day, err := calendar.Parse(row.day)
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
				if err := emit(*g); err != nil {
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
		cur.items = append(cur.items, seenItem{it.pk, key, row.day})
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
		if err := emit(*g); err != nil {
			return err
		}
	}
	for _, a := range slices.Sorted(maps.Keys(pending)) {
		if err := fn(*pending[a]); err != nil {
			return err
		}
	}
	return nil
}

// dayIters starts reading every day's and shard's partition (each one's first page at
// once) and returns those with an item, at their first.
func (v *View) dayIters(ctx context.Context, from, to calendar.Date) (dayHeap, error) {
	var its []*dayIter
	for d := from; !d.After(to); d = d.AddDays(1) {
		for sh := range Shards {
			pk := dayPartition(v.campaign, d.String(), strconv.Itoa(sh))
			it := &dayIter{db: v.r.db, pk: pk, i: -1, in: &dynamodb.QueryInput{
				TableName:                aws.String(v.r.table),
				KeyConditionExpression:   aws.String("PK = :p"),
				ProjectionExpression:     aws.String("SK, account, ods, #d"),
				Limit:                    aws.Int32(surveyPage),
				ExpressionAttributeNames: map[string]string{"#d": "day"},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":p": store.S(pk),
				},
			}}
			it.fetch(ctx, nil)
			its = append(its, it)
		}
	}
	var h dayHeap
	for _, it := range its {
		ok, err := it.next(ctx)
		if err != nil {
			return nil, err
		}
		if ok {
			h = append(h, it)
		}
	}
	return h, nil
}

// pendingAccounts is what the view's pending files say of each account from..to.
func (v *View) pendingAccounts(from, to calendar.Date) map[string]*Seen {
	out := map[string]*Seen{}
	for _, parts := range v.pending {
		for _, p := range parts {
			c := p.c
			if !c.Attributed() || !inDays(c, from, to) {
				continue
			}
			d, err := calendar.Parse(c.Day)
			if err != nil {
				continue
			}
			s := out[c.Account]
			if s == nil {
				s = &Seen{Account: c.Account}
				out[c.Account] = s
			}
			if ods := cmp.Or(c.ODS, Unassigned); !slices.Contains(s.Stored, ods) {
				s.Stored = append(s.Stored, ods)
			}
			if d.After(s.Last) {
				s.Last = d
			}
		}
	}
	return out
}

// surveyPage bounds the items of a page of Accounts: one page of every day of the window is
// held at once, and with four small attributes an item a page could otherwise be most of a
// day (DynamoDB's 1 MB limit counts the whole items read; a local stand-in may count less).
const surveyPage = 250

// dayIter walks one day's partition in one shard a page at a time, reading the next page while
// this one is merged, so the days' reads overlap instead of queueing behind the merge. A page
// is kept as rows of the four strings the survey reads, not as the SDK's items: every day and
// shard of the window holds up to two pages at once.
type dayIter struct {
	db    store.Querier
	pk    string
	in    *dynamodb.QueryInput
	rows  []surveyRow
	i     int
	ahead chan page // the next page, being read; nil when there is none
}

// surveyRow is what the survey reads of a stored finding.
type surveyRow struct{ sk, account, ods, day string }

type page struct {
	rows []surveyRow
	last map[string]types.AttributeValue
	err  error
}

func (it *dayIter) fetch(ctx context.Context, start map[string]types.AttributeValue) {
	in := *it.in
	in.ExclusiveStartKey = start
	ch := make(chan page, 1)
	it.ahead = ch
	go func() {
		out, err := it.db.Query(ctx, &in)
		if err != nil {
			ch <- page{err: err}
			return
		}
		rows := make([]surveyRow, len(out.Items))
		for i, item := range out.Items {
			rows[i] = surveyRow{store.Str(item["SK"]), store.Str(item["account"]), store.Str(item["ods"]), store.Str(item["day"])}
		}
		ch <- page{rows: rows, last: out.LastEvaluatedKey}
	}()
}

// next moves to the next row, waiting for the next page when this one is done.
func (it *dayIter) next(ctx context.Context) (bool, error) {
	it.i++
	for it.i >= len(it.rows) {
		if it.ahead == nil {
			return false, nil
		}
		pg := <-it.ahead
		it.ahead = nil
		if pg.err != nil {
			return false, pg.err
		}
		it.rows, it.i = pg.rows, 0
		if len(pg.last) > 0 {
			it.fetch(ctx, pg.last)
		}
	}
	return true, nil
}

func (it *dayIter) row() surveyRow { return it.rows[it.i] }

func (it *dayIter) key() string { return it.rows[it.i].sk }

// dayHeap orders the days' iterators by their current sort key.
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

// SortKey is the order the planner reads an organisation's findings in, the order of the day
// organisation index: day, then account, hostname and protocol as its sort key joins them.
func SortKey(a Activity) string {
	return store.Key(a.Day.String(), a.Account, strings.ToLower(a.Hostname), a.Protocol)
}
