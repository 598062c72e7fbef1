package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

const publicURL = "http://127.0.0.1:8080"

// answerWorld is the demo world's console with the links of RX1's advance notice.
type answerWorld struct {
	*world
	srv   *Server
	links answers.Links
	link  answers.Link
}

func newAnswerWorld(t *testing.T) *answerWorld {
	w := newWorld(t)
	s, err := New(Options{DB: w.db, Table: w.table, Stage: w.stage, SES: nil, Clock: w.clock, Keys: w.keys, Local: &Local{}, PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	return &answerWorld{world: w, srv: s, links: answers.Links{Keys: w.keys, Base: publicURL},
		link: answers.Link{Campaign: demoID, Org: "RX1", Stage: "advance"}}
}

func (aw *answerWorld) path(p answers.Purpose, l answers.Link) string {
	u, _ := url.Parse(aw.links.URL(p, l, time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)))
	return u.Path
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get opens a link's page and returns its status, body and form token.
func (aw *answerWorld) get(t *testing.T, path string) (int, string, string) {
	t.Helper()
	resp := do(aw.srv, httptest.NewRequest("GET", loopback+path, nil))
	body := bodyOf(t, resp)
	csrf := ""
	if m := csrfField.FindStringSubmatch(body); m != nil {
		csrf = m[1]
	}
	return resp.StatusCode, body, csrf
}

func (aw *answerWorld) post(t *testing.T, path string, form url.Values) (int, string) {
	t.Helper()
	r := httptest.NewRequest("POST", loopback+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := do(aw.srv, r)
	return resp.StatusCode, bodyOf(t, resp)
}

func (aw *answerWorld) answers(t *testing.T) answers.Answers {
	t.Helper()
	a, err := answers.NewStore(aw.db, aw.table, aw.clock).List(context.Background(), demoID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Each of the three links: its page says what it is about and offers the notice's recipients;
// a good answer is recorded and thanked for; the same answer again records nothing and says so.
func TestAnswerPages(t *testing.T) {
	aw := newAnswerWorld(t)
	const by = "la.rivers@riverside.example.nhs.net"
	for _, tc := range []struct {
		purpose answers.Purpose
		shows   []string
		form    url.Values
	}{
		{answers.Fixed, []string{"We have changed these settings", by, "Riverside Teaching Hospitals NHS Foundation Trust (RX1)"},
			url.Values{"by": {by}, "note": {"the ward printers are done"}}},
		{answers.NotOurs, []string{"These accounts are not ours", `value="ward7.scanner@nhs.net"`}, url.Values{"by": {by}, "account": {"ward7.scanner@nhs.net"}}},
		{answers.MoreTime, []string{"We need more time", "the latest date we can allow is 08 December 2021", `max="2021-12-08"`},
			url.Values{"by": {by}, "until": {"2021-10-01"}, "note": {"the supplier comes on 30 September"}}},
	} {
		t.Run(string(tc.purpose), func(t *testing.T) {
			path := aw.path(tc.purpose, aw.link)
			status, body, csrf := aw.get(t, path)
			if status != 200 {
				t.Fatalf("GET: %d %s", status, body)
			}
			for _, s := range append(tc.shows, `<html lang="en-GB">`) {
				if !strings.Contains(body, s) {
					t.Errorf("the page does not show %q", s)
				}
			}
			tc.form.Set("csrf", csrf)
			status, body = aw.post(t, path, tc.form)
			if status != 200 || !strings.Contains(body, "recorded") {
				t.Fatalf("POST: %d %s", status, body)
			}
			status, body = aw.post(t, path, tc.form)
			if status != 200 || !strings.Contains(body, "We already had this answer") {
				t.Errorf("POST again: %d %s", status, body)
			}
		})
	}
	a := aw.answers(t)
	if len(a.Acks) != 1 || len(a.Disputes) != 1 || len(a.Requests) != 1 || a.Acks[0].Note != "the ward printers are done" ||
		a.Disputes[0].Account != "ward7.scanner@nhs.net" || a.Requests[0].Until.String() != "2021-10-01" {
		t.Errorf("recorded %+v", a)
	}
}

// Bad links and bad forms get a clear page and status, and record nothing.
func TestAnswerBadInput(t *testing.T) {
	aw := newAnswerWorld(t)
	const by = "la.rivers@riverside.example.nhs.net"
	fixed := aw.path(answers.Fixed, aw.link)
	_, _, csrf := aw.get(t, fixed)
	more := aw.path(answers.MoreTime, aw.link)
	_, _, moreCSRF := aw.get(t, more)
	notOurs := aw.path(answers.NotOurs, aw.link)
	_, _, notOursCSRF := aw.get(t, notOurs)
	token := fixed[strings.LastIndexByte(fixed, '/')+1:]
	tampered := []byte(token)
	tampered[10] ^= 1
	expired := answers.Links{Keys: aw.keys, Base: publicURL}.Token(answers.Fixed, aw.link, aw.clock().Add(-time.Minute))
	test := aw.path(answers.Fixed, answers.Link{Campaign: demoID, Org: "RX1", Stage: "advance", Test: true})
	_, _, testCSRF := aw.get(t, test)
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
		status int
		says   string
	}{
		{"tampered token", "GET", "/answer/fixed/" + string(tampered), nil, 400, "This link is not valid"},
		{"token cut short", "GET", "/answer/fixed/" + token[:20], nil, 400, "This link is not valid"},
		{"another answer's token", "GET", "/answer/more-time/" + token, nil, 400, "This link is not valid"},
		{"no such answer", "GET", "/answer/delete/" + token, nil, 400, "This link is not valid"},
		{"expired", "GET", "/answer/fixed/" + expired, nil, 410, "This link has expired"},
		{"a notice that does not exist", "GET", aw.path(answers.Fixed, answers.Link{Campaign: demoID, Org: "ZZZ9", Stage: "advance"}), nil, 400, "does not match a notice"},
		{"no form token", "POST", fixed, url.Values{"by": {by}}, 403, "did not come from the page"},
		{"another link's form token", "POST", fixed, url.Values{"by": {by}, "csrf": {moreCSRF}}, 403, "did not come from the page"},
		{"not a recipient", "POST", fixed, url.Values{"by": {"someone@else.nhs.net"}, "csrf": {csrf}}, 400, "Choose your address from the list"},
		{"no address", "POST", fixed, url.Values{"csrf": {csrf}}, 400, "Choose your address from the list"},
		{"note too long", "POST", fixed, url.Values{"by": {by}, "csrf": {csrf}, "note": {strings.Repeat("é", 1001)}}, 400, "over 1000 characters"},
		{"note not UTF-8", "POST", fixed, url.Values{"by": {by}, "csrf": {csrf}, "note": {"caf\xe9"}}, 400, "characters we cannot read"},
		{"body too large", "POST", fixed, url.Values{"by": {by}, "csrf": {csrf}, "note": {strings.Repeat("x", 20000)}}, 400, "could not be read"},
		{"no account ticked", "POST", notOurs, url.Values{"by": {by}, "csrf": {notOursCSRF}}, 400, "Tick at least one account"},
		{"an account not on the notice", "POST", notOurs, url.Values{"by": {by}, "csrf": {notOursCSRF}, "account": {"ceo@nhs.net"}}, 400, "Tick only accounts from the list"},
		{"a date past the cap", "POST", more, url.Values{"by": {by}, "csrf": {moreCSRF}, "until": {"2021-12-09"}, "note": {"x"}}, 400, "The latest date we can allow is 08 December 2021"},
		{"a date before the deadline", "POST", more, url.Values{"by": {by}, "csrf": {moreCSRF}, "until": {"2021-09-01"}, "note": {"x"}}, 400, "Enter a date after the deadline, 07 September 2021"},
		{"not a date", "POST", more, url.Values{"by": {by}, "csrf": {moreCSRF}, "until": {"next week"}, "note": {"x"}}, 400, "Enter the new date"},
		{"no reason", "POST", more, url.Values{"by": {by}, "csrf": {moreCSRF}, "until": {"2021-10-01"}}, 400, "Tell us why you need more time"},
		{"a test email's link", "POST", test, url.Values{"by": {by}, "csrf": {testCSRF}}, 200, "checked but not recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var status int
			var body string
			if tc.method == "GET" {
				status, body, _ = aw.get(t, tc.path)
			} else {
				status, body = aw.post(t, tc.path, tc.form)
			}
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%d, want %d saying %q:\n%.2000s", status, tc.status, tc.says, body)
			}
			if strings.Contains(body, "goroutine") || strings.Contains(body, ".go:") {
				t.Error("the page shows a stack trace")
			}
		})
	}
	if a := aw.answers(t); len(a.Acks)+len(a.Disputes)+len(a.Requests) != 0 {
		t.Errorf("bad answers recorded %+v", a)
	}
}

// A thousand posts of one answer on one link, many at once: the first 30 of the minute are
// answered (one recorded, the rest told it was there already), the others told to wait; one
// acknowledgement is kept.
func TestAThousandRequestsOnOneLink(t *testing.T) {
	aw := newAnswerWorld(t)
	fixed := aw.path(answers.Fixed, aw.link)
	_, _, csrf := aw.get(t, fixed) // the page itself is the first request of the minute
	form := url.Values{"by": {"la.rivers@riverside.example.nhs.net"}, "csrf": {csrf}}
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for range 1000 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			status, _ := aw.post(t, fixed, form)
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusOK] != answerRate-1 || statuses[http.StatusTooManyRequests] != 1000-(answerRate-1) {
		t.Errorf("statuses %v: want %d answered and the rest 429", statuses, answerRate-1)
	}
	if a := aw.answers(t); len(a.Acks) != 1 {
		t.Errorf("%d acknowledgements kept, want 1", len(a.Acks))
	}
}

// rateItems counts the answer pages' rate-limit items in the table.
func (aw *answerWorld) rateItems(t *testing.T) int {
	t.Helper()
	db, ok := aw.db.(interface {
		Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	})
	if !ok {
		t.Fatalf("the test table cannot scan")
	}
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(aw.table), Select: types.SelectCount,
		FilterExpression: aws.String("begins_with(PK, :r)"), ExpressionAttributeValues: map[string]types.AttributeValue{":r": store.S("RATE#")}})
	if err != nil {
		t.Fatal(err)
	}
	return int(out.Count)
}

// A link has one spelling and one count: other spellings of its token that a lenient base64
// decoder reads as the same bytes (CR and LF inside, the last character's unused bits set) are
// not valid links, so they cannot each start a count of their own; and a token that does not
// verify is refused before anything is written.
func TestAnswerTokenSpellingsShareOneCount(t *testing.T) {
	aw := newAnswerWorld(t)
	fixed := aw.path(answers.Fixed, aw.link)
	token := fixed[strings.LastIndexByte(fixed, '/')+1:]

	for i := range 200 {
		junk := fmt.Sprintf("%s.%043d", strings.Repeat("A", 20+i%7), i)
		if status, _, _ := aw.get(t, "/answer/fixed/"+url.PathEscape(junk)); status != http.StatusBadRequest {
			t.Fatalf("junk token %q: %d", junk, status)
		}
	}
	if n := aw.rateItems(t); n != 0 {
		t.Errorf("tokens that do not verify wrote %d rate items, want none", n)
	}

	for range answerRate {
		if status, _, _ := aw.get(t, fixed); status != http.StatusOK {
			t.Fatalf("the link's own requests: %d", status)
		}
	}
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", token[len(token)-1])
	spellings := []string{token[:8] + "\r\n" + token[8:], token[:30] + "\n" + token[30:], token + "\r",
		token[:len(token)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1]),
		token[:len(token)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|3])}
	for _, sp := range spellings {
		if sp == token {
			continue
		}
		if status, _, _ := aw.get(t, "/answer/fixed/"+url.PathEscape(sp)); status == http.StatusOK {
			t.Errorf("a respelling of the link (%q) was answered after the link's %d requests of the minute", sp, answerRate)
		}
	}
	if status, _, _ := aw.get(t, fixed); status != http.StatusTooManyRequests {
		t.Errorf("the link's request past its rate: %d, want 429", status)
	}
	if n := aw.rateItems(t); n != 1 {
		t.Errorf("%d rate items, want the one of this notice's answer", n)
	}
}

// A note with controls, a bidi override and a zero-width space is kept with them escaped
// (visibly), and the console's page and JSON show no such character as itself.
func TestHostileNoteIsShownEscaped(t *testing.T) {
	aw := newAnswerWorld(t)
	fixed := aw.path(answers.Fixed, aw.link)
	_, _, csrf := aw.get(t, fixed)
	note := "done \x1b]0;pwned\x07 cut\u202Egnp.exe\u200B"
	if status, body := aw.post(t, fixed, url.Values{"by": {"la.rivers@riverside.example.nhs.net"}, "csrf": {csrf}, "note": {note}}); status != 200 {
		t.Fatalf("answer: %d %s", status, body)
	}
	b := newBrowser(t, aw.srv)
	b.signIn("Vera", Viewer, "/console/campaigns/"+demoID+"/answers")
	page := bodyOf(t, b.do("GET", "/console/campaigns/"+demoID+"/answers", nil))
	if !strings.Contains(page, `cut\u202Egnp.exe\u200B`) {
		t.Errorf("the answers page does not show the note escaped:\n%s", page)
	}
	for _, c := range []string{"\x1b", "\x07", "\u202E", "\u200B"} {
		if strings.Contains(page, c) {
			t.Errorf("the answers page shows %q as itself", c)
		}
	}
}

// answerLinks are the answer links in an email's HTML, read back.
func answerLinks(t *testing.T, ls answers.Links, html string, now time.Time) []answers.Link {
	t.Helper()
	var out []answers.Link
	for _, m := range regexp.MustCompile(`/answer/(fixed|not-ours|more-time)/([A-Za-z0-9_.-]+)`).FindAllStringSubmatch(html, -1) {
		l, err := ls.Read(answers.Purpose(m[1]), m[2], now)
		if err != nil {
			t.Fatalf("link %s: %v", m[0], err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		t.Fatalf("no answer links in:\n%.2000s", html)
	}
	return out
}

// What the team is shown of a notice (the API's preview, the console's email as sent) has
// links that open the answer pages but record nothing: a viewer cannot answer in an
// organisation's name. The email as sent is still proved against the hash the sender kept.
func TestTheTeamSeesNoLiveAnswerLinks(t *testing.T) {
	w := newWorld(t)
	ls := answers.Links{Keys: w.keys, Base: publicURL}
	srv := w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil)
	srv.opt.PublicURL = publicURL
	h := NewLambdaHandler(srv, nil)
	resp, err := h.Handle(context.Background(), apiEvent("GET", "/api/campaigns/"+demoID+"/preview?org=RX1&stage=advance", "", viewerClaims))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("preview: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	var p preview
	json.Unmarshal([]byte(resp.Body), &p)
	for _, l := range answerLinks(t, ls, p.HTML, w.clock()) {
		if !l.Test {
			t.Errorf("the viewer's preview carries a live link for %+v", l)
		}
	}

	local := w.server(t, nil, &Local{Default: &Identity{Subject: "v", Roles: []Role{Viewer}}})
	local.opt.PublicURL = publicURL
	b := newBrowser(t, local)
	page := bodyOf(t, b.do("GET", "/console/campaigns/"+demoID+"/orgs/RX1/notices/advance/email.html", nil))
	for _, l := range answerLinks(t, ls, page, w.clock()) {
		if !l.Test {
			t.Errorf("the console's email carries a live link for %+v", l)
		}
	}
}
