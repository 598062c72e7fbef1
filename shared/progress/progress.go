package progress

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Day is a campaign's funnel after the run on At: organisations (and their accounts) seen on a
// legacy hostname in the activity window before At, organisations notified, and of those the
// ones no longer affected; and the accounts seen that no organisation owns.
type Day struct {
	At               calendar.Date `json:"date"`
	Affected         int           `json:"affected_organisations"`
	AffectedAccounts int           `json:"affected_accounts"`
	Notified         int           `json:"notified_organisations"`
	Fixed            int           `json:"fixed_organisations"`
	Unassigned       int           `json:"unassigned_accounts"`
}

// Org is one organisation as the latest run that looked at it saw it.
type Org struct {
	ODS  string `json:"ods"`
	Name string `json:"name,omitempty"`
	// AsOf is the run that wrote it. An organisation a later run did not look at was no longer
	// affected and had no notice in hand then: Current says so.
	AsOf calendar.Date `json:"as_of"`
	// Affected: an account of it was seen in the activity window before AsOf.
	Affected bool `json:"affected"`
	// Accounts is how many of its accounts were seen in that window.
	Accounts int `json:"accounts"`
	// LastSeen is the last day any of its accounts signed in through a legacy hostname, in the
	// days the run read (zero: none).
	LastSeen calendar.Date `json:"last_seen,omitzero"`
	// Stage is the latest stage it was sent (or is being sent); LastNotice that notice's date
	// (sent, or planned while it is on its way) and Status its ledger status.
	Stage      string        `json:"stage,omitempty"`
	LastNotice calendar.Date `json:"last_notice,omitzero"`
	Status     string        `json:"status,omitempty"`
	// Skipped is why the run sent it nothing when a stage was due (planner.SkipReason:
	// "unreachable", "no-contacts", ...); empty when nothing was due or a notice was claimed.
	Skipped string `json:"skipped,omitempty"`
}

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	store.Putter
	store.BatchWriter
	store.Querier
}

// Store keeps progress in the Sunset table: PK=PROGRESS#<campaign>, SK=DAY#<date> or ORG#<ods>.
type Store struct {
	db    DB
	table string
}

// NewStore returns the progress store in table.
func NewStore(db DB, table string) *Store { return &Store{db: db, table: table} }

func pk(campaign string) types.AttributeValue { return store.S(store.Key("PROGRESS", campaign)) }

// RecordDay keeps the funnel of the run on d.At; a second run on the same date replaces it.
// Items expire with the campaign's data (expires).
func (s *Store) RecordDay(ctx context.Context, campaign string, d Day, expires time.Time) error {
	item := map[string]types.AttributeValue{
		"PK": pk(campaign), "SK": store.S("DAY#" + d.At.String()), "type": store.S("progress-day"),
		"date":                   store.S(d.At.String()),
		"affected_organisations": store.N(int64(d.Affected)), "affected_accounts": store.N(int64(d.AffectedAccounts)),
		"notified_organisations": store.N(int64(d.Notified)), "fixed_organisations": store.N(int64(d.Fixed)),
		"unassigned_accounts": store.N(int64(d.Unassigned)),
	}
	if !expires.IsZero() {
		item["expires_at"] = store.TTL(expires)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("record progress of %s on %s: %w", campaign, d.At, err)
	}
	return nil
}

// RecordOrgs keeps each organisation's state, 25 to a request. Whole-item puts: the latest run
// wins.
func (s *Store) RecordOrgs(ctx context.Context, campaign string, orgs []Org, expires time.Time) error {
	items := make([]map[string]types.AttributeValue, 0, len(orgs))
	for _, o := range orgs {
		it := map[string]types.AttributeValue{
			"PK": pk(campaign), "SK": store.S("ORG#" + o.ODS), "type": store.S("progress-org"),
			"ods": store.S(o.ODS), "as_of": store.S(o.AsOf.String()),
			"affected": &types.AttributeValueMemberBOOL{Value: o.Affected}, "accounts": store.N(int64(o.Accounts)),
		}
		for k, v := range map[string]string{"name": o.Name, "stage": o.Stage, "status": o.Status, "skipped": o.Skipped} {
			if v != "" {
				it[k] = store.S(v)
			}
		}
		if !o.LastSeen.IsZero() {
			it["last_seen"] = store.S(o.LastSeen.String())
		}
		if !o.LastNotice.IsZero() {
			it["last_notice"] = store.S(o.LastNotice.String())
		}
		if !expires.IsZero() {
			it["expires_at"] = store.TTL(expires)
		}
		items = append(items, it)
	}
	if err := store.BatchPut(ctx, s.db, s.table, items); err != nil {
		return fmt.Errorf("record progress of %d organisations of %s: %w", len(orgs), campaign, err)
	}
	return nil
}

// Days lists the recorded days, oldest first.
func (s *Store) Days(ctx context.Context, campaign string) ([]Day, error) {
	var out []Day
	err := s.query(ctx, campaign, "DAY#", func(it map[string]types.AttributeValue) error {
		d, err := calendar.Parse(store.Str(it["date"]))
		if err != nil {
			return err
		}
		out = append(out, Day{At: d, Affected: num(it["affected_organisations"]), AffectedAccounts: num(it["affected_accounts"]),
			Notified: num(it["notified_organisations"]), Fixed: num(it["fixed_organisations"]), Unassigned: num(it["unassigned_accounts"])})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read progress of %s: %w", campaign, err)
	}
	return out, nil
}

// Orgs lists every organisation a run recorded, in ODS order, each as the latest run that
// looked at it saw it.
func (s *Store) Orgs(ctx context.Context, campaign string) ([]Org, error) {
	var out []Org
	err := s.query(ctx, campaign, "ORG#", func(it map[string]types.AttributeValue) error {
		o := Org{ODS: store.Str(it["ods"]), Name: store.Str(it["name"]), Accounts: num(it["accounts"]),
			Stage: store.Str(it["stage"]), Status: store.Str(it["status"]), Skipped: store.Str(it["skipped"])}
		if b, ok := it["affected"].(*types.AttributeValueMemberBOOL); ok {
			o.Affected = b.Value
		}
		var err error
		if o.AsOf, err = calendar.Parse(store.Str(it["as_of"])); err != nil {
			return err
		}
		if v := store.Str(it["last_notice"]); v != "" {
			if o.LastNotice, err = calendar.Parse(v); err != nil {
				return err
			}
		}
		if v := store.Str(it["last_seen"]); v != "" {
			if o.LastSeen, err = calendar.Parse(v); err != nil {
				return err
			}
		}
		out = append(out, o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read organisations' progress of %s: %w", campaign, err)
	}
	return out, nil
}

func (s *Store) query(ctx context.Context, campaign, prefix string, fn func(map[string]types.AttributeValue) error) error {
	return store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": pk(campaign), ":p": store.S(prefix)},
	}, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	})
}

func num(v types.AttributeValue) int {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		i, _ := strconv.Atoi(strings.TrimSpace(n.Value))
		return i
	}
	return 0
}

// Current reports whether o is as the latest recorded run (latest) saw it: an organisation that
// run did not look at had no account seen in its window.
func (o Org) Current(latest calendar.Date) bool { return !o.AsOf.Before(latest) }

// StillSeen is how many of its accounts were seen in the window of the latest run.
func (o Org) StillSeen(latest calendar.Date) int {
	if !o.Current(latest) || !o.Affected {
		return 0
	}
	return o.Accounts
}
