package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func init() {
	commands["send-test"] = command{summary: "send one notice's rendering to an internal address, marked [TEST] (no ledger write)", run: runSendTest}
}

const sendTestUsage = "Usage: sunset send-test --campaign ID (--org ODS --stage S | --recipient ADDRESS) --to ADDRESS [--at YYYY-MM-DD] [--local]"

// newSender is the in-process sender of the CLI. Outcomes are logged to stderr (warnings and
// errors only: the command's own output says what was sent). Custom template folders are
// looked up relative to the current directory.
func newSender(ctx context.Context, env *cliEnv, local bool) (*sender.Sender, error) {
	db, table, err := env.dynamo(ctx, local)
	if err != nil {
		return nil, err
	}
	ses, err := env.ses(ctx, local)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	clock := env.clock
	var links *answers.Links
	if env.links != nil {
		if links, err = env.links(ctx, local); err != nil {
			return nil, err
		}
	}
	return sender.New(ses, ledger.New(db, table, clock), campaign.NewStore(db, table, clock),
		suppression.New(db, table, clock), clock, sender.Options{
			ConfigurationSet: env.getenv("SUNSET_CONFIGURATION_SET"),
			Identity:         env.getenv("SUNSET_SENDER_IDENTITY"),
			TemplateDir:      ".",
			Logger:           logger,
			Links:            links,
			TestRecipients:   sender.ParseTestRecipients(env.getenv("SUNSET_TEST_RECIPIENTS")),
		}), nil
}

func runSendTest(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("send-test", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, sendTestUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "campaign `ID`")
	org := fl.String("org", "", "the organisation's `ODS` code")
	stage := fl.String("stage", "", "the stage to render")
	to := fl.String("to", "", "the internal `ADDRESS` to send the test to")
	at := fl.String("at", "", "render as on this date (default today)")
	recipient := fl.String("recipient", "", "instead of --org and --stage: send the email this `ADDRESS` would get (merged when it is in several organisations' notices)")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	byOrg := *org != "" && *stage != "" && *recipient == ""
	if *id == "" || *to == "" || fl.NArg() > 0 || byOrg == (*recipient != "") || (*recipient != "" && (*org != "" || *stage != "")) {
		fl.Usage()
		return 2
	}
	if _, err := sender.TestAddress(*to); err != nil {
		fmt.Fprintf(env.stderr, "sunset send-test: --to %v\n", err)
		return 2
	}
	if !parseAt(env, "send-test", *at) {
		return 2
	}
	env = atTime(ctx, env, *local, *id, *at)
	report := func(what string, msgID string, e *notice.Email, err error) int {
		if errors.Is(err, sender.ErrNotInternal) {
			fmt.Fprintf(env.stderr, "sunset send-test: --to %v\n", err)
			return 2
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset send-test: %v\n", err)
			return 1
		}
		fmt.Fprintf(env.stdout, "sent test of %s to %s\n  subject: %s\n  message id: %s\n", what, *to, e.Subject, msgID)
		return 0
	}
	if *recipient != "" {
		return mergedThen(ctx, env, "send-test", *local, *id, *recipient, *at, func(rec *campaign.Record, k ledger.MailKey, ns []ledger.Notice, s *sender.Sender) int {
			msgID, e, err := s.SendTestMerged(ctx, rec.Campaign, k, *recipient, ns, *to)
			return report(fmt.Sprintf("the email to %s (%d organisations)", *recipient, len(ns)), msgID, e, err)
		})
	}
	return renderThen(ctx, env, "send-test", *local, *id, *org, *stage, *at, func(rec *campaign.Record, n ledger.Notice, s *sender.Sender) int {
		msgID, e, err := s.SendTest(ctx, rec.Campaign, n, *to)
		if errors.Is(err, sender.ErrNotInternal) {
			fmt.Fprintf(env.stderr, "sunset send-test: --to %v\n", err)
			return 2
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset send-test: %v\n", err)
			return 1
		}
		fmt.Fprintf(env.stdout, "sent test of %s/%s/%s to %s\n  subject: %s\n  message id: %s\n", n.Campaign, n.Org, n.Stage, *to, e.Subject, msgID)
		return 0
	})
}

// mergedThen resolves what recipient would get on at (planner.SnapshotFor) and hands it to fn
// with its mail's key and a sender.
func mergedThen(ctx context.Context, env *cliEnv, name string, local bool, id, recipient, at string,
	fn func(*campaign.Record, ledger.MailKey, []ledger.Notice, *sender.Sender) int) int {
	p, err := newPlanner(ctx, env, local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return 1
	}
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return exitFor(err)
	}
	day := planDate(env, rec.Campaign, at)
	ns, err := p.SnapshotFor(ctx, rec.Campaign, recipient, day)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		if errors.Is(err, planner.ErrNothingToRender) {
			return 2
		}
		return 1
	}
	s, err := newSender(ctx, env, local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return 1
	}
	return fn(rec, ledger.MailKeyOf(id, day, recipient), ns, s)
}

// renderThen resolves the notice snapshot and hands it to fn with a sender.
func renderThen(ctx context.Context, env *cliEnv, name string, local bool, id, org, stage, at string,
	fn func(*campaign.Record, ledger.Notice, *sender.Sender) int) int {
	p, err := newPlanner(ctx, env, local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return 1
	}
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return exitFor(err)
	}
	db, table, err := env.dynamo(ctx, local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return 1
	}
	n, err := p.Snapshot(ctx, ledger.New(db, table, env.clock), rec.Campaign, org, stage, planDate(env, rec.Campaign, at))
	if err != nil {
		if stage == "" && errors.Is(err, planner.ErrNothingToRender) {
			err = fmt.Errorf("%w; pass --stage to render one", err)
		}
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		if errors.Is(err, planner.ErrNothingToRender) {
			return 2
		}
		return 1
	}
	s, err := newSender(ctx, env, local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset %s: %v\n", name, err)
		return 1
	}
	return fn(rec, n, s)
}
