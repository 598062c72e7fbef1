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
	return ingest.New(db, table, dir, clock), db, table
}

// withClient is an ingester over the same table through another client.
func withClient(t *testing.T, table string, optFns ...func(*dynamodb.Options)) *ingest.Ingester {
	db := dynamodb.NewFromConfig(localstacktest.Config(), append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(localstackEndpoint(t))
	}}, optFns...)...)
	return ingest.New(db, table, directory.New(db, table, clock), clock)
}

func window(t *testing.T, db *dynamodb.Client, table string) []findings.Activity {
	t.Helper()
	return windowOf(t, db, table, "c1")
}

func windowOf(t *testing.T, db *dynamodb.Client, table, campaignID string) []findings.Activity {
	t.Helper()
	from, _ := calendar.Parse("2021-07-30")
	to, _ := calendar.Parse("2021-08-05")
	got, err := findings.NewReader(db, table).Window(context.Background(), campaignID, from, to)
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
	return window(t, db, table)
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
	if int64(len(got)) != f.Findings || f.Writes != f.Findings {
		t.Errorf("stored %d findings; summary says %d findings, %d writes", len(got), f.Findings, f.Writes)
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
	un, err := findings.NewReader(db, table).Unassigned(context.Background(), "c1", from, to)
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

// The same object twice: the second is skipped by the ledger; and even a second ingest that
// does not consult the ledger (its entry lost) changes no count.
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
}

// failAfter fails every UpdateItem after the first n with a non-retryable error: a crash half
// way through the writes. A failing call first waits for the first n to finish: the writer
// cancels what is in flight when a call fails, and the crash must not depend on how far the
// first n had got (under load, none might have been stored).
func failAfter(n int64) func(*dynamodb.Options) {
	var calls, finished atomic.Int64
	done := make(chan struct{})
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

func TestCrashHalfWayThenRetry(t *testing.T) {
	data := iisLog(600, "2021-08-01", "2021-08-02")
	want := baseline(t, data)
	_, db, table := setup(t)
	crashing := withClient(t, table, failAfter(int64(len(want)/2)))
	ctx := context.Background()
	if _, err := crashing.File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err == nil {
		t.Fatal("the crashing ingest succeeded")
	}
	half := window(t, db, table)
	if len(half) == 0 || len(half) >= len(want) {
		t.Fatalf("after the crash %d of %d findings are stored; want some, not all", len(half), len(want))
	}
	if f, err := findings.NewReader(db, table).File(ctx, "b/k#v1", "c1"); err != nil || f != nil {
		t.Fatalf("ledger after crash = %+v, %v; want no entry", f, err)
	}
	if _, err := withClient(t, table).File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("after retry (-one clean run +got):\n%s", diff)
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
	for _, f := range files {
		if _, err := in.File(ctx, memSource(f.id, []byte(f.body)), []ingest.Target{target}); err != nil {
			t.Fatal(err)
		}
	}
	got := window(t, db, table)
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

// throttle answers the first n UpdateItem attempts with ProvisionedThroughputExceededException,
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
				if middleware.GetOperationName(ctx) == "UpdateItem" && seen.Add(1) <= n {
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
	_, db, table := setup(t)
	var throttled atomic.Int64
	in := withClient(t, table, throttle(30, &throttled))
	outs, err := in.File(context.Background(), memSource("b/k#v1", data), []ingest.Target{target})
	if err != nil {
		t.Fatal(err)
	}
	if throttled.Load() <= 30 {
		t.Fatalf("only %d UpdateItem attempts; the throttling was not exercised", throttled.Load())
	}
	if outs[0].File.Writes != int64(len(want)) {
		t.Errorf("writes = %d, want %d", outs[0].File.Writes, len(want))
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
	f, err := findings.NewReader(db, table).File(ctx, "b/junk#v1", "c1")
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
	if f := outs[0].File; f.Writes <= int64(len(want)) || f.Events != 6000 {
		t.Errorf("file = %+v; want more writes than findings (parts), every event", f)
	}
	if diff := cmp.Diff(want, window(t, db, table)); diff != "" {
		t.Errorf("bounded ingest (-unbounded +bounded):\n%s", diff)
	}

	_, db2, table2 := setup(t)
	crashing := bounded(withClient(t, table2, failAfter(int64(len(want)*2/3))))
	if _, err := crashing.File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err == nil {
		t.Fatal("the crashing ingest succeeded")
	}
	if _, err := bounded(withClient(t, table2)).File(ctx, memSource("b/k#v1", data), []ingest.Target{target}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, window(t, db2, table2)); diff != "" {
		t.Errorf("crash, then retry (-unbounded +bounded):\n%s", diff)
	}
}
