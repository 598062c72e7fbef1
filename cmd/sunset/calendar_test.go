package main

import (
	"strings"
	"testing"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// The demo campaign with a send window, bank holidays and a brownout, through the CLI: a run
// before the window opens claims but sends nothing and says so; the same day's run with --at at
// a time inside the window sends; every notice announces the brownout, and the plan and report list it.
func TestWorkingHoursJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	j.cli.now = time.Date(2021, 7, 27, 6, 30, 0, 0, time.UTC) // 07:30 in London
	j.demo(t, `
send_window: {days: [mon..fri], from: "09:00", to: "16:00"}
skip_bank_holidays: england-and-wales
brownouts: [{date: 2021-08-24, hours: "09:00-12:00", hostnames: [imap.nhs.net, pop.nhs.net]}]
`)

	plan := j.must("plan", "--campaign", j.id, "--at", "2021-07-27")
	if !strings.Contains(plan, "BROWNOUT") || !strings.Contains(plan, "24 August 2021 planned") {
		t.Errorf("the plan does not list the brownout:\n%s", plan)
	}
	out, errOut, code := j.cli.run("run", "--campaign", j.id, "--at", "2021-07-27")
	if code != 0 || !strings.Contains(errOut, "wait for the campaign's send window") || !strings.Contains(errOut, "2021-07-27T09:00:00+01:00") {
		t.Fatalf("run before the window: exit %d\n%s%s", code, out, errOut)
	}
	if n := sentFor(t, j.id); n != 0 {
		t.Fatalf("%d emails before the window opened", n)
	}
	// A replay gives the time of day too: its clock runs from 09:30 in the campaign's zone.
	if _, errOut, code := j.cli.run("run", "--campaign", j.id, "--at", "2021-07-27T25:00"); code != 2 || !strings.Contains(errOut, "YYYY-MM-DDTHH:MM") {
		t.Errorf("a time that is not one: exit %d %s", code, errOut)
	}
	j.must("run", "--campaign", j.id, "--at", "2021-07-27T09:30")
	if n := sentFor(t, j.id); n == 0 {
		t.Fatal("nothing sent once the window opened")
	}
	if text := j.email(t, "RX1", "advance"); !strings.Contains(text, "Tuesday 24 August 2021, 09:00-12:00") {
		t.Errorf("the advance notice does not announce the brownout:\n%s", text)
	}
	if rep := j.must("report", "--campaign", j.id); !strings.Contains(rep, "Brownouts: 1") {
		t.Errorf("the report does not list the brownout:\n%s", rep)
	}
}

// sentFor counts the emails of a campaign the local SES holds.
func sentFor(t *testing.T, id string) int {
	n := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") == id {
			n++
		}
	}
	return n
}
