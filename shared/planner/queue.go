package planner

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// SQSSender is the part of the SQS client the queue dispatcher uses.
type SQSSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Message is the hand-off body of one claimed notice: the sender reads the notice itself from
// the ledger, so the queue carries no personal data.
type Message struct {
	Campaign string `json:"campaign"`
	Org      string `json:"org"`
	Stage    string `json:"stage"`
}

// Queue hands claimed notices to the sender through the SQS send queue.
type Queue struct {
	Client SQSSender
	URL    string
}

// Dispatch sends one message per notice, ten per request. Entries SQS rejects are an error
// (the notices stay claimed; a re-run of the same day hands them over again).
func (q *Queue) Dispatch(ctx context.Context, notices []ledger.Notice) error {
	for start := 0; start < len(notices); start += 10 {
		end := min(start+10, len(notices))
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i, n := range notices[start:end] {
			body, err := json.Marshal(Message{Campaign: n.Campaign, Org: n.Org, Stage: n.Stage})
			if err != nil {
				return err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := q.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send to queue %s: %w", q.URL, err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("send to queue %s: %d of %d messages rejected (first: %s %s)", q.URL, len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}
