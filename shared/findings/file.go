package findings

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// File is the processed-file ledger entry and summary of one source file for one campaign.
type File struct {
	Source   string `dynamodbav:"source" json:"source"` // bucket/key#version-or-etag
	Name     string `dynamodbav:"name" json:"name"`     // bucket/key, or the local path
	Campaign string `dynamodbav:"campaign" json:"campaign"`
	// State is "done": the file's findings are all written. Error says what was not
	// understood (unknown format, truncated gzip): what was read before it is kept.
	State            string              `dynamodbav:"state" json:"state"`
	Error            string              `dynamodbav:"error,omitempty" json:"error,omitempty"`
	Format           string              `dynamodbav:"format" json:"format"`
	Gzip             bool                `dynamodbav:"gzip" json:"gzip"`
	Bytes            int64               `dynamodbav:"bytes" json:"bytes"`
	Lines            int64               `dynamodbav:"lines" json:"lines"`
	Events           int64               `dynamodbav:"events" json:"events"`
	Findings         int64               `dynamodbav:"findings" json:"findings"`
	Unresolved       int64               `dynamodbav:"unresolved" json:"unresolved"`
	Ignored          int64               `dynamodbav:"ignored" json:"ignored"`
	Unattributed     int64               `dynamodbav:"unattributed" json:"unattributed"`
	Malformed        int64               `dynamodbav:"malformed" json:"malformed"`
	MalformedSamples []connlog.LineError `dynamodbav:"malformed_samples" json:"malformed_samples,omitempty"`
	// Parts is how many parts the findings were staged in (1 unless the scanner's budget
	// made it hand findings over early; 0 for a file without findings).
	Parts int64 `dynamodbav:"parts" json:"parts"`
	// Batch is the merge batch the file's findings were committed to (0: none).
	Batch int64 `dynamodbav:"batch,omitempty" json:"batch,omitempty"`
	// WriteUnits is what the file's ingest cost in DynamoDB write units, its ledger entry
	// included (as DynamoDB reported them: the local stand-in reports the table's share).
	WriteUnits float64   `dynamodbav:"write_units" json:"write_units"`
	DurationMS int64     `dynamodbav:"duration_ms" json:"duration_ms"`
	FinishedAt time.Time `dynamodbav:"finished_at" json:"finished_at"`
}

// StateDone marks a file whose findings are all written.
const StateDone = "done"

// FileFromSummary fills a ledger entry from the scanner's summary of the file.
func FileFromSummary(source, name, campaignID string, s connlog.Summary) File {
	return File{
		Source: source, Name: name, Campaign: campaignID, Format: string(s.Format), Gzip: s.Gzip,
		Bytes: s.Bytes, Lines: s.Lines, Events: s.Events, Findings: s.Findings, Unresolved: s.Unresolved,
		Ignored: s.Ignored, Unattributed: s.Unattributed, Malformed: s.Malformed,
		MalformedSamples: s.MalformedLines,
	}
}

func fileKey(source, campaignID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": store.S(store.Key("FILE", source)), "SK": store.S(store.Key("CAMPAIGN", campaignID)),
	}
}

// LedgerUnits is what Done's put of f costs: one write unit a KB of the item, and the same on
// GSI1, which holds it whole.
func LedgerUnits(f File, expiresAt time.Time) float64 {
	item, err := fileItem(f, expiresAt)
	if err != nil {
		return 0
	}
	kb := float64((store.ItemSize(item) + 1023) / 1024)
	return 2 * kb
}

// Done records that a file's findings for a campaign are all written, with its summary. It
// overwrites: two concurrent ingests of a file record the same counts.
func (w *Writer) Done(ctx context.Context, f File, expiresAt time.Time) error {
	item, err := fileItem(f, expiresAt)
	if err != nil {
		return err
	}
	if _, err := w.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(w.table), Item: item}); err != nil {
		return fmt.Errorf("record file %s for %s: %w", f.Source, f.Campaign, err)
	}
	return nil
}

func fileItem(f File, expiresAt time.Time) (map[string]types.AttributeValue, error) {
	f.State = StateDone
	item, err := attributevalue.MarshalMap(f)
	if err != nil {
		return nil, fmt.Errorf("encode file %s: %w", f.Source, err)
	}
	for k, v := range fileKey(f.Source, f.Campaign) {
		item[k] = v
	}
	item["type"] = store.S("file")
	item["GSI1PK"] = store.S(store.Key("FILES", calendar.Of(f.FinishedAt.UTC()).String()))
	item["GSI1SK"] = store.S(store.Key(f.Name, f.Campaign))
	item["finished_at"] = store.S(f.FinishedAt.UTC().Format(time.RFC3339Nano))
	item[store.TTLAttribute] = store.TTL(expiresAt)
	return item, nil
}

// File returns the ledger entry of source for a campaign, or nil when it was never finished.
func (r *Reader) File(ctx context.Context, source, campaignID string) (*File, error) {
	out, err := r.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(r.table), Key: fileKey(source, campaignID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read file %s for %s: %w", source, campaignID, err)
	}
	if out.Item == nil {
		return nil, nil
	}
	f, err := decodeFile(out.Item)
	if err != nil {
		return nil, err
	}
	return &f, nil
}

// Files returns the files finished on a UTC day, by name.
func (r *Reader) Files(ctx context.Context, day calendar.Date) ([]File, error) {
	var out []File
	err := store.QueryAll(ctx, r.db, &dynamodb.QueryInput{
		TableName:                 aws.String(r.table),
		IndexName:                 aws.String(store.GSI1),
		KeyConditionExpression:    aws.String("GSI1PK = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": store.S(store.Key("FILES", day.String()))},
	}, func(items []map[string]types.AttributeValue) error {
		for _, it := range items {
			f, err := decodeFile(it)
			if err != nil {
				return err
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read files of %s: %w", day, err)
	}
	return out, nil
}

func decodeFile(it map[string]types.AttributeValue) (File, error) {
	var f File
	t := store.Str(it["finished_at"])
	delete(it, "finished_at")
	if err := attributevalue.UnmarshalMap(it, &f); err != nil {
		return f, fmt.Errorf("decode file %s: %w", store.Str(it["PK"]), err)
	}
	if t != "" {
		ft, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return f, fmt.Errorf("decode file %s: finished_at %s: %w", store.Str(it["PK"]), strconv.Quote(t), err)
		}
		f.FinishedAt = ft
	}
	return f, nil
}
