package api

import (
	"net/http"
	"strings"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
)

// This file is the console's view of merged emails (one email to one address for several
// organisations' notices of a day): the campaign's list, and each as sent.

// mailsPage is a campaign's merged emails, newest day first.
type mailsPage struct {
	ID    string
	Mails []ledger.Mail
}

func (s *Server) pageMails(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := s.campaigns.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ms, err := s.ledger.Mails(r.Context(), rec.Campaign.ID)
	if err != nil {
		return err
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	v.Title = "Merged emails of " + rec.Campaign.ID
	v.Crumbs, v.Data = crumbsFor(rec.Campaign.ID, crumb{"Merged emails", ""}), mailsPage{ID: rec.Campaign.ID, Mails: ms}
	return s.show(w, http.StatusOK, v, "mails")
}

// mailAsSent is a merged email as the ledger recorded it and rendered again from its notices.
type mailAsSent struct {
	ID      string
	Mail    *ledger.Mail
	Orgs    []ledger.Notice
	Email   *notice.Email
	Version int
	// Verified: the rendering's hash is the one recorded when it was sent.
	Verified bool
	Sent     bool
	Problem  string
}

// rerenderMail renders a merged email with the campaign version in force when it was sent (or
// made), from the notices it carried (listed, if not sent yet), and checks it against the hash
// the sender recorded.
func (s *Server) rerenderMail(r *http.Request) (*mailAsSent, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	k, err := ledger.ParseMailID(id, r.PathValue("mail"))
	if err != nil {
		return nil, &httpError{status: http.StatusNotFound, msg: err.Error()}
	}
	m, err := s.ledger.GetMail(ctx, k)
	if err != nil {
		return nil, err
	}
	out := &mailAsSent{ID: id, Mail: m, Sent: m.Status == ledger.Sent}
	keys := m.Carried
	if len(keys) == 0 {
		keys = m.Notices
	}
	for _, nk := range keys {
		n, err := s.ledger.Get(ctx, nk.Campaign, nk.Org, nk.Stage)
		if err != nil {
			return nil, err
		}
		out.Orgs = append(out.Orgs, *n)
	}
	hist, err := s.campaigns.History(ctx, id)
	if err != nil {
		return nil, err
	}
	at := m.SentAt
	if at.IsZero() {
		at = s.opt.Clock()
	}
	var c *campaign.Campaign
	for _, h := range hist {
		if c == nil || !h.At.After(at) {
			c, out.Version = h.Campaign, h.Version
		}
	}
	if c == nil {
		return nil, &httpError{status: http.StatusNotFound, msg: "campaign " + id + " has no version to render with"}
	}
	render := func(live bool) (*notice.Email, error) {
		rd, err := s.renderer(r, c, live)
		if err != nil {
			return nil, err
		}
		when := s.opt.Clock()
		if !m.SentAt.IsZero() {
			when = m.SentAt
		}
		return rd.RenderMerged(k, m.Address, out.Orgs, when)
	}
	sent, err := render(true)
	if err != nil {
		out.Problem = err.Error()
		return out, nil
	}
	out.Verified = m.ContentSHA256 != "" && sent.SHA256() == m.ContentSHA256
	if out.Email, err = render(false); err != nil {
		out.Problem = err.Error()
	}
	return out, nil
}

func (s *Server) pageMail(w http.ResponseWriter, r *http.Request, v *view) error {
	a, err := s.rerenderMail(r)
	if err != nil {
		return err
	}
	v.Title = "The merged email to " + a.Mail.Address + " of " + a.Mail.Day.British()
	v.Crumbs = crumbsFor(a.ID, crumb{"Merged emails", "/console/campaigns/" + a.ID + "/mails"}, crumb{a.Mail.Day.British(), ""})
	v.Data = a
	return s.show(w, http.StatusOK, v, "mail")
}

// pageMailHTML is a merged email's HTML on its own, for the mail page's frame (sandboxed).
func (s *Server) pageMailHTML(w http.ResponseWriter, r *http.Request, _ *view) error {
	a, err := s.rerenderMail(r)
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

// mergedLink is one address of a notice whose copy went in a merged email, for the notice page.
type mergedLink struct {
	Address, Day, MailID string
}

// mergedLinks are the merged emails a notice's recipients got it in.
func mergedLinks(n *ledger.Notice) []mergedLink {
	var out []mergedLink
	for _, e := range n.Merged {
		a, d, _ := strings.Cut(e, "|")
		out = append(out, mergedLink{Address: a, Day: d, MailID: d + "_" + ledger.AddressHash(a)})
	}
	return out
}
