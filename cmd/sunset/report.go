package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/report"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func init() {
	commands["report"] = command{summary: "a campaign's progress: every notice and its status, unassigned accounts, unreachable organisations, suppressed addresses", run: runReport}
}

const reportUsage = "Usage: sunset report --campaign ID [--json | --csv] [--chart FILE.svg] [--local]"

func runReport(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, reportUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "campaign `ID`")
	asJSON := fl.Bool("json", false, "print JSON")
	asCSV := fl.Bool("csv", false, "print CSV, one row per notice")
	chart := fl.String("chart", "", "also draw the burn-down chart (SVG) into `FILE`")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if *id == "" || fl.NArg() > 0 || (*asJSON && *asCSV) {
		fl.Usage()
		return 2
	}
	r, err := buildReport(ctx, env, *local, *id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset report: %v\n", err)
		return exitFor(err)
	}
	if *chart != "" {
		if err := writeChart(*chart, r); err != nil {
			fmt.Fprintf(env.stderr, "sunset report: %v\n", err)
			return 1
		}
		fmt.Fprintf(env.stderr, "wrote the burn-down chart to %s\n", *chart)
	}
	switch {
	case *asJSON:
		return printJSON(env, r)
	case *asCSV:
		err = r.WriteCSV(env.stdout)
	default:
		err = r.WriteTable(env.stdout)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset report: %v\n", err)
		return 1
	}
	return 0
}

// buildReport builds the clients the report reads and the report itself.
func buildReport(ctx context.Context, env *cliEnv, local bool, id string) (report.Report, error) {
	p, err := newPlanner(ctx, env, local)
	if err != nil {
		return report.Report{}, err
	}
	db, table, err := env.dynamo(ctx, local)
	if err != nil {
		return report.Report{}, err
	}
	return report.Build(ctx, report.Sources{
		Campaigns:    p.Campaigns,
		Ledger:       ledger.New(db, table, env.clock),
		Suppressions: suppression.New(db, table, env.clock),
		Planner:      p,
		Progress:     progress.NewStore(db, table),
	}, id, env.clock())
}

func writeChart(path string, r report.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteChart(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
