package sender

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"
)

// HandleSQS is the sender Lambda's handler: each SQS record is the planner's hand-off
// {"campaign","org","stage"}. It reports partial batch failures: a record whose notice could
// not be sent for a reason a retry can fix is returned for redelivery; a record that can never
// be sent (unreadable body) is logged and dropped. When SES stops sending, every record not yet
// tried is returned too, and the error is logged so the alarm on sender errors fires.
func (s *Sender) HandleSQS(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	var keys []Key
	var ids []string
	for _, r := range ev.Records {
		var k Key
		if err := json.Unmarshal([]byte(r.Body), &k); err != nil || k.Campaign == "" || k.Org == "" || k.Stage == "" {
			s.cfg.Logger.Error("hand-off is not {campaign, org, stage}: dropped", "sqs_message_id", r.MessageId, "error", err)
			continue
		}
		keys = append(keys, k)
		ids = append(ids, r.MessageId)
	}
	results, err := s.SendAll(ctx, keys)
	done := map[Key]bool{}
	for _, r := range results {
		if r.Err != nil {
			s.cfg.Logger.Error("notice not sent", "notice", r.Key.String(), "error", r.Err)
			continue
		}
		done[r.Key] = true
	}
	for i, k := range keys {
		if !done[k] {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ids[i]})
		}
	}
	if errors.Is(err, ErrSendingStopped) {
		s.cfg.Logger.Error("SES stopped sending: batch returned to the queue", "error", err)
	} else if err != nil {
		s.cfg.Logger.Error("send batch", "error", err)
	}
	return resp, nil
}
