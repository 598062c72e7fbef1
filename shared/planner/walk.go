package planner

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

// This file walks the surveyed organisations a chunk at a time beside the ledger, and decides
// each organisation's due stage.

// chunkOut is what one chunk decided, in ODS order.
type chunkOut struct {
	dues    []Due
	skips   []Skip
	pending []ledger.Notice    // claimed (for the plan's date or before) and not leased: handed over again
	orgs    []progress.Org     // every organisation of the chunk, as the run leaves it
	digest  []ledger.DigestOrg // still affected after the helpdesk rule's stage (escalation)
}

// walk decides every organisation the plan looks at (the affected ones, those with notices,
// the roster's), in ODS order, chunkOrgs at a time, handing each chunk to emit, and returns
// the funnel.
func (p *Planner) walk(ctx context.Context, st *state, sv *survey, at calendar.Date, emit func(chunkOut) error) (Funnel, error) {
	c := st.c
	var f Funnel
	f.AffectedAccounts = sv.recent
	affected := slices.Sorted(maps.Keys(sv.orgs))
	var roster []campaign.RosterEntry
	if c.AudienceSource == campaign.SourceRoster {
		var err error
		if roster, err = p.Campaigns.Roster(ctx, c.ID); err != nil {
			return f, err
		}
		for i := range roster {
			roster[i].ODS = strings.ToUpper(roster[i].ODS)
		}
		slices.SortFunc(roster, func(a, b campaign.RosterEntry) int { return cmp.Compare(a.ODS, b.ODS) })
	}
	cur := p.Ledger.Histories(c.ID)
	var cases []*orgCase
	for {
		next, err := cur.Peek(ctx)
		if err != nil {
			return f, err
		}
		for _, cand := range []string{first(affected), first(rosterODS(roster))} {
			if cand != "" && (next == "" || cand < next) {
				next = cand
			}
		}
		if next == "" {
			break
		}
		oc := &orgCase{ods: next, deadline: c.Shutdown}
		if first(affected) == next {
			affected = affected[1:]
		}
		if oc.history, err = cur.Take(ctx, next); err != nil {
			return f, err
		}
		if next == ledger.HelpdeskOrg { // the helpdesk's digests: not an organisation to plan for
			continue
		}
		switch {
		case len(roster) > 0 && roster[0].ODS == next:
			oc.deadline, oc.domain = roster[0].Deadline, roster[0].Domain
			if roster[0].Done {
				oc.skip = SkipDone
			}
			roster = roster[1:]
		case c.AudienceSource == campaign.SourceRoster:
			oc.skip = SkipDone // notified once, no longer on the roster
		}
		if e, ok := st.exts[next]; ok {
			oc.deadline, oc.extended = e.Until, true
		}
		count(&f, c, sv, oc)
		if !st.page.take(next) {
			continue
		}
		if cases = append(cases, oc); len(cases) == chunkOrgs {
			if err := p.chunk(ctx, st, sv, at, cases, emit); err != nil {
				return f, err
			}
			cases = cases[:0]
		}
	}
	if len(cases) > 0 {
		return f, p.chunk(ctx, st, sv, at, cases, emit)
	}
	return f, nil
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

func rosterODS(r []campaign.RosterEntry) []string {
	if len(r) == 0 {
		return nil
	}
	return []string{r[0].ODS}
}

// isAffected: an account of the organisation was seen in the activity window (for a roster
// campaign: it is on the roster and not done).
func isAffected(c *campaign.Campaign, sv *survey, oc *orgCase) bool {
	if c.AudienceSource == campaign.SourceRoster {
		return oc.skip != SkipDone
	}
	return sv.orgs[oc.ods]
}

// orgProgress is one organisation as this plan leaves it, before its claims (run adds those).
func orgProgress(c *campaign.Campaign, sv *survey, oc *orgCase, name string, at calendar.Date) progress.Org {
	o := progress.Org{ODS: oc.ods, Name: name, AsOf: at, Affected: isAffected(c, sv, oc)}
	if s := sv.seen[oc.ods]; s != nil {
		o.Accounts, o.LastSeen = s.accounts, s.last
	}
	if n := reached(oc.history); n != nil {
		o.Stage, o.Status, o.LastNotice = n.Stage, string(n.Status), n.PlannedFor
		if !n.SentAt.IsZero() {
			o.LastNotice = c.Today(n.SentAt)
		}
		o.Name = cmp.Or(o.Name, n.OrgName)
	}
	return o
}

// reached is an organisation's latest notice that went (or is going) out, whose stage is the
// one the organisation reached; nil when none did. History comes in the ledger's key order (by
// stage name), so the latest is the one planned last (one claim a day: no two on one date).
func reached(history []ledger.Notice) *ledger.Notice {
	var last *ledger.Notice
	for i, n := range history {
		if notifiedBy(n) && (last == nil || n.PlannedFor.After(last.PlannedFor)) {
			last = &history[i]
		}
	}
	return last
}

// count adds one organisation to the funnel.
func count(f *Funnel, c *campaign.Campaign, sv *survey, oc *orgCase) {
	affected := isAffected(c, sv, oc)
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

// chunk decides one chunk of organisations: the stage due for each (reading the findings of
// those a stage is due for, for the days it looks at), the directory's entries, the audience
// and the suppression gate; then hands the result to emit.
func (p *Planner) chunk(ctx context.Context, st *state, sv *survey, at calendar.Date, cases []*orgCase, emit func(chunkOut) error) error {
	c := st.c
	var out chunkOut
	type pre struct {
		ds            stageDue
		reason        SkipReason
		stage, detail string
		needsActivity bool
	}
	pres := make([]pre, len(cases))
	for i, oc := range cases {
		for _, n := range oc.history {
			// Claimed and never leased: today's, or one that waits for SES (sandbox, quota,
			// identity) since an earlier day. Handed over again; the sender's lease keeps it
			// to one email. One in doubt waits for SES's events or reconcile instead.
			if n.Status == ledger.Claimed && !n.InDoubt() && !n.PlannedFor.After(at) {
				out.pending = append(out.pending, n)
			}
		}
		if oc.skip != "" {
			continue
		}
		pr := &pres[i]
		pr.ds, pr.reason, pr.stage, pr.detail = dueStage(c, oc, at)
		_, affected := sv.orgs[oc.ods] // an organisation that owns no account seen has no activity to read
		pr.needsActivity = pr.reason == "" && c.AudienceSource != campaign.SourceRoster && affected
	}
	if err := p.readActivity(ctx, c.ID, sv, cases, func(i int) (bool, calendar.Date, calendar.Date) {
		return pres[i].needsActivity, pres[i].ds.from, pres[i].ds.to
	}); err != nil {
		return err
	}
	odsList := make([]string, len(cases))
	for i, oc := range cases {
		odsList[i] = oc.ods
	}
	orgs, err := p.Directory.Orgs(ctx, odsList)
	if err != nil {
		return err
	}
	for _, oc := range cases {
		out.orgs = append(out.orgs, orgProgress(c, sv, oc, orgs[oc.ods].Name, at))
	}
	var dues []Due
	for i, oc := range cases {
		org, known := orgs[oc.ods]
		skip := func(reason SkipReason, stage, detail string) {
			out.skips = append(out.skips, Skip{Org: oc.ods, OrgName: org.Name, Reason: reason, Stage: stage, Detail: detail})
		}
		if oc.skip != "" {
			skip(oc.skip, "", "")
			continue
		}
		pr := pres[i]
		var d Due
		reason, stage, detail := pr.reason, pr.stage, pr.detail
		if reason == "" {
			d, reason, stage, detail = pr.ds.due(c, oc)
		}
		oc.acts = nil // read for this decision only
		switch {
		case reason != "":
			skip(reason, stage, detail)
		case !known:
			skip(SkipNotInDirectory, d.Stage, "the directory has no organisation "+oc.ods)
		case org.Gone:
			skip(SkipOrgGone, d.Stage, "the directory no longer lists "+oc.ods)
		default:
			d.OrgName = cmp.Or(org.Name, oc.ods)
			d.Recipients = candidates(c, org, d.Accounts, d.Escalated...)
			st.answered(&d)
			dues = append(dues, d)
		}
	}
	if out.digest, err = p.digest(ctx, st, sv, at, cases, orgs); err != nil {
		return err
	}
	if err := p.gate(ctx, st, dues, orgs, &out); err != nil {
		return err
	}
	slices.SortStableFunc(out.skips, func(a, b Skip) int { return cmp.Compare(a.Org, b.Org) })
	recordSkips(out.orgs, out.skips)
	return emit(out)
}

// readActivity reads, readers at a time, the findings of each case of the chunk that want
// says needs them, for the days it names.
func (p *Planner) readActivity(ctx context.Context, id string, sv *survey, cases []*orgCase, want func(int) (bool, calendar.Date, calendar.Date)) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, readers)
	for i, oc := range cases {
		need, from, to := want(i)
		if !need {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			acts, err := p.activity(ctx, id, sv, oc.ods, from, to)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			oc.acts = acts
		}()
	}
	wg.Wait()
	return first
}

// gate lets a due notice through when someone can receive it and the campaign is active: one
// batched look-up of every candidate address (and PLA fallback) of the chunk against the
// suppression list; an organisation nobody can be written to is skipped, and a paused or
// cancelled campaign plans nothing (the plan still shows what would be due).
func (p *Planner) gate(ctx context.Context, st *state, dues []Due, orgs map[string]directory.Org, out *chunkOut) error {
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
			out.skips = append(out.skips, Skip{Org: d.Org, OrgName: d.OrgName, Reason: reason, Stage: d.Stage})
			continue
		}
		d.Recipients = rcpt
		out.dues = append(out.dues, d)
	}
	return nil
}
