package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
)

// FromDeadLetter reads the SES events of a message in the feedback dead-letter queue, in
// either shape that lands there: an invocation the function failed after Lambda's retries (the
// SNS event it was given, {"Records":[{"Sns":{"Message":...}}]}), or a delivery SNS could not
// make (the SNS notification itself, {"Type":"Notification","Message":...}).
func FromDeadLetter(body string) ([]Event, error) {
	var messages []string
	var ev events.SNSEvent
	if err := json.Unmarshal([]byte(body), &ev); err == nil && len(ev.Records) > 0 {
		for _, r := range ev.Records {
			messages = append(messages, r.SNS.Message)
		}
	} else {
		var n struct{ Type, Message string }
		if err := json.Unmarshal([]byte(body), &n); err != nil || n.Type != "Notification" {
			return nil, errors.New("neither an SNS event nor an SNS notification")
		}
		messages = []string{n.Message}
	}
	var out []Event
	for _, m := range messages {
		var e Event
		if err := json.Unmarshal([]byte(m), &e); err != nil || e.EventType == "" {
			return nil, fmt.Errorf("SNS message is not an SES event: %v", err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Replay applies the SES events of a dead-letter message again (sunset dlq redrive --queue
// feedback). Every write is idempotent, so replaying an event that was half applied is safe.
func (h *Handler) Replay(ctx context.Context, body string) error {
	evs, err := FromDeadLetter(body)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range evs {
		errs = append(errs, h.Process(ctx, e))
	}
	return errors.Join(errs...)
}

// Summary says what the event is about without any address: its type, SES's message id and
// the notice.
func (e Event) Summary() string {
	s := e.EventType + " of SES message " + e.Mail.MessageID
	if k, _ := noticeOf(e.Mail); k.ok() {
		s += " (notice " + k.campaign + "/" + k.org + "/" + k.stage + ")"
	}
	return s
}
