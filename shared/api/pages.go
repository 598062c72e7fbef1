package api

import (
	"github.com/nhsmail-sunset/sunset/shared/clients"

	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/report"
)

//go:embed templates/*.html
var templateFS embed.FS

// ukZone is the console's time zone: times are shown as the team reads them.
var ukZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}()

var funcs = template.FuncMap{
	"british": func(d calendar.Date) string { return d.British() },
	"device":  func(a ledger.Account) string { return clients.Describe(clients.OfAccount(a.UserAgents, a.DeviceIDs)) },
	"ukTime": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.In(ukZone).Format("02 January 2006 15:04")
	},
	"add":  func(a, b int) int { return a + b },
	"join": strings.Join,
}

// parsePages parses each page template with the layout: one template set a page.
func parsePages() (map[string]*template.Template, error) {
	layout, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if strings.HasSuffix(n, "/layout.html") {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(n[strings.LastIndexByte(n, '/')+1:], ".html")] = t
	}
	return pages, nil
}

// view is what every console page shows around its own data: who is signed in, their form
// token, the page title, the breadcrumb, a message after a change.
type view struct {
	Who      Identity
	CSRF     string
	Title    string
	Crumbs   []crumb
	Flash    string
	Local    bool
	Operator bool
	Data     any
}

type crumb struct{ Text, Href string }

// RoleName is the highest role shown in the header.
func (v *view) RoleName() string {
	if v.Operator {
		return "operator"
	}
	if v.Who.Can(Viewer) {
		return "viewer"
	}
	return "no role"
}

// pageFunc renders one console page into v (s.show) or returns an error to show instead.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// maxForm bounds a console form: a campaign file and its fields.
const maxForm = campaign.MaxCampaignFile + 64*1024

// page wraps a console handler: a browser without a session is sent to sign in; one without
// the role gets 403; every POST must carry the session's form token.
func (s *Server) page(role Role, fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, binding, recheck, ok := s.pageIdentity(r)
		v := &view{Who: id, Local: s.opt.Local != nil, Operator: id.Can(Operator), Flash: flashFor(r.URL.Query().Get("done"))}
		if !ok || (recheck && r.Method == http.MethodGet) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, signInURL(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, v, &httpError{status: http.StatusUnauthorized, msg: "You are not signed in, or your sign-in has expired. Sign in and try again."})
			return
		}
		v.CSRF = s.sessions.csrf(binding)
		if !id.Can(role) {
			s.errorPage(w, r, v, &httpError{status: http.StatusForbidden, msg: "Your roles do not allow this: it needs the " + string(role) + " role. Nothing was changed."})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseMultipartForm(maxForm); err != nil && !errors.Is(err, http.ErrNotMultipart) {
				s.errorPage(w, r, v, &httpError{status: http.StatusBadRequest, msg: "The form could not be read (too large, or not a form). Nothing was changed.", err: err})
				return
			}
			if !s.sessions.csrfOK(binding, r.PostFormValue("csrf")) {
				s.errorPage(w, r, v, &httpError{status: http.StatusForbidden, msg: "This form has expired or did not come from this console. Go back, reload the page and try again. Nothing was changed."})
				return
			}
		}
		if err := fn(w, r, v); err != nil {
			s.errorPage(w, r, v, err)
		}
	}
}

// flashFor is the message shown after a change redirected back to a page.
func flashFor(done string) string {
	return map[string]string{
		"pause": "The campaign is paused: no notice is sent until it is resumed.", "resume": "The campaign is active again.",
		"cancel": "The campaign is cancelled. It will send nothing more.", "extend": "The extension is recorded.",
		"apply": "The campaign file is applied.", "unchanged": "The campaign file is the same as the current version: nothing changed.",
		"dispute": "The dispute is decided.", "request": "The request is decided.",
		"resend": "The notice is released, on record, and handed to the sender: it goes once, within minutes.",
	}[done]
}

// show renders page with v.
func (s *Server) show(w http.ResponseWriter, status int, v *view, page string) error {
	t := s.pages[page]
	if t == nil {
		return fmt.Errorf("no page template %q", page)
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, "layout", v); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(b.Bytes())
	return err
}

// errorData is what the error page shows.
type errorData struct {
	Message   string
	Problems  []Problem
	RequestID string
}

// errorPage shows an error: the user's own mistake plainly, ours as a request id (logged).
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, v *view, err error) {
	he := classify(err)
	if he.status >= 500 {
		s.opt.Logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r), "error", err)
	}
	v.Title = http.StatusText(he.status)
	v.Data = errorData{Message: sentence(he.msg), Problems: he.problems}
	if he.status >= 500 {
		v.Data = errorData{Message: "Something went wrong on our side. Nothing more was changed.", RequestID: requestID(r)}
	}
	if err := s.show(w, he.status, v, "error"); err != nil {
		http.Error(w, "something went wrong", http.StatusInternalServerError)
	}
}

func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// campaignRow is one line of the campaigns list.
type campaignRow struct {
	ID, Title, Deadline, Updated, UpdatedBy string
	Status                                  campaign.Status
	Version                                 int
	Latest                                  *progress.Day
}

func deadlineOf(c *campaign.Campaign) string {
	if c.AudienceSource == campaign.SourceRoster {
		return "per organisation (roster)"
	}
	return c.Shutdown.British()
}

func (s *Server) pageCampaigns(w http.ResponseWriter, r *http.Request, v *view) error {
	recs, err := s.campaigns.List(r.Context())
	if err != nil {
		return err
	}
	var rows []campaignRow
	for _, rec := range recs {
		c := rec.Campaign
		row := campaignRow{ID: c.ID, Title: c.Title, Deadline: deadlineOf(c), Status: rec.Status, Version: rec.Version,
			Updated: rec.UpdatedAt.In(ukZone).Format("02 January 2006"), UpdatedBy: rec.UpdatedBy}
		if row.Title == "" {
			row.Title = c.ID
		}
		days, err := s.progress.Days(r.Context(), c.ID)
		if err != nil {
			return err
		}
		if len(days) > 0 {
			row.Latest = &days[len(days)-1]
		}
		rows = append(rows, row)
	}
	v.Title, v.Data = "Campaigns", struct{ Rows []campaignRow }{rows}
	return s.show(w, http.StatusOK, v, "campaigns")
}

// orgRow is one organisation of a campaign page's table.
type orgRow struct {
	ODS        string        `json:"ods"`
	Name       string        `json:"name"`
	Stage      string        `json:"stage,omitempty"`
	LastNotice calendar.Date `json:"last_notice,omitzero"`
	Status     string        `json:"status,omitempty"`
	StillSeen  int           `json:"accounts_still_seen"`
	LastSeen   calendar.Date `json:"last_seen,omitzero"`
}

// stageRow is one stage of a campaign page.
type stageRow struct {
	Name, When, Due string
	Sent            int
}

// noticeCounts are a campaign's notices by outcome (superseded ones left out).
type noticeCounts struct{ Sent, Failed, Suppressed, InDoubt, Queued int }

// campaignSummary is a campaign page: what the latest runs recorded beside the ledger.
type campaignSummary struct {
	Rec        *campaign.Record
	Deadline   string
	Latest     *progress.Day
	Days       []progress.Day
	Counts     noticeCounts
	Stages     []stageRow
	AllOrgs    []orgRow
	Orgs       []orgRow // this page of AllOrgs
	Page       int
	Pages      int
	Chart      template.HTML
	Window     int // the activity window, in days
	Pending    int // answers waiting for the team: disputes and requests for more time
	Extensions []campaign.Extension
	History    []historyRow
}

// historyRow is one change of the campaign: a version or an event.
type historyRow struct {
	Version string
	At      time.Time
	By      string
	Changes []string
}

// orgsPerPage is how many organisations a campaign page lists.
const orgsPerPage = 100

// summary reads a campaign page: its details, the recorded days and organisations, and the
// ledger without the notices' contents. The reads are a few queries whatever the campaign's
// size; the page grows with its organisations, a page at a time.
func (s *Server) summary(r *http.Request) (*campaignSummary, error) {
	ctx := r.Context()
	det, err := s.campaigns.Details(ctx, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	c := det.Record.Campaign
	days, err := s.progress.Days(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	orgs, err := s.progress.Orgs(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	notices, err := s.ledger.Summaries(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	ans, err := s.answers.List(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	sum := &campaignSummary{Rec: det.Record, Deadline: deadlineOf(c), Days: days, Window: c.ActivityWindowDays}
	for _, d := range ans.Disputes {
		if d.Status == answers.Pending {
			sum.Pending++
		}
	}
	for _, q := range ans.Requests {
		if q.Status == answers.Pending {
			sum.Pending++
		}
	}
	if len(days) > 0 {
		sum.Latest = &days[len(days)-1]
	}
	sum.AllOrgs, sum.Counts = orgRows(c, days, orgs, notices)
	sum.Stages = stageRows(c, notices)
	for _, e := range det.Extensions {
		sum.Extensions = append(sum.Extensions, e)
	}
	sort.Slice(sum.Extensions, func(i, j int) bool { return sum.Extensions[i].ODS < sum.Extensions[j].ODS })
	for _, h := range det.History {
		sum.History = append(sum.History, historyRow{Version: strconv.Itoa(h.Version), At: h.At, By: h.By, Changes: h.Changes})
	}
	for _, e := range det.Events {
		sum.History = append(sum.History, historyRow{Version: "–", At: e.At, By: e.By, Changes: []string{e.What}})
	}
	sort.SliceStable(sum.History, func(i, j int) bool { return sum.History[i].At.Before(sum.History[j].At) })
	return sum, nil
}

// orgRows joins the organisations the runs recorded with the ledger (the authority on what was
// sent), and counts the notices by outcome.
func orgRows(c *campaign.Campaign, days []progress.Day, orgs []progress.Org, notices []ledger.Notice) ([]orgRow, noticeCounts) {
	var latest calendar.Date
	if len(days) > 0 {
		latest = days[len(days)-1].At
	}
	rows := map[string]*orgRow{}
	for _, o := range orgs {
		rows[o.ODS] = &orgRow{ODS: o.ODS, Name: o.Name, StillSeen: o.StillSeen(latest), LastSeen: o.LastSeen}
	}
	order := map[string]int{}
	for i, st := range c.Stages {
		order[st.Name] = i
	}
	var counts noticeCounts
	reached := map[string]int{}
	for _, n := range notices {
		switch {
		case n.Status == ledger.Superseded, n.Org == ledger.HelpdeskOrg: // the helpdesk's digests are no organisation's
			continue
		case n.InDoubt():
			counts.InDoubt++
		case n.Status == ledger.Sent:
			counts.Sent++
		case n.Status == ledger.Failed:
			counts.Failed++
		case n.Status == ledger.Suppressed:
			counts.Suppressed++
		case n.Status == ledger.Claimed:
			counts.Queued++
		}
		row := rows[n.Org]
		if row == nil {
			row = &orgRow{ODS: n.Org}
			rows[n.Org] = row
		}
		if row.Name == "" {
			row.Name = n.OrgName
		}
		if i, seen := reached[n.Org]; seen && order[n.Stage] < i {
			continue
		}
		reached[n.Org] = order[n.Stage]
		row.Stage, row.Status, row.LastNotice = n.Stage, noticeStatus(n), n.PlannedFor
	}
	out := make([]orgRow, 0, len(rows)) // a list in JSON, never null
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ODS < out[j].ODS })
	return out, counts
}

// noticeStatus is a notice's status as the console shows it.
func noticeStatus(n ledger.Notice) string {
	if n.InDoubt() {
		return "in-doubt"
	}
	return string(n.Status)
}

// stageRows lists the stages with their due dates and how many of each were sent.
func stageRows(c *campaign.Campaign, notices []ledger.Notice) []stageRow {
	sent := map[string]int{}
	for _, n := range notices {
		if n.Status == ledger.Sent || !n.SentAt.IsZero() {
			sent[n.Stage]++
		}
	}
	var out []stageRow
	for _, st := range c.Stages {
		when := fmt.Sprintf("%d days before the deadline", st.Offset()*-1)
		switch {
		case st.Offset() == 0:
			when = "on the deadline"
		case st.Offset() > 0:
			when = fmt.Sprintf("%d days after the deadline", st.Offset())
		}
		due := "per organisation"
		if c.AudienceSource != campaign.SourceRoster {
			due = st.DueOn(c.Shutdown).British()
		}
		out = append(out, stageRow{Name: st.Name, When: when, Due: due, Sent: sent[st.Name]})
	}
	return out
}

func (s *Server) pageCampaign(w http.ResponseWriter, r *http.Request, v *view) error {
	sum, err := s.summary(r)
	if err != nil {
		return err
	}
	sum.Pages = max(1, (len(sum.AllOrgs)+orgsPerPage-1)/orgsPerPage)
	sum.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	sum.Page = min(max(sum.Page, 1), sum.Pages)
	sum.Orgs = sum.AllOrgs[min((sum.Page-1)*orgsPerPage, len(sum.AllOrgs)):min(sum.Page*orgsPerPage, len(sum.AllOrgs))]
	var chart bytes.Buffer
	if err := report.WriteBurndown(&chart, chartTitle(sum.Rec.Campaign), sum.Days, report.Markers(sum.Rec.Campaign)); err != nil {
		return err
	}
	sum.Chart = template.HTML(chart.String()) // drawn by report.WriteBurndown, every text escaped there
	c := sum.Rec.Campaign
	v.Title, v.Data = cmpOr(c.Title, c.ID), sum
	v.Crumbs = []crumb{{"Campaigns", "/console/"}, {c.ID, ""}}
	return s.show(w, http.StatusOK, v, "campaign")
}

// asOf is the date the console's views of a campaign are taken on: the latest daily run's, so
// what it shows agrees with the counts and the chart; before any run, today (or the last
// deadline, once the campaign is over).
func (s *Server) asOf(r *http.Request, c *campaign.Campaign) (calendar.Date, error) {
	days, err := s.progress.Days(r.Context(), c.ID)
	if err != nil {
		return calendar.Date{}, err
	}
	if len(days) > 0 {
		return days[len(days)-1].At, nil
	}
	at := c.Today(s.opt.Clock())
	if last := c.LastDeadline(); !last.IsZero() && last.Before(at) {
		at = last
	}
	return at, nil
}

func (s *Server) pageBurndownSVG(w http.ResponseWriter, r *http.Request, _ *view) error {
	return s.burndown(w, r, false)
}

func (s *Server) pageBurndownCSV(w http.ResponseWriter, r *http.Request, _ *view) error {
	return s.burndown(w, r, true)
}

// crumbsFor is the breadcrumb down to a campaign, then the page.
func crumbsFor(id string, more ...crumb) []crumb {
	return append([]crumb{{"Campaigns", "/console/"}, {id, "/console/campaigns/" + id}}, more...)
}

func (s *Server) pagePlan(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	at, err := dateParam(r, "at")
	if err == nil && at.IsZero() {
		at, err = s.asOf(r, rec.Campaign)
	}
	if err != nil {
		return err
	}
	page, err := planPage(r)
	if err != nil {
		return err
	}
	pl, err := s.planner.PlanPage(r.Context(), rec.Campaign.ID, at, page)
	if err != nil {
		return err
	}
	v.Title, v.Crumbs = "Plan for "+at.British(), crumbsFor(rec.Campaign.ID, crumb{"Plan", ""})
	v.Data = struct {
		ID    string
		At    calendar.Date
		After string
		Plan  planner.Plan
	}{rec.Campaign.ID, at, page.After, pl}
	return s.show(w, http.StatusOK, v, "plan")
}

func (s *Server) pageUnassigned(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	at, err := s.asOf(r, rec.Campaign)
	if err != nil {
		return err
	}
	accounts, err := s.planner.Unassigned(r.Context(), rec.Campaign, at.AddDays(-rec.Campaign.ActivityWindowDays), at)
	if err != nil {
		return err
	}
	v.Title, v.Crumbs = "Accounts no organisation owns", crumbsFor(rec.Campaign.ID, crumb{"Unassigned accounts", ""})
	v.Data = struct {
		At       calendar.Date
		Accounts []ledger.Account
	}{at, accounts}
	return s.show(w, http.StatusOK, v, "unassigned")
}

func (s *Server) pageSuppressed(w http.ResponseWriter, r *http.Request, v *view) error {
	all, err := s.suppression.All(r.Context())
	if err != nil {
		return err
	}
	v.Title, v.Crumbs, v.Data = "Suppressed addresses", []crumb{{"Campaigns", "/console/"}, {"Suppressed addresses", ""}}, all
	return s.show(w, http.StatusOK, v, "suppressed")
}

// orgPage is one organisation of a campaign.
type orgPage struct {
	ID, ODS, Name string
	Progress      *orgRow
	Accounts      []ledger.Account
	At            calendar.Date
	Notices       []ledger.Notice
	Stages        []string
	Window        int
}

func (s *Server) pageOrg(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	rec, err := s.campaigns.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	c, ods := rec.Campaign, strings.ToUpper(r.PathValue("ods"))
	hist, err := s.ledger.History(ctx, c.ID, ods)
	if err != nil {
		return err
	}
	at, err := s.asOf(r, c)
	if err != nil {
		return err
	}
	accounts, err := s.planner.OrgAccounts(ctx, c, ods, at)
	if err != nil {
		return err
	}
	sum, err := s.summary(r)
	if err != nil {
		return err
	}
	p := orgPage{ID: c.ID, ODS: ods, Name: ods, Accounts: accounts, At: at, Notices: hist, Window: c.ActivityWindowDays}
	for i := range sum.AllOrgs {
		if sum.AllOrgs[i].ODS == ods {
			p.Progress = &sum.AllOrgs[i]
			p.Name = cmpOr(sum.AllOrgs[i].Name, ods)
		}
	}
	if p.Progress == nil && len(hist) == 0 && len(accounts) == 0 {
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("campaign %s has seen no account of %s and sent it nothing", c.ID, ods)}
	}
	for _, st := range c.Stages {
		p.Stages = append(p.Stages, st.Name)
	}
	v.Title, v.Crumbs, v.Data = p.Name, crumbsFor(c.ID, crumb{p.Name, ""}), p
	return s.show(w, http.StatusOK, v, "org")
}

// asSent is a notice as the ledger recorded it and the email rendered again from it.
type asSent struct {
	ID      string
	Notice  *ledger.Notice
	Email   *notice.Email
	Version int
	// Verified: the rendering's hash is the one recorded when it was sent.
	Verified bool
	Sent     bool
	Problem  string
	// Merged are the recipients that got it in a merged email instead.
	Merged []mergedLink
}

// rerender renders a notice with the campaign version in force when it was sent (or claimed),
// and checks it against the hash the sender recorded: the email exactly as sent, proved.
func (s *Server) rerender(r *http.Request) (*asSent, error) {
	ctx := r.Context()
	id, ods, stage := r.PathValue("id"), strings.ToUpper(r.PathValue("ods")), r.PathValue("stage")
	n, err := s.ledger.Get(ctx, id, ods, stage)
	if err != nil {
		return nil, err
	}
	hist, err := s.campaigns.History(ctx, id)
	if err != nil {
		return nil, err
	}
	at := n.SentAt
	if at.IsZero() {
		at = n.ClaimedAt
	}
	out := &asSent{ID: id, Notice: n, Sent: n.Status == ledger.Sent || !n.SentAt.IsZero(), Merged: mergedLinks(n)}
	var c *campaign.Campaign
	for _, h := range hist {
		if c == nil || !h.At.After(at) {
			c, out.Version = h.Campaign, h.Version
		}
	}
	if c == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "campaign " + id + " has no version to render with"}
	}
	// The hash covers the answer links as sent; the page shows the same email with links that
	// open the answer pages but record nothing, so nobody in the team answers in an
	// organisation's name from here.
	sent, err := s.render(r, c, *n, true)
	if err != nil {
		out.Problem = err.Error()
		return out, nil
	}
	out.Verified = n.ContentSHA256 != "" && sent.SHA256() == n.ContentSHA256
	e, err := s.render(r, c, *n, false)
	if err != nil {
		out.Problem = err.Error()
		return out, nil
	}
	if !n.SentAt.IsZero() {
		e.Date = n.SentAt
	}
	out.Email = e
	return out, nil
}

// render renders a notice with the built-in templates (a templates folder lives beside a
// campaign file on a laptop, which the console cannot read): with the answer links the notice
// carries when live, else with links that show their pages but record nothing (a test send's),
// which is what the team is shown.
func (s *Server) render(r *http.Request, c *campaign.Campaign, n ledger.Notice, live bool) (*notice.Email, error) {
	rd, err := s.renderer(r, c, live)
	if err != nil {
		return nil, err
	}
	return rd.Render(n, s.opt.Clock())
}

// renderer is the campaign's renderer as the console renders with it: the built-in templates,
// the notice's live answer links or test ones (render).
func (s *Server) renderer(r *http.Request, c *campaign.Campaign, live bool) (*notice.Renderer, error) {
	if c.Templates != "hostname-retirement" && c.Templates != "byo-mx" {
		return nil, &httpError{status: http.StatusConflict, msg: errNoRender.Error()}
	}
	rd, err := notice.New(c, "")
	if err != nil {
		return nil, err
	}
	return rd.WithLinks(s.links(r).For(c, !live)), nil
}

func (s *Server) pageNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	a, err := s.rerender(r)
	if err != nil {
		return err
	}
	name := cmpOr(a.Notice.OrgName, a.Notice.Org)
	v.Title = "The " + a.Notice.Stage + " notice to " + name
	v.Crumbs = crumbsFor(a.ID, crumb{name, "/console/campaigns/" + a.ID + "/orgs/" + a.Notice.Org}, crumb{a.Notice.Stage + " notice", ""})
	v.Data = a
	return s.show(w, http.StatusOK, v, "notice")
}

// pageNoticeHTML is the email's HTML on its own, for the notice page's frame: sandboxed, so
// nothing in it can run or reach the console.
func (s *Server) pageNoticeHTML(w http.ResponseWriter, r *http.Request, _ *view) error {
	a, err := s.rerender(r)
	if err != nil {
		return err
	}
	if a.Email == nil {
		return &httpError{status: http.StatusConflict, msg: a.Problem}
	}
	w.Header().Set("Content-Security-Policy", "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, err = w.Write([]byte(a.Email.HTML))
	return err
}
