// Package deadlettertest is an in-memory SQS for the dead-letter tools' tests: no SQS emulator
// served to this project speaks the SDK's current JSON protocol (goaws v0.4.5 and sqslite
// answer the old query protocol only), so this fake keeps the semantics the tools rely on:
// receiving hides a message for its visibility timeout and gives it a new receipt handle,
// only the latest handle deletes it or changes its visibility, batches hold at most ten.
package deadlettertest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS holds queues by name. Its methods have the SDK client's signatures.
type SQS struct {
	mu     sync.Mutex
	queues map[string][]*message
	next   int
	now    func() time.Time
	// FailSends, when set, refuses every entry of SendMessageBatch to that queue name.
	FailSends map[string]bool
}

type message struct {
	id, body, handle string
	receives         int
	sent             time.Time
	hiddenUntil      time.Time
}

// New returns an SQS with the named queues, empty.
func New(names ...string) *SQS {
	s := &SQS{queues: map[string][]*message{}, now: time.Now, FailSends: map[string]bool{}}
	for _, n := range names {
		s.queues[n] = nil
	}
	return s
}

func url(name string) string { return "https://sqs.eu-west-2.amazonaws.com/123456789012/" + name }

func nameOf(u string) string { return u[len(url("")):] }

// Put adds a message to queue name.
func (s *SQS) Put(name, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(name, body)
}

func (s *SQS) put(name, body string) {
	s.next++
	s.queues[name] = append(s.queues[name], &message{id: fmt.Sprintf("m-%d", s.next), body: body, sent: s.now()})
}

// Bodies is every message body in queue name, hidden ones included.
func (s *SQS) Bodies(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.queues[name] {
		out = append(out, m.body)
	}
	return out
}

func (s *SQS) queue(u string) ([]*message, string, error) {
	n := nameOf(u)
	q, ok := s.queues[n]
	if !ok {
		return nil, n, &types.QueueDoesNotExist{Message: aws.String("no queue " + n)}
	}
	return q, n, nil
}

// GetQueueUrl returns the URL of a queue that exists.
func (s *SQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[aws.ToString(in.QueueName)]; !ok {
		return nil, &types.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")}
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String(url(aws.ToString(in.QueueName)))}, nil
}

// GetQueueAttributes reports ApproximateNumberOfMessages (the visible ones).
func (s *SQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, _, err := s.queue(aws.ToString(in.QueueUrl))
	if err != nil {
		return nil, err
	}
	visible := 0
	for _, m := range q {
		if !m.hiddenUntil.After(s.now()) {
			visible++
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"ApproximateNumberOfMessages": strconv.Itoa(visible)}}, nil
}

// ReceiveMessage returns up to MaxNumberOfMessages visible messages and hides them.
func (s *SQS) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, _, err := s.queue(aws.ToString(in.QueueUrl))
	if err != nil {
		return nil, err
	}
	if in.MaxNumberOfMessages < 1 || in.MaxNumberOfMessages > 10 {
		return nil, fmt.Errorf("MaxNumberOfMessages %d outside 1..10", in.MaxNumberOfMessages)
	}
	out := &sqs.ReceiveMessageOutput{}
	now := s.now()
	for _, m := range q {
		if len(out.Messages) == int(in.MaxNumberOfMessages) {
			break
		}
		if m.hiddenUntil.After(now) {
			continue
		}
		s.next++
		m.receives++
		m.handle = fmt.Sprintf("rh-%d", s.next)
		m.hiddenUntil = now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
		out.Messages = append(out.Messages, types.Message{MessageId: aws.String(m.id), Body: aws.String(m.body), ReceiptHandle: aws.String(m.handle),
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.receives), "SentTimestamp": strconv.FormatInt(m.sent.UnixMilli(), 10)}})
	}
	return out, nil
}

// SendMessageBatch appends each entry (at most ten) to the queue.
func (s *SQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, name, err := s.queue(aws.ToString(in.QueueUrl))
	if err != nil {
		return nil, err
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, &types.TooManyEntriesInBatchRequest{Message: aws.String("1 to 10 entries")}
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		if s.FailSends[name] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("refused by the test")})
			continue
		}
		s.put(name, aws.ToString(e.MessageBody))
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

// DeleteMessageBatch deletes the messages whose latest receipt handle is given.
func (s *SQS) DeleteMessageBatch(_ context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, name, err := s.queue(aws.ToString(in.QueueUrl))
	if err != nil {
		return nil, err
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		i := s.byHandle(q, aws.ToString(e.ReceiptHandle))
		if i < 0 {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid")})
			continue
		}
		q = append(q[:i], q[i+1:]...)
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	s.queues[name] = q
	return out, nil
}

// ChangeMessageVisibilityBatch sets the visibility of the messages whose latest handle is given.
func (s *SQS) ChangeMessageVisibilityBatch(_ context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, _, err := s.queue(aws.ToString(in.QueueUrl))
	if err != nil {
		return nil, err
	}
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		i := s.byHandle(q, aws.ToString(e.ReceiptHandle))
		if i < 0 {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid")})
			continue
		}
		q[i].hiddenUntil = s.now().Add(time.Duration(e.VisibilityTimeout) * time.Second)
		out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (s *SQS) byHandle(q []*message, h string) int {
	for i, m := range q {
		if m.handle == h && h != "" {
			return i
		}
	}
	return -1
}
