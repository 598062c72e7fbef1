package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
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
	store.Getter
	store.Putter
	store.Updater
	store.Querier
	store.BatchWriter
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
	// PauseReason says why Sunset paused the campaign by itself (AutoPause); empty for a
	// campaign paused by a person, and cleared by any status change.
	PauseReason string `json:"pause_reason,omitempty"`
}

// Version is one apply of a campaign: who, when, what changed.
type Version struct {
	Version  int       `json:"version"`
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Changes  []string  `json:"changes"`
	Campaign *Campaign `json:"campaign"`
}

func metaKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("CAMPAIGN", id)), "SK": store.S("META")}
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
	Status      Status `dynamodbav:"status"`
	Version     int    `dynamodbav:"version"`
	Spec        string `dynamodbav:"spec"`
	UpdatedAt   string `dynamodbav:"updated_at"`
	UpdatedBy   string `dynamodbav:"updated_by"`
	PauseReason string `dynamodbav:"pause_reason"`
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
	return &Record{Campaign: c, Status: m.Status, Version: m.Version, UpdatedAt: at, UpdatedBy: m.UpdatedBy, PauseReason: m.PauseReason}, nil
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
		UpdateExpression:         aws.String("SET #s = :s, updated_at = :at, updated_by = :by REMOVE pause_reason"),
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
	return s.record(ctx, r.Campaign, by, fmt.Sprintf("status: %s → %s", r.Status, status))
}

// AutoPause pauses an active campaign on Sunset's own authority (by names the function), with
// the reason shown by campaign show and report. It returns false, changing nothing, when the
// campaign is not active: a person's pause or cancel is never overwritten. Resuming is a
// person's decision (SetStatus), which clears the reason.
func (s *Store) AutoPause(ctx context.Context, id, by, reason string) (bool, error) {
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      metaKey(id),
		UpdateExpression:         aws.String("SET #s = :paused, updated_at = :at, updated_by = :by, pause_reason = :r"),
		ConditionExpression:      aws.String("#s = :active"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":paused": store.S(string(Paused)), ":active": store.S(string(Active)),
			":at": store.S(s.clock().UTC().Format(time.RFC3339Nano)), ":by": store.S(by), ":r": store.S(reason),
		},
	})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auto-pause campaign %s: %w", id, err)
	}
	r, err := s.Get(ctx, id)
	if err == nil {
		err = s.record(ctx, r.Campaign, by, "status: active → paused ("+reason+")")
	}
	if err != nil {
		return true, fmt.Errorf("auto-pause campaign %s: paused, but its history entry is not written: %w", id, err)
	}
	return true, nil
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
