// Package findingstest seeds a table with findings in bulk, for benchmarks and fixtures (like
// httptest for net/http): items are made by the real findings.Writer, never by hand.
package findingstest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
)

// Items returns the whole items that Writer.Write of fs leaves in a table that holds none of
// them: key, index keys, the file's contribution, string sets, TTL. It runs the real Writer
// against a table stand-in that applies each UpdateItem's expression to an empty item, so the
// item format lives in the Writer alone and the two can not drift apart.
//
// It exists to seed tables in bulk (benchmarks, fixtures) with BatchWriteItem, which is many
// times faster than one UpdateItem per finding. A put replaces the whole item, so unlike Write
// it drops other files' contributions: never ingest with it.
func Items(ctx context.Context, b findings.Batch, fs []connlog.Finding) ([]map[string]types.AttributeValue, error) {
	c := &collector{}
	if _, err := findings.NewWriter(c, "seed").Write(ctx, b, fs); err != nil {
		return nil, err
	}
	return c.items, nil
}

// collector is the table Items writes to: it keeps the item each UpdateItem would create.
type collector struct {
	mu    sync.Mutex
	items []map[string]types.AttributeValue
}

func (c *collector) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	it, err := itemOf(in)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, it)
	return &dynamodb.UpdateItemOutput{}, nil
}

func (c *collector) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return nil, errors.New("findingstest: Write put an item; Items derives items from updates only")
}

// itemOf applies in's update expression to an empty item.
func itemOf(in *dynamodb.UpdateItemInput) (map[string]types.AttributeValue, error) {
	src := fmt.Sprint(in.Key["PK"], in.Key["SK"])
	item := maps.Clone(in.Key)
	attr := func(name string) string {
		if strings.HasPrefix(name, "#") {
			return in.ExpressionAttributeNames[name]
		}
		return name
	}
	val := func(clause, ref string) (types.AttributeValue, error) {
		v, ok := in.ExpressionAttributeValues[ref]
		if !ok {
			return nil, fmt.Errorf("seed item of %s: clause %q: no value %s", src, clause, ref)
		}
		return v, nil
	}
	expr := aws.ToString(in.UpdateExpression)
	set, add, _ := strings.Cut(strings.TrimPrefix(expr, "SET "), " ADD ")
	for _, c := range splitTop(set) {
		name, rhs, ok := strings.Cut(c, " = ")
		if !ok {
			return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", src, c)
		}
		// On an empty item if_not_exists(name, :v) is :v.
		if inner, ok := strings.CutPrefix(rhs, "if_not_exists("); ok {
			self, ref, ok := strings.Cut(strings.TrimSuffix(inner, ")"), ", ")
			if !ok || self != name {
				return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", src, c)
			}
			rhs = ref
		}
		if !strings.HasPrefix(rhs, ":") {
			return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", src, c)
		}
		v, err := val(c, rhs)
		if err != nil {
			return nil, err
		}
		item[attr(name)] = v
	}
	if add != "" {
		// ADD of a set (or number) to an absent attribute is the set (the number) itself.
		for _, c := range splitTop(add) {
			name, ref, ok := strings.Cut(c, " ")
			if !ok || !strings.HasPrefix(ref, ":") {
				return nil, fmt.Errorf("seed item of %s: unsupported ADD clause %q", src, c)
			}
			v, err := val(c, ref)
			if err != nil {
				return nil, err
			}
			item[attr(name)] = v
		}
	}
	return item, nil
}

// splitTop splits the clauses of one update action at the commas outside parentheses.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(s[start:]); rest != "" {
		out = append(out, rest)
	}
	return out
}
