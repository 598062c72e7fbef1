package awsclient_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestTableName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local bool
		env   map[string]string
		want  string
		err   error
	}{
		{"explicit", false, map[string]string{"SUNSET_TABLE": "sunset-prod"}, "sunset-prod", nil},
		{"explicit wins locally", true, map[string]string{"SUNSET_TABLE": "t"}, "t", nil},
		{"local default", true, nil, localstack.Table, nil},
		{"missing", false, nil, "", awsclient.ErrNoTable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := awsclient.TableName(tc.local, env(tc.env))
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("TableName = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	if !awsclient.IsLocal(false, env(map[string]string{"SUNSET_LOCAL": "1"})) {
		t.Error("SUNSET_LOCAL=1 not honoured")
	}
	if !awsclient.IsLocal(true, env(nil)) {
		t.Error("--local not honoured")
	}
	if awsclient.IsLocal(false, env(map[string]string{"SUNSET_LOCAL": "0"})) {
		t.Error("SUNSET_LOCAL=0 taken as local")
	}
}

// With local set and nothing in the environment, the clients reach the local stack.
func TestLocalClientsReachTheStack(t *testing.T) {
	localstacktest.DynamoDB(t) // skips when the stack is not running
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	c, err := awsclient.Load(context.Background(), true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DynamoDB().ListTables(context.Background(), &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		t.Fatalf("ListTables on the local stack: %v", err)
	}
	if c.Config().Region != localstack.Region {
		t.Errorf("region %q, want %q", c.Config().Region, localstack.Region)
	}
}

// The retryer keeps retrying throttled calls without a client-side quota running out.
func TestRetryerHasNoQuota(t *testing.T) {
	c, err := awsclient.Load(context.Background(), true, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Config().Retryer()
	if got := r.MaxAttempts(); got != 8 {
		t.Errorf("MaxAttempts = %d, want 8", got)
	}
	// The standard quota allows 500/5 = 100 retries before refusing; take far more.
	for i := range 1000 {
		if _, err := r.GetRetryToken(context.Background(), errors.New("throttled")); err != nil {
			t.Fatalf("retry token %d refused: %v", i, err)
		}
	}
}
