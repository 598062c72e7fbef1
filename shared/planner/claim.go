package planner

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

// This file is what a run writes: its claims, the helpdesk's digest, and the day's progress.

// addDigest appends a chunk's digest rows to the run's, up to maxDigestOrgs.
func addDigest(all []ledger.DigestOrg, more int, rows []ledger.DigestOrg) ([]ledger.DigestOrg, int) {
	room := max(0, maxDigestOrgs-len(all))
	if len(rows) > room {
		more += len(rows) - room
		rows = rows[:room]
	}
	return append(all, rows...), more
}

// sendDigest claims the helpdesk's digest for at (the ledger makes it once a day: its stage
// carries the date) and hands it to the sender. A digest claimed by an earlier attempt that
// is still claimed is handed over again, like any pending notice: the sender's lease and the
// ledger's status keep it to one email.
func (p *Planner) sendDigest(ctx context.Context, st *state, at calendar.Date, rows []ledger.DigestOrg, more int, d Dispatcher, res *Result, keep bool) error {
	n := ledger.Notice{
		Campaign: st.c.ID, Org: ledger.HelpdeskOrg, OrgName: "Helpdesk", Stage: ledger.DigestStage + at.String(),
		PlannedFor: at, Recipients: []string{st.c.Helpdesk.Email}, Digest: rows, DigestMore: more,
		ExpiresAt: st.c.RetainUntil(),
	}
	ok, err := p.Ledger.Claim(ctx, n)
	if err != nil {
		return fmt.Errorf("claim digest: %w", err)
	}
	if !ok {
		prev, err := p.Ledger.Get(ctx, st.c.ID, ledger.HelpdeskOrg, n.Stage)
		if err != nil {
			return fmt.Errorf("read digest: %w", err)
		}
		if prev.Status != ledger.Claimed {
			return nil // sent (or given up) already
		}
		n = *prev
	} else {
		res.Counts.Claimed++
		if keep {
			res.Claimed = append(res.Claimed, n)
		}
	}
	if d == nil {
		return nil
	}
	if err := d.Dispatch(ctx, []ledger.Notice{n}); err != nil {
		return fmt.Errorf("dispatch digest: %w", err)
	}
	res.Dispatched++
	return nil
}

// digestStage is the stage after which the helpdesk gets a daily digest ("" for none).
func digestStage(c *campaign.Campaign) string {
	for _, e := range c.Escalation {
		if e.Notify == "helpdesk" {
			return e.AfterStage
		}
	}
	return ""
}

// digest lists, of a chunk, the organisations the helpdesk's digest names: sent the stage its
// rule names before at, and still affected. Their accounts are read for the activity window
// (one read an organisation: these are the stragglers, few by then).
func (p *Planner) digest(ctx context.Context, st *state, sv *survey, at calendar.Date, cases []*orgCase, orgs map[string]directory.Org) ([]ledger.DigestOrg, error) {
	stage := digestStage(st.c)
	if ok, _ := st.c.WorkingDay(at); stage == "" || !ok { // no one reads a digest on a day off
		return nil, nil
	}
	var out []ledger.DigestOrg
	from := at.AddDays(-st.c.ActivityWindowDays)
	for _, oc := range cases {
		sent := slices.IndexFunc(oc.history, func(n ledger.Notice) bool { return n.Stage == stage && notifiedBy(n) && n.PlannedFor.Before(at) })
		if sent < 0 || !sv.orgs[oc.ods] {
			continue
		}
		acts, err := p.activity(ctx, st.c.ID, sv, oc.ods, from, at)
		if err != nil {
			return nil, err
		}
		org := orgs[oc.ods]
		d := ledger.DigestOrg{ODS: oc.ods, Name: cmp.Or(org.Name, oc.ods), Stage: reached(oc.history).Stage,
			Contacts: slices.DeleteFunc(append(slices.Clone(org.LAEmails), org.PLAEmail), func(a string) bool { return a == "" })}
		counted := map[string]bool{} // an account seen on two hostnames is one account
		for _, a := range aggregate(acts, from, at) {
			acct := strings.ToLower(a.Account)
			if acct == "" || counted[acct] {
				continue
			}
			counted[acct] = true
			d.Count++
			if len(d.Accounts) < ledger.MaxDigestAccounts {
				d.Accounts = append(d.Accounts, acct)
			}
			if day := st.c.Today(a.LastSeen); day.After(d.LastSeen) {
				d.LastSeen = day
			}
		}
		if d.Count > 0 {
			out = append(out, d)
		}
	}
	return out, nil
}

// recordSkips notes, on each organisation a stage was due for, why it got nothing (the
// reasons a person can act on: no contacts, every address suppressed, not in the directory).
func recordSkips(orgs []progress.Org, skips []Skip) {
	why := map[string]SkipReason{}
	for _, s := range skips {
		switch s.Reason {
		case SkipNoContacts, SkipUnreachable, SkipNotInDirectory, SkipOrgGone:
			why[s.Org] = s.Reason
		}
	}
	for i := range orgs {
		orgs[i].Skipped = string(why[orgs[i].ODS])
	}
}

// recordOrgs keeps each organisation of a chunk as the run leaves it: those it claimed a
// notice for have reached that stage.
func (p *Planner) recordOrgs(ctx context.Context, st *state, orgs []progress.Org, claimed []Due, at calendar.Date) error {
	if p.Progress == nil || len(orgs) == 0 {
		return nil
	}
	stage := map[string]string{}
	for _, d := range claimed {
		stage[d.Org] = d.Stage
	}
	for i, o := range orgs {
		if s, ok := stage[o.ODS]; ok {
			orgs[i].Stage, orgs[i].Status, orgs[i].LastNotice = s, string(ledger.Claimed), at
		}
	}
	return p.Progress.RecordOrgs(ctx, st.c.ID, orgs, st.c.RetainUntil())
}

// recordDay keeps the run's funnel.
func (p *Planner) recordDay(ctx context.Context, st *state, f Funnel, unassigned int, at calendar.Date) error {
	if p.Progress == nil {
		return nil
	}
	return p.Progress.RecordDay(ctx, st.c.ID, progress.Day{At: at, Affected: f.Affected, AffectedAccounts: f.AffectedAccounts,
		Notified: f.Notified, Fixed: f.Fixed, Unassigned: unassigned}, st.c.RetainUntil())
}

// claim claims a chunk's due notices, readers at a time, and marks the stages each supersedes;
// it returns the ones claimed (in order) and a skip for each another run claimed first.
func (p *Planner) claim(ctx context.Context, st *state, at calendar.Date, dues []Due, res *Result) ([]Due, []Skip, error) {
	won := make([]bool, len(dues))
	superseded := make([]int, len(dues))
	errs := make([]error, len(dues))
	var wg sync.WaitGroup
	sem := make(chan struct{}, readers)
	for i, dn := range dues {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			n := st.notice(dn, at)
			ok, err := p.Ledger.Claim(ctx, n)
			if err != nil || !ok {
				errs[i] = err
				return
			}
			won[i] = true
			for _, s := range dn.Supersedes {
				sn := n
				sn.Stage, sn.Recipients, sn.Accounts, sn.FirstContact = s, nil, nil, false
				marked, err := p.Ledger.MarkSuperseded(ctx, sn)
				if err != nil {
					errs[i] = err
					return
				}
				if marked {
					superseded[i]++
				}
			}
		}()
	}
	wg.Wait()
	var claimed []Due
	var lost []Skip
	for i, dn := range dues {
		if errs[i] != nil {
			return claimed, lost, errs[i]
		}
		res.Superseded += superseded[i]
		if !won[i] {
			lost = append(lost, Skip{Org: dn.Org, OrgName: dn.OrgName, Reason: SkipLostClaim, Stage: dn.Stage})
			continue
		}
		claimed = append(claimed, dn)
		res.Counts.Claimed++
	}
	return claimed, lost, nil
}
