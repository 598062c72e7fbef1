package planner

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// Findings reads what the scanner found (shared/findings.Reader fits).
type Findings interface {
	Window(ctx context.Context, campaignID string, from, to calendar.Date) ([]findings.Activity, error)
}

// Directory says who owns accounts and who administers organisations (shared/directory fits).
type Directory interface {
	Resolve(ctx context.Context, accounts []string) (map[string]string, error)
	Orgs(ctx context.Context, ods []string) (map[string]directory.Org, error)
}

// Suppression says which addresses must not be written to (shared/suppression.List fits).
type Suppression interface {
	Suppressed(ctx context.Context, addrs []string) (map[string]bool, error)
}

// Campaigns is the campaign store (shared/campaign.Store fits).
type Campaigns interface {
	Get(ctx context.Context, id string) (*campaign.Record, error)
	Extensions(ctx context.Context, id string) (map[string]campaign.Extension, error)
	Roster(ctx context.Context, id string) ([]campaign.RosterEntry, error)
}

// Ledger is the notice ledger (shared/ledger.Ledger fits).
type Ledger interface {
	List(ctx context.Context, campaign string) ([]ledger.Notice, error)
	Claim(ctx context.Context, n ledger.Notice) (bool, error)
	MarkSuperseded(ctx context.Context, n ledger.Notice) (bool, error)
}

// Dispatcher hands claimed notices to whatever sends them (the SQS send queue in the Lambda, an
// in-process sender in the CLI).
type Dispatcher interface {
	Dispatch(ctx context.Context, notices []ledger.Notice) error
}

// Planner decides, for each affected organisation of a campaign, which notice is due.
type Planner struct {
	Campaigns   Campaigns
	Findings    Findings
	Directory   Directory
	Suppression Suppression
	Ledger      Ledger
	Clock       func() time.Time
}

// Plan is what a run on At would do for one campaign.
type Plan struct {
	Campaign string        `json:"campaign"`
	At       calendar.Date `json:"at"`
	Status   string        `json:"status"`
	Due      []Due         `json:"due"`
	Skipped  []Skip        `json:"skipped"`
	// Unassigned are accounts seen on a legacy hostname that no organisation owns: listed for
	// the team to fix in the directory, never dropped.
	Unassigned []ledger.Account `json:"unassigned"`
	// Unattributed is legacy traffic with no account (load balancers), by client address.
	Unattributed []ledger.Account `json:"unattributed"`
	// Funnel is where the campaign stands on At.
	Funnel Funnel `json:"funnel"`
}

// Funnel is a campaign's progress on a date, affected → notified → fixed: the organisations
// (and their accounts) seen on a legacy hostname in the activity window before the date (for
// a roster campaign: on the roster and not done), the organisations sent (or being sent) at
// least one notice, and of those the ones no longer affected. The planner emits it as metrics every day; the
// dashboard draws it.
type Funnel struct {
	Affected         int `json:"affected_organisations"`
	AffectedAccounts int `json:"affected_accounts"`
	Notified         int `json:"notified_organisations"`
	Fixed            int `json:"fixed_organisations"`
}

// Due is a notice the plan would send.
type Due struct {
	Org          string           `json:"org"`
	OrgName      string           `json:"org_name"`
	Stage        string           `json:"stage"`
	Deadline     calendar.Date    `json:"deadline"`
	FirstContact bool             `json:"first_contact"`
	Recipients   []string         `json:"recipients"`
	Accounts     []ledger.Account `json:"accounts"`
	Domain       string           `json:"domain,omitempty"`
	// Supersedes are the earlier stages never sent to this organisation, marked superseded
	// when this one is claimed.
	Supersedes []string `json:"supersedes,omitempty"`
	// Extended is set when the deadline comes from an extension.
	Extended bool `json:"extended,omitempty"`
}

// Skip is an organisation that gets no notice, and why.
type Skip struct {
	Org     string     `json:"org"`
	OrgName string     `json:"org_name,omitempty"`
	Reason  SkipReason `json:"reason"`
	Stage   string     `json:"stage,omitempty"`
	Detail  string     `json:"detail,omitempty"`
}

// Result is what Run did.
type Result struct {
	Plan    Plan            `json:"plan"`
	Claimed []ledger.Notice `json:"claimed"`
	// Superseded is how many earlier stages this run marked superseded.
	Superseded int `json:"superseded"`
	// Dispatched counts the notices handed to the sender: those claimed now and those claimed
	// earlier on the same day that had not been sent.
	Dispatched int `json:"dispatched"`
}

// Plan works out what a run on at would do, writing nothing.
func (p *Planner) Plan(ctx context.Context, campaignID string, at calendar.Date) (Plan, error) {
	pl, _, err := p.plan(ctx, campaignID, at)
	return pl, err
}

// Run plans, claims every due notice in the ledger (a notice another run claimed first is
// skipped), marks the stages it supersedes, and hands the notices claimed for at, including ones
// claimed by an earlier attempt that may not have reached the sender, to d (nil: leave them
// claimed). The sender must treat a notice that is no longer claimed as done.
func (p *Planner) Run(ctx context.Context, campaignID string, at calendar.Date, d Dispatcher) (Result, error) {
	pl, st, err := p.plan(ctx, campaignID, at)
	res := Result{Plan: pl}
	if err != nil || pl.Status != string(campaign.Active) {
		return res, err
	}
	var due []Due
	for _, dn := range pl.Due {
		n := st.notice(dn, at)
		ok, err := p.Ledger.Claim(ctx, n)
		if err != nil {
			return res, err
		}
		if !ok {
			res.Plan.Skipped = append(res.Plan.Skipped, Skip{Org: dn.Org, OrgName: dn.OrgName, Reason: SkipLostClaim, Stage: dn.Stage})
			continue
		}
		due = append(due, dn)
		res.Claimed = append(res.Claimed, n)
		for _, s := range dn.Supersedes {
			sn := n
			sn.Stage, sn.Recipients, sn.Accounts, sn.FirstContact = s, nil, nil, false
			marked, err := p.Ledger.MarkSuperseded(ctx, sn)
			if err != nil {
				return res, err
			}
			if marked {
				res.Superseded++
			}
		}
	}
	res.Plan.Due = due
	toSend := append(append([]ledger.Notice(nil), res.Claimed...), st.pendingToday...)
	if d != nil && len(toSend) > 0 {
		if err := d.Dispatch(ctx, toSend); err != nil {
			return res, fmt.Errorf("dispatch %d notices of %s: %w", len(toSend), campaignID, err)
		}
		res.Dispatched = len(toSend)
	}
	return res, nil
}

// state is what one plan reads once and its steps share.
type state struct {
	rec   *campaign.Record
	c     *campaign.Campaign
	exts  map[string]campaign.Extension
	cases map[string]*orgCase // by ODS code: every organisation the plan looks at
	// pendingToday are notices claimed for at and not yet sent: re-dispatched by Run.
	pendingToday []ledger.Notice
}

func (st *state) notice(d Due, at calendar.Date) ledger.Notice {
	return ledger.Notice{
		Campaign: st.c.ID, Org: d.Org, OrgName: d.OrgName, Stage: d.Stage, Deadline: d.Deadline,
		PlannedFor: at, FirstContact: d.FirstContact, Recipients: d.Recipients, Accounts: d.Accounts,
		Domain: d.Domain, ExpiresAt: st.c.RetainUntil(),
	}
}

// orgCase is one organisation as the plan sees it: its deadline, its activity and its ledger.
type orgCase struct {
	ods      string
	deadline calendar.Date
	extended bool
	domain   string
	acts     []findings.Activity
	history  []ledger.Notice
	skip     SkipReason
}

// funnel counts where the campaign stands on at (see Funnel).
func (st *state) funnel(at calendar.Date) Funnel {
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

// notifiedBy: the notice went out or is going (claimed today, or in doubt), or went out and
// bounced afterwards.
func notifiedBy(n ledger.Notice) bool {
	return n.Status == ledger.Sent || n.Status == ledger.Claimed || !n.SentAt.IsZero()
}

// get is the case of ods, made with the campaign's deadline the first time it is asked for.
func (st *state) get(ods string) *orgCase {
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
func (p *Planner) plan(ctx context.Context, id string, at calendar.Date) (Plan, *state, error) {
	pl := Plan{Campaign: id, At: at, Due: []Due{}, Skipped: []Skip{}, Unassigned: []ledger.Account{}, Unattributed: []ledger.Account{}}
	st, err := p.load(ctx, id, at)
	if err != nil {
		return pl, nil, fmt.Errorf("plan %s: %w", id, err)
	}
	pl.Status = string(st.rec.Status)
	if err := p.gather(ctx, st, at, &pl); err != nil {
		return pl, nil, fmt.Errorf("plan %s: %w", id, err)
	}
	pl.Funnel = st.funnel(at)
	dues, orgs, err := p.decideAll(ctx, st, at, &pl)
	if err != nil {
		return pl, nil, fmt.Errorf("plan %s: %w", id, err)
	}
	if err := p.gate(ctx, st, dues, orgs, &pl); err != nil {
		return pl, nil, fmt.Errorf("plan %s: %w", id, err)
	}
	slices.SortFunc(pl.Skipped, func(a, b Skip) int { return cmp.Compare(a.Org, b.Org) })
	return pl, st, nil
}

// load reads the campaign, its extensions and its ledger. Every organisation with a notice in
// the ledger gets a case (so a roster organisation that left the roster is still seen), and the
// notices claimed for at but not sent are kept for Run to hand over again.
func (p *Planner) load(ctx context.Context, id string, at calendar.Date) (*state, error) {
	rec, err := p.Campaigns.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &state{rec: rec, c: rec.Campaign, cases: map[string]*orgCase{}}
	if st.exts, err = p.Campaigns.Extensions(ctx, id); err != nil {
		return nil, err
	}
	notices, err := p.Ledger.List(ctx, id)
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
func (p *Planner) gather(ctx context.Context, st *state, at calendar.Date, pl *Plan) error {
	var err error
	if st.c.AudienceSource == campaign.SourceRoster {
		err = p.gatherRoster(ctx, st)
	} else {
		err = p.gatherAffected(ctx, st, at, pl)
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
func (p *Planner) gatherRoster(ctx context.Context, st *state) error {
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
func (p *Planner) gatherAffected(ctx context.Context, st *state, at calendar.Date, pl *Plan) error {
	c := st.c
	window := c.ActivityWindowDays
	from := at.AddDays(-window)
	if postDeadline(c) && !c.Shutdown.After(at) && !at.After(c.LastDeadline().AddDays(lastOffset(c))) {
		from = minDate(from, c.Shutdown.AddDays(-window))
	}
	acts, err := p.Findings.Window(ctx, c.ID, from, at)
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
func (p *Planner) decideAll(ctx context.Context, st *state, at calendar.Date, pl *Plan) ([]Due, map[string]directory.Org, error) {
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
func (p *Planner) gate(ctx context.Context, st *state, dues []Due, orgs map[string]directory.Org, pl *Plan) error {
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

func postDeadline(c *campaign.Campaign) bool {
	for _, s := range c.Stages {
		if s.DaysAfter != nil {
			return true
		}
	}
	return false
}

func lastOffset(c *campaign.Campaign) int {
	if len(c.Stages) == 0 {
		return 0
	}
	return max(0, c.Stages[len(c.Stages)-1].Offset())
}

func minDate(a, b calendar.Date) calendar.Date {
	if b.Before(a) {
		return b
	}
	return a
}

// decide applies the stage rules to one organisation: the latest stage due on at, unless it
// (or a later one) was already claimed, one was claimed today, or the organisation is not
// affected in the window that stage looks at.
func decide(c *campaign.Campaign, oc *orgCase, at calendar.Date) (d Due, reason SkipReason, stage, detail string) {
	latest := -1
	for i, s := range c.Stages {
		if !s.DueOn(oc.deadline).After(at) {
			latest = i
		}
	}
	if latest < 0 {
		if len(c.Stages) > 0 {
			s := c.Stages[0]
			return d, SkipNotDue, s.Name, "first stage due " + s.DueOn(oc.deadline).String()
		}
		return d, SkipNotDue, "", "the campaign has no stages"
	}
	s := c.Stages[latest]
	byStage := map[string]ledger.Notice{}
	contacted := false
	for _, n := range oc.history {
		byStage[n.Stage] = n
		if n.PlannedFor == at && n.Status != ledger.Superseded {
			return d, SkipAlreadySent, n.Stage, "the " + n.Stage + " notice was already claimed for this organisation on " + at.String()
		}
		if n.Status == ledger.Claimed || n.Status == ledger.Sent {
			contacted = true
		}
	}
	for i := latest; i < len(c.Stages); i++ {
		if n, ok := byStage[c.Stages[i].Name]; ok {
			if i == latest && n.Status == ledger.Superseded {
				return d, SkipSuperseded, s.Name, ""
			}
			return d, SkipAlreadySent, c.Stages[i].Name, string(n.Status)
		}
	}
	// Affected: seen within the activity window before at, or, for a stage after the
	// deadline, within the window before the deadline.
	to := at
	if s.DaysAfter != nil {
		to = minDate(at, oc.deadline)
	}
	from := to.AddDays(-c.ActivityWindowDays)
	accounts := aggregate(oc.acts, from, to)
	if c.AudienceSource != campaign.SourceRoster && len(accounts) == 0 {
		return d, SkipNotAffected, s.Name, fmt.Sprintf("no legacy activity from %s to %s", from, to)
	}
	d = Due{Org: oc.ods, Stage: s.Name, Deadline: oc.deadline, FirstContact: !contacted,
		Accounts: accounts, Domain: oc.domain, Extended: oc.extended}
	for i := range latest {
		if _, ok := byStage[c.Stages[i].Name]; !ok {
			d.Supersedes = append(d.Supersedes, c.Stages[i].Name)
		}
	}
	return d, "", "", ""
}

// aggregate totals activity from..to (inclusive) per account, hostname and protocol (per
// hostname, protocol and client address when unattributed).
func aggregate(acts []findings.Activity, from, to calendar.Date) []ledger.Account {
	type key struct{ account, hostname, protocol, ip string }
	idx := map[key]int{}
	out := []ledger.Account{} // never null in JSON: an empty list reads as "none"
	for _, a := range acts {
		if a.Day.Before(from) || a.Day.After(to) {
			continue
		}
		k := key{a.Account, a.Hostname, a.Protocol, ""}
		if a.Account == "" {
			k.ip = a.ClientIP
		}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, ledger.Account{Account: a.Account, Hostname: a.Hostname, Protocol: a.Protocol, FirstSeen: a.FirstSeen})
			if a.Account == "" && a.ClientIP != "" {
				out[i].ClientIPs = []string{a.ClientIP}
			}
		}
		acc := &out[i]
		acc.Successes += a.Successes
		acc.Failures += a.Failures
		if !a.FirstSeen.IsZero() && (acc.FirstSeen.IsZero() || a.FirstSeen.Before(acc.FirstSeen)) {
			acc.FirstSeen = a.FirstSeen
		}
		if a.Account != "" {
			// The most recent activity's addresses lead the list.
			if !a.LastSeen.Before(acc.LastSeen) {
				acc.ClientIPs = merge(a.ClientIPs, acc.ClientIPs, findings.MaxClientIPs)
			} else {
				acc.ClientIPs = merge(acc.ClientIPs, a.ClientIPs, findings.MaxClientIPs)
			}
		}
		if a.LastSeen.After(acc.LastSeen) {
			acc.LastSeen = a.LastSeen
		}
		acc.DirectIP = acc.DirectIP || a.DirectIP
		acc.UserAgents = merge(acc.UserAgents, a.UserAgents, findings.MaxUserAgents)
		acc.DeviceIDs = merge(acc.DeviceIDs, a.DeviceIDs, findings.MaxDeviceIDs)
	}
	slices.SortFunc(out, func(a, b ledger.Account) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Hostname, b.Hostname),
			cmp.Compare(a.Protocol, b.Protocol), slices.Compare(a.ClientIPs, b.ClientIPs))
	})
	return out
}

// merge returns the distinct non-empty values of a then b, at most n.
func merge(a, b []string, n int) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{a, b} {
		for _, v := range list {
			if v != "" && !seen[v] && len(out) < n {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// candidates are the addresses the campaign's audience names for an organisation.
func candidates(c *campaign.Campaign, org directory.Org, accounts []ledger.Account) []string {
	var out []string
	for _, a := range c.Audience {
		switch a {
		case campaign.AudienceLA:
			out = append(out, org.LAEmails...)
		case campaign.AudiencePLA:
			out = append(out, org.PLAEmail)
		case campaign.AudienceAccount:
			for _, acc := range accounts {
				if strings.Contains(acc.Account, "@") {
					out = append(out, acc.Account)
				}
			}
		}
	}
	return dedupe(out)
}

// plaFallbacks lists the PLA addresses that may be needed as a fallback when every LA is suppressed.
func plaFallbacks(dues []Due, orgs map[string]directory.Org) []string {
	var out []string
	for _, d := range dues {
		if o := orgs[d.Org]; o.PLAEmail != "" {
			out = append(out, o.PLAEmail)
		}
	}
	return out
}

// reachable drops suppressed addresses. When the audience has LAs and every LA is suppressed,
// the PLA stands in; with nobody left the organisation is unreachable (all suppressed) or has
// no contacts (none known).
func reachable(c *campaign.Campaign, org directory.Org, rcpt []string, suppressed map[string]bool) ([]string, SkipReason) {
	if len(rcpt) == 0 {
		return nil, SkipNoContacts
	}
	var out []string
	for _, a := range rcpt {
		if !suppressed[a] {
			out = append(out, a)
		}
	}
	if slices.Contains(c.Audience, campaign.AudienceLA) && len(org.LAEmails) > 0 {
		laLeft := false
		for _, a := range org.LAEmails {
			if !suppressed[norm(a)] {
				laLeft = true
			}
		}
		if pla := norm(org.PLAEmail); !laLeft && pla != "" && !suppressed[pla] && !slices.Contains(out, pla) {
			out = append(out, pla)
		}
	}
	if len(out) == 0 {
		return nil, SkipUnreachable
	}
	return out, ""
}

func norm(a string) string { return strings.ToLower(strings.TrimSpace(a)) }

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, a := range in {
		a = norm(a)
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
