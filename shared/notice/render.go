package notice

import (
	"github.com/nhsmail-sunset/sunset/shared/clients"

	"github.com/nhsmail-sunset/sunset/shared/untrusted"

	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/spreadsheet"
)

//go:embed templates
var builtin embed.FS

// Built-in template sets.
const (
	HostnameRetirement = "hostname-retirement"
	BYOMX              = "byo-mx"
)

// Fallback stages: a stage without its own template uses Reminder before the deadline and
// Retired from the deadline on.
const (
	Reminder = "reminder"
	Retired  = "retired"
	// Digest is the template of the helpdesk's daily digest, whose stage is ledger.DigestStage
	// and its date (escalation: notify: helpdesk).
	Digest = "digest"
)

// Email is one rendered notice.
type Email struct {
	From    string
	ReplyTo string
	To      []string
	Subject string
	HTML    string
	Text    string
	CSVName string
	CSV     []byte
	// Date is when it was rendered; the .eml's Date header.
	Date time.Time
	// Campaign, Org and Stage identify the notice (tags and X-Sunset-* headers).
	Campaign, Org, Stage string
	// Template is the template the stage was rendered with (the stage's own or a fallback).
	Template string
	// Mail is, for a merged email, the mail's ID (ledger.MailKey.ID), and Orgs the notices it
	// carries, in its order; "" and none for a notice's own email.
	Mail string
	Orgs []ledger.Notice
}

// SHA256 is the hex SHA-256 of what the recipients read: subject, text, HTML and CSV. The ledger
// keeps it so an audit can prove which content was sent.
func (e *Email) SHA256() string {
	h := sha256.New()
	for _, p := range [][]byte{[]byte(e.Subject), []byte(e.Text), []byte(e.HTML), []byte(e.CSVName), e.CSV} {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Renderer renders the notices of one campaign.
type Renderer struct {
	c     *campaign.Campaign
	loc   *time.Location
	files []fs.FS // looked up in order: the campaign's own folder, then the built-in set

	mu    sync.Mutex
	cache map[string]*pair

	links func(ledger.Notice) Links
}

// WithLinks makes every notice carry the answer links fn gives it.
func (r *Renderer) WithLinks(fn func(ledger.Notice) Links) *Renderer {
	r.links = fn
	return r
}

type pair struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

// New returns the renderer of campaign c. dir is the folder of the campaign file, which a
// custom template folder is relative to ("" when the campaign has none, e.g. in a Lambda).
func New(c *campaign.Campaign, dir string) (*Renderer, error) {
	if c == nil {
		return nil, errors.New("new renderer: no campaign")
	}
	loc := c.Location()
	def := HostnameRetirement
	if c.AudienceSource == "roster" {
		def = BYOMX
	}
	r := &Renderer{c: c, loc: loc, cache: map[string]*pair{}}
	switch name := c.Templates; name {
	case "":
		r.files = []fs.FS{sub(def)}
	case HostnameRetirement, BYOMX:
		r.files = []fs.FS{sub(name)}
	default:
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if st, err := os.Stat(path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("new renderer for campaign %s: template folder %s: not a readable folder (built-in sets: %s, %s)", c.ID, path, HostnameRetirement, BYOMX)
		}
		r.files = []fs.FS{os.DirFS(path), sub(def)}
	}
	return r, nil
}

func sub(set string) fs.FS {
	f, err := fs.Sub(builtin, "templates/"+set)
	if err != nil { // cannot happen: set is one of the embedded folder names
		panic(err)
	}
	return f
}

// Location is the campaign's time zone, in which dates and times are shown.
func (r *Renderer) Location() *time.Location { return r.loc }

var stageName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func (r *Renderer) read(name string) ([]byte, error) {
	var firstErr error
	for _, f := range r.files {
		b, err := fs.ReadFile(f, name)
		if err == nil {
			return b, nil
		}
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, fs.ErrNotExist
}

// templateFor is the template a stage renders with: its own, or the fallback.
func (r *Renderer) templateFor(stage string, retired bool) string {
	s := strings.ToLower(stage)
	if strings.HasPrefix(s, ledger.DigestStage) {
		return Digest
	}
	if stageName.MatchString(s) {
		if _, err := r.read(s + ".txt.tmpl"); err == nil {
			return s
		}
	}
	if retired {
		return Retired
	}
	return Reminder
}

var funcs = map[string]any{
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"join": strings.Join,
	"list": englishList,
	"int":  func(n int64) int { return int(n) },
	"inc":  func(i int) int { return i + 1 },
}

func (r *Renderer) load(name string) (*pair, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.cache[name]; ok {
		return p, nil
	}
	part := func(f string) (string, error) {
		b, err := r.read(f)
		if err != nil {
			return "", fmt.Errorf("template %s: %w", f, err)
		}
		return string(b), nil
	}
	hl, err := part("layout.html.tmpl")
	if err != nil {
		return nil, err
	}
	hs, err := part(name + ".html.tmpl")
	if err != nil {
		return nil, err
	}
	tl, err := part("layout.txt.tmpl")
	if err != nil {
		return nil, err
	}
	ts, err := part(name + ".txt.tmpl")
	if err != nil {
		return nil, err
	}
	h, err := htmltemplate.New("layout").Funcs(funcs).Option("missingkey=error").Parse(hl)
	if err == nil {
		_, err = h.New(name).Parse(hs)
	}
	if err != nil {
		return nil, fmt.Errorf("parse HTML template %s: %w", name, err)
	}
	t, err := texttemplate.New("layout").Funcs(funcs).Option("missingkey=error").Parse(tl)
	if err == nil {
		_, err = t.New(name).Parse(ts)
	}
	if err != nil {
		return nil, fmt.Errorf("parse text template %s: %w", name, err)
	}
	for _, want := range []string{"subject", "body"} {
		if t.Lookup(want) == nil {
			return nil, fmt.Errorf("template %s.txt.tmpl defines no %q", name, want)
		}
	}
	if h.Lookup("body") == nil {
		return nil, fmt.Errorf("template %s.html.tmpl defines no \"body\"", name)
	}
	p := &pair{html: h, text: t}
	r.cache[name] = p
	return p, nil
}

// Render renders notice n as it would be sent at now. Days left are counted from n.PlannedFor,
// or if it is unset from now's date in the campaign's time zone; now is the .eml's Date.
func (r *Renderer) Render(n ledger.Notice, now time.Time) (*Email, error) {
	v := newView(r.c, n, r.loc, now)
	if r.links != nil {
		v.Links = r.links(n)
	}
	name := r.templateFor(n.Stage, v.Retired)
	p, err := r.load(name)
	if err != nil {
		return nil, fmt.Errorf("render notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	var subj, text, html bytes.Buffer
	if err := p.text.ExecuteTemplate(&subj, "subject", v); err != nil {
		return nil, fmt.Errorf("render subject of notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	if err := p.text.ExecuteTemplate(&text, "layout", v); err != nil {
		return nil, fmt.Errorf("render text of notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	if err := p.html.ExecuteTemplate(&html, "layout", v); err != nil {
		return nil, fmt.Errorf("render HTML of notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	csvBytes, err := CSV(n.Accounts, r.loc)
	if len(n.Digest) > 0 {
		csvBytes, err = DigestCSV(n.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("render CSV of notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	to := make([]string, 0, len(n.Recipients))
	for _, a := range n.Recipients {
		if a = Clean(a); a != "" {
			to = append(to, a)
		}
	}
	return &Email{
		From:     Clean(r.c.Sender.From),
		ReplyTo:  Clean(r.c.Sender.ReplyTo),
		To:       to,
		Subject:  Clean(subj.String()),
		HTML:     untrusted.Escape(html.String()),
		Text:     untrusted.Escape(tidyText(text.String())),
		CSVName:  v.CSVName,
		CSV:      []byte(untrusted.Escape(string(csvBytes))),
		Date:     now,
		Campaign: v.CampaignID,
		Org:      v.Org,
		Stage:    v.Stage,
		Template: name,
	}, nil
}

var blankRuns = regexp.MustCompile(`\n{3,}`)

// tidyText collapses the blank lines template actions leave behind.
func tidyText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(blankRuns.ReplaceAllString(strings.Join(lines, "\n"), "\n\n")) + "\n"
}

// DigestCSV is a helpdesk digest's attachment: one row an account of an organisation still
// affected (cells neutralised as every CSV of ours is).
func DigestCSV(orgs []ledger.DigestOrg) ([]byte, error) {
	header := []string{"ods_code", "organisation", "last_stage", "contacts", "accounts_still_seen", "last_seen", "account"}
	return cleanCSV(header, func(row func(...string) error) error {
		for _, o := range orgs {
			accounts := o.Accounts
			if len(accounts) == 0 {
				accounts = []string{""}
			}
			for _, a := range accounts {
				if err := row(o.ODS, o.Name, o.Stage, strings.Join(o.Contacts, " "), strconv.Itoa(o.Count), o.LastSeen.String(), a); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// CSVHeader is the header row of the attached CSV.
var CSVHeader = []string{"account", "legacy_hostname", "direct_ip", "protocol", "first_seen", "last_seen",
	"successes", "failures", "client_ips", "user_agents", "device_ids", "device"}

// CSV is the attachment: every account row of the notice, times in the campaign's zone.
// Values that a spreadsheet would run as a formula are neutralised (package spreadsheet).
func CSV(accounts []ledger.Account, loc *time.Location) ([]byte, error) {
	return cleanCSV(CSVHeader, func(row func(...string) error) error {
		for _, cells := range accountRows(accounts, loc) {
			if err := row(cells...); err != nil {
				return err
			}
		}
		return nil
	})
}

// accountRows are the CSV's rows (CSVHeader's columns) of accounts, in the order the email
// lists them, before cleaning.
func accountRows(accounts []ledger.Account, loc *time.Location) [][]string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04:05")
	}
	var out [][]string
	for _, a := range sortedAccounts(accounts) {
		out = append(out, []string{strings.ToLower(a.Account), strings.ToLower(a.Hostname), strconv.FormatBool(a.DirectIP), a.Protocol,
			ts(a.FirstSeen), ts(a.LastSeen),
			strconv.FormatInt(a.Successes, 10), strconv.FormatInt(a.Failures, 10),
			strings.Join(a.ClientIPs, " "), strings.Join(a.UserAgents, " | "), strings.Join(a.DeviceIDs, " "),
			clients.Describe(clients.OfAccount(a.UserAgents, a.DeviceIDs))})
	}
	return out
}

// cleanCSV is a CSV of header and the rows each gives to row, every cell cleaned and any a
// spreadsheet would run as a formula neutralised (package spreadsheet).
func cleanCSV(header []string, each func(row func(cells ...string) error) error) ([]byte, error) {
	var b bytes.Buffer
	w := spreadsheet.NewWriter(&b, true)
	if err := w.Write(header); err != nil {
		return nil, err
	}
	err := each(func(cells ...string) error {
		for i, f := range cells {
			cells[i] = Clean(f)
		}
		return w.Write(cells)
	})
	if err != nil {
		return nil, err
	}
	err = w.Flush()
	return b.Bytes(), err
}

// englishList joins items the way a sentence does: "a", "a and b", "a, b and c".
func englishList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
