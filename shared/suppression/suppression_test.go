package suppression_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func TestAddSuppressedAll(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	now := time.Date(2021, 8, 1, 9, 0, 0, 0, time.UTC)
	l := suppression.New(db, table, func() time.Time { return now })

	if err := l.Add(ctx, "  LA1@Example.NHS.net ", suppression.Bounce, "smtp; 550 5.1.1 user unknown"); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(ctx, "pla@example.nhs.net", suppression.Complaint, ""); err != nil {
		t.Fatal(err)
	}
	// Adding again keeps one entry, with the latest reason.
	if err := l.Add(ctx, "pla@example.nhs.net", suppression.Bounce, "again"); err != nil {
		t.Fatal(err)
	}
	if err := l.Add(ctx, " ", suppression.Bounce, ""); err == nil {
		t.Error("Add of an empty address succeeded")
	}

	tests := []struct {
		name  string
		addrs []string
		want  map[string]bool
	}{
		{"none", nil, map[string]bool{}},
		{"case-insensitive", []string{"la1@example.nhs.net", "LA1@EXAMPLE.NHS.NET", "ok@example.nhs.net"},
			map[string]bool{"la1@example.nhs.net": true, "LA1@EXAMPLE.NHS.NET": true, "ok@example.nhs.net": false}},
		{"empty address is not suppressed", []string{""}, map[string]bool{"": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Suppressed(ctx, tt.addrs)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("Suppressed (-want +got):\n%s", d)
			}
		})
	}

	all, err := l.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []suppression.Entry{
		{Address: "la1@example.nhs.net", Reason: "bounce", At: now, Detail: "smtp; 550 5.1.1 user unknown"},
		{Address: "pla@example.nhs.net", Reason: "bounce", At: now, Detail: "again"},
	}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("All (-want +got):\n%s", d)
	}
}

// More than one BatchGetItem's worth of addresses (100 keys) is checked in several batches.
func TestSuppressedManyAddresses(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	l := suppression.New(db, table, time.Now)
	var addrs []string
	for i := range 230 {
		a := fmt.Sprintf("user%03d@example.nhs.net", i)
		addrs = append(addrs, a)
		if i%7 == 0 {
			if err := l.Add(ctx, a, suppression.Complaint, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := l.Suppressed(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(addrs) {
		t.Fatalf("got %d answers, want %d", len(got), len(addrs))
	}
	for i, a := range addrs {
		if got[a] != (i%7 == 0) {
			t.Errorf("%s suppressed = %v, want %v", a, got[a], i%7 == 0)
		}
	}
}

// countingDB counts the requests the list makes, by operation.
type countingDB struct {
	suppression.DB
	batches, queries int
}

func (c *countingDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.batches++
	return c.DB.BatchGetItem(ctx, in, optFns...)
}

func (c *countingDB) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.queries++
	return c.DB.Query(ctx, in, optFns...)
}

// A list no longer than the addresses asked about is answered by one read of the list; a longer
// one by a look-up per address (after that read finds it longer). Both give the same answers,
// whatever the case of the addresses asked about.
func TestSuppressedSmallAndLargeLists(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	seed := suppression.New(db, table, time.Now)
	for i := range 40 {
		if err := seed.Add(ctx, fmt.Sprintf("listed%02d@example.nhs.net", i), suppression.Bounce, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name             string
		ask              int // addresses asked about: the first half listed, the rest not
		queries, batches int
	}{
		{"list shorter than the ask", 60, 1, 0},
		{"list as long as the ask", 40, 1, 0},
		{"list longer than the ask", 10, 1, 1},
		{"one address", 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &countingDB{DB: db}
			l := suppression.New(c, table, time.Now)
			var addrs []string
			want := map[string]bool{}
			for i := range tc.ask {
				a := fmt.Sprintf("LISTED%02d@Example.nhs.net", i)
				if i >= tc.ask/2 {
					a = fmt.Sprintf("other%02d@example.nhs.net", i)
				}
				addrs = append(addrs, a)
				want[a] = i < tc.ask/2 && i < 40
			}
			got, err := l.Suppressed(ctx, addrs)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Suppressed (-want +got):\n%s", d)
			}
			if c.queries != tc.queries || c.batches != tc.batches {
				t.Errorf("requests: %d queries, %d batched reads; want %d and %d", c.queries, c.batches, tc.queries, tc.batches)
			}
		})
	}
}
