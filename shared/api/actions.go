package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// Every change in the console takes two steps: a page that says exactly what will happen, with
// a button that makes it happen (a POST carrying the session's form token). Nothing changes on
// a GET.

// confirm is a confirmation page: what will happen, where the button posts, and the fields it
// carries.
type confirm struct {
	Question, Detail, Button, Action, Back string
	Warning                                bool
	Fields                                 map[string]string
}

func (s *Server) pageConfirmStatus(w http.ResponseWriter, r *http.Request, v *view) error {
	action, id := r.PathValue("action"), r.PathValue("id")
	if _, ok := statusOf[action]; !ok {
		return &httpError{status: http.StatusNotFound, msg: "There is no such page."}
	}
	if _, err := s.campaigns.Get(r.Context(), id); err != nil {
		return err
	}
	c := confirm{Action: "/console/campaigns/" + id + "/" + action, Back: "/console/campaigns/" + id}
	switch action {
	case "pause":
		c.Question, c.Button = "Pause "+id+"?", "Pause the campaign"
		c.Detail = "While it is paused, the daily run sends nothing for it (it still records who is affected). You can resume it later."
	case "resume":
		c.Question, c.Button = "Resume "+id+"?", "Resume the campaign"
		c.Detail = "The next daily run sends whatever stage is due then."
	case "cancel":
		c.Question, c.Button, c.Warning = "Cancel "+id+"?", "Cancel the campaign for good", true
		c.Detail = "A cancelled campaign never sends again, and cannot be resumed or re-applied."
	}
	v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(id, crumb{strings.ToUpper(action[:1]) + action[1:], ""}), c
	return s.show(w, http.StatusOK, v, "confirm")
}

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request, v *view) error {
	action, id := r.PathValue("action"), r.PathValue("id")
	status, ok := statusOf[action]
	if !ok {
		return &httpError{status: http.StatusNotFound, msg: "There is no such page."}
	}
	if err := s.campaigns.SetStatus(r.Context(), id, status, v.Who.By()); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/campaigns/"+id+"?done="+action, http.StatusSeeOther)
	return nil
}

// extendForm is the extension form, filled in again after a mistake or for the confirmation.
type extendForm struct {
	ID, Org, Until, Reason, Error string
	Latest                        string
}

func (s *Server) pageExtend(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.showExtend(w, v, rec.Campaign, extendForm{ID: rec.Campaign.ID, Org: r.URL.Query().Get("org")}, http.StatusOK)
}

func (s *Server) showExtend(w http.ResponseWriter, v *view, c *campaign.Campaign, f extendForm, status int) error {
	if c.MaxExtensionDays > 0 && !c.Shutdown.IsZero() && c.AudienceSource != campaign.SourceRoster {
		f.Latest = c.Shutdown.AddDays(c.MaxExtensionDays).British()
	}
	v.Title, v.Crumbs, v.Data = "Extend an organisation's deadline", crumbsFor(c.ID, crumb{"Extend", ""}), f
	return s.show(w, status, v, "extend")
}

func (s *Server) postExtend(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	req := extendRequest{Org: r.PostFormValue("org"), Until: r.PostFormValue("until"), Reason: r.PostFormValue("reason")}
	f := extendForm{ID: rec.Campaign.ID, Org: req.Org, Until: req.Until, Reason: req.Reason}
	if r.PostFormValue("confirm") != "yes" {
		if msg := checkExtend(req); msg != "" {
			f.Error = msg
			return s.showExtend(w, v, rec.Campaign, f, http.StatusBadRequest)
		}
		c := confirm{Question: fmt.Sprintf("Extend %s's deadline to %s?", strings.ToUpper(req.Org), req.Until),
			Detail: "Reason: " + req.Reason + ". The organisation's whole schedule moves with its deadline.",
			Button: "Extend the deadline", Action: "/console/campaigns/" + rec.Campaign.ID + "/extend", Back: "/console/campaigns/" + rec.Campaign.ID,
			Fields: map[string]string{"org": req.Org, "until": req.Until, "reason": req.Reason, "confirm": "yes"}}
		v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(rec.Campaign.ID, crumb{"Extend", ""}), c
		return s.show(w, http.StatusOK, v, "confirm")
	}
	if _, err := s.extend(r, v.Who, req); err != nil {
		he := classify(err)
		if he.status >= 500 {
			return err
		}
		f.Error = sentence(he.msg)
		return s.showExtend(w, v, rec.Campaign, f, he.status)
	}
	http.Redirect(w, r, "/console/campaigns/"+rec.Campaign.ID+"?done=extend#extensions", http.StatusSeeOther)
	return nil
}

// checkExtend is what is wrong with an extension form before it is confirmed ("" for nothing).
func checkExtend(req extendRequest) string {
	switch {
	case strings.TrimSpace(req.Org) == "":
		return "Enter the organisation's ODS code."
	case strings.TrimSpace(req.Until) == "":
		return "Enter the new deadline."
	case strings.TrimSpace(req.Reason) == "":
		return "Enter why the deadline is extended: it is kept with the extension."
	case len(req.Reason) > 1000:
		return "The reason is over 1,000 characters."
	}
	return ""
}

// sendTestForm is the test-send form.
type sendTestForm struct {
	ID, ODS, Stage, To, Error, Sent string
	Stages                          []string
}

func (s *Server) pageSendTest(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.showSendTest(w, v, rec.Campaign, sendTestForm{ID: rec.Campaign.ID, ODS: strings.ToUpper(r.PathValue("ods")), Stage: r.URL.Query().Get("stage")}, http.StatusOK)
}

func (s *Server) showSendTest(w http.ResponseWriter, v *view, c *campaign.Campaign, f sendTestForm, status int) error {
	for _, st := range c.Stages {
		f.Stages = append(f.Stages, st.Name)
	}
	v.Title = "Send a test of " + f.ODS + "'s notice"
	v.Crumbs, v.Data = crumbsFor(c.ID, crumb{f.ODS, "/console/campaigns/" + c.ID + "/orgs/" + f.ODS}, crumb{"Send a test", ""}), f
	return s.show(w, status, v, "sendtest")
}

func (s *Server) postSendTest(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ods := strings.ToUpper(r.PathValue("ods"))
	req := sendTestRequest{Org: ods, Stage: r.PostFormValue("stage"), To: strings.TrimSpace(r.PostFormValue("to"))}
	f := sendTestForm{ID: rec.Campaign.ID, ODS: ods, Stage: req.Stage, To: req.To}
	if r.PostFormValue("confirm") != "yes" {
		c := confirm{Question: fmt.Sprintf("Send a test of %s's %s notice to %s?", ods, req.Stage, req.To),
			Detail: "The email is marked [TEST] and goes to this address only; nothing is recorded in the ledger.",
			Button: "Send the test", Action: "/console/campaigns/" + rec.Campaign.ID + "/orgs/" + ods + "/send-test",
			Back:   "/console/campaigns/" + rec.Campaign.ID + "/orgs/" + ods,
			Fields: map[string]string{"stage": req.Stage, "to": req.To, "confirm": "yes"}}
		v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(rec.Campaign.ID, crumb{ods, "/console/campaigns/" + rec.Campaign.ID + "/orgs/" + ods}, crumb{"Send a test", ""}), c
		return s.show(w, http.StatusOK, v, "confirm")
	}
	sent, err := s.sendTest(r, v.Who, req)
	if err != nil {
		he := classify(err)
		if he.status >= 500 {
			return err
		}
		f.Error = sentence(he.msg)
		return s.showSendTest(w, v, rec.Campaign, f, he.status)
	}
	f.Sent = fmt.Sprintf("Test sent to %s: %q (message id %s).", sent.To, sent.Subject, sent.MessageID)
	return s.showSendTest(w, v, rec.Campaign, f, http.StatusOK)
}

// applyForm is the apply page: the file's text, and after a check what it would change.
type applyForm struct {
	YAML, Name string
	Problems   []Problem
	Error      string
	Checked    *validated
	Changes    []string
	New        bool
}

func (s *Server) pageApply(w http.ResponseWriter, _ *http.Request, v *view) error {
	v.Title, v.Crumbs, v.Data = "Apply a campaign file", []crumb{{"Campaigns", "/console/"}, {"Apply", ""}}, applyForm{}
	return s.show(w, http.StatusOK, v, "apply")
}

// postApply checks the file first and shows what it would change; a second POST with
// confirm=yes applies exactly the text that was checked.
func (s *Server) postApply(w http.ResponseWriter, r *http.Request, v *view) error {
	f := applyForm{YAML: r.PostFormValue("yaml"), Name: "campaign.yaml"}
	if file, hdr, err := r.FormFile("file"); err == nil {
		defer file.Close()
		b := make([]byte, campaign.MaxCampaignFile+1)
		n, _ := readFull(file, b)
		f.YAML, f.Name = string(b[:n]), hdr.Filename
	}
	v.Title, v.Crumbs = "Apply a campaign file", []crumb{{"Campaigns", "/console/"}, {"Apply", ""}}
	show := func(status int) error { v.Data = f; return s.show(w, status, v, "apply") }
	if strings.TrimSpace(f.YAML) == "" {
		f.Error = "Paste the campaign file, or choose it."
		return show(http.StatusBadRequest)
	}
	c, err := s.parseUpload(r, []byte(f.YAML))
	if err != nil {
		he := classify(err)
		if he.status >= 500 {
			return err
		}
		f.Error, f.Problems = sentence(he.msg), he.problems
		return show(he.status)
	}
	if r.PostFormValue("confirm") != "yes" {
		f.Checked = &validated{OK: true, Campaign: c.ID, Summary: summary(c)}
		prev, err := s.campaigns.Get(r.Context(), c.ID)
		switch {
		case err == nil:
			f.Changes = campaign.Diff(prev.Campaign, c)
		case isNotFound(err):
			f.New = true
		default:
			return err
		}
		return show(http.StatusOK)
	}
	_, changes, err := s.campaigns.Apply(r.Context(), c, v.Who.By())
	if err != nil {
		return err
	}
	done := "apply"
	if changes == nil {
		done = "unchanged"
	}
	http.Redirect(w, r, "/console/campaigns/"+c.ID+"?done="+done, http.StatusSeeOther)
	return nil
}

// postResend sends a failed notice again, on record: the notice page's form gives the reason,
// a confirmation shows the error it failed with, and the confirmed POST hands it over
// (Options.Resend, or in-process on the local console). The release is conditional on the
// notice still failing with that error, so a second confirmation, or a second operator, finds
// nothing to send.
func (s *Server) postResend(w http.ResponseWriter, r *http.Request, v *view) error {
	ctx := r.Context()
	id, ods, stage := r.PathValue("id"), strings.ToUpper(r.PathValue("ods")), r.PathValue("stage")
	n, err := s.ledger.Get(ctx, id, ods, stage)
	if err != nil {
		return err
	}
	page := "/console/campaigns/" + id + "/orgs/" + n.Org + "/notices/" + n.Stage
	if n.Status != ledger.Failed {
		return &httpError{status: http.StatusConflict, msg: fmt.Sprintf("The notice is %s, not failed: there is nothing to send again.", n.Status)}
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" || len(reason) > 1000 || r.PostFormValue("failed") != "" && r.PostFormValue("failed") != n.Error {
		return &httpError{status: http.StatusBadRequest, msg: "Say why it can be sent now (at most 1,000 characters): it is kept on the notice."}
	}
	if r.PostFormValue("confirm") != "yes" {
		c := confirm{Question: fmt.Sprintf("Send %s's %s notice again?", cmpOr(n.OrgName, n.Org), n.Stage),
			Detail: "It failed: " + n.Error + ". Reason to send it now: " + reason + ". It goes once, to " + strings.Join(n.Recipients, ", ") + ".",
			Button: "Send it again", Action: page + "/resend", Back: page,
			Fields: map[string]string{"reason": reason, "failed": n.Error, "confirm": "yes"}}
		v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(id, crumb{n.Stage + " notice", page}), c
		return s.show(w, http.StatusOK, v, "confirm")
	}
	if err := s.resend(r, *n, v.Who.By(), reason); err != nil {
		return err
	}
	http.Redirect(w, r, page+"?done=resend", http.StatusSeeOther)
	return nil
}

// resend hands a failed notice over to be sent again: Options.Resend, or on the local console
// the release and the send in-process.
func (s *Server) resend(r *http.Request, n ledger.Notice, by, reason string) error {
	if s.opt.Resend != nil {
		return s.opt.Resend(r.Context(), n, by, reason)
	}
	if s.opt.Local == nil {
		return &httpError{status: http.StatusNotImplemented, msg: "Sending again is not set up here: use sunset reconcile --failed --resend."}
	}
	if err := s.ledger.ReleaseFailed(r.Context(), n, by, reason); err != nil {
		return err
	}
	_, err := s.sender(r).Send(r.Context(), n.Key())
	return err
}
