package findings

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Caps on the lists an Activity shows (the stored sets may hold more).
const (
	MaxClientIPs  = 10
	MaxUserAgents = 5
	MaxDeviceIDs  = 10
)

// Activity is one stored finding: an account (or, unattributed, a client address) on one
// legacy hostname over one protocol on one UTC day, with totals over every file that saw it.
type Activity struct {
	Account  string
	Hostname string
	Protocol string
	Day      calendar.Date
	// ODS is the organisation resolved when the finding was last written; Unassigned when none
	// owned the account then. The planner re-resolves through the directory.
	ODS                   string
	FirstSeen, LastSeen   time.Time
	Successes, Failures   int64
	ClientIPs, UserAgents []string
	DeviceIDs             []string
	DirectIP              bool
	// ClientIP is set on unattributed activity (Account == "").
	ClientIP string
	// Sources is how many files contributed.
	Sources int
}

// Querier is the part of the DynamoDB client the Reader uses.
type Querier interface {
	store.Querier
	store.Getter
}

// Reader reads findings and file summaries.
type Reader struct {
	db    Querier
	table string
}

// NewReader returns a reader of table.
func NewReader(db Querier, table string) *Reader { return &Reader{db: db, table: table} }

// Window returns every finding of the campaign on the days from..to (inclusive): attributed
// ones first (by account, hostname, protocol), then unattributed ones, day by day.
func (r *Reader) Window(ctx context.Context, campaignID string, from, to calendar.Date) ([]Activity, error) {
	var out []Activity
	for d := from; !d.After(to); d = d.AddDays(1) {
		err := r.query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(r.table),
			IndexName:                 aws.String(store.GSI1),
			KeyConditionExpression:    aws.String("GSI1PK = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(store.Key("DAY", campaignID, d.String()))},
		}, &out)
		if err != nil {
			return nil, fmt.Errorf("read findings of %s on %s: %w", campaignID, d, err)
		}
	}
	return out, nil
}

// Org returns an organisation's findings (as resolved at write time) on the days from..to,
// by day then account; Org(ctx, id, Unassigned, ...) is the unassigned list.
func (r *Reader) Org(ctx context.Context, campaignID, ods string, from, to calendar.Date) ([]Activity, error) {
	var out []Activity
	err := r.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(r.table),
		IndexName:              aws.String(store.GSI2),
		KeyConditionExpression: aws.String("GSI2PK = :p AND GSI2SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p":    store.S(store.Key("ORGFIND", campaignID, strings.ToUpper(ods))),
			":from": store.S(from.String()), ":to": store.S(to.String() + "~"),
		},
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("read findings of %s for %s: %w", campaignID, ods, err)
	}
	return out, nil
}

// Unassigned returns the findings from..to of accounts no organisation owned when they were
// last written: the list the team must see. Callers that need today's view re-resolve them.
func (r *Reader) Unassigned(ctx context.Context, campaignID string, from, to calendar.Date) ([]Activity, error) {
	return r.Org(ctx, campaignID, Unassigned, from, to)
}

// Account returns one account's findings from..to, by day.
func (r *Reader) Account(ctx context.Context, campaignID, account string, from, to calendar.Date) ([]Activity, error) {
	var out []Activity
	err := r.query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(r.table),
		KeyConditionExpression: aws.String("PK = :p AND SK BETWEEN :from AND :to"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":p":    store.S(store.Key("FIND", campaignID, strings.ToLower(account))),
			":from": store.S(from.String()), ":to": store.S(to.String() + "~"),
		},
	}, &out)
	if err != nil {
		return nil, fmt.Errorf("read findings of %s for %s: %w", campaignID, account, err)
	}
	return out, nil
}

func (r *Reader) query(ctx context.Context, in *dynamodb.QueryInput, out *[]Activity) error {
	return store.QueryAll(ctx, r.db, in, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			a, err := decode(it)
			if err != nil {
				return err
			}
			*out = append(*out, a)
		}
		return nil
	})
}

// decode turns a finding item into an Activity, deriving the totals from the per-file
// contributions.
func decode(it map[string]types.AttributeValue) (Activity, error) {
	a := Activity{
		Account: store.Str(it["account"]), Hostname: store.Str(it["hostname"]), Protocol: store.Str(it["protocol"]),
		ODS: store.Str(it["ods"]), ClientIP: store.Str(it["client_ip"]),
	}
	day, err := calendar.Parse(store.Str(it["day"]))
	if err != nil {
		return a, fmt.Errorf("decode finding %s %s: day: %w", store.Str(it["PK"]), store.Str(it["SK"]), err)
	}
	a.Day = day
	if b, ok := it["direct_ip"].(*types.AttributeValueMemberBOOL); ok {
		a.DirectIP = b.Value
	}
	var files []string
	for name, v := range it {
		if !strings.HasPrefix(name, srcPrefix) {
			continue
		}
		m, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			continue
		}
		s, _ := strconv.ParseInt(num(m.Value["s"]), 10, 64)
		f, _ := strconv.ParseInt(num(m.Value["f"]), 10, 64)
		first, err1 := time.Parse(time.RFC3339Nano, store.Str(m.Value["first"]))
		last, err2 := time.Parse(time.RFC3339Nano, store.Str(m.Value["last"]))
		if err1 != nil || err2 != nil {
			return a, fmt.Errorf("decode finding %s %s: contribution %s: bad time", store.Str(it["PK"]), store.Str(it["SK"]), name)
		}
		if file, _, _ := strings.Cut(name[len(srcPrefix):], "_"); !slices.Contains(files, file) {
			files = append(files, file)
			a.Sources++
		}
		a.Successes += s
		a.Failures += f
		if a.FirstSeen.IsZero() || first.Before(a.FirstSeen) {
			a.FirstSeen = first
		}
		if last.After(a.LastSeen) {
			a.LastSeen = last
		}
	}
	a.ClientIPs = capped(it["client_ips"], MaxClientIPs)
	a.UserAgents = capped(it["user_agents"], MaxUserAgents)
	a.DeviceIDs = capped(it["device_ids"], MaxDeviceIDs)
	return a, nil
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return "0"
}

// capped returns a string set sorted, at most n of it (sets have no order to keep).
func capped(v types.AttributeValue, n int) []string {
	ss, ok := v.(*types.AttributeValueMemberSS)
	if !ok || len(ss.Value) == 0 {
		return nil
	}
	out := append([]string(nil), ss.Value...)
	sort.Strings(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}
