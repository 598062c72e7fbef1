package findings

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Caps on the lists an Activity shows (the stored lists hold at most as many).
const (
	MaxClientIPs  = 10
	MaxUserAgents = 5
	MaxDeviceIDs  = 10
)

// Activity is one finding: an account (or, unattributed, a client address) on one legacy
// hostname over one protocol on one UTC day, with totals over every file ingested so far.
type Activity struct {
	Account  string
	Hostname string
	Protocol string
	Day      calendar.Date
	// ODS is the organisation resolved when the finding was ingested; Unassigned when none
	// owned the account then. The planner re-resolves through the directory.
	ODS                   string
	FirstSeen, LastSeen   time.Time
	Successes, Failures   int64
	ClientIPs, UserAgents []string
	DeviceIDs             []string
	DirectIP              bool
	// ClientIP is set on unattributed activity (Account == "").
	ClientIP string
	// Sources is how many files contributed.
	Sources int
}

func activityOf(c *Contribution) (Activity, error) {
	d, err := calendar.Parse(c.Day)
	if err != nil {
		return Activity{}, fmt.Errorf("finding %s %s: day: %w", c.pk(""), c.sk(), err)
	}
	return Activity{
		Account: c.Account, Hostname: c.Hostname, Protocol: c.Protocol, Day: d, ODS: c.ODS,
		FirstSeen: c.First, LastSeen: c.Last, Successes: c.Successes, Failures: c.Failures,
		ClientIPs: sorted(c.ClientIPs, MaxClientIPs), UserAgents: sorted(c.UserAgents, MaxUserAgents),
		DeviceIDs: sorted(c.DeviceIDs, MaxDeviceIDs), DirectIP: c.DirectIP, ClientIP: c.ClientIP, Sources: int(c.Files),
	}, nil
}

// sorted returns a list sorted, at most n of it.
func sorted(in []string, n int) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return out[:min(n, len(out))]
}

// Querier is the part of the DynamoDB client the Reader uses.
type Querier interface {
	store.Querier
	store.Getter
	store.BatchGetter
}

// Reader reads findings and file summaries.
type Reader struct {
	db    Querier
	table string
	stage Stage
}

// Freshness is the newest event the campaign's merges have taken in, per protocol: how recent
// the evidence is (a status page's "logs up to"). Files committed since the last merge (at most
// an hour in AWS) are not in it. One consistent read of the merge state.
func (r *Reader) Freshness(ctx context.Context, campaignID string) (map[string]time.Time, error) {
	out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(r.table), Key: stateKey(campaignID),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("newest")})
	if err != nil {
		return nil, fmt.Errorf("read %s's merge state: %w", campaignID, err)
	}
	return readNewest(out.Item["newest"]), nil
}

// NewReader returns a reader of table, and of the findings staged in stage but not merged yet
// (nil: a reader of file summaries, or of a table seeded without staging; its View refuses
// pending files rather than leave them out).
func NewReader(db Querier, table string, stage Stage) *Reader {
	return &Reader{db: db, table: table, stage: stage}
}

// View is a campaign's findings as of one moment: the table, and the files committed but not
// merged yet (read once, when the view is made). A planner run, a page or a report makes one
// view and reads through it, so every file ingested before it counts, once.
type View struct {
	r        *Reader
	campaign string
	// pending holds, per key, each unmerged batch's contribution.
	pending map[string][]pendingPart
	// Pending is how many files the view read that the table did not have yet.
	Pending int
}

type pendingPart struct {
	batch int64
	c     *Contribution
}

// View reads the campaign's unmerged batches: the merge state, each batch after the last
// merged one (the open one included), and their staged files.
func (r *Reader) View(ctx context.Context, campaignID string) (*View, error) {
	v := &View{r: r, campaign: campaignID, pending: map[string][]pendingPart{}}
	open, merged, err := readState(ctx, r.db, r.table, campaignID)
	if err != nil {
		return nil, err
	}
	for b := merged + 1; b <= open; b++ {
		files, err := readBatchFiles(ctx, r.db, r.table, campaignID, b)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			continue
		}
		if r.stage == nil {
			return nil, fmt.Errorf("read findings of %s: %d files are committed and not merged, and this reader has no stage to read them from", campaignID, len(files))
		}
		cs, err := readBatch(ctx, r.stage, campaignID, files)
		if err != nil {
			return nil, err
		}
		v.Pending += len(files)
		for id, c := range cs {
			v.pending[id] = append(v.pending[id], pendingPart{b, c})
		}
	}
	return v, nil
}

// readBatch reads a batch's staged files (a few at a time) and adds them up by key: each
// file's parts first (one file counts once per key), then the files in order.
func readBatch(ctx context.Context, stage Stage, campaignID string, files []string) (map[string]*Contribution, error) {
	perFile := make([]map[string]*Contribution, len(files))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 8)
	)
	for i, e := range files {
		id, parts, err := splitEntry(e)
		if err != nil {
			return nil, fmt.Errorf("read batch of %s: %w", campaignID, err)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m := map[string]*Contribution{}
			for p := range parts {
				body, err := stage.Get(ctx, stagedKey(campaignID, id, p))
				if err == nil {
					err = decodeStaged(body, func(c *Contribution) {
						if have := m[c.id()]; have != nil {
							files := have.Files
							have.add(c)
							have.Files = files
						} else {
							m[c.id()] = c
						}
					})
				}
				if err != nil {
					mu.Lock()
					first = cmp.Or(first, fmt.Errorf("read staged file %s of %s: %w", id, campaignID, err))
					mu.Unlock()
					return
				}
			}
			perFile[i] = m
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	out := map[string]*Contribution{}
	for _, m := range perFile {
		for id, c := range m {
			if have := out[id]; have != nil {
				have.add(c)
			} else {
				out[id] = c
			}
		}
	}
	return out, nil
}

// stored is one item read from the table.
type stored struct {
	c     Contribution
	batch int64
}

// combine adds the pending batches newer than each stored item to it, then the keys only
// pending holds that keep says belong to the read, and returns them in the order less gives.
func (v *View) combine(items []stored, keep func(*Contribution) bool, less func(a, b *Contribution) int) ([]Activity, error) {
	seen := make(map[string]bool, len(items))
	all := make([]*Contribution, 0, len(items))
	for i := range items {
		c := &items[i].c
		id := c.id()
		seen[id] = true
		for _, p := range v.pending[id] {
			if p.batch > items[i].batch {
				c.add(p.c)
			}
		}
		all = append(all, c)
	}
	for id, parts := range v.pending {
		if seen[id] || !keep(parts[0].c) {
			continue
		}
		c := *parts[0].c
		for _, p := range parts[1:] {
			c.add(p.c)
		}
		all = append(all, &c)
	}
	slices.SortFunc(all, less)
	out := make([]Activity, 0, len(all))
	for _, c := range all {
		a, err := activityOf(c)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func inDays(c *Contribution, from, to calendar.Date) bool {
	return c.Day >= from.String() && c.Day <= to.String()
}

// byOrgKey is the OrgIndex order: day, then account (or host), hostname, protocol (client IP).
func byOrgKey(a, b *Contribution) int {
	return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Account, b.Account), cmp.Compare(a.Hostname, b.Hostname),
		cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.ClientIP, b.ClientIP))
}

// Window returns every finding of the campaign on the days from..to (inclusive): day by day,
// attributed ones first (by account, hostname, protocol), then unattributed ones.
func (v *View) Window(ctx context.Context, from, to calendar.Date) ([]Activity, error) {
	var items []stored
	for d := from; !d.After(to); d = d.AddDays(1) {
		for s := range Shards {
			var err error
			items, err = v.query(ctx, &dynamodb.QueryInput{
				TableName:                 aws.String(v.r.table),
				KeyConditionExpression:    aws.String("PK = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(dayPartition(v.campaign, d.String(), fmt.Sprint(s)))},
			}, items)
			if err != nil {
				return nil, fmt.Errorf("read findings of %s on %s: %w", v.campaign, d, err)
			}
		}
	}
	acts, err := v.combine(items, func(c *Contribution) bool { return c.Attributed() && inDays(c, from, to) }, byOrgKey)
	if err != nil {
		return nil, err
	}
	un, err := v.Unattributed(ctx, from, to)
	if err != nil {
		return nil, err
	}
	acts = append(acts, un...)
	slices.SortStableFunc(acts, func(a, b Activity) int { return cmp.Compare(a.Day.String(), b.Day.String()) })
	return acts, nil
}

// get reads whole items by key.
func (v *View) get(ctx context.Context, keys []map[string]types.AttributeValue, out *[]stored) error {
	return store.BatchGet(ctx, v.r.db, v.r.table, keys, "", func(it map[string]types.AttributeValue) error {
		c, b, err := contributionOfItem(it)
		if err != nil {
			return err
		}
		*out = append(*out, stored{c, b})
		return nil
	})
}

// Org returns an organisation's findings (as resolved when ingested) on the days from..to,
// by day then account; Org(ctx, Unassigned, ...) is the unassigned list.
func (v *View) Org(ctx context.Context, ods string, from, to calendar.Date) ([]Activity, error) {
	ods = strings.ToUpper(ods)
	items, err := v.query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(v.r.table), IndexName: aws.String(OrgIndex),
		KeyConditionExpression: aws.String("GSI4PK = :p AND GSI4SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p":    store.S(store.Key("ORGFIND", v.campaign, ods)),
			":from": store.S(from.String()), ":to": store.S(to.String() + "~"),
		},
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("read findings of %s for %s: %w", v.campaign, ods, err)
	}
	return v.combine(items, func(c *Contribution) bool {
		return c.Attributed() && strings.EqualFold(cmp.Or(c.ODS, Unassigned), ods) && inDays(c, from, to)
	}, byOrgKey)
}

// Unassigned returns the findings from..to of accounts no organisation owned when they were
// ingested: the list the team must see. Callers that need today's view re-resolve them.
func (v *View) Unassigned(ctx context.Context, from, to calendar.Date) ([]Activity, error) {
	return v.Org(ctx, Unassigned, from, to)
}

// AccountSeen returns the findings from..to of an account as Accounts saw it: the items it was
// seen at, read by key (BatchGetItem), and what the view's pending files hold of it. The
// planner reads by account only the accounts whose owner changed since their findings were
// stored.
func (v *View) AccountSeen(ctx context.Context, s Seen, from, to calendar.Date) ([]Activity, error) {
	var keys []map[string]types.AttributeValue
	for _, it := range s.items {
		if it.day >= from.String() && it.day <= to.String() {
			keys = append(keys, map[string]types.AttributeValue{"PK": store.S(it.pk), "SK": store.S(it.sk)})
		}
	}
	var items []stored
	if err := v.get(ctx, keys, &items); err != nil {
		return nil, fmt.Errorf("read findings of %s for %s: %w", v.campaign, s.Account, err)
	}
	return v.combine(items, func(c *Contribution) bool { return c.Account == s.Account && inDays(c, from, to) }, byOrgKey)
}

// Unattributed returns the campaign's findings without an account (load balancers) on the
// days from..to, by day, hostname, protocol and address.
func (v *View) Unattributed(ctx context.Context, from, to calendar.Date) ([]Activity, error) {
	var items []stored
	for s := range Shards {
		var err error
		items, err = v.query(ctx, &dynamodb.QueryInput{
			TableName: aws.String(v.r.table), IndexName: aws.String(OrgIndex),
			KeyConditionExpression: aws.String("GSI4PK = :p AND GSI4SK BETWEEN :from AND :to"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p":    store.S(store.Key("UNATTR", v.campaign, fmt.Sprint(s))),
				":from": store.S(from.String()), ":to": store.S(to.String() + "~"),
			},
		}, items)
		if err != nil {
			return nil, fmt.Errorf("read unattributed findings of %s: %w", v.campaign, err)
		}
	}
	return v.combine(items, func(c *Contribution) bool { return !c.Attributed() && inDays(c, from, to) }, byOrgKey)
}

func (v *View) query(ctx context.Context, in *dynamodb.QueryInput, out []stored) ([]stored, error) {
	err := store.QueryAll(ctx, v.r.db, in, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			c, b, err := contributionOfItem(it)
			if err != nil {
				return err
			}
			out = append(out, stored{c, b})
		}
		return nil
	})
	return out, err
}
