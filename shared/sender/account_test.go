package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

// accountAnswers makes GetAccount answer with outs in order (the last one repeats); a nil
// output with an error answers that error. It counts the calls.
func accountAnswers(answers ...func() (*sesv2.GetAccountOutput, error)) (func(*sesv2.Options), *atomic.Int32) {
	var calls atomic.Int32
	return func(o *sesv2.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("account", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if awsmiddleware.GetOperationName(ctx) != "GetAccount" {
					return next.HandleInitialize(ctx, in)
				}
				i := min(int(calls.Add(1))-1, len(answers)-1)
				out, err := answers[i]()
				return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
			}), middleware.Before)
		})
	}, &calls
}

func acct(production, enabled bool, sent24, max24 float64) func() (*sesv2.GetAccountOutput, error) {
	return func() (*sesv2.GetAccountOutput, error) {
		return &sesv2.GetAccountOutput{ProductionAccessEnabled: production, SendingEnabled: enabled,
			SendQuota: &types.SendQuota{MaxSendRate: 14, Max24HourSend: max24, SentLast24Hours: sent24}}, nil
	}
}

// Each state of the account that stops real notices leaves the notice claimed (no lease, no
// failure), and once the state is mended the same notice goes, once.
func TestAccountStatesMakeNoticesWait(t *testing.T) {
	ready := acct(true, true, 10, 50000)
	for _, tt := range []struct {
		name  string
		state func() (*sesv2.GetAccountOutput, error)
		want  string
	}{
		{"sandbox", acct(false, true, 0, 200), "sandbox"},
		{"sending disabled", acct(true, false, 0, 50000), "SendingEnabled=false"},
		{"daily quota reached", acct(true, true, 50000, 50000), "daily quota"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, k, to := setup(t)
			opt, _ := accountAnswers(tt.state, ready)
			s := newSender(t, e, opt)
			o, err := s.Send(context.Background(), k)
			if !errors.Is(err, ErrSendingStopped) || !strings.Contains(err.Error(), tt.want) || o != "" {
				t.Fatalf("Send = %q, %v; want ErrSendingStopped naming %q", o, err, tt.want)
			}
			n, _ := e.ledger.Get(context.Background(), k.Campaign, k.Org, k.Stage)
			if n.Status != ledger.Claimed || n.InDoubt() || n.Error != "" {
				t.Fatalf("notice %s (in doubt %v, error %q); want claimed, waiting", n.Status, n.InDoubt(), n.Error)
			}
			// A minute later the account is read again and is ready: the notice goes once.
			e.now = e.now.Add(accountTTL)
			for range 2 {
				s.Send(context.Background(), k)
			}
			if got := len(sentTo(t, to)); got != 1 {
				t.Errorf("%d emails after the state was mended, want 1", got)
			}
		})
	}
}

// A failed GetAccount is not kept: the next send asks SES again.
func TestAccountReadFailureIsRetried(t *testing.T) {
	e, k, to := setup(t)
	opt, calls := accountAnswers(func() (*sesv2.GetAccountOutput, error) {
		return nil, &types.TooManyRequestsException{Message: aws.String("Rate exceeded")}
	}, acct(true, true, 0, 50000))
	s := newSender(t, e, opt)
	if _, err := s.Send(context.Background(), k); err == nil {
		t.Fatal("Send with GetAccount failing: no error")
	}
	if o, err := s.Send(context.Background(), k); o != Sent || err != nil {
		t.Fatalf("second Send = %q, %v; want sent (GetAccount asked again)", o, err)
	}
	if calls.Load() != 2 || len(sentTo(t, to)) != 1 {
		t.Errorf("GetAccount called %d times, %d emails; want 2 and 1", calls.Load(), len(sentTo(t, to)))
	}
}

// In the sandbox a test send (to a verified address) still goes; real notices wait.
func TestSandboxAllowsTestSends(t *testing.T) {
	e, k, _ := setup(t)
	opt, _ := accountAnswers(acct(false, true, 0, 200))
	s := newSender(t, e, opt)
	s.cfg.TestRecipients = []string{"@example.nhs.net"}
	ctx := context.Background()
	rec, _ := e.campaigns.Get(ctx, k.Campaign)
	n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	to := "verified-" + localstacktest.Unique() + "@example.nhs.net"
	if _, _, err := s.SendTest(ctx, rec.Campaign, *n, to); err != nil || len(sentTo(t, to)) != 1 {
		t.Fatalf("test send in the sandbox: %v, %d emails", err, len(sentTo(t, to)))
	}
}

// The Lambda holds every hand-off of a batch SES will not send for WaitHold, returns it, and
// counts the notices waiting for the alarm.
func TestHandleHoldsWhileSESWillNotSend(t *testing.T) {
	e, k, to := setup(t)
	opt, _ := accountAnswers(acct(false, true, 0, 200))
	s := newSender(t, e, opt)
	var emf bytes.Buffer
	s.cfg.Metrics = metrics.New(&emf, "sender", nil)
	q := &visibility{held: map[string]int32{}}
	s.cfg.Queue = &Queue{Client: q, URL: "https://sqs.example/123/send"}
	body, _ := json.Marshal(k)
	resp, err := s.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", ReceiptHandle: "r1", Body: string(body)}}})
	if err != nil || len(resp.BatchItemFailures) != 1 || q.held["r1"] != int32(WaitHold.Seconds()) {
		t.Fatalf("Handle in the sandbox: %+v, %v, held %ds", resp, err, q.held["r1"])
	}
	if got := metricstest.Parse(t, emf.Bytes()).Get("", metrics.NoticesWaiting); got != 1 {
		t.Errorf("NoticesWaiting = %g, want 1", got)
	}
	if n, _ := e.ledger.Get(context.Background(), k.Campaign, k.Org, k.Stage); n.Status != ledger.Claimed || len(sentTo(t, to)) != 0 {
		t.Errorf("notice %s, %d emails; want claimed, none", n.Status, len(sentTo(t, to)))
	}
}

// SES's send rate counts recipients: a message to three addresses takes three tokens.
func TestRecipientsCountTowardsTheRate(t *testing.T) {
	for _, tt := range []struct {
		d    *types.Destination
		want int
	}{
		{nil, 1},
		{&types.Destination{ToAddresses: []string{"a@x"}}, 1},
		{&types.Destination{ToAddresses: []string{"a@x", "b@x", "c@x"}}, 3},
		{&types.Destination{ToAddresses: []string{"a@x"}, CcAddresses: []string{"b@x"}, BccAddresses: []string{"c@x", "d@x"}}, 4},
	} {
		if got := recipients(&sesv2.SendEmailInput{Destination: tt.d}); got != tt.want {
			t.Errorf("recipients(%+v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// A campaign applied before the stack's sending identity changed, with a From outside it, is
// not sent (IAM would refuse it): its notices wait with an error naming both.
func TestCampaignOutsideTheIdentityWaits(t *testing.T) {
	e, k, to := setup(t)
	s := newSender(t, e)
	s.cfg.Identity = "other.nhs.net"
	o, err := s.Send(context.Background(), k)
	if err == nil || o != "" || !strings.Contains(err.Error(), "other.nhs.net") || !strings.Contains(err.Error(), "noreply@example.nhs.net") {
		t.Fatalf("Send = %q, %v; want an error naming the From and the identity", o, err)
	}
	s.cfg.Identity = "example.nhs.net"
	if o, err := s.Send(context.Background(), k); o != Sent || err != nil || len(sentTo(t, to)) != 1 {
		t.Errorf("inside the identity: %q %v", o, err)
	}
}

// The sandbox on the SES emulator itself: an emulator whose account has no production access.
func TestSandboxOnTheEmulator(t *testing.T) {
	e, k, to := setup(t)
	endpoint := localstacktest.SESEmulator(t, `{"ProductionAccessEnabled": false}`)
	ses := sesv2.NewFromConfig(localstacktest.Config(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(endpoint) })
	s := New(ses, e.ledger, e.campaigns, e.suppress, func() time.Time { return e.now }, Options{})
	if o, err := s.Send(context.Background(), k); !errors.Is(err, ErrSendingStopped) || o != "" {
		t.Fatalf("Send in the emulator's sandbox = %q, %v; want ErrSendingStopped", o, err)
	}
	if got := len(localstacktest.SentEmailsAt(t, endpoint)); got != 0 {
		t.Errorf("%d emails in the sandbox emulator", got)
	}
	if o, err := newSender(t, e).Send(context.Background(), k); o != Sent || err != nil || len(sentTo(t, to)) != 1 {
		t.Errorf("after production access: %q %v", o, err)
	}
}

var _ = campaign.Active

// A test send goes to one plain address: the check the CLI, the API and SendTest share.
func TestTestAddress(t *testing.T) {
	for to, ok := range map[string]bool{
		"ops@example.nhs.net": true, "  ops@example.nhs.net ": true, "o'neil+test@example.nhs.net": true,
		"": false, "ops": false, "a@b.net,c@d.net": false, "a@b.net; c@d.net": false, "Ops <ops@example.nhs.net>": false,
		"a@b.net\r\nBcc: x@y.net": false, "<ops@example.nhs.net>": false, strings.Repeat("a", 250) + "@b.net": false,
	} {
		got, err := TestAddress(to)
		if ok != (err == nil) || (ok && got != strings.TrimSpace(to)) {
			t.Errorf("TestAddress(%q) = %q, %v; want ok=%v", to, got, err, ok)
		}
		if err != nil && !errors.Is(err, ErrTestAddress) {
			t.Errorf("TestAddress(%q): %v is not ErrTestAddress", to, err)
		}
	}
}
