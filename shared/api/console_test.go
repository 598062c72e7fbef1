package api

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// browser is a cookie jar in front of a handler: the console as a browser without JavaScript
// uses it.
type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h, cookies: map[string]*http.Cookie{}}
}

func (b *browser) do(method, path string, form url.Values) *http.Response {
	b.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, loopback+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, loopback+path, nil)
	}
	for _, c := range b.cookies {
		r.AddCookie(c)
	}
	resp := do(b.h, r)
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return resp
}

// signIn signs in on the local sign-in form (its token included), to come back to next.
func (b *browser) signIn(name string, role Role, next string) {
	b.t.Helper()
	form := bodyOf(b.t, b.do("GET", "/auth/signin?next="+url.QueryEscape(next), nil))
	if !strings.Contains(form, `name="role" value="operator"`) {
		b.t.Fatal("the local sign-in form offers no role")
	}
	resp := b.do("POST", "/auth/signin", url.Values{"name": {name}, "role": {string(role)}, "next": {next}, "csrf": {csrfOf(b.t, form)}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != next {
		b.t.Fatalf("sign-in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// csrfOf is the form token of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no form token on the page:\n%s", page)
	}
	rest := page[i+len(`name="csrf" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

// The local console: a browser without a session is sent to the sign-in form; signed in as a
// viewer it reads every page but is refused (403) the confirmation and the change; as an
// operator the change needs its confirmation page's form token and is recorded with the name.
func TestConsoleRolesAndForms(t *testing.T) {
	w := newWorld(t)
	srv := w.server(t, nil, &Local{})
	b := newBrowser(t, srv)
	camp := "/console/campaigns/" + demoID

	resp := b.do("GET", camp, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/auth/signin?next=%2Fconsole%2Fcampaigns%2F"+demoID {
		t.Fatalf("no session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	signIn := func(name string, role Role) { t.Helper(); b.signIn(name, role, camp) }

	signIn("Vera Viewer", Viewer)
	for _, p := range []string{"/console/", camp, camp + "/plan?at=2021-08-17", camp + "/orgs/RX1", camp + "/orgs/RX1/notices/advance",
		camp + "/orgs/RX1/notices/advance/email.html", camp + "/unassigned", "/console/suppressed", camp + "/burndown.svg", camp + "/burndown.csv"} {
		if resp := b.do("GET", p, nil); resp.StatusCode != 200 {
			t.Errorf("viewer GET %s: %d", p, resp.StatusCode)
		}
	}
	page := bodyOf(t, b.do("GET", camp, nil))
	for _, s := range []string{`<html lang="en-GB">`, "Riverside Teaching Hospitals NHS Foundation Trust", "<svg", "Shutdown", "07 September 2021",
		"Affected organisations", "Download the chart (SVG)"} {
		if !strings.Contains(page, s) {
			t.Errorf("the campaign page does not show %q", s)
		}
	}
	if strings.Contains(page, ">Pause</a>") {
		t.Error("a viewer is offered Pause")
	}
	csrf := csrfOf(t, page)
	if resp := b.do("GET", camp+"/pause", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's confirmation page: %d, want 403", resp.StatusCode)
	}
	if resp := b.do("POST", camp+"/pause", url.Values{"csrf": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's pause: %d, want 403", resp.StatusCode)
	}

	signIn("Ada Operator", Operator)
	confirm := bodyOf(t, b.do("GET", camp+"/pause", nil))
	if !strings.Contains(confirm, "Pause "+demoID+"?") || !strings.Contains(confirm, `method="post"`) {
		t.Fatalf("confirmation page:\n%s", confirm)
	}
	for _, tok := range []string{"", "forged", csrf} { // the viewer's token is another session's
		if resp := b.do("POST", camp+"/pause", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("pause with token %q: %d, want 403", tok, resp.StatusCode)
		}
	}
	st := campaign.NewStore(w.db, w.table, w.clock)
	if rec, _ := st.Get(context.Background(), demoID); rec.Status != campaign.Active {
		t.Fatalf("a refused form paused the campaign")
	}
	resp = b.do("POST", camp+"/pause", url.Values{"csrf": {csrfOf(t, confirm)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	if !strings.Contains(bodyOf(t, b.do("GET", resp.Header.Get("Location"), nil)), "The campaign is paused") {
		t.Error("no message after the pause")
	}
	d, err := st.Details(context.Background(), demoID)
	if err != nil || d.Status != campaign.Paused || len(d.Events) != 1 || d.Events[0].By != "Ada Operator [local:Ada Operator]" {
		t.Fatalf("after pause: %+v %v", d, err)
	}

	// Sign out: the session's cookie is gone.
	resp = b.do("POST", "/auth/signout", url.Values{"csrf": {csrfOf(t, confirm)}})
	if resp.StatusCode != 200 || b.do("GET", camp, nil).StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out the console is still open")
	}
}

// The console's apply takes two steps: the check shows what would change, the confirmation
// applies exactly the text checked; a file with mistakes shows them with line and key.
func TestConsoleApply(t *testing.T) {
	w := newWorld(t)
	b := newBrowser(t, w.server(t, nil, &Local{Default: &Identity{Subject: "local:ops", Name: "ops", Roles: []Role{Operator}}}))
	page := bodyOf(t, b.do("GET", "/console/apply", nil))
	csrf := csrfOf(t, page)
	yaml := strings.Replace(demoYAML(t), "activity_window_days: 14", "activity_window_days: 21", 1)
	checked := bodyOf(t, b.do("POST", "/console/apply?at=2021-07-01", url.Values{"csrf": {csrf}, "yaml": {yaml}}))
	if !strings.Contains(checked, "The file is valid") || !strings.Contains(checked, "activity_window_days: 14 → 21") {
		t.Fatalf("check:\n%s", checked)
	}
	if rec, _ := campaign.NewStore(w.db, w.table, w.clock).Get(context.Background(), demoID); rec.Version != 1 {
		t.Fatal("the check applied the file")
	}
	resp := b.do("POST", "/console/apply?at=2021-07-01", url.Values{"csrf": {csrf}, "yaml": {yaml}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	if rec, _ := campaign.NewStore(w.db, w.table, w.clock).Get(context.Background(), demoID); rec.Version != 2 || rec.UpdatedBy != "ops [local:ops]" {
		t.Errorf("after apply: version %d by %q", rec.Version, rec.UpdatedBy)
	}
	bad := bodyOf(t, b.do("POST", "/console/apply", url.Values{"csrf": {csrf}, "yaml": {strings.Replace(yaml, "days_before: 42", "days_before: soon", 1)}}))
	if !strings.Contains(bad, "campaign.yaml:") || !strings.Contains(bad, "stages[0].days_before") {
		t.Errorf("a bad file's page does not say where:\n%s", bad)
	}
}

// issuer is a local OpenID Connect issuer: go-oidc's oidctest server (discovery and a JWKS of
// one RSA key) and a token endpoint that answers a code with the ID token it is told to, signed
// by the issuer's key unless sign says otherwise.
type issuer struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	token  func(nonce string) map[string]any
	sign   func(claims []byte) string
	nonce  string
	posted url.Values
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	disc := &oidctest.Server{PublicKeys: []oidctest.PublicKey{{PublicKey: key.Public(), KeyID: "k1", Algorithm: oidc.RS256}}}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			disc.ServeHTTP(w, r)
			return
		}
		r.ParseForm()
		is.posted = r.PostForm
		claims, _ := json.Marshal(is.token(is.nonce))
		jwt := oidctest.SignIDToken(is.key, "k1", oidc.RS256, string(claims))
		if is.sign != nil {
			jwt = is.sign(claims)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "id_token": jwt, "token_type": "Bearer", "expires_in": 3600})
	}))
	disc.SetIssuer(is.srv.URL)
	t.Cleanup(is.srv.Close)
	return is
}

// Signing in against the issuer: the browser goes to the issuer with a state, a nonce and a
// PKCE challenge; back with the code, the ID token's signature (the issuer's JWKS), issuer,
// audience, expiry and nonce are checked, and the session carries the name and roles. A state
// that is not this browser's, or an ID token signed by another key or by none, for another
// application or issuer, with another nonce or expired, signs nobody in. It is long (about 120
// lines) because sign-in is one journey against one issuer: the good path, the re-check, then
// each refusal from the same start.
func TestOIDCSignIn(t *testing.T) {
	w := newWorld(t)
	now := w.clock()
	w.clock = func() time.Time { return now }
	is := newIssuer(t)
	secretAsked := 0
	srv := w.server(t, &OIDC{Issuer: is.srv.URL, ClientID: "api://sunset", RolesClaim: "roles",
		ClientSecret: func(context.Context) (string, error) { secretAsked++; return "s3cret", nil }}, nil)
	good := func(nonce string) map[string]any {
		return map[string]any{"iss": is.srv.URL, "aud": "api://sunset", "exp": w.clock().Add(time.Hour).Unix(), "iat": w.clock().Unix(), "nonce": nonce,
			"sub": "entra-sub-1", "name": "Grace Hopper", "roles": []string{"Sunset.Operator"}}
	}
	start := func(b *browser) (state string) {
		t.Helper()
		resp := b.do("GET", "/auth/signin?next=/console/campaigns/"+demoID, nil)
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("sign-in start: %d %s", resp.StatusCode, bodyOf(t, resp))
		}
		u, _ := url.Parse(resp.Header.Get("Location"))
		q := u.Query()
		if u.Path != "/auth" || q.Get("client_id") != "api://sunset" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
			q.Get("redirect_uri") != loopback+"/auth/callback" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("response_type") != "code" {
			t.Fatalf("authorize URL %s", u)
		}
		is.nonce = q.Get("nonce")
		return q.Get("state")
	}

	b := newBrowser(t, srv)
	state := start(b)
	is.token, is.sign = good, nil
	resp := b.do("GET", "/auth/callback?code=c0de&state="+state, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/campaigns/"+demoID {
		t.Fatalf("callback: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	if is.posted.Get("client_secret") != "s3cret" || is.posted.Get("code") != "c0de" || is.posted.Get("code_verifier") == "" {
		t.Errorf("the code exchange sent %v", is.posted)
	}
	page := bodyOf(t, b.do("GET", "/console/campaigns/"+demoID, nil))
	if !strings.Contains(page, "Signed in as Grace Hopper (operator)") {
		t.Errorf("after sign-in the page says:\n%.600s", page)
	}

	// Sessions are short and checked again with the issuer: a role removed there shows within
	// minutes, and a session's cookie (kept after signing out, say) stops working.
	kept := b.cookies["__Host-sunset_session"]
	now = now.Add(sessionTTL - recheckBefore + time.Minute)
	if resp := b.do("GET", "/console/campaigns/"+demoID, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/signin") {
		t.Fatalf("a session due a check: %d to %q, want back through sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	state = start(b)
	is.token = func(n string) map[string]any { c := good(n); c["roles"] = []string{"Sunset.Viewer"}; return c }
	if resp := b.do("GET", "/auth/callback?code=c0de&state="+state, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the check: %d", resp.StatusCode)
	}
	if page := bodyOf(t, b.do("GET", "/console/campaigns/"+demoID, nil)); !strings.Contains(page, "Signed in as Grace Hopper (viewer)") {
		t.Errorf("after the role changed the page says:\n%.600s", page)
	}
	now = now.Add(recheckBefore)
	stale := newBrowser(t, srv)
	stale.cookies[kept.Name] = kept
	if resp := stale.do("POST", "/console/campaigns/"+demoID+"/pause", url.Values{"csrf": {"x"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a form posted with a session past its time: %d, want 401", resp.StatusCode)
	}
	if resp := stale.do("GET", "/console/", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a page with a session past its time: %d, want sign-in", resp.StatusCode)
	}

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unsigned := func(claims []byte) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(claims) + "."
	}
	for _, tc := range []struct {
		name  string
		state func(string) string
		token func(string) map[string]any
		sign  func([]byte) string
	}{
		{"another browser's state", func(string) string { return "not-this-one" }, good, nil},
		{"signed by another key", nil, good, func(c []byte) string { return oidctest.SignIDToken(other, "k1", oidc.RS256, string(c)) }},
		{"signed by another key of its own id", nil, good, func(c []byte) string { return oidctest.SignIDToken(other, "k2", oidc.RS256, string(c)) }},
		{"alg none", nil, good, unsigned},
		{"a signature of the wrong algorithm", nil, good, func(c []byte) string { return oidctest.SignIDToken(is.key, "k1", oidc.PS256, string(c)) }},
		{"another application's token", nil, func(n string) map[string]any { c := good(n); c["aud"] = "other-app"; return c }, nil},
		{"another issuer's token", nil, func(n string) map[string]any { c := good(n); c["iss"] = "https://evil.example"; return c }, nil},
		{"another sign-in's nonce", nil, func(string) map[string]any { return good("replayed") }, nil},
		{"an expired token", nil, func(n string) map[string]any { c := good(n); c["exp"] = w.clock().Add(-time.Hour).Unix(); return c }, nil},
		{"no subject", nil, func(n string) map[string]any { c := good(n); delete(c, "sub"); return c }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, srv)
			state := start(b)
			if tc.state != nil {
				state = tc.state(state)
			}
			is.token, is.sign = tc.token, tc.sign
			resp := b.do("GET", "/auth/callback?code=c0de&state="+state, nil)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("callback: %d, want 401", resp.StatusCode)
			}
			if b.do("GET", "/console/", nil).StatusCode != http.StatusSeeOther {
				t.Error("signed in after all")
			}
		})
	}
	if secretAsked == 0 {
		t.Error("the client secret was never read")
	}
	// A sign-in may only send the browser back into the console.
	for _, next := range []string{"https://evil.example/", "//evil.example/x", "/api/campaigns", "/console/\\evil"} {
		if got := localPath(next); got != "/console/" {
			t.Errorf("localPath(%q) = %q", next, got)
		}
	}
}

// The team decides answers in the console, each through its confirmation page: a dispute
// reassigned, a request approved (the extension is made); a viewer may read but not decide.
func TestConsoleDecidesAnswers(t *testing.T) {
	w := newWorld(t)
	w.pendingAnswers(t)
	op := &Identity{Subject: "local:ops", Name: "ops", Roles: []Role{Operator}}
	b := newBrowser(t, w.server(t, nil, &Local{Default: op}))
	page := bodyOf(t, b.do("GET", "/console/campaigns/"+demoID+"/answers", nil))
	for _, s := range []string{"ward7.scanner@nhs.net", "01 October 2021", "a ward moves", "Reassign", "Approve"} {
		if !strings.Contains(page, s) {
			t.Errorf("the answers page does not show %q", s)
		}
	}
	csrf := csrfOf(t, page)
	dispute := url.Values{"csrf": {csrf}, "org": {"RX1"}, "account": {"ward7.scanner@nhs.net"}, "reassign_to": {"y0123"}}
	if c := bodyOf(t, b.do("POST", "/console/campaigns/"+demoID+"/disputes", dispute)); !strings.Contains(c, "Reassign ward7.scanner@nhs.net from RX1 to Y0123?") {
		t.Fatalf("dispute confirmation:\n%s", c)
	}
	dispute.Set("confirm", "yes")
	if resp := b.do("POST", "/console/campaigns/"+demoID+"/disputes", dispute); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reassign: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	req := url.Values{"csrf": {csrf}, "org": {"RX1"}, "until": {"2021-10-01"}, "decision": {"approve"}, "confirm": {"yes"}}
	if resp := b.do("POST", "/console/campaigns/"+demoID+"/requests", req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	a, err := answers.NewStore(w.db, w.table, w.clock).List(context.Background(), demoID)
	if err != nil || a.Disputes[0].Status != answers.Reassigned || a.Disputes[0].ReassignedTo != "Y0123" || a.Requests[0].Status != answers.Approved {
		t.Errorf("after the decisions: %+v %v", a, err)
	}
	exts, _ := campaign.NewStore(w.db, w.table, w.clock).Extensions(context.Background(), demoID)
	if exts["RX1"].Until.String() != "2021-10-01" || exts["RX1"].By != "ops [local:ops]" {
		t.Errorf("the approved request made %+v", exts["RX1"])
	}

	viewer := newBrowser(t, w.server(t, nil, &Local{Default: &Identity{Subject: "v", Roles: []Role{Viewer}}}))
	vpage := bodyOf(t, viewer.do("GET", "/console/campaigns/"+demoID+"/answers", nil))
	if strings.Contains(vpage, ">Approve<") || strings.Contains(vpage, ">Reassign<") {
		t.Error("a viewer is offered decisions")
	}
	if resp := viewer.do("POST", "/console/campaigns/"+demoID+"/requests", url.Values{"csrf": {csrfOf(t, vpage)}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a viewer's decision: %d, want 403", resp.StatusCode)
	}
}

// The addresses a person types reach the console: / and /console (no slash; API Gateway routes
// it on its own) redirect to /console/.
func TestConsoleAddressesRedirect(t *testing.T) {
	w := newWorld(t)
	srv := w.server(t, nil, &Local{})
	for _, path := range []string{"/", "/console"} {
		resp := do(srv, httptest.NewRequest("GET", loopback+path, nil))
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
			t.Errorf("GET %s: %d to %q, want 302 to /console/", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

// An operator sends a failed notice again from its page: the reason is asked, the confirmation
// names the error, the notice is released on record and sent once; confirming again sends
// nothing; a viewer is offered no form and refused the POST.
func TestConsoleResendsAFailedNotice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	l := ledger.New(w.db, w.table, w.clock)
	if _, err := l.BeginSend(ctx, demoID, "RX1", "advance"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkFailed(ctx, demoID, "RX1", "advance", "SES refused it: MessageRejected: Address blocked"); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, w.server(t, nil, &Local{}))
	page := "/console/campaigns/" + demoID + "/orgs/RX1/notices/advance"
	signIn := func(name string, role Role) { t.Helper(); b.signIn(name, role, page) }
	signIn("Vera Viewer", Viewer)
	body := bodyOf(t, b.do("GET", page, nil))
	if strings.Contains(body, "Send it again") || !strings.Contains(body, "Address blocked") {
		t.Errorf("the viewer's notice page offers a resend, or hides the error")
	}
	if resp := b.do("POST", page+"/resend", url.Values{"csrf": {csrfOf(t, body)}, "reason": {"x"}, "confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer's resend: %d, want 403", resp.StatusCode)
	}

	signIn("Ada Operator", Operator)
	body = bodyOf(t, b.do("GET", page, nil))
	if !strings.Contains(body, "Send it again") {
		t.Fatalf("the operator's notice page offers no resend:\n%s", body)
	}
	csrf := csrfOf(t, body)
	if resp := b.do("POST", page+"/resend", url.Values{"csrf": {csrf}, "reason": {"  "}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a resend without a reason: %d, want 400", resp.StatusCode)
	}
	confirmPage := bodyOf(t, b.do("POST", page+"/resend", url.Values{"csrf": {csrf}, "reason": {"the address is corrected"}}))
	if !strings.Contains(confirmPage, "It failed: SES refused it: MessageRejected: Address blocked") {
		t.Fatalf("the confirmation does not name the error:\n%s", confirmPage)
	}
	confirmed := url.Values{"csrf": {csrfOf(t, confirmPage)}, "reason": {"the address is corrected"},
		"failed": {"SES refused it: MessageRejected: Address blocked"}, "confirm": {"yes"}}
	resp := b.do("POST", page+"/resend", confirmed)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page+"?done=resend" {
		t.Fatalf("resend: %d %q %s", resp.StatusCode, resp.Header.Get("Location"), bodyOf(t, resp))
	}
	n, err := l.Get(ctx, demoID, "RX1", "advance")
	if err != nil || n.Status != ledger.Sent || len(n.Resends) != 1 || !strings.HasPrefix(n.Resends[0].By, "Ada Operator") ||
		n.Resends[0].Failed != "SES refused it: MessageRejected: Address blocked" {
		t.Fatalf("after the resend: %+v %v", n, err)
	}
	if resp := b.do("POST", page+"/resend", confirmed); resp.StatusCode != http.StatusConflict {
		t.Errorf("a second confirmation: %d, want 409", resp.StatusCode)
	}
	if again, _ := l.Get(ctx, demoID, "RX1", "advance"); again.MessageID != n.MessageID || len(again.Resends) != 1 {
		t.Errorf("the second confirmation changed the notice: %+v", again)
	}
	emails := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.MessageID == n.MessageID {
			emails++
		}
	}
	if emails != 1 {
		t.Errorf("SES holds %d emails of the resend, want 1", emails)
	}
}
