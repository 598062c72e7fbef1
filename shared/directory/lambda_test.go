package directory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
)

// The directory Lambda imports both files of the prefix when either lands, read through a
// real S3 API (gofakes3 on an httptest server).
func TestHandlerImportsBothFiles(t *testing.T) {
	ctx := context.Background()
	client, _ := localstacktest.S3(t)
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sunset-data")}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"directory/organisations.csv": orgsCSV, "directory/accounts.csv": accountsCSV} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sunset-data"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	db, table := localstacktest.DynamoDB(t)
	d := directory.New(db, table, clock)
	var emf, logs bytes.Buffer
	h := &directory.Handler{Dir: d, S3: client, Prefix: "directory/", Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Metrics: metrics.New(&emf, "directory", nil)}
	s3ev := `{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"sunset-data"},"object":{"key":"directory/accounts.csv"}}}]}`
	payload, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: s3ev}}})
	out, err := lambda.NewHandler(h.Handle).Invoke(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("response %s, %v", out, err)
	}
	got, err := d.Resolve(ctx, []string{"chris.wood@nhs.net", "someone@rx1.nhs.net"})
	if err != nil {
		t.Fatal(err)
	}
	if got["chris.wood@nhs.net"] != "RX1" || got["someone@rx1.nhs.net"] != "RX1" {
		t.Errorf("after the Lambda's import: %v", got)
	}
	// The bad rows are one log line, by reason and row number: no address, no value.
	if n := strings.Count(logs.String(), "bad directory rows skipped"); n != 1 {
		t.Errorf("%d log lines about bad rows, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "@") {
		t.Errorf("an address reached the log:\n%s", logs.String())
	}
	v := metricstest.Parse(t, emf.Bytes())
	if imp, rej := v.Get("", metrics.DirectoryRowsImported), v.Get("", metrics.DirectoryRowsRejected); imp != 3+5 || rej != 8 {
		t.Errorf("metrics: %g rows imported, %g rejected; want 8 (3 organisations, 5 accounts) and 8 (as TestImport lists them)", imp, rej)
	}
}
