package localstack

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// AccountAPI is the part of the SES v2 client the health report uses.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Health reports on the table (exists, key schema and indexes as in template.yaml, ACTIVE) and
// on SES (GetAccount answers). The report is readable text; the error is non-nil when anything
// is unhealthy.
func Health(ctx context.Context, db TableAPI, ses AccountAPI, spec TableSpec) (string, error) {
	var b strings.Builder
	var failed []string
	name := aws.ToString(spec.Input.TableName)
	problems, err := CheckTable(ctx, db, spec)
	switch {
	case err != nil:
		failed = append(failed, err.Error())
		fmt.Fprintf(&b, "DynamoDB  %-28s FAIL  %v\n", Endpoint("dynamodb"), err)
	case len(problems) > 0:
		failed = append(failed, problems...)
		fmt.Fprintf(&b, "DynamoDB  %-28s FAIL  %s\n", Endpoint("dynamodb"), strings.Join(problems, "; "))
	default:
		fmt.Fprintf(&b, "DynamoDB  %-28s ok    table %s, indexes %s, TTL on %s\n",
			Endpoint("dynamodb"), name, strings.Join(spec.IndexNames(), ", "), spec.TTLAttribute)
	}
	acct, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		failed = append(failed, err.Error())
		fmt.Fprintf(&b, "SES v2    %-28s FAIL  GetAccount: %v\n", Endpoint("sesv2"), err)
	} else {
		q := acct.SendQuota
		rate := 0.0
		if q != nil {
			rate = q.MaxSendRate
		}
		fmt.Fprintf(&b, "SES v2    %-28s ok    GetAccount: sending enabled %v, max send rate %.0f/s\n",
			Endpoint("sesv2"), acct.SendingEnabled, rate)
	}
	fmt.Fprintf(&b, "SES viewer: %s (every email sent locally can be read there)\n", Endpoint("sesv2"))
	if len(failed) > 0 {
		return b.String(), fmt.Errorf("local stack unhealthy: %s", strings.Join(failed, "; "))
	}
	return b.String(), nil
}
