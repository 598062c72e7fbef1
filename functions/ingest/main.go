// Command ingest is the ingest Lambda: S3 log-file notifications (through SQS) into findings.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
)

func main() {
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	table, err := awsclient.TableName(false, os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	db := c.DynamoDB()
	h := &ingest.Handler{
		Ingester:  ingest.New(db, table, directory.New(db, table, time.Now), time.Now),
		Campaigns: campaign.NewStore(db, table, time.Now),
		S3:        s3.NewFromConfig(c.Config()),
		Log:       slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	lambda.Start(h.Handle)
}
