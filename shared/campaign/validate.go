package campaign

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/clients"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

// Defaults for keys a campaign file leaves out.
const (
	DefaultTimezone           = "Europe/London"
	DefaultActivityWindowDays = 30
	DefaultRetentionDays      = 180
	SourceFindings            = "findings"
	SourceRoster              = "roster"
)

// Audience values.
const (
	AudienceLA      = "la"
	AudiencePLA     = "pla"
	AudienceAccount = "account"
)

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	stagePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// A label of a host name: letters, digits, hyphens inside, and underscores, which Windows
	// host names (and so the names in their servers' logs) can have.
	labelPattern = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$`)
)

func (c *Campaign) has(key string) bool { _, ok := c.lines[key]; return ok }

func (c *Campaign) applyDefaults() {
	if c.Timezone == "" {
		c.Timezone = DefaultTimezone
	}
	if c.AudienceSource == "" {
		c.AudienceSource = SourceFindings
	}
	if c.ActivityWindowDays == 0 && !c.has("activity_window_days") {
		c.ActivityWindowDays = DefaultActivityWindowDays
	}
	if c.RetentionDays == 0 && !c.has("retention_days") {
		c.RetentionDays = DefaultRetentionDays
	}
	if c.Audience == nil {
		c.Audience = []string{AudienceLA, AudiencePLA}
	}
	if c.Title == "" {
		c.Title = c.ID
	}
	if c.Templates == "" {
		if c.AudienceSource == SourceRoster {
			c.Templates = "byo-mx"
		} else {
			c.Templates = "hostname-retirement"
		}
	}
}

// normalise makes the values that become keys or are compared case-insensitively canonical.
func (c *Campaign) normalise() {
	for i := range c.Hostnames {
		c.Hostnames[i].Name = normHost(c.Hostnames[i].Name)
		c.Hostnames[i].Replacement.Host = normHost(c.Hostnames[i].Replacement.Host)
	}
	if len(c.Endpoints) > 0 {
		m := make(map[string]string, len(c.Endpoints))
		for k, v := range c.Endpoints {
			m[strings.TrimSpace(k)] = normHost(v)
		}
		c.Endpoints = m
	}
	for i, a := range c.Audience {
		c.Audience[i] = strings.ToLower(strings.TrimSpace(a))
	}
	c.AudienceSource = strings.ToLower(strings.TrimSpace(c.AudienceSource))
	for i := range c.Brownouts {
		for j, h := range c.Brownouts[i].Hostnames {
			c.Brownouts[i].Hostnames[j] = normHost(h)
		}
	}
	for i := range c.Escalation {
		for j, a := range c.Escalation[i].Add {
			c.Escalation[i].Add[j] = strings.ToLower(strings.TrimSpace(a))
		}
		c.Escalation[i].Notify = strings.ToLower(strings.TrimSpace(c.Escalation[i].Notify))
	}
	c.SkipBankHolidays = strings.ToLower(strings.TrimSpace(c.SkipBankHolidays))
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".") }

func validHostname(h string) bool {
	if h == "" || len(h) > 253 || net.ParseIP(h) != nil {
		return false
	}
	for l := range strings.SplitSeq(h, ".") {
		if !labelPattern.MatchString(l) {
			return false
		}
	}
	return true
}

// validate checks every rule of a parsed campaign file, reporting each mistake at its key.
func (p *parser) validate(c *Campaign) {
	p.validateIdentity(c)
	p.validateTemplates(c)
	p.validateHostnames(c)
	p.validateScanning(c)
	p.validateNumbers(c)
	p.validateStages(c)
	p.validateAudience(c)
	if _, err := mail.ParseAddress(c.Sender.From); err == nil {
		if err := c.CheckIdentity(p.identity); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	p.validateCalendar(c)
	p.validateEscalation(c)
	p.validateBrownouts(c)
	p.validateGuides(c)
}

// validateGuides: each key a kind of device or app shared/clients knows, each value an https
// address of a sensible length.
func (p *parser) validateGuides(c *Campaign) {
	for _, k := range slices.Sorted(maps.Keys(c.Guides)) {
		key := fmt.Sprintf("guides[%q]", k)
		if !clients.Known(clients.Family(k)) {
			p.errf(key, "unknown kind of device or app (known: %s)", strings.Join(familyNames(), ", "))
			continue
		}
		u, err := url.Parse(c.Guides[k])
		if err != nil || u.Scheme != "https" || u.Host == "" || len(c.Guides[k]) > 500 || strings.ContainsAny(c.Guides[k], " \t\r\n\"<>") {
			p.errf(key, "must be an https address of at most 500 characters")
		}
	}
}

func familyNames() []string {
	out := make([]string, len(clients.Families))
	for i, f := range clients.Families {
		out[i] = string(f)
	}
	return out
}

// validateCalendar: a send window's days and hours, a bank-holiday division the data has, and
// no date of the campaign past the last year of that data.
func (p *parser) validateCalendar(c *Campaign) {
	if w := c.SendWindow; w != nil {
		_, days, err := weekdays(w.Days)
		switch {
		case err != nil:
			p.errf("send_window.days", "%v", err)
		case days == 0:
			p.errf("send_window.days", "list at least one day")
		}
		from, err1 := clock(w.From)
		to, err2 := clock(w.To)
		switch {
		case err1 != nil:
			p.errf("send_window.from", "%v", err1)
		case err2 != nil:
			p.errf("send_window.to", "%v", err2)
		case to <= from:
			p.errf("send_window.to", "%s is not after from (%s)", w.To, w.From)
		}
	}
	if c.SkipBankHolidays == "" {
		return
	}
	if !calendar.KnownDivision(c.SkipBankHolidays) {
		p.errf("skip_bank_holidays", "%q: want one of %s", c.SkipBankHolidays, strings.Join(calendar.Divisions, ", "))
		return
	}
	if last := c.lastDate(); !c.LastDeadline().IsZero() && last.Year > calendar.LastHolidayYear() {
		p.errf("skip_bank_holidays", "the campaign runs to %s, past %d, the last year of the bank-holiday data (shared/calendar/bank-holidays.txt): add the next year's holidays first",
			last.British(), calendar.LastHolidayYear())
	}
}

// lastStageOffset is how many days after a deadline the last stage goes (0 when none is after).
func lastStageOffset(c *Campaign) int {
	off := 0
	for _, s := range c.Stages {
		off = max(off, s.Offset())
	}
	return off
}

// validateEscalation: each rule names a stage that has a later one (or, for a digest, any
// stage), and does one thing.
func (p *parser) validateEscalation(c *Campaign) {
	for i, e := range c.Escalation {
		key := fmt.Sprintf("escalation[%d]", i)
		at := slices.IndexFunc(c.Stages, func(s Stage) bool { return s.Name == e.AfterStage })
		switch {
		case e.AfterStage == "":
			p.errf(key+".after_stage", "required: the stage after which the organisation is escalated")
		case at < 0:
			p.errf(key+".after_stage", "%q is not a stage of this campaign", e.AfterStage)
		}
		switch {
		case len(e.Add) == 0 && e.Notify == "":
			p.errf(key, "say what happens: add: [pla] or notify: helpdesk")
		case len(e.Add) > 0 && e.Notify != "":
			p.errf(key, "one rule does one thing: add or notify")
		case e.Notify != "" && e.Notify != "helpdesk":
			p.errf(key+".notify", "%q: the only one to notify is helpdesk", e.Notify)
		case e.Notify != "" && c.Helpdesk.Email == "":
			p.errf(key+".notify", "notify: helpdesk needs helpdesk.email, where the digest goes")
		case at >= 0 && len(e.Add) > 0 && at == len(c.Stages)-1:
			p.errf(key+".after_stage", "%q is the last stage: no later notice could add anyone", e.AfterStage)
		}
		for j, a := range e.Add {
			if a != AudiencePLA && a != AudienceLA {
				p.errf(fmt.Sprintf("%s.add[%d]", key, j), "%q: must be pla or la", a)
			}
		}
	}
}

// validateBrownouts: a date, hours and hostnames of the campaign for each.
func (p *parser) validateBrownouts(c *Campaign) {
	names := map[string]bool{}
	for _, h := range c.Hostnames {
		names[normHost(h.Name)] = true
	}
	for i, b := range c.Brownouts {
		key := fmt.Sprintf("brownouts[%d]", i)
		if b.Date.IsZero() {
			p.errf(key+".date", "required")
		}
		if _, _, err := hours(b.Hours); err != nil {
			p.errf(key+".hours", "%v", err)
		}
		if len(b.Hostnames) == 0 {
			p.errf(key+".hostnames", "list the legacy hostnames switched off")
		}
		for j, h := range b.Hostnames {
			if !names[normHost(h)] {
				p.errf(fmt.Sprintf("%s.hostnames[%d]", key, j), "%q is not a legacy hostname of this campaign", h)
			}
		}
	}
}

// validateTemplates: a built-in set, or a folder inside the campaign file's own folder (no
// absolute path, no .. out of it) unless Options.TemplatesAnywhere says otherwise: a campaign
// file must not make Sunset read templates from wherever it likes.
func (p *parser) validateTemplates(c *Campaign) {
	if p.uploaded && c.Roster != "" {
		p.errf("roster", "a roster campaign's roster file (%q) cannot be read from an upload: apply it with the CLI (sunset campaign apply)", c.Roster)
	}
	switch t := c.Templates; {
	case t == "hostname-retirement" || t == "byo-mx" || p.templatesAnywhere:
	case p.uploaded:
		p.errf("templates", "%q is a folder, which an upload cannot bring: use a built-in set (hostname-retirement, byo-mx), or apply the campaign with the CLI", t)
	case !filepath.IsLocal(t):
		p.errf("templates", "%q is outside the campaign file's folder (an absolute path or one that climbs out with ..): use a built-in set (hostname-retirement, byo-mx) or a folder beside the campaign file, or pass --templates-anywhere", t)
	}
}

// validateIdentity: the id, the time zone, and what each audience source requires.
func (p *parser) validateIdentity(c *Campaign) {
	switch {
	case c.ID == "":
		p.errf("id", "required")
	case !idPattern.MatchString(c.ID):
		p.errf("id", "%q: use 1-63 lower-case letters, digits and '-', starting with a letter or digit", c.ID)
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil {
		p.errf("timezone", "unknown time zone %q", c.Timezone)
	}
	switch c.AudienceSource {
	case SourceFindings:
		if c.Shutdown.IsZero() {
			p.errf("shutdown", "required (the deadline of every organisation)")
		}
		if c.Roster != "" {
			p.errf("roster", "only for audience_source: roster")
		}
		if len(c.Hostnames) == 0 {
			p.errf("hostnames", "list at least one legacy hostname")
		}
	case SourceRoster:
		if c.Roster == "" {
			p.errf("roster", "required when audience_source is roster (a CSV of ods_code,deadline[,domain])")
		}
	default:
		p.errf("audience_source", "%q: must be findings or roster", c.AudienceSource)
	}
}

// validateHostnames: each legacy hostname is a DNS name listed once, with a replacement that is
// not itself legacy; each endpoint is an address that maps to a listed hostname.
func (p *parser) validateHostnames(c *Campaign) {
	names := map[string]bool{}
	for i, h := range c.Hostnames {
		key := fmt.Sprintf("hostnames[%d]", i)
		switch {
		case h.Name == "":
			p.errf(key+".name", "required")
		case !validHostname(h.Name):
			p.errf(key+".name", "%q is not a valid DNS hostname (server addresses go under endpoints)", h.Name)
		case names[h.Name]:
			p.errf(key+".name", "%q is listed twice", h.Name)
		}
		names[h.Name] = true
		switch r := h.Replacement; {
		case r.Host == "":
			p.errf(key+".replacement.host", "required: the hostname to use instead of %s", h.Name)
		case !validHostname(r.Host):
			p.errf(key+".replacement.host", "%q is not a valid DNS hostname", r.Host)
		case names[r.Host]:
			p.errf(key+".replacement.host", "%q is itself a legacy hostname", r.Host)
		}
		if r := h.Replacement; r.Port < 0 || r.Port > 65535 {
			p.errf(key+".replacement.port", "%d is not a port (1-65535)", r.Port)
		}
	}
	canonical := map[string]string{} // connlog.EndpointKey -> the key that first gave it
	for _, k := range sortedKeys(c.Endpoints) {
		v := c.Endpoints[k]
		key := fmt.Sprintf("endpoints[%q]", k)
		if ck, ok := connlog.EndpointKey(k); !ok {
			p.errf(key, "%q is not an ip or ip:port (a zone such as %%12 is allowed and ignored)", k)
		} else if first, dup := canonical[ck]; dup && c.Endpoints[first] != v {
			p.errf(key, "%q is the same address as %q, which maps to %s", k, first, c.Endpoints[first])
		} else if !dup {
			canonical[ck] = k
		}
		if !names[v] {
			p.errf(key, "%q is not one of the campaign's hostnames", v)
		}
	}
}

// validateScanning: ignore globs compile, declared field lists are lists of formats that have
// them, and mapping keys are fields the scanner knows.
func (p *parser) validateScanning(c *Campaign) {
	for i, g := range c.IgnoreAccounts {
		key := fmt.Sprintf("ignore_accounts[%d]", i)
		if strings.TrimSpace(g) == "" {
			p.errf(key, "empty pattern")
		} else if _, err := path.Match(strings.ToLower(g), ""); err != nil {
			p.errf(key, "%q is not a valid glob (*, ?, [...])", g)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Formats)) {
		if _, err := connlog.DeclaredFields(name, c.Formats[name].Fields); err != nil {
			p.errf(fmt.Sprintf("formats[%q].fields", name), "%v", err)
		}
	}
	for _, k := range sortedKeys(c.Mapping) {
		if !slices.Contains(connlog.MappingKeys, k) {
			p.errf(fmt.Sprintf("mapping[%q]", k), "unknown field (known: %s)", strings.Join(connlog.MappingKeys, ", "))
		} else if strings.TrimSpace(c.Mapping[k]) == "" {
			p.errf(fmt.Sprintf("mapping[%q]", k), "empty column name")
		}
	}
}

// validateNumbers: the day counts are in range.
func (p *parser) validateNumbers(c *Campaign) {
	if c.MaxExtensionDays < 0 {
		p.errf("max_extension_days", "must not be negative")
	}
	if c.ActivityWindowDays < 1 {
		p.errf("activity_window_days", "must be at least 1")
	}
	if c.RetentionDays < 1 {
		p.errf("retention_days", "must be at least 1")
	}
}

// validateStages: names are unique, each stage has exactly one offset, and they are in date
// order.
func (p *parser) validateStages(c *Campaign) {
	stageNames := map[string]bool{}
	for i, s := range c.Stages {
		key := fmt.Sprintf("stages[%d]", i)
		switch {
		case s.Name == "":
			p.errf(key+".name", "required")
		case !stagePattern.MatchString(s.Name):
			p.errf(key+".name", "%q: use lower-case letters, digits, '-' and '_'", s.Name)
		case stageNames[s.Name]:
			p.errf(key+".name", "%q is used by an earlier stage: stage names must be unique", s.Name)
		case strings.HasPrefix(s.Name, "digest-"): // ledger.DigestStage: the helpdesk digest's
			p.errf(key+".name", "%q: names starting digest- are kept for the helpdesk's daily digest", s.Name)
		}
		stageNames[s.Name] = true
		switch {
		case s.DaysBefore != nil && s.DaysAfter != nil:
			p.errf(key, "set exactly one of days_before and days_after, not both")
			continue
		case s.DaysBefore == nil && s.DaysAfter == nil:
			p.errf(key, "set one of days_before or days_after")
			continue
		case s.DaysBefore != nil && *s.DaysBefore < 0:
			p.errf(key+".days_before", "must not be negative")
		case s.DaysAfter != nil && *s.DaysAfter < 0:
			p.errf(key+".days_after", "must not be negative")
		}
		if i > 0 {
			prev := c.Stages[i-1]
			if (prev.DaysBefore != nil) != (prev.DaysAfter != nil) && s.Offset() <= prev.Offset() {
				p.errf(key+"."+offsetKey(s), "stages must be in date order: %s (%s) is not after %s (%s)",
					s.Name, describeOffset(s), prev.Name, describeOffset(prev))
			}
		}
	}
}

// validateAudience: the audience names known kinds once each, and every address parses.
func (p *parser) validateAudience(c *Campaign) {
	if len(c.Audience) == 0 {
		p.errf("audience", "list at least one of la, pla, account")
	}
	seen := map[string]bool{}
	for i, a := range c.Audience {
		key := fmt.Sprintf("audience[%d]", i)
		switch {
		case a != AudienceLA && a != AudiencePLA && a != AudienceAccount:
			p.errf(key, "%q: must be la, pla or account", a)
		case seen[a]:
			p.errf(key, "%q is listed twice", a)
		}
		seen[a] = true
	}
	checkAddr := func(key, v string) {
		if v == "" {
			return
		}
		if _, err := mail.ParseAddress(v); err != nil || strings.ContainsAny(v, "\r\n") {
			p.errf(key, "%q is not an email address", v)
		}
	}
	checkAddr("sender.from", c.Sender.From)
	checkAddr("sender.reply_to", c.Sender.ReplyTo)
	checkAddr("helpdesk.email", c.Helpdesk.Email)
}

func offsetKey(s Stage) string {
	if s.DaysBefore != nil {
		return "days_before"
	}
	return "days_after"
}

func describeOffset(s Stage) string {
	if s.DaysBefore != nil {
		return fmt.Sprintf("%d days before", *s.DaysBefore)
	}
	return fmt.Sprintf("%d days after", *s.DaysAfter)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Validate is the check made when a campaign is applied (not when a file is only validated):
// it must have stages and a sender, and its shutdown must be after today.
func (c *Campaign) Validate(today calendar.Date) error {
	p := &parser{file: c.fileName(), lines: c.lines}
	if len(c.Stages) == 0 {
		p.errf("stages", "a campaign needs at least one stage to be applied")
	}
	if c.Sender.From == "" {
		p.errf("sender.from", "required to send notices")
	}
	if !c.Shutdown.IsZero() && !c.Shutdown.After(today) {
		p.errf("shutdown", "%s is not after today (%s)", c.Shutdown.British(), today.British())
	}
	if c.AudienceSource == SourceRoster && len(c.roster) == 0 {
		p.errf("roster", "the roster has no organisations (load the campaign with campaign.Load)")
	}
	if c.SkipBankHolidays != "" {
		for _, e := range c.roster {
			if last := e.Deadline.AddDays(c.MaxExtensionDays + lastStageOffset(c)); last.Year > calendar.LastHolidayYear() {
				p.errf("roster", "%s's deadline %s runs past %d, the last year of the bank-holiday data (shared/calendar/bank-holidays.txt): add the next year's holidays first",
					e.ODS, e.Deadline.British(), calendar.LastHolidayYear())
				break
			}
		}
	}
	if len(p.errs) > 0 {
		return joinErrs(p.errs)
	}
	return nil
}

func (c *Campaign) fileName() string {
	if c.file != "" {
		return c.file
	}
	return "campaign " + c.ID
}

func joinErrs(errs []error) error { return errors.Join(errs...) }

// CheckIdentity says whether the campaign may send as the stack's SES identity: a domain
// ("nhs.net": any address at exactly that domain) or one address. IAM allows SendEmail only on
// that identity with a matching From (template.yaml, ses:FromAddress), so a From outside it
// would be refused on every send. Reply-To is not checked: SES does not verify it.
func (c *Campaign) CheckIdentity(identity string) error {
	if identity == "" || c.Sender.From == "" {
		return nil
	}
	a, err := mail.ParseAddress(c.Sender.From)
	if err != nil {
		return &ValidationError{File: c.fileName(), Line: c.lines["sender.from"], Key: "sender.from", Message: fmt.Sprintf("%q is not an email address", c.Sender.From)}
	}
	if IdentityAllows(identity, a.Address) {
		return nil
	}
	return &ValidationError{File: c.fileName(), Line: c.lines["sender.from"], Key: "sender.from",
		Message: fmt.Sprintf("%s is outside the stack's SES sending identity %s: SES and IAM allow only a From %s", a.Address, identity, identityRule(identity))}
}

// IdentityAllows reports whether the SES identity (a domain or one address) covers addr.
func IdentityAllows(identity, addr string) bool {
	identity, addr = strings.ToLower(strings.TrimSpace(identity)), strings.ToLower(addr)
	if strings.Contains(identity, "@") {
		return addr == identity
	}
	at := strings.LastIndexByte(addr, '@')
	return at >= 0 && addr[at+1:] == identity
}

func identityRule(identity string) string {
	if strings.Contains(identity, "@") {
		return "of exactly " + identity
	}
	return "at " + identity + " (an address @" + identity + ")"
}
