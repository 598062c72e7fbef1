package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// This file is "one email per person a day" (issue #29): a merged email (a mail) carries,
// to one address, the notices of every organisation whose audience that address is in on a
// day, each in a section of its own. The rules (docs/data-model.md, "Mail"):
//
//   - The planner lists a notice in the address's mail of the day (MergeInto, while no sender
//     has leased the mail), then marks the address merged on the notice (MarkMerged, while no
//     sender has leased the notice, and the mail has not refused it).
//   - The notice's own email never goes to an address merged on it.
//   - The mail's sender, once it holds the mail's lease, asks each notice it lists whether it
//     carries it (Carry): one conditional write on the notice either confirms the address is
//     merged (the mail carries it) or records that the mail refused it (MarkMerged then fails,
//     and the notice's own email keeps the address). So each (notice, address) goes by exactly
//     one email, whatever the order of planner, sender and crashes.
//   - Every email, the notice's own or a mail, takes its recipients' day (TakeDay) before it
//     goes to SES: at most one email per address, campaign and day.

// MailKey names a mail: the campaign, the day it was planned for, and its address's hash (so
// that keys, SES tags and logs carry no address).
type MailKey struct {
	Campaign string        `json:"campaign"`
	Day      calendar.Date `json:"day"`
	To       string        `json:"to"`
}

// AddressHash is the key an address is known by in mail keys, SES tags and logs: the first 16
// bytes of the SHA-256 of the address, lower-cased, in hex.
func AddressHash(address string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(address))))
	return hex.EncodeToString(h[:16])
}

// MailKeyOf is the key of address's mail of day.
func MailKeyOf(campaign string, day calendar.Date, address string) MailKey {
	return MailKey{Campaign: campaign, Day: day, To: AddressHash(address)}
}

// ID is the mail's name in SES tags and hand-offs: "<day>_<address hash>".
func (k MailKey) ID() string { return k.Day.String() + "_" + k.To }

// String names the mail in logs and errors.
func (k MailKey) String() string { return k.Campaign + "/mail/" + k.ID() }

// ParseMailID reads a MailKey back from campaign and ID's form.
func ParseMailID(campaign, id string) (MailKey, error) {
	day, to, ok := strings.Cut(id, "_")
	d, err := calendar.Parse(day)
	if !ok || err != nil || len(to) != 32 || strings.Trim(to, "0123456789abcdef") != "" {
		return MailKey{}, fmt.Errorf("mail id %q is not <day>_<32 hex digits>", id)
	}
	return MailKey{Campaign: campaign, Day: d, To: to}, nil
}

func mailPK(campaign, to string) string { return store.Key("MAIL", campaign, to) }

func mailKey(k MailKey) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(mailPK(k.Campaign, k.To)), "SK": store.S(store.Key("DAY", k.Day.String()))}
}

// merged is how a notice records an address its mail of day carries: "<address>|<day>".
func merged(address string, day calendar.Date) string {
	return strings.ToLower(address) + "|" + day.String()
}

// MergedAddress is the address of a notice's Merged entry.
func MergedAddress(entry string) string {
	a, _, _ := strings.Cut(entry, "|")
	return a
}

// Mail is one merged email: the notices it lists, and where it is in its life (the statuses of a
// notice: claimed, sent, failed, suppressed; superseded when none of its notices was left to
// carry).
type Mail struct {
	MailKey
	Address       string    `json:"address"`
	Notices       []Key     `json:"notices"`
	Status        Status    `json:"status"`
	SendStartedAt time.Time `json:"send_started_at,omitzero"`
	SentAt        time.Time `json:"sent_at,omitzero"`
	MessageID     string    `json:"message_id,omitempty"`
	ContentSHA256 string    `json:"content_sha256,omitempty"`
	Error         string    `json:"error,omitempty"`
	// Carried are the notices the sent mail carried (Notices less those it refused).
	Carried []Key `json:"carried,omitempty"`
	// SettledBy names the SES event that settled a mail in doubt; Resends every release of it
	// for sending again (sunset reconcile --mails --resend).
	SettledBy string    `json:"settled_by,omitempty"`
	Resends   []Resend  `json:"resends,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Released reports a mail released for resending that no sender has leased since.
func (m Mail) Released() bool {
	return m.Status == Claimed && m.SendStartedAt.IsZero() && len(m.Resends) > 0
}

// InDoubt reports a mail a sender leased and never recorded: SES may have it.
func (m Mail) InDoubt() bool { return m.Status == Claimed && !m.SendStartedAt.IsZero() }

type mailItem struct {
	Campaign      string   `dynamodbav:"campaign"`
	Day           string   `dynamodbav:"day"`
	To            string   `dynamodbav:"to"`
	Address       string   `dynamodbav:"address"`
	Notices       []string `dynamodbav:"notices,stringset"`
	Carried       []string `dynamodbav:"carried,stringset"`
	Status        Status   `dynamodbav:"status"`
	SendStartedAt string   `dynamodbav:"send_started_at"`
	SentAt        string   `dynamodbav:"sent_at"`
	MessageID     string   `dynamodbav:"message_id"`
	ContentSHA256 string   `dynamodbav:"content_sha256"`
	Error         string   `dynamodbav:"error"`
	SettledBy     string   `dynamodbav:"settled_by"`
	Resends       []Resend `dynamodbav:"resends"`
	ExpiresAt     int64    `dynamodbav:"expires_at"`
}

// noticeRef is how a mail lists a notice: "<ODS>#<stage>".
func noticeRef(k Key) string { return store.Key(strings.ToUpper(k.Org), k.Stage) }

func refKeys(campaign string, refs []string) []Key {
	out := make([]Key, 0, len(refs))
	for _, r := range refs {
		org, stage, _ := strings.Cut(r, "#")
		out = append(out, Key{Campaign: campaign, Org: org, Stage: stage})
	}
	slices.SortFunc(out, func(a, b Key) int { return strings.Compare(a.Org+"#"+a.Stage, b.Org+"#"+b.Stage) })
	return out
}

func mailOf(it map[string]types.AttributeValue) (Mail, error) {
	var m mailItem
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		return Mail{}, fmt.Errorf("read mail item: %w", err)
	}
	day, _ := calendar.Parse(m.Day)
	out := Mail{
		MailKey: MailKey{Campaign: m.Campaign, Day: day, To: m.To}, Address: m.Address,
		Notices: refKeys(m.Campaign, m.Notices), Carried: refKeys(m.Campaign, m.Carried), Status: m.Status,
		MessageID: m.MessageID, ContentSHA256: m.ContentSHA256, Error: m.Error, SettledBy: m.SettledBy, Resends: m.Resends,
	}
	out.SendStartedAt, _ = time.Parse(time.RFC3339Nano, m.SendStartedAt)
	out.SentAt, _ = time.Parse(time.RFC3339Nano, m.SentAt)
	if m.ExpiresAt > 0 {
		out.ExpiresAt = time.Unix(m.ExpiresAt, 0).UTC()
	}
	return out, nil
}

// MergeInto lists notices in address's mail of day, creating the mail (claimed) if need be. It
// returns false, changing nothing, when a sender has already leased the mail (or it is done):
// those notices then keep address in their own email. One conditional write.
func (l *Ledger) MergeInto(ctx context.Context, k MailKey, address string, notices []Key, expires time.Time) (bool, error) {
	refs := make([]string, len(notices))
	for i, n := range notices {
		refs[i] = noticeRef(n)
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.table),
		Key:       mailKey(k),
		UpdateExpression: aws.String("SET #t = :type, campaign = :c, #d = :day, #to = :to, address = :a, #s = if_not_exists(#s, :claimed), " +
			"GSI1PK = :g, GSI1SK = :gs, expires_at = :exp ADD notices :refs"),
		ConditionExpression:      aws.String("attribute_not_exists(PK) OR (#s = :claimed AND attribute_not_exists(send_started_at))"),
		ExpressionAttributeNames: map[string]string{"#t": "type", "#d": "day", "#to": "to", "#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":type": store.S("mail"), ":c": store.S(k.Campaign), ":day": store.S(k.Day.String()), ":to": store.S(k.To),
			":a": store.S(strings.ToLower(address)), ":claimed": store.S(string(Claimed)),
			":g": store.S(store.Key("MAILS", k.Campaign)), ":gs": store.S(store.Key(k.Day.String(), k.To)),
			":exp": store.TTL(expires), ":refs": &types.AttributeValueMemberSS{Value: refs},
		},
	})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("merge %d notices into mail %s: %w", len(notices), k, err)
	}
	return true, nil
}

// MarkMerged records on notice n that address's copy goes in the address's mail of day. It
// returns false, changing nothing, when the notice is leased or done (its own email decides)
// or that mail has already refused it.
func (l *Ledger) MarkMerged(ctx context.Context, n Key, address string, day calendar.Date) (bool, error) {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(n.Campaign, n.Org, n.Stage),
		UpdateExpression:         aws.String("ADD merged :x"),
		ConditionExpression:      aws.String("#s = :claimed AND attribute_not_exists(send_started_at) AND NOT contains(refused, :e)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":x": &types.AttributeValueMemberSS{Value: []string{merged(address, day)}}, ":e": store.S(merged(address, day)),
			":claimed": store.S(string(Claimed)),
		},
	})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark notice %s merged for mail of %s: %w", n, day, err)
	}
	return true, nil
}

// Carry is the mail's question to one notice it lists, asked once the mail is leased: does the
// mail carry this notice to address? Yes when the notice has the address merged for this day
// (recorded as mailed), and Carry returns the notice, read whole (the write returns the item;
// row parts, if any, are one Query more); otherwise the notice records the refusal, so a
// MarkMerged after it fails and the notice's own email keeps the address, and Carry returns
// nil. At most three writes, usually one.
func (l *Ledger) Carry(ctx context.Context, n Key, address string, day calendar.Date) (*Notice, error) {
	e := merged(address, day)
	for range 3 {
		for _, try := range []struct {
			set, cond string
			carry     bool
		}{{"mailed", "contains(merged, :e)", true}, {"refused", "NOT contains(merged, :e)", false}} {
			in := &dynamodb.UpdateItemInput{
				TableName:           aws.String(l.table),
				Key:                 stageKey(n.Campaign, n.Org, n.Stage),
				UpdateExpression:    aws.String("ADD " + try.set + " :x"),
				ConditionExpression: aws.String("attribute_exists(PK) AND " + try.cond),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":x": &types.AttributeValueMemberSS{Value: []string{e}}, ":e": store.S(e),
				},
			}
			if try.carry {
				in.ReturnValues = types.ReturnValueAllNew
			}
			out, err := l.db.UpdateItem(ctx, in)
			if err == nil && !try.carry {
				return nil, nil
			}
			if err == nil {
				nt, err := noticeOf(out.Attributes)
				if err == nil {
					err = l.withRows(ctx, &nt, out.Attributes)
				}
				if err != nil {
					return nil, fmt.Errorf("read notice %s carried by its mail of %s: %w", n, day, err)
				}
				return &nt, nil
			}
			if !store.IsConditionFailed(err) {
				return nil, fmt.Errorf("ask notice %s about its mail of %s: %w", n, day, err)
			}
		}
	}
	return nil, fmt.Errorf("ask notice %s about its mail of %s: %w", n, day, ErrNotFound)
}

// BeginMail takes the one right to send a claimed mail (send_started_at, on condition that it
// is claimed and not leased) and returns it: from then on its list of notices is fixed. A mail
// that is not claimed, or leased by another sender, gets ErrNotClaimed.
func (l *Ledger) BeginMail(ctx context.Context, k MailKey) (*Mail, error) {
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      mailKey(k),
		UpdateExpression:         aws.String("SET send_started_at = :at"),
		ConditionExpression:      aws.String("#s = :claimed AND attribute_not_exists(send_started_at)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at": store.S(l.clock().UTC().Format(time.RFC3339Nano)), ":claimed": store.S(string(Claimed)),
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if store.IsConditionFailed(err) {
		return nil, fmt.Errorf("begin sending mail %s: %w", k, ErrNotClaimed)
	}
	if err != nil {
		return nil, fmt.Errorf("begin sending mail %s: %w", k, err)
	}
	m, err := mailOf(out.Attributes)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// ReleaseMail gives back the lease of a mail that was never handed to SES.
func (l *Ledger) ReleaseMail(ctx context.Context, k MailKey) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       mailKey(k),
		UpdateExpression:          aws.String("REMOVE send_started_at"),
		ConditionExpression:       aws.String("#s = :claimed"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":claimed": store.S(string(Claimed))},
	})
	if err != nil {
		return fmt.Errorf("release mail %s: %w", k, err)
	}
	return nil
}

// RecordCarrying records on the leased mail the notices it carries (those Carry said yes to),
// before it goes to SES: which email carried each notice is on record even if the sender dies
// before MarkMailSent and SES's events settle it. A retry after a release records the same set.
func (l *Ledger) RecordCarrying(ctx context.Context, k MailKey, carried []Key) error {
	refs := make([]string, len(carried))
	for i, n := range carried {
		refs[i] = noticeRef(n)
	}
	return l.finishMail(ctx, k, "carrying", Claimed, "SET carried = :refs", map[string]types.AttributeValue{":refs": &types.AttributeValueMemberSS{Value: refs}})
}

// MarkMailSent records that the leased mail went as messageID.
func (l *Ledger) MarkMailSent(ctx context.Context, k MailKey, messageID, contentSHA256 string) error {
	return l.finishMail(ctx, k, "sent", Sent, "SET #s = :to, sent_at = :at, message_id = :m, content_sha256 = :h",
		map[string]types.AttributeValue{":m": store.S(messageID), ":h": store.S(contentSHA256)})
}

// MarkMailDone records a leased mail that will not be sent: failed (reason), suppressed (its
// address is), or superseded (none of its notices was left to carry).
func (l *Ledger) MarkMailDone(ctx context.Context, k MailKey, to Status, reason string) error {
	return l.finishMail(ctx, k, string(to), to, "SET #s = :to, #e = :r, finished_at = :at", map[string]types.AttributeValue{":r": store.S(reason)})
}

func (l *Ledger) finishMail(ctx context.Context, k MailKey, what string, to Status, update string, vals map[string]types.AttributeValue) error {
	vals[":to"] = store.S(string(to))
	vals[":claimed"] = store.S(string(Claimed))
	vals[":at"] = store.S(l.clock().UTC().Format(time.RFC3339Nano))
	for ph := range vals { // DynamoDB refuses a value the expressions do not use
		if ph != ":claimed" && !usesPlaceholder(update, ph) {
			delete(vals, ph)
		}
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       mailKey(k),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("#s = :claimed AND attribute_exists(send_started_at)"),
		ExpressionAttributeNames:  names(update + " #s"),
		ExpressionAttributeValues: vals,
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark mail %s %s: %w", k, what, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("mark mail %s %s: %w", k, what, err)
	}
	return nil
}

// GetMail reads one mail, or ErrNotFound.
func (l *Ledger) GetMail(ctx context.Context, k MailKey) (*Mail, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: mailKey(k), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("get mail %s: %w", k, err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("get mail %s: %w", k, ErrNotFound)
	}
	m, err := mailOf(out.Item)
	return &m, err
}

// Mails lists a campaign's mails, oldest day first (the console's "emails as sent", reports).
func (l *Ledger) Mails(ctx context.Context, campaign string) ([]Mail, error) {
	var out []Mail
	err := store.QueryAll(ctx, l.db, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String("GSI1"),
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(store.Key("MAILS", campaign))},
	}, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			m, err := mailOf(it)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list mails of %s: %w", campaign, err)
	}
	return out, nil
}

// MailsInDoubt is InDoubt for merged emails: those leased before cutoff and never recorded
// (settled by no SES event), and those released for resending and not sent since.
func (l *Ledger) MailsInDoubt(ctx context.Context, campaign string, cutoff time.Time) ([]Mail, error) {
	all, err := l.Mails(ctx, campaign)
	if err != nil {
		return nil, err
	}
	var out []Mail
	for _, m := range all {
		if (m.InDoubt() && m.SendStartedAt.Before(cutoff)) || m.Released() {
			out = append(out, m)
		}
	}
	return out, nil
}

// ReleaseMailForResend is ReleaseForResend for a merged email: its lease given back, on
// record (who, why, the lease it replaced), conditional on that lease. The next send asks its
// notices again (Carry answers as before) and sends it.
func (l *Ledger) ReleaseMailForResend(ctx context.Context, m Mail, by, reason string) error {
	if reason == "" || by == "" {
		return fmt.Errorf("release mail %s for resending: %w (and who releases it)", m.MailKey, ErrReasonRequired)
	}
	if !m.InDoubt() {
		return fmt.Errorf("release mail %s for resending: %w: it is not in doubt", m.MailKey, ErrNotClaimed)
	}
	lease := m.SendStartedAt.UTC().Format(time.RFC3339Nano)
	entry, err := attributevalue.MarshalMap(Resend{At: l.clock().UTC(), By: by, Reason: reason, SendStartedAt: lease})
	if err != nil {
		return fmt.Errorf("release mail %s for resending: %w", m.MailKey, err)
	}
	_, err = l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      mailKey(m.MailKey),
		UpdateExpression:         aws.String("REMOVE send_started_at SET resends = list_append(if_not_exists(resends, :none), :r)"),
		ConditionExpression:      aws.String("#s = :claimed AND send_started_at = :lease"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": store.S(string(Claimed)), ":lease": store.S(lease),
			":none": &types.AttributeValueMemberL{}, ":r": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{Value: entry}}},
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("release mail %s for resending: %w: settled or released meanwhile", m.MailKey, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("release mail %s for resending: %w", m.MailKey, err)
	}
	return nil
}

// ErrDayTaken: the address already has an email of the campaign for that day (an email's day is
// the day the planner chose it for, so a replay of many days in one sends each day's).
var ErrDayTaken = errors.New("the address already has an email of this campaign today")

func sentDayKey(campaign, address string, day calendar.Date) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(mailPK(campaign, AddressHash(address))), "SK": store.S(store.Key("SENT", day.String()))}
}

// TakeDay claims address's email of the campaign for day on behalf of the email by (a notice's
// key, or a mail's ID): one conditional put, which by's own retry passes. Another email's
// claim gets ErrDayTaken.
func (l *Ledger) TakeDay(ctx context.Context, campaign, address string, day calendar.Date, by string, expires time.Time) error {
	item := sentDayKey(campaign, address, day)
	item["type"], item["by"], item[store.TTLAttribute] = store.S("mail-day"), store.S(by), store.TTL(expires)
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(l.table),
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(PK) OR #by = :by"),
		ExpressionAttributeNames:  map[string]string{"#by": "by"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": store.S(by)},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("email of %s on %s: %w", campaign, day, ErrDayTaken)
	}
	if err != nil {
		return fmt.Errorf("take the day %s for an email of %s: %w", day, campaign, err)
	}
	return nil
}

// ReleaseDay gives back address's day taken by an email that was not sent after all.
func (l *Ledger) ReleaseDay(ctx context.Context, campaign, address string, day calendar.Date, by string) error {
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(l.table),
		Key:                       sentDayKey(campaign, address, day),
		ConditionExpression:       aws.String("#by = :by"),
		ExpressionAttributeNames:  map[string]string{"#by": "by"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":by": store.S(by)},
	})
	if err != nil && !store.IsConditionFailed(err) {
		return fmt.Errorf("release the day %s of an email of %s: %w", day, campaign, err)
	}
	return nil
}

// MarkDayTaken records on a leased notice that address already had its email of the campaign
// for the notice's day: the notice waits, and the next day's planner merges that address into
// its mail of that day (even alone), so it still gets the notice, one email a day.
func (l *Ledger) MarkDayTaken(ctx context.Context, k Key, address string) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.table),
		Key:                      stageKey(k.Campaign, k.Org, k.Stage),
		UpdateExpression:         aws.String("ADD day_taken :a"),
		ConditionExpression:      aws.String("#s = :claimed AND attribute_exists(send_started_at)"),
		ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":a": &types.AttributeValueMemberSS{Value: []string{strings.ToLower(address)}}, ":claimed": store.S(string(Claimed)),
		},
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark notice %s day taken: %w", k, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("mark notice %s day taken: %w", k, err)
	}
	return nil
}

// MarkCarried records a leased notice that needed no email of its own: every recipient it was
// not suppressed for is merged (their mails carry it). Status sent, carried_only.
func (l *Ledger) MarkCarried(ctx context.Context, k Key) error {
	return l.finish(ctx, k.Campaign, k.Org, k.Stage, "carried", Sent, "SET #s = :to, sent_at = :at, carried_only = :t",
		map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}})
}
