package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// The claim pattern every "at most once" in Sunset rests on: the first conditional put wins,
// the second fails with ConditionalCheckFailedException, classified with errors.As.
func TestConditionalPutClaimsOnce(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	put := func() error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(table),
			Item: map[string]types.AttributeValue{
				"PK": store.S(store.Key("NOTICE", "c1", "RX1")), "SK": store.S("STAGE#advance"),
				"status": store.S("claimed"),
			},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		})
		return err
	}
	if err := put(); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	err := put()
	if err == nil {
		t.Fatal("second claim succeeded; want ConditionalCheckFailedException")
	}
	if !store.IsConditionFailed(err) {
		t.Fatalf("second claim: %v; want it classified as a failed condition", err)
	}
	if store.IsConditionFailed(fmt.Errorf("wrapped: %w", context.Canceled)) {
		t.Fatal("an unrelated error was classified as a failed condition")
	}
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"PK": store.S("NOTICE#c1#RX1"), "SK": store.S("STAGE#advance"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Item["status"].(*types.AttributeValueMemberS).Value; got != "claimed" {
		t.Fatalf("status = %q, want claimed", got)
	}
}

// BatchPut writes more than one batch; QueryAll reads them back over several pages of a GSI.
func TestBatchPutAndQueryAllPages(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	const n = 60
	var items []map[string]types.AttributeValue
	for i := range n {
		items = append(items, map[string]types.AttributeValue{
			"PK": store.S(fmt.Sprintf("ORG#X%03d", i)), "SK": store.S("META"),
			"GSI1PK": store.S("ORGS"), "GSI1SK": store.S(fmt.Sprintf("X%03d", i)),
		})
	}
	if err := store.BatchPut(ctx, db, table, items); err != nil {
		t.Fatal(err)
	}
	pages, got := 0, 0
	err := store.QueryAll(ctx, db, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S("ORGS")},
		Limit:                     aws.Int32(25),
	}, func(page []map[string]types.AttributeValue) error {
		pages++
		got += len(page)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != n || pages < 3 {
		t.Fatalf("read %d items in %d pages, want %d items in at least 3 pages", got, pages, n)
	}
}

// ItemSize is never under DynamoDB's count, and close to it: an item of a list of maps (the
// shape of a notice's rows) just under MaxItemBytes by ItemSize is stored; one 1% over is
// refused.
func TestItemSizeMatchesTheLimit(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	item := func(rows int, pad int) map[string]types.AttributeValue {
		var l []types.AttributeValue
		for i := range rows {
			l = append(l, &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"account": store.S(fmt.Sprintf("user%05d@example.nhs.net", i)), "successes": store.N(int64(i * 37)),
				"user_agents": &types.AttributeValueMemberL{Value: []types.AttributeValue{store.S("Apple-iPhone13C2/1805.436")}},
				"direct_ip":   &types.AttributeValueMemberBOOL{Value: i%2 == 0},
			}})
		}
		return map[string]types.AttributeValue{"PK": store.S("SIZE#" + localstacktest.Unique()), "SK": store.S("x"),
			"rows": &types.AttributeValueMemberL{Value: l}, "pad": store.S(string(make([]byte, pad)))}
	}
	base := item(3000, 0)
	room := store.MaxItemBytes - store.ItemSize(base)
	if room < 1000 {
		t.Fatalf("the base item is %d bytes already", store.ItemSize(base))
	}
	for _, tc := range []struct {
		pad int
		ok  bool
	}{{room - 1, true}, {room + store.MaxItemBytes/100, false}} {
		it := item(3000, tc.pad)
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: it})
		if (err == nil) != tc.ok {
			t.Errorf("an item of %d bytes by ItemSize (limit %d): stored %v, want %v (%v)", store.ItemSize(it), store.MaxItemBytes, err == nil, tc.ok, err)
		}
	}
}
