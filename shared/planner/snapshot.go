package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// ErrNothingToRender is wrapped by Snapshot's errors that mean there is no notice to show (an
// unknown stage, nothing due, no ledger entry): a mistake in the request, not a failure.
var ErrNothingToRender = errors.New("nothing to render")

// History reads one organisation's ledger entries in claim order (shared/ledger.Ledger fits).
type History interface {
	History(ctx context.Context, campaign, org string) ([]ledger.Notice, error)
}

// Snapshot is the notice of org at stage on at as a run would claim it, for a preview or a test
// send; it writes nothing. When the organisation is due on at, the notice comes from the plan
// (with stage, if given, in place of the due stage); otherwise it is the organisation's latest
// ledger entry, restaged, so a stage already sent can be shown again. stage "" means the stage
// the plan picks, and then a notice must be due.
func (p *Planner) Snapshot(ctx context.Context, h History, c *campaign.Campaign, org, stage string, at calendar.Date) (ledger.Notice, error) {
	org = strings.ToUpper(strings.TrimSpace(org))
	if stage != "" {
		if _, ok := c.Stage(stage); !ok {
			return ledger.Notice{}, fmt.Errorf("%w: campaign %s has no stage %q", ErrNothingToRender, c.ID, stage)
		}
	}
	// Only org is decided: a page of one, starting just before it.
	pl, st, err := p.plan(ctx, c.ID, at, &pageState{Page: Page{After: justBefore(org), Limit: 1}})
	if err != nil {
		return ledger.Notice{}, err
	}
	for _, d := range pl.Due {
		if strings.EqualFold(d.Org, org) {
			n := st.notice(d, at)
			if stage != "" {
				n.Stage = stage
			}
			return n, nil
		}
	}
	why := "not affected"
	for _, s := range pl.Skipped {
		if strings.EqualFold(s.Org, org) {
			why = strings.TrimSpace(string(s.Reason) + " " + s.Detail)
		}
	}
	if stage == "" {
		return ledger.Notice{}, fmt.Errorf("%w: no notice is due for %s on %s (%s)", ErrNothingToRender, org, at, why)
	}
	hist, err := h.History(ctx, c.ID, org)
	if err != nil {
		return ledger.Notice{}, err
	}
	if len(hist) == 0 {
		return ledger.Notice{}, fmt.Errorf("%w: %s has no notice to render on %s (%s)", ErrNothingToRender, org, at, why)
	}
	last := hist[len(hist)-1]
	last.Stage, last.PlannedFor, last.Status = stage, at, ""
	return last, nil
}

// OrgAccounts lists the accounts of an organisation seen on a legacy hostname in the activity
// window before at, aggregated as a notice lists them. It reads the organisation's findings
// by the owner recorded when each was written (the console's view of one organisation; a run
// also follows accounts that changed owner since).
func (p *Planner) OrgAccounts(ctx context.Context, c *campaign.Campaign, ods string, at calendar.Date) ([]ledger.Account, error) {
	from := at.AddDays(-c.ActivityWindowDays)
	view, err := p.Findings.View(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	acts, err := view.Org(ctx, strings.ToUpper(strings.TrimSpace(ods)), from, at)
	if err != nil {
		return nil, err
	}
	return aggregate(acts, from, at), nil
}

// Unassigned lists the accounts seen from..to that no organisation owns now, aggregated as a
// notice lists them: the findings filed as unassigned when they were written, less those whose
// account the directory has since given an owner. It reads only those findings (the index
// partition of the unassigned), so its cost follows them, not the campaign. An account whose
// owner left the directory after its findings were written is found by the next plan instead.
func (p *Planner) Unassigned(ctx context.Context, c *campaign.Campaign, from, to calendar.Date) ([]ledger.Account, error) {
	view, err := p.Findings.View(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	acts, err := view.Org(ctx, findings.Unassigned, from, to)
	if err != nil {
		return nil, err
	}
	var accounts []string
	seen := map[string]bool{}
	for _, a := range acts {
		if a.Account != "" && !seen[a.Account] {
			seen[a.Account] = true
			accounts = append(accounts, a.Account)
		}
	}
	var reassigned map[string]string
	if p.Answers != nil { // an account the team gave to an organisation is not unassigned
		var err error
		if reassigned, err = p.Answers.Owners(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	owners, err := p.ownersNow(ctx, accounts, reassigned)
	if err != nil {
		return nil, err
	}
	acts = slices.DeleteFunc(acts, func(a findings.Activity) bool { return a.Account == "" || owners[a.Account] != "" })
	return aggregate(acts, from, to), nil
}

// justBefore is a string after every ODS code (ASCII) that sorts before ods, and before ods.
func justBefore(ods string) string {
	if ods == "" {
		return ""
	}
	return ods[:len(ods)-1] + string(ods[len(ods)-1]-1) + "\xff"
}

// SnapshotFor is what address would get on at, for a preview or a test send of a merged email:
// the notices due on at whose audience includes it, as a run would claim them, and those claimed
// for at and not sent yet, in ODS order (two or more go in one merged email). It reads the whole
// day's plan and writes nothing. (What went out is the ledger's: the console's merged emails.)
func (p *Planner) SnapshotFor(ctx context.Context, c *campaign.Campaign, address string, at calendar.Date) ([]ledger.Notice, error) {
	address = strings.ToLower(strings.TrimSpace(address))
	var dues []Due
	_, st, err := p.planEach(ctx, c.ID, at, nil, func(ds []Due, _ []Skip) error {
		for _, d := range ds {
			if slices.ContainsFunc(d.Recipients, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), address) }) {
				dues = append(dues, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []ledger.Notice
	for _, d := range dues {
		out = append(out, st.notice(d, at))
	}
	for _, n := range st.pendingToday {
		if n.PlannedFor == at && n.Org != ledger.HelpdeskOrg && slices.ContainsFunc(n.Recipients, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), address) }) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no notice due on %s goes to %s", ErrNothingToRender, at, address)
	}
	slices.SortFunc(out, func(a, b ledger.Notice) int { return strings.Compare(a.Org, b.Org) })
	return out, nil
}
