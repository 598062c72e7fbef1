package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
)

func init() {
	commands["responses"] = command{summary: "what organisations answered through their notices' links: acknowledgements, disputed accounts, requests for more time", run: runResponses}
	commands["dispute"] = command{summary: "decide a disputed account: reassign it to another organisation, or confirm it (dispute resolve)", run: runDispute}
	commands["extension"] = command{summary: "decide a request for more time: approve it (the extension is made) or refuse it (extension approve|refuse)", run: runExtension}
}

const (
	responsesUsage = "Usage: sunset responses --campaign ID [--json] [--local]"
	disputeUsage   = "Usage: sunset dispute resolve --campaign ID --org ODS --account ADDRESS (--reassign-to ODS | --confirm) [--by NAME] [--local]"
	extensionUsage = "Usage:\n  sunset extension approve --campaign ID --org ODS --until YYYY-MM-DD [--by NAME] [--local]\n" +
		"  sunset extension refuse --campaign ID --org ODS --until YYYY-MM-DD --reason TEXT [--by NAME] [--local]"
)

// answersCmd is one of these commands being run: its flags, its stores.
type answersCmd struct {
	env      *cliEnv
	name     string
	fl       *flag.FlagSet
	campaign *string
	local    *bool
}

func newAnswersCmd(env *cliEnv, name, usage string) *answersCmd {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, usage); fl.PrintDefaults() }
	return &answersCmd{env: env, name: name, fl: fl, campaign: fl.String("campaign", "", "campaign `ID`"), local: localFlag(fl)}
}

func (c *answersCmd) fail(err error) int {
	fmt.Fprintf(c.env.stderr, "sunset %s: %v\n", c.name, err)
	if errors.Is(err, answers.ErrNotFound) {
		return 2
	}
	return exitFor(err)
}

func (c *answersCmd) stores(ctx context.Context) (*answers.Store, *campaign.Store, *directory.Directory, error) {
	db, table, err := c.env.dynamo(ctx, *c.local)
	if err != nil {
		return nil, nil, nil, err
	}
	return answers.NewStore(db, table, c.env.clock), campaign.NewStore(db, table, c.env.clock), directory.New(db, table, c.env.clock), nil
}

func runResponses(ctx context.Context, env *cliEnv, args []string) int {
	c := newAnswersCmd(env, "responses", responsesUsage)
	asJSON := c.fl.Bool("json", false, "print JSON")
	if code, ok := parseFlags(c.fl, args); !ok {
		return code
	}
	if *c.campaign == "" || c.fl.NArg() > 0 {
		c.fl.Usage()
		return 2
	}
	as, cs, _, err := c.stores(ctx)
	if err != nil {
		return c.fail(err)
	}
	if _, err := cs.Get(ctx, *c.campaign); err != nil {
		return c.fail(err)
	}
	all, err := as.List(ctx, *c.campaign)
	if err != nil {
		return c.fail(err)
	}
	if *asJSON {
		return printJSON(env, all)
	}
	printResponses(env, all)
	return 0
}

func printResponses(env *cliEnv, all answers.Answers) {
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	when := func(t time.Time) string { return t.Format("2006-01-02 15:04") }
	fmt.Fprintf(tw, "DISPUTED ACCOUNTS (%d)\tORG\tBY\tAT\tSTATUS\n", len(all.Disputes))
	for _, d := range all.Disputes {
		status := d.Status
		if d.ReassignedTo != "" {
			status += " to " + d.ReassignedTo
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Account, d.Org, d.By, when(d.At), status)
	}
	fmt.Fprintf(tw, "\nREQUESTS FOR MORE TIME (%d)\tORG\tBY\tAT\tSTATUS\tWHY\n", len(all.Requests))
	for _, r := range all.Requests {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Until, r.Org, r.By, when(r.At), r.Status, r.Reason)
	}
	fmt.Fprintf(tw, "\nACKNOWLEDGEMENTS (%d)\tORG\tBY\tAT\tNOTE\n", len(all.Acks))
	for _, a := range all.Acks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Stage, a.Org, a.By, when(a.At), a.Note)
	}
	tw.Flush()
}

func runDispute(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] != "resolve" {
		fmt.Fprintln(env.stderr, disputeUsage)
		return 2
	}
	c := newAnswersCmd(env, "dispute resolve", disputeUsage)
	org := c.fl.String("org", "", "the organisation that disputes the account (`ODS`)")
	account := c.fl.String("account", "", "the disputed account (`ADDRESS`)")
	to := c.fl.String("reassign-to", "", "the organisation (`ODS`) the account belongs to instead, for this campaign")
	confirmed := c.fl.Bool("confirm", false, "the account is the organisation's after all")
	by := c.fl.String("by", "", "who decides (default $USER)")
	if code, ok := parseFlags(c.fl, args[1:]); !ok {
		return code
	}
	if *c.campaign == "" || *org == "" || *account == "" || (*to == "") != *confirmed || c.fl.NArg() > 0 {
		c.fl.Usage()
		return 2
	}
	as, cs, dir, err := c.stores(ctx)
	if err != nil {
		return c.fail(err)
	}
	rec, err := cs.Get(ctx, *c.campaign)
	if err != nil {
		return c.fail(err)
	}
	if *to != "" {
		orgs, err := dir.Orgs(ctx, []string{campaign.NormODS(*to)})
		if err != nil {
			return c.fail(err)
		}
		if o, ok := orgs[campaign.NormODS(*to)]; !ok || o.Gone {
			fmt.Fprintf(env.stderr, "sunset dispute resolve: --reassign-to %s: the directory has no such organisation\n", *to)
			return 2
		}
	}
	if err := as.ResolveDispute(ctx, rec.Campaign, *org, *account, *to, whoAmI(env, *by)); err != nil {
		return c.fail(err)
	}
	if *to != "" {
		fmt.Fprintf(env.stdout, "%s reassigned from %s to %s for campaign %s: its next notices go to %s\n", strings.ToLower(*account),
			campaign.NormODS(*org), campaign.NormODS(*to), rec.Campaign.ID, campaign.NormODS(*to))
	} else {
		fmt.Fprintf(env.stdout, "%s confirmed as %s's for campaign %s\n", strings.ToLower(*account), campaign.NormODS(*org), rec.Campaign.ID)
	}
	return 0
}

func runExtension(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || (args[0] != "approve" && args[0] != "refuse") {
		fmt.Fprintln(env.stderr, extensionUsage)
		return 2
	}
	decision := args[0]
	c := newAnswersCmd(env, "extension "+decision, extensionUsage)
	org := c.fl.String("org", "", "the organisation that asked (`ODS`)")
	until := c.fl.String("until", "", "the date it asked for, `YYYY-MM-DD`")
	reason := c.fl.String("reason", "", "why it is refused (refuse only; the team sees it)")
	by := c.fl.String("by", "", "who decides (default $USER)")
	if code, ok := parseFlags(c.fl, args[1:]); !ok {
		return code
	}
	d, err := calendar.Parse(*until)
	if *c.campaign == "" || *org == "" || err != nil || (decision == "refuse" && strings.TrimSpace(*reason) == "") || c.fl.NArg() > 0 {
		c.fl.Usage()
		return 2
	}
	as, cs, _, err := c.stores(ctx)
	if err != nil {
		return c.fail(err)
	}
	if decision == "refuse" {
		if err := as.Refuse(ctx, *c.campaign, *org, d, whoAmI(env, *by), *reason); err != nil {
			return c.fail(err)
		}
		fmt.Fprintf(env.stdout, "refused %s's request for %s\n", campaign.NormODS(*org), d.British())
		return 0
	}
	ext, err := as.Approve(ctx, cs, *c.campaign, *org, d, whoAmI(env, *by))
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.stdout, "approved: %s's deadline is %s (was %s)\n", ext.ODS, ext.Until.British(), ext.Original.British())
	return 0
}
