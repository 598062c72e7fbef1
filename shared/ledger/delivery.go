package ledger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// This file is the delivery side of the ledger (issue #6): the send lease and SES feedback.
// doubt.go settles what the lease leaves in doubt.

// BeginSend takes the one right to send a claimed notice: it records send_started_at, on
// condition that the notice is claimed and no sender has begun, and returns the notice as it
// now is (the write is the read: no GetItem before it). A duplicate SQS delivery, a concurrent
// run or a notice that is not there gets ErrNotClaimed and must not send. A notice whose sender
// died after BeginSend stays claimed with send_started_at set: in doubt, never sent twice.
func (l *Ledger) BeginSend(ctx context.Context, campaign, org, stage string) (*Notice, error) {
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(campaign, org, stage),
		UpdateExpression:         aws.String("SET send_started_at = :at"),
		ConditionExpression:      aws.String("#s = :claimed AND attribute_not_exists(send_started_at)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": store.S(l.clock().UTC().Format(time.RFC3339Nano)), ":claimed": store.S(string(Claimed)),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		return nil, fmt.Errorf("begin sending notice %s/%s/%s: %w", campaign, org, stage, ErrNotClaimed)
	}
	if err != nil {
		return nil, fmt.Errorf("begin sending notice %s/%s/%s: %w", campaign, org, stage, err)
	}
	n, err := noticeOf(out.Attributes)
	if err == nil {
		err = l.withRows(ctx, &n, out.Attributes)
	}
	if err != nil { // nothing went to SES: give the lease back, or the notice would be in doubt
		if rerr := l.ReleaseSend(ctx, campaign, org, stage); rerr != nil {
			return nil, fmt.Errorf("%w (and its lease is held: %v)", err, rerr)
		}
		return nil, err
	}
	return &n, nil
}

// MarkBounced records a permanent bounce or a complaint (kind) from addrs for a sent notice:
// status suppressed, with kind and the addresses in error and feedback; sent_at and message_id
// stay. It returns how many of addrs had not been recorded for this notice and kind before, so
// a repeated SNS delivery counts nothing twice (the notice keeps the set of addresses).
func (l *Ledger) MarkBounced(ctx context.Context, campaign, org, stage, kind string, addrs []string, at time.Time) (int, error) {
	return l.markBounced(ctx, stageKey(campaign, org, stage), "notice "+campaign+"/"+org+"/"+stage, kind, addrs, at)
}

// MarkMailBounced is MarkBounced for a merged email.
func (l *Ledger) MarkMailBounced(ctx context.Context, k MailKey, kind string, addrs []string, at time.Time) (int, error) {
	return l.markBounced(ctx, mailKey(k), "mail "+k.String(), kind, addrs, at)
}

func (l *Ledger) markBounced(ctx context.Context, key map[string]types.AttributeValue, what, kind string, addrs []string, at time.Time) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	set := kind + "_addresses"
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      key,
		UpdateExpression:         aws.String("SET #s = :sup, #e = :r, feedback = :k, feedback_at = :at ADD #set :a"),
		ConditionExpression:      aws.String("#s IN (:sent, :sup)"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error", "#set": set},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sup": store.S(string(Suppressed)), ":sent": store.S(string(Sent)),
			":r": store.S(kind + ": " + strings.Join(addrs, ", ")), ":k": store.S(kind),
			":at": store.S(at.UTC().Format(time.RFC3339Nano)), ":a": &types.AttributeValueMemberSS{Value: addrs},
		},
		ReturnValues: types.ReturnValueUpdatedOld,
	})
	if store.IsConditionFailed(err) {
		return 0, fmt.Errorf("mark %s %s: %w", what, kind, ErrNotClaimed)
	}
	if err != nil {
		return 0, fmt.Errorf("mark %s %s: %w", what, kind, err)
	}
	var before []string
	if ss, ok := out.Attributes[set].(*types.AttributeValueMemberSS); ok {
		before = ss.Value
	}
	fresh := 0
	for _, a := range addrs {
		if !slices.Contains(before, a) {
			fresh++
		}
	}
	return fresh, nil
}

// ReleaseSend gives the lease of BeginSend back, for a sender that knows SES did not accept
// the message (SES answered with an error): the notice can be sent by a later attempt.
func (l *Ledger) ReleaseSend(ctx context.Context, campaign, org, stage string) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       stageKey(campaign, org, stage),
		UpdateExpression:          aws.String("REMOVE send_started_at"),
		ConditionExpression:       aws.String("#s = :claimed"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": store.S(string(Claimed))},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("release notice %s/%s/%s: %w", campaign, org, stage, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("release notice %s/%s/%s: %w", campaign, org, stage, err)
	}
	return nil
}
