package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func init() {
	commands["report"] = command{summary: "a campaign's progress: every notice and its status, unassigned accounts, unreachable organisations, suppressed addresses", run: runReport}
}

const reportUsage = "Usage: sunset report --campaign ID [--json | --csv] [--local]"

// Report is `sunset report --json`.
type Report struct {
	Campaign    string         `json:"campaign"`
	Notices     []ReportNotice `json:"notices"`
	Unassigned  []string       `json:"unassigned"`  // accounts seen on a legacy hostname that no organisation owns
	Unreachable []string       `json:"unreachable"` // organisations (ODS) every address of which is suppressed
	Suppressed  []string       `json:"suppressed"`  // addresses on the suppression list (all campaigns)
}

// ReportNotice is one ledger entry.
type ReportNotice struct {
	Org       string     `json:"org"`
	OrgName   string     `json:"org_name"`
	Stage     string     `json:"stage"`
	Status    string     `json:"status"`
	To        []string   `json:"to"`
	SentAt    *time.Time `json:"sent_at"`
	MessageID string     `json:"message_id"`
	Accounts  int        `json:"accounts"` // distinct accounts the notice listed
	Error     string     `json:"error,omitempty"`
}

func runReport(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("report", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, reportUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "campaign `ID`")
	asJSON := fl.Bool("json", false, "print JSON")
	asCSV := fl.Bool("csv", false, "print CSV, one row per notice")
	local := fl.Bool("local", false, "use the local stack (also SUNSET_LOCAL=1)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *id == "" || fl.NArg() > 0 || (*asJSON && *asCSV) {
		fl.Usage()
		return 2
	}
	r, supp, err := buildReport(ctx, env, *local, *id)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset report: %v\n", err)
		return exitFor(err)
	}
	switch {
	case *asJSON:
		return printJSON(env, r)
	case *asCSV:
		w := csv.NewWriter(env.stdout)
		w.Write([]string{"org", "org_name", "stage", "status", "to", "sent_at", "message_id", "accounts", "error"})
		for _, n := range r.Notices {
			sent := ""
			if n.SentAt != nil {
				sent = n.SentAt.Format(time.RFC3339)
			}
			w.Write([]string{n.Org, csvSafe(n.OrgName), n.Stage, n.Status, strings.Join(n.To, " "), sent, n.MessageID, fmt.Sprint(n.Accounts), csvSafe(n.Error)})
		}
		w.Flush()
		if err := w.Error(); err != nil {
			fmt.Fprintf(env.stderr, "sunset report: %v\n", err)
			return 1
		}
		return 0
	}
	printReport(env, r, supp)
	return 0
}

func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}

func buildReport(ctx context.Context, env *cliEnv, local bool, id string) (Report, []suppression.Entry, error) {
	p, err := newPlanner(ctx, env, local)
	if err != nil {
		return Report{}, nil, err
	}
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		return Report{}, nil, err
	}
	db, table, err := dataTable(ctx, env, local)
	if err != nil {
		return Report{}, nil, err
	}
	notices, err := ledger.New(db, table, clock).List(ctx, id)
	if err != nil {
		return Report{}, nil, err
	}
	supp, err := suppression.New(db, table, clock).All(ctx)
	if err != nil {
		return Report{}, nil, err
	}
	// A dry-run plan knows the unassigned accounts and the organisations it cannot reach.
	// Dry-run plans know the unassigned accounts and the organisations no address reaches:
	// one as of today (or the last deadline, once the campaign is over) and one on each stage
	// date already past, so accounts seen only early in the campaign are still reported.
	today := rec.Campaign.Today(clock())
	at := today
	if last := rec.Campaign.LastDeadline(); !last.IsZero() && last.Before(at) {
		at = last
	}
	dates := []calendar.Date{at}
	if !rec.Campaign.Shutdown.IsZero() {
		for _, st := range rec.Campaign.Stages {
			if d := st.DueOn(rec.Campaign.Shutdown); d.Before(at) {
				dates = append(dates, d)
			}
		}
	}
	var pl planner.Plan
	for i, d := range dates {
		p2, err := p.Plan(ctx, id, d)
		if err != nil {
			return Report{}, nil, err
		}
		if i == 0 {
			pl = p2
			continue
		}
		pl.Unassigned = append(pl.Unassigned, p2.Unassigned...)
	}
	r := Report{Campaign: id, Notices: []ReportNotice{}, Unassigned: []string{}, Unreachable: []string{}, Suppressed: []string{}}
	suppressed := map[string]bool{}
	for _, e := range supp {
		r.Suppressed = append(r.Suppressed, e.Address)
		suppressed[e.Address] = true
	}
	unreachable := map[string]bool{}
	for _, s := range pl.Skipped {
		if s.Reason == planner.Unreachable {
			unreachable[s.Org] = true
		}
	}
	for _, n := range notices {
		if n.Status == ledger.Superseded {
			continue // never meant to be sent: the later stage is the notice
		}
		rn := ReportNotice{Org: n.Org, OrgName: n.OrgName, Stage: n.Stage, Status: string(n.Status), To: n.Recipients,
			MessageID: n.MessageID, Accounts: distinctAccounts(n.Accounts), Error: n.Error}
		if rn.To == nil {
			rn.To = []string{}
		}
		if !n.SentAt.IsZero() {
			t := n.SentAt.UTC()
			rn.SentAt = &t
		}
		r.Notices = append(r.Notices, rn)
		if n.Status == ledger.Suppressed && allSuppressed(n.Recipients, suppressed) {
			unreachable[n.Org] = true
		}
	}
	seen := map[string]bool{}
	for _, a := range pl.Unassigned {
		if acct := strings.ToLower(a.Account); acct != "" && !seen[acct] {
			seen[acct] = true
			r.Unassigned = append(r.Unassigned, acct)
		}
	}
	for o := range unreachable {
		r.Unreachable = append(r.Unreachable, o)
	}
	sort.Strings(r.Unassigned)
	sort.Strings(r.Unreachable)
	sort.SliceStable(r.Notices, func(i, j int) bool {
		if r.Notices[i].Org != r.Notices[j].Org {
			return r.Notices[i].Org < r.Notices[j].Org
		}
		return stageOrder(rec.Campaign.Stages, r.Notices[i].Stage) < stageOrder(rec.Campaign.Stages, r.Notices[j].Stage)
	})
	return r, supp, nil
}

func stageOrder(stages []campaign.Stage, name string) int {
	for i, s := range stages {
		if s.Name == name {
			return i
		}
	}
	return len(stages)
}

func allSuppressed(addrs []string, suppressed map[string]bool) bool {
	for _, a := range addrs {
		if !suppressed[strings.ToLower(strings.TrimSpace(a))] {
			return false
		}
	}
	return true
}

func distinctAccounts(as []ledger.Account) int {
	seen := map[string]bool{}
	for _, a := range as {
		seen[strings.ToLower(a.Account)] = true
	}
	return len(seen)
}

func printReport(env *cliEnv, r Report, supp []suppression.Entry) {
	counts := map[string]int{}
	for _, n := range r.Notices {
		counts[n.Status]++
	}
	var parts []string
	for _, s := range []ledger.Status{ledger.Sent, ledger.Claimed, ledger.Failed, ledger.Suppressed} {
		parts = append(parts, fmt.Sprintf("%d %s", counts[string(s)], s))
	}
	fmt.Fprintf(env.stdout, "Campaign %s: %d notices (%s)\n\n", r.Campaign, len(r.Notices), strings.Join(parts, ", "))
	if len(r.Notices) > 0 {
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ORG\tNAME\tSTAGE\tSTATUS\tSENT (UTC)\tACCOUNTS\tTO\tNOTE")
		for _, n := range r.Notices {
			sent := "-"
			if n.SentAt != nil {
				sent = n.SentAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.Org, n.OrgName, n.Stage, n.Status, sent, n.Accounts, strings.Join(n.To, ", "), n.Error)
		}
		tw.Flush()
	}
	list := func(title string, items []string) {
		fmt.Fprintf(env.stdout, "\n%s: %d\n", title, len(items))
		for _, it := range items {
			fmt.Fprintf(env.stdout, "  %s\n", it)
		}
	}
	list("Unassigned accounts (no organisation owns them: fix the directory)", r.Unassigned)
	list("Unreachable organisations (every LA/PLA address suppressed)", r.Unreachable)
	fmt.Fprintf(env.stdout, "\nSuppressed addresses (all campaigns): %d\n", len(supp))
	for _, e := range supp {
		fmt.Fprintf(env.stdout, "  %s  %s  %s  %s\n", e.Address, e.Reason, e.At.Format("2006-01-02"), e.Detail)
	}
}
