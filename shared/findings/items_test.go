package findings_test

import (
	"context"
	"fmt"
	"strings"
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

// Items are exactly what a merge of one file leaves in an empty table (but the batch it came
// from), for every kind of finding, and a table seeded with Items reads back like one merged.
func TestItemsAreWhatAMergeLeaves(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	stage := localstacktest.Stage(t)
	w := findings.NewWriter(db, table, stage, clock)
	r := findings.NewReader(db, table, stage)
	m := findings.NewMerger(db, table, stage, clock, "test")
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
			src := "logs/" + c.name + "#v1"
			if err := w.Stage(ctx, findings.Batch{Campaign: "written", Source: src, Owners: owners}, []connlog.Finding{c.f}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Commit(ctx, "written", src, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := m.Merge(ctx, "written", expires); err != nil {
				t.Fatal(err)
			}
			b := findingstest.Batch{Campaign: "written", Owners: owners, ExpiresAt: expires}
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
			merged := plain(t, out.Item)
			delete(merged, "batch")
			seed := plain(t, want)
			delete(seed, "batch")
			if diff := cmp.Diff(seed, merged, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("Item (-Item +merged):\n%s", diff)
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
	window := func(id string) ([]findings.Activity, error) {
		v, err := r.View(ctx, id)
		if err != nil {
			return nil, err
		}
		return v.Window(ctx, day("2021-08-01"), day("2021-08-02"))
	}
	written, err := window("written")
	if err != nil {
		t.Fatal(err)
	}
	got, err := window("seeded")
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

func TestItemsRefuseWhatStageRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		b findingstest.Batch
		f connlog.Finding
	}{
		"no day":      {findingstest.Batch{Campaign: "c1"}, connlog.Finding{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP"}},
		"no campaign": {findingstest.Batch{}, connlog.Finding{Account: ptr("a@b.net"), Hostname: "h", Protocol: "IMAP", Day: "2021-08-01"}},
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

// A stored finding stays within one write unit (MaxItemBytes) whatever its evidence: long
// user agents and device ids go first, and what fits is kept.
func TestItemsStayWithinOneWriteUnit(t *testing.T) {
	var uas, devs, ips []string
	for i := range 10 {
		uas = append(uas, fmt.Sprintf("Mozilla/5.0 (Linux; Android 1%d; SM-G99%d) AppleWebKit/537.36 (KHTML, like Gecko) %s", i, i, strings.Repeat("x", 150)))
		devs = append(devs, fmt.Sprintf("%032X", i)+strings.Repeat("D", 90))
		ips = append(ips, fmt.Sprintf("2001:db8:1234:5678:9abc:def0:1234:%04x", i))
	}
	f := connlog.Finding{Account: ptr("a.very.long.account.name.for.a.shared.mailbox@some-trust.nhs.net"), Hostname: "eas.nhs.net",
		Protocol: "EAS", Day: "2021-08-02", FirstSeen: at("2021-08-02T10:00:00Z"), LastSeen: at("2021-08-02T11:00:00Z"),
		Successes: 123456, Failures: 7890, ClientIPs: ips, UserAgents: uas[:5], DeviceIDs: devs}
	items, err := findings.Items("legacy-hostnames-2021", []connlog.Finding{f}, map[string]string{}, expires)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.ItemSize(items[0]); n > findings.MaxItemBytes {
		t.Errorf("item is %d bytes, want at most %d", n, findings.MaxItemBytes)
	}
	if _, ok := items[0]["ips"]; !ok {
		t.Errorf("every address was dropped: %v", plain(t, items[0]))
	}
}
