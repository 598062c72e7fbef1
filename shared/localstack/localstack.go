package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Addresses of the local stack and the settings that go with it.
const (
	DynamoDBURL = "http://127.0.0.1:8000"
	SESURL      = "http://127.0.0.1:8005"
	S3URL       = "http://127.0.0.1:8006"
	// StagingBucket holds the findings ingest stages until a merge (SUNSET_STAGING_BUCKET).
	StagingBucket = "sunset-local-staging"
	Region        = "eu-west-2"
	Table         = "sunset-local"
	// SenderIdentity is the SES identity the local stack sends as (SUNSET_SENDER_IDENTITY):
	// campaigns whose From is elsewhere are refused, as in AWS.
	SenderIdentity = "example.nhs.net"
	// AccessKey and SecretKey are dummies: the local services accept any credentials, and the
	// SDK refuses to sign without some.
	AccessKey = "local"
	SecretKey = "local"
)

// Env is the environment that points the AWS SDK (and the sunset CLI) at the local stack, in
// the order `make local-env` prints it.
func Env() [][2]string {
	return [][2]string{
		{"AWS_ENDPOINT_URL_DYNAMODB", DynamoDBURL},
		{"AWS_ENDPOINT_URL_SESV2", SESURL},
		{"AWS_ENDPOINT_URL_S3", S3URL},
		{"AWS_REGION", Region},
		{"AWS_ACCESS_KEY_ID", AccessKey},
		{"AWS_SECRET_ACCESS_KEY", SecretKey},
		{"SUNSET_TABLE", Table},
		{"SUNSET_SENDER_IDENTITY", SenderIdentity},
		{"SUNSET_STAGING_BUCKET", StagingBucket},
	}
}

// Endpoint returns the DynamoDB or SES endpoint to use: the SDK's own variable when it is set
// (so a test run can point elsewhere), else the local default.
func Endpoint(service string) string {
	switch service {
	case "dynamodb":
		if v := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"); v != "" {
			return v
		}
		return DynamoDBURL
	case "sesv2":
		if v := os.Getenv("AWS_ENDPOINT_URL_SESV2"); v != "" {
			return v
		}
		return SESURL
	case "s3":
		if v := os.Getenv("AWS_ENDPOINT_URL_S3"); v != "" {
			return v
		}
		return S3URL
	}
	return ""
}

// Reachable reports whether something accepts TCP connections at the endpoint URL.
func Reachable(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	conn, err := net.DialTimeout("tcp", u.Host, 300*time.Millisecond)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// WaitHTTP polls url until it answers any HTTP status or ctx ends.
func WaitHTTP(ctx context.Context, endpoint string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
		if err != nil {
			return fmt.Errorf("wait for %s: %w", endpoint, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", endpoint, errors.Join(ctx.Err(), err))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// FindTemplate returns the path of template.yaml at the module root, searching upwards from
// the working directory, so tests in any package find the one definition of the table.
func FindTemplate() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find template.yaml: %w", err)
	}
	for {
		p := filepath.Join(dir, "template.yaml")
		if _, err := os.Stat(p); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return p, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find template.yaml: not found in any parent directory")
		}
		dir = parent
	}
}
