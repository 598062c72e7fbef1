package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Apply creates the campaign or updates it to c, recording a version (who, when, what changed).
// Applying an unchanged campaign is a no-op that returns the current version and no changes.
// Two concurrent applies cannot both win: the loser gets ErrConflict. For a roster campaign the
// roster (c.RosterEntries) is written too; organisations no longer listed are marked done.
func (s *Store) Apply(ctx context.Context, c *Campaign, by string) (int, []string, error) {
	if c.AudienceSource == SourceRoster && len(c.roster) == 0 {
		return 0, nil, fmt.Errorf("apply campaign %s: %w: a roster campaign needs its roster (campaign.Load reads it)", c.ID, ErrRefused)
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
	changes := []string{"created"}
	status, prevVersion := Active, 0
	if prev != nil {
		if prev.Status == Cancelled {
			return 0, nil, fmt.Errorf("apply campaign %s: %w: it is cancelled, and cancel is final", c.ID, ErrRefused)
		}
		status, prevVersion = prev.Status, prev.Version
		changes = Diff(prev.Campaign, c)
	}
	rosterWrites, rosterChanges := rosterDiff(oldRoster, c.roster)
	changes = append(changes, rosterChanges...)
	if prev != nil && len(changes) == 0 {
		return prevVersion, nil, nil
	}
	spec, err := json.Marshal(c)
	if err != nil {
		return 0, nil, fmt.Errorf("apply campaign %s: %w", c.ID, err)
	}
	v := applied{id: c.ID, version: prevVersion + 1, spec: string(spec), by: by, at: s.clock().UTC()}
	if err := s.putVersion(ctx, v, changes); err != nil {
		return 0, nil, err
	}
	if err := s.putMeta(ctx, v, status, prev != nil, prevVersion); err != nil {
		return 0, nil, err
	}
	if err := s.putRoster(ctx, c, rosterWrites); err != nil {
		return 0, nil, err
	}
	return v.version, changes, nil
}

// applied is one version being written.
type applied struct {
	id      string
	version int
	spec    string // the campaign as JSON
	by      string
	at      time.Time
}

// putVersion records the version in the campaign's history. The version number is the guard:
// of two concurrent applies of the same version only one writes it.
func (s *Store) putVersion(ctx context.Context, v applied, changes []string) error {
	changesAV, _ := attributevalue.Marshal(boundedChanges(changes))
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			"PK":      store.S(store.Key("CAMPAIGN", v.id)),
			"SK":      store.S(fmt.Sprintf("VERSION#%04d", v.version)),
			"type":    store.S("campaign-version"),
			"version": store.N(int64(v.version)),
			"at":      store.S(v.at.Format(time.RFC3339Nano)),
			"by":      store.S(v.by),
			"changes": changesAV,
			"spec":    store.S(v.spec),
		},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("apply campaign %s version %d: %w (re-run apply)", v.id, v.version, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("apply campaign %s version %d: %w", v.id, v.version, err)
	}
	return nil
}

// putMeta makes the version current, only if the campaign is still at prevVersion (or, for a
// new one, still absent) and was not cancelled meanwhile.
func (s *Store) putMeta(ctx context.Context, v applied, status Status, exists bool, prevVersion int) error {
	item := metaKey(v.id)
	item["type"] = store.S("campaign")
	item["GSI1PK"] = store.S("CAMPAIGNS")
	item["GSI1SK"] = store.S(v.id)
	item["status"] = store.S(string(status))
	item["version"] = store.N(int64(v.version))
	item["spec"] = store.S(v.spec)
	item["updated_at"] = store.S(v.at.Format(time.RFC3339Nano))
	item["updated_by"] = store.S(v.by)
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}
	if !exists {
		in.ConditionExpression = aws.String("attribute_not_exists(PK)")
	} else {
		in.ConditionExpression = aws.String("version = :v AND #s <> :cancelled")
		in.ExpressionAttributeNames = map[string]string{"#s": "status"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": store.N(int64(prevVersion)), ":cancelled": store.S(string(Cancelled))}
	}
	if _, err := s.db.PutItem(ctx, in); store.IsConditionFailed(err) {
		return fmt.Errorf("apply campaign %s: %w (re-run apply)", v.id, ErrConflict)
	} else if err != nil {
		return fmt.Errorf("apply campaign %s: %w", v.id, err)
	}
	return nil
}

// putRoster writes the roster entries that changed (rosterDiff), with the campaign's TTL.
func (s *Store) putRoster(ctx context.Context, c *Campaign, writes []RosterEntry) error {
	if len(writes) == 0 {
		return nil
	}
	items := make([]map[string]types.AttributeValue, 0, len(writes))
	ttl := c.RetainUntil()
	for _, e := range writes {
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
		return fmt.Errorf("apply campaign %s roster: %w (re-run apply to finish it)", c.ID, err)
	}
	return nil
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

// MaxRecordedChanges is how many changes a version records (each cut to maxChangeBytes): with
// the campaign itself (MaxStoredCampaign), a version stays well inside one DynamoDB item. The
// last says how many more there were; the versions' specs have every difference.
const (
	MaxRecordedChanges = 200
	maxChangeBytes     = 512
)

func boundedChanges(changes []string) []string {
	out := make([]string, 0, min(len(changes), MaxRecordedChanges+1))
	for i, c := range changes {
		if i == MaxRecordedChanges {
			out = append(out, fmt.Sprintf("… and %d more changes", len(changes)-i))
			break
		}
		if len(c) > maxChangeBytes {
			cut := maxChangeBytes
			for cut > 0 && !utf8.RuneStart(c[cut]) {
				cut--
			}
			c = c[:cut] + "…"
		}
		out = append(out, c)
	}
	return out
}
