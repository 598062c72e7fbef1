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
  sunset reconcile --campaign ID --failed --resend --reason TEXT --org ODS [--stage NAME] [--by NAME] [--local]
  sunset reconcile --campaign ID --mails [--grace 1h] [--json] [--local]
  sunset reconcile --campaign ID --mails --resend --reason TEXT [--mail ID] [--by NAME] [--grace 1h] [--local]`

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
	mails := fl.Bool("mails", false, "merged emails (one email to one address for several organisations) in doubt instead of notices")
	mail := fl.String("mail", "", "with --mails --resend: resend only this merged email (its `ID`, as listed)")
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
	case *mails && (*failed || *org != "" || *stage != ""):
		return usage("--mails goes with neither --failed, --org nor --stage (a merged email names its own --mail)")
	case *mail != "" && !(*mails && *resend):
		return usage("--mail goes with --mails --resend")
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
	if *mails {
		return reconcileMails(ctx, env, l, *id, *grace, *resend, *mail, whoAmI(env, *by), *reason, *local, *asJSON)
	}
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
		code := listInDoubt(env, *id, *grace, doubt, *asJSON)
		if m, err := l.MailsInDoubt(ctx, *id, env.clock().Add(-*grace)); err != nil {
			return fail(err)
		} else if len(m) > 0 && !*asJSON {
			fmt.Fprintf(env.stdout, "\n%d merged emails are in doubt too: sunset reconcile --campaign %s --mails lists them\n", len(m), *id)
		}
		return code
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
	s, code := resender(ctx, env, *id, *local)
	if s == nil {
		return code
	}
	return resendInDoubt(ctx, env, l, s, picked, whoAmI(env, *by), *reason)
}

// resender is the sender of a resend, once the campaign is known to be active (else nil and
// the exit code).
func resender(ctx context.Context, env *cliEnv, id string, local bool) (*sender.Sender, int) {
	fail := func(err error) (*sender.Sender, int) {
		fmt.Fprintf(env.stderr, "sunset reconcile: %v\n", err)
		return nil, exitFor(err)
	}
	cs, err := campaignStore(ctx, env, local)
	if err != nil {
		return fail(err)
	}
	if rec, err := cs.Get(ctx, id); err != nil {
		return fail(err)
	} else if rec.Status != campaign.Active {
		fmt.Fprintf(env.stderr, "sunset reconcile: campaign %s is %s: resume it before resending (nothing released)\n", id, rec.Status)
		return nil, 2
	}
	s, err := newSender(ctx, env, local)
	if err != nil {
		return fail(err)
	}
	return s, 0
}

// reconcileMails lists the campaign's merged emails in doubt (or released and not sent) and,
// with resend, releases them on record and sends them again (only mailID's when given).
func reconcileMails(ctx context.Context, env *cliEnv, l *ledger.Ledger, id string, grace time.Duration, resend bool, mailID, by, reason string, local, asJSON bool) int {
	doubt, err := l.MailsInDoubt(ctx, id, env.clock().Add(-grace))
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset reconcile: %v\n", err)
		return exitFor(err)
	}
	if !resend {
		if asJSON {
			if doubt == nil {
				doubt = []ledger.Mail{}
			}
			return printJSON(env, doubt)
		}
		fmt.Fprintf(env.stdout, "campaign %s: %d merged emails in doubt (leased more than %s ago and settled by no SES event, or released and not sent)\n", id, len(doubt), grace)
		if len(doubt) == 0 {
			return 0
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "MAIL\tADDRESS\tORGANISATIONS\tLEASED (UTC)\tRELEASES")
		for _, m := range doubt {
			leased := "released, not sent"
			if m.InDoubt() {
				leased = m.SendStartedAt.UTC().Format("2006-01-02 15:04:05")
			}
			var orgs []string
			for _, n := range m.Notices {
				orgs = append(orgs, n.Org)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", m.ID(), m.Address, strings.Join(orgs, " "), leased, len(m.Resends))
		}
		tw.Flush()
		fmt.Fprintf(env.stdout, "\nEach may or may not have gone out. Check SES first (docs/operations.md, \"In-doubt notices\"); to send one again:\n")
		fmt.Fprintf(env.stdout, "  sunset reconcile --campaign %s --mails --resend --mail %s --reason \"...\"\n", id, doubt[0].ID())
		return 0
	}
	var picked []ledger.Mail
	for _, m := range doubt {
		if mailID == "" || m.ID() == mailID {
			picked = append(picked, m)
		}
	}
	if len(picked) == 0 {
		fmt.Fprintf(env.stderr, "sunset reconcile: no merged email of %s in doubt matches (nothing resent)\n", id)
		return 1
	}
	s, code := resender(ctx, env, id, local)
	if s == nil {
		return code
	}
	for _, m := range picked {
		if !m.Released() {
			err := l.ReleaseMailForResend(ctx, m, by, reason)
			if errors.Is(err, ledger.ErrNotClaimed) {
				fmt.Fprintf(env.stdout, "%s: no longer in doubt (settled or released meanwhile): not resent\n", m.MailKey)
				continue
			}
			if err != nil {
				fmt.Fprintf(env.stderr, "sunset reconcile: %v\n", err)
				code = 1
				continue
			}
		}
		res, err := s.SendMails(ctx, []ledger.MailKey{m.MailKey})
		if err == nil && len(res) == 1 {
			err = res[0].Err
		}
		if err != nil || len(res) != 1 {
			fmt.Fprintf(env.stderr, "sunset reconcile: %s released but not sent (reconcile --mails lists it; --resend again sends it): %v\n", m.MailKey, err)
			code = 1
			continue
		}
		fmt.Fprintf(env.stdout, "%s: released by %s (%q) and %s\n", m.MailKey, by, reason, res[0].Outcome)
	}
	return code
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
