// Command summary prints, for `make demo`, what one `sunset run --json` did: who was sent
// which notice (with the ledger's status after sending) and why every other organisation
// was skipped. It reads the run's JSON on stdin and the ledger of the local stack.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(1)
	}
}

func run() error {
	var results []planner.Result
	if err := json.NewDecoder(os.Stdin).Decode(&results); err != nil {
		return fmt.Errorf("read sunset run --json: %w", err)
	}
	ctx := context.Background()
	c, err := awsclient.Load(ctx, true, os.Getenv)
	if err != nil {
		return err
	}
	table, err := awsclient.TableName(true, os.Getenv)
	if err != nil {
		return err
	}
	l := ledger.New(c.DynamoDB(), table, nil)
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	for _, r := range results {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", "OUTCOME", "ORG", "NAME", "STAGE", "TO / WHY")
		for _, d := range r.Plan.Due {
			status := "claimed"
			to := d.Recipients
			if n, err := l.Get(ctx, r.Plan.Campaign, d.Org, d.Stage); err == nil {
				status = string(n.Status)
				to = nil
				for _, a := range d.Recipients {
					if n.IsMerged(a) {
						a += " (merged)"
					}
					to = append(to, a)
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s (%s)\n", strings.ToUpper(status), d.Org, d.OrgName, d.Stage, strings.Join(to, ", "), accounts(d))
		}
		for _, k := range r.MailKeys {
			m, err := l.GetMail(ctx, k)
			if err != nil {
				return err
			}
			var orgs []string
			for _, n := range m.Carried {
				orgs = append(orgs, n.Org)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", strings.ToUpper(string(m.Status)), "-", fmt.Sprintf("one email for %d organisations: %s", len(orgs), strings.Join(orgs, ", ")), "merged", m.Address)
		}
		for _, s := range r.Plan.Skipped {
			why := string(s.Reason)
			if s.Detail != "" {
				why += ": " + s.Detail
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", "skipped", s.Org, s.OrgName, s.Stage, why)
		}
		if len(r.Plan.Unassigned) > 0 {
			seen := map[string]bool{}
			var accts []string
			for _, a := range r.Plan.Unassigned {
				if !seen[a.Account] {
					seen[a.Account] = true
					accts = append(accts, a.Account)
				}
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", "unassigned", "-", "(no organisation owns it)", "-", strings.Join(accts, ", "))
		}
	}
	return tw.Flush()
}

func accounts(d planner.Due) string {
	seen := map[string]bool{}
	for _, a := range d.Accounts {
		seen[a.Account] = true
	}
	if len(seen) == 1 {
		return "1 account"
	}
	return fmt.Sprintf("%d accounts", len(seen))
}
