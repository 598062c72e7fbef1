package report

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Campaigns reads one campaign (campaign.Store).
type Campaigns interface {
	Get(ctx context.Context, id string) (*campaign.Record, error)
}

// Ledger lists a campaign's notices and its delivery counts (ledger.Ledger).
type Ledger interface {
	List(ctx context.Context, campaign string) ([]ledger.Notice, error)
	Stats(ctx context.Context, campaign string) (ledger.Stats, error)
	Mails(ctx context.Context, campaign string) ([]ledger.Mail, error)
}

// Suppressions reads the whole suppression list (suppression.List).
type Suppressions interface {
	All(ctx context.Context) ([]suppression.Entry, error)
}

// Planner finds the accounts no organisation owns (planner.Planner).
type Planner interface {
	Unassigned(ctx context.Context, c *campaign.Campaign, from, to calendar.Date) ([]ledger.Account, error)
}

// Progress reads what each daily run recorded (progress.Store).
type Progress interface {
	Days(ctx context.Context, campaign string) ([]progress.Day, error)
	Orgs(ctx context.Context, campaign string) ([]progress.Org, error)
}

// Sources is everything Build reads.
type Sources struct {
	Campaigns    Campaigns
	Ledger       Ledger
	Suppressions Suppressions
	Planner      Planner
	// Progress, when set, gives the burn-down (the funnel of every recorded run) and the
	// organisations the latest run could write to no one.
	Progress Progress
}

// Report is a campaign's progress; its JSON is `sunset report --json`.
type Report struct {
	Campaign string `json:"campaign"`
	// Status is the campaign's status; PauseReason says why Sunset paused it by itself.
	Status      string `json:"status"`
	PauseReason string `json:"pause_reason,omitempty"`
	// Delivery is what SES's events say about the campaign's emails, per recipient.
	Delivery Delivery `json:"delivery"`
	Notices  []Notice `json:"notices"`
	// Mails are the merged emails: one email to one address for several organisations' notices
	// of a day (each notice's Merged names the addresses that got it so).
	Mails       []Mail   `json:"mails"`
	Unassigned  []string `json:"unassigned"`  // accounts seen on a legacy hostname that no organisation owns
	Unreachable []string `json:"unreachable"` // organisations (ODS) every address of which is suppressed
	Suppressed  []string `json:"suppressed"`  // addresses on the suppression list (all campaigns)
	// SuppressedEntries is the suppression list behind Suppressed, with the reason and date the
	// table shows. The JSON carries the addresses only.
	SuppressedEntries []suppression.Entry `json:"-"`
	// Progress is the funnel of every recorded daily run, oldest first: the burn-down's data.
	Progress []progress.Day `json:"progress"`
	// Brownouts are the campaign's brownout days and, for those past, what the notices the day
	// after reported of them.
	Brownouts []Brownout `json:"brownouts,omitempty"`
	// Markers are the stage dates and the shutdown the burn-down marks.
	Markers []Marker `json:"-"`
	// Title is the campaign's title.
	Title string `json:"-"`
}

// Brownout is one brownout day: when, which hostnames, and the organisations whose notice the
// day after named accounts that failed during it (and how many accounts).
type Brownout struct {
	campaign.Brownout
	Organisations int `json:"organisations_told"`
	Accounts      int `json:"accounts_failed"`
}

// brownouts pairs the campaign's brownouts with what the notices reported of them.
func brownouts(c *campaign.Campaign, notices []ledger.Notice) []Brownout {
	var out []Brownout
	for _, b := range c.Brownouts {
		row := Brownout{Brownout: b}
		for _, n := range notices {
			if n.Brownout != nil && n.Brownout.Date == b.Date && n.Status != ledger.Superseded {
				row.Organisations++
				row.Accounts += n.Brownout.Count()
			}
		}
		out = append(out, row)
	}
	return out
}

// Delivery is a campaign's recipients sent to, bounced and complaining, as SES reported them
// (the feedback function's counts), and the bounce rate since the last auto-pause.
type Delivery struct {
	Sends      int64   `json:"sends"`
	Bounces    int64   `json:"bounces"`
	Complaints int64   `json:"complaints"`
	BounceRate float64 `json:"bounce_rate"`
}

// Mail is one merged email: to whom, for which day, carrying which organisations' notices.
type Mail struct {
	ID        string     `json:"id"`
	Day       string     `json:"day"`
	To        string     `json:"to"`
	Orgs      []string   `json:"orgs"` // "<ODS>/<stage>" of each notice it carried (listed, if not sent)
	Status    string     `json:"status"`
	SentAt    *time.Time `json:"sent_at"`
	MessageID string     `json:"message_id"`
	InDoubt   bool       `json:"in_doubt,omitempty"`
	Error     string     `json:"error,omitempty"`
}

func reportMail(m ledger.Mail) Mail {
	rm := Mail{ID: m.ID(), Day: m.Day.String(), To: m.Address, Orgs: []string{}, Status: string(m.Status), MessageID: m.MessageID, InDoubt: m.InDoubt(), Error: m.Error}
	keys := m.Carried
	if len(keys) == 0 {
		keys = m.Notices
	}
	for _, k := range keys {
		rm.Orgs = append(rm.Orgs, k.Org+"/"+k.Stage)
	}
	if !m.SentAt.IsZero() {
		t := m.SentAt.UTC()
		rm.SentAt = &t
	}
	return rm
}

// Notice is one ledger entry.
type Notice struct {
	Org       string     `json:"org"`
	OrgName   string     `json:"org_name"`
	Stage     string     `json:"stage"`
	Status    string     `json:"status"`
	To        []string   `json:"to"`
	SentAt    *time.Time `json:"sent_at"`
	MessageID string     `json:"message_id"`
	// Accounts is what the notice listed, in the plan's shape (account, hostname, protocol,
	// last seen, successes, failures, ...): the report says exactly who was told about what.
	Accounts []ledger.Account `json:"accounts"`
	Error    string           `json:"error,omitempty"`
	// InDoubt: leased by a sender that never recorded the outcome (sunset reconcile).
	InDoubt bool `json:"in_doubt,omitempty"`
	// SettledBy names the SES event that settled it after a sender's crash.
	SettledBy string `json:"settled_by,omitempty"`
	// Resends is every release for resending: who, when, why.
	Resends []ledger.Resend `json:"resends,omitempty"`
	// Merged are the addresses of To that got the notice in a merged email (Report.Mails)
	// instead of its own.
	Merged []string `json:"merged,omitempty"`
}

// AccountCount is the number of distinct accounts the notice listed (an account seen on two
// hostnames is one account), as the table and CSV show it.
func (n Notice) AccountCount() int { return distinctAccounts(n.Accounts) }

// Build reports on campaign id as of now. Superseded notices are left out (never meant to be
// sent: the later stage is the notice); notices are ordered by organisation, then by the
// campaign's stage order. An error from Campaigns.Get is returned as it is, so a caller can
// classify it (campaign not found).
//
// It plans nothing, so it costs a few reads whatever the campaign's size: the organisations no
// address reaches are those the latest daily run found so (and those whose notice found every
// recipient suppressed), and the unassigned accounts those seen from the first stage date's
// activity window to today that no organisation owns now.
func Build(ctx context.Context, src Sources, id string, now time.Time) (Report, error) {
	rec, err := src.Campaigns.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	notices, err := src.Ledger.List(ctx, id)
	if err != nil {
		return Report{}, err
	}
	supp, err := src.Suppressions.All(ctx)
	if err != nil {
		return Report{}, err
	}
	stats, err := src.Ledger.Stats(ctx, id)
	if err != nil {
		return Report{}, err
	}
	mails, err := src.Ledger.Mails(ctx, id)
	if err != nil {
		return Report{}, err
	}
	from, to := unassignedSpan(rec.Campaign, now)
	unassigned, err := src.Planner.Unassigned(ctx, rec.Campaign, from, to)
	if err != nil {
		return Report{}, err
	}
	r := Report{Campaign: id, Status: string(rec.Status), PauseReason: rec.PauseReason, Delivery: delivery(stats),
		Notices: []Notice{}, Mails: []Mail{}, Unassigned: []string{}, Unreachable: []string{}, Suppressed: []string{}, SuppressedEntries: supp,
		Progress: []progress.Day{}, Markers: Markers(rec.Campaign), Title: rec.Campaign.Title, Brownouts: brownouts(rec.Campaign, notices)}
	unreachable := map[string]bool{}
	if src.Progress != nil {
		if err := recorded(ctx, src.Progress, id, &r, unreachable); err != nil {
			return Report{}, err
		}
	}
	suppressed := map[string]bool{}
	for _, e := range supp {
		r.Suppressed = append(r.Suppressed, e.Address)
		suppressed[e.Address] = true
	}
	for _, n := range notices {
		if n.Status == ledger.Superseded {
			continue
		}
		r.Notices = append(r.Notices, reportNotice(n))
		if n.Status == ledger.Suppressed && allSuppressed(n.Recipients, suppressed) {
			unreachable[n.Org] = true
		}
	}
	for _, m := range mails {
		r.Mails = append(r.Mails, reportMail(m))
	}
	seen := map[string]bool{}
	for _, a := range unassigned {
		if acct := strings.ToLower(a.Account); acct != "" && !seen[acct] {
			seen[acct] = true
			r.Unassigned = append(r.Unassigned, acct)
		}
	}
	for o := range unreachable {
		r.Unreachable = append(r.Unreachable, o)
	}
	sort.Strings(r.Unassigned)
	sort.Strings(r.Unreachable)
	sort.SliceStable(r.Notices, func(i, j int) bool {
		if r.Notices[i].Org != r.Notices[j].Org {
			return r.Notices[i].Org < r.Notices[j].Org
		}
		return stageOrder(rec.Campaign.Stages, r.Notices[i].Stage) < stageOrder(rec.Campaign.Stages, r.Notices[j].Stage)
	})
	return r, nil
}

// recorded adds what the daily runs recorded: the burn-down's days, and the organisations the
// latest run could write to no one.
func recorded(ctx context.Context, p Progress, id string, r *Report, unreachable map[string]bool) error {
	days, err := p.Days(ctx, id)
	if err != nil {
		return err
	}
	r.Progress = append(r.Progress, days...)
	if len(days) == 0 {
		return nil
	}
	orgs, err := p.Orgs(ctx, id)
	if err != nil {
		return err
	}
	latest := days[len(days)-1].At
	for _, o := range orgs {
		if o.Current(latest) && o.Skipped == string(planner.SkipUnreachable) {
			unreachable[o.ODS] = true
		}
	}
	return nil
}

// reportNotice is a ledger entry as the report shows it.
func reportNotice(n ledger.Notice) Notice {
	rn := Notice{Org: n.Org, OrgName: n.OrgName, Stage: n.Stage, Status: string(n.Status), To: n.Recipients,
		MessageID: n.MessageID, Accounts: n.Accounts, Error: n.Error, InDoubt: n.InDoubt(), SettledBy: n.SettledBy, Resends: n.Resends}
	for _, e := range n.Merged {
		rn.Merged = append(rn.Merged, ledger.MergedAddress(e))
	}
	if rn.Accounts == nil {
		rn.Accounts = []ledger.Account{} // a list in JSON, never null
	}
	if rn.To == nil {
		rn.To = []string{}
	}
	if !n.SentAt.IsZero() {
		t := n.SentAt.UTC()
		rn.SentAt = &t
	}
	return rn
}

func delivery(st ledger.Stats) Delivery {
	d := Delivery{Sends: st.Sends, Bounces: st.Bounces, Complaints: st.Complaints}
	if sends, bounces := st.Window(); sends > 0 {
		d.BounceRate = float64(bounces) / float64(sends)
	}
	return d
}

// unassignedSpan is the days whose unassigned accounts the report lists: from the activity
// window before the first stage date already past (the accounts seen only early in the
// campaign count too) to today, or the last deadline once the campaign is over.
func unassignedSpan(c *campaign.Campaign, now time.Time) (from, to calendar.Date) {
	dates := planDates(c, now)
	to, from = dates[0], dates[0]
	for _, d := range dates[1:] {
		if d.Before(from) {
			from = d
		}
	}
	return from.AddDays(-c.ActivityWindowDays), to
}

// planDates is the date of the main plan first, then every stage date before it.
func planDates(c *campaign.Campaign, now time.Time) []calendar.Date {
	at := c.Today(now)
	if last := c.LastDeadline(); !last.IsZero() && last.Before(at) {
		at = last
	}
	dates := []calendar.Date{at}
	if !c.Shutdown.IsZero() {
		for _, st := range c.Stages {
			if d := st.DueOn(c.Shutdown); d.Before(at) {
				dates = append(dates, d)
			}
		}
	}
	return dates
}

// stageOrder is the index of the stage called name in the campaign; unknown stages sort last.
func stageOrder(stages []campaign.Stage, name string) int {
	for i, s := range stages {
		if s.Name == name {
			return i
		}
	}
	return len(stages)
}

// allSuppressed reports whether every address is on the suppression list (keys normalised).
func allSuppressed(addrs []string, suppressed map[string]bool) bool {
	for _, a := range addrs {
		if !suppressed[strings.ToLower(strings.TrimSpace(a))] {
			return false
		}
	}
	return true
}

// distinctAccounts counts a notice's accounts: an account listed once per hostname or
// protocol counts once.
func distinctAccounts(as []ledger.Account) int {
	seen := map[string]bool{}
	for _, a := range as {
		seen[strings.ToLower(a.Account)] = true
	}
	return len(seen)
}

// WriteChart draws the report's burn-down as SVG.
func (r Report) WriteChart(w io.Writer) error {
	title := "Burn-down: " + r.Campaign
	if r.Title != "" {
		title = "Burn-down: " + r.Title
	}
	return WriteBurndown(w, title, r.Progress, r.Markers)
}
