// Command ingestbench measures ingest and directory import against the local stack: it
// creates a fresh table with the production schema, counts every DynamoDB write request with
// an SDK middleware, and prints what infra/bench/ingest.sh tabulates.
//
//	ingestbench ingest --campaign FILE LOG   -> writes, distinct keys, seconds
//	ingestbench directory ORGS ACCOUNTS      -> orgs, accounts, batch requests, seconds, peak heap
//	ingestbench budget --campaign FILE --accounts N --budget-mib M
//	                                          -> a generated log of N distinct accounts ingested with
//	                                             the scanner held to M MiB: parts, stored, counts
//	ingestbench capacity --campaign FILE [-servers 40 -hours 24 -accounts 2000 -alb-nodes 3 -alb-ips 300]
//	                                          -> a scaled-down national day through ingest and the
//	                                             hourly merges: writes, write units a key-day,
//	                                             the largest item, seconds
//	ingestbench concurrent --campaign FILE --throttle P LOG...
//	                                          -> every LOG ingested at once, a share P of write
//	                                             attempts throttled; lost and doubled findings
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

// writes counts write requests by operation.
var writes = map[string]*atomic.Int64{"UpdateItem": {}, "PutItem": {}, "BatchWriteItem": {}}

func countWrites(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if c, ok := writes[middleware.GetOperationName(ctx)]; ok {
				c.Add(1)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

func freshTable(ctx context.Context) (*dynamodb.Client, string, error) {
	c, err := awsclient.Load(ctx, true, os.Getenv)
	if err != nil {
		return nil, "", err
	}
	admin := c.DynamoDB()
	path, err := localstack.FindTemplate()
	if err != nil {
		return nil, "", err
	}
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	spec, err := localstack.ReadTemplate(path, name)
	if err != nil {
		return nil, "", err
	}
	if err := localstack.EnsureTable(ctx, admin, spec); err != nil {
		return nil, "", err
	}
	db := dynamodb.NewFromConfig(c.Config(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb"))
		countWrites(o)
		store.CountCapacity(o)
	})
	return db, name, nil
}

// newIngester is an ingester of table staging in the local stack's S3 (a prefix of the run's
// own), with its merger.
func newIngester(ctx context.Context, db *dynamodb.Client, table string) (*ingest.Ingester, error) {
	c, err := awsclient.Load(ctx, true, os.Getenv)
	if err != nil {
		return nil, err
	}
	stage := findings.S3Stage{Client: c.S3(), Bucket: localstack.StagingBucket, Prefix: "bench-" + table + "/"}
	return ingest.New(db, table, stage, directory.New(db, table, time.Now), time.Now, "ingestbench"), nil
}

// window reads every finding of the campaign from..to, merged or not.
func window(ctx context.Context, in *ingest.Ingester, id string, from, to calendar.Date) ([]findings.Activity, error) {
	v, err := in.View(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.Window(ctx, from, to)
}

func dropTable(db *dynamodb.Client, name string) {
	_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
}

func run(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "capacity" {
		return benchCapacity(ctx, args[1:])
	}
	if len(args) == 4 && args[0] == "ingest" && args[1] == "--campaign" {
		return benchIngest(ctx, args[2], args[3])
	}
	if len(args) == 3 && args[0] == "directory" {
		return benchDirectory(ctx, args[1], args[2])
	}
	if len(args) == 7 && args[0] == "budget" && args[1] == "--campaign" && args[3] == "--accounts" && args[5] == "--budget-mib" {
		n, err1 := strconv.Atoi(args[4])
		mib, err2 := strconv.Atoi(args[6])
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		return benchBudget(ctx, args[2], n, mib)
	}
	if len(args) >= 6 && args[0] == "concurrent" && args[1] == "--campaign" && args[3] == "--throttle" {
		p, err := strconv.ParseFloat(args[4], 64)
		if err != nil {
			return err
		}
		return benchConcurrent(ctx, args[2], p, args[5:])
	}
	return fmt.Errorf("usage: ingestbench ingest --campaign FILE LOG | ingestbench directory ORGS ACCOUNTS | ingestbench concurrent --campaign FILE --throttle P LOG [LOG] | ingestbench budget --campaign FILE --accounts N --budget-mib M")
}

func benchIngest(ctx context.Context, campaignPath, logPath string) error {
	c, err := campaign.Load(campaignPath)
	if err != nil {
		return err
	}
	db, table, err := freshTable(ctx)
	if err != nil {
		return err
	}
	defer dropTable(db, table)
	src, err := ingest.FileSource(logPath)
	if err != nil {
		return err
	}
	in, err := newIngester(ctx, db, table)
	if err != nil {
		return err
	}
	start := time.Now()
	outs, err := in.File(ctx, src, []ingest.Target{ingest.TargetOf(c)})
	var m findings.Merged
	if err == nil {
		m, err = in.Merge(ctx, ingest.TargetOf(c))
	}
	took := time.Since(start)
	if err != nil {
		return err
	}
	f := outs[0].File
	// Distinct keys as stored: every finding item of the campaign, read back by day.
	var stored int
	for d := calendar.Of(time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)); !d.After(calendar.Of(time.Date(2021, 9, 30, 0, 0, 0, 0, time.UTC))); d = d.AddDays(1) {
		acts, err := window(ctx, in, c.ID, d, d)
		if err != nil {
			return err
		}
		stored += len(acts)
	}
	// Redelivery of the same object: the ledger skips it, no finding writes.
	before := writes["UpdateItem"].Load()
	if _, err := in.File(ctx, src, []ingest.Target{ingest.TargetOf(c)}); err != nil {
		return err
	}
	fmt.Printf("lines=%d events=%d findings=%d update_items=%d merge_writes=%d put_items=%d stored_keys=%d seconds=%.2f redelivery_updates=%d\n",
		f.Lines, f.Events, f.Findings, before, m.Written, writes["PutItem"].Load(), stored, took.Seconds(), writes["UpdateItem"].Load()-before)
	return nil
}

func benchDirectory(ctx context.Context, orgsPath, accountsPath string) error {
	db, table, err := freshTable(ctx)
	if err != nil {
		return err
	}
	defer dropTable(db, table)
	of, err := os.Open(orgsPath)
	if err != nil {
		return err
	}
	defer of.Close()
	af, err := os.Open(accountsPath)
	if err != nil {
		return err
	}
	defer af.Close()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	start := time.Now()
	res, err := directory.New(db, table, time.Now).Import(ctx, directory.ImportInput{Orgs: of, Accounts: af, OrgsName: orgsPath, AccountsName: accountsPath})
	took := time.Since(start)
	close(done)
	if err != nil {
		return err
	}
	fmt.Printf("orgs=%d subdomains=%d accounts=%d bad=%d batch_writes=%d seconds=%.1f peak_heap_mib=%.1f\n",
		res.Orgs, res.Subdomains, res.Accounts, res.BadRows, writes["BatchWriteItem"].Load(), took.Seconds(), float64(peak.Load())/(1<<20))
	return nil
}

// throttled answers a share p of UpdateItem attempts with ProvisionedThroughputExceededException
// after the retry middleware, as DynamoDB does under load: the SDK's retryer must back off and
// try again. It counts the attempts it refused.
func throttled(p float64, refused *atomic.Int64) func(*dynamodb.Options) {
	var n atomic.Int64
	every := int64(1 / p)
	return func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("throttle", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if p > 0 && middleware.GetOperationName(ctx) == "UpdateItem" && n.Add(1)%every == 0 {
					refused.Add(1)
					return middleware.FinalizeOutput{}, middleware.Metadata{}, &types.ProvisionedThroughputExceededException{Message: aws.String("injected")}
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	}
}

// benchConcurrent ingests every log at once on one table (as the ingest Lambda's concurrent
// invocations do), with throttling injected, and checks the stored findings against a scan of
// each file: every key present once, its successes and failures the sum over the files that
// saw it, and as many sources as files. It is long because a bench reads best as one story:
// set up, run, measure, check; its steps share the counters the SDK middleware fills.
func benchConcurrent(ctx context.Context, campaignPath string, p float64, logs []string) error {
	c, err := campaign.Load(campaignPath)
	if err != nil {
		return err
	}
	db, table, err := freshTable(ctx)
	if err != nil {
		return err
	}
	defer dropTable(db, table)
	cl, err := awsclient.Load(ctx, true, os.Getenv)
	if err != nil {
		return err
	}
	var refused atomic.Int64
	tdb := dynamodb.NewFromConfig(cl.Config(), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb"))
		countWrites(o)
	}, throttled(p, &refused))

	// What the files say: per key, the totals and how many files saw it.
	type want struct{ s, f, files int64 }
	expect := map[string]*want{}
	for _, path := range logs {
		sc, err := connlog.NewScanner(c.ScanRules(), connlog.Options{ByDay: true})
		if err != nil {
			return err
		}
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = sc.Scan(ctx, path, fh)
		fh.Close()
		if err != nil {
			return err
		}
		fs := sc.Findings()
		for _, f := range fs {
			if f.Account == nil {
				continue
			}
			k := *f.Account + "|" + strings.ToLower(f.Hostname) + "|" + f.Protocol + "|" + f.Day
			w := expect[k]
			if w == nil {
				w = &want{}
				expect[k] = w
			}
			w.s, w.f, w.files = w.s+f.Successes, w.f+f.Failures, w.files+1
		}
	}

	in, err := newIngester(ctx, tdb, table)
	if err != nil {
		return err
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(logs))
	var writesWanted, redelivered atomic.Int64
	for i, path := range logs {
		wg.Go(func() {
			src, err := ingest.FileSource(path)
			if err != nil {
				errs[i] = err
				return
			}
			// As the ingest queue does: a failed file is received again, up to its
			// maxReceiveCount of 5, then it would go to the dead-letter queue.
			for receive := 1; ; receive++ {
				outs, err := in.File(ctx, src, []ingest.Target{ingest.TargetOf(c)})
				if err == nil {
					writesWanted.Add(outs[0].File.Findings)
					return
				}
				if receive == 5 {
					errs[i] = err
					return
				}
				redelivered.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if _, err := in.Merge(ctx, ingest.TargetOf(c)); err != nil {
		return err
	}
	var stored, lost, doubled int
	seen := map[string]bool{}
	for d := calendar.Of(time.Date(2021, 7, 1, 0, 0, 0, 0, time.UTC)); !d.After(calendar.Of(time.Date(2021, 9, 30, 0, 0, 0, 0, time.UTC))); d = d.AddDays(1) {
		acts, err := window(ctx, in, c.ID, d, d)
		if err != nil {
			return err
		}
		for _, a := range acts {
			if a.Account == "" {
				continue
			}
			stored++
			k := a.Account + "|" + a.Hostname + "|" + a.Protocol + "|" + a.Day.String()
			w := expect[k]
			switch {
			case w == nil || seen[k]:
				doubled++
			case a.Successes != w.s || a.Failures != w.f || int64(a.Sources) != w.files:
				if a.Successes > w.s {
					doubled++
				} else {
					lost++
				}
			}
			seen[k] = true
		}
	}
	for k := range expect {
		if !seen[k] {
			lost++
		}
	}
	fmt.Printf("files=%d keys=%d stored_keys=%d update_items=%d writes_wanted=%d throttled=%d redelivered=%d lost=%d doubled=%d seconds=%.1f\n",
		len(logs), len(expect), stored, writes["UpdateItem"].Load(), writesWanted.Load(), refused.Load(), redelivered.Load(), lost, doubled, took.Seconds())
	if lost > 0 || doubled > 0 {
		return fmt.Errorf("%d findings lost and %d doubled", lost, doubled)
	}
	// A redelivered file writes its keys again (each write sets that file's own share, so
	// it is not counted twice); without redelivery, one write a key a file.
	if redelivered.Load() == 0 && writes["UpdateItem"].Load() != writesWanted.Load() {
		return fmt.Errorf("%d finding write requests for %d distinct keys over the files", writes["UpdateItem"].Load(), writesWanted.Load())
	}
	return nil
}

// peakRSS is the process's peak resident memory in MiB (VmHWM), or 0 where /proc has none.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// benchBudget ingests a generated IIS log in which each of n accounts signs in once through a
// legacy hostname, with the scanner held to a budget of mib MiB (connlog.BytesPerFinding a
// finding), so the findings are written in parts; then it counts what the table holds, a page
// at a time: every account once, one success each. Long for the same reason as benchConcurrent:
// generate, ingest while sampling the heap, count, report, in the order they happen.
func benchBudget(ctx context.Context, campaignPath string, n, mib int) error {
	c, err := campaign.Load(campaignPath)
	if err != nil {
		return err
	}
	db, table, err := freshTable(ctx)
	if err != nil {
		return err
	}
	defer dropTable(db, table)
	path := fmt.Sprintf("%s/distinct-%d.log", os.TempDir(), n)
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(w, "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken")
		for i := range n {
			fmt.Fprintf(w, "2021-08-02 %02d:%02d:%02d 10.20.0.14 POST /EWS/Exchange.asmx -&Log=V160_HH:mail.nhs.net_ 443 person.%07d@nhs.net 10.%d.%d.%d Outlook/16.0 - 200 0 0 15\n",
				i/3600%24, i/60%60, i%60, i, i>>16&255, i>>8&255, i&255)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		f.Close()
	}
	src, err := ingest.FileSource(path)
	if err != nil {
		return err
	}
	in, err := newIngester(ctx, db, table)
	if err != nil {
		return err
	}
	in.MaxFindings = mib << 20 / connlog.BytesPerFinding
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	outs, err := in.File(ctx, src, []ingest.Target{ingest.TargetOf(c)})
	took := time.Since(start)
	close(done)
	if err != nil {
		return err
	}
	if _, err := in.Merge(ctx, ingest.TargetOf(c)); err != nil {
		return err
	}
	// Count what is stored.
	var items, successes int64
	accounts := 0
	day := calendar.Of(time.Date(2021, 8, 2, 0, 0, 0, 0, time.UTC))
	v, err := in.View(ctx, c.ID)
	if err != nil {
		return err
	}
	if err := v.Accounts(ctx, day, day, func(findings.Seen) error { accounts++; return nil }); err != nil {
		return err
	}
	acts, err := v.Window(ctx, day, day)
	if err != nil {
		return err
	}
	for _, a := range acts {
		items++
		successes += a.Successes
	}
	f := outs[0].File
	// The findings table lives outside the Go heap: the process's peak resident memory counts it.
	fmt.Printf("accounts=%d events=%d parts=%d stored_items=%d stored_accounts=%d successes=%d update_items=%d budget_mib=%d peak_heap_mib=%.1f peak_rss_mib=%.1f seconds=%.1f\n",
		n, f.Events, f.Parts, items, accounts, successes, writes["UpdateItem"].Load(), mib, float64(peak.Load())/(1<<20), peakRSS(), took.Seconds())
	if items != int64(n) || accounts != n || successes != int64(n) {
		return fmt.Errorf("stored %d items of %d accounts with %d successes; want %d of each", items, accounts, successes, n)
	}
	return nil
}
