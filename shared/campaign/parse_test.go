package campaign

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

func date(t *testing.T, s string) calendar.Date {
	t.Helper()
	d, err := calendar.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "legacy-hostnames-2021" || len(c.Hostnames) != 6 || len(c.Stages) != 5 {
		t.Fatalf("got %+v", c)
	}
	if got := c.Stages[0].DueOn(c.Shutdown); got != date(t, "2021-07-27") {
		t.Errorf("advance due %s", got)
	}
	if err := c.Validate(date(t, "2021-07-01")); err != nil {
		t.Errorf("Validate before shutdown: %v", err)
	}
	err = c.Validate(date(t, "2021-09-07"))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Key != "shutdown" || ve.Line != 4 {
		t.Errorf("Validate on shutdown day: %v", err)
	}
	want := connlog.Rules{
		Hostnames:      []string{"imap.nhs.net", "pop.nhs.net", "smtp.nhs.net", "eas.nhs.net", "mail.nhs.net", "outlook.nhs.net"},
		Endpoints:      map[string]string{"10.20.0.11:993": "imap.nhs.net", "10.20.0.13": "smtp.nhs.net"},
		IgnoreAccounts: []string{"healthmailbox*"},
	}
	if diff := cmp.Diff(want, c.ScanRules()); diff != "" {
		t.Errorf("ScanRules (-want +got):\n%s", diff)
	}
	// end of campaign 2021-09-07 + 92 days extension + 0 after = 2021-12-08; +180 days retention.
	wantTTL := time.Date(2022, 6, 7, 0, 0, 0, 0, c.Location())
	if got := c.RetainUntil(); !got.Equal(wantTTL) {
		t.Errorf("RetainUntil = %s, want %s", got, wantTTL)
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load("testdata/scanner.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		TZ, Source       string
		Window, Ret, Ext int
		Audience         []string
		Mapping          map[string]string
	}{c.Timezone, c.AudienceSource, c.ActivityWindowDays, c.RetentionDays, c.MaxExtensionDays, c.Audience, c.Mapping}
	want := struct {
		TZ, Source       string
		Window, Ret, Ext int
		Audience         []string
		Mapping          map[string]string
	}{"Europe/London", "findings", 30, 180, 0, []string{"la", "pla"}, map[string]string{"account": "upn", "hostname": "host", "time": "ts"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	// A scanner-only file is valid, but cannot be applied: it has no stages or sender.
	err = c.Validate(date(t, "2021-01-01"))
	if err == nil || !strings.Contains(err.Error(), "stages") || !strings.Contains(err.Error(), "sender.from") {
		t.Errorf("Validate = %v", err)
	}
}

func TestLoadRoster(t *testing.T) {
	c, err := Load("testdata/byo-mx.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []RosterEntry{
		{ODS: "RX1", Deadline: date(t, "2024-07-01"), Domain: "rx1-trust.nhs.uk"},
		{ODS: "Y0222", Deadline: date(t, "2024-09-15"), Domain: "practice-y0222.co.uk"},
		{ODS: "RX3", Deadline: date(t, "2024-12-31")},
	}
	if diff := cmp.Diff(want, c.RosterEntries()); diff != "" {
		t.Errorf("roster (-want +got):\n%s", diff)
	}
	if c.RosterUntil != date(t, "2024-12-31") || c.Templates != "byo-mx" {
		t.Errorf("RosterUntil %s templates %s", c.RosterUntil, c.Templates)
	}
	if err := c.Validate(date(t, "2024-01-01")); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Skipping bank holidays, a deadline past the holiday data's last year is refused.
	c.SkipBankHolidays = "england-and-wales"
	if err := c.Validate(date(t, "2024-01-01")); err != nil {
		t.Errorf("Validate with bank holidays: %v", err)
	}
	c.roster[2].Deadline = date(t, "2027-12-20") // + 92 days of extension: 2028
	if err := c.Validate(date(t, "2024-01-01")); err == nil || !strings.Contains(err.Error(), "RX3's deadline 20 December 2027 runs past 2027") {
		t.Errorf("Validate with a deadline past the data: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string // each must appear in the error
	}{
		{"testdata/bad-unknown-key.yaml", []string{"bad-unknown-key.yaml:6: hostnames[0].replacment_port: unknown key"}},
		{"testdata/bad-stages.yaml", []string{
			"bad-stages.yaml:8: stages[1].days_before: stages must be in date order",
			"bad-stages.yaml:9: stages[2].name: \"advance\" is used by an earlier stage",
		}},
		{"testdata/bad-roster.yaml", []string{
			"bad-roster.csv:3: roster: RX1 is listed twice (first on line 2)",
			"bad-roster.csv:4: roster: deadline \"next tuesday\" of RX2 is not a date",
		}},
		{"testdata/missing.yaml", []string{"read campaign testdata/missing.yaml"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := Load(tc.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

const base = `id: c1
shutdown: 2030-09-07
hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993}
stages:
  - {name: advance, days_before: 42}
  - {name: retired, days_after: 0}
sender: {from: "Team <noreply@example.nhs.net>"}
`

// TestValidationRules covers every rule: each case edits the valid base file and names the key
// (and line) the error must report.
func TestValidationRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		yaml       string    // appended to base
		replace    [2]string // old, new: one replacement in base
		wantKey    string
		wantLine   int
		wantSubstr string
	}{
		{name: "valid"},
		{name: "id missing", replace: [2]string{"id: c1\n", ""}, wantKey: "id", wantSubstr: "required"},
		{name: "id format", replace: [2]string{"id: c1", "id: Legacy_2021"}, wantKey: "id", wantLine: 1},
		{name: "id not a string", replace: [2]string{"id: c1", "id: [a]"}, wantKey: "id", wantSubstr: "must be a string"},
		{name: "unknown top-level key", yaml: "colour: blue\n", wantKey: "colour", wantLine: 10, wantSubstr: "unknown key"},
		{name: "timezone", yaml: "timezone: Mars/Olympus\n", wantKey: "timezone", wantLine: 10},
		{name: "shutdown not a date", replace: [2]string{"2030-09-07", "07/09/2030"}, wantKey: "shutdown", wantLine: 2},
		{name: "shutdown missing", replace: [2]string{"shutdown: 2030-09-07\n", ""}, wantKey: "shutdown"},
		{name: "no hostnames", replace: [2]string{"hostnames:\n  - name: imap.nhs.net\n    replacement: {host: outlook.office365.com, port: 993}\n", "hostnames: []\n"}, wantKey: "hostnames", wantLine: 3},
		{name: "hostname invalid", replace: [2]string{"name: imap.nhs.net", "name: imap_nhs..net"}, wantKey: "hostnames[0].name", wantLine: 4},
		{name: "hostname with an underscore (Windows)", replace: [2]string{"name: imap.nhs.net", "name: mail_gw01.trust.nhs.net"}},
		{name: "hostname label ends in a hyphen", replace: [2]string{"name: imap.nhs.net", "name: imap-.nhs.net"}, wantKey: "hostnames[0].name"},
		{name: "hostname is an ip", replace: [2]string{"name: imap.nhs.net", "name: 10.0.0.1"}, wantKey: "hostnames[0].name", wantSubstr: "endpoints"},
		{name: "hostname twice", yaml: "", replace: [2]string{"stages:", "  - name: IMAP.nhs.net.\n    replacement: {host: outlook.office365.com}\nstages:"}, wantKey: "hostnames[1].name", wantSubstr: "twice"},
		{name: "replacement host missing", replace: [2]string{"{host: outlook.office365.com, port: 993}", "{port: 993}"}, wantKey: "hostnames[0].replacement.host", wantLine: 5},
		{name: "replacement port", replace: [2]string{"port: 993", "port: 99300"}, wantKey: "hostnames[0].replacement.port"},
		{name: "replacement port not a number", replace: [2]string{"port: 993", "port: imaps"}, wantKey: "hostnames[0].replacement.port", wantSubstr: "whole number"},
		{name: "guides", yaml: "guides: {ios-mail: \"https://intranet.example.nhs.net/guides/iphone\", printer: \"https://x.example/p\"}\n"},
		{name: "guide of an unknown kind", yaml: "guides: {fax: \"https://x.example/f\"}\n", wantKey: `guides["fax"]`, wantLine: 10, wantSubstr: "unknown kind of device or app"},
		{name: "guide not https", yaml: "guides: {printer: \"http://x.example/p\"}\n", wantKey: `guides["printer"]`, wantSubstr: "https address"},
		{name: "guide not a link", yaml: "guides: {printer: \"javascript:alert(1)\"}\n", wantKey: `guides["printer"]`, wantSubstr: "https address"},
		{name: "endpoint key", yaml: "endpoints: {\"imap-server:993\": imap.nhs.net}\n", wantKey: `endpoints["imap-server:993"]`, wantLine: 10, wantSubstr: "not an ip or ip:port"},
		{name: "endpoint port", yaml: "endpoints: {\"10.0.0.1:0\": imap.nhs.net}\n", wantKey: `endpoints["10.0.0.1:0"]`},
		{name: "endpoint value not listed", yaml: "endpoints:\n  \"10.0.0.1\": pop.nhs.net\n", wantKey: `endpoints["10.0.0.1"]`, wantLine: 11, wantSubstr: "not one of the campaign's hostnames"},
		{name: "endpoint ipv6 ok", yaml: "endpoints: {\"[2001:db8::1]:993\": IMAP.NHS.NET, \"2001:db8::2\": imap.nhs.net}\n"},
		{name: "endpoint ipv6 zone ok", yaml: "endpoints: {\"fe80::1c2d:3e4f:5a6b:7c8d%12\": imap.nhs.net, \"[fe80::1%eth0]:993\": imap.nhs.net}\n"},
		{name: "endpoint zones of one address, two hostnames", replace: [2]string{"stages:", "  - {name: pop.nhs.net, replacement: {host: outlook.office365.com}}\nendpoints: {\"fe80::1%12\": imap.nhs.net, \"fe80::1%13\": pop.nhs.net}\nstages:"},
			wantKey: `endpoints["fe80::1%13"]`, wantSubstr: `the same address as "fe80::1%12"`},
		{name: "formats default ok", yaml: "formats: {iis: {fields: default}, exchange-httpproxy: {fields: \"DateTime,UrlHost,AuthenticatedUser,HttpStatus\"}}\n"},
		{name: "formats unknown format", yaml: "formats: {w3c: {fields: default}}\n", wantKey: `formats["w3c"].fields`, wantSubstr: "not a format"},
		{name: "formats without a field list", yaml: "formats: {alb: {fields: default}}\n", wantKey: `formats["alb"].fields`, wantSubstr: "no field list"},
		{name: "formats list one field", yaml: "formats: {iis: {fields: \"date,time,s-ip\"}}\n", wantKey: `formats["iis"].fields`, wantSubstr: "not a iis field list"},
		{name: "formats unknown key", yaml: "formats: {iis: {columns: x}}\n", wantKey: `formats["iis"].columns`, wantSubstr: "unknown key"},
		{name: "ignore glob", yaml: "ignore_accounts: [\"health[mailbox\"]\n", wantKey: "ignore_accounts[0]", wantLine: 10},
		{name: "mapping key", yaml: "mapping: {acount: upn}\n", wantKey: `mapping["acount"]`, wantLine: 10},
		{name: "audience source", yaml: "audience_source: everyone\n", wantKey: "audience_source"},
		{name: "roster without roster source", yaml: "roster: x.csv\n", wantKey: "roster"},
		{name: "roster source without roster", yaml: "audience_source: roster\n", wantKey: "roster", wantSubstr: "required"},
		{name: "negative extension", yaml: "max_extension_days: -1\n", wantKey: "max_extension_days"},
		{name: "zero window", yaml: "activity_window_days: 0\n", wantKey: "activity_window_days"},
		{name: "zero retention", yaml: "retention_days: 0\n", wantKey: "retention_days"},
		{name: "stage both offsets", replace: [2]string{"{name: retired, days_after: 0}", "{name: retired, days_after: 0, days_before: 1}"}, wantKey: "stages[1]", wantLine: 8, wantSubstr: "exactly one"},
		{name: "stage no offset", replace: [2]string{"{name: retired, days_after: 0}", "{name: retired}"}, wantKey: "stages[1]", wantSubstr: "set one of"},
		{name: "stage negative", replace: [2]string{"days_before: 42", "days_before: -42"}, wantKey: "stages[0].days_before"},
		{name: "stage name", replace: [2]string{"name: advance", "name: Advance Notice"}, wantKey: "stages[0].name"},
		{name: "stage name missing", replace: [2]string{"name: advance, ", ""}, wantKey: "stages[0].name", wantSubstr: "required"},
		{name: "stage names unique", replace: [2]string{"name: retired", "name: advance"}, wantKey: "stages[1].name", wantSubstr: "unique"},
		{name: "stage names digest- kept for the helpdesk", replace: [2]string{"name: advance", "name: digest-1"}, wantKey: "stages[0].name", wantSubstr: "helpdesk"},
		{name: "stage order", replace: [2]string{"days_after: 0", "days_before: 50"}, wantKey: "stages[1].days_before", wantSubstr: "date order"},
		{name: "stage same day", replace: [2]string{"days_before: 42", "days_before: 0"}, wantKey: "stages[1].days_after", wantSubstr: "date order"},
		{name: "stage unknown key", replace: [2]string{"days_after: 0}", "days_after: 0, template: x}"}, wantKey: "stages[1].template", wantLine: 8},
		{name: "audience value", yaml: "audience: [la, ceo]\n", wantKey: "audience[1]", wantLine: 10},
		{name: "audience twice", yaml: "audience: [la, LA]\n", wantKey: "audience[1]"},
		{name: "audience empty", yaml: "audience: []\n", wantKey: "audience"},
		{name: "audience account ok", yaml: "audience: [account]\n"},
		{name: "sender from", replace: [2]string{"Team <noreply@example.nhs.net>", "noreply at example"}, wantKey: "sender.from", wantLine: 9},
		{name: "sender header injection", replace: [2]string{`"Team <noreply@example.nhs.net>"`, `"a@b.net\r\nBcc: x@y.net"`}, wantKey: "sender.from"},
		{name: "reply to", yaml: "", replace: [2]string{`nhs.net>"}`, `nhs.net>", reply_to: helpdesk}`}, wantKey: "sender.reply_to"},
		{name: "helpdesk email", yaml: "helpdesk: {email: nobody}\n", wantKey: "helpdesk.email", wantLine: 10},
		{name: "duplicate key", yaml: "id: c2\n", wantKey: "id", wantLine: 10, wantSubstr: "duplicate key"},
		{name: "not yaml", yaml: "stages: [\n", wantSubstr: "did not find expected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := base
			if tc.replace[0] != "" {
				if !strings.Contains(src, tc.replace[0]) {
					t.Fatalf("base has no %q", tc.replace[0])
				}
				src = strings.Replace(src, tc.replace[0], tc.replace[1], 1)
			}
			src += tc.yaml
			c, err := Parse([]byte(src), "c.yaml")
			if tc.wantKey == "" && tc.wantSubstr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c == nil {
					t.Fatal("nil campaign")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for:\n%s", src)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *ValidationError", err)
			}
			if tc.wantKey != "" && ve.Key != tc.wantKey {
				t.Errorf("key = %q, want %q (error: %v)", ve.Key, tc.wantKey, err)
			}
			if tc.wantLine != 0 && ve.Line != tc.wantLine {
				t.Errorf("line = %d, want %d (error: %v)", ve.Line, tc.wantLine, err)
			}
			if !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Errorf("error %q does not contain %q", err, tc.wantSubstr)
			}
		})
	}
}

func TestStagesOnBSTBoundary(t *testing.T) {
	// Deadline the day after the clocks go back: due dates are civil dates, never 23/25-hour days.
	c, err := Parse([]byte(strings.Replace(base, "2030-09-07", "2030-10-28", 1)), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Stages[0].DueOn(c.Shutdown); got != date(t, "2030-09-16") {
		t.Errorf("advance due %s", got)
	}
	// 23:30 UTC on 26 October 2030 is already 27 October in London (BST, UTC+1).
	if got := c.Today(time.Date(2030, 10, 26, 23, 30, 0, 0, time.UTC)); got != date(t, "2030-10-27") {
		t.Errorf("Today = %s", got)
	}
}

// The stack's SES identity (a domain, or one address) bounds sender.from: IAM allows SendEmail
// only on it, so a campaign outside it is refused at validate, naming both.
func TestSenderIdentity(t *testing.T) {
	for _, tc := range []struct {
		identity, from string
		ok             bool
	}{
		{"", "Team <noreply@example.nhs.net>", true},
		{"example.nhs.net", "Team <noreply@example.nhs.net>", true},
		{"Example.NHS.net", "Team <NoReply@example.nhs.net>", true},
		{"noreply@example.nhs.net", "noreply@example.nhs.net", true},
		{"nhs.net", "Team <noreply@example.nhs.net>", false}, // a subdomain is its own identity
		{"example.nhs.net", "noreply@other.nhs.net", false},
		{"other@example.nhs.net", "noreply@example.nhs.net", false},
		{"example.nhs.net", "noreply@evil.example.nhs.net.attacker.example", false},
	} {
		src := strings.Replace(base, "Team <noreply@example.nhs.net>", tc.from, 1)
		_, err := ParseWith([]byte(src), "c.yaml", Options{Identity: tc.identity})
		if tc.ok != (err == nil) {
			t.Errorf("identity %q, from %q: error %v, want ok=%v", tc.identity, tc.from, err, tc.ok)
			continue
		}
		var ve *ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Key != "sender.from" || !strings.Contains(err.Error(), tc.identity) || ve.Line != 9) {
			t.Errorf("identity %q, from %q: error %v should be at sender.from, line 9, naming the identity", tc.identity, tc.from, err)
		}
	}
}
