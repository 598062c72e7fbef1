package planner

// The planner as it was before it streamed (issue 14): every finding of the window read and
// grouped in memory, the whole ledger listed. Kept, in a test file only, as the reference the
// streaming planner must agree with (reference_compare_test.go).

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// windowReader reads every finding of a window (findings.Reader and the tests' fake fit).
type windowReader interface {
	Window(ctx context.Context, from, to calendar.Date) ([]findings.Activity, error)
}

// refState is what one reference plan reads once.
type refState struct {
	rec          *campaign.Record
	c            *campaign.Campaign
	exts         map[string]campaign.Extension
	cases        map[string]*orgCase
	pendingToday []ledger.Notice
}

// funnel counts where the campaign stands on at (see Funnel).
func (st *refState) funnel(at calendar.Date) Funnel {
	var f Funnel
	from := at.AddDays(-st.c.ActivityWindowDays)
	accounts := map[string]bool{}
	for _, oc := range st.cases {
		affected := false
		if st.c.AudienceSource == campaign.SourceRoster {
			affected = oc.skip != SkipDone
		}
		for _, a := range oc.acts {
			if !a.Day.Before(from) && !a.Day.After(at) {
				affected = true
				accounts[strings.ToLower(a.Account)] = true
			}
		}
		notified := slices.ContainsFunc(oc.history, notifiedBy)
		switch {
		case affected:
			f.Affected++
			if notified {
				f.Notified++
			}
		case notified:
			f.Notified++
			f.Fixed++
		}
	}
	f.AffectedAccounts = len(accounts)
	return f
}

// get is the case of ods, made with the campaign's deadline the first time it is asked for.
func (st *refState) get(ods string) *orgCase {
	oc := st.cases[ods]
	if oc == nil {
		oc = &orgCase{ods: ods, deadline: st.c.Shutdown}
		st.cases[ods] = oc
	}
	return oc
}

// plan is Plan's work in four steps, each its own function: load the campaign and its ledger;
// gather the organisations to look at (affected by findings, or on the roster); decide which
// stage each is due; gate the due notices on contacts, suppression and the campaign's status.
func (p *Planner) referencePlan(ctx context.Context, w windowReader, id string, at calendar.Date) (Plan, error) {
	pl := Plan{Campaign: id, At: at, Due: []Due{}, Skipped: []Skip{}, Unassigned: []ledger.Account{}, Unattributed: []ledger.Account{}}
	st, err := p.refLoad(ctx, id, at)
	if err != nil {
		return pl, fmt.Errorf("plan %s: %w", id, err)
	}
	pl.Status = string(st.rec.Status)
	if err := p.refGather(ctx, w, st, at, &pl); err != nil {
		return pl, fmt.Errorf("plan %s: %w", id, err)
	}
	pl.Funnel = st.funnel(at)
	dues, orgs, err := p.refDecideAll(ctx, st, at, &pl)
	if err != nil {
		return pl, fmt.Errorf("plan %s: %w", id, err)
	}
	if err := p.refGate(ctx, st, dues, orgs, &pl); err != nil {
		return pl, fmt.Errorf("plan %s: %w", id, err)
	}
	slices.SortFunc(pl.Skipped, func(a, b Skip) int { return cmp.Compare(a.Org, b.Org) })
	return pl, nil
}

// load reads the campaign, its extensions and its ledger. Every organisation with a notice in
// the ledger gets a case (so a roster organisation that left the roster is still seen), and the
// notices claimed for at but not sent are kept for Run to hand over again.
func (p *Planner) refLoad(ctx context.Context, id string, at calendar.Date) (*refState, error) {
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &refState{rec: rec, c: rec.Campaign, cases: map[string]*orgCase{}}
	if st.exts, err = p.Campaigns.Extensions(ctx, id); err != nil {
		return nil, err
	}
	notices, err := p.Ledger.(interface {
		List(context.Context, string) ([]ledger.Notice, error)
	}).List(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		oc := st.get(n.Org)
		oc.history = append(oc.history, n)
		if n.Status == ledger.Claimed && n.PlannedFor == at {
			st.pendingToday = append(st.pendingToday, n)
		}
	}
	return st, nil
}

// gather decides who the plan looks at: for a findings campaign, the owners of the accounts
// seen on a legacy hostname in the window (unowned and unattributed activity goes in the plan
// for the team); for a roster campaign, the roster with each organisation's own deadline. An
// extension then moves the deadline of an organisation it names.
func (p *Planner) refGather(ctx context.Context, w windowReader, st *refState, at calendar.Date, pl *Plan) error {
	var err error
	if st.c.AudienceSource == campaign.SourceRoster {
		err = p.refGatherRoster(ctx, st)
	} else {
		err = p.refGatherAffected(ctx, w, st, at, pl)
	}
	if err != nil {
		return err
	}
	for ods, e := range st.exts {
		if oc := st.cases[ods]; oc != nil {
			oc.deadline, oc.extended = e.Until, true
		}
	}
	return nil
}

// gatherRoster gives every roster organisation its deadline and domain. An organisation marked
// done, or notified once and no longer on the roster, is done.
func (p *Planner) refGatherRoster(ctx context.Context, st *refState) error {
	roster, err := p.Campaigns.Roster(ctx, st.c.ID)
	if err != nil {
		return err
	}
	inRoster := map[string]bool{}
	for _, e := range roster {
		oc := st.get(e.ODS)
		inRoster[e.ODS] = true
		oc.deadline, oc.domain = e.Deadline, e.Domain
		if e.Done {
			oc.skip = SkipDone
		}
	}
	for ods, oc := range st.cases {
		if !inRoster[ods] {
			oc.skip = SkipDone
		}
	}
	return nil
}

// gatherAffected reads the window's findings (for a stage after the deadline, back to the
// window before the deadline), resolves each account's owner now, and files the activity under
// its organisation. Accounts no organisation owns, and traffic with no account, are listed in
// the plan.
func (p *Planner) refGatherAffected(ctx context.Context, w windowReader, st *refState, at calendar.Date, pl *Plan) error {
	c := st.c
	window := c.ActivityWindowDays
	from := at.AddDays(-window)
	if postDeadline(c) && !c.Shutdown.After(at) && !at.After(c.LastDeadline().AddDays(lastOffset(c))) {
		from = minDate(from, c.Shutdown.AddDays(-window))
	}
	acts, err := w.Window(ctx, from, at)
	if err != nil {
		return err
	}
	var accounts []string
	seen := map[string]bool{}
	var unattributed []findings.Activity
	for _, a := range acts {
		if a.Account == "" {
			unattributed = append(unattributed, a)
		} else if !seen[a.Account] {
			seen[a.Account] = true
			accounts = append(accounts, a.Account)
		}
	}
	owners, err := p.Directory.Resolve(ctx, accounts)
	if err != nil {
		return err
	}
	var unassigned []findings.Activity
	for _, a := range acts {
		if a.Account == "" {
			continue
		}
		if ods := owners[a.Account]; ods != "" {
			oc := st.get(strings.ToUpper(ods))
			oc.acts = append(oc.acts, a)
		} else {
			unassigned = append(unassigned, a)
		}
	}
	pl.Unassigned = aggregate(unassigned, from, at)
	pl.Unattributed = aggregate(unattributed, from, at)
	return nil
}

// decideAll picks, for every organisation in ODS order, the stage due on at (decide), then
// checks the directory still lists it and names its audience. It returns the notices that
// would go, before the gate, and the organisations the directory knows.
func (p *Planner) refDecideAll(ctx context.Context, st *refState, at calendar.Date, pl *Plan) ([]Due, map[string]directory.Org, error) {
	odsList := slices.Sorted(maps.Keys(st.cases))
	orgs, err := p.Directory.Orgs(ctx, odsList)
	if err != nil {
		return nil, nil, err
	}
	var dues []Due
	for _, ods := range odsList {
		oc := st.cases[ods]
		org, known := orgs[ods]
		skip := func(reason SkipReason, stage, detail string) {
			pl.Skipped = append(pl.Skipped, Skip{Org: ods, OrgName: org.Name, Reason: reason, Stage: stage, Detail: detail})
		}
		if oc.skip != "" {
			skip(oc.skip, "", "")
			continue
		}
		d, reason, stage, detail := decide(st.c, oc, at)
		switch {
		case reason != "":
			skip(reason, stage, detail)
		case !known:
			skip(SkipNotInDirectory, d.Stage, "the directory has no organisation "+ods)
		case org.Gone:
			skip(SkipOrgGone, d.Stage, "the directory no longer lists "+ods)
		default:
			d.OrgName = cmp.Or(org.Name, ods)
			d.Recipients = candidates(st.c, org, d.Accounts)
			dues = append(dues, d)
		}
	}
	return dues, orgs, nil
}

// gate lets a due notice through when someone can receive it and the campaign is active: one
// batched look-up of every candidate address (and PLA fallback) against the suppression list;
// an organisation nobody can be written to is skipped, and a paused or cancelled campaign
// plans nothing (the plan still shows what would be due).
func (p *Planner) refGate(ctx context.Context, st *refState, dues []Due, orgs map[string]directory.Org, pl *Plan) error {
	var addrs []string
	for _, d := range dues {
		addrs = append(addrs, d.Recipients...)
	}
	addrs = append(addrs, plaFallbacks(dues, orgs)...)
	suppressed := map[string]bool{}
	if len(addrs) > 0 && p.Suppression != nil {
		var err error
		if suppressed, err = p.Suppression.Suppressed(ctx, dedupe(addrs)); err != nil {
			return err
		}
	}
	for _, d := range dues {
		rcpt, reason := reachable(st.c, orgs[d.Org], d.Recipients, suppressed)
		switch {
		case reason == "" && st.rec.Status == campaign.Paused:
			reason = SkipPaused
		case reason == "" && st.rec.Status == campaign.Cancelled:
			reason = SkipCancelled
		}
		if reason != "" {
			pl.Skipped = append(pl.Skipped, Skip{Org: d.Org, OrgName: d.OrgName, Reason: reason, Stage: d.Stage})
			continue
		}
		d.Recipients = rcpt
		pl.Due = append(pl.Due, d)
	}
	return nil
}
