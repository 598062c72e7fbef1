package sender

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
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
	"github.com/nhsmail-sunset/sunset/shared/calendar"
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
	ReleaseFailed(ctx context.Context, n ledger.Notice, by, reason string) error
	MarkCarried(ctx context.Context, k ledger.Key) error
	MarkDayTaken(ctx context.Context, k ledger.Key, address string) error
	TakeDay(ctx context.Context, campaign, address string, day calendar.Date, by string, expires time.Time) error
	ReleaseDay(ctx context.Context, campaign, address string, day calendar.Date, by string) error
	BeginMail(ctx context.Context, k ledger.MailKey) (*ledger.Mail, error)
	ReleaseMail(ctx context.Context, k ledger.MailKey) error
	Carry(ctx context.Context, n ledger.Key, address string, day calendar.Date) (*ledger.Notice, error)
	RecordCarrying(ctx context.Context, k ledger.MailKey, carried []ledger.Key) error
	MarkMailSent(ctx context.Context, k ledger.MailKey, messageID, contentSHA256 string) error
	MarkMailDone(ctx context.Context, k ledger.MailKey, to ledger.Status, reason string) error
}

// Campaigns reads a stored campaign and its status.
type Campaigns interface {
	Get(ctx context.Context, id string) (*campaign.Record, error)
}

// Suppressions says which addresses must not be emailed.
type Suppressions interface {
	Suppressed(ctx context.Context, addrs []string) (map[string]bool, error)
}

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

// ErrSendingStopped means SES will not send notices from this account now: sending paused or
// the account suspended, the account still in the SES sandbox, the sending identity not
// verified, or the day's quota reached. Nothing is marked failed: the run stops, every notice
// stays claimed and waits (the Lambda holds its hand-off for WaitHold), and an operator acts on
// the alarm (docs/operations.md, "Sending blocked").
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
	// Identity is the SES identity the stack sends as (a domain, or one address; env
	// SUNSET_SENDER_IDENTITY): a campaign whose sender.from is outside it is refused before
	// anything is leased, since IAM would refuse every send. Empty: not checked (the CLI on the
	// local stack).
	Identity string
	// TestRecipients are where test sends may go besides the campaign's own addresses
	// (sender.from, sender.reply_to, helpdesk.email): whole addresses, or "@domain" for every
	// address of a domain (env SUNSET_TEST_RECIPIENTS, comma-separated; ParseTestRecipients).
	TestRecipients []string
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

	acctMu  sync.Mutex
	acct    accountState // the last GetAccount answer, read again after accountTTL
	limiter *rate.Limiter
	quota   float64 // the account's MaxSendRate, for the SendQuota metric

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

// accountTTL is how long one GetAccount answer is used: long enough that a batch reads it once,
// short enough that a quota reached or a sandbox left is seen within a minute.
const accountTTL = time.Minute

// accountState is what GetAccount said, and when.
type accountState struct {
	readAt time.Time
	rate   float64 // recipients a second this sender keeps to
	// blocked says why real notices cannot be sent now (sandbox, daily quota); "" when they can.
	// Test sends are not blocked by it: in the sandbox they may go to verified addresses.
	blocked string
	// stopped: SES sends nothing at all from the account (SendingEnabled false).
	stopped bool
}

// account reads the account's state through GetAccount, at most once per accountTTL. A failed
// read is returned, never kept: the next call asks SES again.
func (s *Sender) account(ctx context.Context) (accountState, error) {
	s.acctMu.Lock()
	defer s.acctMu.Unlock()
	now := s.clock()
	if !s.acct.readAt.IsZero() && now.Sub(s.acct.readAt) < accountTTL && !now.Before(s.acct.readAt) {
		return s.acct, nil
	}
	out, err := s.ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return accountState{}, fmt.Errorf("read SES account (send quota): %w", err)
	}
	st := accountState{readAt: now, rate: 1} // the sandbox rate, if SES reports none
	q := out.SendQuota
	if q != nil && q.MaxSendRate > 0 {
		st.rate = q.MaxSendRate
	}
	s.quota = st.rate
	if s.cfg.MaxRate > 0 && s.cfg.MaxRate < st.rate {
		st.rate = s.cfg.MaxRate
	}
	if s.cfg.Instances > 1 {
		st.rate /= float64(s.cfg.Instances)
	}
	switch {
	case !out.SendingEnabled:
		st.stopped, st.blocked = true, "SES sending is disabled for the account (GetAccount: SendingEnabled=false)"
	case !out.ProductionAccessEnabled:
		st.blocked = "the SES account is in the sandbox (GetAccount: ProductionAccessEnabled=false): request production access"
	case q != nil && q.Max24HourSend > 0 && q.SentLast24Hours >= q.Max24HourSend:
		st.blocked = fmt.Sprintf("the SES daily quota is reached (%.0f of %.0f in the last 24 hours)", q.SentLast24Hours, q.Max24HourSend)
	}
	if s.limiter == nil {
		s.limiter = rate.NewLimiter(rate.Limit(st.rate), 1)
	} else {
		s.limiter.SetLimit(rate.Limit(st.rate))
	}
	s.acct = st
	return st, nil
}

// Rate is the recipients per second the sender keeps to (reading GetAccount if need be). SES's
// MaxSendRate counts recipients, not messages, so a notice to three addresses takes three.
func (s *Sender) Rate(ctx context.Context) (float64, error) {
	st, err := s.account(ctx)
	if err != nil {
		return 0, err
	}
	if st.stopped {
		return 0, fmt.Errorf("%w: %s", ErrSendingStopped, st.blocked)
	}
	return st.rate, nil
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

func (s *Sender) fail(ctx context.Context, log *slog.Logger, k ledger.Key, reason string) (Outcome, error) {
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
	if e.Mail != "" { // a merged email: feedback finds the mail, not one notice
		in.Content.Simple.Headers = []types.MessageHeader{
			{Name: aws.String(notice.HeaderCampaign), Value: aws.String(notice.Clean(e.Campaign))},
			{Name: aws.String(notice.HeaderStage), Value: aws.String(notice.Clean(e.Stage))},
			{Name: aws.String(notice.HeaderMail), Value: aws.String(notice.Clean(e.Mail))},
		}
		in.EmailTags = []types.MessageTag{
			{Name: aws.String("campaign"), Value: aws.String(Tag(e.Campaign))},
			{Name: aws.String("mail"), Value: aws.String(Tag(e.Mail))},
		}
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
	if err := s.canSendNotices(ctx); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < s.cfg.MinTimeLeft {
		return fmt.Errorf("not starting a send with %s left before the deadline", time.Until(dl).Round(time.Millisecond))
	}
	return nil
}

// canSendNotices says whether the account can send real notices now: not stopped, out of the
// sandbox, under its daily quota. Its error wraps ErrSendingStopped.
func (s *Sender) canSendNotices(ctx context.Context) error {
	st, err := s.account(ctx)
	if err != nil {
		return err
	}
	if st.blocked != "" {
		return fmt.Errorf("%w: %s", ErrSendingStopped, st.blocked)
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
		if err := s.waitFor(ctx, recipients(in)); err != nil {
			return "", fmt.Errorf("%w: %w", errNotCalled, err)
		}
		out, err := s.ses.SendEmail(ctx, in, noSDKRetries)
		if err == nil {
			return aws.ToString(out.MessageId), nil
		}
		if isStop(err) || isAccountState(err) {
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

// recipients is how many addresses a message goes to: what SES's send rate counts.
func recipients(in *sesv2.SendEmailInput) int {
	d := in.Destination
	if d == nil {
		return 1
	}
	return max(1, len(d.ToAddresses)+len(d.CcAddresses)+len(d.BccAddresses))
}

// waitFor takes one token of the limiter per recipient.
func (s *Sender) waitFor(ctx context.Context, n int) error {
	s.acctMu.Lock()
	l := s.limiter
	s.acctMu.Unlock()
	for range n {
		if err := l.Wait(ctx); err != nil {
			return err
		}
	}
	return nil
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

// isAccountState: SES refused the message because of the account's or the identity's state,
// not the recipient's: the sending identity (or, in the sandbox, a recipient) not verified,
// the custom MAIL FROM domain not verified, the configuration set missing. The same message
// goes once an operator has mended it, so the notice waits. SES says "not verified" only in
// MessageRejected's text (it has no error of its own), so that one case reads the message.
func isAccountState(err error) bool {
	var rejected *types.MessageRejected
	var mailFrom *types.MailFromDomainNotVerifiedException
	var notFound *types.NotFoundException
	return errors.As(err, &mailFrom) || errors.As(err, &notFound) ||
		(errors.As(err, &rejected) && strings.Contains(strings.ToLower(aws.ToString(rejected.Message)), "not verified"))
}

// isPermanent: SES will reject this message to these recipients every time (an illegal or
// blocked address, content it refuses).
func isPermanent(err error) bool {
	if isAccountState(err) {
		return false
	}
	var rejected *types.MessageRejected
	var bad *types.BadRequestException
	return errors.As(err, &rejected) || errors.As(err, &bad)
}

// Dispatch sends notices the planner has just claimed: the in-process dispatcher of
// `sunset run --local`. It returns an error if any notice could not be sent (they stay claimed).
// Notices outside their campaign's send window stay claimed too, with a warning: the same
// day's run after the window opens hands them over again.
func (s *Sender) Dispatch(ctx context.Context, notices []ledger.Notice) error {
	keys := make([]ledger.Key, len(notices))
	for i, n := range notices {
		keys[i] = n.Key()
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

// DispatchMails sends merged emails the planner has just made: `sunset run --local`'s
// in-process dispatcher, as Dispatch is for notices.
func (s *Sender) DispatchMails(ctx context.Context, mails []ledger.MailKey) error {
	res, err := s.SendMails(ctx, mails)
	if err != nil {
		return err
	}
	var errs []string
	for _, r := range res {
		if r.Err != nil {
			errs = append(errs, r.Err.Error())
		}
		if r.Outcome == Deferred {
			s.cfg.Logger.Warn("merged email waits: left claimed", "mail", r.Key.String(), "until", r.Until.Format(time.RFC3339))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d merged emails not sent (still claimed; the next run retries them): %s", len(errs), len(mails), strings.Join(errs, "; "))
	}
	return nil
}

// SendTest sends the rendering of n to one address, subject prefixed "[TEST] ", without
// touching the ledger or the configuration set's event publishing (no tags, so feedback never
// mistakes it for a real notice).
func (s *Sender) SendTest(ctx context.Context, c *campaign.Campaign, n ledger.Notice, to string) (string, *notice.Email, error) {
	to, err := TestAddress(to)
	if err != nil {
		return "", nil, err
	}
	if err := CheckTestRecipient(c, to, s.cfg.TestRecipients); err != nil {
		return "", nil, err
	}
	if err := c.CheckIdentity(s.cfg.Identity); err != nil {
		return "", nil, fmt.Errorf("send test of %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
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
	return s.sendTestEmail(ctx, e, n.Campaign+"/"+n.Org+"/"+n.Stage, to)
}

// SendTestMerged sends, like SendTest, the merged email address would get carrying notices (one
// notice: that notice's own email), to the internal address to.
func (s *Sender) SendTestMerged(ctx context.Context, c *campaign.Campaign, k ledger.MailKey, address string, notices []ledger.Notice, to string) (string, *notice.Email, error) {
	if len(notices) == 1 {
		return s.SendTest(ctx, c, notices[0], to)
	}
	to, err := TestAddress(to)
	if err != nil {
		return "", nil, err
	}
	if err := CheckTestRecipient(c, to, s.cfg.TestRecipients); err != nil {
		return "", nil, err
	}
	if err := c.CheckIdentity(s.cfg.Identity); err != nil {
		return "", nil, fmt.Errorf("send test of %s: %w", k, err)
	}
	r, err := notice.New(c, s.cfg.TemplateDir)
	if err != nil {
		return "", nil, err
	}
	if s.cfg.Links != nil {
		r.WithLinks(s.cfg.Links.For(c, true))
	}
	e, err := r.RenderMerged(k, address, notices, s.clock())
	if err != nil {
		return "", nil, err
	}
	e.To = []string{to}
	return s.sendTestEmail(ctx, e, k.String(), to)
}

// sendTestEmail sends a rendered test: "[TEST] " before the subject, no tags, no configuration
// set (feedback never mistakes it for a real email), the X-Sunset-Test header.
func (s *Sender) sendTestEmail(ctx context.Context, e *notice.Email, what, to string) (string, *notice.Email, error) {
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
		return "", nil, fmt.Errorf("send test of %s to %s: %w", what, to, err)
	}
	return id, e, nil
}

// ErrNotInternal is a test send's address outside the team's: a test carries an organisation's
// notice and its accounts, so it goes only where the team reads it.
var ErrNotInternal = errors.New("is not an internal address")

// CheckTestRecipient refuses a test send to an address that is neither one of campaign c's own
// (sender.from, sender.reply_to, helpdesk.email) nor in allowed (whole addresses, or "@domain").
func CheckTestRecipient(c *campaign.Campaign, to string, allowed []string) error {
	to = strings.ToLower(strings.TrimSpace(to))
	own := []string{c.Sender.From, c.Sender.ReplyTo, c.Helpdesk.Email}
	for i, a := range own {
		if p, err := mail.ParseAddress(a); err == nil {
			own[i] = p.Address
		}
	}
	for _, a := range append(own, allowed...) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && (a == to || (strings.HasPrefix(a, "@") && strings.HasSuffix(to, a))) {
			return nil
		}
	}
	return fmt.Errorf("%q %w: a test goes to the campaign's own addresses (sender.from, sender.reply_to, helpdesk.email) or to those the stack lists (SUNSET_TEST_RECIPIENTS, the TestRecipients parameter)", to, ErrNotInternal)
}

// ParseTestRecipients reads SUNSET_TEST_RECIPIENTS: addresses and "@domain"s, separated by
// commas or spaces.
func ParseTestRecipients(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == ';' })
}

// ErrTestAddress is a test send's address that is not one plain email address.
var ErrTestAddress = errors.New("is not one email address")

// TestAddress is the one check of a test send's address, for the CLI, the API and SendTest: one
// address (RFC 5322), without a display name, no longer than 254 bytes, nothing around it. It
// returns the address trimmed.
func TestAddress(to string) (string, error) {
	to = strings.TrimSpace(to)
	a, err := mail.ParseAddress(to)
	if err != nil || a.Name != "" || a.Address != to || len(to) > 254 {
		return "", fmt.Errorf("%q %w", to, ErrTestAddress)
	}
	return to, nil
}
