// Command planbench measures the planner, and the console over what it records, on the local
// stack. infra/bench/plan.sh drives it one
// phase per process, so that each plan runs in a process of its own and its peak RSS is the
// plan's:
//
//	create     make a fresh table with the production schema and print its name
//	directory  import organisations -from..-orgs (ACCOUNTS_PER_ORG accounts each) through
//	           directory.Import; a later call with a higher -from grows the same directory
//	findings   apply campaign -campaign and seed -findings findings over its first -affected
//	           organisations with BatchWriteItem (items built by findingstest.Items, so exactly what
//	           the ingest writer stores), then read them back with findings.Reader.Window
//	header     print the header of the results table
//	plan       plan -campaign (a dry run: nothing is written; -each as `sunset plan` streams it)
//	           and print one row: wall time,
//	           DynamoDB requests by operation (counted by an SDK middleware), peak Go heap and
//	           the process's peak RSS; -orgs, -affected and -findings only label the row
//	run        what the scheduled Lambda does, once: planner.Run (Lean) claims every due notice
//	           and hands it to a dispatcher that counts (no queue), a chunk at a time; one row
//	console    time the console's pages and the API's report of -campaign after a run, through the
//	           API Lambda's handler (console.go); one row a request
//	drop       delete the table
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithymw "github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/findings/findingstest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Every finding of the bench is one of an affected organisation's accounts on one of these
// hostnames on one of the days before the plan date.
var (
	hosts  = []string{"imap.nhs.net", "smtp.nhs.net"}
	protos = []string{"IMAP", "SMTP"}
)

// days is how many days before the plan date the findings cover (-days; at most the default
// activity_window_days, 30): 2 x days findings an account at least.
var days = 30

type config struct {
	table, phase, campaign string
	from, orgs, perOrg     int
	affected, findings     int
	writers, runs          int
	// each plans as `sunset plan` does: PlanEach, each chunk's notices dropped once counted.
	each bool
}

func main() {
	var c config
	flag.StringVar(&c.phase, "phase", "", "create | directory | findings | header | plan | drop")
	flag.StringVar(&c.table, "table", "", "table name (create: the prefix of a new one)")
	flag.StringVar(&c.campaign, "campaign", "bench", "campaign id (findings, plan)")
	flag.IntVar(&c.from, "from", 0, "directory: first organisation to import")
	flag.IntVar(&c.orgs, "orgs", 30000, "directory: organisations 0..orgs-1 exist afterwards; plan: the directory's size")
	flag.IntVar(&c.perOrg, "accounts-per-org", 10, "accounts per organisation")
	flag.IntVar(&c.affected, "affected", 3000, "organisations with legacy findings")
	flag.IntVar(&c.findings, "findings", 300000, "finding items (account x hostname x protocol x day)")
	flag.IntVar(&reportRuns, "report-runs", 5, "console: how many times to time the report")
	flag.IntVar(&c.writers, "writers", 16, "concurrent batch writers while seeding")
	flag.IntVar(&c.runs, "runs", 3, "plan: how many times to plan (the row shows the fastest)")
	flag.BoolVar(&c.each, "each", false, "plan: as sunset plan does (PlanEach), not holding the plan")
	flag.IntVar(&days, "days", 30, "findings: the days before the plan date they cover (1-30)")
	flag.Parse()
	if err := run(context.Background(), c); err != nil {
		fmt.Fprintln(os.Stderr, "planbench:", err)
		os.Exit(1)
	}
}

// counter counts DynamoDB calls by operation. It sits in the Initialize step, before the
// retryer, so an SDK retry of a throttled call is not counted again; a batch call repeated for
// its unprocessed items is.
type counter struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *counter) add(op string) { c.mu.Lock(); c.ops[op]++; c.mu.Unlock() }

func (c *counter) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.ops
	c.ops = map[string]int{}
	return out
}

func (c *counter) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *smithymw.Stack) error {
		return s.Initialize.Add(smithymw.InitializeMiddlewareFunc("count", func(ctx context.Context, in smithymw.InitializeInput, next smithymw.InitializeHandler) (smithymw.InitializeOutput, smithymw.Metadata, error) {
			c.add(middleware.GetOperationName(ctx))
			return next.HandleInitialize(ctx, in)
		}), smithymw.After)
	})
}

var (
	clock = func() time.Time { return time.Date(2030, 7, 28, 7, 0, 0, 0, time.UTC) }
	at    = calendar.In(clock(), time.UTC)
)

func run(ctx context.Context, c config) error {
	cnt := &counter{ops: map[string]int{}}
	db := dynamodb.NewFromConfig(aws.Config{Region: localstack.Region, Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) }, cnt.option)
	if c.phase != "create" && c.phase != "header" && c.phase != "run-header" && c.table == "" {
		return errors.New("-table is required")
	}
	switch c.phase {
	case "create":
		return create(ctx, db, c.table)
	case "directory":
		return seedDirectory(ctx, db, c)
	case "findings":
		return seedFindings(ctx, db, c)
	case "header":
		fmt.Printf("| directory orgs | affected orgs | findings | due | plan time (best of %d) | read requests", max(1, c.runs))
		fmt.Println(" | requests by operation | peak heap | peak RSS |")
		fmt.Println("|---:|---:|---:|---:|---:|---:|---|---:|---:|")
		return nil
	case "plan":
		return plan(ctx, db, cnt, c)
	case "run-header":
		fmt.Println("| directory orgs | affected orgs | findings | claimed | run time | read requests | write requests | requests by operation | peak heap | peak RSS |")
		fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
		return nil
	case "run":
		return runLean(ctx, db, cnt, c)
	case "console":
		return consolePages(ctx, db, cnt, c)
	case "drop":
		_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(c.table)})
		return err
	}
	return fmt.Errorf("unknown -phase %q", c.phase)
}

func create(ctx context.Context, db *dynamodb.Client, prefix string) error {
	if prefix == "" {
		prefix = "bench-plan"
	}
	table := fmt.Sprintf("%s-%d", prefix, time.Now().Unix())
	path, err := localstack.FindTemplate()
	if err != nil {
		return err
	}
	spec, err := localstack.ReadTemplate(path, table)
	if err != nil {
		return err
	}
	if err := localstack.EnsureTable(ctx, db, spec); err != nil {
		return err
	}
	fmt.Println(table)
	return nil
}

func ods(i int) string { return fmt.Sprintf("O%05d", i) }

func account(j, org int) string { return fmt.Sprintf("u%d.%s@nhs.net", j, ods(org)) }

// seedDirectory imports organisations c.from..c.orgs-1 and their accounts, without pruning,
// so a second call grows the directory the first one made.
func seedDirectory(ctx context.Context, db *dynamodb.Client, c config) error {
	var orgs, accts bytes.Buffer
	orgs.WriteString("ods_code,name,la_emails,pla_email\n")
	accts.WriteString("email,ods_code\n")
	for i := c.from; i < c.orgs; i++ {
		o := ods(i)
		fmt.Fprintf(&orgs, "%s,Organisation %d,la1@%s.nhs.net;la2@%s.nhs.net,pla@%s.nhs.net\n", o, i, o, o, o)
		for j := range c.perOrg {
			fmt.Fprintf(&accts, "%s,%s\n", account(j, i), o)
		}
	}
	start := time.Now()
	dir := directory.New(db, c.table, clock)
	dir.Workers = c.writers
	res, err := dir.Import(ctx, directory.ImportInput{Orgs: &orgs, Accounts: &accts, OrgsName: "orgs.csv", AccountsName: "accounts.csv"})
	if err != nil {
		return err
	}
	if res.BadRows > 0 {
		return fmt.Errorf("import: %d bad rows, first %s", res.BadRows, res.Bad[0])
	}
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "directory: imported %d organisations and %d accounts in %s (%.0f items/s)\n",
		res.Orgs, res.Accounts, took.Round(time.Second), float64(res.Orgs+res.Accounts)/took.Seconds())
	return nil
}

// finding is the bench's i-th finding and the organisation owning its account: 60 per account
// (two hostnames, -days days), accounts taken round-robin over the affected organisations, so
// every affected organisation has findings.
func finding(i, affected, perOrg int) (connlog.Finding, string) {
	perAccount := len(hosts) * days
	org := (i / perAccount) % affected
	acct := account((i/(perAccount*affected))%perOrg, org)
	h := i % len(hosts)
	day := at.AddDays(-((i / len(hosts)) % days))
	return connlog.Finding{Account: &acct, Hostname: hosts[h], Protocol: protos[h], Day: day.String(),
		FirstSeen: day.Start(time.UTC).Add(8 * time.Hour), LastSeen: day.Start(time.UTC).Add(9 * time.Hour),
		Successes: 4, Failures: 1, ClientIPs: []string{"10.0.0.1"}}, ods(org)
}

// seedFindings writes the benchmark's campaign, directory and findings (c.findings of them over
// c.affected organisations). It is long (about 100 lines) because it is one straight script of
// the seed's steps, each a few lines; split, its parts would only be called from here.
func seedFindings(ctx context.Context, db *dynamodb.Client, c config) error {
	if most := len(hosts) * days * c.affected * c.perOrg; c.findings > most {
		return fmt.Errorf("%d affected organisations of %d accounts hold at most %d distinct findings, not %d", c.affected, c.perOrg, most, c.findings)
	}
	if c.findings < len(hosts)*days*c.affected {
		return fmt.Errorf("%d findings leave some of the %d affected organisations without any (need %d)", c.findings, c.affected, len(hosts)*days*c.affected)
	}
	spec, err := campaign.Parse([]byte(`id: `+c.campaign+`
shutdown: 2030-09-07
hostnames:
  - {name: imap.nhs.net, replacement: {host: outlook.office365.com}}
  - {name: smtp.nhs.net, replacement: {host: smtp.office365.com}}
stages:
  - {name: advance, days_before: 42}
  - {name: reminder, days_before: 21}
  - {name: retired, days_after: 0}
sender: {from: "noreply@example.nhs.net"}
`), "bench.yaml")
	if err != nil {
		return err
	}
	if _, _, err := campaign.NewStore(db, c.table, clock).Apply(ctx, spec, "bench"); err != nil {
		return err
	}

	start := time.Now()
	b := findingstest.Batch{Campaign: c.campaign, Owners: map[string]string{}, ExpiresAt: clock().AddDate(1, 0, 0)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []map[string]types.AttributeValue, c.writers)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	fail := func(err error) { once.Do(func() { first = err; cancel() }) }
	for range max(1, c.writers) {
		wg.Go(func() {
			for batch := range batches {
				if err := store.BatchPut(ctx, db, c.table, batch); err != nil {
					fail(err)
				}
			}
		})
	}
	var chunk []connlog.Finding
	for i := range c.findings {
		f, owner := finding(i, c.affected, c.perOrg)
		b.Owners[*f.Account] = owner
		if chunk = append(chunk, f); len(chunk) < 25 && i < c.findings-1 {
			continue
		}
		batch, err := findingstest.Items(ctx, b, chunk)
		if err != nil {
			fail(err)
			break
		}
		chunk = nil
		select {
		case batches <- batch:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(batches)
	wg.Wait()
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("seed findings: %w", err)
	}
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "findings: seeded %d for %s over %d organisations in %s (%.0f items/s)\n",
		c.findings, c.campaign, c.affected, took.Round(time.Second), float64(c.findings)/took.Seconds())

	// Read them back the way the planner does: every one, attributed to the right organisation,
	// with the totals the writer would have stored.
	view, err := findings.NewReader(db, c.table, nil).View(ctx, c.campaign)
	if err != nil {
		return err
	}
	acts, err := view.Window(ctx, at.AddDays(-(days - 1)), at)
	if err != nil {
		return err
	}
	orgs := map[string]bool{}
	var successes int64
	for _, a := range acts {
		orgs[a.ODS] = true
		successes += a.Successes
		if a.Sources != 1 || a.Failures != 1 || !strings.Contains(a.Account, "."+a.ODS+"@") {
			return fmt.Errorf("verify: read back %+v", a)
		}
	}
	if len(acts) != c.findings || len(orgs) != c.affected || successes != 4*int64(c.findings) {
		return fmt.Errorf("verify: Window read %d findings of %d organisations with %d successes; want %d, %d, %d",
			len(acts), len(orgs), successes, c.findings, c.affected, 4*c.findings)
	}
	fmt.Fprintf(os.Stderr, "findings: Window reads back all %d, over %d organisations\n", len(acts), len(orgs))
	return nil
}

// plan plans c.runs times in this process and prints one row: the best wall time (the local
// DynamoDB is shared and stalls now and then; the fastest run is the least disturbed one), the
// requests of one plan (every run makes the same), the peak heap over the runs and the
// process's peak RSS.
func plan(ctx context.Context, db *dynamodb.Client, cnt *counter, c config) error {
	p := planner.New(db, c.table, nil, clock) // seeded findings: nothing staged
	stopPeak := heapPeak()
	var (
		best, due int
		times     []time.Duration
		ops       map[string]int
		err       error
	)
	for r := range max(1, c.runs) {
		runtime.GC()
		cnt.reset()
		start := time.Now()
		var pl planner.Plan
		if c.each {
			n := 0
			pl, err = p.PlanEach(ctx, c.campaign, at, func(d []planner.Due, _ []planner.Skip) error { n += len(d); return nil })
			pl.Due = make([]planner.Due, n)
		} else {
			pl, err = p.Plan(ctx, c.campaign, at)
		}
		times = append(times, time.Since(start))
		got := cnt.reset()
		if err != nil {
			break
		}
		if r == 0 {
			ops, due = got, len(pl.Due)
		} else if !maps.Equal(got, ops) || len(pl.Due) != due {
			err = fmt.Errorf("plan %d made requests %v and %d due, plan 1 %v and %d", r+1, got, len(pl.Due), ops, due)
			break
		}
		if times[r] < times[best] {
			best = r
		}
	}
	peak := stopPeak()
	if err != nil {
		return err
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	var names []string
	reads := 0
	for op, n := range ops {
		names = append(names, fmt.Sprintf("%s %d", op, n))
		switch op {
		case "GetItem", "BatchGetItem", "Query", "Scan":
			reads += n
		}
	}
	sort.Strings(names)
	var all []string
	for _, t := range times {
		all = append(all, t.Round(10*time.Millisecond).String())
	}
	fmt.Fprintf(os.Stderr, "plan %s, directory of %d: %s\n", c.campaign, c.orgs, strings.Join(all, ", "))
	fmt.Printf("| %d | %d | %d | %d | %s | %d | %s | %.0f MiB | %.0f MiB |\n", c.orgs, c.affected, c.findings, due,
		times[best].Round(10*time.Millisecond), reads, strings.Join(names, ", "), float64(peak)/(1<<20), float64(ru.Maxrss)/1024)
	return nil
}

// counting is a dispatcher that only counts what it is handed.
type counting struct{ n atomic.Int64 }

func (d *counting) Dispatch(_ context.Context, ns []ledger.Notice) error {
	d.n.Add(int64(len(ns)))
	return nil
}

func (d *counting) DispatchMails(context.Context, []ledger.MailKey) error { return nil }

// heapPeak samples the heap in use until stop is called, and returns the peak.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); <-sampled; return peak.Load() }
}

// runLean runs the campaign once as the scheduled Lambda does and prints one row.
func runLean(ctx context.Context, db *dynamodb.Client, cnt *counter, c config) error {
	p := planner.New(db, c.table, nil, clock) // seeded findings: nothing staged
	d := &counting{}
	runtime.GC()
	cnt.reset()
	stop := heapPeak()
	start := time.Now()
	res, err := p.Run(ctx, c.campaign, at, d, planner.Lean())
	took := time.Since(start)
	peak := stop()
	ops := cnt.reset()
	if err != nil {
		return err
	}
	if int(d.n.Load()) != res.Counts.Claimed {
		return fmt.Errorf("run claimed %d, handed over %d", res.Counts.Claimed, d.n.Load())
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	var names []string
	reads, writes := 0, 0
	for op, n := range ops {
		names = append(names, fmt.Sprintf("%s %d", op, n))
		switch op {
		case "GetItem", "BatchGetItem", "Query", "Scan":
			reads += n
		default:
			writes += n
		}
	}
	sort.Strings(names)
	fmt.Printf("| %d | %d | %d | %d | %s | %d | %d | %s | %.0f MiB | %.0f MiB |\n", c.orgs, c.affected, c.findings, res.Counts.Claimed,
		took.Round(10*time.Millisecond), reads, writes, strings.Join(names, ", "), float64(peak)/(1<<20), float64(ru.Maxrss)/1024)
	return nil
}
