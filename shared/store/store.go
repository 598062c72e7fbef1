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
	backoff := 25 * time.Millisecond
	for attempt := 0; len(reqs) > 0; attempt++ {
		out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{table: reqs},
		})
		if err != nil {
			return fmt.Errorf("batch write %d items to %s: %w", len(reqs), table, err)
		}
		reqs = out.UnprocessedItems[table]
		if len(reqs) == 0 {
			return nil
		}
		if attempt == 10 {
			return fmt.Errorf("batch write to %s: %d items still unprocessed after %d attempts", table, len(reqs), attempt+1)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("batch write to %s: %w", table, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}
