package campaign

import (
	"sync"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

// Campaign is one campaign file. Every key is documented here and in the README's campaign-file
// reference; unknown keys are errors.
type Campaign struct {
	// ID names the campaign in keys, commands and reports (lower-case letters, digits, '-').
	ID string `yaml:"id" json:"id"`
	// Title is the campaign's human name, used in emails and reports.
	Title string `yaml:"title" json:"title"`
	// Timezone is the IANA zone dates are computed in; default Europe/London.
	Timezone string `yaml:"timezone" json:"timezone"`
	// Shutdown is the deadline of every organisation without its own (roster date, extension).
	Shutdown calendar.Date `yaml:"shutdown" json:"shutdown"`
	// Hostnames are the legacy hostnames being retired, each with what to use instead.
	Hostnames []Hostname `yaml:"hostnames" json:"hostnames"`
	// Endpoints maps a server address (ip or ip:port) that only ever served a legacy hostname
	// to that hostname, for logs that carry no hostname.
	Endpoints map[string]string `yaml:"endpoints" json:"endpoints,omitempty"`
	// IgnoreAccounts are case-insensitive globs of accounts to drop (monitoring, system).
	IgnoreAccounts []string `yaml:"ignore_accounts" json:"ignore_accounts,omitempty"`
	// Mapping maps Sunset's field names (account, hostname, time, client_ip, protocol, status,
	// user_agent, server_ip) to columns of jsonl/csv logs.
	Mapping map[string]string `yaml:"mapping" json:"mapping,omitempty"`
	// Formats says, per log format, what its files may lack: the field list of files that come
	// without their "#Fields:" header (formats: {iis: {fields: "date time s-ip ..."}}).
	Formats map[string]FormatOptions `yaml:"formats" json:"formats,omitempty"`

	// AudienceSource is "findings" (organisations with accounts seen on a legacy hostname) or
	// "roster" (every organisation listed in Roster, each with its own deadline).
	AudienceSource string `yaml:"audience_source" json:"audience_source"`
	// Roster is the CSV (ods_code,deadline[,domain]) of a roster campaign, relative to the
	// campaign file.
	Roster string `yaml:"roster" json:"roster,omitempty"`
	// MaxExtensionDays caps how far past its original deadline an organisation may be extended.
	MaxExtensionDays int `yaml:"max_extension_days" json:"max_extension_days"`
	// ActivityWindowDays: an organisation is affected while any of its accounts was seen on a
	// legacy hostname within this many days.
	ActivityWindowDays int `yaml:"activity_window_days" json:"activity_window_days"`
	// Stages are the notices, each an offset from the organisation's deadline.
	Stages []Stage `yaml:"stages" json:"stages"`
	// Audience is who receives notices: la, pla, account.
	Audience []string `yaml:"audience" json:"audience"`
	// Sender is the From and Reply-To of every notice.
	Sender Sender `yaml:"sender" json:"sender"`
	// Helpdesk is who recipients can call or write to.
	Helpdesk Helpdesk `yaml:"helpdesk" json:"helpdesk"`
	// RetentionDays is how long after the campaign ends findings and notices (personal data)
	// are kept before DynamoDB's TTL removes them; default 180.
	RetentionDays int `yaml:"retention_days" json:"retention_days"`
	// Templates is a built-in template set ("hostname-retirement", "byo-mx") or a folder of the
	// campaign's own templates, relative to the campaign file. Default: hostname-retirement for
	// findings campaigns, byo-mx for roster campaigns.
	Templates string `yaml:"templates" json:"templates,omitempty"`

	// SendWindow, when set, is when notices may go: on these days, between these times, in the
	// campaign's time zone (send_window: {days: [mon..fri], from: "09:00", to: "16:00"}). A
	// stage due on another day moves to a working day (StageDate); a notice handed over outside
	// the hours waits until they open.
	SendWindow *SendWindow `yaml:"send_window" json:"send_window,omitempty"`
	// SkipBankHolidays names the UK bank-holiday division whose holidays are not working days
	// (england-and-wales, scotland, northern-ireland; calendar's data, 2018 to 2027).
	SkipBankHolidays string `yaml:"skip_bank_holidays" json:"skip_bank_holidays,omitempty"`
	// Escalation is what happens when an organisation is still affected after a stage: later
	// notices add the PLA (add: [pla]), or from the day after that stage the helpdesk gets one
	// digest a day of the organisations still affected (notify: helpdesk).
	Escalation []Escalation `yaml:"escalation" json:"escalation,omitempty"`
	// Guides are links to the team's own guide for each kind of device or app a notice's
	// accounts were seen with (keys: shared/clients' families, e.g. ios-mail, printer; values:
	// https URLs), shown beside that kind's steps. Without one a notice gives the built-in
	// steps only (docs/guides.md).
	Guides map[string]string `yaml:"guides" json:"guides,omitempty"`
	// Brownouts are planned scream tests: the legacy hostnames switched off for some hours of a
	// day. Every notice before one announces it; a notice the day after says what was seen.
	Brownouts []Brownout `yaml:"brownouts" json:"brownouts,omitempty"`

	// RosterUntil is the latest deadline in the roster (roster campaigns), kept with the stored
	// campaign so RetainUntil needs no roster read. Set by SetRoster, never by the file.
	RosterUntil calendar.Date `yaml:"-" json:"roster_until,omitzero"`

	file   string         // the name Parse was given, for messages
	lines  map[string]int // key path -> line, for messages
	roster []RosterEntry  // the roster read by Load, written by Store.Apply
}

// SendWindow is when notices may be sent.
type SendWindow struct {
	// Days are the days of the week, as mon, tue, ..., sun, or a range such as mon..fri.
	Days []string `yaml:"days" json:"days"`
	// From and To are the hours, "HH:MM" in the campaign's time zone; From before To.
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
}

// Escalation is one rule of escalation: after the stage named, add recipients or notify.
type Escalation struct {
	AfterStage string `yaml:"after_stage" json:"after_stage"`
	// Add are audiences later notices add (pla, la).
	Add []string `yaml:"add" json:"add,omitempty"`
	// Notify is who gets a daily digest of the organisations still affected (helpdesk).
	Notify string `yaml:"notify" json:"notify,omitempty"`
}

// Brownout is a planned switch-off of some legacy hostnames for some hours of one day.
type Brownout struct {
	Date calendar.Date `yaml:"date" json:"date"`
	// Hours are "HH:MM-HH:MM" in the campaign's time zone.
	Hours     string   `yaml:"hours" json:"hours"`
	Hostnames []string `yaml:"hostnames" json:"hostnames"`
}

// FormatOptions are what a campaign says about one log format.
type FormatOptions struct {
	// Fields is the format's field list as its own "#Fields:" line writes it (spaces for IIS,
	// commas for Exchange), or "default" for the product's default list (docs/scanning.md).
	Fields string `yaml:"fields" json:"fields"`
}

// Hostname is a legacy hostname and its replacement.
type Hostname struct {
	Name        string      `yaml:"name" json:"name"`
	Replacement Replacement `yaml:"replacement" json:"replacement"`
}

// Replacement is the setting to change to.
type Replacement struct {
	// Purpose says what the setting is for, e.g. "IMAP (incoming mail)"; default from the port.
	Purpose    string `yaml:"purpose" json:"purpose,omitempty"`
	Host       string `yaml:"host" json:"host"`
	Port       int    `yaml:"port" json:"port,omitempty"`
	Encryption string `yaml:"encryption" json:"encryption,omitempty"`
	// Authentication says whether the client must sign in; nil means yes.
	Authentication *bool `yaml:"authentication" json:"authentication,omitempty"`
}

// Stage is one notice of the series. Exactly one of DaysBefore and DaysAfter is set.
type Stage struct {
	Name       string `yaml:"name" json:"name"`
	DaysBefore *int   `yaml:"days_before" json:"days_before,omitempty"`
	DaysAfter  *int   `yaml:"days_after" json:"days_after,omitempty"`
}

// Offset is the stage's due date relative to the deadline, in calendar days.
func (s Stage) Offset() int {
	if s.DaysBefore != nil {
		return -*s.DaysBefore
	}
	if s.DaysAfter != nil {
		return *s.DaysAfter
	}
	return 0
}

// DueOn is the stage's due date for an organisation with this deadline.
func (s Stage) DueOn(deadline calendar.Date) calendar.Date { return deadline.AddDays(s.Offset()) }

// Sender is who notices come from.
type Sender struct {
	From    string `yaml:"from" json:"from"`
	ReplyTo string `yaml:"reply_to" json:"reply_to,omitempty"`
}

// Helpdesk is who recipients can contact.
type Helpdesk struct {
	Phone string `yaml:"phone" json:"phone,omitempty"`
	Email string `yaml:"email" json:"email,omitempty"`
}

var locations sync.Map // zone name -> *time.Location

// Location is the campaign's time zone (UTC if it cannot be loaded, which validation prevents).
func (c *Campaign) Location() *time.Location {
	tz := c.Timezone
	if tz == "" {
		tz = DefaultTimezone
	}
	if l, ok := locations.Load(tz); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	locations.Store(tz, l)
	return l
}

// Today is the campaign's date at instant t.
func (c *Campaign) Today(t time.Time) calendar.Date { return calendar.In(t, c.Location()) }

// ScanRules is what the scanner needs from the campaign.
func (c *Campaign) ScanRules() connlog.Rules {
	r := connlog.Rules{IgnoreAccounts: c.IgnoreAccounts, Mapping: c.Mapping, Endpoints: c.Endpoints}
	for name, o := range c.Formats {
		if r.Fields == nil {
			r.Fields = map[string]string{}
		}
		r.Fields[name] = o.Fields
	}
	for _, h := range c.Hostnames {
		r.Hostnames = append(r.Hostnames, h.Name)
	}
	return r
}

// LastDeadline is the latest deadline any organisation can have: the shutdown or the latest
// roster date, plus the longest extension allowed.
func (c *Campaign) LastDeadline() calendar.Date {
	d := c.Shutdown
	if c.RosterUntil.After(d) {
		d = c.RosterUntil
	}
	return d.AddDays(c.MaxExtensionDays)
}

// RetainUntil is the TTL instant of the campaign's personal data: the end of the campaign (the
// last deadline and the last stage after it) plus retention_days, at midnight in its zone.
func (c *Campaign) RetainUntil() time.Time {
	return c.lastDate().AddDays(c.RetentionDays + 1).Start(c.Location())
}

// lastDate is the last day the campaign may send on: its last deadline, extended as far as
// allowed, plus its last stage's days after it.
func (c *Campaign) lastDate() calendar.Date {
	return c.LastDeadline().AddDays(lastStageOffset(c))
}

// Stage returns the stage called name.
func (c *Campaign) Stage(name string) (Stage, bool) {
	for _, s := range c.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}
