// Command sender is the Lambda that sends the notices the planner hands off through SQS.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

func main() {
	log := lambdaenv.Logger("sender")
	cfg, err := sender.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	h, err := sender.NewHandler(context.Background(), cfg, c, log)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(h.Handle)
}
