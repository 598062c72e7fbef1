package sender

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/signing"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Config is the sender Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// ConfigurationSet is the SES configuration set that publishes bounce, complaint and
	// delivery events (SUNSET_CONFIGURATION_SET; empty sends without one).
	ConfigurationSet string
	// Instances is how many senders share the account's send rate: the function's reserved
	// concurrency (SUNSET_SENDER_INSTANCES, a whole number of at least 1; default 1).
	Instances int
	// MaxRate caps emails a second below the SES quota (SUNSET_MAX_SEND_RATE, a number of at
	// least 0; default 0, the quota).
	MaxRate float64
	// PublicURL is the address of the answer pages (the API's) that every notice's links lead
	// to (SUNSET_PUBLIC_URL, required); SigningKeysParameter the SSM SecureString of the keys
	// that sign them (SUNSET_SIGNING_KEYS_PARAMETER, required).
	PublicURL            string
	SigningKeysParameter string
	// SendQueueURL is the queue the hand-offs come from (SUNSET_SEND_QUEUE_URL): a notice outside
	// its campaign's send window is held there until the window opens. Empty: it comes back
	// after the queue's visibility timeout instead.
	SendQueueURL string
	// Identity is the SES identity the stack sends as, a domain or one address
	// (SUNSET_SENDER_IDENTITY, required; the template's SenderIdentity): IAM allows SendEmail
	// only on it, so a campaign whose From is outside it waits with an error naming both.
	Identity string
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{
		Table:                e.Required("SUNSET_TABLE"),
		ConfigurationSet:     e.String("SUNSET_CONFIGURATION_SET", ""),
		Instances:            e.Int("SUNSET_SENDER_INSTANCES", 1, 1),
		MaxRate:              e.Float("SUNSET_MAX_SEND_RATE", 0, 0),
		PublicURL:            e.Required("SUNSET_PUBLIC_URL"),
		SigningKeysParameter: e.Required("SUNSET_SIGNING_KEYS_PARAMETER"),
		SendQueueURL:         e.String("SUNSET_SEND_QUEUE_URL", ""),
		Identity:             e.Required("SUNSET_SENDER_IDENTITY"),
	}
	return c, e.Err()
}

// NewHandler is the sender Lambda over the real table and SES. It reads the links' signing
// keys from SSM at start: a missing or malformed parameter stops the function at init, named.
func NewHandler(ctx context.Context, cfg Config, c *awsclient.Clients, log *slog.Logger) (*Sender, error) {
	db, clock := c.DynamoDB(), time.Now
	opt := Options{ConfigurationSet: cfg.ConfigurationSet, Identity: cfg.Identity, MaxRate: cfg.MaxRate, Instances: cfg.Instances, Logger: log,
		Metrics: metrics.New(os.Stdout, "sender", clock)}
	keys, err := signing.KeyringFromSSM(ctx, ssm.NewFromConfig(c.Config()), cfg.SigningKeysParameter)
	if err != nil {
		return nil, err
	}
	opt.Links = &answers.Links{Keys: keys, Base: cfg.PublicURL}
	if cfg.SendQueueURL != "" {
		opt.Queue = &Queue{Client: sqs.NewFromConfig(c.Config()), URL: cfg.SendQueueURL}
	}
	return New(c.SESv2(), ledger.New(db, cfg.Table, clock), campaign.NewStore(db, cfg.Table, clock),
		suppression.New(db, cfg.Table, clock), clock, opt), nil
}

// Visibility is the part of the SQS client that holds a hand-off back.
type Visibility interface {
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Queue is the send queue, as the handler holds back a deferred notice's hand-off on it.
type Queue struct {
	Client Visibility
	URL    string
}

// maxHold is the longest hold the sender asks for. SQS allows a message at most 12 hours of
// invisibility counted from its receive, not from the ChangeMessageVisibility call, so a
// request for 12 hours made after the receive is always refused; half an hour is left for the
// batching window, the invocation (120 s at most) and clock skew. A hand-off deferred longer
// comes back and is held again (a long weekend is a few receives: the queue's
// maxReceiveCount allows for them).
const maxHold = 12*time.Hour - 30*time.Minute

// WaitHold is how long a hand-off waits when SES will not send now (ErrSendingStopped: the
// sandbox, sending paused, an unverified identity, the daily quota): an hour between tries,
// so the queue's 15 receives cover the rest of the day, and the next daily run hands the
// notice over again if it is still claimed.
const WaitHold = time.Hour

// hold keeps a deferred hand-off invisible until the send window opens (at most maxHold).
func (q *Queue) hold(ctx context.Context, receipt string, wait time.Duration) error {
	secs := holdSeconds(wait)
	_, err := q.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q.URL), ReceiptHandle: aws.String(receipt), VisibilityTimeout: secs,
	})
	if err != nil {
		return fmt.Errorf("hold hand-off %ds: %w", secs, err)
	}
	return nil
}

// holdSeconds is the visibility timeout that holds a hand-off for wait: at least a second, at
// most maxHold.
func holdSeconds(wait time.Duration) int32 {
	return int32(min(max(wait, time.Second), maxHold).Seconds())
}

// Handle is the sender Lambda's handler: each SQS record is the planner's hand-off
// {"campaign","org","stage"}. It reports partial batch failures: a record whose notice could
// not be sent for a reason a retry can fix is returned for redelivery; a record that can never
// be sent (unreadable body) is logged and dropped. When SES will not send now (sandbox, paused,
// unverified identity, daily quota: ErrSendingStopped), every record not sent is held for
// WaitHold and returned, its notice still claimed, and NoticesWaiting raises the alarm.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	defer s.flush()
	var resp events.SQSEventResponse
	var keys []ledger.Key
	var ids, receipts []string
	var mails []events.SQSMessage
	for _, r := range ev.Records {
		if isMailHandOff(r.Body) {
			mails = append(mails, r)
			continue
		}
		var h HandOff
		if err := json.Unmarshal([]byte(r.Body), &h); err != nil || h.Campaign == "" || h.Org == "" || h.Stage == "" {
			s.cfg.Logger.Error("hand-off is not {campaign, org, stage}: dropped", "sqs_message_id", r.MessageId, "error", err)
			continue
		}
		k := h.Key
		if h.Release != nil {
			s.releaseFailed(ctx, k, *h.Release)
		}
		keys = append(keys, k)
		ids = append(ids, r.MessageId)
		receipts = append(receipts, r.ReceiptHandle)
	}
	results, err := s.SendAll(ctx, keys)
	done := map[ledger.Key]bool{}
	until := map[ledger.Key]time.Time{}
	for _, r := range results {
		switch {
		case r.Err != nil:
			s.cfg.Logger.Error("notice not sent", "notice", r.Key.String(), "error", r.Err)
		case r.Outcome == Deferred:
			until[r.Key] = r.Until
		default:
			done[r.Key] = true
		}
	}
	stopped := errors.Is(err, ErrSendingStopped)
	if !stopped {
		failed, mailErr := s.handleMails(ctx, mails)
		resp.BatchItemFailures = append(resp.BatchItemFailures, failed...)
		if errors.Is(mailErr, ErrSendingStopped) {
			stopped, err = true, mailErr
		}
	} else {
		for _, r := range mails {
			s.holdRecord(ctx, r, s.clock().Add(WaitHold))
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	for i, k := range keys {
		if _, deferred := until[k]; stopped && !deferred && !done[k] {
			until[k] = s.clock().Add(WaitHold) // SES will not send now: it waits, claimed
		}
		if t, ok := until[k]; ok && s.cfg.Queue != nil {
			if err := s.cfg.Queue.hold(ctx, receipts[i], t.Sub(s.clock())); err != nil {
				s.cfg.Logger.Error("deferred hand-off not held: it comes back after the queue's visibility timeout", "notice", k.String(), "error", err)
			}
		}
		if !done[k] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ids[i]})
		}
	}
	if stopped {
		waiting := len(resp.BatchItemFailures)
		s.cfg.Metrics.Add("", metrics.NoticesWaiting, float64(waiting))
		s.cfg.Logger.Error(fmt.Sprintf("SES will not send now: %d notices wait, claimed, and are tried again in %s (docs/operations.md, \"Sending blocked\")", waiting, WaitHold), "error", err)
	} else if err != nil {
		s.cfg.Logger.Error("send batch", "error", err)
	}
	return resp, nil
}

// flush writes the invocation's metrics, with the account's send quota once it is known.
func (s *Sender) flush() {
	if s.quota > 0 {
		s.cfg.Metrics.Set("", metrics.SendQuota, s.quota)
	}
	if err := s.cfg.Metrics.Flush(); err != nil {
		s.cfg.Logger.Error("metrics not written", "error", err)
	}
}

// HandOff is the send queue's message: the notice to send, and (from the console's "Send it
// again") the release of a failed notice that comes first.
type HandOff struct {
	ledger.Key
	Release *Release `json:"release,omitempty"`
}

// Release asks the sender to make a failed notice claimed again before sending it: who asked,
// why, and the error it failed with. The ledger releases it only while it still failed with
// that error, and records who, when and why (ledger.ReleaseFailed).
type Release struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
	Failed string `json:"failed"`
}

// releaseFailed releases a failed notice as asked: one conditional update (no read first: the
// condition is that it still failed with r.Failed). A release that finds the notice otherwise
// (released by a duplicate of this message, sent since, failed again otherwise) changes
// nothing: the send that follows then does what the notice's state allows, once.
func (s *Sender) releaseFailed(ctx context.Context, k ledger.Key, r Release) {
	n := ledger.Notice{Campaign: k.Campaign, Org: k.Org, Stage: k.Stage, Status: ledger.Failed, Error: r.Failed}
	if err := s.ledger.ReleaseFailed(ctx, n, r.By, r.Reason); err != nil {
		s.cfg.Logger.Warn("failed notice not released", "notice", k.String(), "by", r.By, "error", err)
		return
	}
	s.cfg.Logger.Info("failed notice released to send again", "notice", k.String(), "by", r.By)
}

// MailHandOff is the send queue's message for a merged email (ledger.Mail): its campaign and
// its ID (ledger.MailKey.ID).
type MailHandOff struct {
	Campaign string `json:"campaign"`
	Mail     string `json:"mail"`
}

// isMailHandOff tells a MailHandOff from a HandOff by its "mail" field.
func isMailHandOff(body string) bool {
	var probe struct {
		Mail string `json:"mail"`
	}
	return json.Unmarshal([]byte(body), &probe) == nil && probe.Mail != ""
}

// handleMails sends the batch's merged emails and returns the records to deliver again: those
// that failed for a reason a retry can fix, and those deferred (held until they may go). An
// unreadable one is logged and dropped.
func (s *Sender) handleMails(ctx context.Context, recs []events.SQSMessage) ([]events.SQSBatchItemFailure, error) {
	var keys []ledger.MailKey
	var kept []events.SQSMessage
	for _, r := range recs {
		var h MailHandOff
		err := json.Unmarshal([]byte(r.Body), &h)
		k, kerr := ledger.ParseMailID(h.Campaign, h.Mail)
		if err != nil || kerr != nil || h.Campaign == "" {
			s.cfg.Logger.Error("mail hand-off is not {campaign, mail}: dropped", "sqs_message_id", r.MessageId, "error", errors.Join(err, kerr))
			continue
		}
		keys = append(keys, k)
		kept = append(kept, r)
	}
	results, err := s.SendMails(ctx, keys)
	done := map[ledger.MailKey]bool{}
	until := map[ledger.MailKey]time.Time{}
	for _, r := range results {
		switch {
		case r.Err != nil:
			s.cfg.Logger.Error("mail not sent", "mail", r.Key.String(), "error", r.Err)
		case r.Outcome == Deferred:
			until[r.Key] = r.Until
		default:
			done[r.Key] = true
		}
	}
	var failed []events.SQSBatchItemFailure
	for i, k := range keys {
		if t, ok := until[k]; ok {
			s.holdRecord(ctx, kept[i], t)
		} else if errors.Is(err, ErrSendingStopped) && !done[k] {
			s.holdRecord(ctx, kept[i], s.clock().Add(WaitHold))
		}
		if !done[k] {
			failed = append(failed, events.SQSBatchItemFailure{ItemIdentifier: kept[i].MessageId})
		}
	}
	return failed, err
}

// holdRecord keeps a hand-off invisible until t (when the queue is known).
func (s *Sender) holdRecord(ctx context.Context, r events.SQSMessage, t time.Time) {
	if s.cfg.Queue == nil {
		return
	}
	if err := s.cfg.Queue.hold(ctx, r.ReceiptHandle, t.Sub(s.clock())); err != nil {
		s.cfg.Logger.Error("deferred hand-off not held: it comes back after the queue's visibility timeout", "sqs_message_id", r.MessageId, "error", err)
	}
}
