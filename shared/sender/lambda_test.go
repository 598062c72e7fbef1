package sender

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
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
	k2 := Key{Campaign: k.Campaign, Org: "RB2", Stage: "advance"}
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
