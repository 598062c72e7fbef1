package findings_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// Accounts names every account of the window exactly once, with the owners its findings were
// filed under and the last day it was seen: across days, across pages (a small page limit
// forces many), for accounts whose keys interleave in the day partitions, and without the traffic
// that has no account; merged or still pending (ann's files are committed, not merged, and
// one of them says user007 is RX9's now).
func TestAccountsOnceEach(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ctx := context.Background()
	stage := localstacktest.Stage(t)
	w := findings.NewWriter(db, table, stage, clock)
	seen := func(acct, host, d, ods string) (connlog.Finding, string) {
		a := acct
		t0 := at(d + "T09:00:00Z")
		return connlog.Finding{Account: &a, Hostname: host, Protocol: "IMAP", Day: d, FirstSeen: t0, LastSeen: t0, Successes: 1}, ods
	}
	var fs []connlog.Finding
	owners := map[string]string{}
	add := func(f connlog.Finding, ods string) {
		fs = append(fs, f)
		if ods != "" {
			owners[*f.Account] = ods
		}
	}
	for i := range 120 { // more than a page at the limit below, on three days
		for _, d := range []string{"2021-08-01", "2021-08-03", "2021-08-04"} {
			add(seen(fmt.Sprintf("user%03d@nhs.net", i), "imap.nhs.net", d, "RX1"))
		}
	}
	ingest(t, w, "f1", owners, fs)
	if _, err := findings.NewMerger(db, table, stage, clock, "test").Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	fs, owners = nil, map[string]string{}
	add(seen("user007@nhs.net", "imap.nhs.net", "2021-08-02", "RX9"))
	add(seen("ann@nhs.net", "imap.nhs.net", "2021-08-02", "RX2"))
	add(seen("ann@nhs.net", "smtp.nhs.net", "2021-08-02", "RX2"))
	add(seen("ann@nhs.net#jx", "imap.nhs.net", "2021-08-02", ""))
	add(seen("ann@nhs.net!b", "pop.nhs.net", "2021-08-03", "RX3"))
	fs = append(fs, connlog.Finding{Hostname: "mail.nhs.net", Protocol: "TLS", Day: "2021-08-02", ClientIPs: []string{"192.0.2.1"},
		FirstSeen: at("2021-08-02T01:00:00Z"), LastSeen: at("2021-08-02T01:00:00Z"), Successes: 1})
	ingest(t, w, "f2", owners, fs)
	v, err := findings.NewReader(&pageLimit{db: db, limit: 25}, table, stage).View(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]findings.Seen{}
	err = v.Accounts(ctx, day("2021-08-01"), day("2021-08-04"), func(s findings.Seen) error {
		if _, dup := got[s.Account]; dup {
			t.Errorf("%s came twice", s.Account)
		}
		got[s.Account] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 123 {
		t.Errorf("%d accounts, want 123", len(got))
	}
	for acct, want := range map[string]findings.Seen{
		"user007@nhs.net": {Account: "user007@nhs.net", Stored: []string{"RX1", "RX9"}, Last: day("2021-08-04")},
		"ann@nhs.net":     {Account: "ann@nhs.net", Stored: []string{"RX2"}, Last: day("2021-08-02")},
		"ann@nhs.net#jx":  {Account: "ann@nhs.net#jx", Stored: []string{findings.Unassigned}, Last: day("2021-08-02")},
		"ann@nhs.net!b":   {Account: "ann@nhs.net!b", Stored: []string{"RX3"}, Last: day("2021-08-03")},
	} {
		if diff := cmp.Diff(want, got[acct], cmpopts.IgnoreUnexported(findings.Seen{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", acct, diff)
		}
	}
	// What the survey saw of an account reads back its findings, and only its: stored and
	// pending (f2 is not merged), then all stored.
	check := func(v *findings.View, got map[string]findings.Seen) {
		t.Helper()
		for acct, n := range map[string]int{"user007@nhs.net": 4, "ann@nhs.net": 2, "ann@nhs.net#jx": 1} {
			acts, err := v.AccountSeen(ctx, got[acct], day("2021-08-01"), day("2021-08-04"))
			if err != nil || len(acts) != n || slices.ContainsFunc(acts, func(a findings.Activity) bool { return a.Account != acct }) {
				t.Errorf("AccountSeen(%s) = %+v, %v; want its %d findings", acct, acts, err, n)
			}
		}
	}
	check(v, got)
	if _, err := findings.NewMerger(db, table, stage, clock, "test").Merge(ctx, "c1", expires); err != nil {
		t.Fatal(err)
	}
	if v, err = findings.NewReader(db, table, stage).View(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	got = map[string]findings.Seen{}
	if err := v.Accounts(ctx, day("2021-08-01"), day("2021-08-04"), func(s findings.Seen) error { got[s.Account] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	check(v, got)
}

// pageLimit makes every query return at most limit items a page, so paging is exercised.
type pageLimit struct {
	db interface {
		findings.Querier
	}
	limit int32
}

func (p *pageLimit) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	in.Limit = &p.limit
	return p.db.Query(ctx, in, optFns...)
}

func (p *pageLimit) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return p.db.BatchGetItem(ctx, in, optFns...)
}

func (p *pageLimit) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return p.db.GetItem(ctx, in, optFns...)
}
