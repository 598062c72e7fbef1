package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/deadletter/deadlettertest"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// Log files uploaded before any campaign is live are acknowledged by ingest and left in the
// bucket; once a campaign is applied, sunset backfill queues each (as S3's notification would),
// the ingest function scans each once, and a second backfill queues nothing.
func TestBackfillIngestsWhatCameBeforeTheCampaign(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cli := newTestCLI(t, map[string]string{"SUNSET_TABLE": "sunset-test", "SUNSET_LOG_BUCKET": "sunset-logs-test"})
	db, table := cli.useLocalStack()
	store, _ := localstacktest.S3(t)
	queue := deadlettertest.New("sunset-test-ingest")
	cli.s3, cli.sqs = store, queue
	if _, err := store.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sunset-logs-test")}); err != nil {
		t.Fatal(err)
	}
	store.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("sunset-logs-test"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	handler := &ingest.Handler{Ingester: ingest.New(db, table, cli.stage, directory.New(db, table, time.Now), time.Now, "test"),
		Campaigns: campaign.NewStore(db, table, time.Now), S3: store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics.New(io.Discard, "ingest", time.Now)}
	deliver := func(bodies []string) {
		t.Helper()
		var ev events.SQSEvent
		for i, b := range bodies {
			ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprint(i), Body: b})
		}
		resp, err := handler.Handle(ctx, ev)
		if err != nil || len(resp.BatchItemFailures) > 0 {
			t.Fatalf("ingest: %v %+v", err, resp.BatchItemFailures)
		}
	}

	// Three files land (one gzip, one with a space in its key) while no campaign is live.
	var uploads []string
	for _, f := range []string{"1/iis-2021-07-19.log", "1/iis-2021-07-20.log.gz", "1/imap4-2021-07-19.log"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "infra", "demo", "data", "logs", f))
		if err != nil {
			t.Fatal(err)
		}
		key := "logs/CAS 01/" + filepath.Base(f)
		out, err := store.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sunset-logs-test"), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		var s3ev events.S3Event
		s3ev.Records = []events.S3EventRecord{{EventName: "ObjectCreated:Put"}}
		s3ev.Records[0].S3.Bucket.Name, s3ev.Records[0].S3.Object.Key = "sunset-logs-test", strings.ReplaceAll(key, " ", "+")
		s3ev.Records[0].S3.Object.VersionID = aws.ToString(out.VersionId)
		b, _ := json.Marshal(s3ev)
		uploads = append(uploads, string(b))
	}
	deliver(uploads) // acknowledged: nothing to scan them for

	c, err := campaign.Load(filepath.Join("..", "..", "infra", "demo", "data", "campaign.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.NewStore(db, table, time.Now).Apply(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	since := time.Now().UTC().Format("2006-01-02")
	out, errOut, code := cli.run("backfill", "--campaign", c.ID, "--since", since)
	if code != 0 || !strings.Contains(out, "3 files; 3 queued on sunset-test-ingest, 0 already ingested") {
		t.Fatalf("first backfill: exit %d\n%s%s", code, out, errOut)
	}
	queued := queue.Bodies("sunset-test-ingest")
	deliver(queued)
	reader := findings.NewReader(db, table, cli.stage)
	for _, b := range queued {
		var ev events.S3Event
		json.Unmarshal([]byte(b), &ev)
		o, _ := ingest.ObjectFromEvent(ev.Records[0].S3.Bucket.Name, ev.Records[0].S3.Object.Key, ev.Records[0].S3.Object.VersionID, "")
		f, err := reader.File(ctx, o.ID(), c.ID)
		if err != nil || f == nil || f.State != findings.StateDone || f.Lines == 0 {
			t.Errorf("%s after the backfill: %+v %v, want ingested", o.ID(), f, err)
		}
	}
	deliver(queued) // a duplicate delivery scans nothing again (the file ledger)
	out, errOut, code = cli.run("backfill", "--campaign", c.ID, "--since", since, "--json")
	if code != 0 || !strings.Contains(out, `"queued": 0`) || !strings.Contains(out, `"done": 3`) {
		t.Fatalf("second backfill: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := cli.run("backfill", "--campaign", "no-such-campaign"); code != 2 || !strings.Contains(errOut, "not found") {
		t.Errorf("backfill of an unknown campaign: exit %d %s", code, errOut)
	}
}
