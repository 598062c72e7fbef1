package planner

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
)

// Findings reads what the scanner found (shared/findings.Reader fits): who was seen in a window
// (a stream, in account order), one organisation's or one account's findings, and the traffic
// without an account.
type Findings interface {
	View(ctx context.Context, campaignID string) (FindingsView, error)
}

// FindingsView is a campaign's findings as of the moment it was made (shared/findings.View
// fits): the table and the files committed but not merged yet.
type FindingsView interface {
	Accounts(ctx context.Context, from, to calendar.Date, fn func(findings.Seen) error) error
	Org(ctx context.Context, ods string, from, to calendar.Date) ([]findings.Activity, error)
	AccountSeen(ctx context.Context, s findings.Seen, from, to calendar.Date) ([]findings.Activity, error)
	Unattributed(ctx context.Context, from, to calendar.Date) ([]findings.Activity, error)
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

// Ledger is the notice ledger (shared/ledger.Ledger fits): its notices organisation by
// organisation, and the two guarded writes.
type Ledger interface {
	Histories(campaign string) *ledger.Cursor
	Claim(ctx context.Context, n ledger.Notice) (bool, error)
	MarkSuperseded(ctx context.Context, n ledger.Notice) (bool, error)
	Get(ctx context.Context, campaign, org, stage string) (*ledger.Notice, error)
}

// Dispatcher hands claimed notices, and the merged emails that carry them to addresses shared
// by several organisations, to whatever sends them (the SQS send queue in the Lambda, an
// in-process sender in the CLI).
type Dispatcher interface {
	Dispatch(ctx context.Context, notices []ledger.Notice) error
	DispatchMails(ctx context.Context, mails []ledger.MailKey) error
}

// Mails merges a day's notices to an address into one email (shared/ledger.Ledger fits).
type Mails interface {
	MergeInto(ctx context.Context, k ledger.MailKey, address string, notices []ledger.Key, expires time.Time) (bool, error)
	MarkMerged(ctx context.Context, n ledger.Key, address string, day calendar.Date) (bool, error)
	TakeDay(ctx context.Context, campaign, address string, day calendar.Date, by string, expires time.Time) error
}

// Progress keeps where a campaign stands after each run (shared/progress.Store fits): the
// day's funnel, and each organisation the run looked at. A dry run (Plan) records nothing.
type Progress interface {
	RecordDay(ctx context.Context, campaign string, d progress.Day, expires time.Time) error
	RecordOrgs(ctx context.Context, campaign string, orgs []progress.Org, expires time.Time) error
}

// Answers is what organisations answered to their notices (shared/answers.Store fits): the
// next notice recalls an acknowledgement and marks disputed accounts under review, and an
// account the team reassigned is filed under its new organisation.
type Answers interface {
	List(ctx context.Context, campaignID string) (answers.Answers, error)
	Owners(ctx context.Context, campaignID string) (map[string]string, error)
}

// Planner decides, for each affected organisation of a campaign, which notice is due.
type Planner struct {
	Campaigns   Campaigns
	Findings    Findings
	Directory   Directory
	Suppression Suppression
	Ledger      Ledger
	// Progress, when set, is told what each Run found.
	Progress Progress
	// Answers, when set, are read once a plan.
	Answers Answers
	// Mails, when set, gives each address one email a day (merge.go); nil: one email a notice.
	Mails Mails
	Clock func() time.Time
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
	// Digest is what the helpdesk's digest lists on At (escalation: notify: helpdesk): the
	// organisations still affected after the rule's stage; DigestMore those past its limit.
	Digest     []ledger.DigestOrg `json:"digest,omitempty"`
	DigestMore int                `json:"digest_more,omitempty"`
	// Brownouts are the campaign's brownout days, for the plan to show.
	Brownouts []campaign.Brownout `json:"brownouts,omitempty"`
	// Next, in a page of a plan (PlanPage), is the After of the next page: "" on the last.
	Next string `json:"next,omitempty"`
}

// Page selects a slice of a plan's organisations, in ODS order: those after After (all when
// empty), at most Limit of them (0: every one). The funnel always covers every organisation;
// the accounts no organisation owns and the traffic with no account come with the first page.
type Page struct {
	After string
	Limit int
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
	// Acknowledged is the organisation's latest "we have changed these settings": it is still
	// seen, and the notice says so.
	Acknowledged *ledger.Acknowledgement `json:"acknowledged,omitempty"`
	// Shift says from which day and why the stage moved, when it did (a send window, a bank
	// holiday).
	Shift *campaign.Shift `json:"shift,omitempty"`
	// Escalated are the audiences added because the organisation is still affected after a
	// stage (escalation: add).
	Escalated []string `json:"escalated,omitempty"`
	// Brownout is what the logs showed during yesterday's brownout, when there was one.
	Brownout *ledger.BrownoutSeen `json:"brownout,omitempty"`
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
	// Counts are the run's numbers; Run with Lean keeps only these (and the plan's status and
	// funnel), not the lists.
	Counts Counts `json:"counts"`
	// Superseded is how many earlier stages this run marked superseded.
	Superseded int `json:"superseded"`
	// Dispatched counts the notices handed to the sender: those claimed now and those claimed
	// earlier on the same day that had not been sent.
	Dispatched int `json:"dispatched"`
	// Mails counts the merged emails handed to the sender (one an address in the audience of
	// several of the day's notices).
	Mails int `json:"mails,omitempty"`
	// MailKeys are those merged emails, unless Lean.
	MailKeys []ledger.MailKey `json:"mail_keys,omitempty"`
}

// Counts are a run's numbers, for logs and metrics.
type Counts struct {
	Due        int                `json:"due"`     // notices due (before claiming)
	Claimed    int                `json:"claimed"` // of those, claimed by this run
	Skipped    map[SkipReason]int `json:"skipped"`
	Unassigned int                `json:"unassigned"` // accounts seen that no organisation owns
}

// Plan works out what a run on at would do, writing nothing.
func (p *Planner) Plan(ctx context.Context, campaignID string, at calendar.Date) (Plan, error) {
	pl, _, err := p.plan(ctx, campaignID, at, nil)
	return pl, err
}

// PlanEach is Plan for plans too large to hold (the CLI's dry run of a national campaign): it
// hands each chunk of organisations' due notices and skips to each as the walk decides them,
// in ODS order, and returns the rest of the plan (its Due and Skipped empty).
func (p *Planner) PlanEach(ctx context.Context, campaignID string, at calendar.Date, each func([]Due, []Skip) error) (Plan, error) {
	pl, _, err := p.planEach(ctx, campaignID, at, nil, each)
	return pl, err
}

// PlanPage is one page of Plan: the survey and the funnel as Plan's, but only the page's
// organisations decided and held (their findings read, their notices and skips kept), so a
// page's time and memory follow its organisations, not the campaign's.
func (p *Planner) PlanPage(ctx context.Context, campaignID string, at calendar.Date, page Page) (Plan, error) {
	pl, _, err := p.plan(ctx, campaignID, at, &pageState{Page: page})
	return pl, err
}

// pageState is a page's progress through the walk.
type pageState struct {
	Page
	taken int
	last  string // the last organisation taken
	more  bool   // an organisation after the page was passed by
}

// take reports whether the walk decides ods, keeping the page's count.
func (pg *pageState) take(ods string) bool {
	if pg == nil {
		return true
	}
	if ods <= pg.After {
		return false
	}
	if pg.Limit > 0 && pg.taken == pg.Limit {
		pg.more = true
		return false
	}
	pg.taken++
	pg.last = ods
	return true
}

// state is what one plan reads once and its steps share.
type state struct {
	rec  *campaign.Record
	c    *campaign.Campaign
	exts map[string]campaign.Extension
	// pendingToday are notices claimed for at and not yet sent: handed over again by Run.
	pendingToday []ledger.Notice
	// acks is each organisation's latest acknowledgement; review its accounts disputed and not
	// yet decided; owners the accounts the team reassigned, and to whom.
	acks   map[string]*ledger.Acknowledgement
	review map[string]map[string]bool
	owners map[string]string
	// page, when set, is the slice of organisations a PlanPage decides.
	page *pageState
}

func (st *state) notice(d Due, at calendar.Date) ledger.Notice {
	return ledger.Notice{
		Campaign: st.c.ID, Org: d.Org, OrgName: d.OrgName, Stage: d.Stage, Deadline: d.Deadline,
		PlannedFor: at, FirstContact: d.FirstContact, Recipients: d.Recipients, Accounts: d.Accounts,
		Domain: d.Domain, ExpiresAt: st.c.RetainUntil(), Acknowledged: d.Acknowledged, Brownout: d.Brownout,
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

// notifiedBy: the notice went out or is going (claimed today, or in doubt), or went out and
// bounced afterwards.
func notifiedBy(n ledger.Notice) bool {
	return n.Status == ledger.Sent || n.Status == ledger.Claimed || !n.SentAt.IsZero()
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
	ds, reason, stage, detail := dueStage(c, oc, at)
	if reason != "" {
		return d, reason, stage, detail
	}
	return ds.due(c, oc)
}

// stageDue is a stage that is due, before the activity that decides whether it goes: the
// stage, and the days of activity it looks at.
type stageDue struct {
	latest    int
	from, to  calendar.Date
	contacted bool
	byStage   map[string]ledger.Notice
}

// dueStage is decide up to the point where activity matters: which stage is due and whether the
// ledger already has it. The planner reads an organisation's findings only when this says a
// stage is due, and then only for the days it names.
func dueStage(c *campaign.Campaign, oc *orgCase, at calendar.Date) (ds stageDue, reason SkipReason, stage, detail string) {
	ds.latest = -1
	for i, s := range c.Stages {
		if on, _ := c.StageDate(s, oc.deadline); !on.After(at) {
			ds.latest = i
		}
	}
	if ds.latest < 0 {
		if len(c.Stages) > 0 {
			s := c.Stages[0]
			on, shift := c.StageDate(s, oc.deadline)
			return ds, SkipNotDue, s.Name, "first stage due " + on.String() + shifted(shift)
		}
		return ds, SkipNotDue, "", "the campaign has no stages"
	}
	s := c.Stages[ds.latest]
	ds.byStage = map[string]ledger.Notice{}
	for _, n := range oc.history {
		ds.byStage[n.Stage] = n
		if n.PlannedFor == at && n.Status != ledger.Superseded {
			return ds, SkipAlreadySent, n.Stage, "the " + n.Stage + " notice was already claimed for this organisation on " + at.String()
		}
		if n.Status == ledger.Claimed || n.Status == ledger.Sent {
			ds.contacted = true
		}
	}
	for i := ds.latest; i < len(c.Stages); i++ {
		if n, ok := ds.byStage[c.Stages[i].Name]; ok {
			if i == ds.latest && n.Status == ledger.Superseded {
				return ds, SkipSuperseded, s.Name, ""
			}
			return ds, SkipAlreadySent, c.Stages[i].Name, string(n.Status)
		}
	}
	if ok, why := c.WorkingDay(at); !ok {
		return ds, SkipNotWorkingDay, s.Name, why + " is not a working day for this campaign: the notice goes on the next one"
	}
	// Affected: seen within the activity window before at, or, for a stage after the
	// deadline, within the window before the deadline.
	ds.to = at
	if s.DaysAfter != nil {
		ds.to = minDate(at, oc.deadline)
	}
	ds.from = ds.to.AddDays(-c.ActivityWindowDays)
	return ds, "", "", ""
}

// shifted says why a stage moved off its due date ("" when it did not).
func shifted(sh *campaign.Shift) string {
	if sh == nil {
		return ""
	}
	return " (due " + sh.From.String() + ", " + sh.Reason + ": moved to a working day)"
}

// due is the notice of a due stage, given the organisation's activity from ds.from to ds.to:
// none when a findings campaign saw nothing then.
func (ds stageDue) due(c *campaign.Campaign, oc *orgCase) (d Due, reason SkipReason, stage, detail string) {
	s := c.Stages[ds.latest]
	accounts := aggregate(oc.acts, ds.from, ds.to)
	if c.AudienceSource != campaign.SourceRoster && len(accounts) == 0 {
		return d, SkipNotAffected, s.Name, fmt.Sprintf("no legacy activity from %s to %s", ds.from, ds.to)
	}
	d = Due{Org: oc.ods, Stage: s.Name, Deadline: oc.deadline, FirstContact: !ds.contacted,
		Accounts: accounts, Domain: oc.domain, Extended: oc.extended}
	var on calendar.Date
	on, d.Shift = c.StageDate(s, oc.deadline)
	d.Escalated = escalation(c, oc.history, ds.latest)
	d.Brownout = brownoutSeen(c, oc.acts, on)
	for i := range ds.latest {
		if _, ok := ds.byStage[c.Stages[i].Name]; !ok {
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
func candidates(c *campaign.Campaign, org directory.Org, accounts []ledger.Account, more ...string) []string {
	var out []string
	for _, a := range append(slices.Clone(c.Audience), more...) {
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

// brownoutSeen is what a notice going on the day after a brownout says was seen during it:
// the accounts whose sign-ins on the brownout's hostnames failed that day in its hours (a
// finding's first and last sign-in that day overlapping them); nil when there was no brownout
// the day before, or nothing failed in it.
func brownoutSeen(c *campaign.Campaign, acts []findings.Activity, on calendar.Date) *ledger.BrownoutSeen {
	for _, b := range c.Brownouts {
		if b.Date.AddDays(1) != on {
			continue
		}
		from, to, ok := b.Window(c.Location())
		if !ok {
			continue
		}
		seen := map[string]bool{}
		for _, a := range acts {
			if a.Day != b.Date || a.Failures == 0 || a.Account == "" || !slices.Contains(b.Hostnames, a.Hostname) ||
				a.LastSeen.Before(from) || !a.FirstSeen.Before(to) {
				continue
			}
			seen[strings.ToLower(a.Account)] = true
		}
		if len(seen) > 0 {
			accounts := slices.Sorted(maps.Keys(seen))
			more := max(len(accounts)-ledger.MaxBrownoutAccounts, 0)
			return &ledger.BrownoutSeen{Date: b.Date, Hours: b.Hours, Hostnames: b.Hostnames, Accounts: accounts[:len(accounts)-more], More: more}
		}
	}
	return nil
}

// escalation is the audiences a notice at stage index due adds because the organisation was
// sent an earlier stage an escalation rule names (and is still affected, or nothing would be
// due): each once, in the rules' order.
func escalation(c *campaign.Campaign, history []ledger.Notice, due int) []string {
	var out []string
	for _, e := range c.Escalation {
		at := slices.IndexFunc(c.Stages, func(s campaign.Stage) bool { return s.Name == e.AfterStage })
		if at < 0 || at >= due || !slices.ContainsFunc(history, func(n ledger.Notice) bool { return n.Stage == e.AfterStage && notifiedBy(n) }) {
			continue
		}
		for _, a := range e.Add {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
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
