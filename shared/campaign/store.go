package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Status is a campaign's state: active campaigns plan and send, paused ones plan nothing (their
// findings are still collected), cancelled ones never send again.
type Status string

// Campaign statuses.
const (
	Active    Status = "active"
	Paused    Status = "paused"
	Cancelled Status = "cancelled"
)

var (
	// ErrNotFound: no campaign with that id has been applied.
	ErrNotFound = errors.New("campaign not found")
	// ErrConflict: another apply or change won a race; re-read and try again.
	ErrConflict = errors.New("campaign changed concurrently")
	// ErrRefused: the change breaks a rule (resume a cancelled campaign, an extension past
	// max_extension_days, ...); the error's message says which.
	ErrRefused = errors.New("refused")
)

// DB is the part of the DynamoDB client the campaign store uses.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Store keeps campaigns in the table (docs/data-model.md, "Campaign").
type Store struct {
	db    DB
	table string
	clock func() time.Time
}

// NewStore returns a campaign store over table.
func NewStore(db DB, table string, clock func() time.Time) *Store {
	return &Store{db: db, table: table, clock: clock}
}

// Record is a stored campaign and its state.
type Record struct {
	Campaign  *Campaign `json:"campaign"`
	Status    Status    `json:"status"`
	Version   int       `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Version is one apply of a campaign: who, when, what changed.
type Version struct {
	Version  int       `json:"version"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Changes  []string  `json:"changes"`
	Campaign *Campaign `json:"campaign"`
}

// Extension moves one organisation's deadline.
type Extension struct {
	ODS      string        `json:"ods"`
	Until    calendar.Date `json:"until"`
	Original calendar.Date `json:"original"`
	Reason   string        `json:"reason"`
	By       string        `json:"by"`
	At       time.Time     `json:"at"`
}

func metaKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("CAMPAIGN", id)), "SK": store.S("META")}
}

// Apply creates the campaign or updates it to c, recording a version (who, when, what changed).
// Applying an unchanged campaign is a no-op that returns the current version and no changes.
// Two concurrent applies cannot both win: the loser gets ErrConflict. For a roster campaign the
// roster (c.RosterEntries) is written too; organisations no longer listed are marked done.
func (s *Store) Apply(ctx context.Context, c *Campaign, by string) (int, []string, error) {
	if c.AudienceSource == SourceRoster && len(c.roster) == 0 {
		return 0, nil, fmt.Errorf("apply campaign %s: %w: a roster campaign needs its roster (campaign.Load reads it)", c.ID, ErrRefused)
	}
	spec, err := json.Marshal(c)
	if err != nil {
		return 0, nil, fmt.Errorf("apply campaign %s: %w", c.ID, err)
	}
	prev, err := s.Get(ctx, c.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, nil, fmt.Errorf("apply campaign %s: %w", c.ID, err)
	}
	var oldRoster []RosterEntry
	if c.AudienceSource == SourceRoster && prev != nil {
		if oldRoster, err = s.Roster(ctx, c.ID); err != nil {
			return 0, nil, fmt.Errorf("apply campaign %s: %w", c.ID, err)
		}
	}
	var changes []string
	status, prevVersion := Active, 0
	if prev != nil {
		if prev.Status == Cancelled {
			return 0, nil, fmt.Errorf("apply campaign %s: %w: it is cancelled, and cancel is final", c.ID, ErrRefused)
		}
		status, prevVersion = prev.Status, prev.Version
		old, _ := json.Marshal(prev.Campaign)
		changes = Diff(old, spec)
	} else {
		changes = []string{"created"}
	}
	rosterWrites, rosterChanges := rosterDiff(oldRoster, c.roster)
	changes = append(changes, rosterChanges...)
	if prev != nil && len(changes) == 0 {
		return prevVersion, nil, nil
	}
	now := s.clock().UTC()
	version := prevVersion + 1
	changesAV, _ := attributevalue.Marshal(changes)
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK":      store.S(store.Key("CAMPAIGN", c.ID)),
			"SK":      store.S(fmt.Sprintf("VERSION#%04d", version)),
			"type":    store.S("campaign-version"),
			"version": store.N(int64(version)),
			"at":      store.S(now.Format(time.RFC3339Nano)),
			"by":      store.S(by),
			"changes": changesAV,
			"spec":    store.S(string(spec)),
		},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if store.IsConditionFailed(err) {
		return 0, nil, fmt.Errorf("apply campaign %s version %d: %w (re-run apply)", c.ID, version, ErrConflict)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("apply campaign %s version %d: %w", c.ID, version, err)
	}
	item := metaKey(c.ID)
	item["type"] = store.S("campaign")
	item["GSI1PK"] = store.S("CAMPAIGNS")
	item["GSI1SK"] = store.S(c.ID)
	item["status"] = store.S(string(status))
	item["version"] = store.N(int64(version))
	item["spec"] = store.S(string(spec))
	item["updated_at"] = store.S(now.Format(time.RFC3339Nano))
	item["updated_by"] = store.S(by)
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if prev == nil {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		in.ConditionExpression = aws.String("version = :v AND #s <> :cancelled")
		in.ExpressionAttributeNames = map[string]string{"#s": "status"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": store.N(int64(prevVersion)), ":cancelled": store.S(string(Cancelled))}
	}
	if _, err := s.db.PutItem(ctx, in); store.IsConditionFailed(err) {
		return 0, nil, fmt.Errorf("apply campaign %s: %w (re-run apply)", c.ID, ErrConflict)
	} else if err != nil {
		return 0, nil, fmt.Errorf("apply campaign %s: %w", c.ID, err)
	}
	if len(rosterWrites) > 0 {
		items := make([]map[string]types.AttributeValue, 0, len(rosterWrites))
		ttl := c.RetainUntil()
		for _, e := range rosterWrites {
			it := map[string]types.AttributeValue{
				"PK":       store.S(store.Key("CAMPAIGN", c.ID)),
				"SK":       store.S(store.Key("ROSTER", e.ODS)),
				"type":     store.S("roster"),
				"ods":      store.S(e.ODS),
				"deadline": store.S(e.Deadline.String()),
				"done":     &types.AttributeValueMemberBOOL{Value: e.Done},
			}
			if e.Domain != "" {
				it["domain"] = store.S(e.Domain)
			}
			it[store.TTLAttribute] = store.TTL(ttl)
			items = append(items, it)
		}
		if err := store.BatchPut(ctx, s.db, s.table, items); err != nil {
			return 0, nil, fmt.Errorf("apply campaign %s roster: %w (re-run apply to finish it)", c.ID, err)
		}
	}
	return version, changes, nil
}

// rosterDiff returns the roster items to write (new, changed, and no-longer-listed ones marked
// done) and a readable summary of the changes.
func rosterDiff(old, cur []RosterEntry) ([]RosterEntry, []string) {
	if cur == nil && old == nil {
		return nil, nil
	}
	was := make(map[string]RosterEntry, len(old))
	for _, e := range old {
		was[e.ODS] = e
	}
	var writes []RosterEntry
	var changes []string
	listed := make(map[string]bool, len(cur))
	added, changed, removed := 0, 0, 0
	for _, e := range cur {
		listed[e.ODS] = true
		o, ok := was[e.ODS]
		switch {
		case !ok:
			added++
		case o != e:
			changed++
			if len(changes) < 20 && o.Deadline != e.Deadline {
				changes = append(changes, fmt.Sprintf("roster %s deadline: %s → %s", e.ODS, o.Deadline, e.Deadline))
			}
		default:
			continue
		}
		writes = append(writes, e)
	}
	for _, o := range old {
		if !listed[o.ODS] && !o.Done {
			o.Done = true
			removed++
			writes = append(writes, o)
		}
	}
	if added+changed+removed > 0 {
		changes = append(changes, fmt.Sprintf("roster: %d added, %d changed, %d no longer listed (done)", added, changed, removed))
	}
	return writes, changes
}

// Get returns the campaign id, or ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: metaKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get campaign %s: %w", id, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("get campaign %s: %w", id, ErrNotFound)
	}
	return recordOf(out.Item)
}

type metaItem struct {
	Status    Status `dynamodbav:"status"`
	Version   int    `dynamodbav:"version"`
	Spec      string `dynamodbav:"spec"`
	UpdatedAt string `dynamodbav:"updated_at"`
	UpdatedBy string `dynamodbav:"updated_by"`
}

func recordOf(item map[string]types.AttributeValue) (*Record, error) {
	var m metaItem
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return nil, fmt.Errorf("read campaign item: %w", err)
	}
	c := &Campaign{}
	if err := json.Unmarshal([]byte(m.Spec), c); err != nil {
		return nil, fmt.Errorf("read campaign spec: %w", err)
	}
	at, _ := time.Parse(time.RFC3339Nano, m.UpdatedAt)
	return &Record{Campaign: c, Status: m.Status, Version: m.Version, UpdatedAt: at, UpdatedBy: m.UpdatedBy}, nil
}

// List returns every campaign, sorted by id.
func (s *Store) List(ctx context.Context) ([]*Record, error) {
	var out []*Record
	err := store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S("CAMPAIGNS")},
	}, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			r, err := recordOf(it)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Campaign.ID < out[j].Campaign.ID })
	return out, nil
}

// Live returns every campaign that is not cancelled: the ones whose findings are collected
// (paused ones included) and that the planner looks at.
func (s *Store) Live(ctx context.Context) ([]*Campaign, error) {
	all, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*Campaign
	for _, r := range all {
		if r.Status != Cancelled {
			out = append(out, r.Campaign)
		}
	}
	return out, nil
}

// History returns the campaign's versions, oldest first.
func (s *Store) History(ctx context.Context, id string) ([]Version, error) {
	var out []Version
	err := s.queryPrefix(ctx, id, "VERSION#", func(it map[string]types.AttributeValue) error {
		var v struct {
			Version int      `dynamodbav:"version"`
			At      string   `dynamodbav:"at"`
			By      string   `dynamodbav:"by"`
			Changes []string `dynamodbav:"changes"`
			Spec    string   `dynamodbav:"spec"`
		}
		if err := attributevalue.UnmarshalMap(it, &v); err != nil {
			return err
		}
		c := &Campaign{}
		if err := json.Unmarshal([]byte(v.Spec), c); err != nil {
			return err
		}
		at, _ := time.Parse(time.RFC3339Nano, v.At)
		out = append(out, Version{Version: v.Version, At: at, By: v.By, Changes: v.Changes, Campaign: c})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history of campaign %s: %w", id, err)
	}
	return out, nil
}

func (s *Store) queryPrefix(ctx context.Context, id, prefix string, fn func(map[string]types.AttributeValue) error) error {
	return store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": store.S(store.Key("CAMPAIGN", id)), ":p": store.S(prefix),
		},
	}, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetStatus pauses, resumes (Active) or cancels a campaign. Cancel is final: any later status
// change is refused. Setting the status a campaign already has is a no-op.
func (s *Store) SetStatus(ctx context.Context, id string, status Status, by string) error {
	if status != Active && status != Paused && status != Cancelled {
		return fmt.Errorf("set campaign %s status: %w: unknown status %q", id, ErrRefused, status)
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return fmt.Errorf("set campaign %s %s: %w", id, status, err)
	}
	if r.Status == status {
		return nil
	}
	if r.Status == Cancelled {
		return fmt.Errorf("set campaign %s %s: %w: it is cancelled, and cancel is final", id, status, ErrRefused)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      metaKey(id),
		UpdateExpression:         aws.String("SET #s = :s, updated_at = :at, updated_by = :by"),
		ConditionExpression:      aws.String("attribute_exists(PK) AND #s <> :cancelled"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":s": store.S(string(status)), ":at": store.S(s.clock().UTC().Format(time.RFC3339Nano)),
			":by": store.S(by), ":cancelled": store.S(string(Cancelled)),
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("set campaign %s %s: %w: it was cancelled meanwhile", id, status, ErrRefused)
	}
	if err != nil {
		return fmt.Errorf("set campaign %s %s: %w", id, status, err)
	}
	return nil
}

// Extend moves organisation ods's deadline to until. It is refused past max_extension_days from
// the organisation's original deadline (roster date, else shutdown), for a cancelled campaign,
// and for an organisation not on a roster campaign's roster. A later extension replaces an
// earlier one.
func (s *Store) Extend(ctx context.Context, id, ods string, until calendar.Date, reason, by string) (*Extension, error) {
	ods = NormODS(ods)
	r, err := s.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("extend campaign %s for %s: %w", id, ods, err)
	}
	c := r.Campaign
	refuse := func(format string, args ...any) (*Extension, error) {
		return nil, fmt.Errorf("extend campaign %s for %s: %w: %s", id, ods, ErrRefused, fmt.Sprintf(format, args...))
	}
	if r.Status == Cancelled {
		return refuse("the campaign is cancelled")
	}
	if strings.TrimSpace(reason) == "" {
		return refuse("a reason is required")
	}
	original := c.Shutdown
	if c.AudienceSource == SourceRoster {
		e, err := s.rosterEntry(ctx, id, ods)
		if err != nil {
			return nil, fmt.Errorf("extend campaign %s for %s: %w", id, ods, err)
		}
		if e == nil {
			return refuse("%s is not on the campaign's roster", ods)
		}
		original = e.Deadline
	}
	if c.MaxExtensionDays == 0 {
		return refuse("the campaign allows no extensions (max_extension_days is 0); the deadline stays %s", original.British())
	}
	latest := original.AddDays(c.MaxExtensionDays)
	if until.After(latest) {
		return refuse("%s is more than max_extension_days (%d) after the original deadline %s; the latest allowed date is %s",
			until.British(), c.MaxExtensionDays, original.British(), latest.British())
	}
	if !until.After(original) {
		return refuse("%s is not after the original deadline %s", until.British(), original.British())
	}
	ext := &Extension{ODS: ods, Until: until, Original: original, Reason: reason, By: by, At: s.clock().UTC()}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK":               store.S(store.Key("CAMPAIGN", id)),
			"SK":               store.S(store.Key("EXT", ods)),
			"type":             store.S("extension"),
			"ods":              store.S(ods),
			"until":            store.S(until.String()),
			"original":         store.S(original.String()),
			"reason":           store.S(reason),
			"by":               store.S(by),
			"at":               store.S(ext.At.Format(time.RFC3339Nano)),
			store.TTLAttribute: store.TTL(c.RetainUntil()),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("extend campaign %s for %s: %w", id, ods, err)
	}
	return ext, nil
}

// Extensions returns the campaign's extensions by ODS code.
func (s *Store) Extensions(ctx context.Context, id string) (map[string]Extension, error) {
	out := map[string]Extension{}
	err := s.queryPrefix(ctx, id, "EXT#", func(it map[string]types.AttributeValue) error {
		ext := Extension{ODS: store.Str(it["ods"]), Reason: store.Str(it["reason"]), By: store.Str(it["by"])}
		ext.Until, _ = calendar.Parse(store.Str(it["until"]))
		ext.Original, _ = calendar.Parse(store.Str(it["original"]))
		ext.At, _ = time.Parse(time.RFC3339Nano, store.Str(it["at"]))
		out[ext.ODS] = ext
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extensions of campaign %s: %w", id, err)
	}
	return out, nil
}

// Roster returns a roster campaign's organisations and deadlines, done ones included.
func (s *Store) Roster(ctx context.Context, id string) ([]RosterEntry, error) {
	var out []RosterEntry
	err := s.queryPrefix(ctx, id, "ROSTER#", func(it map[string]types.AttributeValue) error {
		e, err := rosterOf(it)
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("roster of campaign %s: %w", id, err)
	}
	return out, nil
}

func rosterOf(it map[string]types.AttributeValue) (RosterEntry, error) {
	e := RosterEntry{ODS: store.Str(it["ods"]), Domain: store.Str(it["domain"])}
	d, err := calendar.Parse(store.Str(it["deadline"]))
	if err != nil {
		return e, fmt.Errorf("roster item %s: %w", e.ODS, err)
	}
	e.Deadline = d
	if b, ok := it["done"].(*types.AttributeValueMemberBOOL); ok {
		e.Done = b.Value
	}
	return e, nil
}

func (s *Store) rosterEntry(ctx context.Context, id, ods string) (*RosterEntry, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			"PK": store.S(store.Key("CAMPAIGN", id)), "SK": store.S(store.Key("ROSTER", ods)),
		},
	})
	if err != nil || out.Item == nil {
		return nil, err
	}
	e, err := rosterOf(out.Item)
	return &e, err
}

// Diff describes the differences between two campaign specs (JSON) as readable lines, one per
// changed key: "shutdown: 2021-09-07 → 2021-10-01", "+ stages[5].name: survey".
func Diff(old, cur []byte) []string {
	var a, b any
	_ = json.Unmarshal(old, &a)
	_ = json.Unmarshal(cur, &b)
	fa, fb := map[string]string{}, map[string]string{}
	flatten("", a, fa)
	flatten("", b, fb)
	keys := map[string]bool{}
	for k := range fa {
		keys[k] = true
	}
	for k := range fb {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []string
	for _, k := range sorted {
		va, inA := fa[k]
		vb, inB := fb[k]
		switch {
		case inA && inB && va != vb:
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		case inA && !inB:
			out = append(out, fmt.Sprintf("- %s: %s", k, va))
		case !inA && inB:
			out = append(out, fmt.Sprintf("+ %s: %s", k, vb))
		}
	}
	return out
}

func flatten(prefix string, v any, out map[string]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, e, out)
		}
	case []any:
		for i, e := range t {
			flatten(prefix+"["+strconv.Itoa(i)+"]", e, out)
		}
	case nil:
	default:
		b, _ := json.Marshal(t)
		out[prefix] = string(b)
	}
}
