package ledger

import (
	"slices"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
)

// Status is where a notice is in its life.
type Status string

// Statuses, in order of a notice's life. A claimed notice becomes sent, failed or suppressed;
// superseded marks a stage that was skipped because a later one was due first.
const (
	Claimed    Status = "claimed"
	Sent       Status = "sent"
	Failed     Status = "failed"
	Suppressed Status = "suppressed"
	Superseded Status = "superseded"
)

// Notice is one notice to one organisation at one stage of a campaign: what the planner decided
// and what the email says. The ledger keeps it as the audit record of what was sent.
type Notice struct {
	Campaign     string        `json:"campaign"`
	Org          string        `json:"org"`
	OrgName      string        `json:"org_name"`
	Stage        string        `json:"stage"`
	Deadline     calendar.Date `json:"deadline"`
	PlannedFor   calendar.Date `json:"planned_for"` // the run date that chose this notice
	FirstContact bool          `json:"first_contact"`
	Recipients   []string      `json:"recipients"`
	// Accounts are the notice's rows: all of them when it is read whole (Get, History, List);
	// none from Summaries, and from a planner's cursor (Histories) only those the notice's own
	// item holds (the rest are in row parts: docs/data-model.md).
	Accounts []Account `json:"accounts"`
	// Domain is the legacy domain of a per-organisation deadline campaign (BYO-MX), if any.
	Domain string `json:"domain,omitempty"`
	// Acknowledged is the organisation's latest "we have changed these settings" before this
	// notice, when its accounts are still seen (the notice says so plainly).
	Acknowledged *Acknowledgement `json:"acknowledged,omitempty"`
	// Brownout is what was seen during the brownout the day before this notice, if anything.
	Brownout *BrownoutSeen `json:"brownout,omitempty"`
	// Digest is, in the helpdesk's daily digest (escalation: notify: helpdesk), the
	// organisations still affected after the stage named; DigestMore how many more there were
	// than the digest lists.
	Digest     []DigestOrg `json:"digest,omitempty"`
	DigestMore int         `json:"digest_more,omitempty"`

	Status        Status    `json:"status"`
	ClaimedAt     time.Time `json:"claimed_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	MessageID     string    `json:"message_id,omitempty"`
	ContentSHA256 string    `json:"content_sha256,omitempty"`
	Error         string    `json:"error,omitempty"`
	// SendStartedAt is the sender's lease (BeginSend). A notice still claimed with it set is in
	// doubt: the sender may or may not have handed it to SES.
	SendStartedAt time.Time `json:"send_started_at,omitzero"`
	// SettledBy names the SES event that settled an in-doubt notice ("Send", "Delivery",
	// "Bounce", "Reject"); empty when the sender recorded the outcome itself.
	SettledBy string `json:"settled_by,omitempty"`
	// Resends is the audit of every release for resending (sunset reconcile --resend, of a
	// notice in doubt or, with --failed, of a failed one).
	Resends []Resend `json:"resends,omitempty"`
	// Merged are the recipients whose copy goes in their merged email of a day instead of the
	// notice's own ("<address>|<day>", see MailKey); Mailed those the mail confirmed it carried
	// when it was sent. CarriedOnly: every recipient's copy went in merged emails, so the notice
	// had no email of its own (its status says sent; each mail has its own).
	Merged      []string `json:"merged,omitempty"`
	Mailed      []string `json:"mailed,omitempty"`
	CarriedOnly bool     `json:"carried_only,omitempty"`
	// DayTaken are recipients that had already had their email of the campaign for the notice's
	// day when its sender tried: the notice waited, and the next run merges them (MarkDayTaken).
	DayTaken []string `json:"day_taken,omitempty"`
	// ExpiresAt is when DynamoDB's TTL removes the ledger items (they hold addresses): the
	// campaign's RetainUntil. Set by the planner.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// InDoubt reports a notice the sender leased and never recorded: SES may have it.
func (n Notice) InDoubt() bool { return n.Status == Claimed && !n.SendStartedAt.IsZero() }

// IsMerged reports whether address's copy of the notice goes in a merged email.
func (n Notice) IsMerged(address string) bool {
	return slices.ContainsFunc(n.Merged, func(e string) bool { return strings.EqualFold(MergedAddress(e), address) })
}

// Released reports a notice released for resending that no sender has leased since.
func (n Notice) Released() bool {
	return n.Status == Claimed && n.SendStartedAt.IsZero() && len(n.Resends) > 0
}

// Resend is one release of a notice for sending again: who, when, why, and what it replaced (the
// lease of an in-doubt notice, or the error of a failed one).
type Resend struct {
	At            time.Time `json:"at" dynamodbav:"at"`
	By            string    `json:"by" dynamodbav:"by"`
	Reason        string    `json:"reason" dynamodbav:"reason"`
	SendStartedAt string    `json:"send_started_at,omitempty" dynamodbav:"send_started_at,omitempty"`
	Failed        string    `json:"failed,omitempty" dynamodbav:"failed,omitempty"`
}

// Account is one affected account as a notice shows it: a legacy hostname and protocol it used,
// totals over the activity window, and recent client details.
type Account struct {
	Account    string    `json:"account"`
	Hostname   string    `json:"hostname"`
	Protocol   string    `json:"protocol"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen"`
	Successes  int64     `json:"successes"`
	Failures   int64     `json:"failures"`
	ClientIPs  []string  `json:"client_ips,omitempty"`
	UserAgents []string  `json:"user_agents,omitempty"`
	DeviceIDs  []string  `json:"device_ids,omitempty"`
	DirectIP   bool      `json:"direct_ip,omitempty"`
	// UnderReview: the organisation said the account is not theirs and the team has not
	// decided yet (the notice says so).
	UnderReview bool `json:"under_review,omitempty"`
}

// DigestOrg is one organisation of a helpdesk digest: who to call, and what is still seen.
type DigestOrg struct {
	ODS      string        `json:"ods" dynamodbav:"ods"`
	Name     string        `json:"name" dynamodbav:"name"`
	Stage    string        `json:"stage" dynamodbav:"stage"` // the last stage it was sent
	Contacts []string      `json:"contacts" dynamodbav:"contacts"`
	Accounts []string      `json:"accounts" dynamodbav:"accounts"` // at most MaxDigestAccounts
	Count    int           `json:"account_count" dynamodbav:"account_count"`
	LastSeen calendar.Date `json:"last_seen" dynamodbav:"last_seen"`
}

// The helpdesk's daily digest is a notice of its own: to the organisation HelpdeskOrg, at the
// stage DigestStage and its date, so the ledger's rules (one notice per organisation per stage,
// ever, and one per day) make it once a day at most.
const (
	HelpdeskOrg = "HELPDESK"
	DigestStage = "digest-"
)

// MaxDigestAccounts is how many accounts a digest lists for one organisation (Count has all).
const MaxDigestAccounts = 20

// BrownoutSeen is what a brownout showed: the accounts whose sign-ins failed during it (the
// first MaxBrownoutAccounts in order; More how many more there were).
type BrownoutSeen struct {
	Date      calendar.Date `json:"date" dynamodbav:"date"`
	Hours     string        `json:"hours" dynamodbav:"hours"`
	Hostnames []string      `json:"hostnames" dynamodbav:"hostnames"`
	Accounts  []string      `json:"accounts" dynamodbav:"accounts"`
	More      int           `json:"more,omitempty" dynamodbav:"more,omitempty"`
}

// Count is how many accounts failed during the brownout.
func (b BrownoutSeen) Count() int { return len(b.Accounts) + b.More }

// MaxBrownoutAccounts is how many accounts a notice names of those that failed during a
// brownout: the email says them in a sentence, and the CSV lists every account anyway.
const MaxBrownoutAccounts = 50

// Acknowledgement is a recipient's "we have changed these settings", as a later notice to an
// organisation still seen recalls it.
type Acknowledgement struct {
	At time.Time `json:"at"`
	By string    `json:"by"`
}

// Key names one notice: a campaign, an organisation, a stage. It is the send queue's message
// too: the planner hands a claimed notice to the sender by its key (sender.HandOff adds, for a
// failed notice sent again, its release), and dead-letter handling and reconcile read it back.
type Key struct {
	Campaign string `json:"campaign"`
	Org      string `json:"org"`
	Stage    string `json:"stage"`
}

func (k Key) String() string { return k.Campaign + "/" + k.Org + "/" + k.Stage }

// Key is the notice's key.
func (n Notice) Key() Key { return Key{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage} }
