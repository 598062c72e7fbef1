package feedback_test

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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/store"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

type fixture struct {
	db        *dynamodb.Client
	table     string
	ledger    *ledger.Ledger
	list      *suppression.List
	campaigns *campaign.Store
	metrics   *bytes.Buffer
	h         *feedback.Handler
}

// setup: notice legacy-hostnames-2021/RX1/advance, sent to la.one@nhs.net and pla@nhs.net (the
// notice the sample events are about).
func setup(t *testing.T) *fixture { return newFixture(t, true) }

// setupInDoubt: the same notice, leased by a sender that died before recording it.
func setupInDoubt(t *testing.T) *fixture { return newFixture(t, false) }

func newFixture(t *testing.T, sent bool) *fixture {
	t.Helper()
	db, table := localstacktest.DynamoDB(t)
	now := time.Date(2021, 7, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	f := &fixture{db: db, table: table, ledger: ledger.New(db, table, clock), list: suppression.New(db, table, clock),
		campaigns: campaign.NewStore(db, table, clock), metrics: &bytes.Buffer{}}
	f.h = feedback.New(f.list, f.ledger, feedback.Options{Campaigns: f.campaigns, AutoPause: feedback.AutoPause{BounceRate: 0.08, MinSends: 10},
		Metrics: metrics.New(f.metrics, "feedback", clock), Clock: clock})
	ctx := context.Background()
	n := ledger.Notice{Campaign: "legacy-hostnames-2021", Org: "RX1", Stage: "advance", Status: ledger.Claimed,
		Deadline: calendar.Of(time.Date(2021, 9, 7, 0, 0, 0, 0, time.UTC)), PlannedFor: calendar.Of(now),
		Recipients: []string{"la.one@nhs.net", "pla@nhs.net"}}
	if ok, err := f.ledger.Claim(ctx, n); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := f.ledger.BeginSend(ctx, n.Campaign, n.Org, n.Stage); err != nil {
		t.Fatal(err)
	}
	if !sent {
		return f
	}
	if err := f.ledger.MarkSent(ctx, n.Campaign, n.Org, n.Stage, "0102017b0c2e2f4a", "abc"); err != nil {
		t.Fatal(err)
	}
	return f
}

func invoke(t *testing.T, f *fixture, payload []byte) {
	t.Helper()
	if _, err := lambda.NewHandler(f.h.Handle).Invoke(context.Background(), payload); err != nil {
		t.Fatalf("invoke: %v", err)
	}
}

func sample(t *testing.T, name string) []byte {
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (f *fixture) status(t *testing.T) (ledger.Status, string) {
	n, err := f.ledger.Get(context.Background(), "legacy-hostnames-2021", "RX1", "advance")
	if err != nil {
		t.Fatal(err)
	}
	return n.Status, n.Error
}

func (f *fixture) suppressed(t *testing.T) map[string]string {
	all, err := f.list.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range all {
		out[e.Address] = e.Reason
	}
	return out
}

func TestBounceAndComplaintSamples(t *testing.T) {
	tests := []struct {
		file           string
		wantSuppressed map[string]string
		wantError      string
	}{
		{"ses-bounce.json", map[string]string{"la.one@nhs.net": "bounce"}, "bounce: la.one@nhs.net"},
		{"ses-complaint.json", map[string]string{"pla@nhs.net": "complaint"}, "complaint: pla@nhs.net"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f := setup(t)
			invoke(t, f, sample(t, tt.file))
			invoke(t, f, sample(t, tt.file)) // SNS delivers at least once: a repeat changes nothing
			got := f.suppressed(t)
			if len(got) != len(tt.wantSuppressed) {
				t.Errorf("suppressed %v, want %v", got, tt.wantSuppressed)
			}
			for a, r := range tt.wantSuppressed {
				if got[a] != r {
					t.Errorf("%s: reason %q, want %q", a, got[a], r)
				}
			}
			st, e := f.status(t)
			if st != ledger.Suppressed || e != tt.wantError {
				t.Errorf("notice %s %q, want suppressed %q", st, e, tt.wantError)
			}
		})
	}
}

// rewrite changes the SES event inside the sample's SNS message.
func rewrite(t *testing.T, name string, edit func(m map[string]any)) []byte {
	var ev events.SNSEvent
	if err := json.Unmarshal(sample(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(ev.Records[0].SNS.Message), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ := json.Marshal(m)
	ev.Records[0].SNS.Message = string(b)
	out, _ := json.Marshal(ev)
	return out
}

func TestOtherEvents(t *testing.T) {
	t.Run("transient bounce suppresses nothing", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, rewrite(t, "ses-bounce.json", func(m map[string]any) {
			m["bounce"].(map[string]any)["bounceType"] = "Transient"
		}))
		if got := f.suppressed(t); len(got) != 0 {
			t.Errorf("suppressed %v", got)
		}
		if st, _ := f.status(t); st != ledger.Sent {
			t.Errorf("status %s, want sent", st)
		}
	})
	t.Run("delivery records delivered_at", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, rewrite(t, "ses-bounce.json", func(m map[string]any) {
			delete(m, "bounce")
			m["eventType"] = "Delivery"
			m["delivery"] = map[string]any{"timestamp": "2021-07-27T08:00:03.5Z", "recipients": []string{"la.one@nhs.net"}}
		}))
		out, err := f.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table),
			Key: map[string]types.AttributeValue{"PK": store.S("NOTICE#legacy-hostnames-2021#RX1"), "SK": store.S("STAGE#advance")}})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := out.Item["delivered_at"].(*types.AttributeValueMemberS); !ok || !strings.HasPrefix(v.Value, "2021-07-27T08:00:03.5") {
			t.Errorf("delivered_at = %v", out.Item["delivered_at"])
		}
	})
	t.Run("bounce of a send-test email is ignored", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, rewrite(t, "ses-bounce.json", func(m map[string]any) {
			mail := m["mail"].(map[string]any)
			mail["headers"] = append(mail["headers"].([]any), map[string]any{"name": "X-Sunset-Test", "value": "yes"})
		}))
		if got := f.suppressed(t); len(got) != 0 {
			t.Errorf("suppressed %v", got)
		}
	})
	t.Run("tags identify the notice when headers are truncated", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, rewrite(t, "ses-complaint.json", func(m map[string]any) {
			mail := m["mail"].(map[string]any)
			mail["headers"] = []any{}
			mail["headersTruncated"] = true
		}))
		if st, _ := f.status(t); st != ledger.Suppressed {
			t.Errorf("status %s, want suppressed", st)
		}
	})
	t.Run("a message that is not an SES event is skipped", func(t *testing.T) {
		f := setup(t)
		var ev events.SNSEvent
		json.Unmarshal(sample(t, "ses-bounce.json"), &ev)
		ev.Records[0].SNS.Message = "not json"
		b, _ := json.Marshal(ev)
		invoke(t, f, b)
		if st, _ := f.status(t); st != ledger.Sent {
			t.Errorf("status %s, want sent", st)
		}
	})
	t.Run("bounce of an unknown notice still suppresses the address", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, rewrite(t, "ses-bounce.json", func(m map[string]any) {
			mail := m["mail"].(map[string]any)
			mail["headers"] = []any{}
			mail["tags"] = map[string]any{"org": []string{"ZZZ"}, "campaign": []string{"other"}, "stage": []string{"x"}}
		}))
		if got := f.suppressed(t); got["la.one@nhs.net"] != "bounce" {
			t.Errorf("suppressed %v", got)
		}
	})
}

// The bounce of `sunset preflight --send-probe`'s email (events/ses-probe-bounce.json) is
// recorded as the probe's arrival, for preflight to read, and changes nothing else: the
// simulator's address is not suppressed, no notice or count is touched.
func TestProbeBounceIsRecordedOnly(t *testing.T) {
	f := setup(t)
	probes := feedback.NewProbes(f.db, f.table)
	f.h = feedback.New(f.list, f.ledger, feedback.Options{Campaigns: f.campaigns, Probes: probes,
		Metrics: metrics.New(f.metrics, "feedback", time.Now)})
	if _, ok, err := probes.Seen(context.Background(), "18f0c2a9d4e5b671", "Bounce"); ok || err != nil {
		t.Fatalf("seen before it came: %v %v", ok, err)
	}
	invoke(t, f, sample(t, "ses-probe-bounce.json"))
	invoke(t, f, sample(t, "ses-probe-bounce.json")) // SNS delivers it twice
	if _, ok, err := probes.Seen(context.Background(), "18f0c2a9d4e5b671", "Bounce"); !ok || err != nil {
		t.Fatalf("the probe's bounce was not recorded: %v %v", ok, err)
	}
	if s := f.suppressed(t); len(s) != 0 {
		t.Errorf("suppressed %v: a probe suppresses nothing", s)
	}
	if st, _ := f.status(t); st != ledger.Sent {
		t.Errorf("the notice is %s", st)
	}
	if f.metrics.Len() != 0 {
		t.Errorf("metrics %s: a probe counts nothing", f.metrics)
	}
}
