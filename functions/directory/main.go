// Command directory is the directory Lambda: organisations.csv / accounts.csv landing under
// SUNSET_DIRECTORY_PREFIX (through SQS) are imported into the table.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("directory")
	cfg, err := directory.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(directory.NewHandler(cfg, c, log).Handle)
}
