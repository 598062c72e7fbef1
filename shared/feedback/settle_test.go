package feedback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

const sampleMessageID = "0102017b0c2e2f4a-5e0b9c71-8d33-4b8e-9c57-0e7a2a0b2a6f-000000"

func (f *fixture) notice(t *testing.T) *ledger.Notice {
	t.Helper()
	n, err := f.ledger.Get(context.Background(), "legacy-hostnames-2021", "RX1", "advance")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) metricValues(t *testing.T) metricstest.Values {
	t.Helper()
	return metricstest.Parse(t, f.metrics.Bytes()) // every Handle flushes its metrics
}

// A sender died between SendEmail and recording it: SES's own events settle the notice, once,
// with SES's message id, and no second email is involved.
func TestSESEventsSettleANoticeInDoubt(t *testing.T) {
	for _, tc := range []struct {
		file string
		want ledger.Status
	}{
		{"ses-send.json", ledger.Sent},
		{"ses-delivery.json", ledger.Sent},
		{"ses-bounce.json", ledger.Suppressed}, // sent (settled), then suppressed by the bounce
		{"ses-complaint.json", ledger.Suppressed},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f := setupInDoubt(t)
			invoke(t, f, sample(t, tc.file))
			invoke(t, f, sample(t, tc.file)) // SNS delivers at least once
			n := f.notice(t)
			if n.Status != tc.want || n.MessageID != sampleMessageID || n.InDoubt() || n.SettledBy == "" {
				t.Fatalf("notice %s, message %q, settled by %q, in doubt %v; want %s with SES's message id", n.Status, n.MessageID, n.SettledBy, n.InDoubt(), tc.want)
			}
			if want := time.Date(2021, 7, 27, 8, 0, 1, 0, time.UTC); !n.SentAt.Equal(want) {
				t.Errorf("sent_at %s, want SES's mail timestamp %s", n.SentAt, want)
			}
			if got := f.metricValues(t).Get("legacy-hostnames-2021", metrics.NoticesSettled); got != 1 {
				t.Errorf("NoticesSettled = %g, want 1 (the repeat settles nothing)", got)
			}
		})
	}
}

func TestRejectEvent(t *testing.T) {
	reject := func(t *testing.T) []byte {
		return rewrite(t, "ses-send.json", func(m map[string]any) {
			delete(m, "send")
			m["eventType"] = "Reject"
			m["reject"] = map[string]any{"reason": "Bad content"}
		})
	}
	t.Run("in doubt: failed", func(t *testing.T) {
		f := setupInDoubt(t)
		invoke(t, f, reject(t))
		if n := f.notice(t); n.Status != ledger.Failed || n.SettledBy != "Reject" {
			t.Errorf("notice %s settled by %q, want failed by Reject", n.Status, n.SettledBy)
		}
	})
	t.Run("recorded sent: failed", func(t *testing.T) {
		f := setup(t)
		invoke(t, f, reject(t))
		if st, e := f.status(t); st != ledger.Failed || !strings.Contains(e, "Reject") {
			t.Errorf("notice %s %q, want failed", st, e)
		}
	})
}

// Sends count once per notice and recipient, however often SNS delivers the event.
func TestSendEventsCountRecipientsOnce(t *testing.T) {
	f := setup(t)
	invoke(t, f, sample(t, "ses-send.json"))
	invoke(t, f, sample(t, "ses-send.json"))
	st, err := f.ledger.Stats(context.Background(), "legacy-hostnames-2021")
	if err != nil || st.Sends != 2 {
		t.Errorf("stats %+v (%v), want 2 sends (the sample's two recipients, once)", st, err)
	}
	v := f.metricValues(t)
	if got := v.Get("legacy-hostnames-2021", metrics.FeedbackSend); got != 2 {
		t.Errorf("FeedbackSend = %g, want 2 (events received)", got)
	}
}

// Past the limit over enough recipients, the campaign is paused by feedback, with the reason on
// record; a person's resume lets it send again and starts the window afresh.
func TestBounceRateAutoPause(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	c, err := campaign.Load("../campaign/testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.campaigns.Apply(ctx, c, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ledger.Count(ctx, c.ID, 10, 0, 0); err != nil { // ten recipients sent to
		t.Fatal(err)
	}
	invoke(t, f, sample(t, "ses-bounce.json")) // one bounce in ten: 10%, over the 8% limit
	r, err := f.campaigns.Get(ctx, c.ID)
	if err != nil || r.Status != campaign.Paused || !strings.Contains(r.PauseReason, "bounce rate 10.0% (1 of 10 recipients") {
		t.Fatalf("campaign %s, reason %q (%v); want paused for its bounce rate", r.Status, r.PauseReason, err)
	}
	if got := f.metricValues(t).Get(c.ID, metrics.CampaignsAutoPaused); got != 1 {
		t.Errorf("CampaignsAutoPaused = %g, want 1", got)
	}
	if err := f.campaigns.SetStatus(ctx, c.ID, campaign.Active, "bob"); err != nil {
		t.Fatal(err)
	}
	// 13 more sends and one more bounce: 1 in 13 (7.7%) since the resume is under the limit,
	// though 2 in 23 (8.7%) since the start would not be.
	if _, err := f.ledger.Count(ctx, c.ID, 13, 0, 0); err != nil {
		t.Fatal(err)
	}
	invoke(t, f, rewrite(t, "ses-complaint.json", func(m map[string]any) {
		delete(m, "complaint")
		m["eventType"] = "Bounce"
		m["bounce"] = map[string]any{"bounceType": "Permanent", "bounceSubType": "General",
			"bouncedRecipients": []any{map[string]any{"emailAddress": "pla@nhs.net"}}}
	}))
	if r, _ := f.campaigns.Get(ctx, c.ID); r.Status != campaign.Active {
		t.Errorf("after resume it was paused again (%s): the window must restart at the auto-pause", r.PauseReason)
	}
}

func TestNoAutoPauseBelowTheMinimumOrTheLimit(t *testing.T) {
	ctx := context.Background()
	for _, sends := range []int64{5, 20} { // under MinSends (10); 1 in 20 = 5%, under 8%
		t.Run(fmt.Sprint(sends), func(t *testing.T) {
			f := setup(t)
			c, _ := campaign.Load("../campaign/testdata/full.yaml")
			if _, _, err := f.campaigns.Apply(ctx, c, "alice"); err != nil {
				t.Fatal(err)
			}
			f.ledger.Count(ctx, c.ID, sends, 0, 0)
			invoke(t, f, sample(t, "ses-bounce.json"))
			if r, _ := f.campaigns.Get(ctx, c.ID); r.Status != campaign.Active {
				t.Errorf("paused: %s", r.PauseReason)
			}
		})
	}
}

// Both shapes a dead-letter message can have are read, and replaying one applies it once.
func TestFromDeadLetterAndReplay(t *testing.T) {
	raw := sample(t, "ses-bounce.json")
	var ev events.SNSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	envelope, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "x", "Message": ev.Records[0].SNS.Message})
	for name, body := range map[string]string{"failed invocation": string(raw), "undelivered notification": string(envelope)} {
		t.Run(name, func(t *testing.T) {
			evs, err := feedback.FromDeadLetter(body)
			if err != nil || len(evs) != 1 || evs[0].EventType != "Bounce" || strings.Contains(evs[0].Summary(), "@") {
				t.Fatalf("FromDeadLetter = %+v, %v", evs, err)
			}
			f := setup(t)
			if err := f.h.Replay(context.Background(), body); err != nil {
				t.Fatal(err)
			}
			if st, _ := f.status(t); st != ledger.Suppressed {
				t.Errorf("after replay: %s, want suppressed", st)
			}
		})
	}
	if _, err := feedback.FromDeadLetter(`{"hello":1}`); err == nil {
		t.Error("a body that is neither shape was accepted")
	}
}
