package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Suppressor adds addresses to the suppression list.
type Suppressor interface {
	Add(ctx context.Context, addr, reason, detail string) error
}

// Ledger is the part of the notice ledger feedback updates.
type Ledger interface {
	Observe(ctx context.Context, campaign, org, stage string, o ledger.Observation) (ledger.Observed, error)
	MarkBounced(ctx context.Context, campaign, org, stage, kind string, addrs []string, at time.Time) (int, error)
	MarkRejected(ctx context.Context, campaign, org, stage string) error
	ObserveMail(ctx context.Context, k ledger.MailKey, o ledger.Observation) (ledger.Observed, error)
	MarkMailBounced(ctx context.Context, k ledger.MailKey, kind string, addrs []string, at time.Time) (int, error)
	MarkMailRejected(ctx context.Context, k ledger.MailKey) error
	Count(ctx context.Context, campaign string, sends, bounces, complaints int64) (ledger.Stats, error)
	Rebase(ctx context.Context, campaign string, st ledger.Stats) error
}

// Campaigns pauses a campaign whose bounce rate passed the limit (campaign.Store).
type Campaigns interface {
	AutoPause(ctx context.Context, id, by, reason string) (bool, error)
}

// ProbeRecorder records a preflight probe's events (Probes).
type ProbeRecorder interface {
	Arrived(ctx context.Context, token, event string, at time.Time) error
}

// Event is one SES event-publishing record (the fields Sunset reads).
type Event struct {
	EventType string     `json:"eventType"`
	Mail      Mail       `json:"mail"`
	Bounce    *Bounce    `json:"bounce,omitempty"`
	Complaint *Complaint `json:"complaint,omitempty"`
	Delivery  *Delivery  `json:"delivery,omitempty"`
	Send      *struct{}  `json:"send,omitempty"`
	Reject    *Reject    `json:"reject,omitempty"`
}

// Mail is the original message an event is about.
type Mail struct {
	Timestamp   time.Time           `json:"timestamp"`
	MessageID   string              `json:"messageId"`
	Destination []string            `json:"destination"`
	Headers     []Header            `json:"headers"`
	Tags        map[string][]string `json:"tags"`
}

// Header is one header of the original message.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Bounce is a bounce report.
type Bounce struct {
	BounceType        string      `json:"bounceType"` // Permanent, Transient, Undetermined
	BounceSubType     string      `json:"bounceSubType"`
	BouncedRecipients []Recipient `json:"bouncedRecipients"`
	Timestamp         time.Time   `json:"timestamp"`
}

// Recipient is one bounced or complaining address.
type Recipient struct {
	EmailAddress   string `json:"emailAddress"`
	Status         string `json:"status,omitempty"`
	DiagnosticCode string `json:"diagnosticCode,omitempty"`
}

// Complaint is a complaint (feedback loop) report.
type Complaint struct {
	ComplainedRecipients  []Recipient `json:"complainedRecipients"`
	ComplaintFeedbackType string      `json:"complaintFeedbackType,omitempty"`
	Timestamp             time.Time   `json:"timestamp"`
}

// Delivery is a delivery report.
type Delivery struct {
	Timestamp  time.Time `json:"timestamp"`
	Recipients []string  `json:"recipients"`
}

// Reject is SES refusing to send a message it had accepted (a virus found, say).
type Reject struct {
	Reason string `json:"reason"`
}

// AutoPause is when feedback pauses a campaign by itself: when, over the sends since the last
// auto-pause (at least MinSends recipients), the share that bounced permanently passes
// BounceRate. BounceRate 0 turns it off.
type AutoPause struct {
	BounceRate float64
	MinSends   int64
}

// Handler is the feedback Lambda's handler.
type Handler struct {
	suppress  Suppressor
	ledger    Ledger
	campaigns Campaigns
	pause     AutoPause
	metrics   *metrics.Recorder
	probes    ProbeRecorder
	clock     func() time.Time
	log       *slog.Logger
}

// Options are the handler's optional parts.
type Options struct {
	// Campaigns and AutoPause: with both, a campaign whose bounce rate passes the limit is
	// paused; without Campaigns nothing is paused.
	Campaigns Campaigns
	AutoPause AutoPause
	// Metrics gets the events by type, settled notices and suppressions (nil: none).
	Metrics *metrics.Recorder
	// Probes records the events of `sunset preflight --send-probe` (nil: they are ignored).
	Probes ProbeRecorder
	// Clock dates an auto-pause's reason; default time.Now.
	Clock func() time.Time
	// Logger: default slog.Default().
	Logger *slog.Logger
}

// New returns a handler.
func New(s Suppressor, l Ledger, o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Handler{suppress: s, ledger: l, campaigns: o.Campaigns, pause: o.AutoPause, metrics: o.Metrics, probes: o.Probes, clock: o.Clock, log: o.Logger}
}

// eventMetric is the count each SES event type adds to.
var eventMetric = map[string]metrics.Name{
	"Send": metrics.FeedbackSend, "Delivery": metrics.FeedbackDelivery, "Bounce": metrics.FeedbackBounce,
	"Complaint": metrics.FeedbackComplaint, "Reject": metrics.FeedbackReject,
}

// Process applies one SES event. Every write it makes is conditional or idempotent, so SNS
// delivering the event twice changes nothing twice.
func (h *Handler) Process(ctx context.Context, e Event) error {
	k, test := noticeOf(e.Mail)
	log := h.log.With("event", e.EventType, "ses_message_id", e.Mail.MessageID, "campaign", k.campaign, "org", k.org, "stage", k.stage)
	if k.mail != nil {
		log = log.With("mail", k.mail.ID())
	}
	if test {
		log.Info("event about a test email: ignored")
		return nil
	}
	if token := probeOf(e.Mail); token != "" {
		log.Info("event about a preflight probe", "probe", token)
		if h.probes == nil {
			return nil
		}
		return h.probes.Arrived(ctx, token, e.EventType, at(e.Mail.Timestamp, h.clock()))
	}
	if m, ok := eventMetric[e.EventType]; ok {
		h.metrics.Add(k.campaign, m, 1)
	}
	switch e.EventType {
	case "Send", "Delivery":
		if !k.ok() {
			log.Warn("event about a message that is no Sunset notice: ignored")
			return nil
		}
		when := e.Mail.Timestamp
		if e.Delivery != nil {
			when = at(e.Delivery.Timestamp, e.Mail.Timestamp)
		}
		obs, err := h.observe(ctx, log, k, e, ledger.Event(e.EventType), when)
		if err != nil || !obs.First || e.EventType != "Send" {
			return err
		}
		_, err = h.ledger.Count(ctx, k.campaign, int64(len(e.Mail.Destination)), 0, 0)
		return err
	case "Bounce":
		if e.Bounce == nil {
			log.Error("bounce event without a bounce: skipped")
			return nil
		}
		when := at(e.Bounce.Timestamp, e.Mail.Timestamp)
		if _, err := h.observe(ctx, log, k, e, ledger.EventBounce, when); err != nil {
			return err
		}
		if e.Bounce.BounceType != "Permanent" {
			log.Info("non-permanent bounce: no suppression", "bounce_type", e.Bounce.BounceType, "sub_type", e.Bounce.BounceSubType)
			return nil
		}
		return h.suppressAll(ctx, log, k, suppression.Bounce, e.Bounce.BouncedRecipients, when,
			e.Bounce.BounceType+"/"+e.Bounce.BounceSubType)
	case "Complaint":
		if e.Complaint == nil {
			log.Error("complaint event without a complaint: skipped")
			return nil
		}
		when := at(e.Complaint.Timestamp, e.Mail.Timestamp)
		if _, err := h.observe(ctx, log, k, e, ledger.EventComplaint, when); err != nil {
			return err
		}
		return h.suppressAll(ctx, log, k, suppression.Complaint, e.Complaint.ComplainedRecipients, when,
			e.Complaint.ComplaintFeedbackType)
	case "Reject":
		obs, err := h.observe(ctx, log, k, e, ledger.EventReject, e.Mail.Timestamp)
		if err != nil || obs.Settled || obs.Status != ledger.Sent {
			return err
		}
		log.Error("SES rejected a notice the sender recorded as sent: marked failed")
		if k.mail != nil {
			return h.mark(log, h.ledger.MarkMailRejected(ctx, *k.mail))
		}
		return h.mark(log, h.ledger.MarkRejected(ctx, k.campaign, k.org, k.stage))
	default:
		log.Info("event type not handled: ignored")
		return nil
	}
}

// observe records the event on the notice, settling it if it was in doubt. An event about a
// notice the ledger does not know (or no notice at all) records nothing and is not an error.
func (h *Handler) observe(ctx context.Context, log *slog.Logger, k key, e Event, ev ledger.Event, when time.Time) (ledger.Observed, error) {
	if !k.ok() {
		return ledger.Observed{}, nil
	}
	o := ledger.Observation{Event: ev, MessageID: e.Mail.MessageID, MailAt: e.Mail.Timestamp, At: when}
	var obs ledger.Observed
	var err error
	if k.mail != nil {
		obs, err = h.ledger.ObserveMail(ctx, *k.mail, o)
	} else {
		obs, err = h.ledger.Observe(ctx, k.campaign, k.org, k.stage, o)
	}
	if errors.Is(err, ledger.ErrNotFound) {
		log.Warn("event about a notice the ledger does not have: not recorded")
		return ledger.Observed{}, nil
	}
	if err != nil {
		return obs, fmt.Errorf("feedback %s: %w", e.EventType, err)
	}
	if obs.Settled {
		h.metrics.Add(k.campaign, metrics.NoticesSettled, 1)
		log.Warn("notice in doubt settled by SES's event", "status", obs.Status)
	}
	return obs, nil
}

func (h *Handler) suppressAll(ctx context.Context, log *slog.Logger, k key, kind string, rs []Recipient, when time.Time, detail string) error {
	var addrs []string
	for _, r := range rs {
		a := strings.TrimSpace(r.EmailAddress)
		if a == "" {
			continue
		}
		d := notice.Clean(strings.Trim(detail+" "+r.Status+" "+r.DiagnosticCode, " /"))
		if k.ok() {
			d = notice.Clean(d + " (" + k.String() + ")")
		}
		if err := h.suppress.Add(ctx, a, kind, d); err != nil {
			return fmt.Errorf("feedback %s: %w", kind, err)
		}
		addrs = append(addrs, a)
	}
	h.metrics.Add(k.campaign, metrics.AddressesSuppressed, float64(len(addrs)))
	log.Warn("addresses suppressed", "kind", kind, "count", len(addrs))
	if !k.ok() || len(addrs) == 0 {
		return nil
	}
	var fresh int
	var err error
	if k.mail != nil {
		fresh, err = h.ledger.MarkMailBounced(ctx, *k.mail, kind, addrs, when)
	} else {
		fresh, err = h.ledger.MarkBounced(ctx, k.campaign, k.org, k.stage, kind, addrs, when)
	}
	if err := h.mark(log, err); err != nil || fresh == 0 {
		return err
	}
	var bounces, complaints int64
	if kind == suppression.Bounce {
		bounces = int64(fresh)
	} else {
		complaints = int64(fresh)
	}
	st, err := h.ledger.Count(ctx, k.campaign, 0, bounces, complaints)
	if err != nil || bounces == 0 {
		return err
	}
	return h.checkBounceRate(ctx, log, k.campaign, st)
}

// checkBounceRate pauses the campaign when its bounce rate since the last auto-pause passes the
// limit over enough sends, and starts the window again so that, once a person resumes it, the
// campaign is judged on what it sends next.
func (h *Handler) checkBounceRate(ctx context.Context, log *slog.Logger, campaign string, st ledger.Stats) error {
	sends, bounces := st.Window()
	if h.campaigns == nil || h.pause.BounceRate <= 0 || sends < max(h.pause.MinSends, 1) {
		return nil
	}
	rate := float64(bounces) / float64(sends)
	if rate <= h.pause.BounceRate {
		return nil
	}
	reason := fmt.Sprintf("bounce rate %.1f%% (%d of %d recipients since %s) passed the %.1f%% limit on %s",
		100*rate, bounces, sends, windowStart(st), 100*h.pause.BounceRate, h.clock().UTC().Format("2006-01-02 15:04 MST"))
	paused, err := h.campaigns.AutoPause(ctx, campaign, "sunset-feedback (auto-pause)", reason)
	if !paused {
		return err
	}
	if err != nil { // paused: a retry would not pause again, so it is said here, not retried
		log.Error("campaign paused without its history entry", "error", err)
	}
	h.metrics.Add(campaign, metrics.CampaignsAutoPaused, 1)
	log.Error("campaign paused: bounce rate over the limit", "bounce_rate", rate, "bounces", bounces, "sends", sends)
	return h.ledger.Rebase(ctx, campaign, st)
}

func windowStart(st ledger.Stats) string {
	if st.BaselineSends == 0 {
		return "the first send"
	}
	return "the last auto-pause"
}

// mark passes through write errors (retried) and logs the outcomes a retry cannot change.
func (h *Handler) mark(log *slog.Logger, err error) error {
	switch {
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, ledger.ErrNotClaimed):
		log.Warn("ledger not updated", "reason", err)
		return nil
	case err != nil:
		return fmt.Errorf("feedback: %w", err)
	}
	return nil
}

func at(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// key is what an event is about: a notice (campaign, org, stage) or a merged email (mail).
type key struct {
	campaign, org, stage string
	mail                 *ledger.MailKey
}

func (k key) String() string {
	if k.mail != nil {
		return "mail " + k.mail.String()
	}
	return "notice " + k.campaign + "/" + k.org + "/" + k.stage
}

// probeOf is the probe token of a preflight's email ("" for any other), cleaned: it becomes a key.
func probeOf(m Mail) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, HeaderProbe) {
			return strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
					return r
				}
				return -1
			}, strings.ToLower(h.Value))
		}
	}
	return ""
}

func (k key) ok() bool { return k.mail != nil || k.campaign != "" && k.org != "" && k.stage != "" }

// noticeOf finds the notice from the X-Sunset-* headers (exact values), else the email tags
// (values sanitised for SES, exact for Sunset's ids). test reports a `sunset send-test` email.
func noticeOf(m Mail) (k key, test bool) {
	var mail string
	for _, h := range m.Headers {
		switch {
		case strings.EqualFold(h.Name, notice.HeaderCampaign):
			k.campaign = notice.Clean(h.Value)
		case strings.EqualFold(h.Name, notice.HeaderOrg):
			k.org = notice.Clean(h.Value)
		case strings.EqualFold(h.Name, notice.HeaderStage):
			k.stage = notice.Clean(h.Value)
		case strings.EqualFold(h.Name, "X-Sunset-Test"):
			test = true
		case strings.EqualFold(h.Name, notice.HeaderMail):
			mail = notice.Clean(h.Value)
		}
	}
	tag := func(name string) string {
		if v := m.Tags[name]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if k.campaign == "" {
		k.campaign = tag("campaign")
	}
	if k.org == "" {
		k.org = tag("org")
	}
	if k.stage == "" {
		k.stage = tag("stage")
	}
	if mail == "" {
		mail = tag("mail")
	}
	if mk, err := ledger.ParseMailID(k.campaign, mail); err == nil && k.campaign != "" {
		k.mail = &mk
	}
	return k, test
}
