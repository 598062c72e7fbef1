// Command planbench measures the planner on the local stack: it seeds a fresh table with a
// directory of N organisations and their accounts and F findings spread over the affected
// organisations, then plans the campaign and reports wall time, DynamoDB requests by operation
// (counted by an SDK middleware) and the Go heap. Run it through infra/bench/plan.sh.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	smithymw "github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

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

func main() {
	orgs := flag.Int("orgs", 30000, "organisations in the directory")
	accountsPerOrg := flag.Int("accounts-per-org", 10, "accounts per organisation")
	affected := flag.Int("affected", 3000, "organisations with legacy findings")
	nFindings := flag.Int("findings", 300000, "finding items (account x hostname x protocol x day)")
	table := flag.String("table", "", "table name (default: a new one)")
	phase := flag.String("phase", "all", "seed | plan | drop | all")
	flag.Parse()
	if err := run(*orgs, *accountsPerOrg, *affected, *nFindings, *table, *phase); err != nil {
		fmt.Fprintln(os.Stderr, "planbench:", err)
		os.Exit(1)
	}
}

func run(nOrgs, perOrg, affected, nFindings int, table, phase string) error {
	ctx := context.Background()
	cnt := &counter{ops: map[string]int{}}
	count := func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *smithymw.Stack) error {
			return s.Initialize.Add(smithymw.InitializeMiddlewareFunc("count", func(ctx context.Context, in smithymw.InitializeInput, next smithymw.InitializeHandler) (smithymw.InitializeOutput, smithymw.Metadata, error) {
				cnt.add(middleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), smithymw.After)
		})
	}
	db := dynamodb.NewFromConfig(aws.Config{Region: localstack.Region, Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")},
		func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) }, count)
	if table == "" {
		table = fmt.Sprintf("bench-plan-%d", time.Now().Unix())
	}
	clock := func() time.Time { return time.Date(2030, 7, 28, 7, 0, 0, 0, time.UTC) }
	at := calendar.In(clock(), time.UTC)
	if phase == "seed" || phase == "all" {
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
		start := time.Now()
		if err := seed(ctx, db, table, clock, nOrgs, perOrg, affected, nFindings, at); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seeded %s in %s\n", table, time.Since(start).Round(time.Second))
		fmt.Println(table)
	}
	if phase == "drop" {
		_, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		return err
	}
	if phase == "plan" || phase == "all" {
		cnt.reset()
		p := planner.New(db, table, clock)
		runtime.GC()
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var ms runtime.MemStats
			for {
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > peak.Load() {
					peak.Store(ms.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		pl, err := p.Plan(ctx, "bench", at)
		elapsed := time.Since(start)
		close(stop)
		if err != nil {
			return err
		}
		ops := cnt.reset()
		var names []string
		total := 0
		for k, v := range ops {
			names = append(names, k)
			total += v
		}
		sort.Strings(names)
		fmt.Printf("| directory orgs | affected orgs | findings | due | skipped | plan time | requests | peak heap |\n|---|---|---|---|---|---|---|---|\n")
		fmt.Printf("| %d | %d | %d | %d | %d | %s | %d | %.1f MiB |\n", nOrgs, affected, nFindings, len(pl.Due), len(pl.Skipped),
			elapsed.Round(time.Millisecond), total, float64(peak.Load())/(1<<20))
		fmt.Printf("\n| operation | requests |\n|---|---|\n")
		for _, n := range names {
			fmt.Printf("| %s | %d |\n", n, ops[n])
		}
	}
	return nil
}

func seed(ctx context.Context, db *dynamodb.Client, table string, clock func() time.Time, nOrgs, perOrg, affected, nFindings int, at calendar.Date) error {
	var orgs, accts bytes.Buffer
	orgs.WriteString("ods_code,name,la_emails,pla_email\n")
	accts.WriteString("email,ods_code\n")
	for i := range nOrgs {
		ods := fmt.Sprintf("O%05d", i)
		fmt.Fprintf(&orgs, "%s,Organisation %d,la1@%s.nhs.net;la2@%s.nhs.net,pla@%s.nhs.net\n", ods, i, ods, ods, ods)
		for j := range perOrg {
			fmt.Fprintf(&accts, "u%d.%s@nhs.net,%s\n", j, ods, ods)
		}
	}
	dir := directory.New(db, table, clock)
	if _, err := dir.Import(ctx, directory.ImportInput{Orgs: &orgs, Accounts: &accts, OrgsName: "orgs.csv", AccountsName: "accounts.csv"}); err != nil {
		return err
	}
	c, err := campaign.Parse([]byte(`id: bench
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
	if _, _, err := campaign.NewStore(db, table, clock).Apply(ctx, c, "bench"); err != nil {
		return err
	}
	// Findings: affected orgs' accounts, two hostnames, over the 30 days before at.
	w := findings.NewWriter(db, table)
	owners := map[string]string{}
	var fs []connlog.Finding
	hosts := []string{"imap.nhs.net", "smtp.nhs.net"}
	protos := []string{"IMAP", "SMTP"}
	for i := 0; len(fs) < nFindings; i++ {
		org := (i / (2 * 30)) % affected
		acct := fmt.Sprintf("u%d.O%05d@nhs.net", (i/(2*30*affected))%perOrg, org)
		owners[acct] = fmt.Sprintf("O%05d", org)
		h := i % 2
		day := at.AddDays(-((i / 2) % 30))
		a := acct
		fs = append(fs, connlog.Finding{Account: &a, Hostname: hosts[h], Protocol: protos[h], Day: day.String(),
			FirstSeen: day.Start(time.UTC).Add(8 * time.Hour), LastSeen: day.Start(time.UTC).Add(9 * time.Hour), Successes: 4, Failures: 1,
			ClientIPs: []string{"10.0.0.1"}})
	}
	for start := 0; start < len(fs); start += 5000 {
		end := min(start+5000, len(fs))
		if _, err := w.Write(ctx, findings.Batch{Campaign: "bench", Source: fmt.Sprintf("bench/%d", start), Owners: owners,
			ExpiresAt: clock().AddDate(1, 0, 0)}, fs[start:end]); err != nil {
			return err
		}
	}
	return nil
}
