package notice

import (
	"github.com/nhsmail-sunset/sunset/shared/clients"

	"github.com/nhsmail-sunset/sunset/shared/untrusted"

	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// InlineAccounts is how many account rows an email shows; the attached CSV has them all.
const InlineAccounts = 50

// View is what a template sees. Every string in it is already cleaned of control characters.
type View struct {
	CampaignID    string
	CampaignTitle string
	Org           string // ODS code
	OrgName       string
	Stage         string
	FirstContact  bool
	Domain        string // the legacy mail domain of a BYO-MX notice

	Deadline     string // "Tuesday 07 September 2021"
	DeadlineDate string // "07 September 2021"
	DaysLeft     int    // negative once the deadline has passed
	DaysLeftText string // "34 days", "1 day", "today"
	Retired      bool   // the deadline is today or has passed

	AccountCount int // distinct accounts
	Rows         []Row
	RowCount     int  // all rows, inline or not
	Truncated    bool // more rows than InlineAccounts: see the CSV
	CSVName      string
	Hostnames    []string // the legacy hostnames these accounts used
	Settings     []Setting
	// Window is the activity window in days; Newest the time of the newest sign-in the notice
	// lists (campaign-local, "20 Jul 2021 12:00"): why the notice says what it says.
	Window int
	Newest string
	// Fixes are the steps for each kind of device or app the accounts were seen with
	// (shared/clients), in its order, with the campaign's guide link for it.
	Fixes         []Fix
	Failures      int64 // total failed sign-ins over all rows: a lockout warning when > 0
	MaxExtension  int   // days an expiry can be extended by, at most (BYO-MX)
	HelpdeskPhone string
	HelpdeskEmail string
	SenderAddress string

	// Acknowledged is the date the organisation told us the settings were changed ("12
	// August"), when its accounts are still seen; AcknowledgedBy who did.
	Acknowledged   string
	AcknowledgedBy string
	// LastSeen is the day any listed account was last seen ("26 August 2021").
	LastSeen string
	// UnderReview is how many of the listed accounts the organisation said are not theirs,
	// pending the team's decision.
	UnderReview int
	// Brownouts are the switch-off tests still to come on the notice's day or after;
	// BrownoutSeen what the one the day before showed, if anything.
	Brownouts    []BrownoutView
	BrownoutSeen *BrownoutView
	// Digest is the helpdesk digest's organisations; DigestMore those it leaves out.
	Digest     []DigestRow
	DigestMore int
	DigestDate string
	// Links are the notice's answer links (empty when the renderer makes none: previews of
	// campaigns without a public address).
	Links Links
}

// DigestRow is one organisation of a helpdesk digest.
type DigestRow struct {
	ODS, Name, Stage, Contacts, Accounts, LastSeen string
	Count                                          int
}

// BrownoutView is a brownout as a notice shows it.
type BrownoutView struct {
	Date      string // "Tuesday 24 August 2021"
	Hours     string // "09:00-12:00"
	Hostnames string // "imap.nhs.net and pop.nhs.net"
	Accounts  string // (seen) the accounts that failed during it
}

// Links are the addresses of a notice's three answers.
type Links struct {
	Fixed, NotOurs, MoreTime string
	// Status is the organisation's live status page (what the logs show now).
	Status string
}

// Any reports whether the notice has answer links.
func (l Links) Any() bool { return l.Fixed != "" || l.NotOurs != "" || l.MoreTime != "" }

// Row is one line of the affected-accounts table.
type Row struct {
	Account    string
	Hostname   string
	DirectIP   bool
	Protocol   string
	LastSeen   string // campaign-local date and time, "02 Aug 2021 14:05"
	Successes  int64
	Failures   int64
	ClientIPs  string
	UserAgents string
	// Device is what the evidence says the client is ("Mail app on an iPhone, iOS 15"), or "".
	Device string
	// UnderReview: the organisation said it is not theirs; the team is looking at it.
	UnderReview bool
}

// Fix is how to change one kind of device or app.
type Fix struct {
	Name  string
	Steps []string
	Guide string // the campaign's guide link for it (guides:), or ""
}

// Setting is one replacement setting to change to.
type Setting struct {
	Purpose        string
	Legacy         string
	Host           string
	Port           string
	Encryption     string
	Authentication string
}

// maxListed is how many client addresses and user agents a row shows; the CSV has them all.
const maxListed = 3

// Clean is s as one line of a header, subject or cell: text from outside made safe by
// untrusted.Line (spacing controls to one space, other controls and invisible format
// characters such as bidi overrides escaped, visibly).
func Clean(s string) string { return untrusted.Line(s) }

// newView is what a notice's templates see: the campaign's and the notice's words, cleaned.
func newView(c *campaign.Campaign, n ledger.Notice, loc *time.Location, now time.Time) View {
	// Days are counted from the date the planner chose the notice for (a hand-off that waited
	// overnight still says what the planned day said); without one, from now.
	today := calendar.In(now, loc)
	if !n.PlannedFor.IsZero() {
		today = n.PlannedFor
	}
	left := today.DaysUntil(n.Deadline)
	v := View{
		CampaignID:    Clean(c.ID),
		CampaignTitle: Clean(c.Title),
		Org:           Clean(n.Org),
		OrgName:       cmpOr(Clean(n.OrgName), Clean(n.Org)),
		Stage:         Clean(n.Stage),
		FirstContact:  n.FirstContact,
		Domain:        Clean(n.Domain),
		Deadline:      n.Deadline.BritishLong(),
		DeadlineDate:  n.Deadline.British(),
		DaysLeft:      left,
		DaysLeftText:  daysText(left),
		Retired:       left <= 0,
		MaxExtension:  c.MaxExtensionDays,
		Window:        c.ActivityWindowDays,
		Newest:        newest(n.Accounts, loc),
		HelpdeskPhone: Clean(c.Helpdesk.Phone),
		HelpdeskEmail: Clean(c.Helpdesk.Email),
		SenderAddress: Clean(c.Sender.From),
		CSVName:       csvName(c.ID, n.Org),
	}
	hosts := v.addAccounts(n.Accounts, loc)
	v.Fixes = fixes(c, n.Accounts)
	if a := n.Acknowledged; a != nil {
		v.Acknowledged, v.AcknowledgedBy = calendar.In(a.At, loc).British(), Clean(a.By)
	}
	v.addCalendar(c, n, today)
	if len(v.Hostnames) == 0 { // no accounts to name them: every hostname of the campaign
		for _, h := range c.Hostnames {
			v.Hostnames = append(v.Hostnames, strings.ToLower(Clean(h.Name)))
		}
	}
	sort.Strings(v.Hostnames)
	v.Settings = settings(c, hosts)
	return v
}

// fixes are the steps for every kind of client the accounts were seen with, in
// clients.Families order; an account with no client recognised adds the general steps.
func fixes(c *campaign.Campaign, accounts []ledger.Account) []Fix {
	present := map[clients.Family]bool{}
	for _, a := range accounts {
		cs := clients.OfAccount(a.UserAgents, a.DeviceIDs)
		if len(cs) == 0 {
			present[clients.Unknown] = true
		}
		for _, cl := range cs {
			present[cl.Family] = true
		}
	}
	var out []Fix
	for _, f := range clients.Families {
		if present[f] {
			out = append(out, Fix{Name: clients.Name(f), Steps: clients.Steps(f), Guide: c.Guides[string(f)]})
		}
	}
	return out
}

// newest is the time of the latest sign-in among accounts, campaign-local, or "".
func newest(accounts []ledger.Account, loc *time.Location) string {
	var last time.Time
	for _, a := range accounts {
		if a.LastSeen.After(last) {
			last = a.LastSeen
		}
	}
	if last.IsZero() {
		return ""
	}
	return localTime(last, loc)
}

// daysText is the days left (or past) in words.
func daysText(left int) string {
	switch {
	case left == 0:
		return "today"
	case left == 1 || left == -1:
		return "1 day"
	case left < 0:
		return fmt.Sprintf("%d days", -left)
	default:
		return fmt.Sprintf("%d days", left)
	}
}

// addAccounts fills in the accounts' rows (the first InlineAccounts), counts and hostnames,
// and returns the set of hostnames seen.
func (v *View) addAccounts(list []ledger.Account, loc *time.Location) map[string]bool {
	accounts := sortedAccounts(list)
	seen := map[string]bool{}
	hosts := map[string]bool{}
	var last time.Time
	for i, a := range accounts {
		acct := strings.ToLower(Clean(a.Account))
		if !seen[acct] {
			seen[acct] = true
			v.AccountCount++
		}
		host := strings.ToLower(Clean(a.Hostname))
		if host != "" && !hosts[host] {
			hosts[host] = true
			v.Hostnames = append(v.Hostnames, host)
		}
		v.Failures += a.Failures
		if a.UnderReview {
			v.UnderReview++
		}
		if a.LastSeen.After(last) {
			last = a.LastSeen
		}
		if i >= InlineAccounts {
			v.Truncated = true
			continue
		}
		v.Rows = append(v.Rows, Row{
			Account:     acct,
			Hostname:    host,
			DirectIP:    a.DirectIP,
			Protocol:    Clean(a.Protocol),
			LastSeen:    localTime(a.LastSeen, loc),
			Successes:   a.Successes,
			Failures:    a.Failures,
			ClientIPs:   listed(a.ClientIPs),
			UserAgents:  listed(a.UserAgents),
			Device:      Clean(clients.Describe(clients.OfAccount(a.UserAgents, a.DeviceIDs))),
			UnderReview: a.UnderReview,
		})
	}
	if !last.IsZero() {
		v.LastSeen = calendar.In(last, loc).British()
	}
	v.RowCount = len(accounts)
	return hosts
}

// addCalendar fills in the brownouts still to come on the notice's day (today) or after, what
// yesterday's showed, and a helpdesk digest's organisations.
func (v *View) addCalendar(c *campaign.Campaign, n ledger.Notice, today calendar.Date) {
	for _, b := range c.Brownouts {
		if !b.Date.Before(today) {
			v.Brownouts = append(v.Brownouts, BrownoutView{Date: b.Date.BritishLong(), Hours: Clean(b.Hours), Hostnames: englishList(cleanAll(b.Hostnames))})
		}
	}
	if b := n.Brownout; b != nil {
		accounts := englishList(cleanAll(b.Accounts))
		if b.More > 0 {
			accounts += fmt.Sprintf(" and %d more (the attached list has every account)", b.More)
		}
		v.BrownoutSeen = &BrownoutView{Date: b.Date.BritishLong(), Hours: Clean(b.Hours), Hostnames: englishList(cleanAll(b.Hostnames)),
			Accounts: accounts}
	}
	for _, o := range n.Digest {
		accounts := englishList(cleanAll(o.Accounts))
		if more := o.Count - len(o.Accounts); more > 0 {
			accounts += fmt.Sprintf(" and %d more", more)
		}
		v.Digest = append(v.Digest, DigestRow{ODS: Clean(o.ODS), Name: cmpOr(Clean(o.Name), Clean(o.ODS)), Stage: Clean(o.Stage),
			Contacts: strings.Join(cleanAll(o.Contacts), ", "), Accounts: accounts, LastSeen: o.LastSeen.British(), Count: o.Count})
	}
	v.DigestMore, v.DigestDate = n.DigestMore, n.PlannedFor.British()
}

// sortedAccounts orders rows the way a reader scans them: by account, then hostname, protocol.
func sortedAccounts(in []ledger.Account) []ledger.Account {
	out := append([]ledger.Account(nil), in...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if x, y := strings.ToLower(a.Account), strings.ToLower(b.Account); x != y {
			return x < y
		}
		if a.Hostname != b.Hostname {
			return a.Hostname < b.Hostname
		}
		return a.Protocol < b.Protocol
	})
	return out
}

func localTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("02 Jan 2006 15:04")
}

func listed(vals []string) string {
	var out []string
	for _, v := range vals {
		if v = Clean(v); v != "" {
			out = append(out, v)
		}
	}
	if len(out) > maxListed {
		return strings.Join(out[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(out)-maxListed)
	}
	return strings.Join(out, ", ")
}

// settings lists the replacements of the hostnames the notice's accounts used, or of every
// hostname of the campaign when the notice names none (a BYO-MX notice, say).
func settings(c *campaign.Campaign, used map[string]bool) []Setting {
	var out []Setting
	for _, h := range c.Hostnames {
		name := strings.ToLower(h.Name)
		if len(used) > 0 && !used[name] {
			continue
		}
		r := h.Replacement
		if r.Host == "" {
			continue
		}
		s := Setting{
			Purpose:        Clean(r.Purpose),
			Legacy:         Clean(name),
			Host:           Clean(r.Host),
			Encryption:     Clean(r.Encryption),
			Authentication: "Yes",
		}
		if s.Purpose == "" {
			s.Purpose = purposeOfPort(r.Port)
		}
		if r.Port != 0 {
			s.Port = fmt.Sprint(r.Port)
		}
		if s.Encryption == "" {
			s.Encryption = "-"
		}
		if r.Authentication != nil && !*r.Authentication {
			s.Authentication = "No"
		}
		out = append(out, s)
	}
	return out
}

func purposeOfPort(port int) string {
	switch port {
	case 993, 143:
		return "IMAP (incoming mail)"
	case 995, 110:
		return "POP (incoming mail)"
	case 587, 25, 465:
		return "SMTP (sending mail)"
	case 443, 0:
		return "Web, ActiveSync, EWS and Outlook"
	}
	return "Mail"
}

// csvName is the attachment's file name: only characters every mail client accepts.
func csvName(campaignID, org string) string {
	safe := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
				return r
			}
			return '-'
		}, s)
	}
	return "affected-accounts-" + safe(campaignID) + "-" + safe(strings.ToUpper(org)) + ".csv"
}

func cleanAll(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s = Clean(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
