package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
)

// The team's side of the answers: every answer of a campaign, and the two decisions they wait
// for (a disputed account reassigned or confirmed; a request for more time approved or refused),
// in the API and the console.

func (s *Server) apiAnswers(_ http.ResponseWriter, r *http.Request, _ Identity) (any, error) {
	if _, err := s.campaigns.Get(r.Context(), r.PathValue("id")); err != nil {
		return nil, err
	}
	return s.answers.List(r.Context(), r.PathValue("id"))
}

// disputeDecision is the body of POST /api/campaigns/{id}/disputes: reassign the account to
// another organisation (reassign_to), or confirm it is the organisation's (no reassign_to).
type disputeDecision struct {
	Org        string `json:"org"`
	Account    string `json:"account"`
	ReassignTo string `json:"reassign_to,omitempty"`
}

func (s *Server) apiDispute(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	var req disputeDecision
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.resolveDispute(r, id, req); err != nil {
		return nil, err
	}
	return s.answers.List(r.Context(), r.PathValue("id"))
}

func (s *Server) resolveDispute(r *http.Request, id Identity, req disputeDecision) error {
	if strings.TrimSpace(req.Org) == "" || strings.TrimSpace(req.Account) == "" {
		return &httpError{status: http.StatusBadRequest, msg: "org and account are required"}
	}
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if to := campaign.NormODS(req.ReassignTo); to != "" {
		orgs, err := s.planner.Directory.Orgs(r.Context(), []string{to})
		if err != nil {
			return err
		}
		if o, ok := orgs[to]; !ok || o.Gone {
			return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("reassign_to %q: the directory has no such organisation", req.ReassignTo)}
		}
	}
	return s.answers.ResolveDispute(r.Context(), rec.Campaign, req.Org, req.Account, req.ReassignTo, id.By())
}

// requestDecision is the body of POST /api/campaigns/{id}/requests.
type requestDecision struct {
	Org     string `json:"org"`
	Until   string `json:"until"`
	Approve bool   `json:"approve"`
	Reason  string `json:"reason,omitempty"` // why it is refused
}

func (s *Server) apiRequest(_ http.ResponseWriter, r *http.Request, id Identity) (any, error) {
	var req requestDecision
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.decideRequest(r, id, req); err != nil {
		return nil, err
	}
	return s.answers.List(r.Context(), r.PathValue("id"))
}

func (s *Server) decideRequest(r *http.Request, id Identity, req requestDecision) error {
	until, err := calendar.Parse(strings.TrimSpace(req.Until))
	if err != nil || strings.TrimSpace(req.Org) == "" {
		return &httpError{status: http.StatusBadRequest, msg: "org and until (YYYY-MM-DD) are required"}
	}
	if req.Approve {
		_, err = s.answers.Approve(r.Context(), s.campaigns, r.PathValue("id"), req.Org, until, id.By())
		return err
	}
	return s.answers.Refuse(r.Context(), r.PathValue("id"), req.Org, until, id.By(), strings.TrimSpace(req.Reason))
}

func (s *Server) pageAnswers(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	all, err := s.answers.List(r.Context(), rec.Campaign.ID)
	if err != nil {
		return err
	}
	v.Title, v.Crumbs = "Answers from organisations", crumbsFor(rec.Campaign.ID, crumb{"Answers", ""})
	v.Data = struct {
		ID      string
		Answers answers.Answers
	}{rec.Campaign.ID, all}
	return s.show(w, http.StatusOK, v, "answers")
}

// postDispute decides a dispute from the console, after its confirmation page.
func (s *Server) postDispute(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	req := disputeDecision{Org: r.PostFormValue("org"), Account: r.PostFormValue("account"), ReassignTo: r.PostFormValue("reassign_to")}
	if r.PostFormValue("confirm") != "yes" {
		c := confirm{Question: fmt.Sprintf("Confirm %s is %s's?", req.Account, campaign.NormODS(req.Org)),
			Detail: "It stays on their notices, no longer marked under review.", Button: "Confirm it is theirs",
			Action: "/console/campaigns/" + id + "/disputes", Back: "/console/campaigns/" + id + "/answers",
			Fields: map[string]string{"org": req.Org, "account": req.Account, "confirm": "yes"}}
		if to := campaign.NormODS(req.ReassignTo); to != "" {
			c.Question, c.Button = fmt.Sprintf("Reassign %s from %s to %s?", req.Account, campaign.NormODS(req.Org), to), "Reassign the account"
			c.Detail = "For this campaign, its findings and next notices go to " + to + ", not to " + campaign.NormODS(req.Org) + "."
			c.Fields["reassign_to"] = to
		}
		v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(id, crumb{"Answers", "/console/campaigns/" + id + "/answers"}, crumb{"Decide", ""}), c
		return s.show(w, http.StatusOK, v, "confirm")
	}
	if err := s.resolveDispute(r, v.Who, req); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/campaigns/"+id+"/answers?done=dispute", http.StatusSeeOther)
	return nil
}

// postRequest decides a request for more time from the console, after its confirmation page.
func (s *Server) postRequest(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	req := requestDecision{Org: r.PostFormValue("org"), Until: r.PostFormValue("until"), Approve: r.PostFormValue("decision") == "approve",
		Reason: r.PostFormValue("reason")}
	if r.PostFormValue("confirm") != "yes" {
		c := confirm{Question: fmt.Sprintf("Move %s's deadline to %s?", campaign.NormODS(req.Org), req.Until),
			Detail: "The extension is made as `sunset campaign extend` makes it: the organisation's whole schedule moves.",
			Button: "Approve the request", Action: "/console/campaigns/" + id + "/requests", Back: "/console/campaigns/" + id + "/answers",
			Fields: map[string]string{"org": req.Org, "until": req.Until, "decision": "approve", "confirm": "yes"}}
		if !req.Approve {
			c.Question, c.Button, c.Warning = fmt.Sprintf("Refuse %s's request for %s?", campaign.NormODS(req.Org), req.Until), "Refuse the request", true
			c.Detail = "Why: " + req.Reason
			c.Fields["decision"], c.Fields["reason"] = "refuse", req.Reason
		}
		v.Title, v.Crumbs, v.Data = c.Question, crumbsFor(id, crumb{"Answers", "/console/campaigns/" + id + "/answers"}, crumb{"Decide", ""}), c
		return s.show(w, http.StatusOK, v, "confirm")
	}
	if err := s.decideRequest(r, v.Who, req); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/campaigns/"+id+"/answers?done=request", http.StatusSeeOther)
	return nil
}
