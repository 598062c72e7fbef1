package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

// fakeS3 is a real S3 API (gofakes3, in memory) and a real S3 client of it.
func fakeS3(t *testing.T) *s3.Client {
	t.Helper()
	c, _ := localstacktest.S3(t)
	return c
}

type liveCampaigns []*campaign.Campaign

func (l liveCampaigns) Live(context.Context) ([]*campaign.Campaign, error) { return l, nil }

func testCampaign(t *testing.T) *campaign.Campaign {
	t.Helper()
	c, err := campaign.Load("../campaign/testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// events/sqs-s3-put.json carries events/s3-put.json: its object key is URL-encoded
// ("CAS+01"). The object is uploaded to the fake S3 first (gzip), then the handler runs.
func TestHandlerIngestsTheObjectOfAnS3Event(t *testing.T) {
	ctx := context.Background()
	client := fakeS3(t)
	const bucket, key = "sunset-logs-example", "logs/iis/CAS 01/u_ex210802.log.gz"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(iisLog(400, "2021-08-02"))
	zw.Close()
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(gz.Bytes())})
	if err != nil {
		t.Fatal(err)
	}

	// The S3 event sample, with the version id S3 gave our upload.
	raw, err := os.ReadFile("../../events/s3-put.json")
	if err != nil {
		t.Fatal(err)
	}
	var s3ev events.S3Event
	if err := json.Unmarshal(raw, &s3ev); err != nil {
		t.Fatal(err)
	}
	if got := s3ev.Records[0].S3.Object.Key; got != "logs/iis/CAS+01/u_ex210802.log.gz" {
		t.Fatalf("sample key = %q, want it URL-encoded", got)
	}
	s3ev.Records[0].S3.Object.VersionID = aws.ToString(put.VersionId)
	s3ev.Records[0].S3.Object.ETag = strings.Trim(aws.ToString(put.ETag), `"`)
	body, _ := json.Marshal(s3ev)

	sqsRaw, err := os.ReadFile("../../events/sqs-s3-put.json")
	if err != nil {
		t.Fatal(err)
	}
	var sqsEv events.SQSEvent
	if err := json.Unmarshal(sqsRaw, &sqsEv); err != nil {
		t.Fatal(err)
	}
	var inner events.S3Event
	if err := json.Unmarshal([]byte(sqsEv.Records[0].Body), &inner); err != nil || inner.Records[0].S3.Object.Key != s3ev.Records[0].S3.Object.Key {
		t.Fatalf("events/sqs-s3-put.json does not carry events/s3-put.json: %v", err)
	}
	poison := sqsEv.Records[0]
	poison.MessageId, poison.Body = "poison", "{not json"
	sqsEv.Records[0].Body = string(body)
	sqsEv.Records = append(sqsEv.Records, poison)
	payload, _ := json.Marshal(sqsEv)

	in, db, table := setup(t)
	var logs, emf bytes.Buffer
	h := &ingest.Handler{Ingester: in, Campaigns: liveCampaigns{testCampaign(t)}, S3: client, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Metrics: metrics.New(&emf, "ingest", nil)}
	invoke := func() events.SQSEventResponse {
		t.Helper()
		out, err := lambda.NewHandler(h.Invoke).Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.SQSEventResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := invoke()
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "poison" {
		t.Errorf("batch item failures = %+v, want just the poison message", resp.BatchItemFailures)
	}
	source := bucket + "/" + key + "#" + aws.ToString(put.VersionId)
	f, err := findings.NewReader(db, table, nil).File(ctx, source, "legacy-hostnames-2021")
	if err != nil || f == nil {
		t.Fatalf("no ledger entry for %s: %v\n%s", source, err, logs.String())
	}
	if f.Name != bucket+"/"+key || !f.Gzip || f.Events != 300 || f.Batch != 1 || f.WriteUnits <= 0 {
		t.Errorf("file = %+v", f)
	}
	before := windowOf(t, db, table, "legacy-hostnames-2021")
	// The hourly schedule's event (events/ingest-merge.json) merges it into the table.
	sched, err := os.ReadFile("../../events/ingest-merge.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lambda.NewHandler(h.Invoke).Invoke(ctx, sched); err != nil {
		t.Fatal(err)
	}
	if got := windowOf(t, db, table, "legacy-hostnames-2021"); !reflect.DeepEqual(before, got) || pending(t, db, table, "legacy-hostnames-2021") != 0 {
		t.Errorf("merged: %d findings, %d files pending; want the %d read before, none pending", len(got), pending(t, db, table, "legacy-hostnames-2021"), len(before))
	}
	// Redelivered: nothing changes, and nothing is counted twice.
	invoke()
	if after := windowOf(t, db, table, "legacy-hostnames-2021"); len(before) == 0 || !reflect.DeepEqual(before, after) {
		t.Errorf("findings %d then %d", len(before), len(after))
	}
	v := metricstest.Parse(t, emf.Bytes())
	for _, c := range []struct {
		campaign string
		name     metrics.Name
		want     float64
	}{
		{"", metrics.FilesIngested, 1}, {"legacy-hostnames-2021", metrics.Lines, float64(f.Lines)},
		{"legacy-hostnames-2021", metrics.LegacyEvents, 300}, {"legacy-hostnames-2021", metrics.IngestWriteUnits, f.WriteUnits},
		{"legacy-hostnames-2021", metrics.FindingsMerged, float64(len(before))},
		{"legacy-hostnames-2021", metrics.MalformedLines, float64(f.Malformed)},
	} {
		if got := v.Get(c.campaign, c.name); got != c.want {
			t.Errorf("metric %q %s = %g, want %g", c.campaign, c.name, got, c.want)
		}
	}
	_ = connlog.FormatIIS
}

// An event whose object has since been deleted is logged and acknowledged, not retried
// forever.
func TestHandlerAcknowledgesAGoneObject(t *testing.T) {
	ctx := context.Background()
	client := fakeS3(t)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bkt")}); err != nil {
		t.Fatal(err)
	}
	in, _, _ := setup(t)
	h := &ingest.Handler{Ingester: in, Campaigns: liveCampaigns{testCampaign(t)}, S3: client, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	body := `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"bkt"},"object":{"key":"gone.log","eTag":"abc"}}}]}`
	resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body}}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Errorf("resp %+v, %v; want the message acknowledged", resp, err)
	}
}

func TestObjectFromEventDecodesKeys(t *testing.T) {
	for raw, want := range map[string]string{
		"logs/iis/CAS+01/u_ex210802.log.gz": "logs/iis/CAS 01/u_ex210802.log.gz",
		"logs/a%2Bb/x%3D1.log":              "logs/a+b/x=1.log",
	} {
		o, err := ingest.ObjectFromEvent("bkt", raw, "", `"etag1"`)
		if err != nil || o.Key != want || o.ID() != "bkt/"+want+"#etag:etag1" {
			t.Errorf("%s: %+v %v", raw, o, err)
		}
	}
}

// An empty object and a header-only IIS file (written on log rotation) are clean outcomes:
// acknowledged, recorded as done with no events, and a redelivery finds them done (never
// retried into the dead-letter queue).
func TestHandlerRecordsEmptyAndHeaderOnlyObjectsAsDone(t *testing.T) {
	ctx := context.Background()
	client := fakeS3(t)
	const bucket = "bkt"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"logs/empty.log":            nil,
		"logs/u_ex210802_x.log":     []byte("\xEF\xBB\xBF#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2021-08-02 00:00:00\r\n#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) sc-status\r\n"),
		"logs/empty-gzipped.log.gz": gzipped(nil),
	}
	in, db, table := setup(t)
	h := &ingest.Handler{Ingester: in, Campaigns: liveCampaigns{testCampaign(t)}, S3: client, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	want := map[string]connlog.Format{"logs/empty.log": connlog.FormatEmpty, "logs/u_ex210802_x.log": connlog.FormatIIS, "logs/empty-gzipped.log.gz": connlog.FormatEmpty}
	for key, data := range objects {
		put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		etag := strings.Trim(aws.ToString(put.ETag), `"`)
		body := fmt.Sprintf(`{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q,"eTag":%q}}}]}`, bucket, key, etag)
		for attempt := 1; attempt <= 2; attempt++ {
			resp, err := h.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m", Body: body}}})
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("%s attempt %d: %+v, %v; want it acknowledged", key, attempt, resp, err)
			}
		}
		f, err := findings.NewReader(db, table, nil).File(ctx, bucket+"/"+key+"#etag:"+etag, "legacy-hostnames-2021")
		if err != nil || f == nil {
			t.Fatalf("%s: no ledger entry: %v", key, err)
		}
		if f.State != findings.StateDone || f.Format != string(want[key]) || f.Events != 0 || f.Error != "" || f.Parts != 0 || f.Batch != 0 {
			t.Errorf("%s: recorded %+v; want done, format %s, no events, no error", key, f, want[key])
		}
	}
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}
