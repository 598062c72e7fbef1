package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// journey is the CLI and the answer pages over one table, with notices carrying links.
type journey struct {
	cli *testCLI
	srv http.Handler
	id  string
}

func newJourney(t *testing.T) *journey {
	keys, err := signing.NewKeyring([]byte(strings.Repeat("j", 32)))
	if err != nil {
		t.Fatal(err)
	}
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	cli.links = &answers.Links{Keys: keys, Base: answers.LocalBase}
	srv, err := api.New(api.Options{DB: cli.db, Table: cli.table, Stage: cli.stage, Clock: cli.clock, Keys: keys, Local: &api.Local{}, PublicURL: answers.LocalBase})
	if err != nil {
		t.Fatal(err)
	}
	return &journey{cli: cli, srv: srv, id: "journey-" + localstacktest.Unique()}
}

func (j *journey) must(args ...string) string {
	j.cli.t.Helper()
	out, errOut, code := j.cli.run(args...)
	if code != 0 {
		j.cli.t.Fatalf("sunset %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// demo applies the demo campaign, under the journey's id and with extra keys appended, over
// the demo directory, and ingests the demo's first batch of logs.
func (j *journey) demo(t *testing.T, extra string) {
	t.Helper()
	j.demoFrom(t, filepath.Join("..", "..", "infra", "demo", "data"), extra)
}

// demoFrom is demo with the directory and logs of another folder laid out as the demo's.
func (j *journey) demoFrom(t *testing.T, data, extra string) {
	t.Helper()
	spec, err := os.ReadFile(filepath.Join("..", "..", "infra", "demo", "data", "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "campaign.yaml")
	os.WriteFile(file, []byte(strings.Replace(string(spec), "id: demo-legacy-hostnames-2021", "id: "+j.id, 1)+extra), 0o644)
	j.must("directory", "import", "--orgs", filepath.Join(data, "orgs.csv"), "--accounts", filepath.Join(data, "accounts.csv"))
	j.must("campaign", "apply", file, "--at", "2021-07-01")
	logs, _ := filepath.Glob(filepath.Join(data, "logs", "1", "*"))
	j.must(append([]string{"ingest", "--campaign", j.id}, logs...)...)
}

// email is the text of the notice of org at stage this journey sent.
func (j *journey) email(t *testing.T, org, stage string) string {
	t.Helper()
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") == j.id && m.Header("X-Sunset-Org") == org && m.Header("X-Sunset-Stage") == stage {
			return m.Body.Text
		}
	}
	t.Fatalf("no %s notice to %s was sent", stage, org)
	return ""
}

// answer follows the link for purpose in an email and sends the form with the given fields.
func (j *journey) answer(t *testing.T, text string, purpose, label string, form url.Values) (int, string) {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(label) + `:\n(\S+)`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the email has no %q link:\n%s", label, text)
	}
	u, _ := url.Parse(m[1])
	if !strings.HasPrefix(u.Path, "/answer/"+purpose+"/") {
		t.Fatalf("link %s", m[1])
	}
	rec := httptest.NewRecorder()
	j.srv.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1:8080"+u.Path, nil))
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(rec.Body.String())
	if rec.Code != 200 || csrf == nil {
		t.Fatalf("GET %s: %d\n%s", u.Path, rec.Code, rec.Body.String())
	}
	form.Set("csrf", csrf[1])
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+u.Path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	j.srv.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// The journey of a findings campaign's answers: Riverside says its settings were changed but
// is still seen, so its reminder says so plainly; Meadowbank says one account is not theirs,
// the team reassigns it to Riverside, and it moves from Meadowbank's reminder to Riverside's.
func TestAnswersJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	j.cli.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	j.demo(t, "")
	j.must("run", "--campaign", j.id, "--at", "2021-07-27")

	j.cli.now = time.Date(2021, 8, 12, 10, 30, 0, 0, time.UTC)
	if code, body := j.answer(t, j.email(t, "RX1", "advance"), "fixed", "We have changed these settings",
		url.Values{"by": {"la.banks@riverside.example.nhs.net"}, "note": {"all moved"}}); code != 200 || !strings.Contains(body, "recorded") {
		t.Fatalf("acknowledge: %d %s", code, body)
	}
	meadowbank := j.email(t, "Y0123", "advance")
	if code, body := j.answer(t, meadowbank, "not-ours", "These accounts are not ours",
		url.Values{"by": {"la.hughes@meadowbank.example.nhs.net"}, "account": {"dr.sam.hughes@nhs.net"}}); code != 200 {
		t.Fatalf("dispute: %d %s", code, body)
	}
	out := j.must("responses", "--campaign", j.id)
	for _, s := range []string{"dr.sam.hughes@nhs.net", "pending", "la.banks@riverside.example.nhs.net", "all moved"} {
		if !strings.Contains(out, s) {
			t.Errorf("sunset responses does not show %q:\n%s", s, out)
		}
	}
	j.must("dispute", "resolve", "--campaign", j.id, "--org", "Y0123", "--account", "dr.sam.hughes@nhs.net", "--reassign-to", "RX1", "--by", "ops")

	logs, _ := filepath.Glob(filepath.Join("..", "..", "infra", "demo", "data", "logs", "2", "*"))
	j.must(append([]string{"ingest", "--campaign", j.id}, logs...)...)
	j.cli.now = time.Date(2021, 8, 17, 8, 0, 0, 0, time.UTC)
	j.must("run", "--campaign", j.id, "--at", "2021-08-17")
	riverside := j.email(t, "RX1", "reminder")
	if !strings.Contains(riverside, "On 12 August 2021 you told us these settings had been changed (la.banks@riverside.example.nhs.net). We still see the accounts below") {
		t.Errorf("Riverside's reminder does not recall its answer:\n%s", riverside)
	}
	if !strings.Contains(riverside, "- dr.sam.hughes@nhs.net") {
		t.Errorf("the reassigned account is not in Riverside's reminder:\n%s", riverside)
	}
	// Meadowbank's only account seen since was the one reassigned: it is no longer affected.
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") == j.id && m.Header("X-Sunset-Org") == "Y0123" && m.Header("X-Sunset-Stage") == "reminder" {
			t.Errorf("Meadowbank was reminded about the account reassigned away from it:\n%s", m.Body.Text)
		}
	}
}

// The journey of a request for more time on a BYO-MX campaign: within max_extension_days it is
// recorded, the team approves it, and the organisation's schedule moves with its deadline; past
// the cap the page refuses it and says the latest date allowed.
func TestMoreTimeJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "roster.csv"), []byte("ods_code,deadline,domain\nRX1,2021-10-01,rx1-trust.nhs.uk\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "byo.yaml"), []byte(`id: `+j.id+`
title: Bring Your Own MX domain expiry
audience_source: roster
roster: roster.csv
max_extension_days: 92
stages:
  - {name: advance, days_before: 28}
  - {name: expiry-warning, days_before: 14}
audience: [la, pla]
sender: {from: "NHSmail Team <noreply@example.nhs.net>"}
`), 0o644)
	data := filepath.Join("..", "..", "infra", "demo", "data")
	j.cli.now = time.Date(2021, 9, 3, 8, 0, 0, 0, time.UTC)
	j.must("directory", "import", "--orgs", filepath.Join(data, "orgs.csv"), "--accounts", filepath.Join(data, "accounts.csv"))
	j.must("campaign", "apply", filepath.Join(dir, "byo.yaml"), "--at", "2021-09-01")
	j.must("run", "--campaign", j.id, "--at", "2021-09-03")
	notice := j.email(t, "RX1", "advance")

	by := url.Values{"by": {"la.rivers@riverside.example.nhs.net"}}
	past := url.Values{"by": by["by"], "until": {"2022-01-02"}, "note": {"the new provider starts in January"}}
	if code, body := j.answer(t, notice, "more-time", "We need more time", past); code != 400 || !strings.Contains(body, "The latest date we can allow is 01 January 2022") {
		t.Errorf("a date past the cap: %d %s", code, body)
	}
	within := url.Values{"by": by["by"], "until": {"2021-12-01"}, "note": {"the new provider starts in November"}}
	if code, body := j.answer(t, notice, "more-time", "We need more time", within); code != 200 || !strings.Contains(body, "recorded") {
		t.Fatalf("a date within the cap: %d %s", code, body)
	}
	out := j.must("extension", "approve", "--campaign", j.id, "--org", "RX1", "--until", "2021-12-01", "--by", "ops")
	if !strings.Contains(out, "deadline is 01 December 2021 (was 01 October 2021)") {
		t.Errorf("approve: %s", out)
	}
	plan := func(at string) planner.Plan {
		var pl planner.Plan
		if err := json.Unmarshal([]byte(j.must("plan", "--campaign", j.id, "--at", at, "--json")), &pl); err != nil {
			t.Fatal(err)
		}
		return pl
	}
	if pl := plan("2021-09-17"); len(pl.Due) != 0 {
		t.Errorf("the expiry warning is still due on the old date: %+v", pl.Due)
	}
	pl := plan("2021-11-17")
	if len(pl.Due) != 1 || pl.Due[0].Stage != "expiry-warning" || pl.Due[0].Deadline.String() != "2021-12-01" || !pl.Due[0].Extended {
		t.Errorf("on 17 November: %+v", pl.Due)
	}
	var all answers.Answers
	json.Unmarshal([]byte(j.must("responses", "--campaign", j.id, "--json")), &all)
	if len(all.Requests) != 1 || all.Requests[0].Status != answers.Approved || !slices.ContainsFunc(all.Requests, func(r answers.Request) bool { return r.DecidedBy == "ops" }) {
		t.Errorf("requests %+v", all.Requests)
	}
}
