// Command directory is the directory Lambda: organisations.csv / accounts.csv landing under
// SUNSET_DIRECTORY_PREFIX (through SQS) are imported into the table.
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
	"github.com/nhsmail-sunset/sunset/shared/directory"
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
	h := &directory.Handler{
		Dir:    directory.New(c.DynamoDB(), table, time.Now),
		S3:     s3.NewFromConfig(c.Config()),
		Prefix: os.Getenv("SUNSET_DIRECTORY_PREFIX"),
		Prune:  os.Getenv("SUNSET_DIRECTORY_PRUNE") == "true",
		Log:    slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	}
	lambda.Start(h.Handle)
}
