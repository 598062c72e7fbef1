package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/notice"
)

// SES is the part of the SES v2 client the sender uses.
type SES interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Ledger is the part of the notice ledger the sender uses.
type Ledger interface {
	Get(ctx context.Context, campaign, org, stage string) (*ledger.Notice, error)
	MarkSent(ctx context.Context, campaign, org, stage, messageID, contentSHA256 string) error
	MarkFailed(ctx context.Context, campaign, org, stage, reason string) error
	MarkSuppressed(ctx context.Context, campaign, org, stage, reason string) error
	BeginSend(ctx context.Context, campaign, org, stage string) (*ledger.Notice, error)
	ReleaseSend(ctx context.Context, campaign, org, stage string) error
}

// Campaigns reads a stored campaign and its status.
type Campaigns interface {
	Get(ctx context.Context, id string) (*campaign.Record, error)
}

// Suppressions says which addresses must not be emailed.
type Suppressions interface {
	Suppressed(ctx context.Context, addrs []string) (map[string]bool, error)
}

// Key names one notice: the SQS hand-off body of the planner, {"campaign","org","stage"}.
type Key struct {
	Campaign string `json:"campaign"`
	Org      string `json:"org"`
	Stage    string `json:"stage"`
}

func (k Key) String() string { return k.Campaign + "/" + k.Org + "/" + k.Stage }

// Outcome is what happened to one notice.
type Outcome string

// Outcomes of Send.
const (
	Sent        Outcome = "sent"         // SES accepted it; the ledger says sent
	AlreadyDone Outcome = "already-done" // the ledger says sent, failed or suppressed: nothing to do
	NotActive   Outcome = "not-active"   // the campaign is paused or cancelled: left claimed
	NotFound    Outcome = "not-found"    // no such notice in the ledger: nothing to do
	Failed      Outcome = "failed"       // SES rejected it for good; the ledger says failed
	Suppressed  Outcome = "suppressed"   // every recipient is suppressed; the ledger says so
	Deferred    Outcome = "deferred"     // outside the campaign's send window: left claimed until Result.Until
)

// ErrSendingStopped means SES will not send anything from this account now (sending paused,
// account suspended): the run stops and an operator must act.
var ErrSendingStopped = errors.New("SES sending is stopped for this account")

// Options are how the sender sends.
type Options struct {
	// ConfigurationSet is the SES configuration set that publishes bounce, complaint and
	// delivery events (env SUNSET_CONFIGURATION_SET); empty sends without one.
	ConfigurationSet string
	// MaxRate caps sends per second below the account's SendQuota.MaxSendRate; 0 = the quota.
	MaxRate float64
	// Instances is how many senders share the account's quota at once (the sender Lambda's
	// reserved concurrency): each keeps to MaxSendRate / Instances. Default 1.
	Instances int
	// Concurrency is how many sends may be in flight at once; default 4.
	Concurrency int
	// TemplateDir is the folder of the campaign file, for a campaign with its own template
	// folder; "" where there is none (Lambda: built-in sets only).
	TemplateDir string
	// MinTimeLeft: a send does not start with less than this before the context's deadline;
	// default 5s.
	MinTimeLeft time.Duration
	// Logger gets one line per outcome; default slog.Default().
	Logger *slog.Logger
	// Metrics counts outcomes per campaign, throttles and the quota (nil: none).
	Metrics *metrics.Recorder
	// Links, when set, makes and signs each notice's answer links (docs/answers.md).
	Links *answers.Links
	// Queue, in the Lambda, is the send queue a deferred notice's hand-off is held on until
	// its campaign's send window opens (nil: it comes back after the visibility timeout).
	Queue *Queue
}

// Sender sends notices.
type Sender struct {
	ses       SES
	ledger    Ledger
	campaigns Campaigns
	suppress  Suppressions
	clock     func() time.Time
	cfg       Options
	sleep     func(context.Context, time.Duration) error

	limitOnce sync.Once
	limiter   *rate.Limiter
	limitErr  error
	quota     float64 // the account's MaxSendRate, for the SendQuota metric

	mu        sync.Mutex
	renderers map[string]*notice.Renderer // by campaign id and version
}

// New returns a sender. suppress may be nil (no re-check at send time).
func New(ses SES, l Ledger, campaigns Campaigns, suppress Suppressions, clock func() time.Time, cfg Options) *Sender {
	if clock == nil {
		clock = time.Now
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MinTimeLeft <= 0 {
		cfg.MinTimeLeft = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Sender{ses: ses, ledger: l, campaigns: campaigns, suppress: suppress, clock: clock, cfg: cfg,
		sleep: sleepCtx, renderers: map[string]*notice.Renderer{}}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Rate is the sends per second the sender keeps to (reading GetAccount once).
func (s *Sender) Rate(ctx context.Context) (float64, error) {
	s.limitOnce.Do(func() {
		out, err := s.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
		if err != nil {
			s.limitErr = fmt.Errorf("read SES send quota: %w", err)
			return
		}
		r := 1.0 // the sandbox rate, if SES reports none
		if out.SendQuota != nil && out.SendQuota.MaxSendRate > 0 {
			r = out.SendQuota.MaxSendRate
		}
		s.quota = r
		if s.cfg.MaxRate > 0 && s.cfg.MaxRate < r {
			r = s.cfg.MaxRate
		}
		if s.cfg.Instances > 1 {
			r /= float64(s.cfg.Instances)
		}
		if !out.SendingEnabled {
			s.limitErr = fmt.Errorf("read SES send quota: %w (GetAccount: SendingEnabled=false)", ErrSendingStopped)
			return
		}
		s.limiter = rate.NewLimiter(rate.Limit(r), 1)
	})
	if s.limitErr != nil {
		return 0, s.limitErr
	}
	return float64(s.limiter.Limit()), nil
}

func (s *Sender) renderer(rec *campaign.Record) (*notice.Renderer, error) {
	id := fmt.Sprintf("%s#%d", rec.Campaign.ID, rec.Version)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.renderers[id]; ok {
		return r, nil
	}
	r, err := notice.New(rec.Campaign, s.cfg.TemplateDir)
	if err != nil {
		return nil, err
	}
	if s.cfg.Links != nil {
		r.WithLinks(s.cfg.Links.For(rec.Campaign, false))
	}
	s.renderers[id] = r
	return r, nil
}

func (s *Sender) fail(ctx context.Context, log *slog.Logger, k Key, reason string) (Outcome, error) {
	ctx = context.WithoutCancel(ctx)
	if err := s.ledger.MarkFailed(ctx, k.Campaign, k.Org, k.Stage, reason); err != nil {
		return "", fmt.Errorf("send notice %s: record failure (%s): %w", k, reason, err)
	}
	log.Warn("notice failed", "reason", reason)
	return Failed, nil
}

// Input is the SendEmail request for a rendered notice (without the configuration set's name
// when none is configured).
func (s *Sender) Input(e *notice.Email) (*sesv2.SendEmailInput, error) {
	from, err := notice.FormatAddress(e.From)
	if err != nil {
		return nil, fmt.Errorf("sender address: %w", err)
	}
	var to []string
	for _, a := range e.To {
		f, err := notice.FormatAddress(a)
		if err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
		to = append(to, f)
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(from),
		Destination:      &types.Destination{ToAddresses: to},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(e.Subject), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Html: &types.Content{Data: aws.String(e.HTML), Charset: aws.String("UTF-8")},
				Text: &types.Content{Data: aws.String(e.Text), Charset: aws.String("UTF-8")},
			},
			Attachments: []types.Attachment{{
				FileName:                aws.String(e.CSVName),
				RawContent:              e.CSV,
				ContentType:             aws.String("text/csv"),
				ContentDisposition:      types.AttachmentContentDispositionAttachment,
				ContentTransferEncoding: types.AttachmentContentTransferEncodingBase64,
			}},
			Headers: []types.MessageHeader{
				{Name: aws.String(notice.HeaderCampaign), Value: aws.String(notice.Clean(e.Campaign))},
				{Name: aws.String(notice.HeaderOrg), Value: aws.String(notice.Clean(e.Org))},
				{Name: aws.String(notice.HeaderStage), Value: aws.String(notice.Clean(e.Stage))},
			},
		}},
		EmailTags: []types.MessageTag{
			{Name: aws.String("campaign"), Value: aws.String(Tag(e.Campaign))},
			{Name: aws.String("org"), Value: aws.String(Tag(e.Org))},
			{Name: aws.String("stage"), Value: aws.String(Tag(e.Stage))},
		},
	}
	if e.ReplyTo != "" {
		rt, err := notice.FormatAddress(e.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("reply-to address: %w", err)
		}
		in.ReplyToAddresses = []string{rt}
	}
	if s.cfg.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.cfg.ConfigurationSet)
	}
	return in, nil
}

// Tag makes v a valid SES tag value: ASCII letters, digits, '_' and '-' only (others become
// '_'), at most 256 characters, never empty.
func Tag(v string) string {
	b := []byte(v)
	if len(b) > 256 {
		b = b[:256]
	}
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// ready checks, before the lease is taken, that a send can start now: the quota is known and
// the context has time left for the send and its record.
func (s *Sender) ready(ctx context.Context) error {
	if _, err := s.Rate(ctx); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.cfg.MinTimeLeft {
		return fmt.Errorf("not starting a send with %s left before the deadline", time.Until(dl).Round(time.Millisecond))
	}
	return nil
}

// throttleRetries is how many times a throttled send is retried after the SDK's own retries.
const throttleRetries = 4

// send waits for a token, calls SendEmail and retries throttling with backoff.
func (s *Sender) send(ctx context.Context, in *sesv2.SendEmailInput) (string, error) {
	if _, err := s.Rate(ctx); err != nil {
		return "", err
	}
	backoff := time.Second
	for attempt := 0; ; attempt++ {
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.cfg.MinTimeLeft {
			return "", fmt.Errorf("%w: %s left before the deadline", errNotCalled, time.Until(dl).Round(time.Millisecond))
		}
		if err := s.limiter.Wait(ctx); err != nil {
			return "", fmt.Errorf("%w: %w", errNotCalled, err)
		}
		out, err := s.ses.SendEmail(ctx, in, noSDKRetries)
		if err == nil {
			return aws.ToString(out.MessageId), nil
		}
		if isStop(err) {
			return "", fmt.Errorf("%w: %w", ErrSendingStopped, err)
		}
		if !isThrottle(err) || attempt == throttleRetries {
			return "", err
		}
		s.cfg.Metrics.Add("", metrics.SendThrottles, 1)
		if err := s.sleep(ctx, backoff); err != nil {
			return "", fmt.Errorf("%w: %w", errNotCalled, err)
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// noSDKRetries makes one SendEmail call one attempt. The SDK's retryer would also retry a
// connection reset or a timeout after the request was written, when SES may already have
// accepted the message: a second attempt could be a second email. Throttling, the one error
// worth retrying, is retried by send's own loop, which knows SES said no.
func noSDKRetries(o *sesv2.Options) { o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1) }

// errNotCalled wraps a reason a send never reached SES.
var errNotCalled = errors.New("SendEmail not called")

// notAccepted: SES certainly did not take the message: it answered with an API error, the
// call was never made, or the connection was never opened (no address, refused).
func notAccepted(err error) bool {
	var api smithy.APIError
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &api) || errors.Is(err, errNotCalled) || errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

func isStop(err error) bool {
	var paused *types.SendingPausedException
	var suspended *types.AccountSuspendedException
	return errors.As(err, &paused) || errors.As(err, &suspended)
}

func isThrottle(err error) bool {
	var tooMany *types.TooManyRequestsException
	var limit *types.LimitExceededException
	return errors.As(err, &tooMany) || errors.As(err, &limit)
}

// isPermanent: SES will reject this message every time (bad address, unverified sender).
func isPermanent(err error) bool {
	var rejected *types.MessageRejected
	var mailFrom *types.MailFromDomainNotVerifiedException
	var bad *types.BadRequestException
	var notFound *types.NotFoundException
	return errors.As(err, &rejected) || errors.As(err, &mailFrom) || errors.As(err, &bad) || errors.As(err, &notFound)
}

// Dispatch sends notices the planner has just claimed: the in-process dispatcher of
// `sunset run --local`. It returns an error if any notice could not be sent (they stay claimed).
// Notices outside their campaign's send window stay claimed too, with a warning: the same
// day's run after the window opens hands them over again.
func (s *Sender) Dispatch(ctx context.Context, notices []ledger.Notice) error {
	keys := make([]Key, len(notices))
	for i, n := range notices {
		keys[i] = Key{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage}
	}
	res, err := s.SendAll(ctx, keys)
	if err != nil {
		return err
	}
	var errs []string
	deferred := 0
	var until time.Time
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
		}
		if r.Outcome == Deferred {
			deferred++
			until = r.Until
		}
	}
	if deferred > 0 {
		s.cfg.Logger.Warn(fmt.Sprintf("%d notices wait for the campaign's send window: left claimed; run again after %s to send them", deferred, until.Format(time.RFC3339)))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d notices not sent (still claimed; the next run retries them): %s", len(errs), len(keys), strings.Join(errs, "; "))
	}
	return nil
}

// SendTest sends the rendering of n to one address, subject prefixed "[TEST] ", without
// touching the ledger or the configuration set's event publishing (no tags, so feedback never
// mistakes it for a real notice).
func (s *Sender) SendTest(ctx context.Context, c *campaign.Campaign, n ledger.Notice, to string) (string, *notice.Email, error) {
	r, err := notice.New(c, s.cfg.TemplateDir)
	if err != nil {
		return "", nil, err
	}
	if s.cfg.Links != nil {
		r.WithLinks(s.cfg.Links.For(c, true))
	}
	n.Recipients = []string{to}
	e, err := r.Render(n, s.clock())
	if err != nil {
		return "", nil, err
	}
	e.Subject = "[TEST] " + e.Subject
	in, err := s.Input(e)
	if err != nil {
		return "", nil, err
	}
	in.EmailTags = nil
	in.ConfigurationSetName = nil
	in.Content.Simple.Headers = append(in.Content.Simple.Headers, types.MessageHeader{Name: aws.String("X-Sunset-Test"), Value: aws.String("yes")})
	id, err := s.send(ctx, in)
	if err != nil {
		return "", nil, fmt.Errorf("send test of %s/%s/%s to %s: %w", n.Campaign, n.Org, n.Stage, to, err)
	}
	return id, e, nil
}
