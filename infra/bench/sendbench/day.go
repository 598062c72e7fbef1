package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/infra/campaignday"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// ops counts calls by operation, before the SDK's retries.
type ops struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *ops) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		o.mu.Lock()
		o.n[awsmiddleware.GetOperationName(ctx)]++
		o.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.After)
}

func (o *ops) take() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.n
	o.n = map[string]int{}
	return out
}

func (o *ops) describe(m map[string]int) (string, int) {
	var parts []string
	total := 0
	for op, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", op, n))
		total += n
	}
	sort.Strings(parts)
	return strings.Join(parts, ", "), total
}

// day is a campaign day of n notices end to end through the Lambdas' handlers: the scheduled
// planner (planner.Handler: plan, claim, merge, hand off through the queue code) and the sender
// (sender.Handle on SQS batches of 10, two invocations at a time as the template's reserved
// concurrency allows), on the local DynamoDB and the private SES emulator. Four organisations
// in ten share a support unit's address (campaignday.Unit), so n/10 merged emails go with the
// notices. It prints the wall time and the requests of each half.
func day(ctx context.Context, cfg aws.Config, sesURL, campaignFile string, n int) error {
	dbOps, sesOps := &ops{n: map[string]int{}}, &ops{n: map[string]int{}}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb"))
		o.APIOptions = append(o.APIOptions, dbOps.option)
	})
	ses := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(sesURL)
		o.APIOptions = append(o.APIOptions, sesOps.option)
	})
	table := fmt.Sprintf("sendbench-day-%d", time.Now().UnixNano())
	drop, err := campaignday.Table(ctx, db, table)
	if err != nil {
		return err
	}
	defer drop()
	now := campaignday.Now
	clock := func() time.Time { return now }
	if _, err := campaignday.SeedUnits(ctx, db, table, campaignFile, "day-bench", n, now); err != nil {
		return err
	}
	cs := campaign.NewStore(db, table, clock)
	dbOps.take()

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	q := &campaignday.Queue{}
	p := planner.New(db, table, nil, clock) // seeded findings: nothing staged
	h := &planner.Handler{Planner: p, Live: cs, Dispatcher: &planner.Queue{Client: q, URL: "bench"}, Logger: quiet}
	start := time.Now()
	if err := h.Handle(ctx, events.EventBridgeEvent{ID: "bench"}); err != nil {
		return err
	}
	planTook := time.Since(start)
	planOps := dbOps.take()
	bodies := q.Take()
	mails := 0
	for _, b := range bodies {
		if strings.Contains(b, `"mail":`) {
			mails++
		}
	}
	units := map[string]int{}
	for i := range n {
		if u := campaignday.Unit(i); u != "" {
			units[u]++
		}
	}
	wantMails := 0
	for _, orgs := range units {
		if orgs > 1 {
			wantMails++
		}
	}
	if len(bodies) != n+mails || mails != wantMails {
		return fmt.Errorf("the planner handed over %d notices and %d merged emails, want %d and %d", len(bodies)-mails, mails, n, wantMails)
	}

	s := sender.New(ses, ledger.New(db, table, clock), cs, suppression.New(db, table, clock), clock, sender.Options{Instances: 2, Logger: quiet})
	var batches []events.SQSEvent
	for i := 0; i < len(bodies); i += 10 {
		var ev events.SQSEvent
		for j, b := range bodies[i:min(i+10, len(bodies))] {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i+j), Body: b})
		}
		batches = append(batches, ev)
	}
	var failed atomic.Int64
	start = time.Now()
	if err := parallel(len(batches), 2, func(i int) error {
		resp, err := s.Handle(ctx, batches[i])
		failed.Add(int64(len(resp.BatchItemFailures)))
		return err
	}); err != nil {
		return err
	}
	sendTook := time.Since(start)
	sendDB, sendSES := dbOps.take(), sesOps.take()
	if failed.Load() > 0 {
		return fmt.Errorf("%d notices came back to the queue", failed.Load())
	}
	sent := 0
	for _, b := range bodies {
		var k ledger.Key
		json.Unmarshal([]byte(b), &k)
		if k.Org == "" {
			continue // a merged email's hand-off
		}
		if nt, err := ledger.New(db, table, clock).Get(ctx, k.Campaign, k.Org, k.Stage); err == nil && nt.Status == ledger.Sent {
			sent++
		}
	}
	if sent != n {
		return fmt.Errorf("%d of %d notices sent", sent, n)
	}
	pd, pt := dbOps.describe(planOps)
	sd, st := dbOps.describe(sendDB)
	ed, _ := sesOps.describe(sendSES)
	fmt.Printf("\n| a campaign day of %d notices and %d merged emails, through the handlers | wall time | table requests | by operation |\n|---|---:|---:|---|\n", n, mails)
	fmt.Printf("| planner.Handler: plan, claim, merge, hand off (queue) | %s | %d | %s |\n", planTook.Round(10*time.Millisecond), pt, pd)
	fmt.Printf("| sender.Handle: batches of 10, 2 at a time | %s | %d (%.2f an email) | %s; SES: %s |\n",
		sendTook.Round(10*time.Millisecond), st, float64(st)/float64(n+mails), sd, ed)
	return nil
}
