package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/nhsmail-sunset/sunset/shared/planner"
)

func init() {
	commands["run"] = command{summary: "what the daily schedule does: plan, claim and send the due notices (all live campaigns by default)", run: runRun}
}

const runUsage = "Usage: sunset run [--at YYYY-MM-DD] [--campaign ID] [--dry-run] [--json] [--local]"

func runRun(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, runUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "only this campaign `ID` (default: every live campaign)")
	at := fl.String("at", "", "run for this date in each campaign's time zone (default today)")
	dry := fl.Bool("dry-run", false, "plan only: claim and send nothing")
	asJSON := fl.Bool("json", false, "print the results as JSON")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return 2
	}
	if !parseAt(env, "run", *at) {
		return 2
	}
	env = atTime(ctx, env, *local, *id, *at)
	p, err := newPlanner(ctx, env, *local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset run: %v\n", err)
		return 1
	}
	ids, err := runIDs(ctx, env, *local, *id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset run: %v\n", err)
		return 1
	}
	var d planner.Dispatcher
	if !*dry {
		if d, err = newSender(ctx, env, *local); err != nil {
			fmt.Fprintf(env.stderr, "sunset run: %v\n", err)
			return 1
		}
	}
	code := 0
	var results []planner.Result
	for _, cid := range ids {
		rec, err := p.Campaigns.Get(ctx, cid)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset run: %v\n", err)
			code = max(code, exitFor(err))
			continue
		}
		date := planDate(env, rec.Campaign, *at)
		var res planner.Result
		if *dry {
			res.Plan, err = p.Plan(ctx, cid, date)
		} else {
			res, err = p.Run(ctx, cid, date, d)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset run: %v\n", err)
			code = 1
			continue
		}
		results = append(results, res)
		if !*asJSON {
			verb := "claimed"
			if *dry {
				verb = "would claim (dry run)"
			}
			fmt.Fprintf(env.stdout, "campaign %s on %s (%s): %s %d, skipped %d, handed to sender %d\n",
				cid, date, res.Plan.Status, verb, len(res.Plan.Due), len(res.Plan.Skipped), res.Dispatched)
			for _, n := range res.Plan.Due {
				fmt.Fprintf(env.stdout, "  %s %s: %s\n", verb, n.Org, n.Stage)
			}
		}
	}
	if *asJSON {
		if results == nil {
			results = []planner.Result{}
		}
		if c := printJSON(env, results); c != 0 {
			return c
		}
	}
	return code
}

// runIDs is the campaign to run, or (id "") every live campaign.
func runIDs(ctx context.Context, env *cliEnv, local bool, id string) ([]string, error) {
	if id != "" {
		return []string{id}, nil
	}
	s, err := campaignStore(ctx, env, local)
	if err != nil {
		return nil, err
	}
	live, err := s.Live(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, c := range live {
		ids = append(ids, c.ID)
	}
	return ids, nil
}
