package findings

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// MergeDB is the part of the DynamoDB client a Merger uses.
type MergeDB interface {
	store.Getter
	store.Updater
	store.BatchGetter
}

// Merger adds committed files' findings to the table, a batch at a time: one write per key a
// batch, however many files of the batch hold it (docs/data-model.md, "Exactly once per file").
type Merger struct {
	db    MergeDB
	table string
	stage Stage
	clock func() time.Time
	// ID names this merger in the lease (a Lambda request id, a host and pid).
	ID string
	// Lease is how long a merger may hold a campaign without renewing (DefaultLease).
	Lease time.Duration
	// Parallel bounds the UpdateItem requests in flight (default 16): with Shards, what
	// keeps every index partition key under 1,000 writes a second (docs/capacity.md).
	Parallel int
}

// NewMerger returns a merger of table, reading staged files from stage.
func NewMerger(db MergeDB, table string, stage Stage, clock func() time.Time, id string) *Merger {
	return &Merger{db: db, table: table, stage: stage, clock: clock, ID: id, Lease: DefaultLease, Parallel: 16}
}

// DefaultLease is a new Merger's Lease: how long a merger that died holds its campaign.
const DefaultLease = 5 * time.Minute

// ErrMergeBusy means another merger holds the campaign's lease: it merges what is committed.
var ErrMergeBusy = errors.New("another merge of this campaign is running")

// Merged is what a merge did.
type Merged struct {
	// Batches merged, in order.
	Batches []int64
	// Files in them, keys they held, and keys written (a key already merged from the batch, by
	// a merge that stopped half way, is not written again).
	Files, Keys, Written int
}

// Merge seals the campaign's open batch (when it has files) and merges every sealed batch not
// merged yet, in order, under a lease; expiresAt is the findings' TTL. It returns
// ErrMergeBusy when another merger holds the lease.
func (m *Merger) Merge(ctx context.Context, campaignID string, expiresAt time.Time) (Merged, error) {
	var res Merged
	open, merged, newest, err := m.lease(ctx, campaignID)
	if err != nil {
		return res, err
	}
	defer m.release(campaignID)
	if merged+1 == open {
		files, err := readBatchFiles(ctx, m.db, m.table, campaignID, open)
		if err != nil {
			return res, fmt.Errorf("merge %s: %w", campaignID, err)
		}
		if len(files) == 0 {
			return res, nil
		}
		if err := m.setState(ctx, campaignID, "SET #open = :next", "#open = :open", map[string]types.AttributeValue{":open": store.N(open), ":next": store.N(open + 1)}); err != nil {
			return res, fmt.Errorf("merge %s: open batch %d: %w", campaignID, open+1, err)
		}
		open++
	}
	for b := merged + 1; b < open; b++ {
		if err := m.batch(ctx, campaignID, b, expiresAt, newest, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// batch merges one batch: seal each of its shards (after which no file can join it), read its
// files, add them up by key, write each key once, and record the batch merged.
func (m *Merger) batch(ctx context.Context, campaignID string, b int64, expiresAt time.Time, newest map[string]time.Time, res *Merged) error {
	now := m.clock().UTC().Format(time.RFC3339Nano)
	var files []string
	for _, key := range batchKeys(campaignID, b) {
		out, err := m.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(m.table), Key: key,
			UpdateExpression:          aws.String("SET sealed_at = if_not_exists(sealed_at, :now), #type = :t, expires_at = :exp"),
			ExpressionAttributeNames:  map[string]string{"#type": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": store.S(now), ":t": store.S("merge-batch"), ":exp": store.TTL(m.clock().Add(batchRetention))},
			ReturnValues:              types.ReturnValueAllNew,
		})
		if err != nil {
			return fmt.Errorf("merge %s: seal batch %d: %w", campaignID, b, err)
		}
		files = append(files, batchFiles(out.Attributes)...)
	}
	slices.Sort(files)
	cs, err := readBatch(ctx, m.stage, campaignID, files)
	if err != nil {
		return fmt.Errorf("merge %s batch %d: %w", campaignID, b, err)
	}
	// By account (or address) first: consecutive writes fall in different shards' partitions.
	ids := slices.SortedFunc(maps.Keys(cs), func(a, b string) int { return cmp.Or(cmp.Compare(cs[a].sk(), cs[b].sk()), cmp.Compare(a, b)) })
	renewAt := m.clock().Add(m.Lease / 2)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &writes{sem: make(chan struct{}, max(1, m.Parallel)), cancel: cancel}
	for start := 0; start < len(ids) && w.err() == nil; start += 100 {
		if err := m.renew(ctx, campaignID, &renewAt); err != nil {
			w.fail(err)
			break
		}
		if err := m.apply(wctx, w, campaignID, b, expiresAt, cs, ids[start:min(start+100, len(ids))]); err != nil {
			w.fail(err)
		}
	}
	w.wg.Wait()
	written := w.written
	if err := w.err(); err != nil {
		return fmt.Errorf("merge %s batch %d: %w", campaignID, b, err)
	}
	for _, c := range cs {
		if p := c.Protocol; c.Last.After(newest[p]) {
			newest[p] = c.Last
		}
	}
	if err := m.setState(ctx, campaignID, "SET merged = :b, newest = :n", "merged < :b", map[string]types.AttributeValue{":b": store.N(b), ":n": newestItem(newest)}); err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("merge %s: record batch %d merged: %w", campaignID, b, err)
	}
	res.Batches = append(res.Batches, b)
	res.Files += len(files)
	res.Keys += len(ids)
	res.Written += written
	return nil
}

// writes are a batch's finding writes in flight: at most cap(sem) at once across its chunks, so
// a chunk's slowest write (a throttled one backing off) does not hold up the next chunk.
type writes struct {
	sem     chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	first   error
	written int
	cancel  func()
}

func (w *writes) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == nil {
		w.first = err
		w.cancel()
	}
}

func (w *writes) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

// apply starts the writes of a chunk of keys: their stored items read at once (consistently),
// each key not yet merged from batch b updated with its contribution, the attributes that
// change only, conditional on the batch it was read at.
func (m *Merger) apply(ctx context.Context, w *writes, campaignID string, b int64, expiresAt time.Time, cs map[string]*Contribution, ids []string) error {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{"PK": store.S(cs[id].pk(campaignID)), "SK": store.S(cs[id].sk())}
	}
	old, err := m.read(ctx, keys)
	if err != nil {
		return err
	}
	for i, id := range ids {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return nil // the first failure is recorded
		}
		w.wg.Add(1)
		go func() {
			defer func() { <-w.sem; w.wg.Done() }()
			n, err := m.write(ctx, campaignID, b, expiresAt, cs[id], keys[i], old[cs[id].pk(campaignID)+"\x00"+cs[id].sk()])
			if err != nil {
				w.fail(err)
				return
			}
			w.mu.Lock()
			w.written += n
			w.mu.Unlock()
		}()
	}
	return nil
}

func (m *Merger) read(ctx context.Context, keys []map[string]types.AttributeValue) (map[string]map[string]types.AttributeValue, error) {
	out := map[string]map[string]types.AttributeValue{}
	err := store.BatchGetConsistent(ctx, m.db, m.table, keys, func(it map[string]types.AttributeValue) error {
		out[store.Str(it["PK"])+"\x00"+store.Str(it["SK"])] = it
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %d findings: %w", len(keys), err)
	}
	return out, nil
}

// write adds c to one key's stored item (old, nil when there is none) unless the item has
// batch b already. A condition that fails (the item changed since it was read) is read again
// and retried once.
func (m *Merger) write(ctx context.Context, campaignID string, b int64, expiresAt time.Time, c *Contribution, key, old map[string]types.AttributeValue) (int, error) {
	for attempt := 0; ; attempt++ {
		sum := *c
		cond := "attribute_not_exists(PK)"
		vals := map[string]types.AttributeValue{}
		if old != nil {
			prev, pb, err := contributionOfItem(old)
			if err != nil {
				return 0, err
			}
			if pb >= b {
				return 0, nil
			}
			prev.add(c)
			sum = prev
			cond = "batch = :was"
			vals[":was"] = store.N(pb)
		}
		in := updateOf(m.table, key, old, itemOf(campaignID, &sum, b, expiresAt), cond, vals)
		_, err := m.db.UpdateItem(ctx, in)
		if err == nil {
			return 1, nil
		}
		if !store.IsConditionFailed(err) || attempt == 1 {
			return 0, fmt.Errorf("write finding %s %s: %w", store.Str(key["PK"]), store.Str(key["SK"]), err)
		}
		got, err := m.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(m.table), Key: key, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, fmt.Errorf("read finding %s %s: %w", store.Str(key["PK"]), store.Str(key["SK"]), err)
		}
		old = got.Item
	}
}

// updateOf is the UpdateItem that turns old into item: SET of every attribute that differs,
// REMOVE of those item no longer has. Unchanged attributes are left alone, so an index whose
// projected attributes did not change is not written.
func updateOf(table string, key, old, item map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue) *dynamodb.UpdateItemInput {
	names := map[string]string{}
	var set, remove []string
	for _, name := range slices.Sorted(maps.Keys(item)) {
		if name == "PK" || name == "SK" {
			continue
		}
		if o, ok := old[name]; ok && store.Equal(o, item[name]) {
			continue
		}
		n := fmt.Sprintf("#a%d", len(names))
		names[n] = name
		vals[":"+n[1:]] = item[name]
		set = append(set, n+" = :"+n[1:])
	}
	for _, name := range slices.Sorted(maps.Keys(old)) {
		if _, ok := item[name]; !ok {
			n := fmt.Sprintf("#a%d", len(names))
			names[n] = name
			remove = append(remove, n)
		}
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	if cond == "batch = :was" {
		names["#b"] = "batch"
		cond = "#b = :was"
	}
	return &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: key, UpdateExpression: aws.String(expr), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: vals,
	}
}

// lease takes the campaign's merge lease (free, expired, or ours) and returns its open batch,
// the last merged one, and the newest event merged so far per protocol (Freshness).
func (m *Merger) lease(ctx context.Context, campaignID string) (open, merged int64, newest map[string]time.Time, err error) {
	now := m.clock()
	out, err := m.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(m.table), Key: stateKey(campaignID),
		UpdateExpression:         aws.String("SET lease_by = :me, lease_until = :until, #open = if_not_exists(#open, :one), merged = if_not_exists(merged, :zero), #type = :t"),
		ConditionExpression:      aws.String("attribute_not_exists(lease_until) OR lease_until < :now OR lease_by = :me"),
		ExpressionAttributeNames: map[string]string{"#open": "open", "#type": "type"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": store.S(m.ID), ":until": store.N(now.Add(m.Lease).UnixMilli()), ":now": store.N(now.UnixMilli()),
			":one": store.N(1), ":zero": store.N(0), ":t": store.S("merge-state"),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		return 0, 0, nil, ErrMergeBusy
	}
	if err != nil {
		return 0, 0, nil, fmt.Errorf("merge %s: take the lease: %w", campaignID, err)
	}
	return num64(out.Attributes["open"]), num64(out.Attributes["merged"]), readNewest(out.Attributes["newest"]), nil
}

// newestItem and readNewest are the merge state's newest event per protocol, as a map of
// RFC 3339 times: a handful of entries, written by the lease holder only.
func newestItem(n map[string]time.Time) types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for p, t := range n {
		m[p] = store.S(t.UTC().Format(time.RFC3339))
	}
	return &types.AttributeValueMemberM{Value: m}
}

func readNewest(v types.AttributeValue) map[string]time.Time {
	out := map[string]time.Time{}
	if m, ok := v.(*types.AttributeValueMemberM); ok {
		for p, x := range m.Value {
			if s, ok := x.(*types.AttributeValueMemberS); ok {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
					out[p] = t
				}
			}
		}
	}
	return out
}

// renew extends the lease once half of it has passed (*at), and moves *at on; a lease another
// merger took over stops this one.
func (m *Merger) renew(ctx context.Context, campaignID string, at *time.Time) error {
	now := m.clock()
	if now.Before(*at) {
		return nil
	}
	*at = now.Add(m.Lease / 2)
	err := m.setState(ctx, campaignID, "SET lease_until = :until", "", map[string]types.AttributeValue{":until": store.N(now.Add(m.Lease).UnixMilli())})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("merge %s: %w (the lease passed to another merger)", campaignID, ErrMergeBusy)
	}
	return err
}

// release gives the lease back (best effort: it expires anyway).
func (m *Merger) release(campaignID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = m.setState(ctx, campaignID, "REMOVE lease_until, lease_by", "", nil)
}

// setState updates the merge state while this merger holds the lease (and cond, if any).
func (m *Merger) setState(ctx context.Context, campaignID, update, cond string, vals map[string]types.AttributeValue) error {
	if vals == nil {
		vals = map[string]types.AttributeValue{}
	}
	vals[":me"] = store.S(m.ID)
	c := "lease_by = :me"
	if cond != "" {
		c += " AND " + cond
	}
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(m.table), Key: stateKey(campaignID),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(c), ExpressionAttributeValues: vals,
	}
	if strings.Contains(update+c, "#open") {
		in.ExpressionAttributeNames = map[string]string{"#open": "open"}
	}
	_, err := m.db.UpdateItem(ctx, in)
	return err
}
