package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// The demo's federation LA is in two organisations' notices on 27 July: the API previews its
// one email of that day, merged, and sends a test of it; an address in no notice has nothing
// to preview; ?recipient= and ?org= do not go together.
func TestPreviewAndTestTheEmailOfOneAddress(t *testing.T) {
	w := newWorld(t)
	h := NewLambdaHandler(w.server(t, &OIDC{Issuer: "https://login.example", ClientID: "api://sunset"}, nil), nil)
	const la = "it.support@federation.example.nhs.net"
	resp, err := h.Handle(context.Background(), apiEvent("GET", "/api/campaigns/"+demoID+"/preview?recipient="+la+"&at=2021-07-27", "", viewerClaims))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("preview: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	var p preview
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Orgs, " ") != "RTH Y0123" || p.Mail == "" || !strings.Contains(p.Subject, "2 organisations") || len(p.To) != 1 || p.To[0] != la {
		t.Errorf("preview of the merged email: orgs %v, mail %q, subject %q, to %v", p.Orgs, p.Mail, p.Subject, p.To)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/preview?recipient=nobody@example.nhs.net&at=2021-07-27", 404},
		{"/preview?recipient=" + la + "&org=RTH", 400},
		{"/preview?recipient=" + la + "&stage=advance", 400},
	} {
		resp, err := h.Handle(context.Background(), apiEvent("GET", "/api/campaigns/"+demoID+tc.path, "", viewerClaims))
		if err != nil || resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.path, resp.StatusCode, resp.Body, tc.status)
		}
	}
	before := testsSent(t)
	body := `{"recipient":"` + la + `","to":"` + testTo + `","at":"2021-07-27"}`
	resp, err = h.Handle(context.Background(), apiEvent("POST", "/api/campaigns/"+demoID+"/send-test", body, operatorClaims))
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Body, "[TEST]") || !strings.Contains(resp.Body, "2 organisations") {
		t.Fatalf("send-test of the merged email: %d %s %v", resp.StatusCode, resp.Body, err)
	}
	if got := testsSent(t) - before; got != 1 {
		t.Errorf("%d test emails sent, want 1", got)
	}
	for _, m := range localstacktest.SentEmails(t) {
		if strings.Contains(strings.Join(m.Destination.To, ","), la) && m.Header("X-Sunset-Test") == "yes" {
			t.Errorf("a test went to the recipient itself: %v", m.Destination.To)
		}
	}
}
