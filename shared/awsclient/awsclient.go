// Package awsclient builds Sunset's AWS clients, once per process, from the SDK's default
// configuration chain. The SDK's own endpoint variables (AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SESV2, ...) are honoured natively; Local adds the
// local stack's endpoints, region and dummy credentials for the ones not set.
package awsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// maxAttempts bounds the SDK's retries; its standard retryer backs off with jitter on
// throttling (ThrottlingException, ProvisionedThroughputExceededException) and transient errors.
const maxAttempts = 8

// Retryer is the standard retryer without its client-side retry quota: a long ingest under
// sustained DynamoDB throttling should keep backing off per request, not fail every request
// with "retry quota exceeded" once 100 retries have been spent. Attempts stay bounded. Every
// client Load makes has it (tests that build clients of their own use it to run as production).
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.RateLimiter = ratelimit.None
	})
}

// Clients hands out AWS service clients that share one loaded configuration.
type Clients struct {
	cfg   aws.Config
	local bool
}

// Load reads the default AWS configuration. With local set, the region, credentials and
// endpoints of the local stack fill in whatever the environment does not already say.
func Load(ctx context.Context, local bool, getenv func(string) string) (*Clients, error) {
	opts := []func(*config.LoadOptions) error{config.WithRetryer(Retryer)}
	if local {
		if getenv("AWS_REGION") == "" && getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(localstack.Region))
		}
		if getenv("AWS_ACCESS_KEY_ID") == "" {
			opts = append(opts, config.WithCredentialsProvider(
				credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return &Clients{cfg: cfg, local: local}, nil
}

// FromConfig hands out clients of an already loaded configuration, as it is (no local-stack
// defaults): for tests that add middleware or endpoints to it.
func FromConfig(cfg aws.Config) *Clients { return &Clients{cfg: cfg} }

// Config is the loaded configuration, for clients of services this package does not name.
func (c *Clients) Config() aws.Config { return c.cfg }

// DynamoDB returns a DynamoDB client.
func (c *Clients) DynamoDB() *dynamodb.Client {
	return dynamodb.NewFromConfig(c.cfg, store.CountCapacity, func(o *dynamodb.Options) {
		if c.local && o.BaseEndpoint == nil {
			o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb"))
		}
	})
}

// S3 returns an S3 client. Local stack endpoints address buckets by path.
func (c *Clients) S3() *s3.Client {
	return s3.NewFromConfig(c.cfg, func(o *s3.Options) {
		if c.local && o.BaseEndpoint == nil {
			o.BaseEndpoint = aws.String(localstack.Endpoint("s3"))
		}
		if c.local {
			o.UsePathStyle = true
		}
	})
}

// SESv2 returns an SES v2 client.
func (c *Clients) SESv2() *sesv2.Client {
	return sesv2.NewFromConfig(c.cfg, func(o *sesv2.Options) {
		if c.local && o.BaseEndpoint == nil {
			o.BaseEndpoint = aws.String(localstack.Endpoint("sesv2"))
		}
	})
}

// ErrNoTable means SUNSET_TABLE is not set outside the local stack.
var ErrNoTable = errors.New("SUNSET_TABLE is not set (use --local for the local stack)")

// TableName is SUNSET_TABLE, or the local stack's table when local.
func TableName(local bool, getenv func(string) string) (string, error) {
	if t := getenv("SUNSET_TABLE"); t != "" {
		return t, nil
	}
	if local {
		return localstack.Table, nil
	}
	return "", ErrNoTable
}

// IsLocal reports whether --local was given or SUNSET_LOCAL=1 is set.
func IsLocal(flag bool, getenv func(string) string) bool {
	return flag || getenv("SUNSET_LOCAL") == "1" || getenv("SUNSET_LOCAL") == "true"
}
