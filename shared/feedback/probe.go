package feedback

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// HeaderProbe marks `sunset preflight --send-probe`'s email to SES's mailbox simulator: its SES
// events are recorded as the probe's arrival (PROBE#<token>) and change nothing else (no
// suppression, no ledger, no metric).
const HeaderProbe = "X-Sunset-Probe"

// Probes records and reads the arrival of probes' events.
type Probes struct {
	db    ProbeDB
	table string
}

// ProbeDB is the part of the DynamoDB client probes use.
type ProbeDB interface {
	store.Putter
	store.Getter
}

// NewProbes returns the probes kept in table.
func NewProbes(db ProbeDB, table string) *Probes { return &Probes{db: db, table: table} }

func probeKey(token, event string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("PROBE", token)), "SK": store.S(event)}
}

// Arrived records that SES's event of type event about probe token reached this function. The
// item expires after a day; a repeated delivery writes the same item.
func (p *Probes) Arrived(ctx context.Context, token, event string, at time.Time) error {
	item := probeKey(token, event)
	item["type"] = store.S("probe")
	item["at"] = store.S(at.UTC().Format(time.RFC3339Nano))
	item[store.TTLAttribute] = store.TTL(at.Add(24 * time.Hour))
	if _, err := p.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(p.table), Item: item}); err != nil {
		return fmt.Errorf("record probe %s %s: %w", token, event, err)
	}
	return nil
}

// Seen reports whether the feedback function has recorded an event of type event about probe
// token, and when.
func (p *Probes) Seen(ctx context.Context, token, event string) (time.Time, bool, error) {
	out, err := p.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(p.table), Key: probeKey(token, event), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read probe %s: %w", token, err)
	}
	if out.Item == nil {
		return time.Time{}, false, nil
	}
	at, _ := time.Parse(time.RFC3339Nano, store.Str(out.Item["at"]))
	return at, true, nil
}
