// Command ingest is the ingest Lambda: S3 log-file notifications (through SQS) into staged
// findings, and the hourly merge of them into the table.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("ingest")
	cfg, err := ingest.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(ingest.NewHandler(cfg, c, log).Invoke)
}
