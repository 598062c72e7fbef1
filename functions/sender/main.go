// Command sender is the Lambda that sends the notices the planner hands off through SQS.
package main

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"
	_ "time/tzdata" // campaign time zones on provided.al2023, which has no zoneinfo

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

func main() {
	ctx := context.Background()
	c, err := awsclient.Load(ctx, false, os.Getenv)
	if err != nil {
		slog.Error("load AWS configuration", "error", err)
		os.Exit(1)
	}
	db, table, clock := c.DynamoDB(), os.Getenv("SUNSET_TABLE"), time.Now
	maxRate, _ := strconv.ParseFloat(os.Getenv("SUNSET_MAX_SEND_RATE"), 64)
	instances, _ := strconv.Atoi(os.Getenv("SUNSET_SENDER_INSTANCES"))
	s := sender.New(c.SESv2(), ledger.New(db, table, clock), campaign.NewStore(db, table, clock),
		suppression.New(db, table, clock), clock,
		sender.Config{ConfigurationSet: os.Getenv("SUNSET_CONFIGURATION_SET"), MaxRate: maxRate, Instances: instances})
	lambda.Start(s.HandleSQS)
}
