package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
)

func init() {
	commands["campaign"] = command{summary: "validate, apply, list, show, pause, resume, cancel or extend campaigns", run: runCampaign}
}

const campaignUsage = `Usage:
  sunset campaign validate FILE [--at YYYY-MM-DD] [--templates-anywhere]
  sunset campaign apply FILE [--by NAME] [--at YYYY-MM-DD] [--templates-anywhere] [--local]
  sunset campaign list [--json] [--local]
  sunset campaign show ID [--json] [--local]
  sunset campaign pause|resume|cancel ID [--by NAME] [--local]
  sunset campaign extend ID --org ODS --until YYYY-MM-DD --reason TEXT [--by NAME] [--local]`

// campaignCommands are the subcommands of `sunset campaign`, each with its own flags.
var campaignCommands = map[string]func(ctx context.Context, env *cliEnv, args []string) int{
	"validate": campaignValidate,
	"apply":    campaignApply,
	"list":     campaignList,
	"show":     campaignShow,
	"pause": func(ctx context.Context, env *cliEnv, args []string) int {
		return campaignSetStatus(ctx, env, "pause", campaign.Paused, args)
	},
	"resume": func(ctx context.Context, env *cliEnv, args []string) int {
		return campaignSetStatus(ctx, env, "resume", campaign.Active, args)
	},
	"cancel": func(ctx context.Context, env *cliEnv, args []string) int {
		return campaignSetStatus(ctx, env, "cancel", campaign.Cancelled, args)
	},
	"extend": campaignExtend,
}

func runCampaign(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.stderr, campaignUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	run, ok := campaignCommands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "sunset campaign: unknown subcommand %q\n%s\n", args[0], campaignUsage)
		return 2
	}
	return run(ctx, env, args[1:])
}

// campaignCmd is one `sunset campaign` subcommand being run: its flags and how it reports.
type campaignCmd struct {
	env  *cliEnv
	name string
	fl   *flag.FlagSet
	pos  []string
}

func newCampaignCmd(env *cliEnv, name string) *campaignCmd {
	fl := flag.NewFlagSet("campaign "+name, flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, campaignUsage); fl.PrintDefaults() }
	return &campaignCmd{env: env, name: name, fl: fl}
}

// parse reads the flags (before or after the positional arguments) and wants exactly n
// positional arguments, described by what. When it returns false the command ends with code.
func (c *campaignCmd) parse(args []string, n int, what string) (code int, ok bool) {
	pos, err := parseMixed(c.fl, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if len(pos) != n {
		fmt.Fprintf(c.env.stderr, "sunset campaign %s: want %s\n%s\n", c.name, what, campaignUsage)
		return 2, false
	}
	c.pos = pos
	return 0, true
}

func (c *campaignCmd) fail(err error) int {
	fmt.Fprintf(c.env.stderr, "sunset campaign %s: %v\n", c.name, err)
	return exitFor(err)
}

func (c *campaignCmd) byFlag() *string {
	return c.fl.String("by", "", "who is making the change (default $USER)")
}

// exitFor maps an error to the exit status: 2 for a mistake in the input (a campaign file, a
// refused change), 1 for a failure while working.
func exitFor(err error) int {
	var ve *campaign.ValidationError
	if errors.As(err, &ve) || errors.Is(err, campaign.ErrRefused) {
		return 2
	}
	return 1
}

func whoAmI(env *cliEnv, by string) string {
	if by != "" {
		return by
	}
	if u := env.getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

func campaignStore(ctx context.Context, env *cliEnv, local bool) (*campaign.Store, error) {
	db, table, err := env.dynamo(ctx, local)
	if err != nil {
		return nil, err
	}
	return campaign.NewStore(db, table, env.clock), nil
}

// templatesFlag adds --templates-anywhere, which validate and apply take.
func (c *campaignCmd) templatesFlag() *bool {
	return c.fl.Bool("templates-anywhere", false, "allow a templates folder outside the campaign file's folder (an absolute path, or .. out of it)")
}

// atFlag adds --at: the date the shutdown is checked against.
func (c *campaignCmd) atFlag() *string {
	return c.fl.String("at", "", "check the shutdown against this date `YYYY-MM-DD` instead of today (replays, `make demo`)")
}

// loadChecked loads the campaign file and makes apply's checks of it (stages, sender, a
// shutdown after today or --at): what validate reports and apply refuses.
func (c *campaignCmd) loadChecked(path, at string, anywhere bool) (*campaign.Campaign, int) {
	camp, err := campaign.LoadWith(path, campaign.Options{TemplatesAnywhere: anywhere, Identity: c.env.getenv("SUNSET_SENDER_IDENTITY")})
	if err != nil {
		return nil, c.fail(err)
	}
	today := camp.Today(c.env.clock())
	if at != "" {
		if today, err = calendar.Parse(at); err != nil {
			fmt.Fprintf(c.env.stderr, "sunset campaign %s: --at %q is not a date YYYY-MM-DD\n", c.name, at)
			return nil, 2
		}
	}
	if err := camp.Validate(today); err != nil {
		return nil, c.fail(err)
	}
	return camp, 0
}

func campaignValidate(_ context.Context, env *cliEnv, args []string) int {
	c := newCampaignCmd(env, "validate")
	at, anywhere := c.atFlag(), c.templatesFlag()
	if code, ok := c.parse(args, 1, "FILE"); !ok {
		return code
	}
	camp, code := c.loadChecked(c.pos[0], *at, *anywhere)
	if camp == nil {
		return code
	}
	fmt.Fprintf(env.stdout, "%s: ok: campaign %s, %d hostnames, %d stages, deadline %s\n", c.pos[0], camp.ID, len(camp.Hostnames), len(camp.Stages), describeDeadline(camp))
	return 0
}

func campaignApply(ctx context.Context, env *cliEnv, args []string) int {
	c := newCampaignCmd(env, "apply")
	local, by := localFlag(c.fl), c.byFlag()
	applyAt, anywhere := c.atFlag(), c.templatesFlag()
	if code, ok := c.parse(args, 1, "FILE"); !ok {
		return code
	}
	camp, code := c.loadChecked(c.pos[0], *applyAt, *anywhere)
	if camp == nil {
		return code
	}
	s, err := campaignStore(ctx, env, *local)
	if err != nil {
		return c.fail(err)
	}
	v, changes, err := s.Apply(ctx, camp, whoAmI(env, *by))
	if err != nil {
		return c.fail(err)
	}
	if changes == nil {
		fmt.Fprintf(env.stdout, "campaign %s unchanged (version %d)\n", camp.ID, v)
		return 0
	}
	fmt.Fprintf(env.stdout, "applied campaign %s: version %d\n", camp.ID, v)
	for _, ch := range changes {
		fmt.Fprintf(env.stdout, "  %s\n", ch)
	}
	return 0
}

func campaignList(ctx context.Context, env *cliEnv, args []string) int {
	c := newCampaignCmd(env, "list")
	local, asJSON := localFlag(c.fl), c.fl.Bool("json", false, "print JSON")
	if code, ok := c.parse(args, 0, "no arguments"); !ok {
		return code
	}
	s, err := campaignStore(ctx, env, *local)
	if err != nil {
		return c.fail(err)
	}
	recs, err := s.List(ctx)
	if err != nil {
		return c.fail(err)
	}
	if *asJSON {
		return printJSON(env, recs)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tVERSION\tDEADLINE\tUPDATED\tTITLE")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s by %s\t%s\n", r.Campaign.ID, r.Status, r.Version, describeDeadline(r.Campaign),
			r.UpdatedAt.Format(time.RFC3339), r.UpdatedBy, r.Campaign.Title)
	}
	tw.Flush()
	return 0
}

func campaignShow(ctx context.Context, env *cliEnv, args []string) int {
	c := newCampaignCmd(env, "show")
	local, asJSON := localFlag(c.fl), c.fl.Bool("json", false, "print JSON")
	if code, ok := c.parse(args, 1, "ID"); !ok {
		return code
	}
	return showCampaign(ctx, env, *local, c.pos[0], *asJSON)
}

func campaignSetStatus(ctx context.Context, env *cliEnv, name string, status campaign.Status, args []string) int {
	c := newCampaignCmd(env, name)
	local, by := localFlag(c.fl), c.byFlag()
	if code, ok := c.parse(args, 1, "ID"); !ok {
		return code
	}
	s, err := campaignStore(ctx, env, *local)
	if err != nil {
		return c.fail(err)
	}
	if err := s.SetStatus(ctx, c.pos[0], status, whoAmI(env, *by)); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.stdout, "campaign %s is %s\n", c.pos[0], status)
	return 0
}

func campaignExtend(ctx context.Context, env *cliEnv, args []string) int {
	c := newCampaignCmd(env, "extend")
	local, by := localFlag(c.fl), c.byFlag()
	org := c.fl.String("org", "", "the organisation's ODS code")
	until := c.fl.String("until", "", "the new deadline, YYYY-MM-DD")
	reason := c.fl.String("reason", "", "why (kept with the extension)")
	if code, ok := c.parse(args, 1, "ID"); !ok {
		return code
	}
	if *org == "" || *until == "" || strings.TrimSpace(*reason) == "" {
		fmt.Fprintf(env.stderr, "sunset campaign extend: --org, --until and --reason are required\n")
		return 2
	}
	d, err := calendar.Parse(*until)
	if err != nil || d.IsZero() {
		fmt.Fprintf(env.stderr, "sunset campaign extend: --until %q is not a date YYYY-MM-DD\n", *until)
		return 2
	}
	s, err := campaignStore(ctx, env, *local)
	if err != nil {
		return c.fail(err)
	}
	ext, err := s.Extend(ctx, c.pos[0], *org, d, *reason, whoAmI(env, *by))
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(env.stdout, "extended campaign %s for %s: deadline %s (was %s)\n", c.pos[0], ext.ODS, ext.Until.British(), ext.Original.British())
	return 0
}

func describeDeadline(c *campaign.Campaign) string {
	if c.AudienceSource == campaign.SourceRoster {
		return "per organisation (roster)"
	}
	return c.Shutdown.British()
}

func showCampaign(ctx context.Context, env *cliEnv, local bool, id string, asJSON bool) int {
	fail := func(err error) int {
		fmt.Fprintf(env.stderr, "sunset campaign show: %v\n", err)
		return exitFor(err)
	}
	s, err := campaignStore(ctx, env, local)
	if err != nil {
		return fail(err)
	}
	det, err := s.Details(ctx, id)
	if err != nil {
		return fail(err)
	}
	if asJSON {
		return printJSON(env, det)
	}
	r, exts, hist := det.Record, det.Extensions, det.History
	c := r.Campaign
	w := env.stdout
	fmt.Fprintf(w, "%s — %s\nstatus %s, version %d (updated %s by %s)\n", c.ID, c.Title, r.Status, r.Version, r.UpdatedAt.Format(time.RFC3339), r.UpdatedBy)
	if r.PauseReason != "" {
		fmt.Fprintf(w, "paused automatically: %s (sunset campaign resume %s sends again)\n", r.PauseReason, c.ID)
	}
	fmt.Fprintf(w, "deadline %s, time zone %s, activity window %d days, extensions up to %d days, retention %d days\n",
		describeDeadline(c), c.Timezone, c.ActivityWindowDays, c.MaxExtensionDays, c.RetentionDays)
	for _, h := range c.Hostnames {
		fmt.Fprintf(w, "hostname %s → %s\n", h.Name, h.Replacement.Host)
	}
	for _, st := range c.Stages {
		line := fmt.Sprintf("stage %s: %d days", st.Name, abs(st.Offset()))
		if st.DaysBefore != nil {
			line += " before"
		} else {
			line += " after"
		}
		if c.AudienceSource != campaign.SourceRoster {
			line += ", due " + st.DueOn(c.Shutdown).British()
		}
		fmt.Fprintln(w, line)
	}
	for _, e := range exts {
		fmt.Fprintf(w, "extension %s: %s (was %s), %q by %s\n", e.ODS, e.Until.British(), e.Original.British(), e.Reason, e.By)
	}
	for _, h := range hist {
		fmt.Fprintf(w, "version %d at %s by %s: %s\n", h.Version, h.At.Format(time.RFC3339), h.By, strings.Join(h.Changes, "; "))
	}
	for _, e := range det.Events {
		fmt.Fprintf(w, "change at %s by %s: %s\n", e.At.Format(time.RFC3339), e.By, e.What)
	}
	return 0
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func printJSON(env *cliEnv, v any) int {
	enc := json.NewEncoder(env.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(env.stderr, err)
		return 1
	}
	return 0
}
