package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/directory"
)

func init() {
	commands["directory"] = command{summary: "import the organisation directory (organisations and accounts CSV files)", run: runDirectory}
}

func runDirectory(ctx context.Context, env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(env.stderr, "Usage: sunset directory import --orgs FILE --accounts FILE [--prune [--prune-anyway]] [--local]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return 0
		}
		return 2
	}
	fl := flag.NewFlagSet("directory import", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	orgsPath := fl.String("orgs", "", "organisations CSV `file`: ods_code,name,la_emails (;-separated),pla_email[,subdomain]")
	acctsPath := fl.String("accounts", "", "accounts CSV `file`: email,ods_code[,type (user|shared|application)]")
	prune := fl.Bool("prune", false, "mark organisations/accounts missing from the files as gone (kept for audit, ignored by planning)")
	anyway := fl.Bool("prune-anyway", false, fmt.Sprintf("with --prune: mark gone even more than %.0f%% of the organisations or accounts (a real purge, not an empty or cut-short file)", 100*directory.DefaultMaxPruneShare))
	local := localFlag(fl)
	fl.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: sunset directory import --orgs FILE --accounts FILE [--prune [--prune-anyway]] [--local]")
		fmt.Fprintln(env.stderr, "Upserts the directory; bad rows are listed with their line numbers and skipped.")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args[1:]); !ok {
		return code
	}
	if (*orgsPath == "" && *acctsPath == "") || fl.NArg() > 0 {
		fl.Usage()
		return 2
	}
	if *anyway && !*prune {
		fmt.Fprintln(env.stderr, "sunset directory import: --prune-anyway goes with --prune")
		return 2
	}
	in := directory.ImportInput{Prune: *prune, PruneAnyway: *anyway, OrgsName: *orgsPath, AccountsName: *acctsPath}
	for _, p := range []struct {
		path string
		dst  *io.Reader
	}{{*orgsPath, &in.Orgs}, {*acctsPath, &in.Accounts}} {
		if p.path == "" {
			continue
		}
		f, err := os.Open(p.path)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset directory import: %v\n", err)
			return 2
		}
		defer f.Close()
		*p.dst = f
	}
	db, table, err := env.dynamo(ctx, *local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset directory import: %v\n", err)
		return 1
	}
	d := directory.New(db, table, env.clock)
	start := time.Now()
	res, err := d.Import(ctx, in)
	if res != nil {
		printImport(env.stdout, res, time.Since(start))
	}
	if errors.Is(err, directory.ErrBadHeader) {
		fmt.Fprintf(env.stderr, "sunset directory import: %v\n", err)
		return 2
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset directory import: %v\n", err)
		return 1
	}
	return 0
}

func printImport(w io.Writer, r *directory.Result, took time.Duration) {
	fmt.Fprintf(w, "imported %d organisations (%d sub-domains), %d accounts in %s; %d bad rows skipped\n",
		r.Orgs, r.Subdomains, r.Accounts, took.Round(time.Millisecond), r.BadRows)
	for _, b := range r.Bad {
		fmt.Fprintf(w, "  %s\n", b)
	}
	if len(r.Bad) < r.BadRows {
		fmt.Fprintf(w, "  ... and %d more bad rows\n", r.BadRows-len(r.Bad))
	}
	if r.PrunedOrgs+r.PrunedAccounts > 0 {
		fmt.Fprintf(w, "pruned (marked gone) %d organisations, %d accounts\n", r.PrunedOrgs, r.PrunedAccounts)
	}
}
