package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3Getter is the part of the S3 client ingest uses.
type S3Getter interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ErrObjectGone means the object of an event no longer exists in the version the event named
// (deleted, or replaced in an unversioned bucket: the replacement has its own event).
var ErrObjectGone = errors.New("object no longer exists in that version")

// Object is an S3 object as an event names it.
type Object struct {
	Bucket, Key string // Key URL-decoded
	VersionID   string
	ETag        string
}

// ObjectFromEvent decodes an S3 event's object key ('+' is a space, %XX escapes).
func ObjectFromEvent(bucket, rawKey, versionID, etag string) (Object, error) {
	key, err := url.QueryUnescape(rawKey)
	if err != nil {
		return Object{}, fmt.Errorf("decode object key %q: %w", rawKey, err)
	}
	return Object{Bucket: bucket, Key: key, VersionID: versionID, ETag: strings.Trim(etag, `"`)}, nil
}

// ID is the object's source id: <bucket>/<key>#<version id>, or #etag:<ETag> when the bucket
// is not versioned.
func (o Object) ID() string {
	if o.VersionID != "" && o.VersionID != "null" {
		return o.Bucket + "/" + o.Key + "#" + o.VersionID
	}
	return o.Bucket + "/" + o.Key + "#etag:" + o.ETag
}

// S3Source streams exactly the object version the event named.
func S3Source(client S3Getter, o Object) Source {
	return Source{
		ID:   o.ID(),
		Name: o.Bucket + "/" + o.Key,
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
			if o.VersionID != "" && o.VersionID != "null" {
				in.VersionId = aws.String(o.VersionID)
			} else if o.ETag != "" {
				in.IfMatch = aws.String(`"` + o.ETag + `"`)
			}
			out, err := client.GetObject(ctx, in)
			if err != nil {
				if gone(err) {
					return nil, fmt.Errorf("get s3://%s/%s: %w: %v", o.Bucket, o.Key, ErrObjectGone, err)
				}
				return nil, fmt.Errorf("get s3://%s/%s: %w", o.Bucket, o.Key, err)
			}
			return &lengthChecked{rc: out.Body, want: aws.ToInt64(out.ContentLength), name: o.Bucket + "/" + o.Key}, nil
		},
	}
}

func gone(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NoSuchVersion", "PreconditionFailed", "NotFound":
			return true
		}
	}
	return false
}

// lengthChecked turns a body that ends before its Content-Length into an error, so a dropped
// connection is retried instead of being taken for a truncated file.
type lengthChecked struct {
	rc   io.ReadCloser
	want int64
	got  int64
	name string
}

func (l *lengthChecked) Read(p []byte) (int, error) {
	n, err := l.rc.Read(p)
	l.got += int64(n)
	if err == io.EOF && l.want > 0 && l.got < l.want {
		return n, fmt.Errorf("read s3://%s: body ended after %d of %d bytes", l.name, l.got, l.want)
	}
	return n, err
}

func (l *lengthChecked) Close() error { return l.rc.Close() }
