package planner

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

// How a plan reads (issue 14): it never holds the window's findings or the ledger. It first
// surveys who was seen in the window (a stream of accounts, resolved to their owners now, a
// few hundred at a time), keeping one small entry per affected organisation. Then it walks the
// organisations in ODS order, a chunk at a time, beside the ledger (read in the same order):
// for each organisation a stage is due for, it reads that organisation's findings for the days
// that stage looks at, decides, and hands the chunk's notices on (claimed and dispatched by
// Run) before it reads the next. Memory follows one chunk and the number of affected
// organisations; reads follow the affected organisations and their findings.
//
// The owner of an account is who owns it now, as before: findings are read by organisation
// through the index their writer filed them under, except for the accounts whose owner has
// changed since (the survey sees the stored owner beside the current one), which are read by
// account and filed under their current owner.

// chunkOrgs is how many organisations are decided together: one directory read, one
// suppression read and one hand-off per chunk.
const chunkOrgs = 100

// resolveBatch is how many accounts the survey resolves at a time.
const resolveBatch = 500

// readers bounds the findings reads of a chunk in flight at once.
const readers = 8

// survey is who the window's findings name, resolved to their owners now.
type survey struct {
	from calendar.Date
	// orgs are the organisations owning an account seen in the window; true when one was seen
	// within the activity window before the plan's date (the funnel's "affected").
	orgs map[string]bool
	// moved are the accounts read by account rather than by organisation: those whose owner
	// changed since their findings were written, with their owner now ("" for none).
	moved    map[string]string
	byOwner  map[string][]string // moved accounts by owner now
	recent   int                 // owned accounts seen within the activity window (the funnel)
	seen     map[string]*orgSeen // per organisation: accounts seen in the activity window, last seen
	unowned  int                 // accounts no organisation owns, stored so
	unownedM int                 // of the moved, those no organisation owns
}

// windowStart is the first day a plan on at reads: the activity window before it, or, while
// a stage after the deadline is still to come, the window before the shutdown.
func windowStart(c *campaign.Campaign, at calendar.Date) calendar.Date {
	from := at.AddDays(-c.ActivityWindowDays)
	if postDeadline(c) && !c.Shutdown.After(at) && !at.After(c.LastDeadline().AddDays(lastOffset(c))) {
		from = minDate(from, c.Shutdown.AddDays(-c.ActivityWindowDays))
	}
	return from
}

// survey reads who was seen on a findings campaign's window and who owns them now. A roster
// campaign reads no findings.
func (p *Planner) survey(ctx context.Context, c *campaign.Campaign, at calendar.Date, reassigned map[string]string) (*survey, error) {
	sv := &survey{from: windowStart(c, at), orgs: map[string]bool{}, moved: map[string]string{}, byOwner: map[string][]string{},
		seen: map[string]*orgSeen{}}
	if c.AudienceSource == campaign.SourceRoster {
		return sv, nil
	}
	recentFrom := at.AddDays(-c.ActivityWindowDays)
	var batch []findings.Seen
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		accounts := make([]string, len(batch))
		for i, s := range batch {
			accounts[i] = s.Account
		}
		owners, err := p.Directory.Resolve(ctx, accounts)
		if err != nil {
			return err
		}
		for _, s := range batch {
			owner := owners[s.Account]
			if o, ok := reassigned[s.Account]; ok { // the team's decisions on disputed accounts come first
				owner = o
			}
			sv.add(s, strings.ToUpper(owner), !s.Last.Before(recentFrom))
		}
		batch = batch[:0]
		return nil
	}
	err := p.Findings.Accounts(ctx, c.ID, sv.from, at, func(s findings.Seen) error {
		if s.Account == "" {
			return nil
		}
		batch = append(batch, s)
		if len(batch) == resolveBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, err
	}
	for a, owner := range sv.moved {
		sv.byOwner[owner] = append(sv.byOwner[owner], a)
		if owner == "" {
			sv.unownedM++
		}
	}
	for _, list := range sv.byOwner {
		slices.Sort(list)
	}
	return sv, nil
}

// add files one account seen in the window under its owner now.
func (sv *survey) add(s findings.Seen, owner string, recent bool) {
	stored := cmp.Or(owner, findings.Unassigned)
	if len(s.Stored) != 1 || !strings.EqualFold(s.Stored[0], stored) {
		sv.moved[s.Account] = owner
	}
	if owner == "" {
		if _, moved := sv.moved[s.Account]; !moved {
			sv.unowned++
		}
		return
	}
	sv.orgs[owner] = sv.orgs[owner] || recent
	o := sv.seen[owner]
	if o == nil {
		o = &orgSeen{}
		sv.seen[owner] = o
	}
	if s.Last.After(o.last) {
		o.last = s.Last
	}
	if recent {
		sv.recent++
		o.accounts++
	}
}

// orgSeen is what the survey saw of one organisation's accounts.
type orgSeen struct {
	accounts int           // seen within the activity window
	last     calendar.Date // the last day any of them was seen in the survey's window
}

// unassigned is how many accounts seen no organisation owns now.
func (sv *survey) unassigned() int { return sv.unowned + sv.unownedM }

// activity reads an organisation's findings from..to: its index partition without the moved
// accounts, and the accounts that moved to it, in the order the day index keeps them.
func (p *Planner) activity(ctx context.Context, id string, sv *survey, ods string, from, to calendar.Date) ([]findings.Activity, error) {
	acts, err := p.Findings.Org(ctx, id, cmp.Or(ods, findings.Unassigned), from, to)
	if err != nil {
		return nil, err
	}
	acts = slices.DeleteFunc(acts, func(a findings.Activity) bool { _, moved := sv.moved[a.Account]; return moved })
	for _, a := range sv.byOwner[ods] {
		more, err := p.Findings.Account(ctx, id, a, from, to)
		if err != nil {
			return nil, err
		}
		acts = append(acts, more...)
	}
	slices.SortStableFunc(acts, func(a, b findings.Activity) int { return cmp.Compare(findings.SortKey(a), findings.SortKey(b)) })
	return acts, nil
}

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

// load reads the campaign and its extensions.
func (p *Planner) load(ctx context.Context, id string) (*state, error) {
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &state{rec: rec, c: rec.Campaign, acks: map[string]*ledger.Acknowledgement{}, review: map[string]map[string]bool{}}
	if st.exts, err = p.Campaigns.Extensions(ctx, id); err != nil {
		return nil, err
	}
	if p.Answers == nil {
		return st, nil
	}
	ans, err := p.Answers.List(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, a := range ans.Acks {
		if cur := st.acks[a.Org]; cur == nil || a.At.After(cur.At) {
			st.acks[a.Org] = &ledger.Acknowledgement{At: a.At, By: a.By}
		}
	}
	for _, d := range ans.Disputes {
		if d.Status == answers.Pending {
			if st.review[d.Org] == nil {
				st.review[d.Org] = map[string]bool{}
			}
			st.review[d.Org][d.Account] = true
		}
	}
	st.owners, err = p.Answers.Owners(ctx, id)
	return st, err
}

// answered adds to a due notice what its organisation told us: its latest acknowledgement,
// and which of its accounts it disputes (under review until the team decides).
func (st *state) answered(d *Due) {
	d.Acknowledged = st.acks[d.Org]
	for i, a := range d.Accounts {
		if st.review[d.Org][strings.ToLower(a.Account)] {
			d.Accounts[i].UnderReview = true
		}
	}
}

// plan is Plan's work, keeping everything: every due notice and skip, the notices to hand over
// again, the unassigned accounts and the unattributed traffic.
func (p *Planner) plan(ctx context.Context, id string, at calendar.Date) (Plan, *state, error) {
	pl := Plan{Campaign: id, At: at, Due: []Due{}, Skipped: []Skip{}, Unassigned: []ledger.Account{}, Unattributed: []ledger.Account{}}
	fail := func(err error) (Plan, *state, error) { return pl, nil, fmt.Errorf("plan %s: %w", id, err) }
	st, err := p.load(ctx, id)
	if err != nil {
		return fail(err)
	}
	pl.Status, pl.Brownouts = string(st.rec.Status), st.c.Brownouts
	sv, err := p.survey(ctx, st.c, at, st.owners)
	if err != nil {
		return fail(err)
	}
	pl.Funnel, err = p.walk(ctx, st, sv, at, func(o chunkOut) error {
		pl.Due = append(pl.Due, o.dues...)
		pl.Skipped = append(pl.Skipped, o.skips...)
		st.pendingToday = append(st.pendingToday, o.pending...)
		pl.Digest, pl.DigestMore = addDigest(pl.Digest, pl.DigestMore, o.digest)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if err := p.leftovers(ctx, st.c, sv, at, &pl); err != nil {
		return fail(err)
	}
	return pl, st, nil
}

// leftovers fills in what no organisation's notice shows: the accounts no organisation owns,
// for the team to fix in the directory, and the traffic with no account.
func (p *Planner) leftovers(ctx context.Context, c *campaign.Campaign, sv *survey, at calendar.Date, pl *Plan) error {
	if c.AudienceSource == campaign.SourceRoster {
		return nil
	}
	un, err := p.activity(ctx, c.ID, sv, "", sv.from, at)
	if err != nil {
		return err
	}
	pl.Unassigned = aggregate(un, sv.from, at)
	ua, err := p.Findings.Unattributed(ctx, c.ID, sv.from, at)
	if err != nil {
		return err
	}
	pl.Unattributed = aggregate(ua, sv.from, at)
	return nil
}

// Run plans, claims every due notice in the ledger (a notice another run claimed first is
// skipped), marks the stages it supersedes, and hands the notices claimed for at, including ones
// claimed by an earlier attempt that may not have reached the sender, to d (nil: leave them
// claimed), a chunk of organisations at a time. The sender must treat a notice that is no
// longer claimed as done. The result keeps every notice and skip; RunLean keeps counts.
func (p *Planner) Run(ctx context.Context, campaignID string, at calendar.Date, d Dispatcher) (Result, error) {
	return p.run(ctx, campaignID, at, d, true)
}

// RunLean is Run keeping only the counts, the status and the funnel: the scheduled run, whose
// memory then follows one chunk of organisations however many are due.
func (p *Planner) RunLean(ctx context.Context, campaignID string, at calendar.Date, d Dispatcher) (Result, error) {
	return p.run(ctx, campaignID, at, d, false)
}

// run is Run's and RunLean's work: one pass over the walk's chunks (claim, record, hand over),
// then the helpdesk's digest and the day's funnel. It is a little over 80 lines because the
// chunk callback shares the run's counts and lists; split, it would pass them all around.
func (p *Planner) run(ctx context.Context, id string, at calendar.Date, d Dispatcher, keep bool) (Result, error) {
	res := Result{Plan: Plan{Campaign: id, At: at, Due: []Due{}, Skipped: []Skip{}, Unassigned: []ledger.Account{}, Unattributed: []ledger.Account{}},
		Counts: Counts{Skipped: map[SkipReason]int{}}}
	fail := func(err error) (Result, error) { return res, fmt.Errorf("plan %s: %w", id, err) }
	st, err := p.load(ctx, id)
	if err != nil {
		return fail(err)
	}
	res.Plan.Status, res.Plan.Brownouts = string(st.rec.Status), st.c.Brownouts
	sv, err := p.survey(ctx, st.c, at, st.owners)
	if err != nil {
		return fail(err)
	}
	res.Counts.Unassigned = sv.unassigned()
	active := st.rec.Status == campaign.Active
	var lost []Skip
	var digest []ledger.DigestOrg
	var digestMore int
	res.Plan.Funnel, err = p.walk(ctx, st, sv, at, func(o chunkOut) error {
		digest, digestMore = addDigest(digest, digestMore, o.digest)
		res.Counts.Due += len(o.dues)
		for _, s := range o.skips {
			res.Counts.Skipped[s.Reason]++
		}
		if keep {
			res.Plan.Skipped = append(res.Plan.Skipped, o.skips...)
		}
		if !active {
			if keep {
				res.Plan.Due = append(res.Plan.Due, o.dues...)
			}
			return p.recordOrgs(ctx, st, o.orgs, nil, at)
		}
		claimed, lostHere, err := p.claim(ctx, st, at, o.dues, &res)
		if err != nil {
			return err
		}
		lost = append(lost, lostHere...)
		if err := p.recordOrgs(ctx, st, o.orgs, claimed, at); err != nil {
			return err
		}
		toSend := make([]ledger.Notice, 0, len(claimed)+len(o.pending))
		for _, c := range claimed {
			toSend = append(toSend, st.notice(c, at))
		}
		if keep {
			res.Plan.Due = append(res.Plan.Due, claimed...)
			res.Claimed = append(res.Claimed, toSend...)
		}
		toSend = append(toSend, o.pending...)
		if d != nil && len(toSend) > 0 {
			if err := d.Dispatch(ctx, toSend); err != nil {
				return fmt.Errorf("dispatch %d notices of %s: %w", len(toSend), id, err)
			}
			res.Dispatched += len(toSend)
		}
		return nil
	})
	for _, s := range lost {
		res.Counts.Skipped[s.Reason]++
	}
	if keep {
		res.Plan.Skipped = append(res.Plan.Skipped, lost...)
	}
	if err != nil {
		return res, err // the claims made stand; a retry hands them over as pending
	}
	if keep {
		res.Plan.Digest, res.Plan.DigestMore = digest, digestMore
	}
	if active && len(digest) > 0 {
		if err := p.sendDigest(ctx, st, at, digest, digestMore, d, &res, keep); err != nil {
			return fail(err)
		}
	}
	if err := p.recordDay(ctx, st, res.Plan.Funnel, res.Counts.Unassigned, at); err != nil {
		return fail(err)
	}
	if keep {
		if err := p.leftovers(ctx, st.c, sv, at, &res.Plan); err != nil {
			return fail(err)
		}
	}
	return res, nil
}

// maxDigestOrgs is how many organisations one digest lists; the rest are counted.
const maxDigestOrgs = 200

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
