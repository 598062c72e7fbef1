package report

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Campaigns reads one campaign (campaign.Store).
type Campaigns interface {
	Get(ctx context.Context, id string) (*campaign.Record, error)
}

// Ledger lists a campaign's notices (ledger.Ledger).
type Ledger interface {
	List(ctx context.Context, campaign string) ([]ledger.Notice, error)
}

// Suppressions reads the whole suppression list (suppression.List).
type Suppressions interface {
	All(ctx context.Context) ([]suppression.Entry, error)
}

// Planner makes a dry-run plan (planner.Planner): it writes nothing.
type Planner interface {
	Plan(ctx context.Context, campaignID string, at calendar.Date) (planner.Plan, error)
}

// Sources is everything Build reads.
type Sources struct {
	Campaigns    Campaigns
	Ledger       Ledger
	Suppressions Suppressions
	Planner      Planner
}

// Report is a campaign's progress; its JSON is `sunset report --json`.
type Report struct {
	Campaign    string   `json:"campaign"`
	Notices     []Notice `json:"notices"`
	Unassigned  []string `json:"unassigned"`  // accounts seen on a legacy hostname that no organisation owns
	Unreachable []string `json:"unreachable"` // organisations (ODS) every address of which is suppressed
	Suppressed  []string `json:"suppressed"`  // addresses on the suppression list (all campaigns)
	// SuppressedEntries is the suppression list behind Suppressed, with the reason and date the
	// table shows. The JSON carries the addresses only.
	SuppressedEntries []suppression.Entry `json:"-"`
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
}

// AccountCount is the number of distinct accounts the notice listed (an account seen on two
// hostnames is one account), as the table and CSV show it.
func (n Notice) AccountCount() int { return distinctAccounts(n.Accounts) }

// Build reports on campaign id as of now. Superseded notices are left out (never meant to be
// sent: the later stage is the notice); notices are ordered by organisation, then by the
// campaign's stage order. An error from Campaigns.Get is returned as it is, so a caller can
// classify it (campaign not found).
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
	pl, err := plans(ctx, src.Planner, rec.Campaign, id, now)
	if err != nil {
		return Report{}, err
	}
	r := Report{Campaign: id, Notices: []Notice{}, Unassigned: []string{}, Unreachable: []string{}, Suppressed: []string{},
		SuppressedEntries: supp}
	suppressed := map[string]bool{}
	for _, e := range supp {
		r.Suppressed = append(r.Suppressed, e.Address)
		suppressed[e.Address] = true
	}
	unreachable := map[string]bool{}
	for _, s := range pl.Skipped {
		if s.Reason == planner.SkipUnreachable {
			unreachable[s.Org] = true
		}
	}
	for _, n := range notices {
		if n.Status == ledger.Superseded {
			continue
		}
		rn := Notice{Org: n.Org, OrgName: n.OrgName, Stage: n.Stage, Status: string(n.Status), To: n.Recipients,
			MessageID: n.MessageID, Accounts: n.Accounts, Error: n.Error}
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
		r.Notices = append(r.Notices, rn)
		if n.Status == ledger.Suppressed && allSuppressed(n.Recipients, suppressed) {
			unreachable[n.Org] = true
		}
	}
	seen := map[string]bool{}
	for _, a := range pl.Unassigned {
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

// plans is what dry-run plans know: the unassigned accounts and the organisations no address
// reaches. One plan as of today (or the last deadline, once the campaign is over) gives the
// skipped organisations; one on each stage date already past adds the accounts seen only early
// in the campaign to the unassigned ones.
func plans(ctx context.Context, p Planner, c *campaign.Campaign, id string, now time.Time) (planner.Plan, error) {
	var pl planner.Plan
	for i, d := range planDates(c, now) {
		p2, err := p.Plan(ctx, id, d)
		if err != nil {
			return planner.Plan{}, err
		}
		if i == 0 {
			pl = p2
			continue
		}
		pl.Unassigned = append(pl.Unassigned, p2.Unassigned...)
	}
	return pl, nil
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
