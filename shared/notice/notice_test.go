package notice_test

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func loadCampaign(t *testing.T, name string) *campaign.Campaign {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var c campaign.Campaign
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &c
}

func date(t *testing.T, s string) calendar.Date {
	t.Helper()
	d, err := calendar.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var london, _ = time.LoadLocation("Europe/London")

// at is 09:00 UK time on d: when the daily run sends.
func at(d calendar.Date) time.Time { return d.Start(london).Add(9 * time.Hour) }

func hostnameNotice(t *testing.T) ledger.Notice {
	seen := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	return ledger.Notice{
		Campaign: "legacy-hostnames-2021", Org: "RX1", OrgName: "Example Teaching Hospitals NHS Foundation Trust",
		Deadline:   date(t, "2021-09-07"),
		Recipients: []string{"la.one@nhs.net", "pla@nhs.net"},
		Accounts: []ledger.Account{
			{Account: "ward7.scanner@nhs.net", Hostname: "smtp.nhs.net", Protocol: "SMTP",
				FirstSeen: seen("2021-06-01T07:00:00Z"), LastSeen: seen("2021-07-05T13:42:10Z"),
				Successes: 412, Failures: 0, ClientIPs: []string{"10.20.30.40"}, UserAgents: []string{"Canon iR-ADV C5535"}},
			{Account: "Pharmacy.Orders@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP",
				LastSeen: seen("2021-07-04T22:15:00Z"), Successes: 88, Failures: 9,
				ClientIPs: []string{"10.1.1.5", "10.1.1.6", "10.1.1.7", "10.1.1.8"}, UserAgents: []string{"PharmSys/4.2"}},
			{Account: "pharmacy.orders@nhs.net", Hostname: "mail.nhs.net", Protocol: "EWS", DirectIP: true,
				LastSeen: seen("2021-07-03T08:00:00Z"), Successes: 3, ClientIPs: []string{"=cmd|' /C calc'!A0"}},
			{Account: "dr.jones@nhs.net", Hostname: "eas.nhs.net", Protocol: "ActiveSync",
				LastSeen: seen("2021-01-15T12:30:00Z"), Successes: 1500, Failures: 2,
				UserAgents: []string{"Apple-iPhone13C2/1805.436"}},
		},
	}
}

func byoNotice(t *testing.T) ledger.Notice {
	return ledger.Notice{
		Campaign: "byo-mx-2021", Org: "Y0123", OrgName: "Riverside Health Centre",
		Deadline: date(t, "2021-11-30"), Domain: "riverside-hc.example.org.uk",
		Recipients: []string{"pla@riverside.example.nhs.net"},
	}
}

// goldenLinks are the answer links of the golden notices: real tokens under a fixed key, so
// the files show exactly what a recipient gets.
func goldenLinks(t *testing.T, c *campaign.Campaign) func(ledger.Notice) notice.Links {
	keys, err := signing.NewKeyring([]byte(strings.Repeat("g", 32)))
	if err != nil {
		t.Fatal(err)
	}
	ls := answers.Links{Keys: keys, Base: "https://console.example.nhs.uk"}
	return func(n ledger.Notice) notice.Links {
		l := answers.Link{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage}
		exp := c.RetainUntil()
		return notice.Links{Fixed: ls.URL(answers.Fixed, l, exp), NotOurs: ls.URL(answers.NotOurs, l, exp), MoreTime: ls.URL(answers.MoreTime, l, exp)}
	}
}

// A notice to an organisation that said it had changed its settings but is still seen, and
// that said one account is not theirs: it says both plainly.
func TestGoldenAnswered(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	r.WithLinks(goldenLinks(t, c))
	n := hostnameNotice(t)
	n.Stage = "final"
	n.Acknowledged = &ledger.Acknowledgement{At: time.Date(2021, 8, 12, 10, 30, 0, 0, time.UTC), By: "la.one@example.nhs.net"}
	n.Accounts[0].UnderReview = true
	st, _ := c.Stage("final")
	e, err := r.Render(n, at(st.DueOn(n.Deadline)))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{e.Text, e.HTML} {
		for _, w := range []string{"On 12 August 2021 you told us these settings had been changed", "We still see the accounts below using the legacy hostnames, most recently on",
			"under review: you told us it is not yours"} {
			if !strings.Contains(body, w) {
				t.Errorf("the notice does not say %q", w)
			}
		}
	}
	base := filepath.Join("testdata", "golden", c.ID, "final-answered")
	golden(t, base+".txt", "Subject: "+e.Subject+"\nTemplate: "+e.Template+"\n\n"+e.Text)
	golden(t, base+".html", e.HTML)
}

// Every stage of both default campaigns, rendered on its due date, against golden files.
func TestGolden(t *testing.T) {
	for _, set := range []struct {
		file   string
		notice func(*testing.T) ledger.Notice
	}{
		{"hostname-retirement.yaml", hostnameNotice},
		{"byo-mx.yaml", byoNotice},
	} {
		c := loadCampaign(t, set.file)
		r, err := notice.New(c, "testdata")
		if err != nil {
			t.Fatal(err)
		}
		r.WithLinks(goldenLinks(t, c))
		for i, st := range c.Stages {
			t.Run(c.ID+"/"+st.Name, func(t *testing.T) {
				n := set.notice(t)
				n.Stage = st.Name
				n.FirstContact = i == 0
				e, err := r.Render(n, at(st.DueOn(n.Deadline)))
				if err != nil {
					t.Fatal(err)
				}
				eml, err := e.EML()
				if err != nil {
					t.Fatal(err)
				}
				base := filepath.Join("testdata", "golden", c.ID, st.Name)
				golden(t, base+".txt", "Subject: "+e.Subject+"\nTemplate: "+e.Template+"\n\n"+e.Text)
				golden(t, base+".html", e.HTML)
				golden(t, base+".eml", string(eml))
				golden(t, filepath.Join("testdata", "golden", c.ID, "accounts.csv"), string(e.CSV))
			})
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
	}
}

func TestStageAndWording(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		stage        string
		first        bool
		on           string
		wantTemplate string
		wantSubject  string
		wantText     []string
	}{
		{"own template", "advance", true, "2021-07-09", "advance",
			"Action required by 07 September 2021: 3 accounts at Example Teaching Hospitals NHS Foundation Trust still use retiring NHSmail hostnames",
			[]string{"Tuesday 07 September 2021 (60 days from today)", "This is our first message to you"}},
		{"unknown stage before the deadline reads as a reminder", "second-nudge", false, "2021-09-06", "reminder",
			"Reminder: 1 day left to update 3 accounts at Example Teaching Hospitals NHS Foundation Trust before NHSmail hostnames are retired on 07 September 2021",
			[]string{"We wrote to you about this earlier"}},
		{"reminder to an organisation found late", "reminder", true, "2021-08-08", "reminder", "",
			[]string{"This is our first message to you about this change: we have only recently seen"}},
		{"unknown stage after the deadline reads as retired", "post-mortem", false, "2021-09-10", "retired",
			"Retired on 07 September 2021: 3 accounts at Example Teaching Hospitals NHS Foundation Trust used NHSmail hostnames that no longer work",
			[]string{"have now been retired", "(3 days ago)"}},
		{"a stage name that is not a file name falls back", "../layout", false, "2021-09-01", "reminder", "", nil},
		{"final on the day", "final", false, "2021-09-07", "final", "", []string{"switched off permanently on Tuesday 07 September 2021: today."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := hostnameNotice(t)
			n.Stage, n.FirstContact = tt.stage, tt.first
			e, err := r.Render(n, at(date(t, tt.on)))
			if err != nil {
				t.Fatal(err)
			}
			if e.Template != tt.wantTemplate {
				t.Errorf("template = %q, want %q", e.Template, tt.wantTemplate)
			}
			if tt.wantSubject != "" && e.Subject != tt.wantSubject {
				t.Errorf("subject = %q\nwant      %q", e.Subject, tt.wantSubject)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(e.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, e.Text)
				}
				if !strings.Contains(e.HTML, w) {
					t.Errorf("HTML lacks %q", w)
				}
			}
		})
	}
}

// An organisation name is user input: HTML must escape it and no header may be injected.
func TestHostileOrgName(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	n := hostnameNotice(t)
	n.Stage = "advance"
	n.OrgName = "Evil <script>alert(1)</script> Trust\r\nBcc: victim@example.com\nX-Injected: yes\x00\u2028"
	n.Accounts[0].UserAgents = []string{`<img src=x onerror=alert(2)>`}
	e, err := r.Render(n, at(date(t, "2021-07-09")))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<img"} {
		if strings.Contains(e.HTML, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	if !strings.Contains(e.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("HTML does not show the escaped org name")
	}
	if strings.ContainsAny(e.Subject, "\r\n\x00") {
		t.Errorf("subject has a control character: %q", e.Subject)
	}
	eml, err := e.EML()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(eml))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bcc", "X-Injected"} {
		if v := msg.Header.Get(h); v != "" {
			t.Errorf("header %s was injected: %q", h, v)
		}
	}
	var keys []string
	for k := range msg.Header {
		keys = append(keys, k)
	}
	want := []string{"Content-Type", "Date", "From", "Mime-Version", "Reply-To", "Subject", "To", "X-Sunset-Campaign", "X-Sunset-Org", "X-Sunset-Stage"}
	if d := cmp.Diff(want, sorted(keys)); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if subj != e.Subject || !strings.Contains(subj, "Bcc: victim@example.com X-Injected: yes") {
		t.Errorf("subject header = %q, want the cleaned subject %q", subj, e.Subject)
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// More than 50 rows: 50 inline, all in the CSV, and the email says so. The .eml carries the CSV.
func TestManyAccountsAndAttachment(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	n := hostnameNotice(t)
	n.Stage = "reminder"
	n.Accounts = nil
	for i := range 73 {
		n.Accounts = append(n.Accounts, ledger.Account{Account: fmt.Sprintf("user%02d@nhs.net", i), Hostname: "pop.nhs.net",
			Protocol: "POP3", LastSeen: time.Date(2021, 8, 1, 12, 0, 0, 0, time.UTC), Successes: 1})
	}
	e, err := r.Render(n, at(date(t, "2021-08-08")))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(e.HTML, `<strong>user`); got != 50 {
		t.Errorf("HTML shows %d account rows, want 50", got)
	}
	for _, w := range []string{"the first 50 of 73 rows", "lists all 73", "user49@nhs.net"} {
		if !strings.Contains(e.Text, w) {
			t.Errorf("text lacks %q", w)
		}
	}
	if strings.Contains(e.Text, "user50@nhs.net") {
		t.Error("text shows row 51")
	}
	eml, err := e.EML()
	if err != nil {
		t.Fatal(err)
	}
	csv := attachment(t, eml)
	if got := strings.Count(string(csv), "\r\n"); got != 74 {
		t.Errorf("attached CSV has %d lines, want 74 (header + 73)", got)
	}
	if !bytes.Equal(csv, e.CSV) {
		t.Error("attached CSV differs from the rendered CSV")
	}
	if !strings.Contains(string(csv), "user72@nhs.net,pop.nhs.net,false,POP3,,2021-08-01 13:00:00") {
		t.Errorf("CSV row not in UK local time:\n%s", csv)
	}
}

func attachment(t *testing.T, eml []byte) []byte {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(eml))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			t.Fatal("no attachment in the message")
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.FileName() != "" {
			b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestCSVNeutralisesFormulas(t *testing.T) {
	b, err := notice.CSV([]ledger.Account{{Account: "a@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP",
		ClientIPs: []string{"=1+1"}, UserAgents: []string{"+SUM(A1)", "@cmd"}}}, london)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `,'=1+1,'+SUM(A1) | @cmd,`) {
		t.Errorf("formula not neutralised:\n%s", b)
	}
}

func TestCustomTemplateFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ours"), 0o755); err != nil {
		t.Fatal(err)
	}
	own := `{{define "subject"}}Our own words for {{.OrgName}}{{end}}{{define "body"}}Custom body.{{end}}`
	if err := os.WriteFile(filepath.Join(dir, "ours", "advance.txt.tmpl"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ours", "advance.html.tmpl"), []byte(`{{define "body"}}<p>Custom {{.OrgName}}</p>{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := loadCampaign(t, "hostname-retirement.yaml")
	c.Templates = "ours"
	r, err := notice.New(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	n := hostnameNotice(t)
	n.Stage = "advance"
	e, err := r.Render(n, at(date(t, "2021-07-09")))
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Our own words for Example Teaching Hospitals NHS Foundation Trust" || !strings.Contains(e.Text, "Custom body.") ||
		!strings.Contains(e.HTML, "<p>Custom Example") {
		t.Errorf("custom template not used: %q\n%s", e.Subject, e.Text)
	}
	if !strings.Contains(e.HTML, `<html lang="en-GB">`) {
		t.Error("the built-in layout was not used as the fallback")
	}
	n.Stage = "final" // not in the folder: the built-in one
	e, err = r.Render(n, at(date(t, "2021-09-04")))
	if err != nil || !strings.HasPrefix(e.Subject, "Final reminder") {
		t.Errorf("final: %v %q", err, e.Subject)
	}

	c.Templates = "missing"
	if _, err := notice.New(c, dir); err == nil {
		t.Error("New accepted a missing template folder")
	}
	os.WriteFile(filepath.Join(dir, "ours", "advance.txt.tmpl"), []byte(`{{define "body"}}no subject{{end}}`), 0o644)
	c.Templates = "ours"
	r, _ = notice.New(c, dir)
	if _, err := r.Render(n, at(date(t, "2021-07-09"))); err == nil {
		n.Stage = "advance"
		if _, err := r.Render(n, at(date(t, "2021-07-09"))); err == nil {
			t.Error("a template without a subject rendered")
		}
	}
}

func TestSHA256ChangesWithContent(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, _ := notice.New(c, "")
	n := hostnameNotice(t)
	n.Stage = "advance"
	a, _ := r.Render(n, at(date(t, "2021-07-09")))
	b, _ := r.Render(n, at(date(t, "2021-07-09")))
	if a.SHA256() != b.SHA256() || len(a.SHA256()) != 64 {
		t.Errorf("same notice, different hashes: %s %s", a.SHA256(), b.SHA256())
	}
	n.Accounts[0].Failures++
	d, _ := r.Render(n, at(date(t, "2021-07-09")))
	if d.SHA256() == a.SHA256() {
		t.Error("different content, same hash")
	}
}

// A notice before a brownout announces it; one after does not; one the day after says what
// the logs showed during it.
func TestBrownoutWording(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	c.Brownouts = []campaign.Brownout{{Date: date(t, "2021-08-24"), Hours: "09:00-12:00", Hostnames: []string{"imap.nhs.net", "pop.nhs.net"}}}
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	render := func(planned string, seen *ledger.BrownoutSeen) *notice.Email {
		t.Helper()
		n := hostnameNotice(t)
		n.Stage, n.PlannedFor, n.Brownout = "reminder", date(t, planned), seen
		e, err := r.Render(n, at(date(t, planned)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	before := render("2021-08-17", nil)
	for _, body := range []string{before.Text, before.HTML} {
		for _, w := range []string{"switch-off test", "Tuesday 24 August 2021, 09:00-12:00", "imap.nhs.net and pop.nhs.net"} {
			if !strings.Contains(body, w) {
				t.Errorf("a notice before the brownout does not say %q", w)
			}
		}
	}
	onTheDay := render("2021-08-24", nil)
	if !strings.Contains(onTheDay.Text, "Tuesday 24 August 2021, 09:00-12:00") {
		t.Error("a notice on the brownout's day does not announce it")
	}
	after := render("2021-08-31", nil)
	if strings.Contains(after.Text, "switch-off test") || strings.Contains(after.HTML, "switch-off test") {
		t.Error("a notice after the brownout still announces it")
	}
	dayAfter := render("2021-08-25", &ledger.BrownoutSeen{Date: date(t, "2021-08-24"), Hours: "09:00-12:00",
		Hostnames: []string{"imap.nhs.net"}, Accounts: []string{"pharmacy.orders@nhs.net", "ward7.scanner@nhs.net"}})
	for _, w := range []string{"During the switch-off test on Tuesday 24 August 2021 (09:00-12:00, UK time)",
		"pharmacy.orders@nhs.net and ward7.scanner@nhs.net"} {
		if !strings.Contains(dayAfter.Text, w) || !strings.Contains(dayAfter.HTML, w) {
			t.Errorf("the notice the day after does not say %q", w)
		}
	}
	golden(t, filepath.Join("testdata", "golden", c.ID, "reminder-brownout.txt"), before.Text)
	golden(t, filepath.Join("testdata", "golden", c.ID, "reminder-after-brownout.txt"), dayAfter.Text)
}

// Each account names its device or app beside the evidence, and the notice gives the steps
// for each kind it saw, with the campaign's guide link for that kind when it has one; the CSV
// carries the device too.
func TestDevicesAndHowToFixThem(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	c.Guides = map[string]string{"ios-mail": "https://intranet.example.nhs.net/guides/iphone"}
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	n := hostnameNotice(t)
	n.Stage = "advance"
	e, err := r.Render(n, at(date(t, "2021-07-09")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Device or app: <strong>Mail app on an iPhone, iOS 14</strong>", "Multifunction printer or scanner, Canon",
		"How to fix it, device by device", "Mail app on an iPhone or iPad</h3>",
		`<a href="https://intranet.example.nhs.net/guides/iphone">Step-by-step guide: Mail app on an iPhone or iPad</a>`} {
		if !strings.Contains(e.HTML, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	if !strings.Contains(e.Text, "Step-by-step guide: https://intranet.example.nhs.net/guides/iphone") || !strings.Contains(e.Text, "  1. Open Settings, then Mail") {
		t.Errorf("the text lacks the steps or the guide:\n%s", e.Text)
	}
	if !strings.Contains(string(e.CSV), ",device\r\n") || !strings.Contains(string(e.CSV), "Mail app on an iPhone, iOS 14") {
		t.Errorf("the CSV lacks the device column:\n%s", e.CSV)
	}
}

// A merged email (one address, three organisations due the same day) against golden files: the
// subject and opening say how many organisations; each has its own section with its own links
// and deadline; one CSV with every organisation's rows; the X-Sunset-Mail header.
func TestGoldenMerged(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	r.WithLinks(goldenLinks(t, c))
	st, _ := c.Stage("reminder")
	var ns []ledger.Notice
	for i, name := range []string{"Riverside Surgery", "Hillview Practice", "Castle Street Medical Centre"} {
		n := hostnameNotice(t)
		n.Org, n.OrgName, n.Stage = fmt.Sprintf("Y%05d", 10+i), name, st.Name
		n.Accounts = n.Accounts[:1+i%len(n.Accounts)]
		ns = append(ns, n)
	}
	const la = "support.unit@example.nhs.net"
	k := ledger.MailKeyOf(c.ID, st.DueOn(ns[0].Deadline), la)
	e, err := r.RenderMerged(k, la, ns, at(st.DueOn(ns[0].Deadline)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "3 organisations") || !strings.HasPrefix(e.Text, "This email covers 3 organisations") {
		t.Errorf("subject %q / opening do not say how many organisations", e.Subject)
	}
	for _, n := range ns {
		l := goldenLinks(t, c)(n)
		if !strings.Contains(e.HTML, htmlEscape(l.Fixed)) || !strings.Contains(e.Text, l.NotOurs) {
			t.Errorf("the section of %s lacks its own links", n.Org)
		}
	}
	if len(e.To) != 1 || e.To[0] != la || e.Mail != k.ID() {
		t.Errorf("to %v, mail %q", e.To, e.Mail)
	}
	eml, err := e.EML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(eml), notice.HeaderMail+": "+k.ID()) {
		t.Error("the message does not name its mail")
	}
	base := filepath.Join("testdata", "golden", c.ID, "merged")
	golden(t, base+".txt", "Subject: "+e.Subject+"\nTemplate: "+e.Template+"\n\n"+e.Text)
	golden(t, base+".html", e.HTML)
	golden(t, base+".csv", string(e.CSV))
}

func htmlEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// A merged email shows hostile organisation names as text everywhere it names them (the
// subject, the opening, the list, each section's heading, the CSV), never as markup, headers
// or a formula.
func TestHostileOrgNameInAMergedEmail(t *testing.T) {
	c := loadCampaign(t, "hostname-retirement.yaml")
	r, err := notice.New(c, "")
	if err != nil {
		t.Fatal(err)
	}
	var ns []ledger.Notice
	for i, name := range []string{"Evil <script>alert(1)</script>\r\nBcc: victim@example.com", "=HYPERLINK(\"http://x\")"} {
		n := hostnameNotice(t)
		n.Org, n.OrgName, n.Stage = fmt.Sprintf("Y%05d", i), name, "advance"
		ns = append(ns, n)
	}
	k := ledger.MailKeyOf(c.ID, date(t, "2021-07-27"), "unit@example.nhs.net")
	e, err := r.RenderMerged(k, "unit@example.nhs.net", ns, at(date(t, "2021-07-27")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.HTML, "<script>") || !strings.Contains(e.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the HTML does not escape the organisation's name")
	}
	if strings.ContainsAny(e.Subject, "\r\n") || strings.Contains(e.Text, "\r\nBcc") {
		t.Errorf("a line break from a name survived: %q", e.Subject)
	}
	if strings.Contains(string(e.CSV), "\n=HYPERLINK") || strings.Contains(string(e.CSV), ",=HYPERLINK") {
		t.Errorf("the CSV carries a formula:\n%s", e.CSV)
	}
	eml, err := e.EML()
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(eml))
	if err != nil || msg.Header.Get("Bcc") != "" || msg.Header.Get(notice.HeaderMail) != k.ID() || msg.Header.Get(notice.HeaderOrg) != "" {
		t.Errorf("headers: %v %v", msg.Header, err)
	}
}
