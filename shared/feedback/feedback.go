package feedback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Suppressor adds addresses to the suppression list.
type Suppressor interface {
	Add(ctx context.Context, addr, reason, detail string) error
}

// Ledger is the part of the notice ledger feedback updates.
type Ledger interface {
	MarkDelivered(ctx context.Context, campaign, org, stage string, at time.Time) error
	MarkBounced(ctx context.Context, campaign, org, stage, kind, address string, at time.Time) error
}

// Event is one SES event-publishing record (the fields Sunset reads).
type Event struct {
	EventType string     `json:"eventType"`
	Mail      Mail       `json:"mail"`
	Bounce    *Bounce    `json:"bounce,omitempty"`
	Complaint *Complaint `json:"complaint,omitempty"`
	Delivery  *Delivery  `json:"delivery,omitempty"`
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

// Handler is the feedback Lambda's handler.
type Handler struct {
	suppress Suppressor
	ledger   Ledger
	log      *slog.Logger
}

// New returns a handler. logger may be nil (slog.Default()).
func New(s Suppressor, l Ledger, logger *slog.Logger) *Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return &Handler{suppress: s, ledger: l, log: logger}
}

// Process applies one SES event.
func (h *Handler) Process(ctx context.Context, e Event) error {
	k, test := noticeOf(e.Mail)
	log := h.log.With("event", e.EventType, "ses_message_id", e.Mail.MessageID, "campaign", k.campaign, "org", k.org, "stage", k.stage)
	if test {
		log.Info("event about a test email: ignored")
		return nil
	}
	switch e.EventType {
	case "Bounce":
		if e.Bounce == nil {
			log.Error("bounce event without a bounce: skipped")
			return nil
		}
		if e.Bounce.BounceType != "Permanent" {
			log.Info("non-permanent bounce: no suppression", "bounce_type", e.Bounce.BounceType, "sub_type", e.Bounce.BounceSubType)
			return nil
		}
		return h.suppressAll(ctx, log, k, suppression.Bounce, e.Bounce.BouncedRecipients, at(e.Bounce.Timestamp, e.Mail.Timestamp),
			e.Bounce.BounceType+"/"+e.Bounce.BounceSubType)
	case "Complaint":
		if e.Complaint == nil {
			log.Error("complaint event without a complaint: skipped")
			return nil
		}
		return h.suppressAll(ctx, log, k, suppression.Complaint, e.Complaint.ComplainedRecipients, at(e.Complaint.Timestamp, e.Mail.Timestamp),
			e.Complaint.ComplaintFeedbackType)
	case "Delivery":
		if !k.ok() {
			log.Warn("delivery of a message that is no Sunset notice: ignored")
			return nil
		}
		when := e.Mail.Timestamp
		if e.Delivery != nil {
			when = at(e.Delivery.Timestamp, e.Mail.Timestamp)
		}
		return h.mark(log, h.ledger.MarkDelivered(ctx, k.campaign, k.org, k.stage, when))
	default:
		log.Info("event type not handled: ignored")
		return nil
	}
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
			d = notice.Clean(d + " (notice " + k.campaign + "/" + k.org + "/" + k.stage + ")")
		}
		if err := h.suppress.Add(ctx, a, kind, d); err != nil {
			return fmt.Errorf("feedback %s: %w", kind, err)
		}
		addrs = append(addrs, a)
	}
	log.Warn("addresses suppressed", "kind", kind, "count", len(addrs))
	if !k.ok() || len(addrs) == 0 {
		return nil
	}
	return h.mark(log, h.ledger.MarkBounced(ctx, k.campaign, k.org, k.stage, kind, strings.Join(addrs, ", "), when))
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

type key struct{ campaign, org, stage string }

func (k key) ok() bool { return k.campaign != "" && k.org != "" && k.stage != "" }

// noticeOf finds the notice from the X-Sunset-* headers (exact values), else the email tags
// (values sanitised for SES, exact for Sunset's ids). test reports a `sunset send-test` email.
func noticeOf(m Mail) (k key, test bool) {
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
	return k, test
}
