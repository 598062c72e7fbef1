package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

func init() {
	commands["plan"] = command{summary: "preview which notices a run would send (dry run: writes nothing)", run: runPlan}
}

const planUsage = "Usage: sunset plan --campaign ID [--at YYYY-MM-DD] [--json] [--local]"

func newPlanner(ctx context.Context, env *cliEnv, local bool) (*planner.Planner, error) {
	db, table, err := env.dynamo(ctx, local)
	if err != nil {
		return nil, err
	}
	stage, err := env.stage(ctx, local)
	if err != nil {
		return nil, err
	}
	return planner.New(db, table, stage, env.clock), nil
}

// planDate is --at's date, or today in the campaign's time zone.
func planDate(env *cliEnv, c *campaign.Campaign, at string) calendar.Date {
	if at == "" {
		return c.Today(env.clock())
	}
	d, _, _ := splitAt(at)
	return d
}

// splitAt reads --at: a date YYYY-MM-DD, or a date and a time of day YYYY-MM-DDTHH:MM (ok
// false when it is neither).
func splitAt(at string) (d calendar.Date, clock string, ok bool) {
	day, clock, timed := strings.Cut(at, "T")
	d, err := calendar.Parse(day)
	if err != nil || d.IsZero() {
		return d, "", false
	}
	if timed {
		if _, err := time.Parse("15:04", clock); err != nil || len(clock) != 5 {
			return d, "", false
		}
	}
	return d, clock, true
}

// atTime is env with its clock at --at's time of day, when --at has one, and running on from
// there: in campaign id's time zone (with --campaign), else UK time. So a replay of a campaign
// with a send window sends inside its hours (sunset run --at 2021-08-27T10:00).
func atTime(ctx context.Context, env *cliEnv, local bool, id, at string) *cliEnv {
	d, clock, ok := splitAt(at)
	if !ok || clock == "" {
		return env
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
	}
	if id != "" {
		if s, err := campaignStore(ctx, env, local); err == nil {
			if rec, err := s.Get(ctx, id); err == nil {
				loc = rec.Campaign.Location()
			}
		}
	}
	hm, _ := time.Parse("15:04", clock)
	start := d.Start(loc).Add(time.Duration(hm.Hour())*time.Hour + time.Duration(hm.Minute())*time.Minute)
	real := env.clock()
	e := *env
	e.clock = func() time.Time { return start.Add(env.clock().Sub(real)) }
	return &e
}

func parseAt(env *cliEnv, name, at string) bool {
	if at == "" {
		return true
	}
	if _, _, ok := splitAt(at); !ok {
		fmt.Fprintf(env.stderr, "sunset %s: --at %q is not a date YYYY-MM-DD (or a date and time YYYY-MM-DDTHH:MM)\n", name, at)
		return false
	}
	return true
}

func runPlan(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("plan", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, planUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "campaign `ID`")
	at := fl.String("at", "", "plan for this date in the campaign's time zone (default today)")
	asJSON := fl.Bool("json", false, "print the plan as JSON")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if *id == "" || fl.NArg() > 0 {
		fl.Usage()
		return 2
	}
	if !parseAt(env, "plan", *at) {
		return 2
	}
	env = atTime(ctx, env, *local, *id, *at)
	p, err := newPlanner(ctx, env, *local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset plan: %v\n", err)
		return 1
	}
	rec, err := p.Campaigns.Get(ctx, *id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset plan: %v\n", err)
		return exitFor(err)
	}
	day := planDate(env, rec.Campaign, *at)
	if *asJSON {
		return streamPlanJSON(ctx, env, p, *id, day)
	}
	// The text lists each notice's account count, not its accounts: the rows are dropped as
	// each chunk is decided, so a national campaign's dry run holds a line an organisation.
	counts := map[string]int{}
	var dues []planner.Due
	var skips []planner.Skip
	pl, err := p.PlanEach(ctx, *id, day, func(d []planner.Due, s []planner.Skip) error {
		for _, x := range d {
			counts[x.Org+"#"+x.Stage] = len(x.Accounts)
			x.Accounts = nil
			dues = append(dues, x)
		}
		skips = append(skips, s...)
		return nil
	})
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset plan: %v\n", err)
		return 1
	}
	pl.Due, pl.Skipped = dues, skips
	printPlan(env.stdout, pl, func(d planner.Due) int { return counts[d.Org+"#"+d.Stage] })
	return 0
}

// streamPlanJSON prints the plan as one JSON object, writing each due notice (with its
// accounts) as the walk decides it, so the dry run never holds them all; the skips and the
// rest of the plan follow.
func streamPlanJSON(ctx context.Context, env *cliEnv, p *planner.Planner, id string, day calendar.Date) int {
	w := bufio.NewWriter(env.stdout)
	defer w.Flush()
	w.WriteString("{\n  \"due\": [")
	n := 0
	var skips []planner.Skip
	pl, err := p.PlanEach(ctx, id, day, func(d []planner.Due, s []planner.Skip) error {
		for _, x := range d {
			b, err := json.MarshalIndent(x, "    ", "  ")
			if err != nil {
				return err
			}
			if n > 0 {
				w.WriteString(",")
			}
			n++
			w.WriteString("\n    ")
			w.Write(b)
		}
		skips = append(skips, s...)
		return nil
	})
	if err != nil {
		w.Flush()
		fmt.Fprintf(env.stderr, "\nsunset plan: %v\n", err)
		return 1
	}
	if n > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("]")
	pl.Skipped = skips
	rest, err := json.Marshal(pl)
	if err != nil {
		fmt.Fprintln(env.stderr, err)
		return 1
	}
	var fields map[string]json.RawMessage
	json.Unmarshal(rest, &fields)
	delete(fields, "due")
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		var v bytes.Buffer
		json.Indent(&v, fields[k], "  ", "  ")
		fmt.Fprintf(w, ",\n  %q: %s", k, v.Bytes())
	}
	w.WriteString("\n}\n")
	return 0
}

// printPlan prints a plan as text; accounts says how many accounts a due notice lists.
func printPlan(w io.Writer, pl planner.Plan, accounts func(planner.Due) int) {
	fmt.Fprintf(w, "campaign %s on %s (%s): %d due, %d skipped, %d unassigned, %d unattributed\n",
		pl.Campaign, pl.At.British(), pl.Status, len(pl.Due), len(pl.Skipped), len(pl.Unassigned), len(pl.Unattributed))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(pl.Due) > 0 {
		fmt.Fprintln(tw, "\nDUE\tORG\tSTAGE\tDEADLINE\tFIRST\tACCOUNTS\tRECIPIENTS")
		for _, d := range pl.Due {
			fmt.Fprintf(tw, "\t%s %s\t%s\t%s\t%v\t%d\t%s\n", d.Org, d.OrgName, d.Stage, d.Deadline.British(), d.FirstContact, accounts(d), strings.Join(d.Recipients, ", "))
		}
	}
	var notes []string
	for _, d := range pl.Due {
		if d.Shift != nil {
			notes = append(notes, fmt.Sprintf("%s %s: due %s, %s: moved to this working day", d.Org, d.Stage, d.Shift.From.British(), d.Shift.Reason))
		}
		if len(d.Escalated) > 0 {
			notes = append(notes, fmt.Sprintf("%s %s: escalated, adds %s", d.Org, d.Stage, strings.Join(d.Escalated, ", ")))
		}
		if b := d.Brownout; b != nil {
			notes = append(notes, fmt.Sprintf("%s %s: %d accounts failed during the brownout of %s", d.Org, d.Stage, b.Count(), b.Date.British()))
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(tw, "\nNOTES")
		for _, n := range notes {
			fmt.Fprintf(tw, "\t%s\n", n)
		}
	}
	if len(pl.Skipped) > 0 {
		fmt.Fprintln(tw, "\nSKIPPED\tORG\tREASON\tSTAGE\tDETAIL")
		for _, s := range pl.Skipped {
			fmt.Fprintf(tw, "\t%s %s\t%s\t%s\t%s\n", s.Org, s.OrgName, s.Reason, s.Stage, s.Detail)
		}
	}
	if len(pl.Unassigned) > 0 {
		fmt.Fprintln(tw, "\nUNASSIGNED\tACCOUNT\tHOSTNAME\tPROTOCOL\tLAST SEEN")
		for _, a := range pl.Unassigned {
			fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", a.Account, a.Hostname, a.Protocol, a.LastSeen.Format("2006-01-02 15:04"))
		}
	}
	if len(pl.Digest) > 0 {
		fmt.Fprintf(tw, "\nHELPDESK DIGEST\tORG\tLAST STAGE\tACCOUNTS\tLAST SEEN\tCONTACTS\n")
		for _, o := range pl.Digest {
			fmt.Fprintf(tw, "\t%s %s\t%s\t%d\t%s\t%s\n", o.ODS, o.Name, o.Stage, o.Count, o.LastSeen.British(), strings.Join(o.Contacts, ", "))
		}
		if pl.DigestMore > 0 {
			fmt.Fprintf(tw, "\t(%d more organisations not listed)\n", pl.DigestMore)
		}
	}
	if len(pl.Brownouts) > 0 {
		fmt.Fprintln(tw, "\nBROWNOUT\tDATE\tHOURS\tHOSTNAMES")
		for _, b := range pl.Brownouts {
			when := "planned"
			if b.Date.Before(pl.At) {
				when = "past"
			}
			fmt.Fprintf(tw, "\t%s %s\t%s\t%s\n", b.Date.British(), when, b.Hours, strings.Join(b.Hostnames, ", "))
		}
	}
	tw.Flush()
}
