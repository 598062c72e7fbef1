// Command feedback is the Lambda that applies SES bounce, complaint and delivery events
// (configuration set -> SNS) to the suppression list and the notice ledger.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func main() {
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		slog.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	db, table, clock := c.DynamoDB(), os.Getenv("SUNSET_TABLE"), time.Now
	h := feedback.New(suppression.New(db, table, clock), ledger.New(db, table, clock), nil)
	lambda.Start(h.Handle)
}
