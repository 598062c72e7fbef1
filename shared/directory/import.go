package directory

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/spreadsheet"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// AccountShards is how many GSI1 partitions (ACCTS#0..15) spread the account list over, so a
// prune pages through 16 modest partitions instead of one hot one.
const AccountShards = 16

// maxBadRows is how many bad rows a Result keeps; BadRows counts them all.
const maxBadRows = 1000

// ImportInput names the files of one import. Either file may be nil (not imported).
type ImportInput struct {
	Orgs, Accounts         io.Reader
	OrgsName, AccountsName string
	// Prune marks organisations (when Orgs is given) and accounts (when Accounts is given)
	// that the files no longer list as gone. A key named on a bad row is never pruned.
	Prune bool
	// MaxPruneShare is the largest share (0-1) of a file's organisations, or of its accounts,
	// that one prune may mark gone; an import that would mark more (a header-only or
	// truncated file) prunes nothing and returns ErrPruneRefused saying how many. 0 means
	// DefaultMaxPruneShare; 1 or more never refuses.
	MaxPruneShare float64
	// PruneAnyway confirms a prune over MaxPruneShare (sunset directory import --prune-anyway).
	PruneAnyway bool
}

// DefaultMaxPruneShare is the share of organisations, or of accounts, a prune may mark gone
// without being confirmed: far above what one day's directory changes remove (a merger of
// trusts, practices closing), far below what a truncated or empty export would.
const DefaultMaxPruneShare = 0.10

// ErrPruneRefused means an import would have marked more than its MaxPruneShare gone: the rows
// were imported, nothing was pruned. The message says how many it would have marked.
var ErrPruneRefused = errors.New("prune refused")

// BadRow is a row that was skipped, and why. It never holds the row itself, nor any value of
// it but an organisation's ODS code: an address, a name or a raw field could be personal data,
// and the reasons reach logs. The line number finds the row in the file.
type BadRow struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Code   Code   `json:"code"`
	Reason string `json:"reason"`
}

// Code is why a row was skipped, as logs and metrics count it.
type Code string

// The reasons a row is skipped.
const (
	CodeUnreadable       Code = "unreadable-row"
	CodeMissingODS       Code = "missing-ods"
	CodeInvalidODS       Code = "invalid-ods"
	CodeDuplicateODS     Code = "duplicate-ods"
	CodeMissingName      Code = "missing-name"
	CodeInvalidEmail     Code = "invalid-email"
	CodeMissingEmail     Code = "missing-email"
	CodeInvalidSubdomain Code = "invalid-subdomain"
	CodeSubdomainTaken   Code = "subdomain-taken"
	CodeInvalidType      Code = "invalid-type"
	CodeUnknownOrg       Code = "unknown-org"
	CodeConflict         Code = "account-conflict"
)

func (b BadRow) String() string { return fmt.Sprintf("%s:%d: %s", b.File, b.Line, b.Reason) }

// Result is what an import did.
type Result struct {
	ImportID   string   `json:"import_id"`
	Orgs       int      `json:"orgs"`
	Subdomains int      `json:"subdomains"`
	Accounts   int      `json:"accounts"`
	BadRows    int      `json:"bad_rows"`
	Bad        []BadRow `json:"bad,omitempty"` // the first 1000
	// Codes counts the bad rows by reason.
	Codes          map[Code]int `json:"codes,omitempty"`
	PrunedOrgs     int          `json:"pruned_orgs"`
	PrunedAccounts int          `json:"pruned_accounts"`
	// WouldPruneOrgs and WouldPruneAccounts are what a refused prune would have marked gone.
	WouldPruneOrgs     int `json:"would_prune_orgs,omitempty"`
	WouldPruneAccounts int `json:"would_prune_accounts,omitempty"`
}

func (r *Result) bad(file string, line int, code Code, format string, args ...any) {
	r.BadRows++
	if r.Codes == nil {
		r.Codes = map[Code]int{}
	}
	r.Codes[code]++
	if len(r.Bad) < maxBadRows {
		r.Bad = append(r.Bad, BadRow{File: file, Line: line, Code: code, Reason: fmt.Sprintf(format, args...)})
	}
}

// ErrBadHeader means a CSV file lacks a required column; nothing of it was imported.
var ErrBadHeader = errors.New("bad CSV header")

// ErrBadFile means a CSV file broke a limit part way (a row over MaxRow): the rows before it
// were imported, nothing was pruned, and a retry of the same file cannot do better.
var ErrBadFile = errors.New("bad CSV file")

// MaxRow is the longest row a directory file may have: far above any real row (an
// organisation with fifty LA addresses is about 2 KiB), so a file of one enormous field is
// refused at this size instead of being read into memory.
const MaxRow = 64 << 10

// Import upserts the organisations, then the accounts, streaming each file and writing in
// batches of 25. An account must belong to an organisation of the organisations file (when one
// is given) or else to a live organisation already in the directory.
func (d *Directory) Import(ctx context.Context, in ImportInput) (*Result, error) {
	now := d.clock().UTC()
	res := &Result{ImportID: newImportID(now)}
	known := map[string]bool{} // ODS codes of the organisations file
	keep := map[string]bool{}  // keys named on bad rows: never pruned
	if in.Orgs != nil {
		if err := d.importOrgs(ctx, in.Orgs, name(in.OrgsName, "organisations"), now, res, known, keep); err != nil {
			return res, err
		}
	}
	if in.Accounts != nil {
		check := func(ods string) (bool, error) { return known[ods], nil }
		if in.Orgs == nil {
			check = d.liveOrgCache(ctx)
		}
		if err := d.importAccounts(ctx, in.Accounts, name(in.AccountsName, "accounts"), res, check, keep); err != nil {
			return res, err
		}
	}
	if !in.Prune {
		return res, nil
	}
	if err := d.checkPrune(ctx, in, res, keep); err != nil {
		return res, err
	}
	if in.Orgs != nil {
		n, err := d.prune(ctx, orgPartitions, res.ImportID, now, keep, false)
		res.PrunedOrgs = n
		if err != nil {
			return res, fmt.Errorf("prune organisations: %w", err)
		}
	}
	if in.Accounts != nil {
		n, err := d.prune(ctx, accountPartitions(), res.ImportID, now, keep, false)
		res.PrunedAccounts = n
		if err != nil {
			return res, fmt.Errorf("prune accounts: %w", err)
		}
	}
	return res, nil
}

var orgPartitions = []string{"ORGS"}

func accountPartitions() []string {
	parts := make([]string, AccountShards)
	for i := range parts {
		parts[i] = fmt.Sprintf("ACCTS#%d", i)
	}
	return parts
}

// checkPrune counts what the prune would mark gone, organisations and accounts, and refuses
// (ErrPruneRefused, nothing pruned) when either is over the import's share of its kind, unless
// confirmed. The share is of what the directory would have had: the file's rows plus those it
// no longer lists.
func (d *Directory) checkPrune(ctx context.Context, in ImportInput, res *Result, keep map[string]bool) error {
	if in.PruneAnyway {
		return nil
	}
	limit := in.MaxPruneShare
	if limit <= 0 {
		limit = DefaultMaxPruneShare
	}
	if limit >= 1 {
		return nil
	}
	var over []string
	for _, k := range []struct {
		given  bool
		parts  []string
		listed int
		would  *int
		what   string
	}{{in.Orgs != nil, orgPartitions, res.Orgs, &res.WouldPruneOrgs, "organisations"}, {in.Accounts != nil, accountPartitions(), res.Accounts, &res.WouldPruneAccounts, "accounts"}} {
		if !k.given {
			continue
		}
		n, err := d.prune(ctx, k.parts, res.ImportID, time.Time{}, keep, true)
		if err != nil {
			return fmt.Errorf("count what the prune would mark gone: %w", err)
		}
		if total := n + k.listed; n > 0 && float64(n) > limit*float64(total) {
			*k.would = n
			over = append(over, fmt.Sprintf("%d of %d %s (%.0f%%)", n, total, k.what, 100*float64(n)/float64(total)))
		}
	}
	if len(over) > 0 {
		return fmt.Errorf("%w: it would mark %s gone, over the %.0f%% one import may remove: is the file empty or cut short? The rows were imported and nothing was marked gone; check the file, or confirm with --prune-anyway", ErrPruneRefused, strings.Join(over, " and "), 100*limit)
	}
	return nil
}

func name(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newImportID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// csvFile reads a CSV file with a header row: BOM stripped, columns by case-insensitive name,
// unknown columns ignored.
type csvFile struct {
	r    *csv.Reader
	name string
	col  map[string]int
}

func openCSV(r io.Reader, name string, required, optional []string) (*csvFile, error) {
	br := bufio.NewReaderSize(spreadsheet.Limit(r, MaxRow), 64<<10)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("read %s: %w: the file is empty (a header row is required)", name, ErrBadHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s header: %w: %v", name, ErrBadHeader, err)
	}
	f := &csvFile{r: cr, name: name, col: map[string]int{}}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := f.col[h]; !dup {
			f.col[h] = i
		}
	}
	var missing []string
	for _, c := range required {
		if _, ok := f.col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("read %s: %w: missing column(s) %s (need %s; optional %s)", name, ErrBadHeader,
			strings.Join(missing, ", "), strings.Join(required, ","), strings.Join(optional, ","))
	}
	return f, nil
}

// next returns the next record and its line number; a record the CSV reader rejects is
// reported through bad and skipped.
func (f *csvFile) next(bad func(line int, code Code, format string, args ...any)) (rec []string, line int, err error) {
	for {
		rec, err := f.r.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			bad(pe.StartLine, CodeUnreadable, "unreadable CSV row: %v", pe.Err)
			continue
		}
		var tl *spreadsheet.TooLongError
		if errors.As(err, &tl) {
			return nil, 0, fmt.Errorf("read %s: %w: %v", f.name, ErrBadFile, tl)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", f.name, err)
		}
		line, _ := f.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		return rec, line, nil
	}
}

func (f *csvFile) get(rec []string, col string) string {
	i, ok := f.col[col]
	if !ok || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

type orgRow struct {
	ODS       string   `dynamodbav:"ods"`
	Name      string   `dynamodbav:"name"`
	LAEmails  []string `dynamodbav:"la_emails"`
	PLAEmail  string   `dynamodbav:"pla_email"`
	Subdomain string   `dynamodbav:"subdomain"`
}

func (d *Directory) importOrgs(ctx context.Context, r io.Reader, file string, now time.Time, res *Result, known, keep map[string]bool) error {
	f, err := openCSV(r, file, []string{"ods_code", "name", "la_emails", "pla_email"}, []string{"subdomain"})
	if err != nil {
		return err
	}
	w := d.newWriter(ctx)
	firstLine := map[string]int{}
	subOwner := map[string]string{}
	bad := func(line int, code Code, format string, args ...any) { res.bad(file, line, code, format, args...) }
	for {
		rec, line, err := f.next(bad)
		if err == io.EOF {
			break
		}
		if err != nil {
			w.close()
			return err
		}
		o := orgRow{ODS: normODS(f.get(rec, "ods_code")), Name: f.get(rec, "name")}
		if o.ODS == "" {
			bad(line, CodeMissingODS, "missing ods_code")
			continue
		}
		keep[store.Key("ORG", o.ODS)] = true // until proven good
		if !validODS(o.ODS) {
			bad(line, CodeInvalidODS, "invalid ods_code (letters and digits only)")
			continue
		}
		if l, dup := firstLine[o.ODS]; dup {
			bad(line, CodeDuplicateODS, "ods_code %s repeated (first on line %d)", o.ODS, l)
			continue
		}
		if o.Name == "" {
			bad(line, CodeMissingName, "%s: missing name", o.ODS)
			continue
		}
		if code, reason := orgContacts(&o, f, rec, subOwner); code != "" {
			bad(line, code, "%s", reason)
			continue
		}
		delete(keep, store.Key("ORG", o.ODS))
		firstLine[o.ODS] = line
		known[o.ODS] = true
		if err := putOrg(w, o, res, now); err != nil {
			w.close()
			return err
		}
		if o.Subdomain != "" {
			subOwner[o.Subdomain] = o.ODS
		}
	}
	if err := w.close(); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	return nil
}

// orgContacts reads an organisation row's LA and PLA addresses and sub-domain into o; a
// non-empty code is why the row is bad. subOwner holds the sub-domains earlier rows took.
func orgContacts(o *orgRow, f *csvFile, rec []string, subOwner map[string]string) (Code, string) {
	for i, e := range strings.Split(f.get(rec, "la_emails"), ";") {
		if strings.TrimSpace(e) == "" {
			continue
		}
		n, ok := normEmail(e)
		if !ok {
			return CodeInvalidEmail, fmt.Sprintf("%s: invalid email in la_emails (address %d)", o.ODS, i+1)
		}
		o.LAEmails = append(o.LAEmails, n)
	}
	if pla := f.get(rec, "pla_email"); pla != "" {
		n, ok := normEmail(pla)
		if !ok {
			return CodeInvalidEmail, fmt.Sprintf("%s: invalid pla_email", o.ODS)
		}
		o.PLAEmail = n
	}
	if sub := strings.ToLower(strings.TrimSuffix(f.get(rec, "subdomain"), ".")); sub != "" {
		switch owner, taken := subOwner[sub]; {
		case !validDomain(sub):
			return CodeInvalidSubdomain, fmt.Sprintf("%s: invalid subdomain", o.ODS)
		case taken:
			return CodeSubdomainTaken, fmt.Sprintf("%s: its subdomain already belongs to %s", o.ODS, owner)
		default:
			o.Subdomain = sub
		}
	}
	return "", ""
}

// putOrg writes a good organisation row, and its sub-domain item when it has one.
func putOrg(w *writer, o orgRow, res *Result, now time.Time) error {
	item, err := attributevalue.MarshalMap(o)
	if err != nil {
		return fmt.Errorf("encode organisation %s: %w", o.ODS, err)
	}
	withAttrs(item, orgKey(o.ODS), map[string]types.AttributeValue{
		"type": store.S("org"), "GSI1PK": store.S("ORGS"), "GSI1SK": store.S(o.ODS),
		"gone": &types.AttributeValueMemberBOOL{Value: false}, "import_id": store.S(res.ImportID),
		"imported_at": store.S(now.Format(time.RFC3339)),
	})
	if len(o.LAEmails) == 0 {
		item["la_emails"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
	}
	w.put(o.ODS, item)
	res.Orgs++
	if o.Subdomain != "" {
		w.put("sub:"+o.Subdomain, withAttrs(subdomainKey(o.Subdomain), map[string]types.AttributeValue{
			"type": store.S("subdomain"), "GSI1PK": store.S(store.Key("SUBDOMAIN", o.Subdomain)),
			"GSI1SK": store.S(o.ODS), "domain": store.S(o.Subdomain), "ods": store.S(o.ODS),
			"import_id": store.S(res.ImportID),
		}))
		res.Subdomains++
	}
	return nil
}

// liveOrgCache checks ODS codes against the directory, once per code.
func (d *Directory) liveOrgCache(ctx context.Context) func(string) (bool, error) {
	cache := map[string]bool{}
	return func(ods string) (bool, error) {
		if ok, seen := cache[ods]; seen {
			return ok, nil
		}
		out, err := d.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(d.table), Key: orgKey(ods)})
		if err != nil {
			return false, fmt.Errorf("read organisation %s: %w", ods, err)
		}
		ok := false
		if out.Item != nil {
			var o Org
			if err := attributevalue.UnmarshalMap(out.Item, &o); err == nil {
				ok = !o.Gone
			}
		}
		cache[ods] = ok
		return ok, nil
	}
}

var accountTypes = map[string]bool{"user": true, "shared": true, "application": true}

func (d *Directory) importAccounts(ctx context.Context, r io.Reader, file string, res *Result, knownOrg func(string) (bool, error), keep map[string]bool) error {
	f, err := openCSV(r, file, []string{"email", "ods_code"}, []string{"type"})
	if err != nil {
		return err
	}
	w := d.newWriter(ctx)
	bad := func(line int, code Code, format string, args ...any) { res.bad(file, line, code, format, args...) }
	seen := newAccountSet()
	for {
		rec, line, err := f.next(bad)
		if err == io.EOF {
			break
		}
		if err != nil {
			w.close()
			return err
		}
		raw := f.get(rec, "email")
		email, ok := normEmail(raw)
		if raw == "" {
			bad(line, CodeMissingEmail, "missing email")
			continue
		}
		if !ok {
			bad(line, CodeInvalidEmail, "invalid email")
			continue
		}
		ods := normODS(f.get(rec, "ods_code"))
		typ := strings.ToLower(f.get(rec, "type"))
		if typ == "" {
			typ = "user"
		}
		switch {
		case ods == "":
			keep[store.Key("ACCT", email)] = true
			bad(line, CodeMissingODS, "missing ods_code")
			continue
		case !validODS(ods):
			keep[store.Key("ACCT", email)] = true
			bad(line, CodeInvalidODS, "invalid ods_code (letters and digits only)")
			continue
		case !accountTypes[typ]:
			keep[store.Key("ACCT", email)] = true
			bad(line, CodeInvalidType, "unknown type (user, shared or application)")
			continue
		}
		known, err := knownOrg(ods)
		if err != nil {
			w.close()
			return err
		}
		if !known {
			keep[store.Key("ACCT", email)] = true
			bad(line, CodeUnknownOrg, "unknown organisation %s", ods)
			continue
		}
		if first, dup := seen.add(email, line, ods); dup {
			bad(line, CodeConflict, "the account is also listed on line %d, for %s; the first row wins, this one (%s) is skipped", first.line, seen.ods(first), ods)
			continue
		}
		local := email[:strings.IndexByte(email, '@')]
		w.put(email, withAttrs(acctKey(email), map[string]types.AttributeValue{
			"type": store.S("account"), "GSI1PK": store.S(fmt.Sprintf("ACCTS#%d", shard(email))),
			"GSI1SK": store.S(email), "GSI2PK": store.S(store.Key("LOCAL", local)), "GSI2SK": store.S(email),
			"ods": store.S(ods), "account_type": store.S(typ),
			"gone": &types.AttributeValueMemberBOOL{Value: false}, "import_id": store.S(res.ImportID),
		}))
		res.Accounts++
	}
	if err := w.close(); err != nil {
		return fmt.Errorf("import %s: %w", file, err)
	}
	return nil
}

// accountSet remembers the accounts an import has written, 12 bytes each (a 64-bit hash of the
// address, the row's line and its organisation), so an account listed twice is caught without
// holding the addresses: 1.5M accounts cost about 30 MiB.
type accountSet struct {
	rows   map[uint64]accountRow
	orgs   []string
	orgIdx map[string]uint32
}

type accountRow struct {
	line int32
	org  uint32
}

func newAccountSet() *accountSet {
	return &accountSet{rows: map[uint64]accountRow{}, orgIdx: map[string]uint32{}}
}

// add records email's row; when it was written before it returns that first row and true.
func (s *accountSet) add(email string, line int, ods string) (accountRow, bool) {
	h := fnv.New64a()
	_, _ = h.Write([]byte(email))
	k := h.Sum64()
	if first, ok := s.rows[k]; ok {
		return first, true
	}
	i, ok := s.orgIdx[ods]
	if !ok {
		i = uint32(len(s.orgs))
		s.orgs = append(s.orgs, ods)
		s.orgIdx[ods] = i
	}
	s.rows[k] = accountRow{line: int32(line), org: i}
	return accountRow{}, false
}

func (s *accountSet) ods(r accountRow) string { return s.orgs[r.org] }

func shard(email string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(email))
	return h.Sum32() % AccountShards
}

// withAttrs adds the attributes of each of more to item and returns it.
func withAttrs(item map[string]types.AttributeValue, more ...map[string]types.AttributeValue) map[string]types.AttributeValue {
	for _, m := range more {
		maps.Copy(item, m)
	}
	return item
}

// prune marks every item of these GSI1 partitions that this import did not write as gone,
// unless a bad row named it, and returns how many it marked (count: only counts them). The
// condition keeps a concurrent, newer import's items alive.
func (d *Directory) prune(ctx context.Context, partitions []string, importID string, now time.Time, keep map[string]bool, count bool) (int, error) {
	n := 0
	for _, p := range partitions {
		err := store.QueryAll(ctx, d.db, &dynamodb.QueryInput{
			TableName:                 aws.String(d.table),
			IndexName:                 aws.String(store.GSI1),
			KeyConditionExpression:    aws.String("GSI1PK = :p"),
			FilterExpression:          aws.String("import_id <> :id AND gone <> :t"),
			ProjectionExpression:      aws.String("PK, SK"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(p), ":id": store.S(importID), ":t": &types.AttributeValueMemberBOOL{Value: true}},
		}, func(items []map[string]types.AttributeValue) error {
			for _, it := range items {
				if keep[it["PK"].(*types.AttributeValueMemberS).Value] {
					continue
				}
				if count {
					n++
					continue
				}
				_, err := d.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName:                 aws.String(d.table),
					Key:                       map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]},
					UpdateExpression:          aws.String("SET gone = :t, gone_at = :now"),
					ConditionExpression:       aws.String("attribute_exists(PK) AND import_id <> :id"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":now": store.S(now.Format(time.RFC3339)), ":id": store.S(importID)},
				})
				if store.IsConditionFailed(err) {
					continue
				}
				if err != nil {
					return fmt.Errorf("mark %v gone: %w", it["PK"], err)
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// writer spreads puts over d.Workers goroutines by a hash of the item's identity, so every
// write of one key goes through one goroutine, in file order: a key repeated in a file ends
// with its last row, and no batch holds a key twice (BatchWriteItem refuses that).
type writer struct {
	chans []chan wItem
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	ctx   context.Context
	stop  context.CancelFunc
}

type wItem struct {
	id   string
	item map[string]types.AttributeValue
}

func (d *Directory) newWriter(ctx context.Context) *writer {
	n := max(1, d.Workers)
	ctx, stop := context.WithCancel(ctx)
	w := &writer{chans: make([]chan wItem, n), ctx: ctx, stop: stop}
	for i := range w.chans {
		ch := make(chan wItem, 64)
		w.chans[i] = ch
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			batch := make([]map[string]types.AttributeValue, 0, 25)
			ids := map[string]bool{}
			flush := func() {
				if len(batch) == 0 {
					return
				}
				if err := store.BatchPut(ctx, d.db, d.table, batch); err != nil {
					w.fail(err)
				}
				batch = batch[:0]
				clear(ids)
			}
			for it := range ch {
				if w.failed() {
					continue // drain
				}
				if ids[it.id] {
					flush()
				}
				batch = append(batch, it.item)
				ids[it.id] = true
				if len(batch) == 25 {
					flush()
				}
			}
			if !w.failed() {
				flush()
			}
		}()
	}
	return w
}

func (w *writer) put(id string, item map[string]types.AttributeValue) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	select {
	case w.chans[h.Sum32()%uint32(len(w.chans))] <- wItem{id: id, item: item}:
	case <-w.ctx.Done():
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		w.stop()
	}
}

func (w *writer) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

func (w *writer) close() error {
	for _, ch := range w.chans {
		close(ch)
	}
	w.wg.Wait()
	w.stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// normEmail lower-cases an address and checks its shape: one '@', a local part, a dotted
// domain, no spaces or separators.
func normEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || len(s) > 254 || !validLocal(s[:at]) {
		return s, false
	}
	return s, validDomain(s[at+1:])
}

// validLocal reports whether l is an address's local part as mail systems take it unquoted
// (RFC 5322's dot-atom): printable ASCII letters, digits and !#$%&'*+/=?^_`{|}~- in dot-separated
// runs, at most 64. So no control character, no space, no bidi or invisible character reaches a
// stored address, where it would make SES refuse every notice of that organisation and be
// logged with the refusal.
func validLocal(l string) bool {
	if l == "" || len(l) > 64 || l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0) {
			return false
		}
	}
	return true
}

func validDomain(d string) bool {
	if len(d) < 3 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func validODS(s string) bool {
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return len(s) <= 12
}
