package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

var (
	viewerClaims   = map[string]string{"sub": "viewer-sub", "name": "Vera Viewer", "roles": "[Sunset.Viewer]"}
	operatorClaims = map[string]string{"sub": "op-sub", "name": "Ada Lovelace", "roles": "[operator]"}
)

// apiEvent is an API Gateway HTTP API request to the /api/{proxy+} route, with the JWT
// authorizer's claims (nil: none).
func apiEvent(method, path, body string, claims map[string]string) events.APIGatewayV2HTTPRequest {
	p, q, _ := strings.Cut(path, "?")
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "ANY /api/{proxy+}", RawPath: p, RawQueryString: q, Body: body,
		Headers: map[string]string{"host": "abc123.execute-api.eu-west-2.amazonaws.com", "content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1", DomainName: "abc123.execute-api.eu-west-2.amazonaws.com",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: p, SourceIP: "198.51.100.7"}}}
	if claims != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims}}
	}
	return ev
}

// route is one route of the JSON API with a request that works on the demo world.
type route struct {
	method, path, body string
	role               Role
}

func demoYAML(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(demoData, "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testTo is the address test sends go to: unique to this test process, since the SES
// emulator's store is shared by every package's tests.
var testTo = "ops-" + localstacktest.Unique() + "@example.nhs.net"

// testsSent counts the test emails sent to testTo.
func testsSent(t *testing.T) int {
	n := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Test") == "yes" && slices.ContainsFunc(m.Destination.To, func(a string) bool { return strings.Contains(a, testTo) }) {
			n++
		}
	}
	return n
}

func routes(t *testing.T) []route {
	id := demoID
	changed := strings.Replace(demoYAML(t), "title: ", "title: Changed ", 1)
	return []route{
		{"GET", "/api/campaigns", "", Viewer},
		{"GET", "/api/campaigns/" + id, "", Viewer},
		{"POST", "/api/campaigns/validate?at=2021-07-01", demoYAML(t), Viewer},
		{"GET", "/api/campaigns/" + id + "/plan?at=2021-08-17", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/preview?org=RX1&stage=advance", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/report", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/report.csv", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/organisations", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/burndown.svg", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/burndown.csv", "", Viewer},
		{"GET", "/api/campaigns/" + id + "/unassigned", "", Viewer},
		{"GET", "/api/suppressed", "", Viewer},
		{"POST", "/api/campaigns?at=2021-07-01", changed, Operator},
		{"POST", "/api/campaigns/" + id + "/pause", "", Operator},
		{"POST", "/api/campaigns/" + id + "/resume", "", Operator},
		{"POST", "/api/campaigns/" + id + "/extensions", `{"org":"RX1","until":"2021-09-20","reason":"a ward moves"}`, Operator},
		{"POST", "/api/campaigns/" + id + "/send-test", `{"org":"RX1","stage":"advance","to":"` + testTo + `"}`, Operator},
		{"GET", "/api/campaigns/" + id + "/answers", "", Viewer},
		{"POST", "/api/campaigns/" + id + "/disputes", `{"org":"RX1","account":"ward7.scanner@nhs.net","reassign_to":"Y0123"}`, Operator},
		{"POST", "/api/campaigns/" + id + "/requests", `{"org":"RX1","until":"2021-10-01","approve":true}`, Operator},
		{"POST", "/api/campaigns/" + id + "/cancel", "", Operator},
	}
}

// state is what a change could touch: the campaign's details and the emails sent.
func (w *world) state(t *testing.T) string {
	t.Helper()
	d, err := campaign.NewStore(w.db, w.table, w.clock).Details(context.Background(), demoID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	return fmt.Sprintf("%s\ntest emails: %d", b, testsSent(t))
}

// Every route: no claims is 401, a viewer is refused every change with 403 and nothing changes,
// an operator may do everything and each change is recorded with the token's name and subject.
func TestEveryRouteByRole(t *testing.T) {
	w := newWorld(t)
	w.pendingAnswers(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	ctx := context.Background()
	before := w.state(t)
	for _, rt := range routes(t) {
		for _, tc := range []struct {
			who    string
			claims map[string]string
			want   int
		}{{"no token", nil, http.StatusUnauthorized}, {"viewer", viewerClaims, map[Role]int{Viewer: 200, Operator: 403}[rt.role]}} {
			resp, err := h.Handle(ctx, apiEvent(rt.method, rt.path, rt.body, tc.claims))
			if err != nil || resp.StatusCode != tc.want {
				t.Errorf("%s %s as %s: %d %s, want %d", rt.method, rt.path, tc.who, resp.StatusCode, resp.Body, tc.want)
			}
			if tc.want >= 400 && !strings.Contains(resp.Body, `"error"`) {
				t.Errorf("%s %s as %s: the error is not JSON with a message: %s", rt.method, rt.path, tc.who, resp.Body)
			}
		}
	}
	if after := w.state(t); after != before {
		t.Errorf("requests that were refused changed something:\nbefore %s\nafter  %s", before, after)
	}
	for _, rt := range routes(t) {
		resp, err := h.Handle(ctx, apiEvent(rt.method, rt.path, rt.body, operatorClaims))
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("%s %s as operator: %d %s", rt.method, rt.path, resp.StatusCode, resp.Body)
		}
	}
	d, err := campaign.NewStore(w.db, w.table, w.clock).Details(ctx, demoID)
	if err != nil {
		t.Fatal(err)
	}
	const by = "Ada Lovelace [op-sub]"
	if last := d.History[len(d.History)-1]; last.By != by || last.Version != 2 {
		t.Errorf("apply recorded as version %d by %q, want 2 by %q", last.Version, last.By, by)
	}
	var whats []string
	for _, e := range d.Events {
		if e.By != by {
			t.Errorf("event %q recorded by %q, want %q", e.What, e.By, by)
		}
		whats = append(whats, e.What)
	}
	want := []string{"extension: RX1 until 01 October 2021 (was 07 September 2021): requested by la.rivers@riverside.example.nhs.net: a ward moves",
		"extension: RX1 until 20 September 2021 (was 07 September 2021): a ward moves",
		"status: active → cancelled", "status: active → paused", "status: paused → active"}
	slices.Sort(whats) // the test's clock stands still: the events share one time
	if d := cmp.Diff(want, whats); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if d.Status != campaign.Cancelled {
		t.Errorf("status %s after cancel", d.Status)
	}
	if n := testsSent(t); n != 1 {
		t.Errorf("%d test emails to %s, want 1", n, testTo)
	}
}

// Mistakes are told as JSON saying what is wrong and where: a campaign file's mistakes with
// their file, line and key (400); an unknown campaign or organisation (404); a refused change
// (409); a body that is not the route's JSON (400).
func TestErrorsSayWhatAndWhere(t *testing.T) {
	w := newWorld(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	bad := strings.Replace(demoYAML(t), "shutdown: 2021-09-07", "shutdown: 2021-13-45", 1)
	bad = strings.Replace(bad, "days_before: 42", "days_before: forty-two", 1)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		says                     []string
	}{
		{"bad campaign file", "POST", "/api/campaigns/validate?name=legacy.yaml", bad, 400,
			[]string{`"file": "legacy.yaml"`, `"key": "shutdown"`, `"line": `, `stages[0].days_before`}},
		{"bad campaign file, apply", "POST", "/api/campaigns", bad, 400, []string{`"problems"`, `"key": "shutdown"`}},
		{"templates folder in an upload", "POST", "/api/campaigns/validate?at=2021-07-01", strings.Replace(demoYAML(t), "id: ", "templates: ./mine\nid: ", 1), 400,
			[]string{`"key": "templates"`, "an upload cannot bring"}},
		{"a From outside the sending identity", "POST", "/api/campaigns/validate?at=2021-07-01", strings.Replace(demoYAML(t), "sunset@example.nhs.net", "sunset@elsewhere.nhs.uk", 1), 400,
			[]string{`"key": "sender.from"`, "outside the stack's SES sending identity example.nhs.net"}},
		{"a From outside the sending identity, apply", "POST", "/api/campaigns?at=2021-07-01", strings.Replace(demoYAML(t), "sunset@example.nhs.net", "sunset@elsewhere.nhs.uk", 1), 400,
			[]string{"sunset@elsewhere.nhs.uk is outside"}},
		{"unknown campaign", "GET", "/api/campaigns/no-such-campaign", "", 404, []string{"campaign not found"}},
		{"unknown campaign's report", "GET", "/api/campaigns/no-such-campaign/report", "", 404, []string{"campaign not found"}},
		{"unknown campaign's pause", "POST", "/api/campaigns/no-such-campaign/pause", "", 404, []string{"campaign not found"}},
		{"unknown route", "GET", "/api/nothing-here", "", 404, []string{"no such API route"}},
		{"nothing to preview", "GET", "/api/campaigns/" + demoID + "/preview?org=ZZZ9", "", 404, []string{"Nothing to render: no notice is due for ZZZ9"}},
		{"preview without org", "GET", "/api/campaigns/" + demoID + "/preview", "", 400, []string{"or recipient (?recipient=ADDRESS"}},
		{"extension past the cap", "POST", "/api/campaigns/" + demoID + "/extensions", `{"org":"RX1","until":"2022-09-20","reason":"late"}`, 409,
			[]string{"max_extension_days", "latest allowed date"}},
		{"extension, unknown field", "POST", "/api/campaigns/" + demoID + "/extensions", `{"ods":"RX1"}`, 400, []string{"unknown field"}},
		{"send-test to two addresses", "POST", "/api/campaigns/" + demoID + "/send-test", `{"org":"RX1","stage":"advance","to":"a@x.nhs.net,b@x.nhs.net"}`, 400,
			[]string{"is not one email address"}},
		{"send-test to an outside address", "POST", "/api/campaigns/" + demoID + "/send-test", `{"org":"RX1","stage":"advance","to":"someone@outside.example"}`, 400,
			[]string{"is not an internal address", "SUNSET_TEST_RECIPIENTS"}},
		{"bad date", "GET", "/api/campaigns/" + demoID + "/plan?at=17/08/2021", "", 400, []string{"is not a date YYYY-MM-DD"}},
		{"plan page too long", "GET", "/api/campaigns/" + demoID + "/plan?limit=5000", "", 400, []string{`limit=\"5000\" is not a number of organisations from 1 to 1000`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.Handle(context.Background(), apiEvent(tc.method, tc.path, tc.body, operatorClaims))
			if err != nil || resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, tc.status)
			}
			for _, s := range tc.says {
				if !strings.Contains(resp.Body, s) {
					t.Errorf("the answer does not say %q:\n%s", s, resp.Body)
				}
			}
			if !strings.Contains(resp.Body, `"request_id": "req-1"`) {
				t.Errorf("no request id: %s", resp.Body)
			}
		})
	}
}

// pendingAnswers records RX1's dispute of its scanner and its request for 1 October.
func (w *world) pendingAnswers(t *testing.T) {
	t.Helper()
	st := answers.NewStore(w.db, w.table, w.clock)
	ctx := context.Background()
	if _, err := st.Dispute(ctx, demoID, answers.Dispute{Org: "RX1", Stage: "advance", Account: "ward7.scanner@nhs.net", By: "la.rivers@riverside.example.nhs.net"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	until := calendar.Date{Year: 2021, Month: 10, Day: 1}
	if _, err := st.RequestTime(ctx, demoID, answers.Request{Org: "RX1", Stage: "advance", Until: until, Reason: "a ward moves", By: "la.rivers@riverside.example.nhs.net"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// The sample events of events/ drive the handler as the Lambda runtime would.
func TestSampleEvents(t *testing.T) {
	w := newWorld(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	for _, tc := range []struct {
		file   string
		status int
		check  func(t *testing.T, resp events.APIGatewayV2HTTPResponse)
	}{
		{"apigw-v2-campaigns.json", 200, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			var recs []campaign.Record
			if err := json.Unmarshal([]byte(resp.Body), &recs); err != nil || len(recs) != 1 || recs[0].Campaign.ID != demoID {
				t.Errorf("campaigns: %v %s", err, resp.Body)
			}
		}},
		{"apigw-v2-console.json", 303, func(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
			if loc := resp.Headers["Location"]; loc != "/auth/signin?next=%2Fconsole%2F" {
				t.Errorf("a console request without a session goes to %q", loc)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			payload, err := os.ReadFile(filepath.Join("..", "..", "events", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			tc.check(t, resp)
		})
	}
}

// The organisations of a campaign, as the console's table shows them: what the run of 27 July
// recorded, joined with the ledger.
func TestOrganisations(t *testing.T) {
	w := newWorld(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	resp, err := h.Handle(context.Background(), apiEvent("GET", "/api/campaigns/"+demoID+"/organisations", "", viewerClaims))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	var rows []orgRow
	if err := json.Unmarshal([]byte(resp.Body), &rows); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %s %s seen=%d", r.ODS, r.Stage, r.Status, r.LastNotice, r.StillSeen))
	}
	want := []string{"RTH advance claimed 2021-07-27 seen=2", "RX1 advance claimed 2021-07-27 seen=4", "Y0123 advance claimed 2021-07-27 seen=2"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("organisations (-want +got):\n%s", d)
	}
}

// The plan comes a page of organisations at a time: the pages, followed by their next, decide
// each organisation once and together are the whole plan; every page has the whole funnel;
// the unassigned and unattributed lists come with the first.
func TestPlanPages(t *testing.T) {
	w := newWorld(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	get := func(q string) planner.Plan {
		t.Helper()
		resp, err := h.Handle(context.Background(), apiEvent("GET", "/api/campaigns/"+demoID+"/plan?at=2021-07-27"+q, "", operatorClaims))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s %v", q, resp.StatusCode, resp.Body, err)
		}
		var pl planner.Plan
		if err := json.Unmarshal([]byte(resp.Body), &pl); err != nil {
			t.Fatal(err)
		}
		return pl
	}
	orgs := func(pl planner.Plan) []string {
		var out []string
		for _, d := range pl.Due {
			out = append(out, d.Org)
		}
		for _, s := range pl.Skipped {
			out = append(out, s.Org)
		}
		slices.Sort(out)
		return out
	}
	whole := get("")
	if whole.Next != "" || len(orgs(whole)) < 3 {
		t.Fatalf("the default page: next %q, %d organisations; want all of the demo's in one page", whole.Next, len(orgs(whole)))
	}
	var paged []string
	after := ""
	for range 20 {
		pl := get("&limit=1&after=" + after)
		if n := len(orgs(pl)); n > 1 {
			t.Fatalf("a page of one decided %d organisations", n)
		}
		if pl.Funnel != whole.Funnel {
			t.Errorf("page after %q: funnel %+v, want the whole plan's %+v", after, pl.Funnel, whole.Funnel)
		}
		if after != "" && (len(pl.Unassigned) > 0 || len(pl.Unattributed) > 0) {
			t.Errorf("page after %q repeats the unassigned and unattributed lists", after)
		}
		paged = append(paged, orgs(pl)...)
		if pl.Next == "" {
			break
		}
		after = pl.Next
	}
	if !slices.Equal(paged, orgs(whole)) {
		t.Errorf("pages decided %v, the whole plan %v", paged, orgs(whole))
	}
}
