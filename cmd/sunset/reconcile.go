package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

func init() {
	commands["reconcile"] = command{summary: "list notices still in doubt after a crash (or, with --failed, failed ones); resend one only with --resend and a reason", run: runReconcile}
}

const reconcileUsage = `Usage:
  sunset reconcile --campaign ID [--grace 1h] [--json] [--local]
  sunset reconcile --campaign ID --resend --reason TEXT [--org ODS [--stage NAME]] [--by NAME] [--grace 1h] [--local]
  sunset reconcile --campaign ID --failed [--json] [--local]
  sunset reconcile --campaign ID --failed --resend --reason TEXT --org ODS [--stage NAME] [--by NAME] [--local]`

// defaultGrace is how long SES's events get to settle a notice before reconcile lists it: SES
// publishes Send within seconds and Delivery within minutes, so an hour leaves only the notices
// whose events never came.
const defaultGrace = time.Hour

// runReconcile lists the campaign's notices in doubt (leased by a sender that never recorded
// the outcome, and not settled by any SES event within the grace period) and, with --resend,
// releases them for sending again (recorded on each notice with --by and --reason) and sends
// them now. --org and --stage narrow a resend to one organisation or one notice. With --failed
// it does the same for failed notices (SES rejected them for good, or they would not render):
// a resend of those needs --org, so that a whole campaign's failures are never sent again by
// accident.
func runReconcile(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, reconcileUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "the campaign `ID` (required)")
	grace := fl.Duration("grace", defaultGrace, "list only notices leased longer ago than this")
	resend := fl.Bool("resend", false, "release the listed notices and send them again (needs --reason)")
	reason := fl.String("reason", "", "why they are sent again, kept on each notice (required with --resend)")
	org := fl.String("org", "", "resend only this organisation's notices (`ODS` code)")
	stage := fl.String("stage", "", "with --org: resend only this stage")
	by := fl.String("by", "", "who resends (default $USER)")
	asJSON := fl.Bool("json", false, "print the notices in doubt as JSON")
	failed := fl.Bool("failed", false, "failed notices instead of those in doubt (a resend needs --org)")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	usage := func(msg string) int {
		fmt.Fprintf(env.stderr, "sunset reconcile: %s\n%s\n", msg, reconcileUsage)
		return 2
	}
	switch {
	case fl.NArg() > 0:
		return usage("unexpected arguments " + strings.Join(fl.Args(), " "))
	case *id == "":
		return usage("--campaign is required")
	case *grace < 0:
		return usage("--grace must not be negative")
	case *resend && strings.TrimSpace(*reason) == "":
		return usage("--resend needs --reason: a notice is sent a second time only on record")
	case !*resend && (*reason != "" || *org != "" || *stage != ""):
		return usage("--reason, --org and --stage go with --resend")
	case *stage != "" && *org == "":
		return usage("--stage needs --org")
	case *failed && *resend && *org == "":
		return usage("--failed --resend needs --org: failed notices are sent again one organisation at a time, on purpose")
	}
	fail := func(err error) int {
		fmt.Fprintf(env.stderr, "sunset reconcile: %v\n", err)
		return exitFor(err)
	}
	db, table, err := env.dynamo(ctx, *local)
	if err != nil {
		return fail(err)
	}
	l := ledger.New(db, table, env.clock)
	var doubt []ledger.Notice
	if *failed {
		doubt, err = l.Failed(ctx, *id)
	} else {
		doubt, err = l.InDoubt(ctx, *id, env.clock().Add(-*grace))
	}
	if err != nil {
		return fail(err)
	}
	switch {
	case !*resend && *failed:
		return listFailed(env, *id, doubt, *asJSON)
	case !*resend:
		return listInDoubt(env, *id, *grace, doubt, *asJSON)
	}
	var picked []ledger.Notice
	for _, n := range doubt {
		if (*org == "" || strings.EqualFold(n.Org, *org)) && (*stage == "" || n.Stage == *stage) {
			picked = append(picked, n)
		}
	}
	if len(picked) == 0 {
		what := "in doubt"
		if *failed {
			what = "failed"
		}
		fmt.Fprintf(env.stderr, "sunset reconcile: no notice of %s %s matches (nothing resent)\n", *id, what)
		return 1
	}
	cs, err := campaignStore(ctx, env, *local)
	if err != nil {
		return fail(err)
	}
	if rec, err := cs.Get(ctx, *id); err != nil {
		return fail(err)
	} else if rec.Status != campaign.Active {
		fmt.Fprintf(env.stderr, "sunset reconcile: campaign %s is %s: resume it before resending (nothing released)\n", *id, rec.Status)
		return 2
	}
	s, err := newSender(ctx, env, *local)
	if err != nil {
		return fail(err)
	}
	return resendInDoubt(ctx, env, l, s, picked, whoAmI(env, *by), *reason)
}

func listInDoubt(env *cliEnv, id string, grace time.Duration, doubt []ledger.Notice, asJSON bool) int {
	if asJSON {
		if doubt == nil {
			doubt = []ledger.Notice{}
		}
		return printJSON(env, doubt)
	}
	w := env.stdout
	noun := "notices"
	if len(doubt) == 1 {
		noun = "notice"
	}
	fmt.Fprintf(w, "campaign %s: %d %s in doubt (leased more than %s ago and settled by no SES event, or released and not sent)\n", id, len(doubt), noun, grace)
	if len(doubt) == 0 {
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG\tNAME\tSTAGE\tLEASED (UTC)\tRECIPIENTS\tRELEASES")
	for _, n := range doubt {
		leased := "released, not sent"
		if n.InDoubt() {
			leased = n.SendStartedAt.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\n", n.Org, n.OrgName, n.Stage, leased, len(n.Recipients), len(n.Resends))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nEach may or may not have gone out. Check SES first (docs/operations.md, \"In-doubt notices\"); to send one again:\n")
	fmt.Fprintf(w, "  sunset reconcile --campaign %s --resend --org %s --stage %s --reason \"...\"\n", id, doubt[0].Org, doubt[0].Stage)
	return 0
}

// listFailed prints the campaign's failed notices and why each failed.
func listFailed(env *cliEnv, id string, failed []ledger.Notice, asJSON bool) int {
	if asJSON {
		if failed == nil {
			failed = []ledger.Notice{}
		}
		return printJSON(env, failed)
	}
	w := env.stdout
	noun := "notices"
	if len(failed) == 1 {
		noun = "notice"
	}
	fmt.Fprintf(w, "campaign %s: %d failed %s\n", id, len(failed), noun)
	if len(failed) == 0 {
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ORG\tNAME\tSTAGE\tRECIPIENTS\tRELEASES\tERROR")
	for _, n := range failed {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", n.Org, n.OrgName, n.Stage, len(n.Recipients), len(n.Resends), n.Error)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nMend what failed it first (docs/operations.md, \"Failed notices\"); to send one again, on record:\n")
	fmt.Fprintf(w, "  sunset reconcile --campaign %s --failed --resend --org %s --stage %s --reason \"...\"\n", id, failed[0].Org, failed[0].Stage)
	return 0
}

// resendInDoubt releases each notice (on record) and sends it at once. A notice settled or
// released by someone else meanwhile is skipped, not sent; one released before whose send
// failed is sent without a second release. A failed notice is released from failed.
func resendInDoubt(ctx context.Context, env *cliEnv, l *ledger.Ledger, s *sender.Sender, notices []ledger.Notice, by, reason string) int {
	code := 0
	for _, n := range notices {
		k := n.Key()
		release := l.ReleaseForResend
		if n.Status == ledger.Failed {
			release = l.ReleaseFailed
		}
		if !n.Released() { // one released before, whose send failed, is not released twice
			err := release(ctx, n, by, reason)
			if errors.Is(err, ledger.ErrNotClaimed) {
				fmt.Fprintf(env.stdout, "%s: no longer in doubt (settled or released meanwhile): not resent\n", k)
				continue
			}
			if err != nil {
				fmt.Fprintf(env.stderr, "sunset reconcile: %v\n", err)
				code = 1
				continue
			}
		}
		o, err := s.Send(ctx, k)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset reconcile: %s released but not sent (reconcile lists it; --resend again sends it): %v\n", k, err)
			code = 1
			continue
		}
		fmt.Fprintf(env.stdout, "%s: released by %s (%q) and %s\n", k, by, reason, o)
	}
	return code
}
