package deadletter_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/deadletter"
	"github.com/nhsmail-sunset/sunset/shared/deadletter/deadlettertest"
)

func sample(t *testing.T, name string) string {
	b, err := os.ReadFile("../../events/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func queues() *deadlettertest.SQS {
	return deadlettertest.New("sunset-dev-send", "sunset-dev-send-dlq", "sunset-dev-ingest", "sunset-dev-ingest-dlq",
		"sunset-dev-directory", "sunset-dev-directory-dlq", "sunset-dev-feedback-dlq", "sunset-dev-planner-dlq")
}

// List says what each message is without personal data, and leaves every message visible.
func TestList(t *testing.T) {
	ctx := context.Background()
	s := queues()
	s.Put("sunset-dev-send-dlq", `{"campaign":"legacy-hostnames-2021","org":"RX1","stage":"advance"}`)
	s.Put("sunset-dev-send-dlq", `garbage`)
	s.Put("sunset-dev-feedback-dlq", sample(t, "ses-bounce.json"))
	s.Put("sunset-dev-ingest-dlq", `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"logs/iis/x.log","versionId":"v1"}}}]}`)
	s.Put("sunset-dev-planner-dlq", sample(t, "scheduled.json"))
	c := deadletter.New(s, "sunset-dev")
	for _, tc := range []struct {
		queue string
		want  []string
	}{
		{"send", []string{"notice legacy-hostnames-2021/RX1/advance", "not a hand-off (7 bytes)"}},
		{"feedback", []string{"Bounce of SES message 0102017b0c2e2f4a-5e0b9c71-8d33-4b8e-9c57-0e7a2a0b2a6f-000000 (notice legacy-hostnames-2021/RX1/advance)"}},
		{"ingest", []string{"s3://b/logs/iis/x.log#v1"}},
		{"directory", nil},
		{"planner", []string{"scheduled run 53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa of 2021-08-02T07:00:00Z"}},
	} {
		t.Run(tc.queue, func(t *testing.T) {
			q, err := deadletter.Lookup(tc.queue)
			if err != nil {
				t.Fatal(err)
			}
			total, msgs, err := c.List(ctx, q, 50)
			if err != nil || total != len(tc.want) {
				t.Fatalf("List = %d, %v; want %d", total, err, len(tc.want))
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Summary)
				if strings.Contains(m.Summary, "@") || m.Receives != 1 || m.SentAt.IsZero() {
					t.Errorf("message %+v", m)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("summaries %q, want %q", got, tc.want)
			}
			if again, _, _ := c.List(ctx, q, 50); again != total {
				t.Errorf("after listing, %d visible, want %d (List must give them back)", again, total)
			}
		})
	}
	if _, err := deadletter.Lookup("nope"); err == nil || !strings.Contains(err.Error(), "directory, feedback, ingest, planner, send") {
		t.Errorf("Lookup(nope) = %v", err)
	}
}

// Redrive moves each message to its source queue and deletes it from the DLQ, up to max.
func TestRedriveToTheSourceQueue(t *testing.T) {
	ctx := context.Background()
	s := queues()
	for i := range 23 {
		s.Put("sunset-dev-send-dlq", fmt.Sprintf(`{"campaign":"c","org":"O%d","stage":"s"}`, i))
	}
	c := deadletter.New(s, "sunset-dev")
	q, _ := deadletter.Lookup("send")
	n, err := c.Redrive(ctx, q, 15, nil)
	if err != nil || n != 15 {
		t.Fatalf("Redrive(max 15) = %d, %v", n, err)
	}
	if got := len(s.Bodies("sunset-dev-send")); got != 15 {
		t.Errorf("%d in the source queue, want 15", got)
	}
	n, err = c.Redrive(ctx, q, 1000, nil)
	if err != nil || n != 8 {
		t.Fatalf("second Redrive = %d, %v; want the other 8", n, err)
	}
	if len(s.Bodies("sunset-dev-send-dlq")) != 0 || len(s.Bodies("sunset-dev-send")) != 23 {
		t.Errorf("dlq %d, source %d; want 0 and 23", len(s.Bodies("sunset-dev-send-dlq")), len(s.Bodies("sunset-dev-send")))
	}
}

// A message the source queue refuses stays in the DLQ: nothing is lost.
func TestRedriveKeepsWhatCouldNotMove(t *testing.T) {
	s := queues()
	s.Put("sunset-dev-ingest-dlq", `{"Records":[]}`)
	s.FailSends["sunset-dev-ingest"] = true
	q, _ := deadletter.Lookup("ingest")
	n, err := deadletter.New(s, "sunset-dev").Redrive(context.Background(), q, 10, nil)
	if err == nil || n != 0 || len(s.Bodies("sunset-dev-ingest-dlq")) != 1 {
		t.Errorf("Redrive = %d, %v; dlq holds %d; want an error, 0 moved, the message kept", n, err, len(s.Bodies("sunset-dev-ingest-dlq")))
	}
}

// Feedback has no source queue: its messages are replayed, and deleted only when the replay
// succeeds.
func TestRedriveFeedbackReplays(t *testing.T) {
	s := queues()
	s.Put("sunset-dev-feedback-dlq", sample(t, "ses-bounce.json"))
	s.Put("sunset-dev-feedback-dlq", sample(t, "ses-complaint.json"))
	q, _ := deadletter.Lookup("feedback")
	c := deadletter.New(s, "sunset-dev")
	if _, err := c.Redrive(context.Background(), q, 10, nil); err == nil {
		t.Error("a feedback redrive without a replay must be refused")
	}
	var replayed []string
	replay := func(_ context.Context, body string) error {
		if strings.Contains(body, "Complaint") {
			return errors.New("table unavailable")
		}
		replayed = append(replayed, body)
		return nil
	}
	n, err := c.Redrive(context.Background(), q, 10, replay)
	if n != 1 || err == nil || len(replayed) != 1 || len(s.Bodies("sunset-dev-feedback-dlq")) != 1 {
		t.Errorf("Redrive = %d, %v; replayed %d, left %d; want 1 moved, the failed one kept with its error", n, err, len(replayed), len(s.Bodies("sunset-dev-feedback-dlq")))
	}
}

func TestMissingQueue(t *testing.T) {
	q, _ := deadletter.Lookup("send")
	if _, _, err := deadletter.New(deadlettertest.New(), "sunset-dev").List(context.Background(), q, 10); err == nil || !strings.Contains(err.Error(), "sunset-dev-send-dlq") {
		t.Errorf("List of a missing queue = %v, want an error naming it", err)
	}
}
