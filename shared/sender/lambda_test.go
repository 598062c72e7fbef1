package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

// The sample hand-off drives the Lambda handler: sent once; a redelivery is a no-op; a bad
// record is dropped; a record SES throttles for good comes back as a batch item failure.
func TestHandleSample(t *testing.T) {
	e, k, to := setup(t) // legacy-hostnames-2021/RX1/advance, the notice of the sample
	raw, err := os.ReadFile("../../events/sqs-message.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.Records[0].Body; !strings.Contains(got, `"org":"RX1"`) {
		t.Fatalf("sample body %s", got)
	}
	s := newSender(t, e)
	var emf bytes.Buffer
	s.cfg.Metrics = metrics.New(&emf, "sender", nil)
	h := lambda.NewHandler(s.Handle)
	for range 2 {
		out, err := h.Invoke(context.Background(), raw)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.SQSEventResponse
		json.Unmarshal(out, &resp)
		if len(resp.BatchItemFailures) != 0 {
			t.Errorf("failures %+v", resp.BatchItemFailures)
		}
	}
	if got := sentTo(t, to); len(got) != 1 {
		t.Errorf("%d emails, want 1", len(got))
	}
	n, _ := e.ledger.Get(context.Background(), k.Campaign, k.Org, k.Stage)
	if n.Status != ledger.Sent {
		t.Errorf("status %s", n.Status)
	}

	// A bad body and a throttled notice.
	k2 := ledger.Key{Campaign: k.Campaign, Org: "RB2", Stage: "advance"}
	claim(t, e, k2, "b-"+to)
	throttled := &types.TooManyRequestsException{Message: aws.String("slow down")}
	opt, _ := inject(throttled, throttled, throttled, throttled, throttled)
	s = newSender(t, e, opt)
	s.cfg.Metrics = metrics.New(&emf, "sender", nil)
	body, _ := json.Marshal(k2)
	batch := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "bad", Body: "{not json"},
		{MessageId: "throttled", Body: string(body)},
	}}
	resp, err := s.Handle(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "throttled" {
		t.Errorf("failures %+v, want only the throttled record", resp.BatchItemFailures)
	}
	// One sent (the redelivery is no second one), four throttles retried (the fifth is the
	// give-up), the account's quota reported.
	v := metricstest.Parse(t, emf.Bytes())
	if got := v.Get(k.Campaign, metrics.NoticesSent); got != 1 {
		t.Errorf("NoticesSent = %g, want 1", got)
	}
	if got := v.Get("", metrics.SendThrottles); got != 4 {
		t.Errorf("SendThrottles = %g, want 4", got)
	}
	if got := v.Get("", metrics.SendQuota); got <= 0 {
		t.Errorf("SendQuota = %g, want the emulator's quota", got)
	}
}

// visibility records the hand-offs the handler holds back (the local stack has no SQS).
type visibility struct{ held map[string]int32 }

func (v *visibility) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.held[aws.ToString(in.ReceiptHandle)] = in.VisibilityTimeout
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// A notice handed over before its campaign's send window opens is left claimed and its
// hand-off held on the queue until the window opens (in London time: BST in July); handed
// over again then, it is sent. A window closed for a long weekend holds 12 hours at a time.
func TestHandleDefersOutsideTheSendWindow(t *testing.T) {
	e, _, _ := setup(t)
	ctx := context.Background()
	c, err := campaign.Parse([]byte(strings.Replace(campaignYAML, "id: legacy-hostnames-2021", "id: windowed", 1)+
		"send_window: {days: [mon..fri], from: \"09:00\", to: \"16:00\"}\nskip_bank_holidays: england-and-wales\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.campaigns.Apply(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	to := "window-" + localstacktest.Unique() + "@example.nhs.net"
	k := ledger.Key{Campaign: "windowed", Org: "RW1", Stage: "advance"}
	e.now = time.Date(2021, 7, 27, 7, 30, 0, 0, time.UTC) // 08:30 in London
	claim(t, e, k, to)
	q := &visibility{held: map[string]int32{}}
	s := newSender(t, e)
	s.cfg.Queue = &Queue{Client: q, URL: "https://sqs.example/123/send"}
	body, _ := json.Marshal(k)
	batch := events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", ReceiptHandle: "r1", Body: string(body)}}}
	resp, err := s.Handle(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 1 {
		t.Fatalf("before the window: %+v, %v; want the record back", resp, err)
	}
	if q.held["r1"] != 30*60 {
		t.Errorf("held %ds, want 1800 (till 09:00 BST)", q.held["r1"])
	}
	if n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage); n.Status != ledger.Claimed || len(sentTo(t, to)) != 0 {
		t.Fatalf("deferred notice: %s, %d emails", n.Status, len(sentTo(t, to)))
	}
	e.now = time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC) // 09:00 in London: open
	if resp, err := s.Handle(ctx, batch); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("in the window: %+v, %v", resp, err)
	}
	if got := len(sentTo(t, to)); got != 1 {
		t.Errorf("%d emails, want 1", got)
	}
	// Thursday before Easter 2021, after hours: the window opens on Tuesday; held as long as
	// SQS allows after a receive (12 hours from the receive, less the margin).
	k2 := ledger.Key{Campaign: "windowed", Org: "RW2", Stage: "advance"}
	claim(t, e, k2, to)
	e.now = time.Date(2021, 4, 1, 16, 30, 0, 0, time.UTC)
	body, _ = json.Marshal(k2)
	resp, err = s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m2", ReceiptHandle: "r2", Body: string(body)}}})
	if err != nil || len(resp.BatchItemFailures) != 1 || q.held["r2"] != int32(maxHold.Seconds()) || q.held["r2"] >= 12*3600 {
		t.Errorf("long weekend: %+v, %v, held %ds", resp, err, q.held["r2"])
	}
}

// The console's "Send it again" reaches the sender as a hand-off with a release: the failed
// notice is released on record and sent once, a duplicate delivery of the message sends
// nothing more, and a release naming another error than the notice's releases nothing.
func TestHandOffReleasesAFailedNotice(t *testing.T) {
	e, k, to := setup(t)
	ctx := context.Background()
	if _, err := e.ledger.BeginSend(ctx, k.Campaign, k.Org, k.Stage); err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.MarkFailed(ctx, k.Campaign, k.Org, k.Stage, "Address blocked"); err != nil {
		t.Fatal(err)
	}
	s := newSender(t, e)
	handle := func(rel Release) {
		t.Helper()
		body, _ := json.Marshal(HandOff{Key: k, Release: &rel})
		resp, err := s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: string(body)}}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("handle: %v %+v", err, resp.BatchItemFailures)
		}
	}
	handle(Release{By: "Ada", Reason: "fixed", Failed: "another error"})
	if n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage); n.Status != ledger.Failed || len(sentTo(t, to)) != 0 {
		t.Fatalf("a release naming another error: %s, %d emails", n.Status, len(sentTo(t, to)))
	}
	for range 2 {
		handle(Release{By: "Ada", Reason: "fixed", Failed: "Address blocked"})
	}
	n, _ := e.ledger.Get(ctx, k.Campaign, k.Org, k.Stage)
	if n.Status != ledger.Sent || len(n.Resends) != 1 || n.Resends[0].By != "Ada" || n.Resends[0].Failed != "Address blocked" {
		t.Errorf("after the release: %s %+v", n.Status, n.Resends)
	}
	if got := sentTo(t, to); len(got) != 1 {
		t.Errorf("%d emails, want 1", len(got))
	}
}
