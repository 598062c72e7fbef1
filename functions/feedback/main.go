// Command feedback is the Lambda that applies SES bounce, complaint and delivery events
// (configuration set -> SNS) to the suppression list and the notice ledger.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("feedback")
	cfg, err := feedback.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(feedback.NewHandler(cfg, c, log).Handle)
}
