package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/deadletter"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func init() {
	commands["dlq"] = command{summary: "what waits in a dead-letter queue, and send it back (list | redrive --queue NAME)", run: runDLQ}
}

var dlqUsage = "Usage:\n  sunset dlq list --queue NAME [--max N] [--json]\n  sunset dlq redrive --queue NAME [--max N]\n" +
	"NAME is one of: " + strings.Join(deadletter.Names(), ", ") + " (the queues are <SUNSET_TABLE>-NAME-dlq, as template.yaml names them)"

// runDLQ lists or redrives one dead-letter queue of the deployment named by SUNSET_TABLE. The
// local stack has no SQS, so this command always talks to AWS.
func runDLQ(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "redrive") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(env.stderr, dlqUsage)
			return 0
		}
		fmt.Fprintln(env.stderr, dlqUsage)
		return 2
	}
	verb := args[0]
	fl := flag.NewFlagSet("dlq "+verb, flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, dlqUsage); fl.PrintDefaults() }
	name := fl.String("queue", "", "the dead-letter queue: "+strings.Join(deadletter.Names(), ", "))
	limit := fl.Int("max", 100, "at most this many messages")
	asJSON := fl.Bool("json", false, "list: print JSON")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args[1:]); !ok {
		return code
	}
	if *local {
		fmt.Fprintf(env.stderr, "sunset dlq %s: the local stack has no SQS: dead-letter queues exist in AWS only\n", verb)
		return 2
	}
	q, err := deadletter.Lookup(*name)
	if err != nil || fl.NArg() > 0 || *limit < 1 || (*asJSON && verb != "list") {
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset dlq: %v\n", err)
		}
		fmt.Fprintln(env.stderr, dlqUsage)
		return 2
	}
	client, table, err := env.sqs(ctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset dlq %s: %v\n", verb, err)
		return 1
	}
	c := deadletter.New(client, table)
	if verb == "list" {
		return listDLQ(ctx, env, c, q, *limit, *asJSON)
	}
	return redriveDLQ(ctx, env, c, q, table, *limit)
}

func listDLQ(ctx context.Context, env *cliEnv, c *deadletter.Client, q deadletter.Queue, limit int, asJSON bool) int {
	total, msgs, err := c.List(ctx, q, limit)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset dlq list: %v\n", err)
		return 1
	}
	if asJSON {
		if msgs == nil {
			msgs = []deadletter.Message{}
		}
		return printJSON(env, msgs)
	}
	fmt.Fprintf(env.stdout, "%s: about %d messages (%s)\n", c.QueueName(q), total, q.What)
	if len(msgs) > 0 {
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "MESSAGE\tFIRST QUEUED (UTC)\tRECEIVES\tWHAT")
		for _, m := range msgs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", m.ID, m.SentAt.Format("2006-01-02 15:04"), m.Receives, m.Summary)
		}
		tw.Flush()
	}
	return 0
}

func redriveDLQ(ctx context.Context, env *cliEnv, c *deadletter.Client, q deadletter.Queue, table string, limit int) int {
	var replay deadletter.Replay
	where := "back to " + table + "-" + q.Source
	switch q.Name {
	case "feedback":
		h, err := feedbackHandler(ctx, env)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset dlq redrive: %v\n", err)
			return 1
		}
		replay, where = h.Replay, "replayed through the feedback handler"
	case "planner":
		h, err := plannerHandler(ctx, env)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset dlq redrive: %v\n", err)
			return 1
		}
		replay = func(ctx context.Context, body string) error {
			var ev events.EventBridgeEvent
			if err := json.Unmarshal([]byte(body), &ev); err != nil {
				return fmt.Errorf("not a scheduled event: %w", err)
			}
			return h.Handle(ctx, ev) // today's plan for every live campaign, sent in-process
		}
		where = "replayed as today's run (plan, claim, send: nothing twice)"
	}
	n, err := c.Redrive(ctx, q, limit, replay)
	fmt.Fprintf(env.stdout, "%s: %d messages %s\n", c.QueueName(q), n, where)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset dlq redrive: %v\n", err)
		return 1
	}
	return 0
}

// plannerHandler is the scheduled planner's handler over the deployment's table, sending what
// it claims in-process, as `sunset run` does.
func plannerHandler(ctx context.Context, env *cliEnv) (*planner.Handler, error) {
	p, err := newPlanner(ctx, env, false)
	if err != nil {
		return nil, err
	}
	s, err := newSender(ctx, env, false)
	if err != nil {
		return nil, err
	}
	cs, err := campaignStore(ctx, env, false)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &planner.Handler{Planner: p, Live: cs, Dispatcher: s, Logger: log}, nil
}

// feedbackHandler is the feedback function's handler over the deployment's table, for replays.
func feedbackHandler(ctx context.Context, env *cliEnv) (*feedback.Handler, error) {
	db, table, err := env.dynamo(ctx, false)
	if err != nil {
		return nil, err
	}
	cfg, err := feedback.LoadConfig(func(k string) string {
		if k == "SUNSET_TABLE" {
			return table
		}
		return env.getenv(k)
	})
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return feedback.New(suppression.New(db, table, env.clock), ledger.New(db, table, env.clock), feedback.Options{
		Campaigns: campaign.NewStore(db, table, env.clock), AutoPause: cfg.AutoPause, Clock: env.clock, Logger: log,
	}), nil
}
