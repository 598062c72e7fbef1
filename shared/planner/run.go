package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// This file is a run: the campaign's state loaded, the dry plan, and Run, which claims and
// hands over what the walk decides.

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
func (p *Planner) plan(ctx context.Context, id string, at calendar.Date, page *pageState) (Plan, *state, error) {
	return p.planEach(ctx, id, at, page, nil)
}

// planEach is plan, handing each chunk's due notices and skips to each instead of keeping
// them when each is set.
func (p *Planner) planEach(ctx context.Context, id string, at calendar.Date, page *pageState, each func([]Due, []Skip) error) (Plan, *state, error) {
	pl := Plan{Campaign: id, At: at, Due: []Due{}, Skipped: []Skip{}, Unassigned: []ledger.Account{}, Unattributed: []ledger.Account{}}
	fail := func(err error) (Plan, *state, error) { return pl, nil, fmt.Errorf("plan %s: %w", id, err) }
	st, err := p.load(ctx, id)
	if err != nil {
		return fail(err)
	}
	st.page = page
	pl.Status, pl.Brownouts = string(st.rec.Status), st.c.Brownouts
	sv, err := p.survey(ctx, st.c, at, st.owners)
	if err != nil {
		return fail(err)
	}
	pl.Funnel, err = p.walk(ctx, st, sv, at, func(o chunkOut) error {
		if each != nil {
			if err := each(o.dues, o.skips); err != nil {
				return err
			}
		} else {
			pl.Due = append(pl.Due, o.dues...)
			pl.Skipped = append(pl.Skipped, o.skips...)
		}
		st.pendingToday = append(st.pendingToday, o.pending...)
		pl.Digest, pl.DigestMore = addDigest(pl.Digest, pl.DigestMore, o.digest)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	if page != nil && page.more {
		pl.Next = page.last
	}
	if page != nil && page.After != "" {
		return pl, st, nil
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
	ua, err := sv.view.Unattributed(ctx, sv.from, at)
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
// longer claimed as done. The result keeps every notice and skip, unless Lean.
func (p *Planner) Run(ctx context.Context, campaignID string, at calendar.Date, d Dispatcher, opts ...RunOption) (Result, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	return p.run(ctx, campaignID, at, d, !o.lean)
}

// RunOption changes what Run keeps.
type RunOption func(*runOptions)

type runOptions struct{ lean bool }

// Lean makes Run keep only the counts, the status and the funnel: the scheduled run, whose
// memory then follows one chunk of organisations however many are due.
func Lean() RunOption { return func(o *runOptions) { o.lean = true } }

// run is Run's work: one pass over the walk's chunks (claim, record), the hand-over of the
// day's notices and merged emails, then the helpdesk's digest and the day's funnel. It is a little over 80 lines because the
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
	var hand []ledger.Notice // what to hand over once the walk is done (merge.go)
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
			hand = append(hand, handOffs(toSend)...)
		}
		return nil
	})
	if err == nil && d != nil && len(hand) > 0 {
		err = p.handOver(ctx, st, at, hand, d, &res, keep)
	}
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
