package findings

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Stage keeps each file's findings until a merge adds them to the table: in S3, where a
// file's findings cost requests, not write units (docs/data-model.md, "Findings").
type Stage interface {
	Put(ctx context.Context, key string, body []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// S3Client is the part of the S3 client the stage uses.
type S3Client interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Stage is a Stage in an S3 bucket, under a prefix (the template's is "staging/", which the
// bucket's notifications do not watch and a lifecycle rule empties after 14 days).
type S3Stage struct {
	Client S3Client
	Bucket string
	Prefix string
}

// Put writes an object.
func (s S3Stage) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.Bucket), Key: aws.String(s.Prefix + key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/gzip"),
	})
	if err != nil {
		return fmt.Errorf("stage s3://%s/%s%s: %w", s.Bucket, s.Prefix, key, err)
	}
	return nil
}

// Get reads an object whole.
func (s S3Stage) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(s.Prefix + key)})
	if err != nil {
		return nil, fmt.Errorf("read staged s3://%s/%s%s: %w", s.Bucket, s.Prefix, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read staged s3://%s/%s%s: %w", s.Bucket, s.Prefix, key, err)
	}
	return b, nil
}

// stagedKey names the object holding one part of a file's findings for a campaign.
func stagedKey(campaignID, fileID string, part int) string {
	return campaignID + "/" + fileID + "/" + strconv.Itoa(part) + ".jsonl.gz"
}

// StagingPrefix is where staged findings live in the staging bucket (the logs bucket in
// template.yaml; its notifications watch logs/ and directory/ only).
const StagingPrefix = "staging/"

// StagingBucketEnv names the variable that holds the staging bucket, for the functions and
// the CLI.
const StagingBucketEnv = "SUNSET_STAGING_BUCKET"
