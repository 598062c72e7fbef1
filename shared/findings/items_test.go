package findings_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/findings/findingstest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Items are exactly what the Writer's UpdateItem leaves in an empty table, for every kind of
// finding, and a table seeded with Items reads back like one written by the Writer.
func TestItemsAreWhatWriteLeaves(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	w := findings.NewWriter(db, table)
	r := findings.NewReader(db, table)
	owners := map[string]string{"jo@nhs.net": "RX1"}
	cases := []struct {
		name string
		f    connlog.Finding
	}{
		{"attributed with sets", connlog.Finding{Account: ptr("jo@nhs.net"), Hostname: "IMAP.nhs.net", Protocol: "IMAP", Day: "2021-08-02",
			FirstSeen: at("2021-08-02T10:00:00Z"), LastSeen: at("2021-08-02T18:30:00.25Z"), Successes: 5, Failures: 1,
			ClientIPs: []string{"198.51.100.7", "203.0.113.9"}, UserAgents: []string{"Thunderbird"}, DeviceIDs: []string{"d1"}}},
		{"unassigned, direct IP, no sets", connlog.Finding{Account: ptr("stranger@nhs.net"), Hostname: "pop.nhs.net", Protocol: "POP",
			Day: "2021-08-01", FirstSeen: at("2021-08-01T11:00:00Z"), LastSeen: at("2021-08-01T11:00:00Z"), Successes: 1, DirectIP: true}},
		{"unattributed", connlog.Finding{Hostname: "mail.nhs.net", Protocol: "TLS", Day: "2021-08-01", ClientIPs: []string{"192.0.2.1"},
			FirstSeen: at("2021-08-01T23:59:59Z"), LastSeen: at("2021-08-01T23:59:59Z"), Successes: 4}},
	}
	var seeded []map[string]types.AttributeValue
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := findings.Batch{Campaign: "written", Source: "logs/a.log#v1", Owners: owners, ExpiresAt: expires}
			if _, err := w.Write(ctx, b, []connlog.Finding{c.f}); err != nil {
				t.Fatal(err)
			}
			items, err := findingstest.Items(ctx, b, []connlog.Finding{c.f})
			if err != nil || len(items) != 1 {
				t.Fatalf("Items = %d items, %v; want 1", len(items), err)
			}
			want := items[0]
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"PK": want["PK"], "SK": want["SK"]}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(plain(t, want), plain(t, out.Item), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("Item (-Item +written by Write):\n%s", diff)
			}
			b.Campaign = "seeded"
			items, err = findingstest.Items(ctx, b, []connlog.Finding{c.f})
			if err != nil {
				t.Fatal(err)
			}
			seeded = append(seeded, items...)
		})
	}
	if err := store.BatchPut(ctx, db, table, seeded); err != nil {
		t.Fatal(err)
	}
	written, err := r.Window(ctx, "written", day("2021-08-01"), day("2021-08-02"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Window(ctx, "seeded", day("2021-08-01"), day("2021-08-02"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(cases) {
		t.Errorf("Window of the seeded items: %d findings, want %d", len(got), len(cases))
	}
	if diff := cmp.Diff(written, got); diff != "" {
		t.Errorf("Window (-written +seeded):\n%s", diff)
	}
}

func TestItemsRefuseWhatWriteRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		b findings.Batch
		f connlog.Finding
	}{
		"no day":      {findings.Batch{Campaign: "c1", Source: "s"}, connlog.Finding{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP"}},
		"no campaign": {findings.Batch{Source: "s"}, connlog.Finding{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP", Day: "2021-08-01"}},
		"no source":   {findings.Batch{Campaign: "c1"}, connlog.Finding{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP", Day: "2021-08-01"}},
	} {
		t.Run(name, func(t *testing.T) {
			if it, err := findingstest.Items(context.Background(), c.b, []connlog.Finding{c.f}); err == nil {
				t.Errorf("Items = %v, want an error", it)
			}
		})
	}
}

// plain is an item as Go values, for a readable diff.
func plain(t *testing.T, it map[string]types.AttributeValue) map[string]any {
	t.Helper()
	var m map[string]any
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
