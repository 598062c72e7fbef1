package campaign

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Event is a change to a campaign that is not a new version of its file: a pause, a resume, a
// cancel, an extension. Versions and events together are the campaign's history of who did
// what, when.
type Event struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	What string    `json:"what"`
}

// record keeps one event (PK=CAMPAIGN#<id>, SK=EVENT#<time>#<random>), expiring with the
// campaign's data. A failure is returned: a change whose record is lost would be a silent one.
func (s *Store) record(ctx context.Context, c *Campaign, by, what string) error {
	at := s.clock().UTC()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	item := map[string]types.AttributeValue{
		"PK":   store.S(store.Key("CAMPAIGN", c.ID)),
		"SK":   store.S(store.Key("EVENT", at.Format(time.RFC3339Nano), hex.EncodeToString(suffix))),
		"type": store.S("campaign-event"), "at": store.S(at.Format(time.RFC3339Nano)), "by": store.S(by), "what": store.S(what),
	}
	if exp := c.RetainUntil(); !exp.IsZero() {
		item[store.TTLAttribute] = store.TTL(exp)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("record %q for campaign %s: %w", what, c.ID, err)
	}
	return nil
}

// Events returns the campaign's events, oldest first.
func (s *Store) Events(ctx context.Context, id string) ([]Event, error) {
	var out []Event
	err := s.queryPrefix(ctx, id, "EVENT#", func(it map[string]types.AttributeValue) error {
		at, _ := time.Parse(time.RFC3339Nano, store.Str(it["at"]))
		out = append(out, Event{At: at, By: store.Str(it["by"]), What: store.Str(it["what"])})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of campaign %s: %w", id, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}
