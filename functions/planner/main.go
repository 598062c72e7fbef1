// Command planner is the daily scheduled Lambda: it plans every live campaign, claims the due
// notices and hands them to the sender through the SQS send queue.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

func main() {
	log := lambdaenv.Logger("planner")
	cfg, err := planner.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(planner.NewHandler(cfg, c, log).Handle)
}
