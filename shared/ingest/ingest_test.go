package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

var (
	clock   = func() time.Time { return time.Date(2021, 8, 3, 6, 0, 0, 0, time.UTC) }
	expires = time.Date(2022, 3, 6, 0, 0, 0, 0, time.UTC)
	target  = ingest.Target{ID: "c1", Rules: connlog.Rules{Hostnames: []string{"imap.nhs.net", "mail.nhs.net", "eas.nhs.net"}}, ExpiresAt: expires}
)

const iisHeader = "#Software: Microsoft Internet Information Services 10.0\n" +
	"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs-host sc-status\n"

// iisLog generates n lines over 40 accounts (of 3 organisations and none), 3 legacy hosts and
// one modern one, spread over the given days.
func iisLog(n int, days ...string) []byte {
	var b bytes.Buffer
	b.WriteString(iisHeader)
	hosts := []string{"imap.nhs.net", "mail.nhs.net", "eas.nhs.net", "outlook.office365.com"}
	for i := range n {
		d := days[i%len(days)]
		acct := fmt.Sprintf("user%02d@nhs.net", i%40)
		if i%40 >= 35 {
			acct = fmt.Sprintf("someone%d@unknown.nhs.net", i%40)
		}
		status := 200
		if i%7 == 0 {
			status = 401
		}
		fmt.Fprintf(&b, "%s %02d:%02d:%02d 10.0.0.1 GET /owa/ - 443 %s 198.51.100.%d Mozilla/5.0 %s %d\n",
			d, (i/3600)%24, (i/60)%60, i%60, acct, i%5, hosts[i%len(hosts)], status)
	}
	return b.Bytes()
}

func memSource(id string, data []byte) ingest.Source {
	return ingest.Source{ID: id, Name: id, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

const orgs = "ods_code,name,la_emails,pla_email\nRX1,One,la@rx1.nhs.net,\nRX2,Two,la@rx2.nhs.net,\nRX3,Three,,p@rx3.nhs.net\n"

func accounts() string {
	var b strings.Builder
	b.WriteString("email,ods_code\n")
	for i := range 35 {
		fmt.Fprintf(&b, "user%02d@nhs.net,RX%d\n", i, 1+i%3)
	}
	return b.String()
}

// setup gives a fresh table with a directory, and an ingester whose DynamoDB client carries
// optFns.
func setup(t *testing.T, optFns ...func(*dynamodb.Options)) (*ingest.Ingester, *dynamodb.Client, string) {
	t.Helper()
	db, table := localstacktest.DynamoDB(t, optFns...)
	dir := directory.New(db, table, clock)
	if _, err := dir.Import(context.Background(), directory.ImportInput{Orgs: strings.NewReader(orgs), Accounts: strings.NewReader(accounts())}); err != nil {
		t.Fatal(err)
	}
	stages.Store(table, localstacktest.Stage(t))
	return ingest.New(db, table, stageOf(table), dir, clock, "test"), db, table
}

// stages are the tests' tables' stages: every ingester and reader of a table shares its stage.
var stages sync.Map

func stageOf(table string) findings.Stage {
	s, _ := stages.Load(table)
	return s.(findings.Stage)
}

// withClient is an ingester over the same table through another client.
func withClient(t *testing.T, table string, optFns ...func(*dynamodb.Options)) *ingest.Ingester {
	db := dynamodb.NewFromConfig(localstacktest.Config(), append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(localstackEndpoint(t))
	}}, optFns...)...)
	return ingest.New(db, table, stageOf(table), directory.New(db, table, clock), clock, "test "+t.Name())
}

func window(t *testing.T, db *dynamodb.Client, table string) []findings.Activity {
	t.Helper()
	return windowOf(t, db, table, "c1")
}

func windowOf(t *testing.T, db *dynamodb.Client, table, campaignID string) []findings.Activity {
	t.Helper()
	from, _ := calendar.Parse("2021-07-30")
	to, _ := calendar.Parse("2021-08-05")
	v, err := findings.NewReader(db, table, stageOf(table)).View(context.Background(), campaignID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Window(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// baseline is the stored state after one clean ingest of data.
func baseline(t *testing.T, data []byte) []findings.Activity {
	t.Helper()
	in, db, table := setup(t)
	if _, err := in.File(context.Background(), memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	merge(t, in)
	return window(t, db, table)
}

// merge merges the campaign's committed files, failing the test on any error.
func merge(t *testing.T, in *ingest.Ingester) findings.Merged {
	t.Helper()
	m, err := in.Merge(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// pending is how many committed files the table does not have yet.
func pending(t *testing.T, db *dynamodb.Client, table, campaignID string) int {
	t.Helper()
	v, err := findings.NewReader(db, table, stageOf(table)).View(context.Background(), campaignID)
	if err != nil {
		t.Fatal(err)
	}
	return v.Pending
}

func TestIngestStoresFindingsAndSummary(t *testing.T) {
	in, db, table := setup(t)
	data := iisLog(400, "2021-08-01", "2021-08-02")
	outs, err := in.File(context.Background(), memSource("b/k#v1", data), []ingest.Target{target})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Skipped {
		t.Fatalf("outcomes = %+v", outs)
	}
	f := outs[0].File
	// 40 accounts x 3 legacy hosts... only the (account, host) pairs the generator makes, by day.
	got := window(t, db, table)
	if int64(len(got)) != f.Findings || f.Parts != 1 || f.Batch != 1 || f.WriteUnits <= 0 {
		t.Errorf("read %d findings; summary says %d findings, %d parts, batch %d, %g write units", len(got), f.Findings, f.Parts, f.Batch, f.WriteUnits)
	}
	// Readers saw the committed file before any merge; after it, the table alone says the same.
	if m := merge(t, in); m.Files != 1 || m.Written != len(got) || pending(t, db, table, "c1") != 0 {
		t.Errorf("merge = %+v, %d files pending; want the one file, every finding written", m, pending(t, db, table, "c1"))
	}
	if diff := cmp.Diff(got, window(t, db, table)); diff != "" {
		t.Errorf("merged (-pending +merged):\n%s", diff)
	}
	if f.Lines != 402 || f.Events != 300 || f.Format != "iis" || f.State != findings.StateDone {
		t.Errorf("summary = %+v, want 402 lines, 300 events, iis, done", f)
	}
	var succ, fail int64
	owned := map[string]string{}
	for _, a := range got {
		succ += a.Successes
		fail += a.Failures
		owned[a.Account] = a.ODS
	}
	if succ+fail != 300 {
		t.Errorf("stored events = %d, want 300", succ+fail)
	}
	if owned["user00@nhs.net"] != "RX1" || owned["user01@nhs.net"] != "RX2" || owned["someone36@unknown.nhs.net"] != findings.Unassigned {
		t.Errorf("owners = %v", owned)
	}
	// Every finding of an unknown organisation is in the unassigned list.
	from, _ := calendar.Parse("2021-08-01")
	to, _ := calendar.Parse("2021-08-02")
	v, err := findings.NewReader(db, table, stageOf(table)).View(context.Background(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	un, err := v.Unassigned(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	var wantUn []findings.Activity
	for _, a := range got {
		if strings.HasSuffix(a.Account, "@unknown.nhs.net") {
			wantUn = append(wantUn, a)
		}
	}
	if len(wantUn) == 0 || len(un) != len(wantUn) {
		t.Errorf("unassigned list has %d findings, want %d", len(un), len(wantUn))
	}
}

// The same object twice: the second is skipped by the ledger; a second ingest whose ledger
// entry was lost before the merge commits to the same batch and changes no count; after the
// merge the ledger skips it.
func TestSameObjectTwice(t *testing.T) {
	data := iisLog(300, "2021-08-02")
	want := baseline(t, data)
	in, db, table := setup(t)
	ctx := context.Background()
	for range 2 {
		if _, err := in.File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
			t.Fatal(err)
		}
	}
	outs, err := in.File(ctx, memSource("b/k#v1", data), []ingest.Target{target})
	if err != nil || len(outs) != 1 || !outs[0].Skipped {
		t.Fatalf("third ingest: %+v, %v; want skipped", outs, err)
	}
	_, err = db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "FILE#b/k#v1"}, "SK": &types.AttributeValueMemberS{Value: "CAMPAIGN#c1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after re-ingest (-one clean run +got):\n%s", diff)
	}
	merge(t, in)
	outs, err = in.File(ctx, memSource("b/k#v1", data), []ingest.Target{target})
	if err != nil || !outs[0].Skipped || pending(t, db, table, "c1") != 0 {
		t.Fatalf("after the merge: %+v, %v; want skipped, nothing pending", outs, err)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after the merge (-one clean run +got):\n%s", diff)
	}
}

// failAfter fails every UpdateItem after the first n with a non-retryable error: a crash half
// way through the writes. A failing call first waits for the first n to finish: the writer
// cancels what is in flight when a call fails, and the crash must not depend on how far the
// first n had got (under load, none might have been stored).
func failAfter(n int64) func(*dynamodb.Options) {
	var calls, finished atomic.Int64
	done := make(chan struct{})
	if n == 0 {
		close(done)
	}
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("crash", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*dynamodb.UpdateItemInput); !ok {
					return next.HandleInitialize(ctx, in)
				}
				if calls.Add(1) > n {
					select {
					case <-done:
					case <-ctx.Done():
					}
					return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("crash")
				}
				out, md, err := next.HandleInitialize(ctx, in)
				if finished.Add(1) == n {
					close(done)
				}
				return out, md, err
			}), middleware.Before)
		})
	}
}

// Crashes at each step: before the commit (nothing counts, no ledger entry), then half way
// through a merge's writes. Readers see one clean run's totals at every point (the items
// already merged from the batch are not added again from it), and the merge's retry completes
// it without counting anything twice.
func TestCrashHalfWayThenRetry(t *testing.T) {
	data := iisLog(600, "2021-08-01", "2021-08-02")
	want := baseline(t, data)
	_, db, table := setup(t)
	ctx := context.Background()
	if _, err := withClient(t, table, failAfter(0)).File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err == nil {
		t.Fatal("the ingest crashing at its commit succeeded")
	}
	if f, err := findings.NewReader(db, table, nil).File(ctx, "b/k#v1", "c1"); err != nil || (f != nil && f.State == findings.StateDone) {
		t.Fatalf("ledger after crash = %+v, %v; want not done", f, err)
	}
	if got := window(t, db, table); len(got) != 0 {
		t.Fatalf("after a crash before the commit %d findings count; want none", len(got))
	}
	if _, err := withClient(t, table).File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	// The merge's own updates: the lease, the new open batch, the seal of its 16 shards, then
	// the findings.
	crashing := withClient(t, table, failAfter(int64(2+16+len(want)/2)))
	if _, err := crashing.Merge(ctx, target); err == nil {
		t.Fatal("the crashing merge succeeded")
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("half merged (-one clean run +got):\n%s", diff)
	}
	if m := merge(t, withClient(t, table)); m.Written == 0 || m.Written >= len(want) {
		t.Errorf("the retry wrote %d of %d keys; want the ones the crash left", m.Written, len(want))
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" || pending(t, db, table, "c1") != 0 {
		t.Errorf("after retry (-one clean run +got), %d pending:\n%s", pending(t, db, table, "c1"), diff)
	}
}

func TestConcurrentIngestsOfOneObject(t *testing.T) {
	data := iisLog(600, "2021-08-01", "2021-08-02")
	want := baseline(t, data)
	_, db, table := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = withClient(t, table).File(context.Background(), memSource("b/k#v1", data), []ingest.Target{target})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after concurrent ingests (-one clean run +got):\n%s", diff)
	}
	// Two merges at once, by different mergers: one holds the lease, the other leaves it.
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := ingest.New(db, table, stageOf(table), directory.New(db, table, clock), clock, fmt.Sprint("merger ", i))
			if _, err := in.Merge(context.Background(), target); err != nil && !errors.Is(err, findings.ErrMergeBusy) {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after concurrent merges (-one clean run +got):\n%s", diff)
	}
}

// Files arrive out of order: a later day first, then an earlier one, then an earlier part of
// the later day. Days stay separate; first/last seen are right whatever the order.
func TestOutOfOrderFiles(t *testing.T) {
	in, db, table := setup(t)
	ctx := context.Background()
	line := func(day, tm, acct string) string {
		return fmt.Sprintf("%s %s 10.0.0.1 GET /owa/ - 443 %s 198.51.100.1 Mozilla/5.0 imap.nhs.net 200\n", day, tm, acct)
	}
	files := []struct{ id, body string }{
		{"b/late#v1", iisHeader + line("2021-08-02", "18:00:00", "user00@nhs.net") + line("2021-08-02", "19:00:00", "user00@nhs.net")},
		{"b/early#v1", iisHeader + line("2021-08-01", "09:00:00", "user00@nhs.net")},
		{"b/morning#v1", iisHeader + line("2021-08-02", "07:00:00", "user00@nhs.net")},
	}
	for i, f := range files {
		if _, err := in.File(ctx, memSource(f.id, []byte(f.body)), []ingest.Target{target}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			merge(t, in) // the rest is read pending, then merged
		}
	}
	got := window(t, db, table)
	merge(t, in)
	if diff := cmp.Diff(got, window(t, db, table)); diff != "" {
		t.Errorf("merged (-pending +merged):\n%s", diff)
	}
	type row struct {
		Day         string
		First, Last string
		N           int64
	}
	var rows []row
	for _, a := range got {
		rows = append(rows, row{a.Day.String(), a.FirstSeen.Format(time.TimeOnly), a.LastSeen.Format(time.TimeOnly), a.Successes})
	}
	want := []row{{"2021-08-01", "09:00:00", "09:00:00", 1}, {"2021-08-02", "07:00:00", "19:00:00", 3}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// throttle answers every other one of the first 2n UpdateItem attempts with
// ProvisionedThroughputExceededException,
// after the retry middleware, so the SDK's retryer must back off and retry them.
func throttle(n int64, seen *atomic.Int64) func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 8
			so.MaxBackoff = 20 * time.Millisecond
			so.RateLimiter = ratelimit.None
		})
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("throttle", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if k := seen.Add(1); middleware.GetOperationName(ctx) == "UpdateItem" && k <= 2*n && k%2 == 1 {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, &types.ProvisionedThroughputExceededException{Message: aws.String("injected")}
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	data := iisLog(600, "2021-08-01", "2021-08-02")
	want := baseline(t, data)
	in, db, table := setup(t)
	if _, err := in.File(context.Background(), memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	var throttled atomic.Int64
	if m := merge(t, withClient(t, table, throttle(30, &throttled))); m.Written != len(want) {
		t.Errorf("merge wrote %d, want %d", m.Written, len(want))
	}
	if throttled.Load() <= 30 {
		t.Fatalf("only %d UpdateItem attempts; the throttling was not exercised", throttled.Load())
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after throttling (-one clean run +got):\n%s", diff)
	}
}

// One read serves several campaigns; an unknown format is recorded, not retried.
func TestSeveralCampaignsAndUnknownFormat(t *testing.T) {
	in, db, table := setup(t)
	ctx := context.Background()
	other := ingest.Target{ID: "c2", Rules: connlog.Rules{Hostnames: []string{"eas.nhs.net"}}, ExpiresAt: expires}
	outs, err := in.File(ctx, memSource("b/k#v1", iisLog(400, "2021-08-02")), []ingest.Target{target, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 2 || outs[0].File.Events != 300 || outs[1].File.Events != 100 {
		t.Fatalf("outcomes = %+v; want 300 events for c1, 100 for c2", outs)
	}
	outs, err = in.File(ctx, memSource("b/junk#v1", []byte("\x00\x01\x02 not a log\n")), []ingest.Target{target})
	if err != nil {
		t.Fatalf("unknown format: %v; want it recorded", err)
	}
	f, err := findings.NewReader(db, table, nil).File(ctx, "b/junk#v1", "c1")
	if err != nil || f == nil || !strings.Contains(f.Error, "unknown format") {
		t.Errorf("ledger of the unknown file = %+v, %v; want its error recorded", f, err)
	}
	_ = outs
}

// wideLog generates n legacy lines over distinct accounts (account i of n/2), on two days.
func wideLog(n int) []byte {
	var b bytes.Buffer
	b.WriteString(iisHeader)
	for i := range n {
		status := 200
		if i%5 == 0 {
			status = 401
		}
		fmt.Fprintf(&b, "2021-08-0%d %02d:%02d:%02d 10.0.0.1 GET /owa/ - 443 acct%05d@nhs.net 198.51.100.%d Mozilla/5.0 imap.nhs.net %d\n",
			1+i%2, (i/3600)%24, (i/60)%60, i%60, i*7919%(n/2), i%200, status)
	}
	return b.Bytes()
}

// A file with more findings than a scanner may hold is written in parts: every finding is
// stored once (one item per key), with the counts of one unbounded ingest; a crash part way,
// then a retry, counts nothing twice, since the parts fall at the same lines on every read.
func TestBoundedScannerWritesParts(t *testing.T) {
	data := wideLog(6000)
	want := baseline(t, data)
	if len(want) < 2500 {
		t.Fatalf("fixture has %d findings", len(want))
	}
	bounded := func(in *ingest.Ingester) *ingest.Ingester { in.MaxFindings = 300; return in }
	in, db, table := setup(t)
	ctx := context.Background()
	outs, err := bounded(in).File(ctx, memSource("b/k#v1", data), []ingest.Target{target})
	if err != nil {
		t.Fatal(err)
	}
	if f := outs[0].File; f.Parts < 2 || f.Events != 6000 {
		t.Errorf("file = %+v; want several parts, every event", f)
	}
	merge(t, in)
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("bounded ingest (-unbounded +bounded):\n%s", diff)
	}

	_, db2, table2 := setup(t)
	if _, err := bounded(withClient(t, table2)).File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	if _, err := withClient(t, table2, failAfter(int64(len(want)*2/3))).Merge(ctx, target); err == nil {
		t.Fatal("the crashing merge succeeded")
	}
	merge(t, withClient(t, table2))
	if diff := cmp.Diff(want, window(t, db2, table2)); diff != "" {
		t.Errorf("crash, then retry (-unbounded +bounded):\n%s", diff)
	}
}

// The national shape in miniature: 4 servers x 24 hourly files of the same 500 accounts, each
// account on every server every hour with a changing address and app version, and each hour's
// four files merged at the end of the hour as the hourly schedule does. The totals are one
// count of every line; each key-day's item stays within one write unit however many files and
// addresses it saw; and the write units a key-day costs are one table write an hour (DynamoDB's
// own count; the local stand-in reports the table's share, the indexes' are below) plus the
// files' share of their commits and ledger entries.
func TestManyFilesOfTheSameAccountsCostOneWriteAKeyAnHour(t *testing.T) {
	in, db, table := setup(t)
	ctx := context.Background()
	const servers, hours, accounts = 4, 24, 500
	var ingestUnits, mergeUnits, firstHour float64
	for h := range hours {
		for s := range servers {
			var b bytes.Buffer
			b.WriteString(iisHeader)
			for a := range accounts {
				fmt.Fprintf(&b, "2021-08-02 %02d:%02d:%02d 10.0.0.%d GET /Microsoft-Server-ActiveSync - 443 acct%03d@nhs.net 198.51.%d.%d Apple-iPhone13C2/%d.%d eas.nhs.net 200\n",
					h, a%60, s, s, a, h, (a+s)%250, 1800+h, s)
			}
			outs, err := in.File(ctx, memSource(fmt.Sprintf("logs/server%d/%02d.log#v1", s, h), b.Bytes()), []ingest.Target{target})
			if err != nil {
				t.Fatal(err)
			}
			ingestUnits += outs[0].File.WriteUnits
		}
		uctx, units := store.WithUnits(ctx)
		m, err := in.Merge(uctx, target)
		if err != nil {
			t.Fatal(err)
		}
		if m.Files != servers || m.Written != accounts {
			t.Fatalf("hour %d: merged %+v; want %d files, %d keys written once each", h, m, servers, accounts)
		}
		mergeUnits += units.Write()
		if h == 0 { // and each ledger entry's copy in GSI1 (FILES#<day>), up to 2 KB
			firstHour = units.Write() + ingestUnits + 2*servers
		}
	}
	acts := window(t, db, table)
	if len(acts) != accounts {
		t.Fatalf("%d findings, want %d", len(acts), accounts)
	}
	for _, a := range acts {
		if a.Successes != servers*hours || a.Sources != servers*hours || len(a.ClientIPs) != findings.MaxClientIPs {
			t.Fatalf("%s: %d successes from %d files, %d addresses; want %d from %d, %d", a.Account, a.Successes, a.Sources,
				len(a.ClientIPs), servers*hours, servers*hours, findings.MaxClientIPs)
		}
	}
	// Every stored item within one write unit, and in one index only: the local stack reports
	// the table's units, so the index copies are counted from the items' index keys.
	copies := 0
	for _, a := range acts {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: findings.KeyOf("c1", a)})
		if err != nil || out.Item == nil {
			t.Fatalf("%s: %v", a.Account, err)
		}
		if n := store.ItemSize(out.Item); n > findings.MaxItemBytes {
			t.Fatalf("%s: item of %d bytes, want at most %d", a.Account, n, findings.MaxItemBytes)
		}
		copies = 0
		for name := range out.Item {
			if strings.HasPrefix(name, "GSI") && strings.HasSuffix(name, "PK") {
				copies++
			}
		}
		if copies != 1 {
			t.Fatalf("%s: the item is in %d indexes, want 1 (the organisation's)", a.Account, copies)
		}
	}
	perKeyHour := mergeUnits / accounts / hours
	filesShare := ingestUnits / accounts / hours
	// The hour a key-day is created: its files' commits and ledger, the item, its index entry.
	first := firstHour/accounts + float64(copies)
	t.Logf("per key-day: %.2f merge write units (table), %.3f of the files' commits and ledger, over %d hours; the first hour %.3f a key with the index",
		mergeUnits/accounts, ingestUnits/accounts, hours, first)
	if perKeyHour > 1.05 || filesShare > 0.1 || first > 3 {
		t.Errorf("a key-hour cost %.3f table write units in merges and %.3f in the files' share, the first hour %.3f with the index; want about 1, under 0.1, at most 3",
			perKeyHour, filesShare, first)
	}
}
