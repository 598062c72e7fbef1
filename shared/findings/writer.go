package findings

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Updater is the part of the DynamoDB client the Writer uses.
type Updater interface {
	store.Getter
	store.Updater
	store.Putter
}

// Writer stages files' findings and commits them to a merge batch (docs/data-model.md,
// "Exactly once per file"); a Merger adds them to the table.
type Writer struct {
	db    Updater
	table string
	stage Stage
	clock func() time.Time
}

// NewWriter returns a writer staging in stage and committing to table.
func NewWriter(db Updater, table string, stage Stage, clock func() time.Time) *Writer {
	return &Writer{db: db, table: table, stage: stage, clock: clock}
}

// Batch says where a file's findings go.
type Batch struct {
	Campaign string
	// Source is the stable identity of the file: bucket/key#version-or-etag for S3 objects.
	Source string
	// Owners maps accounts to the ODS code of their organisation (missing: unassigned).
	Owners map[string]string
	// Part numbers the partial findings of a file too large for the scanner's memory budget
	// (0: the first, or the only one). A file's parts are cut at the same places on every
	// attempt, so each part is its own staged object, written again on a retry.
	Part int
}

// Stage writes one part of a file's findings (from a Scanner with Options.ByDay) as a staged
// object. Writing it again writes the same findings: nothing is counted until Commit.
func (w *Writer) Stage(ctx context.Context, b Batch, fs []connlog.Finding) error {
	if b.Campaign == "" || b.Source == "" {
		return fmt.Errorf("stage findings: campaign and source are required")
	}
	cs := make([]Contribution, 0, len(fs))
	for i := range fs {
		f := &fs[i]
		if f.Day == "" {
			return fmt.Errorf("stage findings of %s: no day (scan with Options.ByDay)", b.Source)
		}
		var ods string
		if f.Account != nil {
			ods = b.Owners[*f.Account]
		}
		cs = append(cs, contributionOf(f, ods))
	}
	body, err := encode(cs)
	if err != nil {
		return fmt.Errorf("stage findings of %s: %w", b.Source, err)
	}
	return w.stage.Put(ctx, stagedKey(b.Campaign, FileID(b.Source), b.Part), body)
}

// maxBatchFiles bounds the files of one shard of a merge batch, so its item stays far below
// DynamoDB's limit: a commit past it waits for the next merge.
const maxBatchFiles = 15000

// batchShards is how many items a merge batch is kept in (a file's by its id): an hour's 300
// files at national scale make each shard about 20 entries, so a commit costs one write unit,
// not the 6 of one item holding them all.
const batchShards = 16

func batchShard(fileID string) int {
	h := fnv.New32a()
	h.Write([]byte(fileID))
	return int(h.Sum32() % batchShards)
}

// Commit makes a staged file (parts objects) count, exactly once: it adds the file to the
// campaign's open merge batch, the one the ledger already names for it if any. A batch that a
// merge sealed meanwhile either holds the file already (an earlier attempt got there: done) or
// does not (the ledger moves the file to the open batch, conditionally, and it commits there).
// It returns the batch.
func (w *Writer) Commit(ctx context.Context, campaignID, source string, parts int) (int64, error) {
	entry := FileID(source) + ":" + strconv.Itoa(parts)
	shard := batchShard(FileID(source))
	b, err := w.claim(ctx, campaignID, source)
	if err != nil {
		return 0, err
	}
	for range 20 {
		_, err := w.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(w.table), Key: batchKey(campaignID, b, shard),
			UpdateExpression:          aws.String("ADD files :f SET #type = :t, expires_at = if_not_exists(expires_at, :exp)"),
			ConditionExpression:       aws.String("attribute_not_exists(sealed_at) AND (attribute_not_exists(files) OR size(files) < :max)"),
			ExpressionAttributeNames:  map[string]string{"#type": "type"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":f": &types.AttributeValueMemberSS{Value: []string{entry}}, ":t": store.S("merge-batch"), ":max": store.N(maxBatchFiles), ":exp": store.TTL(w.clock().Add(batchRetention))},
		})
		if err == nil {
			return b, nil
		}
		if !store.IsConditionFailed(err) {
			return 0, fmt.Errorf("commit %s to batch %d of %s: %w", source, b, campaignID, err)
		}
		got, err := w.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(w.table), Key: batchKey(campaignID, b, shard), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return 0, fmt.Errorf("commit %s: read batch %d of %s: %w", source, b, campaignID, err)
		}
		if ss, ok := got.Item["files"].(*types.AttributeValueMemberSS); ok && slices.Contains(ss.Value, entry) {
			return b, nil
		}
		if _, sealed := got.Item["sealed_at"]; !sealed {
			return 0, fmt.Errorf("commit %s: batch %d of %s holds %d files, waiting for a merge", source, b, campaignID, maxBatchFiles)
		}
		if b, err = w.move(ctx, campaignID, source, b); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("commit %s to %s: the batches kept being sealed", source, campaignID)
}

// claim returns the batch the file's ledger entry names, naming the open batch first if none.
func (w *Writer) claim(ctx context.Context, campaignID, source string) (int64, error) {
	open, _, err := readState(ctx, w.db, w.table, campaignID)
	if err != nil {
		return 0, err
	}
	out, err := w.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(w.table), Key: fileKey(source, campaignID),
		UpdateExpression:          aws.String("SET #b = if_not_exists(#b, :b)"),
		ExpressionAttributeNames:  map[string]string{"#b": "batch"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": store.N(open)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, fmt.Errorf("commit %s to %s: %w", source, campaignID, err)
	}
	return num64(out.Attributes["batch"]), nil
}

// move re-names the file's batch from a sealed one to the open one; if another attempt moved
// it first, its choice stands.
func (w *Writer) move(ctx context.Context, campaignID, source string, from int64) (int64, error) {
	open, _, err := readState(ctx, w.db, w.table, campaignID)
	if err != nil {
		return 0, err
	}
	out, err := w.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(w.table), Key: fileKey(source, campaignID),
		UpdateExpression:          aws.String("SET #b = :to"),
		ConditionExpression:       aws.String("#b = :from"),
		ExpressionAttributeNames:  map[string]string{"#b": "batch"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":to": store.N(open), ":from": store.N(from)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if store.IsConditionFailed(err) {
		return w.claim(ctx, campaignID, source)
	}
	if err != nil {
		return 0, fmt.Errorf("commit %s to %s: move to batch %d: %w", source, campaignID, open, err)
	}
	return num64(out.Attributes["batch"]), nil
}

func num64(v types.AttributeValue) int64 {
	n, _ := strconv.ParseInt(num(v), 10, 64)
	return n
}

func num(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return "0"
}

// The merge state of a campaign: the open batch new files commit to, the last batch merged,
// and the merger's lease; and one item a batch.
func stateKey(campaignID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("MERGE", campaignID)), "SK": store.S("STATE")}
}

func batchKey(campaignID string, b int64, shard int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": store.S(store.Key("MERGE", campaignID)), "SK": store.S(fmt.Sprintf("BATCH#%010d#%02d", b, shard))}
}

// batchKeys are the keys of every shard of a batch.
func batchKeys(campaignID string, b int64) []map[string]types.AttributeValue {
	keys := make([]map[string]types.AttributeValue, batchShards)
	for i := range keys {
		keys[i] = batchKey(campaignID, b, i)
	}
	return keys
}

// readBatchFiles reads every shard of a batch (one consistent BatchGetItem) and returns its
// files, sorted.
func readBatchFiles(ctx context.Context, db store.BatchGetter, table, campaignID string, b int64) ([]string, error) {
	var files []string
	err := store.BatchGetConsistent(ctx, db, table, batchKeys(campaignID, b), func(it map[string]types.AttributeValue) error {
		files = append(files, batchFiles(it)...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read batch %d of %s: %w", b, campaignID, err)
	}
	slices.Sort(files)
	return files, nil
}

// batchRetention is how long a batch item outlives its last commit: long past any merge.
const batchRetention = 30 * 24 * time.Hour

// readState returns the campaign's open batch and the last merged one (1 and 0 before any).
func readState(ctx context.Context, db store.Getter, table, campaignID string) (open, merged int64, err error) {
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: stateKey(campaignID), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return 0, 0, fmt.Errorf("read merge state of %s: %w", campaignID, err)
	}
	if out.Item == nil {
		return 1, 0, nil
	}
	return max(1, num64(out.Item["open"])), num64(out.Item["merged"]), nil
}

// batchFiles is a batch's files, each "<file id>:<parts>", sorted.
func batchFiles(it map[string]types.AttributeValue) []string {
	ss, _ := it["files"].(*types.AttributeValueMemberSS)
	if ss == nil {
		return nil
	}
	out := slices.Clone(ss.Value)
	slices.Sort(out)
	return out
}

// splitEntry parses a batch entry.
func splitEntry(e string) (fileID string, parts int, err error) {
	id, n, ok := strings.Cut(e, ":")
	parts, err = strconv.Atoi(n)
	if !ok || err != nil || parts < 0 {
		return "", 0, fmt.Errorf("batch entry %q: want <file id>:<parts>", e)
	}
	return id, parts, nil
}
