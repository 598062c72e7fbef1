package ledger

import (
	"context"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// A notice's account rows are bounded so that no item passes DynamoDB's 400 KB: each row's
// strings are clipped (clipRow), the notice item keeps rows up to headRowBytes, and the rest go
// to row parts of up to partRowBytes each (docs/data-model.md, "Notice"). The budgets leave the
// notice item room for its recipients, digest, brownout and every later update (resends,
// outcomes); they are variables so tests can make parts of a few rows.
var (
	headRowBytes = 200 * 1024
	partRowBytes = 300 * 1024
)

// Bounds of the strings of one account row: an address is at most 254 bytes (RFC 5321); the
// client details are evidence to recognise a device by, never whole log fields.
const (
	maxAccountBytes   = 320
	maxHostnameBytes  = 253
	maxProtocolBytes  = 32
	maxUserAgentBytes = 256
	maxDeviceIDBytes  = 128
	maxClientIPBytes  = 64
)

// clipRow is a with every string cut to its bound (at a rune boundary, an ellipsis added).
func clipRow(a Account) Account {
	a.Account = clip(a.Account, maxAccountBytes)
	a.Hostname = clip(a.Hostname, maxHostnameBytes)
	a.Protocol = clip(a.Protocol, maxProtocolBytes)
	a.UserAgents = clipAll(a.UserAgents, maxUserAgentBytes)
	a.DeviceIDs = clipAll(a.DeviceIDs, maxDeviceIDBytes)
	a.ClientIPs = clipAll(a.ClientIPs, maxClientIPBytes)
	return a
}

func clipAll(in []string, n int) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = clip(s, n)
	}
	return out
}

// clip is s cut to at most n bytes, whole runes, ending in "…" when cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// rowSplit is a notice's rows as stored: those on the notice item, and the parts of the rest.
type rowSplit struct {
	head  []types.AttributeValue
	parts [][]types.AttributeValue
}

// splitRows marshals each row (clipped) and fills the notice item to headRowBytes, then parts.
func splitRows(n Notice) (rowSplit, error) {
	var s rowSplit
	size, cur := 0, &s.head
	budget := headRowBytes
	for _, a := range n.Accounts {
		av, err := attributevalue.MarshalWithOptions(clipRow(a), func(o *attributevalue.EncoderOptions) { o.TagKey = "json" })
		if err != nil {
			return rowSplit{}, fmt.Errorf("notice %s/%s/%s accounts: %w", n.Campaign, n.Org, n.Stage, err)
		}
		sz := 1 + store.ValueSize(av)
		if size+sz > budget && len(*cur) > 0 {
			s.parts = append(s.parts, nil)
			cur, size, budget = &s.parts[len(s.parts)-1], 0, partRowBytes
		}
		*cur = append(*cur, av)
		size += sz
	}
	return s, nil
}

// rowsPrefix is the sort-key prefix of the row parts of one claim of a stage: the claim's
// token keeps the parts of a claim that lost (or a crashed one) apart from the winner's.
func rowsPrefix(stage, token string) string { return store.Key("ROWS", stage, token) + "#" }

// putRows writes a notice's row parts (before its item, so an item never names parts that are
// not there) and returns their keys.
func (l *Ledger) putRows(ctx context.Context, n Notice, token string, parts [][]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	var keys []map[string]types.AttributeValue
	for i, rows := range parts {
		key := map[string]types.AttributeValue{"PK": store.S(pk(n.Campaign, n.Org)), "SK": store.S(rowsPrefix(n.Stage, token) + fmt.Sprintf("%04d", i+1))}
		item := map[string]types.AttributeValue{"type": store.S("notice-rows"), "accounts": &types.AttributeValueMemberL{Value: rows}}
		for k, v := range key {
			item[k] = v
		}
		if !n.ExpiresAt.IsZero() {
			item[store.TTLAttribute] = store.TTL(n.ExpiresAt)
		}
		if _, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(l.table), Item: item}); err != nil {
			return keys, fmt.Errorf("notice %s/%s/%s rows part %d: %w", n.Campaign, n.Org, n.Stage, i+1, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// dropRows deletes row parts of a claim that did not win. A failure leaves parts no notice
// names (they expire with the campaign), so it is not an error.
func (l *Ledger) dropRows(ctx context.Context, keys []map[string]types.AttributeValue) {
	for _, k := range keys {
		_, _ = l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(l.table), Key: k})
	}
}

// putNotice writes notice n's item (and first its row parts) with the condition that the stage
// has no entry yet; it returns false when it has one.
func (l *Ledger) putNotice(ctx context.Context, n Notice, what, token string) (bool, error) {
	item, err := l.item(n)
	if err != nil {
		return false, err
	}
	item["claim_token"] = store.S(token)
	split, err := splitRows(n)
	if err != nil {
		return false, err
	}
	item["accounts"] = &types.AttributeValueMemberL{Value: split.head}
	item["account_rows"] = store.N(int64(len(n.Accounts)))
	var keys []map[string]types.AttributeValue
	if len(split.parts) > 0 {
		token := n.ClaimedAt.Format(time.RFC3339Nano)
		item["rows_token"], item["rows_parts"] = store.S(token), store.N(int64(len(split.parts)))
		if keys, err = l.putRows(ctx, n, token, split.parts); err != nil {
			l.dropRows(ctx, keys)
			return false, err
		}
	}
	if size := store.ItemSize(item); size > store.MaxItemBytes {
		l.dropRows(ctx, keys)
		return false, fmt.Errorf("%s notice %s/%s/%s: the item would be %d bytes, over DynamoDB's %d (its recipients or digest are too long)", what, n.Campaign, n.Org, n.Stage, size, store.MaxItemBytes)
	}
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if store.IsConditionFailed(err) {
		// This call's own put, its answer lost and its retry refused, is a claim made.
		if mine, rerr := l.ours(ctx, stageKey(n.Campaign, n.Org, n.Stage), token, ""); rerr == nil && mine {
			return true, nil
		}
		l.dropRows(ctx, keys)
		return false, nil
	}
	if err != nil {
		l.dropRows(ctx, keys)
		return false, fmt.Errorf("%s notice %s/%s/%s: %w", what, n.Campaign, n.Org, n.Stage, err)
	}
	return true, nil
}

// withRows completes a notice read from item it with the rows of its parts, when it has any.
func (l *Ledger) withRows(ctx context.Context, n *Notice, it map[string]types.AttributeValue) error {
	token, parts, rows := store.Str(it["rows_token"]), number(it["rows_parts"]), number(it["account_rows"])
	if parts == 0 {
		return nil
	}
	var items []map[string]types.AttributeValue
	err := store.QueryAll(ctx, l.db, &dynamodb.QueryInput{
		TableName:              aws.String(l.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ConsistentRead:         aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": store.S(pk(n.Campaign, n.Org)), ":p": store.S(rowsPrefix(n.Stage, token)),
		},
	}, func(page []map[string]types.AttributeValue) error { items = append(items, page...); return nil })
	if err != nil {
		return fmt.Errorf("read notice %s/%s/%s rows: %w", n.Campaign, n.Org, n.Stage, err)
	}
	if len(items) != parts {
		return fmt.Errorf("read notice %s/%s/%s rows: %d parts of %d", n.Campaign, n.Org, n.Stage, len(items), parts)
	}
	for _, p := range items { // in sort-key order: part 0001 first
		var more []Account
		if err := attributevalue.UnmarshalWithOptions(p["accounts"], &more, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
			return fmt.Errorf("read notice %s/%s/%s rows %s: %w", n.Campaign, n.Org, n.Stage, store.Str(p["SK"]), err)
		}
		n.Accounts = append(n.Accounts, more...)
	}
	if len(n.Accounts) != rows {
		return fmt.Errorf("read notice %s/%s/%s rows: %d rows of %d", n.Campaign, n.Org, n.Stage, len(n.Accounts), rows)
	}
	return nil
}

// number is a number attribute's value (0 when absent).
func number(v types.AttributeValue) int {
	n, _ := v.(*types.AttributeValueMemberN)
	if n == nil {
		return 0
	}
	i, _ := strconv.Atoi(n.Value)
	return i
}
