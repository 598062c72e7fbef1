package answers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Statuses of a dispute and of an extension request.
const (
	Pending    = "pending"
	Reassigned = "reassigned" // the account belongs to another organisation (for this campaign)
	Confirmed  = "confirmed"  // the team confirmed the account is the organisation's
	Approved   = "approved"
	Refused    = "refused"
)

// Ack is an acknowledgement: a recipient said the settings were changed.
type Ack struct {
	Org   string    `json:"org"`
	Stage string    `json:"stage"`
	By    string    `json:"by"` // the recipient's address, chosen from the notice's recipients
	At    time.Time `json:"at"`
	Note  string    `json:"note,omitempty"`
}

// Dispute is an account a recipient said is not their organisation's.
type Dispute struct {
	Org          string    `json:"org"`
	Stage        string    `json:"stage"`
	Account      string    `json:"account"`
	By           string    `json:"by"`
	At           time.Time `json:"at"`
	Note         string    `json:"note,omitempty"`
	Status       string    `json:"status"`
	ReassignedTo string    `json:"reassigned_to,omitempty"`
	ResolvedBy   string    `json:"resolved_by,omitempty"`
	ResolvedAt   time.Time `json:"resolved_at,omitzero"`
}

// Request is a recipient's request for more time: a date and a reason.
type Request struct {
	Org       string        `json:"org"`
	Stage     string        `json:"stage"`
	Until     calendar.Date `json:"until"`
	Reason    string        `json:"reason"`
	By        string        `json:"by"`
	At        time.Time     `json:"at"`
	Status    string        `json:"status"`
	DecidedBy string        `json:"decided_by,omitempty"`
	DecidedAt time.Time     `json:"decided_at,omitzero"`
	Decision  string        `json:"decision,omitempty"` // why, when refused
}

// Answers are every answer of a campaign, each list in organisation then time order.
type Answers struct {
	Acks     []Ack     `json:"acknowledgements"`
	Disputes []Dispute `json:"disputes"`
	Requests []Request `json:"extension_requests"`
}

// DB is the part of the DynamoDB client the store uses.
type DB interface {
	store.Putter
	store.Updater
	store.Querier
}

// Store keeps the answers in the Sunset table: PK=ANSWER#<campaign>#<ODS> with SK
// ACK#<stage>#<address>, DISPUTE#<account> or EXTREQ#<date>, all of a campaign listed by
// GSI1PK=ANSWERS#<campaign>; the reassignments at PK=OWNER#<campaign>, SK=<account>.
type Store struct {
	db    DB
	table string
	clock func() time.Time
}

// NewStore returns the answers store in table.
func NewStore(db DB, table string, clock func() time.Time) *Store {
	return &Store{db: db, table: table, clock: clock}
}

// ErrNotFound: no such dispute or request.
var ErrNotFound = errors.New("no such answer")

func answerPK(campaignID, ods string) string {
	return store.Key("ANSWER", campaignID, campaign.NormODS(ods))
}

// put writes an answer once: a second identical answer records nothing (false).
func (s *Store) put(ctx context.Context, campaignID, ods, sk string, attrs map[string]types.AttributeValue, expires time.Time) (bool, error) {
	item := map[string]types.AttributeValue{
		"PK": store.S(answerPK(campaignID, ods)), "SK": store.S(sk), "type": store.S("answer"),
		"GSI1PK": store.S(store.Key("ANSWERS", campaignID)), "GSI1SK": store.S(store.Key(campaign.NormODS(ods), sk)),
		"campaign": store.S(campaignID), "org": store.S(campaign.NormODS(ods)),
	}
	for k, v := range attrs {
		item[k] = v
	}
	if !expires.IsZero() {
		item[store.TTLAttribute] = store.TTL(expires)
	}
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(PK)")})
	if store.IsConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record answer %s of %s/%s: %w", sk, campaignID, ods, err)
	}
	return true, nil
}

func optional(m map[string]types.AttributeValue, k, v string) map[string]types.AttributeValue {
	if v != "" {
		m[k] = store.S(v)
	}
	return m
}

// Acknowledge records that by said the settings of org's notice at stage were changed; the
// same address acknowledging the same notice again records nothing (false).
func (s *Store) Acknowledge(ctx context.Context, campaignID string, a Ack, expires time.Time) (bool, error) {
	attrs := optional(map[string]types.AttributeValue{"kind": store.S("ack"), "stage": store.S(a.Stage), "by": store.S(a.By),
		"at": store.S(s.clock().UTC().Format(time.RFC3339))}, "note", a.Note)
	return s.put(ctx, campaignID, a.Org, store.Key("ACK", a.Stage, strings.ToLower(a.By)), attrs, expires)
}

// Dispute records that account is not org's, pending the team's decision; an account already
// disputed for the organisation records nothing (false).
func (s *Store) Dispute(ctx context.Context, campaignID string, d Dispute, expires time.Time) (bool, error) {
	attrs := optional(map[string]types.AttributeValue{"kind": store.S("dispute"), "stage": store.S(d.Stage), "by": store.S(d.By),
		"account": store.S(strings.ToLower(d.Account)), "status": store.S(Pending),
		"at": store.S(s.clock().UTC().Format(time.RFC3339))}, "note", d.Note)
	return s.put(ctx, campaignID, d.Org, store.Key("DISPUTE", strings.ToLower(d.Account)), attrs, expires)
}

// RequestTime records a request for org's deadline to move to r.Until, pending the team's
// decision; the same date asked again records nothing (false).
func (s *Store) RequestTime(ctx context.Context, campaignID string, r Request, expires time.Time) (bool, error) {
	attrs := map[string]types.AttributeValue{"kind": store.S("extension-request"), "stage": store.S(r.Stage), "by": store.S(r.By),
		"until": store.S(r.Until.String()), "reason": store.S(r.Reason), "status": store.S(Pending),
		"at": store.S(s.clock().UTC().Format(time.RFC3339))}
	return s.put(ctx, campaignID, r.Org, store.Key("EXTREQ", r.Until.String()), attrs, expires)
}

// List reads every answer of a campaign: one query of its index partition.
func (s *Store) List(ctx context.Context, campaignID string) (Answers, error) {
	out := Answers{Acks: []Ack{}, Disputes: []Dispute{}, Requests: []Request{}}
	err := store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(store.Key("ANSWERS", campaignID))},
	}, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			addItem(&out, it)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("list answers of %s: %w", campaignID, err)
	}
	sort.SliceStable(out.Acks, func(i, j int) bool { return less(out.Acks[i].Org, out.Acks[j].Org, out.Acks[i].At, out.Acks[j].At) })
	sort.SliceStable(out.Disputes, func(i, j int) bool {
		return less(out.Disputes[i].Org, out.Disputes[j].Org, out.Disputes[i].At, out.Disputes[j].At)
	})
	sort.SliceStable(out.Requests, func(i, j int) bool {
		return less(out.Requests[i].Org, out.Requests[j].Org, out.Requests[i].At, out.Requests[j].At)
	})
	return out, nil
}

func less(a, b string, ta, tb time.Time) bool {
	if a != b {
		return a < b
	}
	return ta.Before(tb)
}

func timeOf(v types.AttributeValue) time.Time {
	t, _ := time.Parse(time.RFC3339, store.Str(v))
	return t
}

// addItem files one item of the index partition into out.
func addItem(out *Answers, it map[string]types.AttributeValue) {
	org, stage, by, at := store.Str(it["org"]), store.Str(it["stage"]), store.Str(it["by"]), timeOf(it["at"])
	switch store.Str(it["kind"]) {
	case "ack":
		out.Acks = append(out.Acks, Ack{Org: org, Stage: stage, By: by, At: at, Note: store.Str(it["note"])})
	case "dispute":
		out.Disputes = append(out.Disputes, Dispute{Org: org, Stage: stage, Account: store.Str(it["account"]), By: by, At: at,
			Note: store.Str(it["note"]), Status: store.Str(it["status"]), ReassignedTo: store.Str(it["reassigned_to"]),
			ResolvedBy: store.Str(it["resolved_by"]), ResolvedAt: timeOf(it["resolved_at"])})
	case "extension-request":
		until, _ := calendar.Parse(store.Str(it["until"]))
		out.Requests = append(out.Requests, Request{Org: org, Stage: stage, Until: until, Reason: store.Str(it["reason"]), By: by, At: at,
			Status: store.Str(it["status"]), DecidedBy: store.Str(it["decided_by"]), DecidedAt: timeOf(it["decided_at"]),
			Decision: store.Str(it["decision"])})
	}
}

// decide moves a pending dispute or request to status, with who and the extra attributes; one
// that is not pending (decided before, or never made) is ErrNotFound or campaign.ErrRefused.
func (s *Store) decide(ctx context.Context, campaignID, ods, sk, status, by string, extra map[string]string) error {
	set := "#s = :to, decided_by = :by, decided_at = :at"
	vals := map[string]types.AttributeValue{":to": store.S(status), ":by": store.S(by), ":at": store.S(s.clock().UTC().Format(time.RFC3339)),
		":pending": store.S(Pending)}
	for k, v := range extra {
		set += ", " + k + " = :" + k
		vals[":"+k] = store.S(v)
	}
	if strings.HasPrefix(sk, "DISPUTE#") {
		set = strings.NewReplacer("decided_by", "resolved_by", "decided_at", "resolved_at").Replace(set)
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"PK": store.S(answerPK(campaignID, ods)), "SK": store.S(sk)},
		UpdateExpression:          aws.String("SET " + set),
		ConditionExpression:       aws.String("#s = :pending"),
		ExpressionAttributeNames:  map[string]string{"#s": "status"},
		ExpressionAttributeValues: vals,
	})
	if store.IsConditionFailed(err) {
		return fmt.Errorf("decide %s of %s/%s: %w: it is not pending (decided already, or never made)", sk, campaignID, ods, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("decide %s of %s/%s: %w", sk, campaignID, ods, err)
	}
	return nil
}

// ResolveDispute settles a pending dispute: with reassignTo, the account belongs to that
// organisation for this campaign from now on (its next notices go there, not to ods); without,
// the team confirmed it is ods's. The reassignment is written before the dispute is closed, so
// a failure between the two leaves a dispute to resolve again, never a closed one that moved
// nothing.
func (s *Store) ResolveDispute(ctx context.Context, c *campaign.Campaign, ods, account, reassignTo, by string) error {
	account = strings.ToLower(strings.TrimSpace(account))
	if reassignTo = campaign.NormODS(reassignTo); reassignTo != "" {
		if reassignTo == campaign.NormODS(ods) {
			return fmt.Errorf("resolve the dispute of %s: %w: it is %s's already", account, campaign.ErrRefused, reassignTo)
		}
		item := map[string]types.AttributeValue{
			"PK": store.S(store.Key("OWNER", c.ID)), "SK": store.S(account), "type": store.S("owner-override"),
			"account": store.S(account), "ods": store.S(reassignTo), "by": store.S(by), "at": store.S(s.clock().UTC().Format(time.RFC3339)),
		}
		if exp := c.RetainUntil(); !exp.IsZero() {
			item[store.TTLAttribute] = store.TTL(exp)
		}
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
			return fmt.Errorf("reassign %s to %s: %w", account, reassignTo, err)
		}
		return s.decide(ctx, c.ID, ods, store.Key("DISPUTE", account), Reassigned, by, map[string]string{"reassigned_to": reassignTo})
	}
	return s.decide(ctx, c.ID, ods, store.Key("DISPUTE", account), Confirmed, by, nil)
}

// Owners are the accounts the team reassigned for a campaign, and to whom: the planner files
// them under that organisation, whoever the directory says owns them.
func (s *Store) Owners(ctx context.Context, campaignID string) (map[string]string, error) {
	out := map[string]string{}
	err := store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(store.Key("OWNER", campaignID))},
	}, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			out[store.Str(it["account"])] = store.Str(it["ods"])
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reassigned accounts of %s: %w", campaignID, err)
	}
	return out, nil
}

// Extender makes an extension as `sunset campaign extend` does (campaign.Store).
type Extender interface {
	Extend(ctx context.Context, id, ods string, until calendar.Date, reason, by string) (*campaign.Extension, error)
}

// Approve grants a pending request: the campaign's extension is made first (refused past
// max_extension_days, as the CLI's is), then the request is marked approved.
func (s *Store) Approve(ctx context.Context, ext Extender, campaignID, ods string, until calendar.Date, by string) (*campaign.Extension, error) {
	reqs, err := s.List(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	var r *Request
	for i := range reqs.Requests {
		if q := &reqs.Requests[i]; q.Org == campaign.NormODS(ods) && q.Until == until && q.Status == Pending {
			r = q
		}
	}
	if r == nil {
		return nil, fmt.Errorf("approve %s's request for %s: %w", ods, until, ErrNotFound)
	}
	e, err := ext.Extend(ctx, campaignID, ods, until, "requested by "+r.By+": "+r.Reason, by)
	if err != nil {
		return nil, err
	}
	return e, s.decide(ctx, campaignID, ods, store.Key("EXTREQ", until.String()), Approved, by, nil)
}

// OrgAnswers is what one organisation answered in a campaign: one query of its own partition,
// bounded by the organisation (a status page's read).
func (s *Store) OrgAnswers(ctx context.Context, campaignID, ods string) (Answers, error) {
	out := Answers{Acks: []Ack{}, Disputes: []Dispute{}, Requests: []Request{}}
	err := store.QueryAll(ctx, s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": store.S(answerPK(campaignID, campaign.NormODS(ods)))},
	}, func(page []map[string]types.AttributeValue) error {
		for _, it := range page {
			addItem(&out, it)
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("read %s's answers to %s: %w", ods, campaignID, err)
	}
	return out, nil
}

// Refuse turns down a pending request, saying why.
func (s *Store) Refuse(ctx context.Context, campaignID, ods string, until calendar.Date, by, why string) error {
	if strings.TrimSpace(why) == "" {
		return fmt.Errorf("refuse %s's request: %w: say why (the team sees it beside the request)", ods, campaign.ErrRefused)
	}
	return s.decide(ctx, campaignID, ods, store.Key("EXTREQ", until.String()), Refused, by, map[string]string{"decision": why})
}

// Allow counts one request on key in the current minute and reports whether it is within
// limit: the answer pages' own rate limit per link (API Gateway limits per route and source).
// The count lives one hour.
func (s *Store) Allow(ctx context.Context, key string, limit int) (bool, error) {
	now := s.clock().UTC()
	sum := sha256.Sum256([]byte(key))
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       map[string]types.AttributeValue{"PK": store.S("RATE#" + hex.EncodeToString(sum[:12])), "SK": store.S(now.Format("2006-01-02T15:04"))},
		UpdateExpression:          aws.String("ADD n :one SET expires_at = if_not_exists(expires_at, :exp)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": store.N(1), ":exp": store.TTL(now.Add(time.Hour))},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return false, fmt.Errorf("count a request: %w", err)
	}
	n := 0
	if v, ok := out.Attributes["n"].(*types.AttributeValueMemberN); ok {
		n, _ = strconv.Atoi(v.Value)
	}
	return n <= limit, nil
}
