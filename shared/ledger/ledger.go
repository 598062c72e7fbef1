package ledger

import (
	"crypto/rand"
	"encoding/hex"

	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

var (
	// ErrNotFound: the ledger has no notice for that (campaign, organisation, stage).
	ErrNotFound = errors.New("notice not found")
	// ErrNotClaimed: the notice is not in the claimed state (already sent, failed, suppressed
	// or superseded), so it must not be sent or marked again.
	ErrNotClaimed = errors.New("notice not claimed")
)

// DB is the part of the DynamoDB client the ledger uses.
type DB interface {
	store.Getter
	store.Putter
	store.Updater
	store.Deleter
	store.Querier
}

// Ledger is the notice ledger in the table (docs/data-model.md, "Notice").
type Ledger struct {
	db    DB
	table string
	clock func() time.Time
}

// New returns the ledger kept in table.
func New(db DB, table string, clock func() time.Time) *Ledger {
	return &Ledger{db: db, table: table, clock: clock}
}

func pk(campaign, org string) string { return store.Key("NOTICE", campaign, strings.ToUpper(org)) }

func stageKey(campaign, org, stage string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(pk(campaign, org)), "SK": store.S(store.Key("STAGE", stage))}
}

func dayKey(campaign, org string, day calendar.Date) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(pk(campaign, org)), "SK": store.S(store.Key("DAY", day.String()))}
}

// Claim records that notice n (status claimed, claimed now) is to be sent, unless this stage
// was ever claimed or marked for the organisation, or the organisation already has a notice of
// this campaign planned for n.PlannedFor. It returns whether this call made the claim: a
// repeated or concurrent run gets false and must not send. Each guard is one conditional put.
func (l *Ledger) Claim(ctx context.Context, n Notice) (bool, error) {
	if n.Campaign == "" || n.Org == "" || n.Stage == "" || n.PlannedFor.IsZero() {
		return false, fmt.Errorf("claim notice %s/%s/%s: campaign, org, stage and planned_for are required", n.Campaign, n.Org, n.Stage)
	}
	n.Org = strings.ToUpper(n.Org)
	n.Status = Claimed
	n.ClaimedAt = l.clock().UTC()
	token := claimToken()
	// The per-day guard first: of two runs on one day, only one gets past it.
	day := dayKey(n.Campaign, n.Org, n.PlannedFor)
	day["type"] = store.S("notice-day")
	day["stage"] = store.S(n.Stage)
	day["claimed_at"] = store.S(n.ClaimedAt.Format(time.RFC3339Nano))
	day["claim_token"] = store.S(token)
	if !n.ExpiresAt.IsZero() {
		day[store.TTLAttribute] = store.TTL(n.ExpiresAt)
	}
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(l.table), Item: day, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if store.IsConditionFailed(err) {
		// Another run's guard, or this call's own whose answer was lost and whose retry then
		// met it: only the first is a lost claim.
		mine, rerr := l.ours(ctx, dayKey(n.Campaign, n.Org, n.PlannedFor), token, n.Stage)
		if rerr == nil && !mine {
			mine, rerr = l.adoptOrphan(ctx, n, token)
		}
		if rerr != nil || !mine {
			return false, rerr
		}
		err = nil
	}
	if err != nil {
		return false, fmt.Errorf("claim notice %s/%s/%s day %s: %w", n.Campaign, n.Org, n.Stage, n.PlannedFor, err)
	}
	ok, err := l.putNotice(ctx, n, "claim", token)
	if !ok && !l.claimedToday(ctx, n) {
		// The stage was claimed on an earlier day (or the put failed): give today back. Not
		// when another run claimed it today (after taking over an orphaned guard): the day's
		// one notice is made, and the guard stays to say so.
		l.releaseDay(ctx, n, token)
	}
	return ok, err
}

// claimToken is a random token naming one claim's writes (claim_token).
func claimToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ours reports whether the item at key is the one this call wrote (its claim_token is token
// and, when stage is given, its stage is stage): a conditional put whose first attempt went through
// but whose answer was lost meets its own item when the SDK retries it, and must not take that
// for someone else's (the notice would be claimed by nobody, or the day lost).
func (l *Ledger) ours(ctx context.Context, key map[string]types.AttributeValue, token, stage string) (bool, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: key, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("claim_token, stage")})
	if err != nil {
		return false, fmt.Errorf("read back a claim: %w", err)
	}
	return out.Item != nil && store.Str(out.Item["claim_token"]) == token && (stage == "" || store.Str(out.Item["stage"]) == stage), nil
}

// adoptOrphan takes over a day's guard left by a claim that failed after writing it (its
// notice put failed, and so did giving the guard back): a guard whose stage has no notice. The
// take-over is conditional on the guard's token, so of two runs adopting it one does; without
// it the organisation would get no notice that day.
func (l *Ledger) adoptOrphan(ctx context.Context, n Notice, token string) (bool, error) {
	key := dayKey(n.Campaign, n.Org, n.PlannedFor)
	g, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: key, ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("claim_token, stage")})
	if err != nil || g.Item == nil {
		return false, err
	}
	prev, stage := store.Str(g.Item["claim_token"]), store.Str(g.Item["stage"])
	nt, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: stageKey(n.Campaign, n.Org, stage),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("PK")})
	if err != nil || nt.Item != nil || prev == "" {
		return false, err // its claim was made (or the guard predates tokens): a lost claim
	}
	_, err = l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.table), Key: key,
		UpdateExpression:    aws.String("SET claim_token = :mine, stage = :s, claimed_at = :at"),
		ConditionExpression: aws.String("claim_token = :prev"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":mine": store.S(token), ":s": store.S(n.Stage),
			":at": store.S(n.ClaimedAt.Format(time.RFC3339Nano)), ":prev": store.S(prev)},
	})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	return err == nil, err
}

// claimedToday reports whether n's stage has a notice planned for n's day (true also when it
// cannot tell: keeping a guard costs a day, giving one back wrongly could cost a second email).
func (l *Ledger) claimedToday(ctx context.Context, n Notice) bool {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(l.table), Key: stageKey(n.Campaign, n.Org, n.Stage),
		ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("planned_for")})
	if err != nil {
		return true
	}
	return out.Item != nil && store.Str(out.Item["planned_for"]) == n.PlannedFor.String()
}

// releaseDay deletes the day guard this call wrote (and only that one). A failure leaves the
// organisation without a notice for one day, never with two; so it is not an error.
func (l *Ledger) releaseDay(ctx context.Context, n Notice, token string) {
	_, _ = l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(l.table), Key: dayKey(n.Campaign, n.Org, n.PlannedFor),
		ConditionExpression:       aws.String("claim_token = :t AND stage = :s"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": store.S(token), ":s": store.S(n.Stage)},
	})
}

// MarkSuperseded records that stage n.Stage will never be sent to the organisation because a
// later stage was due first. It returns false when the stage already has a ledger entry.
func (l *Ledger) MarkSuperseded(ctx context.Context, n Notice) (bool, error) {
	n.Org = strings.ToUpper(n.Org)
	n.Status = Superseded
	n.ClaimedAt = l.clock().UTC()
	return l.putNotice(ctx, n, "mark superseded", claimToken())
}

// item is notice n's item without its account rows (putNotice adds them, bounded).
func (l *Ledger) item(n Notice) (map[string]types.AttributeValue, error) {
	var err error
	recipients, _ := attributevalue.Marshal(append([]string{}, n.Recipients...))
	item := stageKey(n.Campaign, n.Org, n.Stage)
	item["type"] = store.S("notice")
	item["GSI1PK"] = store.S(store.Key("NOTICES", n.Campaign))
	item["GSI1SK"] = store.S(store.Key(n.Org, n.Stage))
	item["campaign"] = store.S(n.Campaign)
	item["org"] = store.S(n.Org)
	item["org_name"] = store.S(n.OrgName)
	item["stage"] = store.S(n.Stage)
	item["status"] = store.S(string(n.Status))
	item["deadline"] = store.S(n.Deadline.String())
	item["planned_for"] = store.S(n.PlannedFor.String())
	item["first_contact"] = &types.AttributeValueMemberBOOL{Value: n.FirstContact}
	item["recipients"] = recipients
	item["claimed_at"] = store.S(n.ClaimedAt.Format(time.RFC3339Nano))
	if n.Domain != "" {
		item["domain"] = store.S(n.Domain)
	}
	if a := n.Acknowledged; a != nil {
		item["acknowledged_at"] = store.S(a.At.UTC().Format(time.RFC3339))
		item["acknowledged_by"] = store.S(a.By)
	}
	if len(n.Digest) > 0 {
		if item["digest"], err = attributevalue.MarshalWithOptions(n.Digest, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" }); err != nil {
			return nil, fmt.Errorf("notice %s/%s/%s digest: %w", n.Campaign, n.Org, n.Stage, err)
		}
		item["digest_more"] = store.N(int64(n.DigestMore))
	}
	if b := n.Brownout; b != nil {
		if item["brownout"], err = attributevalue.MarshalWithOptions(b, func(o *attributevalue.EncoderOptions) { o.TagKey = "json" }); err != nil {
			return nil, fmt.Errorf("notice %s/%s/%s brownout: %w", n.Campaign, n.Org, n.Stage, err)
		}
	}
	if n.Error != "" {
		item["error"] = store.S(n.Error)
	}
	if !n.ExpiresAt.IsZero() {
		item[store.TTLAttribute] = store.TTL(n.ExpiresAt)
	}
	return item, nil
}

type noticeItem struct {
	Campaign      string   `dynamodbav:"campaign"`
	Org           string   `dynamodbav:"org"`
	OrgName       string   `dynamodbav:"org_name"`
	Stage         string   `dynamodbav:"stage"`
	Status        Status   `dynamodbav:"status"`
	Deadline      string   `dynamodbav:"deadline"`
	PlannedFor    string   `dynamodbav:"planned_for"`
	FirstContact  bool     `dynamodbav:"first_contact"`
	Recipients    []string `dynamodbav:"recipients"`
	ClaimedAt     string   `dynamodbav:"claimed_at"`
	SentAt        string   `dynamodbav:"sent_at"`
	MessageID     string   `dynamodbav:"message_id"`
	ContentSHA256 string   `dynamodbav:"content_sha256"`
	Error         string   `dynamodbav:"error"`
	Domain        string   `dynamodbav:"domain"`
	AckAt         string   `dynamodbav:"acknowledged_at"`
	AckBy         string   `dynamodbav:"acknowledged_by"`
	ExpiresAt     int64    `dynamodbav:"expires_at"`
	SendStartedAt string   `dynamodbav:"send_started_at"`
	SettledBy     string   `dynamodbav:"settled_by"`
	Resends       []Resend `dynamodbav:"resends"`
	Merged        []string `dynamodbav:"merged,stringset"`
	Mailed        []string `dynamodbav:"mailed,stringset"`
	CarriedOnly   bool     `dynamodbav:"carried_only"`
	DayTaken      []string `dynamodbav:"day_taken,stringset"`
}

func noticeOf(it map[string]types.AttributeValue) (Notice, error) {
	var m noticeItem
	if err := attributevalue.UnmarshalMap(it, &m); err != nil {
		return Notice{}, fmt.Errorf("read notice item: %w", err)
	}
	n := Notice{
		Campaign: m.Campaign, Org: m.Org, OrgName: m.OrgName, Stage: m.Stage, Status: m.Status,
		FirstContact: m.FirstContact, Recipients: m.Recipients, MessageID: m.MessageID,
		ContentSHA256: m.ContentSHA256, Error: m.Error, Domain: m.Domain, SettledBy: m.SettledBy, Resends: m.Resends,
		Merged: m.Merged, Mailed: m.Mailed, CarriedOnly: m.CarriedOnly, DayTaken: m.DayTaken,
	}
	slices.Sort(n.Merged)
	slices.Sort(n.Mailed)
	n.SendStartedAt, _ = time.Parse(time.RFC3339Nano, m.SendStartedAt)
	if at, err := time.Parse(time.RFC3339, m.AckAt); err == nil {
		n.Acknowledged = &Acknowledgement{At: at, By: m.AckBy}
	}
	n.Deadline, _ = calendar.Parse(m.Deadline)
	n.PlannedFor, _ = calendar.Parse(m.PlannedFor)
	n.ClaimedAt, _ = time.Parse(time.RFC3339Nano, m.ClaimedAt)
	n.SentAt, _ = time.Parse(time.RFC3339Nano, m.SentAt)
	if m.ExpiresAt > 0 {
		n.ExpiresAt = time.Unix(m.ExpiresAt, 0).UTC()
	}
	if av, ok := it["digest"]; ok {
		if err := attributevalue.UnmarshalWithOptions(av, &n.Digest, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
			return Notice{}, fmt.Errorf("read notice %s/%s/%s digest: %w", m.Campaign, m.Org, m.Stage, err)
		}
		if v, ok := it["digest_more"].(*types.AttributeValueMemberN); ok {
			n.DigestMore, _ = strconv.Atoi(v.Value)
		}
	}
	if av, ok := it["brownout"]; ok {
		n.Brownout = &BrownoutSeen{}
		if err := attributevalue.UnmarshalWithOptions(av, n.Brownout, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
			return Notice{}, fmt.Errorf("read notice %s/%s/%s brownout: %w", m.Campaign, m.Org, m.Stage, err)
		}
	}
	if av, ok := it["accounts"]; ok {
		if err := attributevalue.UnmarshalWithOptions(av, &n.Accounts, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
			return Notice{}, fmt.Errorf("read notice %s/%s/%s accounts: %w", m.Campaign, m.Org, m.Stage, err)
		}
	}
	return n, nil
}

// Get returns the ledger entry of one stage for one organisation, or ErrNotFound.
func (l *Ledger) Get(ctx context.Context, campaign, org, stage string) (*Notice, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: stageKey(campaign, org, stage), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get notice %s/%s/%s: %w", campaign, org, stage, err)
	}
	if out.Item == nil {
		return nil, fmt.Errorf("get notice %s/%s/%s: %w", campaign, org, stage, ErrNotFound)
	}
	n, err := noticeOf(out.Item)
	if err != nil {
		return nil, err
	}
	if err := l.withRows(ctx, &n, out.Item); err != nil {
		return nil, err
	}
	return &n, nil
}

// History returns every ledger entry (any status) of one organisation in a campaign, in claim order.
func (l *Ledger) History(ctx context.Context, campaign, org string) ([]Notice, error) {
	out, err := l.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(l.table),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :p)"),
		ConsistentRead:         aws.Bool(true),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": store.S(pk(campaign, org)), ":p": store.S("STAGE#"),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("notice history %s/%s: %w", campaign, org, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ClaimedAt.Before(out[j].ClaimedAt) })
	return out, nil
}

// List returns every ledger entry of a campaign (any status), by organisation and stage name.
func (l *Ledger) List(ctx context.Context, campaign string) ([]Notice, error) {
	out, err := l.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(store.Key("NOTICES", campaign))},
	})
	if err != nil {
		return nil, fmt.Errorf("list notices of %s: %w", campaign, err)
	}
	return out, nil
}

// Summaries lists every ledger entry of a campaign like List, without the accounts,
// recipients, brownout and digest each notice carries: what a page of a campaign's
// organisations needs, at a fraction of the read.
func (l *Ledger) Summaries(ctx context.Context, campaign string) ([]Notice, error) {
	out, err := l.query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(l.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(store.Key("NOTICES", campaign))},
		ProjectionExpression: aws.String("campaign, org, org_name, stage, #s, deadline, planned_for, first_contact, claimed_at, " +
			"sent_at, message_id, #e, #d, send_started_at, settled_by"),
		ExpressionAttributeNames: map[string]string{"#s": "status", "#e": "error", "#d": "domain"},
	})
	if err != nil {
		return nil, fmt.Errorf("list notices of %s: %w", campaign, err)
	}
	return out, nil
}

// query reads the notices in, each with all its rows (a notice with row parts costs one more
// query; Summaries projects no rows, so reads none).
func (l *Ledger) query(ctx context.Context, in *dynamodb.QueryInput) ([]Notice, error) {
	var out []Notice
	var items []map[string]types.AttributeValue
	err := store.QueryAll(ctx, l.db, in, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			n, err := noticeOf(it)
			if err != nil {
				return err
			}
			out = append(out, n)
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		if in.ProjectionExpression == nil {
			if err := l.withRows(ctx, &out[i], items[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// MarkSent records that a claimed notice was sent as messageID. It also succeeds when SES's
// Send event for that very message settled the notice first (the feedback function can be
// quicker than the sender's own write): then it only adds the content hash. The common case is
// one write with the simplest condition; the race costs a second.
func (l *Ledger) MarkSent(ctx context.Context, campaign, org, stage, messageID, contentSHA256 string) error {
	err := l.finish(ctx, campaign, org, stage, "sent", Sent, "SET #s = :to, sent_at = :at, message_id = :m, content_sha256 = :h",
		map[string]types.AttributeValue{":m": store.S(messageID), ":h": store.S(contentSHA256)})
	if !errors.Is(err, ErrNotClaimed) {
		return err
	}
	return l.finishIf(ctx, campaign, org, stage, "sent", Sent, "SET content_sha256 = :h", "#s = :to AND message_id = :m",
		map[string]types.AttributeValue{":m": store.S(messageID), ":h": store.S(contentSHA256)})
}

// MarkFailed records that a claimed notice could not be sent, and why. It is not retried
// automatically: at most one notice per stage, ever.
func (l *Ledger) MarkFailed(ctx context.Context, campaign, org, stage, reason string) error {
	return l.finish(ctx, campaign, org, stage, "failed", Failed, "SET #s = :to, #e = :r, failed_at = :at",
		map[string]types.AttributeValue{":r": store.S(reason)})
}

// MarkSuppressed records that a claimed notice was not sent because every recipient is suppressed.
func (l *Ledger) MarkSuppressed(ctx context.Context, campaign, org, stage, reason string) error {
	return l.finish(ctx, campaign, org, stage, "suppressed", Suppressed, "SET #s = :to, #e = :r, suppressed_at = :at",
		map[string]types.AttributeValue{":r": store.S(reason)})
}

func (l *Ledger) finish(ctx context.Context, campaign, org, stage, what string, to Status, update string, vals map[string]types.AttributeValue) error {
	return l.finishIf(ctx, campaign, org, stage, what, to, update, "#s = :claimed", vals)
}

func (l *Ledger) finishIf(ctx context.Context, campaign, org, stage, what string, to Status, update, cond string, vals map[string]types.AttributeValue) error {
	vals[":to"] = store.S(string(to))
	vals[":claimed"] = store.S(string(Claimed))
	vals[":at"] = store.S(l.clock().UTC().Format(time.RFC3339Nano))
	for ph := range vals { // DynamoDB refuses a value the expressions do not use
		if !usesPlaceholder(update+" "+cond, ph) {
			delete(vals, ph)
		}
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       stageKey(campaign, org, stage),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names(update + " " + cond),
		ExpressionAttributeValues: vals,
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("mark notice %s/%s/%s %s: %w", campaign, org, stage, what, ErrNotClaimed)
	}
	if err != nil {
		return fmt.Errorf("mark notice %s/%s/%s %s: %w", campaign, org, stage, what, err)
	}
	return nil
}

// names are the attribute-name placeholders the ledger's expressions use, those expr needs
// (DynamoDB refuses a placeholder the expressions do not use).
func names(expr string) map[string]string {
	out := map[string]string{}
	for ph, name := range map[string]string{"#s": "status", "#e": "error"} {
		if strings.Contains(expr, ph) {
			out[ph] = name
		}
	}
	return out
}

// usesPlaceholder reports whether expr names placeholder ph (":m" is not used by ":msg").
func usesPlaceholder(expr, ph string) bool {
	for i := strings.Index(expr, ph); i >= 0; {
		end := i + len(ph)
		if end == len(expr) || !(expr[end] == '_' || expr[end] >= 'a' && expr[end] <= 'z' || expr[end] >= 'A' && expr[end] <= 'Z' || expr[end] >= '0' && expr[end] <= '9') {
			return true
		}
		next := strings.Index(expr[end:], ph)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}
