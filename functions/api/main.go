// Command api is the Lambda behind the API Gateway HTTP API: the team's JSON API and console.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	_ "github.com/nhsmail-sunset/sunset/shared/bootstrap" // time zones, and a static binary
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
)

func main() {
	log := lambdaenv.Logger("api")
	cfg, err := api.LoadConfig(os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	c, err := awsclient.Load(context.Background(), false, os.Getenv)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	h, err := api.NewHandler(context.Background(), cfg, c, log)
	if err != nil {
		lambdaenv.Exit(log, err)
	}
	lambda.Start(h.Handle)
}
