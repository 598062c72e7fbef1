package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
)

// The answer pages: public (no sign-in: the link's signed token is the authority), small, and
// without JavaScript. A GET shows what the link is about and a form; a POST, carrying a form
// token bound to the link's, records the answer once however often it is sent, and says so.

const (
	// answerRate is how many requests one link may make a minute (API Gateway also limits the
	// route and each source).
	answerRate = 30
	// maxNote is the longest note or reason, in characters.
	maxNote = 1000
	// maxAnswerForm bounds an answer form's body.
	maxAnswerForm = 16 << 10
	// purposeAnswerCSRF is the MAC purpose of an answer form's token.
	purposeAnswerCSRF = "answer-csrf"
)

// answerData is an answer page.
type answerData struct {
	Purpose, Action, CSRF, Button            string
	CampaignTitle, Org, OrgName, Stage, Sent string
	Recipients, Accounts                     []string
	Checked                                  map[string]bool
	By, Note, Until, Error                   string
	Deadline, Latest, LatestISO, MinISO      string
	Roster, Test                             bool
}

// answeredData is an answer page's outcome, or a link that cannot be answered.
type answeredData struct {
	CampaignTitle string
	Class         string // done, test, error
	Lines         []string
	Back          string
}

var answerTitles = map[answers.Purpose][2]string{
	answers.Fixed:    {"We have changed these settings", "Send"},
	answers.NotOurs:  {"These accounts are not ours", "Send"},
	answers.MoreTime: {"We need more time", "Ask for more time"},
}

// answerCase is one request to an answer page: its link, notice and campaign, once checked.
type answerCase struct {
	purpose answers.Purpose
	token   string
	link    answers.Link
	n       *ledger.Notice
	c       *campaign.Campaign
}

// openAnswer checks a request to an answer page: a link of ours for an answer we take, not
// expired, within its rate, naming a notice we sent. The link is verified before it is counted
// (a forged or mistyped token costs an HMAC, never a write), and the count is per notice and
// answer, not per spelling of the token. On false it has answered.
func (s *Server) openAnswer(w http.ResponseWriter, r *http.Request) (*answerCase, bool) {
	ac := &answerCase{purpose: answers.Purpose(r.PathValue("purpose")), token: r.PathValue("token")}
	var err error
	ac.link, err = s.links(r).Read(ac.purpose, ac.token, s.opt.Clock())
	switch {
	case errors.Is(err, answers.ErrExpired):
		s.answered(w, r, http.StatusGone, "This link has expired", "", "error",
			"This link has expired: the campaign it came with is over. If you still need help, contact the NHSmail helpdesk.")
		return nil, false
	case err != nil:
		s.answered(w, r, http.StatusBadRequest, "This link is not valid", "", "error",
			"This link is not valid. Check you opened the whole link from the email: copying it by hand can cut it short.")
		return nil, false
	}
	ok, err := s.answers.Allow(r.Context(), ac.link.RateKey(ac.purpose), answerRate)
	if err != nil {
		s.answered(w, r, http.StatusInternalServerError, "Something went wrong", "", "error", "Something went wrong on our side. Please try again later.")
		s.opt.Logger.Error("answer rate", "error", err)
		return nil, false
	}
	if !ok {
		s.answered(w, r, http.StatusTooManyRequests, "Too many requests", "", "error", "This link has been used too often in the last minute. Wait a minute and try again.")
		return nil, false
	}
	if ac.c, ac.n, err = s.noticeOf(r, ac.link); err != nil {
		if isNotFound(err) {
			s.answered(w, r, http.StatusBadRequest, "This link is not valid", "", "error", "This link does not match a notice we sent.")
		} else {
			s.answered(w, r, http.StatusInternalServerError, "Something went wrong", "", "error", "Something went wrong on our side. Please try again later.")
			s.opt.Logger.Error("answer page", "error", err)
		}
		return nil, false
	}
	return ac, true
}

func (s *Server) noticeOf(r *http.Request, l answers.Link) (*campaign.Campaign, *ledger.Notice, error) {
	rec, err := s.campaigns.Get(r.Context(), l.Campaign)
	if err != nil {
		return nil, nil, err
	}
	n, err := s.ledger.Get(r.Context(), l.Campaign, l.Org, l.Stage)
	if err != nil {
		return nil, nil, err
	}
	return rec.Campaign, n, nil
}

// form is the answer page's form for this link, filled in with what was sent.
func (s *Server) form(r *http.Request, ac *answerCase) (answerData, error) {
	n, c := ac.n, ac.c
	d := answerData{Purpose: string(ac.purpose), Action: r.URL.Path, CSRF: s.opt.Keys.MAC(purposeAnswerCSRF, []byte(ac.token)),
		Button: answerTitles[ac.purpose][1], CampaignTitle: cmpOr(c.Title, c.ID), Org: n.Org, OrgName: cmpOr(n.OrgName, n.Org),
		Stage: n.Stage, Sent: n.PlannedFor.British(), Recipients: n.Recipients, Checked: map[string]bool{}, Test: ac.link.Test,
		Roster: c.AudienceSource == campaign.SourceRoster, Deadline: n.Deadline.British()}
	if !n.SentAt.IsZero() {
		d.Sent = c.Today(n.SentAt).British()
	}
	for _, a := range n.Accounts {
		if acct := strings.ToLower(a.Account); acct != "" && !slices.Contains(d.Accounts, acct) {
			d.Accounts = append(d.Accounts, acct)
		}
	}
	if ac.purpose == answers.MoreTime {
		_, latest, err := s.campaigns.Deadlines(r.Context(), c.ID, n.Org)
		if err != nil {
			return d, err
		}
		d.Latest, d.LatestISO, d.MinISO = latest.British(), latest.String(), n.Deadline.AddDays(1).String()
	}
	return d, nil
}

func (s *Server) answerGet(w http.ResponseWriter, r *http.Request) {
	ac, ok := s.openAnswer(w, r)
	if !ok {
		return
	}
	d, err := s.form(r, ac)
	if err != nil {
		s.answered(w, r, http.StatusInternalServerError, "Something went wrong", "", "error", "Something went wrong on our side. Please try again later.")
		return
	}
	s.showAnswer(w, http.StatusOK, d, ac.purpose)
}

func (s *Server) showAnswer(w http.ResponseWriter, status int, d answerData, p answers.Purpose) {
	if err := s.show(w, status, &view{Title: answerTitles[p][0], Data: d}, "answer"); err != nil {
		http.Error(w, "something went wrong", http.StatusInternalServerError)
	}
}

// answered shows an outcome page.
func (s *Server) answered(w http.ResponseWriter, _ *http.Request, status int, title, campaignTitle, class string, lines ...string) {
	d := answeredData{CampaignTitle: campaignTitle, Class: class, Lines: lines}
	if err := s.show(w, status, &view{Title: title, Data: d}, "answered"); err != nil {
		http.Error(w, "something went wrong", http.StatusInternalServerError)
	}
}

// formError is a mistake in an answer form, said to the person as it is: a sentence.
type formError string

func (e formError) Error() string { return string(e) }

// cleanNote is a note as it is kept: valid UTF-8 (refused otherwise), control characters but
// line breaks removed, at most maxNote characters.
func cleanNote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", formError("The text has characters we cannot read. Please type it again.")
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(notice.Clean(line))
	}
	out := strings.TrimSpace(b.String())
	if utf8.RuneCountInString(out) > maxNote {
		return "", formError(fmt.Sprintf("The text is over %d characters. Please shorten it.", maxNote))
	}
	return out, nil
}

// answerPost records an answer. Its checks, in order: the link (openAnswer), the form's token,
// then each field against the notice; a mistake shows the form again, filled in, saying what
// to change. Nothing is recorded until every field is right.
func (s *Server) answerPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAnswerForm)
	ac, ok := s.openAnswer(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		s.answered(w, r, http.StatusBadRequest, "The form could not be read", "", "error", "The form could not be read (it was too large, or not a form). Open the link from the email again.")
		return
	}
	if !s.opt.Keys.EqualMAC(purposeAnswerCSRF, []byte(ac.token), r.PostFormValue("csrf")) {
		s.answered(w, r, http.StatusForbidden, "This form has expired", "", "error", "This form did not come from the page of this link. Open the link from the email again.")
		return
	}
	d, err := s.form(r, ac)
	if err != nil {
		s.answered(w, r, http.StatusInternalServerError, "Something went wrong", "", "error", "Something went wrong on our side. Please try again later.")
		return
	}
	d.By, d.Until = r.PostFormValue("by"), r.PostFormValue("until")
	for _, a := range r.PostForm["account"] {
		d.Checked[strings.ToLower(a)] = true
	}
	d.Note, err = cleanNote(r.PostFormValue("note"))
	if err == nil {
		err = s.check(ac, &d, r.PostForm["account"])
	}
	if err != nil {
		d.Error = err.Error()
		s.showAnswer(w, http.StatusBadRequest, d, ac.purpose)
		return
	}
	if ac.link.Test {
		s.answered(w, r, http.StatusOK, "Thank you", d.CampaignTitle, "test", "This link came in a test email: your answer was checked but not recorded.")
		return
	}
	fresh, err := s.record(r, ac, d)
	if err != nil {
		s.opt.Logger.Error("record answer", "campaign", ac.link.Campaign, "org", ac.link.Org, "error", err)
		s.answered(w, r, http.StatusInternalServerError, "Something went wrong", d.CampaignTitle, "error", "Something went wrong on our side: your answer was not recorded. Please try again later.")
		return
	}
	lines := map[answers.Purpose]string{
		answers.Fixed:    "Your answer is recorded. The reminders stop by themselves once our logs no longer show these accounts; if they still do, the next notice will say so.",
		answers.NotOurs:  "Your answer is recorded. The NHSmail team will check each account; until they decide, it stays on your notices, marked \"under review\".",
		answers.MoreTime: "Your request is recorded. The NHSmail team will decide and tell you; until then the deadline in the notice stands.",
	}
	if !fresh {
		lines[ac.purpose] = "We already had this answer from you: nothing new was recorded."
	}
	s.answered(w, r, http.StatusOK, "Thank you", d.CampaignTitle, "done", lines[ac.purpose])
}

// check is what is wrong with an answer's fields (nil: nothing).
func (s *Server) check(ac *answerCase, d *answerData, accounts []string) error {
	if !slices.ContainsFunc(d.Recipients, func(a string) bool { return strings.EqualFold(a, d.By) }) {
		return formError("Choose your address from the list: one of the addresses the notice was sent to.")
	}
	switch ac.purpose {
	case answers.NotOurs:
		if len(accounts) == 0 {
			return formError("Tick at least one account that is not yours.")
		}
		for _, a := range accounts {
			if !slices.Contains(d.Accounts, strings.ToLower(a)) {
				return formError("Tick only accounts from the list.")
			}
		}
	case answers.MoreTime:
		until, err := calendar.Parse(strings.TrimSpace(d.Until))
		switch {
		case err != nil:
			return formError("Enter the new date as day, month and year.")
		case !until.After(ac.n.Deadline):
			return formError(fmt.Sprintf("Enter a date after the deadline, %s.", ac.n.Deadline.British()))
		case d.LatestISO != "" && until.String() > d.LatestISO:
			return formError(fmt.Sprintf("The latest date we can allow is %s.", d.Latest))
		case d.Note == "":
			return formError("Tell us why you need more time.")
		}
	}
	return nil
}

// record keeps the answer: once, however often the same answer is sent (false: it was there).
func (s *Server) record(r *http.Request, ac *answerCase, d answerData) (bool, error) {
	ctx, id, exp := r.Context(), ac.link.Campaign, ac.c.RetainUntil()
	by := d.By
	for _, a := range d.Recipients { // as the notice spelt it
		if strings.EqualFold(a, d.By) {
			by = a
		}
	}
	switch ac.purpose {
	case answers.Fixed:
		return s.answers.Acknowledge(ctx, id, answers.Ack{Org: ac.n.Org, Stage: ac.n.Stage, By: by, Note: d.Note}, exp)
	case answers.NotOurs:
		fresh := false
		for a := range d.Checked {
			ok, err := s.answers.Dispute(ctx, id, answers.Dispute{Org: ac.n.Org, Stage: ac.n.Stage, Account: a, By: by, Note: d.Note}, exp)
			if err != nil {
				return false, err
			}
			fresh = fresh || ok
		}
		return fresh, nil
	default:
		until, _ := calendar.Parse(strings.TrimSpace(d.Until))
		return s.answers.RequestTime(ctx, id, answers.Request{Org: ac.n.Org, Stage: ac.n.Stage, Until: until, Reason: d.Note, By: by}, exp)
	}
}
