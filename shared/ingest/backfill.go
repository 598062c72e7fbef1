package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nhsmail-sunset/sunset/shared/findings"
)

// Versions is the part of the S3 client a backfill lists the log files with.
type Versions interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// Queue is the part of the SQS client a backfill hands the files to the ingest queue with.
type Queue interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Backfill hands log files already in the bucket to the ingest function again: those uploaded
// before a campaign was live (ingest had nothing to scan them for, and says so), or before a
// second campaign began. The file ledger makes it exactly once: a file the campaign has done is
// not queued, and one queued twice is scanned once.
type Backfill struct {
	S3       Versions
	Queue    Queue
	QueueURL string
	DB       findings.Querier
	Table    string
}

// BackfillResult counts a backfill's files.
type BackfillResult struct {
	Files   int `json:"files"`   // current log files under the prefix since the date
	Queued  int `json:"queued"`  // handed to the ingest queue
	Done    int `json:"done"`    // already ingested for the campaign: not queued
	Earlier int `json:"earlier"` // last written before the date: not queued
}

// Run queues, for campaign, every current version of the objects under prefix in bucket last
// written at or after since that the campaign has not ingested, as the S3 notification of
// its upload would (the version named, so what is scanned is what was uploaded).
func (b *Backfill) Run(ctx context.Context, bucket, prefix, campaign string, since time.Time) (BackfillResult, error) {
	var res BackfillResult
	files := findings.NewReader(b.DB, b.Table, nil)
	var batch []sqstypes.SendMessageBatchRequestEntry
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		out, err := b.Queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(b.QueueURL), Entries: batch})
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%d of %d refused, the first: %s", len(out.Failed), len(batch), aws.ToString(out.Failed[0].Message))
		}
		if err != nil {
			return fmt.Errorf("backfill: queue files: %w", err)
		}
		res.Queued += len(batch)
		batch = batch[:0]
		return nil
	}
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)}
	for {
		page, err := b.S3.ListObjectVersions(ctx, in)
		if err != nil {
			return res, fmt.Errorf("backfill: list s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, v := range page.Versions {
			if !aws.ToBool(v.IsLatest) || strings.HasSuffix(aws.ToString(v.Key), "/") {
				continue
			}
			res.Files++
			if aws.ToTime(v.LastModified).Before(since) {
				res.Earlier++
				continue
			}
			o := Object{Bucket: bucket, Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), ETag: strings.Trim(aws.ToString(v.ETag), `"`)}
			f, err := files.File(ctx, o.ID(), campaign)
			if err != nil {
				return res, fmt.Errorf("backfill: %w", err)
			}
			if f != nil && f.State == findings.StateDone {
				res.Done++
				continue
			}
			body, err := json.Marshal(uploadEvent(o, aws.ToInt64(v.Size), aws.ToTime(v.LastModified)))
			if err != nil {
				return res, fmt.Errorf("backfill: %w", err)
			}
			batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(batch))), MessageBody: aws.String(string(body))})
			if len(batch) == 10 {
				if err := flush(); err != nil {
					return res, err
				}
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
	return res, flush()
}

// uploadEvent is the S3 notification of o's upload, as the ingest queue receives it (the key
// URL-encoded, as S3 encodes it).
func uploadEvent(o Object, size int64, at time.Time) events.S3Event {
	var r events.S3EventRecord
	r.EventVersion, r.EventSource = "2.1", "aws:s3"
	r.EventTime, r.EventName = at.UTC(), "ObjectCreated:Put"
	r.S3.Bucket.Name = o.Bucket
	r.S3.Object.Key = strings.ReplaceAll(url.QueryEscape(o.Key), "%2F", "/")
	r.S3.Object.VersionID, r.S3.Object.ETag, r.S3.Object.Size = o.VersionID, o.ETag, size
	return events.S3Event{Records: []events.S3EventRecord{r}}
}
