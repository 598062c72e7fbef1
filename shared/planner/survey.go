package planner

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
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
	// view is the campaign's findings as the plan reads them (nil for a roster campaign).
	view FindingsView
	// orgs are the organisations owning an account seen in the window; true when one was seen
	// within the activity window before the plan's date (the funnel's "affected").
	orgs map[string]bool
	// moved are the accounts read by account rather than by organisation: those whose owner
	// changed since their findings were written, with their owner now ("" for none).
	moved    map[string]string
	seenOf   map[string]findings.Seen // what the survey saw of each moved account
	byOwner  map[string][]string      // moved accounts by owner now
	recent   int                      // owned accounts seen within the activity window (the funnel)
	seen     map[string]*orgSeen      // per organisation: accounts seen in the activity window, last seen
	unowned  int                      // accounts no organisation owns, stored so
	unownedM int                      // of the moved, those no organisation owns
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
	sv := &survey{from: windowStart(c, at), orgs: map[string]bool{}, moved: map[string]string{}, seenOf: map[string]findings.Seen{},
		byOwner: map[string][]string{}, seen: map[string]*orgSeen{}}
	if c.AudienceSource == campaign.SourceRoster {
		return sv, nil
	}
	view, err := p.Findings.View(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	sv.view = view
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
		owners, err := p.ownersNow(ctx, accounts, reassigned)
		if err != nil {
			return err
		}
		for _, s := range batch {
			sv.add(s, strings.ToUpper(owners[s.Account]), !s.Last.Before(recentFrom))
		}
		batch = batch[:0]
		return nil
	}
	err = view.Accounts(ctx, sv.from, at, func(s findings.Seen) error {
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
		sv.seenOf[s.Account] = s
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
// accounts, and the accounts that moved to it, in the order the organisation index keeps them.
func (p *Planner) activity(ctx context.Context, id string, sv *survey, ods string, from, to calendar.Date) ([]findings.Activity, error) {
	if sv.view == nil {
		return nil, nil
	}
	acts, err := sv.view.Org(ctx, cmp.Or(ods, findings.Unassigned), from, to)
	if err != nil {
		return nil, err
	}
	acts = slices.DeleteFunc(acts, func(a findings.Activity) bool { _, moved := sv.moved[a.Account]; return moved })
	for _, a := range sv.byOwner[ods] {
		more, err := sv.view.AccountSeen(ctx, sv.seenOf[a], from, to)
		if err != nil {
			return nil, err
		}
		acts = append(acts, more...)
	}
	slices.SortStableFunc(acts, func(a, b findings.Activity) int { return cmp.Compare(findings.SortKey(a), findings.SortKey(b)) })
	return acts, nil
}

// ownersNow is who owns each of accounts now: the team's reassignments of disputed accounts
// (reassigned, the campaign's OWNER# decisions) first, then the directory. It is the one place
// a reader decides a finding's owner; the owner a finding was stored under is only where its
// index entry is (docs/data-model.md, "Who owns a finding").
func (p *Planner) ownersNow(ctx context.Context, accounts []string, reassigned map[string]string) (map[string]string, error) {
	owners, err := p.Directory.Resolve(ctx, accounts)
	if err != nil {
		return nil, err
	}
	for _, a := range accounts {
		if o, ok := reassigned[a]; ok {
			owners[a] = o
		}
	}
	return owners, nil
}
