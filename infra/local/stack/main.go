// Command stack is the Go half of `make local-up`, `make local-env` and the health report of
// `make demo`: it waits for the local services, creates the Sunset table from template.yaml,
// and checks that the table and the SES endpoint answer as production would.
//
//	go run ./infra/local/stack up|health|env
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: stack up|health|env")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "env":
		for _, kv := range localstack.Env() {
			fmt.Printf("export %s=%s\n", kv[0], kv[1])
		}
	case "up":
		err = up(ctx)
	case "health":
		err = health(ctx)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack:", err)
		os.Exit(1)
	}
}

func clients(ctx context.Context) (*awsclient.Clients, localstack.TableSpec, error) {
	c, err := awsclient.Load(ctx, true, os.Getenv)
	if err != nil {
		return nil, localstack.TableSpec{}, err
	}
	table, err := awsclient.TableName(true, os.Getenv)
	if err != nil {
		return nil, localstack.TableSpec{}, err
	}
	path, err := localstack.FindTemplate()
	if err != nil {
		return nil, localstack.TableSpec{}, err
	}
	spec, err := localstack.ReadTemplate(path, table)
	return c, spec, err
}

// up waits for both services and creates the table; safe to run again.
func up(ctx context.Context) error {
	for _, e := range []string{localstack.Endpoint("dynamodb"), localstack.Endpoint("sesv2") + "/health-check", localstack.Endpoint("s3")} {
		if err := localstack.WaitHTTP(ctx, e); err != nil {
			return err
		}
	}
	c, spec, err := clients(ctx)
	if err != nil {
		return err
	}
	if err := localstack.EnsureTable(ctx, c.DynamoDB(), spec); err != nil {
		return err
	}
	if err := localstack.EnsureBucket(ctx, c.S3(), localstack.StagingBucket); err != nil {
		return err
	}
	fmt.Printf("local stack up: DynamoDB %s (table %s), SES v2 %s, S3 %s (bucket %s)\n",
		localstack.Endpoint("dynamodb"), *spec.Input.TableName, localstack.Endpoint("sesv2"), localstack.Endpoint("s3"), localstack.StagingBucket)
	return nil
}

// health prints a report of the stack and fails when anything is wrong.
func health(ctx context.Context) error {
	c, spec, err := clients(ctx)
	if err != nil {
		return err
	}
	rep, err := localstack.Health(ctx, c.DynamoDB(), c.SESv2(), spec)
	fmt.Print(rep)
	return err
}
