package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
)

func init() {
	commands["backfill"] = command{summary: "hand the log files already in the bucket to ingest for a campaign (those that came before it was live)", run: runBackfill}
}

const backfillUsage = `Usage: sunset backfill --campaign ID [--since YYYY-MM-DD] [--bucket NAME] [--prefix logs/] [--json]
Queues, on <SUNSET_TABLE>-ingest, every log file still in the bucket (its current version) last
written on or after --since (default: the start of the campaign's activity window) that the
campaign has not ingested. The ingest function scans each once (the file ledger), for every
live campaign that lacks it; running it again queues only what is still not ingested. AWS only:
the local stack has no S3 or SQS (there, sunset ingest reads files directly).`

func runBackfill(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, backfillUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "the live campaign's `ID`")
	since := fl.String("since", "", "files last written on or after this `YYYY-MM-DD` (the campaign's time zone)")
	bucket := fl.String("bucket", "", "the log bucket `NAME` (default SUNSET_LOG_BUCKET)")
	prefix := fl.String("prefix", "logs/", "the logs' `PREFIX` in the bucket")
	asJSON := fl.Bool("json", false, "print JSON")
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	*bucket = cmp.Or(*bucket, env.getenv("SUNSET_LOG_BUCKET"))
	if *id == "" || *bucket == "" || fl.NArg() > 0 {
		fmt.Fprintln(env.stderr, "sunset backfill: --campaign and --bucket (or SUNSET_LOG_BUCKET) are required")
		fl.Usage()
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(env.stderr, "sunset backfill: %v\n", err); return 1 }
	db, table, err := env.dynamo(ctx, false)
	if err != nil {
		return fail(err)
	}
	r, err := campaign.NewStore(db, table, env.clock).Get(ctx, *id)
	if errors.Is(err, campaign.ErrNotFound) {
		fmt.Fprintf(env.stderr, "sunset backfill: campaign %s not found: apply it first (ingest scans only for live campaigns)\n", *id)
		return 2
	}
	if err != nil {
		return fail(err)
	}
	if r.Status == campaign.Cancelled {
		fmt.Fprintf(env.stderr, "sunset backfill: campaign %s is cancelled: ingest no longer scans for it\n", *id)
		return 2
	}
	c := r.Campaign
	from := c.Today(env.clock()).AddDays(-c.ActivityWindowDays)
	if *since != "" {
		if from, err = calendar.Parse(*since); err != nil {
			fmt.Fprintf(env.stderr, "sunset backfill: --since %q is not a date YYYY-MM-DD\n", *since)
			return 2
		}
	}
	q, queues, err := env.sqs(ctx)
	if err != nil {
		return fail(err)
	}
	store, err := env.s3(ctx)
	if err != nil {
		return fail(err)
	}
	name := queues + "-ingest"
	u, err := q.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return fail(fmt.Errorf("the ingest queue %s: %w", name, err))
	}
	b := ingest.Backfill{S3: store, Queue: q, QueueURL: aws.ToString(u.QueueUrl), DB: db, Table: table}
	res, err := b.Run(ctx, *bucket, *prefix, c.ID, from.Start(c.Location()))
	if err != nil {
		return fail(err)
	}
	if *asJSON {
		return printJSON(env, res)
	}
	fmt.Fprintf(env.stdout, "s3://%s/%s since %s: %d files; %d queued on %s, %d already ingested for %s, %d written before the date\n",
		*bucket, *prefix, from.British(), res.Files, res.Queued, name, res.Done, c.ID, res.Earlier)
	return 0
}
