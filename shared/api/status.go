package api

import (
	"errors"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/clients"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// The status page of an organisation: linked from every notice, signed and expiring like the
// answer links, no sign-in. It says what the logs show now, account by account, against the
// last notice: still seen (when, how, from what), not seen since, under review, moved to
// another organisation; the deadline; how recent the evidence is; and the three answers. Its
// reads are bounded by the organisation: its findings in the activity window, its last notice,
// its answers, its deadline, the campaign's merge state.

// quietAfter is how long before the newest evidence of its kind an account's last sign-in must
// be for the status page to call it quiet: a day of logs without it.
const quietAfter = 24 * time.Hour

// statusRow is one account on a status page.
type statusRow struct {
	Account, Hostname, Protocol, Device, Address string
	LastSeen                                     time.Time
}

// movedRow is an account the team reassigned to another organisation.
type movedRow struct{ Account, To string }

// freshRow is how recent one kind of evidence is.
type freshRow struct {
	Kind string
	Upto time.Time
}

// statusData is a status page.
type statusData struct {
	CampaignTitle, Org, OrgName string
	Deadline, Original          string
	Today                       string
	Window                      int
	Still, Quiet                []statusRow
	Review                      []string
	Moved                       []movedRow
	Fresh                       []freshRow
	Links                       struct{ Fixed, NotOurs, MoreTime string }
	Test                        bool
}

// statusGet shows an organisation's status page.
func (s *Server) statusGet(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	ls := s.links(r)
	l, err := ls.ReadStatus(token, s.opt.Clock())
	switch {
	case errors.Is(err, answers.ErrExpired):
		s.answered(w, r, http.StatusGone, "This link has expired", "", "error", "This link has expired: the campaign it came with is over.")
		return
	case err != nil:
		s.answered(w, r, http.StatusBadRequest, "This link is not valid", "", "error",
			"This link is not valid. Check you opened the whole link from the email: copying it by hand can cut it short.")
		return
	}
	ok, err := s.answers.Allow(r.Context(), "status\x00"+l.RateKey(""), answerRate)
	if err != nil || !ok {
		status, msg := http.StatusTooManyRequests, "This page has been opened too often in the last minute. Wait a minute and try again."
		if err != nil {
			status, msg = http.StatusInternalServerError, "Something went wrong on our side. Please try again later."
			s.opt.Logger.Error("status rate", "error", err)
		}
		s.answered(w, r, status, "Please wait", "", "error", msg)
		return
	}
	d, err := s.statusOf(r, ls, l)
	if err != nil {
		if isNotFound(err) {
			s.answered(w, r, http.StatusBadRequest, "This link is not valid", "", "error", "This link does not match a notice we sent.")
			return
		}
		s.opt.Logger.Error("status page", "error", err)
		s.answered(w, r, http.StatusInternalServerError, "Something went wrong", "", "error", "Something went wrong on our side. Please try again later.")
		return
	}
	if err := s.show(w, http.StatusOK, &view{Title: "Where things stand: " + d.OrgName, Data: d}, "status"); err != nil {
		http.Error(w, "something went wrong", http.StatusInternalServerError)
	}
}

// statusOf reads what an organisation's status page shows.
func (s *Server) statusOf(r *http.Request, ls answers.Links, l answers.Link) (*statusData, error) {
	ctx := r.Context()
	rec, err := s.campaigns.Get(ctx, l.Campaign)
	if err != nil {
		return nil, err
	}
	c := rec.Campaign
	hist, err := s.ledger.History(ctx, c.ID, l.Org)
	if err != nil {
		return nil, err
	}
	if len(hist) == 0 {
		return nil, ledger.ErrNotFound
	}
	last := hist[len(hist)-1]
	now := s.opt.Clock()
	today := c.Today(now)
	seen, err := s.planner.OrgAccounts(ctx, c, l.Org, today)
	if err != nil {
		return nil, err
	}
	ans, err := s.answers.OrgAnswers(ctx, c.ID, l.Org)
	if err != nil {
		return nil, err
	}
	deadline, original, err := s.campaigns.Deadline(ctx, c.ID, l.Org)
	if err != nil {
		return nil, err
	}
	fresh, err := s.findings.Freshness(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	d := &statusData{CampaignTitle: cmpOr(c.Title, c.ID), Org: l.Org, OrgName: cmpOr(last.OrgName, l.Org), Today: today.British(),
		Window: c.ActivityWindowDays, Test: l.Test}
	if !deadline.IsZero() {
		d.Deadline = deadline.BritishLong()
		if deadline != original {
			d.Original = original.BritishLong()
		}
	}
	exp := c.RetainUntil()
	d.Links.Fixed, d.Links.NotOurs, d.Links.MoreTime = ls.URL(answers.Fixed, l, exp), ls.URL(answers.NotOurs, l, exp), ls.URL(answers.MoreTime, l, exp)

	d.addAccounts(seen, last.Accounts, ans.Disputes, fresh)
	for _, k := range slices.Sorted(maps.Keys(fresh)) {
		d.Fresh = append(d.Fresh, freshRow{Kind: k, Upto: fresh[k]})
	}
	return d, nil
}

// addAccounts sorts an organisation's accounts into the page's lists: still seen (in the newest
// day of logs of its kind), quiet (seen in the window or listed by the last notice, but not in
// the newest logs of its kind), under review, moved. seen are the accounts of the window, listed
// the last notice's.
func (d *statusData) addAccounts(seen, listed []ledger.Account, disputes []answers.Dispute, fresh map[string]time.Time) {
	review, moved := map[string]bool{}, map[string]string{}
	for _, disp := range disputes {
		a := strings.ToLower(disp.Account)
		switch {
		case disp.ReassignedTo != "":
			moved[a] = disp.ReassignedTo
		case disp.Status == answers.Pending:
			review[a] = true
		}
	}
	still, quiet := map[string]bool{}, map[string]bool{}
	for _, a := range seen {
		acct := strings.ToLower(a.Account)
		if moved[acct] != "" || still[acct] {
			continue
		}
		if upto, ok := fresh[a.Protocol]; ok && upto.Sub(a.LastSeen) > quietAfter {
			continue
		}
		still[acct] = true
		d.Still = append(d.Still, rowOf(a))
	}
	for _, a := range append(slices.Clip(seen), listed...) {
		if acct := strings.ToLower(a.Account); !still[acct] && moved[acct] == "" && !quiet[acct] {
			quiet[acct] = true
			d.Quiet = append(d.Quiet, rowOf(a))
		}
	}
	for a := range review {
		d.Review = append(d.Review, a)
	}
	for a, to := range moved {
		d.Moved = append(d.Moved, movedRow{Account: a, To: to})
	}
	sort.Strings(d.Review)
	sort.Slice(d.Moved, func(i, j int) bool { return d.Moved[i].Account < d.Moved[j].Account })
	sort.Slice(d.Still, func(i, j int) bool { return d.Still[i].LastSeen.After(d.Still[j].LastSeen) })
}

// rowOf is an account's status row: its latest evidence, device and one address.
func rowOf(a ledger.Account) statusRow {
	row := statusRow{Account: strings.ToLower(a.Account), Hostname: a.Hostname, Protocol: a.Protocol, LastSeen: a.LastSeen,
		Device: clients.Describe(clients.OfAccount(a.UserAgents, a.DeviceIDs))}
	if len(a.ClientIPs) > 0 {
		row.Address = a.ClientIPs[len(a.ClientIPs)-1]
	}
	return row
}
