// Command planner is the daily scheduled Lambda: it plans every live campaign, claims the due
// notices and hands them to the sender through the SQS send queue.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"
	_ "time/tzdata" // campaign time zones on provided.al2023, which has no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

func main() {
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		slog.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	db, table := c.DynamoDB(), os.Getenv("SUNSET_TABLE")
	h := &planner.Handler{
		Planner:    planner.New(db, table, time.Now),
		Live:       campaign.NewStore(db, table, time.Now),
		Dispatcher: &planner.Queue{Client: sqs.NewFromConfig(c.Config()), URL: os.Getenv("SUNSET_SEND_QUEUE_URL")},
	}
	lambda.Start(h.Handle)
}
