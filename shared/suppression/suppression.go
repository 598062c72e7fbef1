package suppression

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Reasons an address is suppressed.
const (
	Bounce    = "bounce"
	Complaint = "complaint"
)

// DB is the part of the DynamoDB client the list uses.
type DB interface {
	store.BatchGetter
	store.Putter
	store.Querier
}

// Entry is one suppressed address.
type Entry struct {
	Address string    `json:"address"`
	Reason  string    `json:"reason"`
	At      time.Time `json:"at"`
	Detail  string    `json:"detail,omitempty"`
}

// List is the suppression list in the Sunset table.
type List struct {
	db    DB
	table string
	clock func() time.Time
}

// New returns the suppression list kept in table.
func New(db DB, table string, clock func() time.Time) *List {
	if clock == nil {
		clock = time.Now
	}
	return &List{db: db, table: table, clock: clock}
}

// normalise is the key form of an address: trimmed and lower-cased, like every account key.
func normalise(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

func key(addr string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": store.S(store.Key("SUPPRESS", addr)),
		"SK": store.S("META"),
	}
}

// maxBatchGet is DynamoDB's limit of keys in one BatchGetItem.
const maxBatchGet = 100

// Suppressed reports which of addrs are on the list. The map holds every address asked about
// (as given), true when it is suppressed; comparison ignores case.
func (l *List) Suppressed(ctx context.Context, addrs []string) (map[string]bool, error) {
	out := make(map[string]bool, len(addrs))
	byKey := map[string][]string{} // normalised -> the spellings asked for
	var keys []string
	for _, a := range addrs {
		out[a] = false
		n := normalise(a)
		if n == "" {
			continue
		}
		if _, seen := byKey[n]; !seen {
			keys = append(keys, n)
		}
		byKey[n] = append(byKey[n], a)
	}
	if len(keys) == 0 {
		return out, nil
	}
	listed, whole, err := l.upTo(ctx, len(keys))
	if err != nil {
		return nil, fmt.Errorf("check suppression of %d addresses: %w", len(keys), err)
	}
	if whole {
		for _, k := range listed {
			for _, a := range byKey[k] {
				out[a] = true
			}
		}
		return out, nil
	}
	for start := 0; start < len(keys); start += maxBatchGet {
		chunk := keys[start:min(start+maxBatchGet, len(keys))]
		req := make([]map[string]types.AttributeValue, 0, len(chunk))
		for _, k := range chunk {
			req = append(req, key(k))
		}
		found, err := l.batchGet(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("check suppression of %d addresses: %w", len(chunk), err)
		}
		for _, it := range found {
			if s, ok := it["GSI1SK"].(*types.AttributeValueMemberS); ok {
				for _, a := range byKey[s.Value] {
					out[a] = true
				}
			}
		}
	}
	return out, nil
}

// upTo reads at most n addresses of the list in one request, and whether that was the whole
// list. A list no longer than the addresses asked about (the usual case: a campaign has a few
// bounces, a chunk of notices dozens of recipients) is answered by this one small read instead
// of a look-up per address. Both reads are eventually consistent, as DynamoDB's BatchGetItem and
// index reads are by default: an address suppressed in the last moment may be missed either way.
func (l *List) upTo(ctx context.Context, n int) ([]string, bool, error) {
	out, err := l.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S("SUPPRESSED")},
		ProjectionExpression:      aws.String("GSI1SK"),
		Limit:                     aws.Int32(int32(min(n, 1000) + 1)), // a page that reaches its Limit has a LastEvaluatedKey
	})
	if err != nil {
		return nil, false, err
	}
	if len(out.LastEvaluatedKey) > 0 {
		return nil, false, nil
	}
	listed := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		listed = append(listed, store.Str(it["GSI1SK"]))
	}
	return listed, true, nil
}

// batchGet reads keys, projecting only the normalised address (GSI1SK).
func (l *List) batchGet(ctx context.Context, keys []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	err := store.BatchGet(ctx, l.db, l.table, keys, "GSI1SK", func(it map[string]types.AttributeValue) error {
		items = append(items, it)
		return nil
	})
	return items, err
}

// Add puts addr on the list. Adding an address again overwrites its reason, time and detail
// with the latest: the list says why it was last suppressed, and it stays suppressed.
func (l *List) Add(ctx context.Context, addr, reason, detail string) error {
	n := normalise(addr)
	if n == "" {
		return fmt.Errorf("suppress address %q: empty address", addr)
	}
	item := key(n)
	item["type"] = store.S("suppression")
	item["GSI1PK"] = store.S("SUPPRESSED")
	item["GSI1SK"] = store.S(n)
	item["reason"] = store.S(reason)
	item["at"] = store.S(l.clock().UTC().Format(time.RFC3339))
	if detail != "" {
		item["detail"] = store.S(detail)
	}
	if _, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: item}); err != nil {
		return fmt.Errorf("suppress address %s: %w", n, err)
	}
	return nil
}

// All lists every suppressed address, sorted by address.
func (l *List) All(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := store.QueryAll(ctx, l.db, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S("SUPPRESSED")},
	}, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			e := Entry{Address: store.Str(it["GSI1SK"]), Reason: store.Str(it["reason"]), Detail: store.Str(it["detail"])}
			if at, err := time.Parse(time.RFC3339, store.Str(it["at"])); err == nil {
				e.At = at
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list suppressed addresses: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out, nil
}
