package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
)

func TestLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:8080": false, "192.168.1.10:8080": false, "example.org:80": false,
		"127.0.0.1": false, "": false, "[::ffff:127.0.0.1]:80": true,
	} {
		if got := LoopbackAddr(addr); got != want {
			t.Errorf("LoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// The local console with --role operator: a page on another site cannot use the browser to
// change anything, read through a rebound name, or borrow the default identity; the same
// requests from the console's own origin (or curl, which sends no Origin) work.
func TestLocalConsoleIsLocal(t *testing.T) {
	w := newWorld(t)
	srv := w.server(t, nil, &Local{Default: &Identity{Subject: "local:ops", Name: "ops", Roles: []Role{Operator}}})
	api := "/api/campaigns/" + demoID
	req := func(method, target, body string, h map[string]string) *http.Response {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return do(srv, r)
	}
	crossSite := map[string]string{"Origin": "https://attacker.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
	st := campaign.NewStore(w.db, w.table, w.clock)
	active := func() bool {
		rec, err := st.Get(context.Background(), demoID)
		return err == nil && rec.Status == campaign.Active
	}
	sent := testsSent(t)
	for _, tc := range []struct {
		name, method, target, body string
		h                          map[string]string
		want                       int
	}{
		{"cross-site pause", "POST", loopback + api + "/pause", "", crossSite, http.StatusForbidden},
		{"cross-site pause, Origin only", "POST", loopback + api + "/pause", "", map[string]string{"Origin": "https://attacker.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"cross-site send-test", "POST", loopback + api + "/send-test", `{"org":"RX1","stage":"advance","to":"` + testTo + `"}`, crossSite, http.StatusForbidden},
		{"a form's body type without Origin", "POST", loopback + api + "/pause", "", map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType},
		{"no body type", "POST", loopback + api + "/pause", "", nil, http.StatusUnsupportedMediaType},
		{"rebound name", "GET", "http://rebind.attacker.example:8080" + api + "/report", "", nil, http.StatusMisdirectedRequest},
		{"rebound name, console", "GET", "http://rebind.attacker.example/console/", "", nil, http.StatusMisdirectedRequest},
		{"cross-site read borrows no identity", "GET", loopback + api + "/report", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusUnauthorized},
		{"sign-in without its form token", "POST", loopback + "/auth/signin", url.Values{"name": {"Mallory"}, "role": {"operator"}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := req(tc.method, tc.target, tc.body, tc.h)
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: %d, want %d\n%s", tc.method, tc.target, resp.StatusCode, tc.want, bodyOf(t, resp))
			}
			for _, c := range resp.Cookies() {
				if c.Name == "sunset_session" && c.MaxAge > 0 {
					t.Errorf("a session cookie was set")
				}
			}
		})
	}
	if !active() || testsSent(t) != sent {
		t.Fatal("a refused request paused the campaign or sent a test")
	}

	// The console's own origin, and curl with JSON, may.
	if resp := req("GET", loopback+api+"/report", "", map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != 200 {
		t.Errorf("same-origin read: %d", resp.StatusCode)
	}
	if resp := req("GET", "http://localhost:8080"+api+"/report", "", nil); resp.StatusCode != 200 {
		t.Errorf("read at localhost: %d", resp.StatusCode)
	}
	resp := req("POST", loopback+api+"/pause", "", map[string]string{"Origin": loopback, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"})
	if resp.StatusCode != 200 || active() {
		t.Fatalf("same-origin pause: %d %s", resp.StatusCode, bodyOf(t, resp))
	}
	if resp := req("POST", loopback+api+"/resume", "", map[string]string{"Content-Type": "application/json"}); resp.StatusCode != 200 || !active() {
		t.Fatalf("curl's resume: %d", resp.StatusCode)
	}
}

// Behind the edge (EdgeSecret): a request without CloudFront's secret went round the per-source
// rate limits and is refused; one through it signs in and links at the distribution's address
// (X-Forwarded-Host), which is nobody's word without the edge.
func TestEdgeSecret(t *testing.T) {
	w := newWorld(t)
	is := newIssuer(t)
	oidc := &OIDC{Issuer: is.srv.URL, ClientID: "api://sunset", ClientSecret: func(context.Context) (string, error) { return "s", nil }}
	srv := w.server(t, oidc, nil)
	srv.opt.EdgeSecret = strings.Repeat("e", 32)
	get := func(h map[string]string) *http.Response {
		r := httptest.NewRequest("GET", "https://abc.execute-api.eu-west-2.amazonaws.com/auth/signin", nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		return do(srv, r)
	}
	for _, h := range []map[string]string{nil, {EdgeHeader: "wrong"}, {EdgeHeader: strings.Repeat("e", 31)}} {
		if resp := get(h); resp.StatusCode != http.StatusForbidden {
			t.Errorf("without the edge's secret (%v): %d, want 403", h, resp.StatusCode)
		}
	}
	resp := get(map[string]string{EdgeHeader: strings.Repeat("e", 32), "X-Forwarded-Host": "d111.cloudfront.net"})
	u, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || u.Query().Get("redirect_uri") != "https://d111.cloudfront.net/auth/callback" {
		t.Errorf("through the edge: %d, redirect_uri %q", resp.StatusCode, u.Query().Get("redirect_uri"))
	}

	plain := w.server(t, oidc, nil)
	r := httptest.NewRequest("GET", "https://abc.execute-api.eu-west-2.amazonaws.com/auth/signin", nil)
	r.Header.Set("X-Forwarded-Host", "evil.example")
	u, _ = url.Parse(do(plain, r).Header.Get("Location"))
	if got := u.Query().Get("redirect_uri"); got != "https://abc.execute-api.eu-west-2.amazonaws.com/auth/callback" {
		t.Errorf("without the edge X-Forwarded-Host was taken: %q", got)
	}
}
