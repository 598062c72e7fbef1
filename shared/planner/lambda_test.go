package planner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

type liveList []*campaign.Campaign

func (l liveList) Live(context.Context) ([]*campaign.Campaign, error) { return l, nil }

type fakeSQS struct {
	bodies []string
	fail   bool
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if len(in.Entries) > 10 {
		return nil, errors.New("too many entries")
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if f.fail {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		f.bodies = append(f.bodies, aws.ToString(e.MessageBody))
	}
	return out, nil
}

func TestHandlerScheduledEvent(t *testing.T) {
	payload, err := os.ReadFile("../../events/scheduled.json")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, campaignYAML)
	w.seen("A1", "2021-08-01", "2021-08-17")
	w.seen("B2", "2021-08-01", "2021-08-17")
	// 07:00 UTC on 17 August is 08:00 in London: the run is for 17 August (reminder day).
	w.p.Clock = func() time.Time { return time.Date(2021, 8, 17, 7, 0, 0, 0, time.UTC) }
	q := &fakeSQS{fail: true}
	var emf bytes.Buffer
	h := &Handler{Planner: w.p, Live: liveList{w.camp}, Dispatcher: &Queue{Client: q, URL: "https://sqs/q"},
		Metrics: metrics.New(&emf, "planner", nil)}
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload); err == nil {
		t.Fatal("a queue that rejects messages must fail the invocation")
	}
	if v := metricstest.Parse(t, emf.Bytes()); v.Get("", metrics.PlannerRuns) != 0 || v.Get("c1", metrics.NoticesClaimed) != 0 {
		t.Errorf("a failed run counted: %v", v)
	}
	// The retry hands over the notices claimed by the failed attempt, claiming nothing twice.
	q.fail = false
	if _, err := lambda.NewHandler(h.Handle).Invoke(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"campaign":"c1","org":"A1","stage":"reminder"}`, `{"campaign":"c1","org":"B2","stage":"reminder"}`}
	sort.Strings(q.bodies)
	if diff := cmp.Diff(want, q.bodies); diff != "" {
		t.Errorf("queued (-want +got):\n%s", diff)
	}
	var m ledger.Key
	if err := json.Unmarshal([]byte(q.bodies[0]), &m); err != nil || m.Org != "A1" {
		t.Errorf("message %q: %v", q.bodies[0], err)
	}
	if n := w.notice("A1", "advance"); n.Status != ledger.Superseded {
		t.Errorf("advance = %+v", n)
	}
	// The retry: two notices due, claimed by the failed attempt and handed over now; the two
	// advance stages were superseded by the first attempt.
	v := metricstest.Parse(t, emf.Bytes())
	for _, c := range []struct {
		campaign string
		name     metrics.Name
		want     float64
	}{
		{"", metrics.PlannerRuns, 1}, {"c1", metrics.NoticesPendingDispatch, 2}, {"c1", metrics.NoticesClaimed, 0},
		{"c1", metrics.AffectedOrganisations, 2}, {"c1", metrics.AffectedAccounts, 2}, {"c1", metrics.NotifiedOrganisations, 2},
		{"c1", metrics.FixedOrganisations, 0},
	} {
		if got := v.Get(c.campaign, c.name); got != c.want {
			t.Errorf("metric %q %s = %g, want %g", c.campaign, c.name, got, c.want)
		}
	}
}

func TestQueueBatchesOfTen(t *testing.T) {
	q := &fakeSQS{}
	ns := make([]ledger.Notice, 23)
	for i := range ns {
		ns[i] = ledger.Notice{Campaign: "c", Org: "O", Stage: "s"}
	}
	if err := (&Queue{Client: q, URL: "u"}).Dispatch(context.Background(), ns); err != nil || len(q.bodies) != 23 {
		t.Errorf("dispatched %d: %v", len(q.bodies), err)
	}
}
