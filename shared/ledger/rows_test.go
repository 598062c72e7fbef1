package ledger

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// bigNotice is a notice to a large organisation: rows accounts, each with the evidence a
// notice shows at its caps (5 user agents, 10 device ids, 10 addresses), some of it far longer
// than a row keeps.
func bigNotice(org string, rows int) Notice {
	n := notice(org, "advance", "2021-07-27")
	n.Accounts = nil
	for i := range rows {
		a := Account{Account: fmt.Sprintf("user.%05d@nhs.net", i), Hostname: "imap.nhs.net", Protocol: "IMAP",
			LastSeen: time.Date(2021, 7, 20, 10, 0, 0, 0, time.UTC), Successes: int64(i), Failures: 1}
		for j := range 5 {
			a.UserAgents = append(a.UserAgents, fmt.Sprintf("Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.%d; Pro) %s", j, strings.Repeat("x", 40)))
		}
		for j := range 10 {
			a.DeviceIDs = append(a.DeviceIDs, fmt.Sprintf("ApplF17XK0QWJC6%02d", j))
			a.ClientIPs = append(a.ClientIPs, fmt.Sprintf("2001:db8:%x::%x", i, j))
		}
		if i == 7 {
			a.UserAgents[0] = strings.Repeat("é", 5000) // a hostile agent: clipped whole-rune
		}
		n.Accounts = append(n.Accounts, a)
	}
	return n
}

// partition is every item of one organisation's notices, raw.
func partition(t *testing.T, db *dynamodb.Client, table, org string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	err := store.QueryAll(context.Background(), db, &dynamodb.QueryInput{TableName: aws.String(table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(pk("c1", org))}},
		func(page []map[string]types.AttributeValue) error { items = append(items, page...); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// A notice to a national-scale organisation (5,000 accounts, about 3 MB of rows) is claimed in
// items that each stay under DynamoDB's 400 KB: the notice item and row parts. Get, History and
// List read every row back in order.
func TestLargeNoticeIsStoredInBoundedItems(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	n := bigNotice("RX9", 5000)
	if ok, err := l.Claim(ctx, n); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	items := partition(t, db, table, "RX9")
	parts, total := 0, 0
	for _, it := range items {
		size := store.ItemSize(it)
		if size > store.MaxItemBytes {
			t.Errorf("item %s is %d bytes", store.Str(it["SK"]), size)
		}
		if store.Str(it["type"]) == "notice-rows" {
			parts++
		}
		total += size
		t.Logf("%-12s %7d bytes", store.Str(it["type"]), size)
	}
	t.Logf("5,000 rows: %d items, %d KB in all", len(items), total>>10)
	if parts < 5 {
		t.Errorf("%d row parts for 5,000 rows, want them spread over several", parts)
	}
	got, err := l.Get(ctx, "c1", "RX9", "advance")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 5000 {
		t.Fatalf("Get: %d rows, want 5000", len(got.Accounts))
	}
	for i, a := range got.Accounts {
		if a.Account != n.Accounts[i].Account {
			t.Fatalf("row %d is %s, want %s: rows out of order", i, a.Account, n.Accounts[i].Account)
		}
	}
	if ua := got.Accounts[7].UserAgents[0]; len(ua) > maxUserAgentBytes || !strings.HasSuffix(ua, "…") || !strings.HasPrefix(ua, "éé") {
		t.Errorf("a 10,000-byte user agent is kept as %d bytes %q…, want clipped at %d whole runes", len(ua), ua[:10], maxUserAgentBytes)
	}
	list, err := l.List(ctx, "c1")
	if err != nil || len(list) != 1 || len(list[0].Accounts) != 5000 {
		t.Fatalf("List: %d notices, %v", len(list), err)
	}
	hist, err := l.History(ctx, "c1", "RX9")
	if err != nil || len(hist) != 1 || len(hist[0].Accounts) != 5000 {
		t.Fatalf("History: %d notices, %v (parts must not read as notices)", len(hist), err)
	}
}

// A claim that loses (the stage was claimed on an earlier day) leaves no row parts behind, and
// the winner's rows are the ones read.
func TestLosingClaimLeavesNoRows(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	defer func(h, p int) { headRowBytes, partRowBytes = h, p }(headRowBytes, partRowBytes)
	headRowBytes, partRowBytes = 4096, 8192
	now := time.Date(2021, 7, 27, 7, 0, 0, 0, time.UTC)
	l := New(db, table, func() time.Time { return now })
	first := bigNotice("RX8", 40)
	if ok, err := l.Claim(ctx, first); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	before := len(partition(t, db, table, "RX8"))
	now = now.Add(24 * time.Hour)
	again := bigNotice("RX8", 60)
	again.PlannedFor = day("2021-07-28")
	if ok, err := l.Claim(ctx, again); ok || err != nil {
		t.Fatalf("second claim of the stage: %v %v, want refused", ok, err)
	}
	if after := len(partition(t, db, table, "RX8")); after != before {
		t.Errorf("%d items after the losing claim, %d before: its rows were left behind", after, before)
	}
	got, err := l.Get(ctx, "c1", "RX8", "advance")
	if err != nil || len(got.Accounts) != 40 {
		t.Fatalf("Get: %v rows, %v; want the winner's 40", len(got.Accounts), err)
	}
}
