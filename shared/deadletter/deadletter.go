package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
)

// SQS is the part of the SQS client the dead-letter tools use.
type SQS interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

// Queue is one of Sunset's dead-letter queues.
type Queue struct {
	// Name is what --queue takes: send, ingest, directory or feedback.
	Name string
	// Redrives says where its messages go back to: the source queue's short name, or "" when
	// they are replayed through a handler (feedback).
	Source string
	// What says what a message in it is, for people.
	What string
	// describe summarises one message body with no personal data.
	describe func(body string) string
}

// Queues are Sunset's dead-letter queues, by name.
var Queues = map[string]Queue{
	"send":      {Name: "send", Source: "send", What: "hand-offs the sender failed 5 times", describe: describeHandOff},
	"ingest":    {Name: "ingest", Source: "ingest", What: "log files ingest failed 5 times", describe: describeS3},
	"directory": {Name: "directory", Source: "directory", What: "directory uploads the import failed 5 times", describe: describeS3},
	"feedback":  {Name: "feedback", What: "SES events the feedback function could not apply (or SNS could not deliver)", describe: describeSES},
	"planner":   {Name: "planner", What: "scheduled planner runs that failed for good (the scheduler could not deliver, or the planner failed them)", describe: describeRun},
}

// Names is every queue name, sorted.
func Names() []string {
	var out []string
	for n := range Queues {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Lookup is the queue called name, or an error listing the names there are.
func Lookup(name string) (Queue, error) {
	q, ok := Queues[name]
	if !ok {
		return Queue{}, fmt.Errorf("no dead-letter queue %q (there are: %s)", name, strings.Join(Names(), ", "))
	}
	return q, nil
}

// Message is one message waiting in a dead-letter queue.
type Message struct {
	ID       string    `json:"id"`
	Summary  string    `json:"summary"`
	Receives int       `json:"receives"` // how many times it has been received, in the DLQ included
	SentAt   time.Time `json:"sent_at"`  // when it first entered a queue
}

// Client works on the dead-letter queues of one deployment.
type Client struct {
	sqs    SQS
	prefix string // the table name: queues are <prefix>-<name> and <prefix>-<name>-dlq
}

// New returns a client for the queues of the deployment whose table is table.
func New(c SQS, table string) *Client { return &Client{sqs: c, prefix: table} }

// QueueName is the SQS name of q's dead-letter queue.
func (c *Client) QueueName(q Queue) string { return c.prefix + "-" + q.Name + "-dlq" }

func (c *Client) url(ctx context.Context, name string) (string, error) {
	out, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("find queue %s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// peekTimeout is how long List hides the messages it reads before giving them back.
const peekTimeout = 30

// List returns how many messages q's dead-letter queue holds (SQS's approximate count) and up
// to max of them. Reading a message hides it for a moment: List makes each visible again
// before it returns, so a redrive straight after sees them all.
func (c *Client) List(ctx context.Context, q Queue, max int) (int, []Message, error) {
	url, err := c.url(ctx, c.QueueName(q))
	if err != nil {
		return 0, nil, err
	}
	attrs, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, nil, fmt.Errorf("count messages in %s: %w", c.QueueName(q), err)
	}
	total, _ := strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	var out []Message
	var handles []string
	defer func() { c.release(context.WithoutCancel(ctx), url, handles) }()
	seen := map[string]bool{}
	for len(out) < max {
		msgs, err := c.receive(ctx, url, min(10, max-len(out)), peekTimeout)
		if err != nil {
			return total, out, err
		}
		fresh := 0
		for _, m := range msgs {
			handles = append(handles, aws.ToString(m.ReceiptHandle))
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id], fresh = true, fresh+1
				out = append(out, messageOf(q, m))
			}
		}
		if fresh == 0 {
			break
		}
	}
	return total, out, nil
}

func (c *Client) receive(ctx context.Context, url string, n int, visibility int32) ([]types.Message, error) {
	out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: int32(n), VisibilityTimeout: visibility, WaitTimeSeconds: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{
			types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("receive from %s: %w", url, err)
	}
	return out.Messages, nil
}

// release makes messages read by List visible again (best effort: at worst they reappear after
// peekTimeout by themselves).
func (c *Client) release(ctx context.Context, url string, handles []string) {
	for start := 0; start < len(handles); start += 10 {
		var entries []types.ChangeMessageVisibilityBatchRequestEntry
		for i, h := range handles[start:min(start+10, len(handles))] {
			entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)})
		}
		_, _ = c.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(url), Entries: entries})
	}
}

func messageOf(q Queue, m types.Message) Message {
	out := Message{ID: aws.ToString(m.MessageId), Summary: q.describe(aws.ToString(m.Body))}
	out.Receives, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		out.SentAt = time.UnixMilli(ms).UTC()
	}
	return out
}

// Replay processes one feedback message body again (the feedback handler, for the CLI).
type Replay func(ctx context.Context, body string) error

// redriveVisibility hides a message being redriven long enough to move it.
const redriveVisibility = 120

// Redrive moves up to max messages out of q's dead-letter queue: back to its source queue, or,
// for feedback, through replay. A message is deleted from the dead-letter queue only once it
// is safely moved; one that cannot be moved stays, and the error says why. It returns how many
// were moved.
func (c *Client) Redrive(ctx context.Context, q Queue, max int, replay Replay) (int, error) {
	if q.Source == "" && replay == nil {
		return 0, fmt.Errorf("redrive %s: its messages are replayed through a handler, and none was given", q.Name)
	}
	dlq, err := c.url(ctx, c.QueueName(q))
	if err != nil {
		return 0, err
	}
	var src string
	if q.Source != "" {
		if src, err = c.url(ctx, c.prefix+"-"+q.Source); err != nil {
			return 0, err
		}
	}
	moved := 0
	var errs []error
	for moved < max {
		msgs, err := c.receive(ctx, dlq, min(10, max-moved), redriveVisibility)
		if err != nil || len(msgs) == 0 {
			return moved, errors.Join(append(errs, err)...)
		}
		var done []types.Message
		if src != "" {
			done, err = c.send(ctx, src, msgs)
		} else {
			done, err = replayAll(ctx, replay, msgs)
		}
		if err != nil {
			errs = append(errs, err)
		}
		n, err := c.delete(ctx, dlq, done)
		moved += n
		if err != nil {
			return moved, errors.Join(append(errs, err)...)
		}
		if len(done) < len(msgs) {
			break // the rest failed: stop rather than spin on them
		}
	}
	return moved, errors.Join(errs...)
}

// send puts msgs on the source queue; it returns the ones SQS took.
func (c *Client) send(ctx context.Context, url string, msgs []types.Message) ([]types.Message, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body}
	}
	out, err := c.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("send to %s: %w", url, err)
	}
	var done []types.Message
	for _, ok := range out.Successful {
		i, _ := strconv.Atoi(aws.ToString(ok.Id))
		done = append(done, msgs[i])
	}
	if len(out.Failed) > 0 {
		f := out.Failed[0]
		return done, fmt.Errorf("send to %s: %d of %d refused (first: %s %s)", url, len(out.Failed), len(msgs), aws.ToString(f.Code), aws.ToString(f.Message))
	}
	return done, nil
}

func replayAll(ctx context.Context, replay Replay, msgs []types.Message) ([]types.Message, error) {
	var done []types.Message
	var errs []error
	for _, m := range msgs {
		if err := replay(ctx, aws.ToString(m.Body)); err != nil {
			errs = append(errs, fmt.Errorf("replay message %s: %w", aws.ToString(m.MessageId), err))
			continue
		}
		done = append(done, m)
	}
	return done, errors.Join(errs...)
}

func (c *Client) delete(ctx context.Context, url string, msgs []types.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	out, err := c.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil {
		return 0, fmt.Errorf("delete from %s (the messages were moved and will be moved again: harmless): %w", url, err)
	}
	if len(out.Failed) > 0 {
		return len(out.Successful), fmt.Errorf("delete from %s: %d of %d failed (moved anyway; they will be moved again: harmless)", url, len(out.Failed), len(msgs))
	}
	return len(out.Successful), nil
}

func describeRun(body string) string {
	var ev events.EventBridgeEvent
	if err := json.Unmarshal([]byte(body), &ev); err != nil || ev.ID == "" {
		return fmt.Sprintf("not a scheduled event (%d bytes)", len(body))
	}
	return "scheduled run " + ev.ID + " of " + ev.Time.UTC().Format(time.RFC3339)
}

func describeHandOff(body string) string {
	var k ledger.Key
	if err := json.Unmarshal([]byte(body), &k); err != nil || k.Campaign == "" {
		return fmt.Sprintf("not a hand-off (%d bytes)", len(body))
	}
	return "notice " + k.String()
}

func describeS3(body string) string {
	var ev events.S3Event
	if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Records) == 0 {
		return fmt.Sprintf("not an S3 event (%d bytes)", len(body))
	}
	var keys []string
	for _, r := range ev.Records {
		k := "s3://" + r.S3.Bucket.Name + "/" + r.S3.Object.Key
		if r.S3.Object.VersionID != "" {
			k += "#" + r.S3.Object.VersionID
		}
		keys = append(keys, k)
	}
	return strings.Join(keys, " ")
}

func describeSES(body string) string {
	evs, err := feedback.FromDeadLetter(body)
	if err != nil {
		return fmt.Sprintf("not an SES event (%d bytes)", len(body))
	}
	var parts []string
	for _, e := range evs {
		parts = append(parts, e.Summary())
	}
	return strings.Join(parts, "; ")
}
