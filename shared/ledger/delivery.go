package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// This file is the delivery side of the ledger (issue #6): the send lease and SES feedback.

// BeginSend takes the one right to send a claimed notice: it records send_started_at, on
// condition that the notice is claimed and no sender has begun. A duplicate SQS delivery or a
// concurrent run gets ErrNotClaimed and must not send. A notice whose sender died after
// BeginSend stays claimed with send_started_at set: in doubt, never sent twice.
func (l *Ledger) BeginSend(ctx context.Context, campaign, org, stage string) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(campaign, org, stage),
		UpdateExpression:         aws.String("SET send_started_at = :at"),
		ConditionExpression:      aws.String("#s = :claimed AND attribute_not_exists(send_started_at)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": store.S(l.clock().UTC().Format(time.RFC3339Nano)), ":claimed": store.S(string(Claimed)),
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("begin sending notice %s/%s/%s: %w", campaign, org, stage, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("begin sending notice %s/%s/%s: %w", campaign, org, stage, err)
	}
	return nil
}

// MarkDelivered records SES's first delivery report of a sent notice (delivered_at).
func (l *Ledger) MarkDelivered(ctx context.Context, campaign, org, stage string, at time.Time) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       stageKey(campaign, org, stage),
		UpdateExpression:          aws.String("SET delivered_at = if_not_exists(delivered_at, :at)"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": store.S(at.UTC().Format(time.RFC3339Nano))},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark notice %s/%s/%s delivered: %w", campaign, org, stage, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mark notice %s/%s/%s delivered: %w", campaign, org, stage, err)
	}
	return nil
}

// MarkBounced records a permanent bounce or a complaint (kind) from address for a sent notice:
// status suppressed, with kind and address in error and feedback. sent_at and message_id stay.
func (l *Ledger) MarkBounced(ctx context.Context, campaign, org, stage, kind, address string, at time.Time) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(campaign, org, stage),
		UpdateExpression:         aws.String("SET #s = :sup, #e = :r, feedback = :k, feedback_at = :at"),
		ConditionExpression:      aws.String("#s IN (:sent, :sup)"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sup": store.S(string(Suppressed)), ":sent": store.S(string(Sent)),
			":r": store.S(kind + ": " + address), ":k": store.S(kind),
			":at": store.S(at.UTC().Format(time.RFC3339Nano)),
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark notice %s/%s/%s %s: %w", campaign, org, stage, kind, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("mark notice %s/%s/%s %s: %w", campaign, org, stage, kind, err)
	}
	return nil
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
