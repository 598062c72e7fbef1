package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings/findingstest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

const cliCampaign = `id: cli-test
title: CLI test
shutdown: 2030-09-07
hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993}
max_extension_days: 92
stages:
  - {name: advance,  days_before: 42}
  - {name: reminder, days_before: 21}
  - {name: retired,  days_after: 0}
sender: {from: "noreply@example.nhs.net"}
`

func TestCampaignCommands(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, map[string]string{"USER": "alice"})
	db, table := cli.useLocalStack()
	cli.now = time.Date(2030, 7, 1, 8, 0, 0, 0, time.UTC)
	file := writeTemp(t, "campaign.yaml", cliCampaign)

	steps := []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"campaign", "validate", file}, 0, "ok: campaign cli-test, 1 hostnames, 3 stages, deadline 07 September 2030", ""},
		{[]string{"campaign", "validate", writeTemp(t, "bad.yaml", cliCampaign+"colour: red\n")}, 2, "", "bad.yaml:13: colour: unknown key"},
		{[]string{"campaign", "validate", writeTemp(t, "past.yaml", strings.Replace(cliCampaign, "2030-09-07", "2030-07-01", 1))}, 2, "", "shutdown: 01 July 2030 is not after today"},
		{[]string{"campaign", "validate", writeTemp(t, "past2.yaml", strings.Replace(cliCampaign, "2030-09-07", "2030-07-01", 1)), "--at", "2030-06-01"}, 0, "ok: campaign cli-test", ""},
		{[]string{"campaign", "validate", writeTemp(t, "tmpl.yaml", cliCampaign+"templates: ../../../../etc\n")}, 2, "", "templates"},
		{[]string{"campaign", "validate", writeTemp(t, "tmpl2.yaml", cliCampaign+"templates: ../../../../etc\n"), "--templates-anywhere"}, 0, "ok", ""},
		{[]string{"campaign", "apply", writeTemp(t, "old.yaml", strings.Replace(cliCampaign, "2030-09-07", "2030-07-01", 1))}, 2, "", "shutdown: 01 July 2030 is not after today"},
		{[]string{"campaign", "apply", file, "--local"}, 0, "applied campaign cli-test: version 1\n  created", ""},
		{[]string{"campaign", "apply", file}, 0, "campaign cli-test unchanged (version 1)", ""},
		{[]string{"campaign", "list"}, 0, "cli-test  active  1", ""},
		{[]string{"campaign", "show", "cli-test"}, 0, "version 1 at 2030-07-01T08:00:00Z by alice: created", ""},
		{[]string{"campaign", "show", "nope"}, 1, "", "campaign not found"},
		{[]string{"campaign", "extend", "cli-test", "--org", "rx1", "--until", "2030-12-09", "--reason", "supplier"}, 2, "", "the latest allowed date is 08 December 2030"},
		{[]string{"campaign", "extend", "cli-test", "--org", "rx1", "--until", "2030-12-08"}, 2, "", "--reason are required"},
		{[]string{"campaign", "extend", "cli-test", "--org", "rx1", "--until", "2030-10-07", "--reason", "supplier", "--by", "bob"}, 0, "deadline 07 October 2030 (was 07 September 2030)", ""},
		{[]string{"campaign", "pause", "cli-test"}, 0, "campaign cli-test is paused", ""},
		{[]string{"campaign", "resume", "cli-test"}, 0, "campaign cli-test is active", ""},
		{[]string{"campaign", "frobnicate", "cli-test"}, 2, "", "unknown subcommand"},
		{[]string{"plan"}, 2, "", "Usage: sunset plan"},
		{[]string{"plan", "--campaign", "cli-test", "--at", "tomorrow"}, 2, "", "not a date"},
	}
	for _, st := range steps {
		out, errOut, code := cli.run(st.args...)
		if code != st.code || !strings.Contains(out, st.out) || !strings.Contains(errOut, st.err) {
			t.Errorf("%v: code %d\nstdout: %s\nstderr: %s\nwant code %d, stdout ~ %q, stderr ~ %q", st.args, code, out, errOut, st.code, st.out, st.err)
		}
	}

	// Directory and findings: RX1 (extended to 07 October) and RX2 have an account on imap.nhs.net.
	orgs := writeTemp(t, "orgs.csv", "ods_code,name,la_emails,pla_email\nRX1,Trust One,la1@rx1.nhs.net,pla@rx1.nhs.net\nRX2,Trust Two,la2@rx2.nhs.net,pla@rx2.nhs.net\n")
	accts := writeTemp(t, "accounts.csv", "email,ods_code\npat@nhs.net,RX1\nsam@nhs.net,RX2\n")
	if out, errOut, code := cli.run("directory", "import", "--orgs", orgs, "--accounts", accts); code != 0 {
		t.Fatalf("directory import: %d %s %s", code, out, errOut)
	}
	var fs []connlog.Finding
	for _, a := range []string{"pat@nhs.net", "sam@nhs.net", "ghost@nhs.net"} {
		acc := a
		fs = append(fs, connlog.Finding{Account: &acc, Hostname: "imap.nhs.net", Protocol: "IMAP", Day: "2030-07-20",
			FirstSeen: time.Date(2030, 7, 20, 9, 0, 0, 0, time.UTC), LastSeen: time.Date(2030, 7, 20, 10, 0, 0, 0, time.UTC), Successes: 3, Failures: 1})
	}
	if _, err := findingstest.Seed(context.Background(), db, table, findingstest.Batch{Campaign: "cli-test",
		Owners: map[string]string{"pat@nhs.net": "RX1", "sam@nhs.net": "RX2"}, ExpiresAt: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}, fs); err != nil {
		t.Fatal(err)
	}

	// 28 July 2030: advance is due for RX2 (deadline 07 September), not yet for RX1 (07 October).
	out, errOut, code := cli.run("plan", "--campaign", "cli-test", "--at", "2030-07-28", "--json")
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errOut)
	}
	var pl map[string]any
	if err := json.Unmarshal([]byte(out), &pl); err != nil {
		t.Fatal(err)
	}
	due := pl["due"].([]any)
	if pl["campaign"] != "cli-test" || pl["at"] != "2030-07-28" || len(due) != 1 {
		t.Fatalf("plan = %s", out)
	}
	d := due[0].(map[string]any)
	acc := d["accounts"].([]any)[0].(map[string]any)
	got := map[string]any{"org": d["org"], "org_name": d["org_name"], "stage": d["stage"], "deadline": d["deadline"],
		"first_contact": d["first_contact"], "recipients": d["recipients"], "account": acc["account"], "hostname": acc["hostname"],
		"protocol": acc["protocol"], "last_seen": acc["last_seen"], "successes": acc["successes"], "failures": acc["failures"]}
	want := map[string]any{"org": "RX2", "org_name": "Trust Two", "stage": "advance", "deadline": "2030-09-07", "first_contact": true,
		"recipients": []any{"la2@rx2.nhs.net", "pla@rx2.nhs.net"}, "account": "sam@nhs.net", "hostname": "imap.nhs.net",
		"protocol": "IMAP", "last_seen": "2030-07-20T10:00:00Z", "successes": 3.0, "failures": 1.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("due entry (-want +got):\n%s", diff)
	}
	skipped := pl["skipped"].([]any)[0].(map[string]any)
	if skipped["org"] != "RX1" || skipped["reason"] != "not-due" {
		t.Errorf("skipped = %v", pl["skipped"])
	}
	if u := pl["unassigned"].([]any); len(u) != 1 || u[0].(map[string]any)["account"] != "ghost@nhs.net" {
		t.Errorf("unassigned = %v", u)
	}

	// Two concurrent runs of the same day claim the notice once.
	var wg sync.WaitGroup
	outs := make([]string, 4)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, e, c := cli.run("run", "--at", "2030-07-28", "--json")
			if c != 0 {
				t.Errorf("run: %d %s", c, e)
			}
			outs[i] = o
		}()
	}
	wg.Wait()
	claims := 0
	for _, o := range outs {
		var res []struct{ Claimed []ledger.Notice }
		if err := json.Unmarshal([]byte(o), &res); err != nil {
			t.Fatalf("%v: %s", err, o)
		}
		for _, r := range res {
			claims += len(r.Claimed)
		}
	}
	if claims != 1 {
		t.Errorf("%d claims from 4 concurrent runs, want 1", claims)
	}
	n, err := ledger.New(db, table, cli.clock).Get(context.Background(), "cli-test", "RX2", "advance")
	// Claimed, or sent when the delivery issue's in-process sender is wired into runDispatcher.
	if err != nil || (n.Status != ledger.Claimed && n.Status != ledger.Sent) || len(n.Accounts) != 1 {
		t.Errorf("ledger: %+v %v", n, err)
	}
	out, _, _ = cli.run("run", "--at", "2030-07-28", "--dry-run")
	if !strings.Contains(out, "would claim (dry run) 0") {
		t.Errorf("dry run after the run: %s", out)
	}

	// Cancel is final.
	for _, st := range []struct {
		args []string
		code int
	}{{[]string{"campaign", "cancel", "cli-test"}, 0}, {[]string{"campaign", "resume", "cli-test"}, 2}} {
		if _, e, c := cli.run(st.args...); c != st.code {
			t.Errorf("%v: %d %s", st.args, c, e)
		}
	}
	out, _, _ = cli.run("plan", "--campaign", "cli-test", "--at", "2030-08-17", "--json")
	if !strings.Contains(out, `"status": "cancelled"`) || !strings.Contains(out, `"due": []`) || !strings.Contains(out, `"reason": "cancelled"`) {
		t.Errorf("plan of cancelled campaign: %s", out)
	}
}

// A campaign Sunset paused by itself says so, and why, in campaign show and in the report; a
// resume clears it.
func TestAutoPauseIsShown(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, map[string]string{"USER": "alice"})
	db, table := cli.useLocalStack()
	cli.now = time.Date(2030, 7, 1, 8, 0, 0, 0, time.UTC)
	if _, _, code := cli.run("campaign", "apply", writeTemp(t, "campaign.yaml", cliCampaign)); code != 0 {
		t.Fatal("apply failed")
	}
	reason := "bounce rate 12.0% (12 of 100 recipients since the first send) passed the 8.0% limit on 2030-07-01 08:00 UTC"
	if ok, err := campaign.NewStore(db, table, cli.clock).AutoPause(context.Background(), "cli-test", "sunset-feedback (auto-pause)", reason); err != nil || !ok {
		t.Fatal(ok, err)
	}
	out, _, _ := cli.run("campaign", "show", "cli-test")
	if !strings.Contains(out, "status paused") || !strings.Contains(out, "paused automatically: "+reason) {
		t.Errorf("campaign show:\n%s", out)
	}
	out, _, _ = cli.run("report", "--campaign", "cli-test")
	if !strings.Contains(out, "Paused automatically: "+reason) {
		t.Errorf("report:\n%s", out)
	}
	cli.run("campaign", "resume", "cli-test")
	if out, _, _ := cli.run("campaign", "show", "cli-test"); strings.Contains(out, "automatically") {
		t.Errorf("after resume:\n%s", out)
	}
}

// SUNSET_SENDER_IDENTITY (the stack's SES identity) bounds sender.from at validate and apply:
// a campaign outside it is refused, naming both, before anything is stored.
func TestCampaignOutsideTheSendingIdentity(t *testing.T) {
	t.Parallel()
	file := writeTemp(t, "campaign.yaml", cliCampaign)
	for _, tc := range []struct {
		identity string
		code     int
		err      string
	}{
		{"example.nhs.net", 0, ""},
		{"other.nhs.net", 2, "is outside the stack's SES sending identity other.nhs.net"},
		{"noreply@example.nhs.net", 0, ""},
		{"alerts@example.nhs.net", 2, "of exactly alerts@example.nhs.net"},
	} {
		cli := newTestCLI(t, map[string]string{"SUNSET_SENDER_IDENTITY": tc.identity})
		cli.now = time.Date(2030, 7, 1, 8, 0, 0, 0, time.UTC)
		for _, cmd := range []string{"validate", "apply"} {
			if cmd == "apply" && tc.code == 0 {
				continue // needs a table; validate is apply's check
			}
			_, errOut, code := cli.run("campaign", cmd, file)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Errorf("identity %s, campaign %s: exit %d, stderr %q; want %d and %q", tc.identity, cmd, code, errOut, tc.code, tc.err)
			}
		}
	}
}
