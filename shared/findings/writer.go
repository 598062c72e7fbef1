package findings

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Unassigned is the organisation of findings whose account no organisation owns.
const Unassigned = "UNASSIGNED"

// srcPrefix starts the name of the attribute holding one source file's contribution. It is a
// top-level attribute, not an entry of one map, because DynamoDB can not create a map and set
// a key of it in one UpdateItem: per-file top-level attributes keep it one request.
const srcPrefix = "src_"

// Updater is the part of the DynamoDB client the Writer uses.
type Updater interface {
	store.Updater
	store.Putter
}

// Writer records findings.
type Writer struct {
	db    Updater
	table string
	// Parallel bounds the UpdateItem requests in flight (default 16).
	Parallel int
}

// NewWriter returns a writer to table.
func NewWriter(db Updater, table string) *Writer { return &Writer{db: db, table: table, Parallel: 16} }

// Batch says where a file's findings go.
type Batch struct {
	Campaign string
	// Source is the stable identity of the file: bucket/key#version-or-etag for S3 objects.
	Source string
	// Owners maps accounts to the ODS code of their organisation (missing: unassigned).
	Owners map[string]string
	// ExpiresAt is the findings' TTL (the campaign's end plus its retention).
	ExpiresAt time.Time
	// Part numbers the partial findings of a file too large for the scanner's memory budget
	// (0: the first, or the only one). A file's parts are cut at the same places on every
	// attempt, so each part's contribution is its own attribute, SET again on a retry: parts
	// add up, and no part counts twice.
	Part int
}

// SourceAttr is the name of the attribute holding part of source's contribution: the source's
// own for part 0, with the part number after it for the others.
func SourceAttr(source string, part int) string {
	h := sha256.Sum256([]byte(source))
	a := srcPrefix + hex.EncodeToString(h[:8])
	if part > 0 {
		a += "_" + strconv.Itoa(part)
	}
	return a
}

// Write records findings (from a Scanner with Options.ByDay) of one file: one UpdateItem per
// finding. It returns how many were written; on error some may have been, and writing the
// same batch again completes it without counting anything twice.
func (w *Writer) Write(ctx context.Context, b Batch, fs []connlog.Finding) (int, error) {
	if b.Campaign == "" || b.Source == "" {
		return 0, fmt.Errorf("write findings: campaign and source are required")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		first   error
		written int
		wg      sync.WaitGroup
		sem     = make(chan struct{}, max(1, w.Parallel))
	)
	for i := range fs {
		in, err := w.update(b, &fs[i])
		if err != nil {
			return written, err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := w.db.UpdateItem(ctx, in)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("write finding %s %s: %w", in.Key["PK"].(*types.AttributeValueMemberS).Value, in.Key["SK"].(*types.AttributeValueMemberS).Value, err)
					cancel()
				}
				return
			}
			written++
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("write findings of %s: %w", b.Source, ctx.Err())
	}
	return written, first
}

func (w *Writer) update(b Batch, f *connlog.Finding) (*dynamodb.UpdateItemInput, error) {
	if f.Day == "" {
		return nil, fmt.Errorf("write finding of %s: no day (scan with Options.ByDay)", b.Source)
	}
	host := strings.ToLower(f.Hostname)
	contrib := &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"s":     store.N(f.Successes),
		"f":     store.N(f.Failures),
		"first": store.S(f.FirstSeen.UTC().Format(time.RFC3339Nano)),
		"last":  store.S(f.LastSeen.UTC().Format(time.RFC3339Nano)),
	}}
	names := map[string]string{"#type": "type", "#day": "day", "#src": SourceAttr(b.Source, b.Part)}
	vals := map[string]types.AttributeValue{
		":hostname": store.S(host), ":protocol": store.S(f.Protocol), ":day": store.S(f.Day),
		":src": contrib, ":exp": store.TTL(b.ExpiresAt),
	}
	set := []string{"hostname = :hostname", "protocol = :protocol", "#day = :day", "#src = :src", "expires_at = :exp",
		"GSI1PK = :g1pk", "GSI1SK = :g1sk"}
	var key map[string]types.AttributeValue
	vals[":g1pk"] = store.S(store.Key("DAY", b.Campaign, f.Day))
	if f.Account != nil && *f.Account != "" {
		acct := *f.Account
		ods := b.Owners[acct]
		if ods == "" {
			ods = Unassigned
		}
		key = map[string]types.AttributeValue{
			"PK": store.S(store.Key("FIND", b.Campaign, acct)),
			"SK": store.S(store.Key(f.Day, host, f.Protocol)),
		}
		vals[":type"] = store.S("finding")
		vals[":account"] = store.S(acct)
		vals[":ods"] = store.S(ods)
		vals[":g1sk"] = store.S(store.Key(acct, host, f.Protocol))
		vals[":g2pk"] = store.S(store.Key("ORGFIND", b.Campaign, ods))
		vals[":g2sk"] = store.S(store.Key(f.Day, acct, host, f.Protocol))
		set = append(set, "#type = :type", "account = :account", "ods = :ods", "GSI2PK = :g2pk", "GSI2SK = :g2sk")
	} else {
		ip := f.Key().ClientIP
		key = map[string]types.AttributeValue{
			"PK": store.S(store.Key("UNATTR", b.Campaign, host)),
			"SK": store.S(store.Key(f.Day, f.Protocol, ip)),
		}
		vals[":type"] = store.S("unattributed")
		vals[":ip"] = store.S(ip)
		vals[":g1sk"] = store.S("~" + store.Key("UNATTR", host, f.Protocol, ip))
		set = append(set, "#type = :type", "client_ip = :ip")
	}
	if f.DirectIP {
		vals[":direct"] = &types.AttributeValueMemberBOOL{Value: true}
		set = append(set, "direct_ip = :direct")
	} else {
		vals[":direct"] = &types.AttributeValueMemberBOOL{Value: false}
		set = append(set, "direct_ip = if_not_exists(direct_ip, :direct)")
	}
	expr := "SET " + strings.Join(set, ", ")
	var add []string
	for _, s := range []struct {
		attr string
		vals []string
	}{{"client_ips", f.ClientIPs}, {"user_agents", f.UserAgents}, {"device_ids", f.DeviceIDs}} {
		if v := nonEmpty(s.vals); len(v) > 0 {
			vals[":"+s.attr] = &types.AttributeValueMemberSS{Value: v}
			add = append(add, s.attr+" :"+s.attr)
		}
	}
	if len(add) > 0 {
		expr += " ADD " + strings.Join(add, ", ")
	}
	return &dynamodb.UpdateItemInput{
		TableName:                 aws.String(w.table),
		Key:                       key,
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}, nil
}

// nonEmpty drops empty strings and duplicates: a string set may hold neither.
func nonEmpty(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
