package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Extension moves one organisation's deadline.
type Extension struct {
	ODS      string        `json:"ods"`
	Until    calendar.Date `json:"until"`
	Original calendar.Date `json:"original"`
	Reason   string        `json:"reason"`
	By       string        `json:"by"`
	At       time.Time     `json:"at"`
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
	original, latest, err := s.deadlines(ctx, c, ods)
	if err != nil {
		return nil, fmt.Errorf("extend campaign %s for %s: %w", id, ods, err)
	}
	if original.IsZero() {
		return refuse("%s is not on the campaign's roster", ods)
	}
	if c.MaxExtensionDays == 0 {
		return refuse("the campaign allows no extensions (max_extension_days is 0); the deadline stays %s", original.British())
	}
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
	what := fmt.Sprintf("extension: %s until %s (was %s): %s", ods, until.British(), original.British(), reason)
	return ext, s.record(ctx, c, by, what)
}

// Deadlines are an organisation's original deadline (its roster date, else the shutdown) and the
// latest date an extension may move it to (max_extension_days after it). A roster campaign's
// organisation not on its roster has zero dates.
func (s *Store) Deadlines(ctx context.Context, id, ods string) (original, latest calendar.Date, err error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return original, latest, err
	}
	return s.deadlines(ctx, r.Campaign, NormODS(ods))
}

func (s *Store) deadlines(ctx context.Context, c *Campaign, ods string) (original, latest calendar.Date, err error) {
	original = c.Shutdown
	if c.AudienceSource == SourceRoster {
		e, err := s.rosterEntry(ctx, c.ID, ods)
		if err != nil || e == nil {
			return calendar.Date{}, calendar.Date{}, err
		}
		original = e.Deadline
	}
	return original, original.AddDays(c.MaxExtensionDays), nil
}

// Deadline is an organisation's deadline now (its extension's date, when it has one) and the
// original one: two reads of its own keys, whatever the campaign's size.
func (s *Store) Deadline(ctx context.Context, id, ods string) (now, original calendar.Date, err error) {
	ods = NormODS(ods)
	if original, _, err = s.Deadlines(ctx, id, ods); err != nil {
		return now, original, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{"PK": store.S(store.Key("CAMPAIGN", id)), "SK": store.S(store.Key("EXT", ods))}})
	if err != nil {
		return now, original, fmt.Errorf("extension of %s in campaign %s: %w", ods, id, err)
	}
	now = original
	if until, err := calendar.Parse(store.Str(out.Item["until"])); err == nil && out.Item != nil {
		now = until
	}
	return now, original, nil
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
