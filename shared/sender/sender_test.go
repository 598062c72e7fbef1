package sender

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

const campaignYAML = `
id: legacy-hostnames-2021
title: Retirement of legacy NHSmail hostnames
timezone: Europe/London
shutdown: 2021-09-07
hostnames:
  - name: imap.nhs.net
    replacement: {host: outlook.office365.com, port: 993, encryption: SSL}
audience_source: findings
activity_window_days: 30
stages:
  - {name: advance, days_before: 42}
  - {name: final, days_before: 1}
audience: [la, pla]
sender: {from: "NHSmail Team <noreply@example.nhs.net>", reply_to: "helpdesk@example.nhs.net"}
helpdesk: {phone: "0333 200 1133", email: "helpdesk@example.nhs.net"}
`

type env struct {
	ledger    *ledger.Ledger
	campaigns *campaign.Store
	suppress  *suppression.List
	now       time.Time
}

// setup applies the campaign and claims one notice to a unique recipient on a fresh table.
func setup(t *testing.T) (*env, ledger.Key, string) {
	t.Helper()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := &env{ledger: ledger.New(db, table, clock), campaigns: campaign.NewStore(db, table, clock),
		suppress: suppression.New(db, table, clock), now: now}
	c, err := campaign.Parse([]byte(campaignYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.campaigns.Apply(context.Background(), c, "test"); err != nil {
		t.Fatal(err)
	}
	to := "la-" + localstacktest.Unique() + "@example.nhs.net"
	k := ledger.Key{Campaign: c.ID, Org: "RX1", Stage: "advance"}
	claim(t, e, k, to)
	return e, k, to
}

func claim(t *testing.T, e *env, k ledger.Key, to ...string) {
	t.Helper()
	ok, err := e.ledger.Claim(context.Background(), ledger.Notice{
		Campaign: k.Campaign, Org: k.Org, OrgName: "Example Trust", Stage: k.Stage,
		Deadline: calendar.Of(time.Date(2021, 9, 7, 0, 0, 0, 0, time.UTC)), PlannedFor: calendar.Of(e.now),
		FirstContact: true, Recipients: to, Status: ledger.Claimed,
		Accounts: []ledger.Account{{Account: "scanner@nhs.net", Hostname: "imap.nhs.net", Protocol: "IMAP",
			LastSeen: e.now.Add(-48 * time.Hour), Successes: 3}},
	})
	if err != nil || !ok {
		t.Fatalf("claim %s: %v %v", k, ok, err)
	}
}

func newSender(t *testing.T, e *env, opts ...func(*sesv2.Options)) *Sender {
	ses := localstacktest.SES(t, append([]func(*sesv2.Options){func(o *sesv2.Options) { o.RetryMaxAttempts = 1 }}, opts...)...)
	s := New(ses, e.ledger, e.campaigns, e.suppress, func() time.Time { return e.now }, Options{ConfigurationSet: "sunset-test"})
	s.sleep = func(context.Context, time.Duration) error { return nil }
	return s
}

func sentTo(t *testing.T, addr string) []localstacktest.Email {
	var out []localstacktest.Email
	for _, m := range localstacktest.SentEmails(t) {
		for _, to := range m.Destination.To {
			if strings.Contains(to, addr) {
				out = append(out, m)
			}
		}
	}
	return out
}

func TestSendOnceThenNoOp(t *testing.T) {
	e, k, to := setup(t)
	s := newSender(t, e)
	ctx := context.Background()
	o, err := s.Send(ctx, k)
	if err != nil || o != Sent {
		t.Fatalf("first send: %v %v", o, err)
	}
	got := sentTo(t, to)
	if len(got) != 1 {
		t.Fatalf("emulator has %d emails to %s, want 1", len(got), to)
	}
	m := got[0]
	if !strings.HasPrefix(m.Subject, "Action required by 07 September 2021: 1 account at Example Trust") {
		t.Errorf("subject = %q", m.Subject)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "affected-accounts-legacy-hostnames-2021-RX1.csv" {
		t.Errorf("attachments = %+v", m.Attachments)
	}
	if !strings.Contains(m.From, "noreply@example.nhs.net") || len(m.ReplyTo) != 1 {
		t.Errorf("from %q reply-to %v", m.From, m.ReplyTo)
	}
	n, err := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != ledger.Sent || n.MessageID != m.MessageID || len(n.ContentSHA256) != 64 {
		t.Errorf("ledger: status %s id %q (emulator %q) sha %q", n.Status, n.MessageID, m.MessageID, n.ContentSHA256)
	}
	// A redelivered hand-off for the same notice sends nothing.
	o, err = s.Send(ctx, k)
	if err != nil || o != AlreadyDone {
		t.Fatalf("second send: %v %v", o, err)
	}
	if got := sentTo(t, to); len(got) != 1 {
		t.Fatalf("emulator has %d emails after a repeat, want 1", len(got))
	}
}

// Duplicate deliveries racing on one notice: exactly one email.
func TestConcurrentSendsOfOneNotice(t *testing.T) {
	e, k, to := setup(t)
	s := newSender(t, e)
	var sent atomic.Int32
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := s.Send(context.Background(), k)
			if err != nil {
				t.Error(err)
			}
			if o == Sent {
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	if sent.Load() != 1 {
		t.Errorf("%d sends reported Sent, want 1", sent.Load())
	}
	if got := sentTo(t, to); len(got) != 1 {
		t.Errorf("emulator has %d emails, want 1", len(got))
	}
}

func TestPausedCampaignAndSuppressedRecipients(t *testing.T) {
	e, k, to := setup(t)
	s := newSender(t, e)
	ctx := context.Background()
	if err := e.campaigns.SetStatus(ctx, k.Campaign, campaign.Paused, "test"); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Send(ctx, k); err != nil || o != NotActive {
		t.Fatalf("paused: %v %v", o, err)
	}
	if got := sentTo(t, to); len(got) != 0 {
		t.Fatal("a paused campaign sent an email")
	}
	if err := e.campaigns.SetStatus(ctx, k.Campaign, campaign.Active, "test"); err != nil {
		t.Fatal(err)
	}
	if err := e.suppress.Add(ctx, strings.ToUpper(to), suppression.Bounce, "test"); err != nil {
		t.Fatal(err)
	}
	if o, err := s.Send(ctx, k); err != nil || o != Suppressed {
		t.Fatalf("suppressed: %v %v", o, err)
	}
	n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	if n.Status != ledger.Suppressed {
		t.Errorf("ledger status %s, want suppressed", n.Status)
	}
	if o, err := s.Send(ctx, ledger.Key{Campaign: k.Campaign, Org: "NOPE", Stage: "advance"}); err != nil || o != NotFound {
		t.Errorf("unknown notice: %v %v", o, err)
	}
}

// inject makes SendEmail answer with the errors in order (nil: call the emulator).
func inject(errs ...error) (func(*sesv2.Options), *atomic.Int32) {
	var calls atomic.Int32
	return func(o *sesv2.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("inject", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) != "SendEmail" {
					return next.HandleFinalize(ctx, in)
				}
				i := int(calls.Add(1)) - 1
				if i < len(errs) && errs[i] != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, errs[i]
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
		})
	}, &calls
}

func TestSESErrors(t *testing.T) {
	throttled := &types.TooManyRequestsException{Message: aws.String("Maximum sending rate exceeded")}
	tests := []struct {
		name       string
		errs       []error
		want       Outcome
		wantErr    error
		wantStatus ledger.Status
		wantEmails int
		wantCalls  int32
	}{
		{"throttled twice then sent", []error{throttled, throttled}, Sent, nil, ledger.Sent, 1, 3},
		{"throttled for good stays claimed", []error{throttled, throttled, throttled, throttled, throttled}, "", nil, ledger.Claimed, 0, 5},
		{"message rejected: illegal address", []error{&types.MessageRejected{Message: aws.String("Illegal address")}}, Failed, nil, ledger.Failed, 0, 1},
		{"bad request", []error{&types.BadRequestException{Message: aws.String("Illegal address")}}, Failed, nil, ledger.Failed, 0, 1},
		// The account's or the identity's state, not the recipient's: the notice waits.
		{"identity not verified", []error{&types.MessageRejected{Message: aws.String("Email address is not verified. The following identities failed the check in region EU-WEST-2: noreply@example.nhs.net")}}, "", ErrSendingStopped, ledger.Claimed, 0, 1},
		{"mail-from not verified", []error{&types.MailFromDomainNotVerifiedException{}}, "", ErrSendingStopped, ledger.Claimed, 0, 1},
		{"configuration set missing", []error{&types.NotFoundException{Message: aws.String("Configuration set sunset-test does not exist")}}, "", ErrSendingStopped, ledger.Claimed, 0, 1},
		{"sending paused", []error{&types.SendingPausedException{}}, "", ErrSendingStopped, ledger.Claimed, 0, 1},
		{"account suspended", []error{&types.AccountSuspendedException{}}, "", ErrSendingStopped, ledger.Claimed, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, k, to := setup(t)
			opt, calls := inject(tt.errs...)
			s := newSender(t, e, opt)
			o, err := s.Send(context.Background(), k)
			if o != tt.want {
				t.Errorf("outcome %q, want %q (err %v)", o, tt.want, err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.want != "" && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if calls.Load() != tt.wantCalls {
				t.Errorf("SendEmail called %d times, want %d", calls.Load(), tt.wantCalls)
			}
			n, _ := e.ledger.Get(context.Background(), k.Campaign, k.Org, k.Stage)
			if n.Status != tt.wantStatus {
				t.Errorf("ledger status %s, want %s (error %q)", n.Status, tt.wantStatus, n.Error)
			}
			if got := len(sentTo(t, to)); got != tt.wantEmails {
				t.Errorf("%d emails, want %d", got, tt.wantEmails)
			}
			if tt.wantStatus == ledger.Claimed {
				// SES said no, so the lease is given back: a later attempt sends it.
				s2 := newSender(t, e)
				if o, err := s2.Send(context.Background(), k); err != nil || o != Sent {
					t.Errorf("retry after %s: %v %v", tt.name, o, err)
				}
			}
		})
	}
}

// SendAll stops at the first "sending stopped" and does not try the rest.
func TestSendAllStopsWhenSESStops(t *testing.T) {
	e, k, _ := setup(t)
	keys := []ledger.Key{k}
	for _, org := range []string{"RA1", "RB2", "RC3", "RD4"} {
		kk := ledger.Key{Campaign: k.Campaign, Org: org, Stage: "advance"}
		claim(t, e, kk, "x-"+localstacktest.Unique()+"@example.nhs.net")
		keys = append(keys, kk)
	}
	stop := &types.SendingPausedException{Message: aws.String("sending paused for this account")}
	opt, calls := inject(stop, stop, stop, stop, stop)
	s := newSender(t, e, opt)
	s.cfg.Concurrency = 1
	res, err := s.SendAll(context.Background(), keys)
	if !errors.Is(err, ErrSendingStopped) {
		t.Fatalf("err = %v, want ErrSendingStopped", err)
	}
	if calls.Load() != 1 || len(res) != 1 {
		t.Errorf("%d SendEmail calls, %d results; want 1 and 1", calls.Load(), len(res))
	}
}

func TestRateFromQuota(t *testing.T) {
	e, _, _ := setup(t)
	s := newSender(t, e)
	r, err := s.Rate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r != 100 { // infra/local/ses-account.json
		t.Errorf("rate %v, want the emulator's MaxSendRate 100", r)
	}
	s = newSender(t, e)
	s.cfg.MaxRate = 7
	if r, _ := s.Rate(context.Background()); r != 7 {
		t.Errorf("rate %v, want the configured cap 7", r)
	}
	s = newSender(t, e)
	s.cfg.Instances = 4
	if r, _ := s.Rate(context.Background()); r != 25 {
		t.Errorf("rate %v, want a quarter of the quota for 4 instances", r)
	}
}

func TestTag(t *testing.T) {
	for in, want := range map[string]string{
		"legacy-hostnames-2021":  "legacy-hostnames-2021",
		"RX1":                    "RX1",
		"final reminder/2":       "final_reminder_2",
		"":                       "_",
		"é\r\n":                  "____",
		strings.Repeat("a", 300): strings.Repeat("a", 256),
	} {
		if got := Tag(in); got != want {
			t.Errorf("Tag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendTestTouchesNoLedger(t *testing.T) {
	e, k, _ := setup(t)
	s := newSender(t, e)
	s.cfg.TestRecipients = []string{"ops@team.example", "@example.nhs.net"}
	ctx := context.Background()
	rec, err := e.campaigns.Get(ctx, k.Campaign)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	// A test carries an organisation's notice and accounts: only to the team's addresses.
	outside := "someone-" + localstacktest.Unique() + "@elsewhere.example"
	for _, a := range []string{outside, "ops@team.example.evil", "x@notexample.nhs.net"} {
		if _, _, err := s.SendTest(ctx, rec.Campaign, *n, a); !errors.Is(err, ErrNotInternal) {
			t.Errorf("test send to %s: %v, want ErrNotInternal", a, err)
		}
	}
	if got := sentTo(t, outside); len(got) != 0 {
		t.Fatalf("a test went to an outside address")
	}
	if err := CheckTestRecipient(rec.Campaign, "NoReply@example.nhs.net", nil); err != nil {
		t.Errorf("the campaign's own sender address: %v", err)
	}
	to := "internal-" + localstacktest.Unique() + "@example.nhs.net"
	id, _, err := s.SendTest(ctx, rec.Campaign, *n, to)
	if err != nil {
		t.Fatal(err)
	}
	got := sentTo(t, to)
	if len(got) != 1 || got[0].MessageID != id || !strings.HasPrefix(got[0].Subject, "[TEST] Action required") {
		t.Fatalf("test email: %+v", got)
	}
	after, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	if after.Status != ledger.Claimed || after.MessageID != "" {
		t.Errorf("send-test touched the ledger: %+v", after)
	}
}

// SES's call fails with no answer (the connection dropped): the notice may have gone, so it
// stays leased (in doubt), is counted, and a second sender does not send it; SES's Send event
// or sunset reconcile settles it.
func TestNoAnswerLeavesTheNoticeInDoubt(t *testing.T) {
	e, k, to := setup(t)
	opt, calls := inject(&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET})
	// However many attempts the client allows, SendEmail is one attempt: a retry could be a
	// second email.
	s := newSender(t, e, opt, func(o *sesv2.Options) { o.RetryMaxAttempts = 5 })
	var emf bytes.Buffer
	s.cfg.Metrics = metrics.New(&emf, "sender", nil)
	o, err := s.Send(context.Background(), k)
	if !errors.Is(err, ErrInDoubt) || o != "" || calls.Load() != 1 {
		t.Fatalf("Send = %q, %v after %d calls; want ErrInDoubt after 1", o, err, calls.Load())
	}
	n, _ := e.ledger.Get(context.Background(), k.Campaign, k.Org, k.Stage)
	if !n.InDoubt() {
		t.Fatalf("notice %+v, want in doubt", n)
	}
	if o, err := newSender(t, e).Send(context.Background(), k); o != AlreadyDone || err != nil {
		t.Errorf("second sender: %q %v, want already-done (never a second email)", o, err)
	}
	if got := len(sentTo(t, to)); got != 0 {
		t.Errorf("%d emails", got)
	}
	s.flush()
	if got := metricstest.Parse(t, emf.Bytes()).Get(k.Campaign, metrics.NoticesInDoubt); got != 1 {
		t.Errorf("NoticesInDoubt = %g, want 1", got)
	}
}

// A connection that was never opened is not a send: the lease is given back and a later
// attempt sends the notice.
func TestRefusedConnectionIsNotADoubt(t *testing.T) {
	e, k, to := setup(t)
	opt, _ := inject(&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	if o, err := newSender(t, e, opt).Send(context.Background(), k); errors.Is(err, ErrInDoubt) || err == nil || o != "" {
		t.Fatalf("Send = %q, %v; want a retryable error, not in doubt", o, err)
	}
	if o, err := newSender(t, e).Send(context.Background(), k); o != Sent || err != nil {
		t.Errorf("retry: %q %v, want sent", o, err)
	}
	if got := len(sentTo(t, to)); got != 1 {
		t.Errorf("%d emails, want 1", got)
	}
}

// counting counts the DynamoDB requests a client makes, by operation.
type counting struct {
	mu  sync.Mutex
	ops map[string]int
}

func (c *counting) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.ops[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
}

func (c *counting) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.ops {
		n += v
	}
	return n
}

// A batch of notices costs at most 3 table requests per sent notice (the bound) and one
// more a recipient: the lease is the read, the mark the other write, the campaign and the
// suppression list are read once per chunk, and each recipient's day is one conditional put
// (at most one email an address, campaign and day: ledger.TakeDay).
func TestTableRequestsPerSentNotice(t *testing.T) {
	cnt := &counting{ops: map[string]int{}}
	db, table := localstacktest.DynamoDB(t, cnt.option)
	now := time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := &env{ledger: ledger.New(db, table, clock), campaigns: campaign.NewStore(db, table, clock), suppress: suppression.New(db, table, clock), now: now}
	c, err := campaign.Parse([]byte(campaignYAML), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.campaigns.Apply(context.Background(), c, "test"); err != nil {
		t.Fatal(err)
	}
	var keys []ledger.Key
	for i := range 40 {
		k := ledger.Key{Campaign: c.ID, Org: fmt.Sprintf("R%03d", i), Stage: "advance"}
		claim(t, e, k, fmt.Sprintf("la%d-%s@example.nhs.net", i, localstacktest.Unique()), fmt.Sprintf("pla%d@example.nhs.net", i))
		keys = append(keys, k)
	}
	s := newSender(t, e)
	before := cnt.total()
	res, err := s.SendAll(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, r := range res {
		if r.Outcome == Sent {
			sent++
		}
	}
	requests := cnt.total() - before
	const recipients = 2
	if sent != len(keys) || float64(requests)/float64(sent) > 3+recipients {
		t.Errorf("%d table requests for %d sent notices (%.2f each, %v); want all sent at ≤ 3 each and one a recipient", requests, sent, float64(requests)/float64(sent), cnt.ops)
	}
	t.Logf("%d table requests for %d notices: %.2f each", requests, sent, float64(requests)/float64(sent))
}

// The helpdesk's digest is a notice like any other to the sender: rendered with the digest
// template (the CSV lists the organisations), sent once.
func TestSendDigest(t *testing.T) {
	e, _, _ := setup(t)
	ctx := context.Background()
	to := "helpdesk-" + localstacktest.Unique() + "@example.nhs.net"
	k := ledger.Key{Campaign: "legacy-hostnames-2021", Org: ledger.HelpdeskOrg, Stage: ledger.DigestStage + "2021-09-08"}
	ok, err := e.ledger.Claim(ctx, ledger.Notice{Campaign: k.Campaign, Org: k.Org, OrgName: "Helpdesk", Stage: k.Stage,
		PlannedFor: calendar.Of(e.now), Recipients: []string{to}, Status: ledger.Claimed,
		Digest: []ledger.DigestOrg{{ODS: "RX1", Name: "Riverside", Stage: "final", Contacts: []string{"la@rx1.nhs.net"},
			Accounts: []string{"scanner@nhs.net"}, Count: 1, LastSeen: calendar.Of(e.now)}}})
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	s := newSender(t, e)
	for range 2 {
		if _, err := s.Send(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	got := sentTo(t, to)
	if len(got) != 1 || !strings.Contains(got[0].Subject, "1 organisation still affected") || !strings.Contains(got[0].Body.Text, "Riverside (RX1)") {
		t.Fatalf("%d emails: %+v", len(got), got)
	}
}

// A national-scale organisation's notice (5,000 accounts) is claimed, read whole and sent: the
// email shows the first rows and the count, its CSV lists every account.
func TestSendLargeOrganisation(t *testing.T) {
	e, _, _ := setup(t)
	to := "la-big-" + localstacktest.Unique() + "@example.nhs.net"
	k := ledger.Key{Campaign: "legacy-hostnames-2021", Org: "RX9", Stage: "advance"}
	n := ledger.Notice{Campaign: k.Campaign, Org: k.Org, OrgName: "Big Trust", Stage: k.Stage,
		Deadline: calendar.Of(time.Date(2021, 9, 7, 0, 0, 0, 0, time.UTC)), PlannedFor: calendar.Of(e.now),
		FirstContact: true, Recipients: []string{to}}
	for i := range 5000 {
		n.Accounts = append(n.Accounts, ledger.Account{Account: fmt.Sprintf("user.%05d@nhs.net", i), Hostname: "imap.nhs.net", Protocol: "IMAP",
			LastSeen: e.now.Add(-48 * time.Hour), Successes: 3, UserAgents: []string{"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.5000; Pro)"},
			DeviceIDs: []string{"ApplF17XK0QWJC6", "ApplF17XK0QWJC7"}, ClientIPs: []string{"10.1.2.3", "2001:db8::1"}})
	}
	if ok, err := e.ledger.Claim(context.Background(), n); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if o, err := newSender(t, e).Send(context.Background(), k); err != nil || o != Sent {
		t.Fatalf("send: %v %v", o, err)
	}
	got := sentTo(t, to)
	if len(got) != 1 {
		t.Fatalf("%d emails, want 1", len(got))
	}
	m := got[0]
	if !strings.Contains(m.Subject, "5,000 accounts") && !strings.Contains(m.Subject, "5000 accounts") {
		t.Errorf("subject %q does not count the accounts", m.Subject)
	}
	if rows := strings.Count(m.Body.HTML, "user."); rows > 2*notice.InlineAccounts {
		t.Errorf("the HTML names accounts %d times: more than the first %d rows", rows, notice.InlineAccounts)
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments %+v", len(m.Attachments))
	}
	csv := m.Attachments[0].Content
	if b, err := base64.StdEncoding.DecodeString(csv); err == nil {
		csv = string(b)
	}
	if rows := strings.Count(csv, "@nhs.net"); rows != 5000 {
		t.Errorf("the CSV has %d accounts, want 5000", rows)
	}
}
