package findings

import (
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

// Item returns the whole item that the Writer's UpdateItem for f leaves in a table that did
// not hold it yet: key, index keys, the file's contribution, string sets, TTL. It is derived
// from the very UpdateItemInput that Write sends (by applying its update expression to an
// empty item), so the item format lives in one place and the two can not drift apart.
//
// It exists to seed tables in bulk (benchmarks, fixtures) with BatchWriteItem, which is many
// times faster than one UpdateItem per finding. A put replaces the whole item, so unlike Write
// it drops other files' contributions: never ingest with it.
func Item(b Batch, f connlog.Finding) (map[string]types.AttributeValue, error) {
	if b.Campaign == "" || b.Source == "" {
		return nil, fmt.Errorf("seed finding item: campaign and source are required")
	}
	in, err := (&Writer{}).update(b, &f)
	if err != nil {
		return nil, err
	}
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
			return nil, fmt.Errorf("seed item of %s: clause %q: no value %s", b.Source, clause, ref)
		}
		return v, nil
	}
	expr := aws.ToString(in.UpdateExpression)
	set, add, _ := strings.Cut(strings.TrimPrefix(expr, "SET "), " ADD ")
	for _, c := range splitTop(set) {
		name, rhs, ok := strings.Cut(c, " = ")
		if !ok {
			return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", b.Source, c)
		}
		// On an empty item if_not_exists(name, :v) is :v.
		if inner, ok := strings.CutPrefix(rhs, "if_not_exists("); ok {
			self, ref, ok := strings.Cut(strings.TrimSuffix(inner, ")"), ", ")
			if !ok || self != name {
				return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", b.Source, c)
			}
			rhs = ref
		}
		if !strings.HasPrefix(rhs, ":") {
			return nil, fmt.Errorf("seed item of %s: unsupported SET clause %q", b.Source, c)
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
				return nil, fmt.Errorf("seed item of %s: unsupported ADD clause %q", b.Source, c)
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
