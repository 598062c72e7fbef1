package localstack_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

func TestReadTemplate(t *testing.T) {
	path, err := localstack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := localstack.ReadTemplate(path, "x")
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(spec.Input.TableName); got != "x" {
		t.Errorf("table name %q, want x", got)
	}
	if got := strings.Join(spec.IndexNames(), ","); got != "GSI1,GSI2,GSI4" {
		t.Errorf("indexes %q, want GSI1,GSI2,GSI4", got)
	}
	if spec.TTLAttribute != "expires_at" {
		t.Errorf("TTL attribute %q, want expires_at", spec.TTLAttribute)
	}
	if len(spec.Input.KeySchema) != 2 || aws.ToString(spec.Input.KeySchema[0].AttributeName) != "PK" {
		t.Errorf("key schema %+v, want PK/SK", spec.Input.KeySchema)
	}
}

func TestReadTemplateRejectsNoTable(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/t.yaml"
	writeFile(t, p, "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties: {CodeUri: x}\n")
	if _, err := localstack.ReadTemplate(p, "x"); err == nil || !strings.Contains(err.Error(), "found 0") {
		t.Fatalf("err = %v, want 'found 0'", err)
	}
}

// The table the tests get is the production schema, and Health says so; a table with another
// key schema is reported.
func TestHealth(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	ses := localstacktest.SES(t)
	path, _ := localstack.FindTemplate()
	spec, err := localstack.ReadTemplate(path, table)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := localstack.Health(context.Background(), db, ses, spec)
	if err != nil {
		t.Fatalf("healthy stack reported unhealthy: %v\n%s", err, rep)
	}
	if !strings.Contains(rep, "indexes GSI1, GSI2, GSI4") || !strings.Contains(rep, "max send rate") {
		t.Errorf("report lacks the table's indexes or the SES quota:\n%s", rep)
	}
	spec.Input.TableName = aws.String("no-such-table-" + localstacktest.Unique())
	if _, err := localstack.Health(context.Background(), db, ses, spec); err == nil {
		t.Error("a missing table was reported healthy")
	}
}

func TestEnsureTableIsIdempotent(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	path, _ := localstack.FindTemplate()
	spec, _ := localstack.ReadTemplate(path, table)
	if err := localstack.EnsureTable(context.Background(), db, spec); err != nil {
		t.Fatalf("second EnsureTable: %v", err)
	}
	out, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Table.GlobalSecondaryIndexes); n != 3 {
		t.Fatalf("%d indexes, want 3", n)
	}
}

// An email sent with the real SDK arrives in the emulator's store.
func TestSESSendReadBack(t *testing.T) {
	ses := localstacktest.SES(t)
	to := "wiring-" + localstacktest.Unique() + "@example.nhs.net"
	out, err := ses.SendEmail(context.Background(), &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("noreply@example.nhs.net"),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Wiring test")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String("hello")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range localstacktest.SentEmails(t) {
		if e.MessageID == aws.ToString(out.MessageId) {
			if len(e.Destination.To) != 1 || e.Destination.To[0] != to || e.Subject != "Wiring test" || e.Body.Text != "hello" {
				t.Fatalf("stored email %+v does not match what was sent", e)
			}
			return
		}
	}
	t.Fatalf("message %s not found in the SES emulator store", aws.ToString(out.MessageId))
}

// A client that hangs up in the middle of a request (an SDK call whose context ends) must not
// take the local DynamoDB down with it: dynalite itself would crash, infra/local/dynalite.js
// keeps it serving.
func TestDynaliteSurvivesAbortedRequest(t *testing.T) {
	db, table := localstacktest.DynamoDB(t)
	u, err := url.Parse(localstack.Endpoint("dynamodb"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-amz-json-1.0\r\n"+
			"X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: 1000\r\n\r\n{\"Lim", u.Host)
		conn.Close()
	}
	time.Sleep(200 * time.Millisecond) // let the server see the resets
	if _, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		t.Fatalf("DynamoDB stopped answering after aborted requests: %v", err)
	}
}
