package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Names fixed by template.yaml.
const (
	GSI1         = "GSI1"
	GSI2         = "GSI2"
	TTLAttribute = "expires_at"
)

// Key joins key parts with '#', the separator used by every key in the table.
func Key(parts ...string) string { return strings.Join(parts, "#") }

// S and N build attribute values.
func S(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

// N builds a number attribute.
func N(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// TTL is the expires_at value for t.
func TTL(t time.Time) types.AttributeValue { return N(t.Unix()) }

// IsConditionFailed reports whether err is a failed condition expression: the outcome a
// conditional write uses to say "someone got here first".
func IsConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// The table's operations, one interface each, declared once: every package's DB is the set of
// these it uses (a consumer's interface, built from the same parts), and Table is all of them.

// Getter reads one item.
type Getter interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Putter writes one item.
type Putter interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Updater updates one item.
type Updater interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Deleter deletes one item.
type Deleter interface {
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// Table is every operation Sunset makes on its table: what the planner and the API are given.
type Table interface {
	Getter
	Putter
	Updater
	Deleter
	Querier
	BatchGetter
	BatchWriter
}

// Querier is the part of the DynamoDB client that reads by key.
type Querier interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// QueryAll runs a query page by page, handing each page's items to fn.
func QueryAll(ctx context.Context, db Querier, in *dynamodb.QueryInput, fn func([]map[string]types.AttributeValue) error) error {
	p := dynamodb.NewQueryPaginator(db, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("query %s: %w", describe(in), err)
		}
		if err := fn(page.Items); err != nil {
			return err
		}
	}
	return nil
}

func describe(in *dynamodb.QueryInput) string {
	s := aws.ToString(in.TableName)
	if in.IndexName != nil {
		s += "/" + *in.IndexName
	}
	return s
}

// BatchWriter is the part of the DynamoDB client that writes in batches.
type BatchWriter interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// maxBatch is DynamoDB's limit of items in one BatchWriteItem.
const maxBatch = 25

// BatchPut writes items in batches of 25, retrying the unprocessed ones with backoff (the
// SDK retries whole-request throttling itself; unprocessed items are a partial success it
// leaves to us).
func BatchPut(ctx context.Context, db BatchWriter, table string, items []map[string]types.AttributeValue) error {
	for start := 0; start < len(items); start += maxBatch {
		end := min(start+maxBatch, len(items))
		reqs := make([]types.WriteRequest, 0, end-start)
		for _, it := range items[start:end] {
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
		}
		if err := writeBatch(ctx, db, table, reqs); err != nil {
			return err
		}
	}
	return nil
}

func writeBatch(ctx context.Context, db BatchWriter, table string, reqs []types.WriteRequest) error {
	return untilProcessed(ctx, "batch write to "+table, len(reqs), func() (int, error) {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs},
		})
		if err != nil {
			return 0, fmt.Errorf("batch write %d items to %s: %w", len(reqs), table, err)
		}
		reqs = out.UnprocessedItems[table]
		return len(reqs), nil
	})
}

// BatchGetter is the part of the DynamoDB client that reads in batches.
type BatchGetter interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// maxBatchGet is DynamoDB's limit of keys in one BatchGetItem.
const maxBatchGet = 100

// BatchGet reads keys 100 at a time, retrying unprocessed keys with backoff, and hands each
// item found to fn (in no particular order; missing keys are simply absent). projection, when
// not empty, is the ProjectionExpression.
func BatchGet(ctx context.Context, db BatchGetter, table string, keys []map[string]types.AttributeValue, projection string, fn func(map[string]types.AttributeValue) error) error {
	return batchGet(ctx, db, table, keys, projection, false, fn)
}

// BatchGetConsistent is BatchGet with strongly consistent reads of whole items: what a
// conditional write that follows must have seen.
func BatchGetConsistent(ctx context.Context, db BatchGetter, table string, keys []map[string]types.AttributeValue, fn func(map[string]types.AttributeValue) error) error {
	return batchGet(ctx, db, table, keys, "", true, fn)
}

func batchGet(ctx context.Context, db BatchGetter, table string, keys []map[string]types.AttributeValue, projection string, consistent bool, fn func(map[string]types.AttributeValue) error) error {
	for start := 0; start < len(keys); start += maxBatchGet {
		pending := keys[start:min(start+maxBatchGet, len(keys))]
		err := untilProcessed(ctx, "batch get from "+table, len(pending), func() (int, error) {
			ka := types.KeysAndAttributes{Keys: pending}
			if consistent {
				ka.ConsistentRead = aws.Bool(true)
			}
			if projection != "" {
				ka.ProjectionExpression = aws.String(projection)
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{table: ka},
			})
			if err != nil {
				return 0, fmt.Errorf("batch get %d items from %s: %w", len(pending), table, err)
			}
			for _, it := range out.Responses[table] {
				if err := fn(it); err != nil {
					return 0, err
				}
			}
			pending = out.UnprocessedKeys[table].Keys
			return len(pending), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// untilProcessed calls try until it reports nothing left unprocessed, backing off between
// attempts: a batch call's partial success, which the SDK retryer leaves to its caller.
func untilProcessed(ctx context.Context, what string, pending int, try func() (left int, err error)) error {
	backoff := 25 * time.Millisecond
	for attempt := 0; pending > 0; attempt++ {
		left, err := try()
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		if attempt == 10 {
			return fmt.Errorf("%s: %d items still unprocessed after %d attempts", what, left, attempt+1)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// Str is the string held by v, "" when v is absent or not a string.
func Str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// MaxItemBytes is DynamoDB's limit on one item (attribute names and values together).
const MaxItemBytes = 400 * 1024

// ItemSize is the size DynamoDB counts for item: every attribute's name and value, as its
// documentation sizes them (a string or binary its bytes, a number one byte a two significant
// digits plus up to two, a boolean or null one byte, a list or map 3 bytes plus one a member
// plus its members, a map's member names counted too). Numbers are counted at their largest,
// so ItemSize is never under DynamoDB's own count (store_test holds it to dynalite's).
func ItemSize(item map[string]types.AttributeValue) int {
	n := 0
	for name, v := range item {
		n += len(name) + ValueSize(v)
	}
	return n
}

// ValueSize is the size DynamoDB counts for one attribute value (see ItemSize).
func ValueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + ValueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + ValueSize(e)
		}
		return n
	}
	return 0
}

// numberSize is a number's size at its largest: one byte a two significant digits, plus two.
func numberSize(n string) int {
	digits := strings.Trim(strings.NewReplacer("-", "", "+", "", ".", "").Replace(strings.ToLower(strings.SplitN(strings.ToLower(n), "e", 2)[0])), "0")
	if digits == "" {
		return 1
	}
	return 2 + (len(digits)+1)/2
}

// Equal reports whether two attribute values are the same value (sets in any order).
func Equal(a, b types.AttributeValue) bool {
	switch a := a.(type) {
	case *types.AttributeValueMemberS:
		b, ok := b.(*types.AttributeValueMemberS)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberN:
		b, ok := b.(*types.AttributeValueMemberN)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberBOOL:
		b, ok := b.(*types.AttributeValueMemberBOOL)
		return ok && a.Value == b.Value
	case *types.AttributeValueMemberSS:
		b, ok := b.(*types.AttributeValueMemberSS)
		if !ok || len(a.Value) != len(b.Value) {
			return false
		}
		in := make(map[string]bool, len(a.Value))
		for _, s := range a.Value {
			in[s] = true
		}
		for _, s := range b.Value {
			if !in[s] {
				return false
			}
		}
		return true
	}
	return false
}
