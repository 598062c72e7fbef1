package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/store"
)

// This file settles notices in doubt: leased by a sender (send_started_at) that never recorded
// the outcome. SES's own events about the message settle most of them with no one involved
// (Observe); sunset reconcile lists the rest and can release one for sending again, on record.

// Event is an SES event type, as SES names it.
type Event string

// The SES events the ledger records. Send, Delivery, Bounce and Complaint prove SES accepted
// the message; Reject proves it did not send it.
const (
	EventSend      Event = "Send"
	EventDelivery  Event = "Delivery"
	EventBounce    Event = "Bounce"
	EventComplaint Event = "Complaint"
	EventReject    Event = "Reject"
)

// eventAttr is the attribute that records the first event of each type (delivered_at is the
// name the delivery report has always had).
var eventAttr = map[Event]string{
	EventSend: "ses_send_at", EventDelivery: "delivered_at", EventBounce: "ses_bounce_at",
	EventComplaint: "ses_complaint_at", EventReject: "ses_reject_at",
}

// Observation is one SES event about one message of a notice.
type Observation struct {
	Event     Event
	MessageID string
	// MailAt is when SES accepted the message (mail.timestamp); At is when the event happened.
	MailAt, At time.Time
}

// Observed is what Observe found and did.
type Observed struct {
	// First: no event of this type had been recorded for the notice before.
	First bool
	// Settled: the notice was in doubt and this event settled it (to sent, or failed for a
	// Reject).
	Settled bool
	// Status is the notice's status after Observe.
	Status Status
}

// leaseSkew is how far SES's clock may be behind the sender's: an event about a message SES
// accepted more than this before the current lease began is about an earlier send (one that
// was released for resending), and does not settle the current one.
const leaseSkew = time.Minute

// Observe records the first event of each type on the notice and, when the notice is in doubt
// and the event is about the send of its current lease, settles it: sent (with SES's message
// id and time) for Send, Delivery, Bounce or Complaint; failed for Reject. Every write is
// conditional, so a repeated event, or a sender recording the same outcome at the same moment,
// changes nothing twice. A notice the ledger does not have gives ErrNotFound.
func (l *Ledger) Observe(ctx context.Context, campaign, org, stage string, o Observation) (Observed, error) {
	return l.observe(ctx, stageKey(campaign, org, stage), "notice "+campaign+"/"+org+"/"+stage, o)
}

// ObserveMail is Observe for a merged email: SES's events about it settle it when in doubt.
func (l *Ledger) ObserveMail(ctx context.Context, k MailKey, o Observation) (Observed, error) {
	return l.observe(ctx, mailKey(k), "mail "+k.String(), o)
}

// observe is Observe on the item at key (a notice's or a mail's), named what in errors.
func (l *Ledger) observe(ctx context.Context, key map[string]types.AttributeValue, what string, o Observation) (Observed, error) {
	attr, ok := eventAttr[o.Event]
	if !ok {
		return Observed{}, fmt.Errorf("observe %s on %s: not an event the ledger records", o.Event, what)
	}
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       key,
		UpdateExpression:          aws.String("SET #a = if_not_exists(#a, :at)"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeNames:  map[string]string{"#a": attr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": store.S(o.At.UTC().Format(time.RFC3339Nano))},
		ReturnValues:              types.ReturnValueAllOld,
	})
	if store.IsConditionFailed(err) {
		return Observed{}, fmt.Errorf("observe %s on %s: %w", o.Event, what, ErrNotFound)
	}
	if err != nil {
		return Observed{}, fmt.Errorf("observe %s on %s: %w", o.Event, what, err)
	}
	var old struct {
		Status        Status `dynamodbav:"status"`
		SendStartedAt string `dynamodbav:"send_started_at"`
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &old); err != nil {
		return Observed{}, fmt.Errorf("observe %s on %s: %w", o.Event, what, err)
	}
	res := Observed{First: out.Attributes[attr] == nil, Status: old.Status}
	lease, _ := time.Parse(time.RFC3339Nano, old.SendStartedAt)
	if old.Status != Claimed || lease.IsZero() || (!o.MailAt.IsZero() && o.MailAt.Before(lease.Add(-leaseSkew))) {
		return res, nil
	}
	res.Settled, err = l.settle(ctx, key, what, old.SendStartedAt, o)
	if res.Settled {
		res.Status = Sent
		if o.Event == EventReject {
			res.Status = Failed
		}
	}
	return res, err
}

// settle moves an in-doubt notice to its outcome, on condition that the lease is still the one
// Observe read (neither released for resending nor recorded by the sender meanwhile).
func (l *Ledger) settle(ctx context.Context, key map[string]types.AttributeValue, what, lease string, o Observation) (bool, error) {
	at := o.MailAt
	if at.IsZero() {
		at = o.At
	}
	vals := map[string]types.AttributeValue{
		":claimed": store.S(string(Claimed)), ":lease": store.S(lease), ":by": store.S(string(o.Event)),
		":at": store.S(at.UTC().Format(time.RFC3339Nano)), ":m": store.S(o.MessageID),
	}
	update := "SET #s = :to, sent_at = :at, message_id = :m, settled_by = :by REMOVE #e"
	vals[":to"] = store.S(string(Sent))
	if o.Event == EventReject {
		update = "SET #s = :to, #e = :r, failed_at = :at, message_id = :m, settled_by = :by"
		vals[":to"] = store.S(string(Failed))
		vals[":r"] = store.S("SES rejected the message (Reject event)")
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       key,
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#s = :claimed AND send_started_at = :lease"),
		ExpressionAttributeNames:  map[string]string{"#s": "status", "#e": "error"},
		ExpressionAttributeValues: vals,
	})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("settle %s from SES %s: %w", what, o.Event, err)
	}
	return true, nil
}

// MarkRejected records SES's Reject event for a notice the sender recorded as sent: SES did
// not send it after all, so it is failed, with the reason. (An in-doubt one is settled by
// Observe.)
func (l *Ledger) MarkRejected(ctx context.Context, campaign, org, stage string) error {
	return l.markRejected(ctx, stageKey(campaign, org, stage), "notice "+campaign+"/"+org+"/"+stage)
}

// MarkMailRejected is MarkRejected for a merged email.
func (l *Ledger) MarkMailRejected(ctx context.Context, k MailKey) error {
	return l.markRejected(ctx, mailKey(k), "mail "+k.String())
}

func (l *Ledger) markRejected(ctx context.Context, key map[string]types.AttributeValue, what string) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      key,
		UpdateExpression:         aws.String("SET #s = :failed, #e = :r, failed_at = :at"),
		ConditionExpression:      aws.String("#s = :sent"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":failed": store.S(string(Failed)), ":sent": store.S(string(Sent)),
			":r":  store.S("SES rejected the message (Reject event)"),
			":at": store.S(l.clock().UTC().Format(time.RFC3339Nano)),
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark %s rejected: %w", what, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("mark %s rejected: %w", what, err)
	}
	return nil
}

// InDoubt returns the campaign's notices still in doubt whose lease began before cutoff (SES's
// events normally settle a notice within minutes; what is left after a grace period needs a
// person), and those released for resending that no send has leased since, by organisation
// and stage.
func (l *Ledger) InDoubt(ctx context.Context, campaign string, cutoff time.Time) ([]Notice, error) {
	all, err := l.List(ctx, campaign)
	if err != nil {
		return nil, err
	}
	var out []Notice
	for _, n := range all {
		if (n.InDoubt() && n.SendStartedAt.Before(cutoff)) || n.Released() {
			out = append(out, n)
		}
	}
	return out, nil
}

// ErrReasonRequired: a release for resending must say why.
var ErrReasonRequired = errors.New("a reason is required")

// ReleaseForResend gives back the lease of an in-doubt notice so that the next send sends it:
// the one way a notice can be sent a second time, so it needs who and why, and it is recorded
// on the notice (resends) with the lease it replaced. It is conditional on that lease, so two
// operators releasing at once release it once. A notice no longer in doubt (settled meanwhile)
// gives ErrNotClaimed.
func (l *Ledger) ReleaseForResend(ctx context.Context, n Notice, by, reason string) error {
	if reason == "" || by == "" {
		return fmt.Errorf("release notice %s/%s/%s for resending: %w (and who releases it)", n.Campaign, n.Org, n.Stage, ErrReasonRequired)
	}
	if !n.InDoubt() {
		return fmt.Errorf("release notice %s/%s/%s for resending: %w: it is not in doubt", n.Campaign, n.Org, n.Stage, ErrNotClaimed)
	}
	lease := n.SendStartedAt.UTC().Format(time.RFC3339Nano)
	entry, err := attributevalue.MarshalMap(Resend{At: l.clock().UTC(), By: by, Reason: reason, SendStartedAt: lease})
	if err != nil {
		return fmt.Errorf("release notice %s/%s/%s for resending: %w", n.Campaign, n.Org, n.Stage, err)
	}
	_, err = l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(n.Campaign, n.Org, n.Stage),
		UpdateExpression:         aws.String("REMOVE send_started_at SET resends = list_append(if_not_exists(resends, :none), :r)"),
		ConditionExpression:      aws.String("#s = :claimed AND send_started_at = :lease"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": store.S(string(Claimed)), ":lease": store.S(lease),
			":none": &types.AttributeValueMemberL{}, ":r": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: entry}}},
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("release notice %s/%s/%s for resending: %w: settled or released meanwhile", n.Campaign, n.Org, n.Stage, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("release notice %s/%s/%s for resending: %w", n.Campaign, n.Org, n.Stage, err)
	}
	return nil
}

// ReleaseFailed makes a failed notice claimed again so that the next send sends it: an
// operator's deliberate second try after mending what failed it (an address fixed in the
// directory, a template mended). Like ReleaseForResend it needs who and why, is recorded on the
// notice (resends, with the error it replaced), and is conditional on the notice still being
// failed with that error, so two operators releasing at once release it once and a second
// release of a notice already sent again does nothing (ErrNotClaimed).
func (l *Ledger) ReleaseFailed(ctx context.Context, n Notice, by, reason string) error {
	if reason == "" || by == "" {
		return fmt.Errorf("release failed notice %s/%s/%s: %w (and who releases it)", n.Campaign, n.Org, n.Stage, ErrReasonRequired)
	}
	if n.Status != Failed {
		return fmt.Errorf("release failed notice %s/%s/%s: %w: it is %s, not failed", n.Campaign, n.Org, n.Stage, ErrNotClaimed, n.Status)
	}
	entry, err := attributevalue.MarshalMap(Resend{At: l.clock().UTC(), By: by, Reason: reason, Failed: n.Error})
	if err != nil {
		return fmt.Errorf("release failed notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	_, err = l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(n.Campaign, n.Org, n.Stage),
		UpdateExpression:         aws.String("SET #s = :claimed, resends = list_append(if_not_exists(resends, :none), :r) REMOVE #e, failed_at, send_started_at"),
		ConditionExpression:      aws.String("#s = :failed AND #e = :err"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": store.S(string(Claimed)), ":failed": store.S(string(Failed)), ":err": store.S(n.Error),
			":none": &types.AttributeValueMemberL{}, ":r": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: entry}}},
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("release failed notice %s/%s/%s: %w: released or changed meanwhile", n.Campaign, n.Org, n.Stage, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("release failed notice %s/%s/%s: %w", n.Campaign, n.Org, n.Stage, err)
	}
	return nil
}

// Failed returns the campaign's failed notices, by organisation and stage.
func (l *Ledger) Failed(ctx context.Context, campaign string) ([]Notice, error) {
	all, err := l.List(ctx, campaign)
	if err != nil {
		return nil, err
	}
	var out []Notice
	for _, n := range all {
		if n.Status == Failed {
			out = append(out, n)
		}
	}
	return out, nil
}
