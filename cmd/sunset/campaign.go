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

// clock is the CLI's time source; tests replace it.
var clock = time.Now

const campaignUsage = `Usage:
  sunset campaign validate FILE
  sunset campaign apply FILE [--by NAME] [--at YYYY-MM-DD] [--local]
  sunset campaign list [--json] [--local]
  sunset campaign show ID [--json] [--local]
  sunset campaign pause|resume|cancel ID [--by NAME] [--local]
  sunset campaign extend ID --org ODS --until YYYY-MM-DD --reason TEXT [--by NAME] [--local]`

// parseMixed parses flags that may come before or after the positional arguments.
func parseMixed(fl *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		if fl.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
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
	db, table, err := dataTable(ctx, env, local)
	if err != nil {
		return nil, err
	}
	return campaign.NewStore(db, table, clock), nil
}

func runCampaign(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.stderr, campaignUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	fl := flag.NewFlagSet("campaign "+sub, flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, campaignUsage); fl.PrintDefaults() }
	local := localFlag(fl)
	by := fl.String("by", "", "who is making the change (default $USER)")
	asJSON := fl.Bool("json", false, "print JSON")
	org := fl.String("org", "", "extend: the organisation's ODS code")
	until := fl.String("until", "", "extend: the new deadline, YYYY-MM-DD")
	reason := fl.String("reason", "", "extend: why (kept with the extension)")
	applyAt := fl.String("at", "", "apply: check the shutdown against this date `YYYY-MM-DD` instead of today (replays, `make demo`)")
	pos, err := parseMixed(fl, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(env.stderr, "sunset campaign %s: %v\n", sub, err)
		return exitFor(err)
	}
	need := func(n int, what string) bool {
		if len(pos) != n {
			fmt.Fprintf(env.stderr, "sunset campaign %s: want %s\n%s\n", sub, what, campaignUsage)
			return false
		}
		return true
	}
	switch sub {
	case "validate":
		if !need(1, "FILE") {
			return 2
		}
		c, err := campaign.Load(pos[0])
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.stdout, "%s: ok: campaign %s, %d hostnames, %d stages, deadline %s\n", pos[0], c.ID, len(c.Hostnames), len(c.Stages), describeDeadline(c))
		return 0
	case "apply":
		if !need(1, "FILE") {
			return 2
		}
		c, err := campaign.Load(pos[0])
		if err != nil {
			return fail(err)
		}
		today := c.Today(clock())
		if *applyAt != "" {
			if today, err = calendar.Parse(*applyAt); err != nil {
				fmt.Fprintf(env.stderr, "sunset campaign apply: --at %q is not a date YYYY-MM-DD\n", *applyAt)
				return 2
			}
		}
		if err := c.Validate(today); err != nil {
			return fail(err)
		}
		s, err := campaignStore(ctx, env, *local)
		if err != nil {
			return fail(err)
		}
		v, changes, err := s.Apply(ctx, c, whoAmI(env, *by))
		if err != nil {
			return fail(err)
		}
		if changes == nil {
			fmt.Fprintf(env.stdout, "campaign %s unchanged (version %d)\n", c.ID, v)
			return 0
		}
		fmt.Fprintf(env.stdout, "applied campaign %s: version %d\n", c.ID, v)
		for _, ch := range changes {
			fmt.Fprintf(env.stdout, "  %s\n", ch)
		}
		return 0
	case "list":
		if !need(0, "no arguments") {
			return 2
		}
		s, err := campaignStore(ctx, env, *local)
		if err != nil {
			return fail(err)
		}
		recs, err := s.List(ctx)
		if err != nil {
			return fail(err)
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
	case "show":
		if !need(1, "ID") {
			return 2
		}
		return showCampaign(ctx, env, *local, pos[0], *asJSON)
	case "pause", "resume", "cancel":
		if !need(1, "ID") {
			return 2
		}
		status := map[string]campaign.Status{"pause": campaign.Paused, "resume": campaign.Active, "cancel": campaign.Cancelled}[sub]
		s, err := campaignStore(ctx, env, *local)
		if err != nil {
			return fail(err)
		}
		if err := s.SetStatus(ctx, pos[0], status, whoAmI(env, *by)); err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.stdout, "campaign %s is %s\n", pos[0], status)
		return 0
	case "extend":
		if !need(1, "ID") {
			return 2
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
			return fail(err)
		}
		ext, err := s.Extend(ctx, pos[0], *org, d, *reason, whoAmI(env, *by))
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(env.stdout, "extended campaign %s for %s: deadline %s (was %s)\n", pos[0], ext.ODS, ext.Until.British(), ext.Original.British())
		return 0
	default:
		fmt.Fprintf(env.stderr, "sunset campaign: unknown subcommand %q\n%s\n", sub, campaignUsage)
		return 2
	}
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
	r, err := s.Get(ctx, id)
	if err != nil {
		return fail(err)
	}
	exts, err := s.Extensions(ctx, id)
	if err != nil {
		return fail(err)
	}
	hist, err := s.History(ctx, id)
	if err != nil {
		return fail(err)
	}
	if asJSON {
		type version struct {
			Version int       `json:"version"`
			At      time.Time `json:"at"`
			By      string    `json:"by"`
			Changes []string  `json:"changes"`
		}
		out := struct {
			*campaign.Record
			Extensions map[string]campaign.Extension `json:"extensions"`
			History    []version                     `json:"history"`
		}{Record: r, Extensions: exts}
		for _, h := range hist {
			out.History = append(out.History, version{h.Version, h.At, h.By, h.Changes})
		}
		return printJSON(env, out)
	}
	c := r.Campaign
	w := env.stdout
	fmt.Fprintf(w, "%s — %s\nstatus %s, version %d (updated %s by %s)\n", c.ID, c.Title, r.Status, r.Version, r.UpdatedAt.Format(time.RFC3339), r.UpdatedBy)
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
