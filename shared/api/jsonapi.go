package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/report"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

// maxBody bounds a request body: a campaign file's own cap and room for a JSON form.
const maxBody = campaign.MaxCampaignFile + 4096

func body(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: "could not read the request body", err: err}
	}
	if len(b) > maxBody {
		return nil, &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("the request body is over %d bytes", maxBody)}
	}
	return b, nil
}

// decode reads a JSON body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	b, err := body(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{status: http.StatusBadRequest, msg: "the request body is not the JSON this route takes: " + err.Error()}
	}
	return nil
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(r *http.Request, name string) (calendar.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return calendar.Date{}, nil
	}
	d, err := calendar.Parse(v)
	if err != nil {
		return d, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("%s=%q is not a date YYYY-MM-DD", name, v)}
	}
	return d, nil
}

func (s *Server) apiCampaigns(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	recs, err := s.campaigns.List(r.Context())
	if recs == nil {
		recs = []*campaign.Record{}
	}
	return recs, err
}

func (s *Server) apiCampaign(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	return s.campaigns.Details(r.Context(), r.PathValue("id"))
}

// validated is a campaign file checked as apply checks it, with a one-line summary.
type validated struct {
	OK       bool   `json:"ok"`
	Campaign string `json:"campaign"`
	Summary  string `json:"summary"`
}

// parseUpload reads and checks an uploaded campaign file as `sunset campaign validate` does
// (the shutdown against today, or ?at=).
func (s *Server) parseUpload(r *http.Request, data []byte) (*campaign.Campaign, error) {
	name := r.URL.Query().Get("name")
	if name == "" || strings.ContainsAny(name, "/\\") {
		name = "campaign.yaml"
	}
	c, err := campaign.ParseWith(data, name, campaign.Options{Uploaded: true, Identity: s.opt.SenderIdentity})
	if err != nil {
		return nil, err
	}
	today, err := dateParam(r, "at")
	if err != nil {
		return nil, err
	}
	if today.IsZero() {
		today = c.Today(s.opt.Clock())
	}
	return c, c.Validate(today)
}

func summary(c *campaign.Campaign) string {
	deadline := c.Shutdown.British()
	if c.AudienceSource == campaign.SourceRoster {
		deadline = "per organisation (roster)"
	}
	return fmt.Sprintf("campaign %s, %d hostnames, %d stages, deadline %s", c.ID, len(c.Hostnames), len(c.Stages), deadline)
}

func (s *Server) apiValidate(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	data, err := body(r)
	if err != nil {
		return nil, err
	}
	c, err := s.parseUpload(r, data)
	if err != nil {
		return nil, err
	}
	return validated{OK: true, Campaign: c.ID, Summary: summary(c)}, nil
}

type applied struct {
	Campaign string   `json:"campaign"`
	Version  int      `json:"version"`
	Changed  bool     `json:"changed"`
	Changes  []string `json:"changes"`
	By       string   `json:"by"`
}

func (s *Server) apiApply(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	data, err := body(r)
	if err != nil {
		return nil, err
	}
	c, err := s.parseUpload(r, data)
	if err != nil {
		return nil, err
	}
	v, changes, err := s.campaigns.Apply(r.Context(), c, id.By())
	if err != nil {
		return nil, err
	}
	if changes == nil {
		changes = []string{}
	}
	return applied{Campaign: c.ID, Version: v, Changed: len(changes) > 0, Changes: changes, By: id.By()}, nil
}

// statusOf is the status each action sets.
var statusOf = map[string]campaign.Status{"pause": campaign.Paused, "resume": campaign.Active, "cancel": campaign.Cancelled}

func (s *Server) apiStatus(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	if err := s.campaigns.SetStatus(r.Context(), r.PathValue("id"), statusOf[action], id.By()); err != nil {
		return nil, err
	}
	return s.campaigns.Details(r.Context(), r.PathValue("id"))
}

// extendRequest is the body of POST /api/campaigns/{id}/extensions.
type extendRequest struct {
	Org    string `json:"org"`
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

func (s *Server) apiExtend(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	var req extendRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return s.extend(r, id, req)
}

// extend checks an extension request and makes it, as `sunset campaign extend` does.
func (s *Server) extend(r *http.Request, id Identity, req extendRequest) (*campaign.Extension, error) {
	until, err := calendar.Parse(strings.TrimSpace(req.Until))
	switch {
	case strings.TrimSpace(req.Org) == "" || strings.TrimSpace(req.Reason) == "":
		return nil, &httpError{status: http.StatusBadRequest, msg: "org, until and reason are required"}
	case err != nil:
		return nil, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("until %q is not a date YYYY-MM-DD", req.Until)}
	case len(req.Reason) > 1000:
		return nil, &httpError{status: http.StatusBadRequest, msg: "reason is over 1,000 characters"}
	}
	return s.campaigns.Extend(r.Context(), r.PathValue("id"), strings.ToUpper(strings.TrimSpace(req.Org)), until, strings.TrimSpace(req.Reason), id.By())
}

// planDate is ?at=, or today in the campaign's time zone.
func (s *Server) planDate(r *http.Request, c *campaign.Campaign) (calendar.Date, error) {
	at, err := dateParam(r, "at")
	if err != nil || !at.IsZero() {
		return at, err
	}
	return c.Today(s.opt.Clock()), nil
}

func (s *Server) apiPlan(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	at, err := s.planDate(r, rec.Campaign)
	if err != nil {
		return nil, err
	}
	page, err := planPage(r)
	if err != nil {
		return nil, err
	}
	return s.planner.PlanPage(r.Context(), rec.Campaign.ID, at, page)
}

// Plans are served a page of organisations at a time (?after=ODS&limit=N): a national
// campaign's whole plan is more than a request's 30 seconds and the function's memory allow.
const (
	planPageDefault = 200
	planPageMax     = 1000
)

// planPage reads ?after= and ?limit= (default planPageDefault, at most planPageMax).
func planPage(r *http.Request) (planner.Page, error) {
	q := r.URL.Query()
	pg := planner.Page{After: strings.ToUpper(strings.TrimSpace(q.Get("after"))), Limit: planPageDefault}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > planPageMax {
			return pg, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("limit=%q is not a number of organisations from 1 to %d", v, planPageMax)}
		}
		pg.Limit = n
	}
	return pg, nil
}

// preview is one organisation's notice exactly as it would be sent.
type preview struct {
	Campaign string   `json:"campaign"`
	Org      string   `json:"org"`
	Stage    string   `json:"stage"`
	At       string   `json:"at"`
	Template string   `json:"template"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	Subject  string   `json:"subject"`
	HTML     string   `json:"html"`
	Text     string   `json:"text"`
	CSVName  string   `json:"csv_name"`
	CSV      string   `json:"csv"`
	// Mail and Orgs are, for ?recipient=, the merged email's ID and the organisations it covers.
	Mail string   `json:"mail,omitempty"`
	Orgs []string `json:"orgs,omitempty"`
}

func (s *Server) apiPreview(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	q := r.URL.Query()
	if (q.Get("org") == "") == (q.Get("recipient") == "") || (q.Get("recipient") != "" && q.Get("stage") != "") {
		return nil, &httpError{status: http.StatusBadRequest, msg: "org (?org=ODS[&stage=S]) or recipient (?recipient=ADDRESS: the one email it would get that day) is required, not both"}
	}
	if a := q.Get("recipient"); a != "" {
		return s.previewFor(r, a)
	}
	return s.preview(r, q.Get("org"), q.Get("stage"))
}

// previewFor is the email one address would get on the plan date: merged when it is in several
// organisations' notices.
func (s *Server) previewFor(r *http.Request, address string) (*preview, error) {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	at, err := s.planDate(r, rec.Campaign)
	if err != nil {
		return nil, err
	}
	e, k, err := s.renderFor(r, rec.Campaign, address, at, false)
	if err != nil {
		return nil, err
	}
	p := &preview{Campaign: k.Campaign, Stage: e.Stage, At: at.String(), Template: e.Template, From: e.From, To: e.To,
		Subject: e.Subject, HTML: e.HTML, Text: e.Text, CSVName: e.CSVName, CSV: string(e.CSV), Mail: k.ID()}
	for _, n := range e.Orgs {
		p.Orgs = append(p.Orgs, n.Org)
	}
	return p, nil
}

// renderFor renders the email address would get on at (planner.SnapshotFor), with live or
// test links, and its mail's key.
func (s *Server) renderFor(r *http.Request, c *campaign.Campaign, address string, at calendar.Date, live bool) (*notice.Email, ledger.MailKey, error) {
	ns, err := s.planner.SnapshotFor(r.Context(), c, address, at)
	if err != nil {
		return nil, ledger.MailKey{}, err
	}
	rd, err := s.renderer(r, c, live)
	if err != nil {
		return nil, ledger.MailKey{}, err
	}
	k := ledger.MailKeyOf(c.ID, at, address)
	e, err := rd.RenderMerged(k, address, ns, s.opt.Clock())
	return e, k, err
}

func (s *Server) preview(r *http.Request, org, stage string) (*preview, error) {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	at, err := s.planDate(r, rec.Campaign)
	if err != nil {
		return nil, err
	}
	n, err := s.planner.Snapshot(r.Context(), s.ledger, rec.Campaign, org, stage, at)
	if err != nil {
		return nil, err
	}
	e, err := s.render(r, rec.Campaign, n, false)
	if err != nil {
		return nil, err
	}
	return &preview{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage, At: at.String(), Template: e.Template, From: e.From, To: e.To,
		Subject: e.Subject, HTML: e.HTML, Text: e.Text, CSVName: e.CSVName, CSV: string(e.CSV)}, nil
}

// sendTestRequest is the body of POST /api/campaigns/{id}/send-test.
type sendTestRequest struct {
	Org   string `json:"org"`
	Stage string `json:"stage"`
	// Recipient, instead of Org and Stage: the email this address would get that day (merged
	// when it is in several organisations' notices).
	Recipient string `json:"recipient,omitempty"`
	To        string `json:"to"`
	At        string `json:"at,omitempty"`
}

type sentTest struct {
	MessageID string `json:"message_id"`
	Subject   string `json:"subject"`
	To        string `json:"to"`
	By        string `json:"by"`
}

func (s *Server) apiSendTest(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	var req sendTestRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return s.sendTest(r, id, req)
}

// sendTest sends one organisation's notice to one internal address, marked [TEST], as
// `sunset send-test` does; nothing is written to the ledger.
func (s *Server) sendTest(r *http.Request, id Identity, req sendTestRequest) (*sentTest, error) {
	byOrg := req.Org != "" && req.Stage != "" && req.Recipient == ""
	if byOrg == (req.Recipient != "") || (req.Recipient != "" && (req.Org != "" || req.Stage != "")) || strings.TrimSpace(req.To) == "" {
		return nil, &httpError{status: http.StatusBadRequest, msg: "to and either org and stage, or recipient, are required"}
	}
	to, err := sender.TestAddress(req.To)
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: "to " + err.Error()}
	}
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	if err := sender.CheckTestRecipient(rec.Campaign, to, s.opt.TestRecipients); err != nil {
		return nil, &httpError{status: http.StatusBadRequest, msg: "to " + err.Error()}
	}
	at := rec.Campaign.Today(s.opt.Clock())
	if req.At != "" {
		if at, err = calendar.Parse(req.At); err != nil {
			return nil, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("at %q is not a date YYYY-MM-DD", req.At)}
		}
	}
	if req.Recipient != "" {
		ns, err := s.planner.SnapshotFor(r.Context(), rec.Campaign, req.Recipient, at)
		if err != nil {
			return nil, err
		}
		k := ledger.MailKeyOf(rec.Campaign.ID, at, req.Recipient)
		msgID, e, err := s.sender(r).SendTestMerged(r.Context(), rec.Campaign, k, req.Recipient, ns, to)
		if err != nil {
			return nil, err
		}
		s.opt.Logger.Info("test of a merged email sent", "campaign", k.Campaign, "mail", k.ID(), "organisations", len(ns), "message_id", msgID, "by", id.Subject)
		return &sentTest{MessageID: msgID, Subject: e.Subject, To: to, By: id.By()}, nil
	}
	n, err := s.planner.Snapshot(r.Context(), s.ledger, rec.Campaign, req.Org, req.Stage, at)
	if err != nil {
		return nil, err
	}
	msgID, e, err := s.sender(r).SendTest(r.Context(), rec.Campaign, n, to)
	if err != nil {
		return nil, err
	}
	s.opt.Logger.Info("test notice sent", "campaign", n.Campaign, "org", n.Org, "stage", n.Stage, "message_id", msgID, "by", id.Subject)
	return &sentTest{MessageID: msgID, Subject: e.Subject, To: to, By: id.By()}, nil
}

// report builds the campaign's report, as `sunset report` does.
func (s *Server) report(r *http.Request) (report.Report, error) {
	return report.Build(r.Context(), report.Sources{Campaigns: s.campaigns, Ledger: s.ledger, Suppressions: s.suppression,
		Planner: s.planner, Progress: s.progress}, r.PathValue("id"), s.opt.Clock())
}

func (s *Server) apiReport(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	return s.report(r)
}

func (s *Server) apiReportCSV(w http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	rep, err := s.report(r)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := rep.WriteCSV(&b); err != nil {
		return nil, err
	}
	return nil, download(w, "text/csv; charset=utf-8", rep.Campaign+"-report.csv", b.Bytes())
}

// download sends a file for the browser to save.
func download(w http.ResponseWriter, contentType, name string, data []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	_, err := w.Write(data)
	return err
}

func (s *Server) apiOrganisations(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	sum, err := s.summary(r)
	if err != nil {
		return nil, err
	}
	return sum.AllOrgs, nil
}

func (s *Server) apiBurndownSVG(w http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	return nil, s.burndown(w, r, false)
}

func (s *Server) apiBurndownCSV(w http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	return nil, s.burndown(w, r, true)
}

// burndown sends the burn-down chart (or its data) of a campaign as a file.
func (s *Server) burndown(w http.ResponseWriter, r *http.Request, asCSV bool) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	days, err := s.progress.Days(r.Context(), rec.Campaign.ID)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if asCSV {
		if err := report.WriteBurndownCSV(&b, days); err != nil {
			return err
		}
		return download(w, "text/csv; charset=utf-8", rec.Campaign.ID+"-burndown.csv", b.Bytes())
	}
	if err := report.WriteBurndown(&b, chartTitle(rec.Campaign), days, report.Markers(rec.Campaign)); err != nil {
		return err
	}
	return download(w, "image/svg+xml", rec.Campaign.ID+"-burndown.svg", b.Bytes())
}

func chartTitle(c *campaign.Campaign) string {
	if c.Title != "" {
		return "Burn-down: " + c.Title
	}
	return "Burn-down: " + c.ID
}

func (s *Server) apiUnassigned(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	at, err := s.planDate(r, rec.Campaign)
	if err != nil {
		return nil, err
	}
	return s.planner.Unassigned(r.Context(), rec.Campaign, at.AddDays(-rec.Campaign.ActivityWindowDays), at)
}

func (s *Server) apiSuppressed(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	all, err := s.suppression.All(r.Context())
	if err == nil && all == nil {
		return []any{}, nil
	}
	return all, err
}

// errNoRender: a notice that cannot be shown from here (its campaign uses a templates folder).
var errNoRender = errors.New("this campaign's templates are a folder beside its file, which only the CLI can read: use sunset preview")
