// Package localstacktest gives tests the real local services: a fresh DynamoDB table with the
// production schema (read from template.yaml) per test, an SES v2 client, and the emails the SES
// emulator has received. A test that needs the stack is skipped with a clear message when it is
// not running, unless SUNSET_REQUIRE_LOCAL=1 (set by `make test`), when it fails instead.
package localstacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

func need(t testing.TB, service, endpoint string) {
	t.Helper()
	if localstack.Reachable(endpoint) {
		return
	}
	msg := fmt.Sprintf("local %s is not running at %s: start it with `make local-up` (make test does)", service, endpoint)
	if requireLocal() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func requireLocal() bool {
	v := getenv("SUNSET_REQUIRE_LOCAL")
	return v == "1" || v == "true"
}

// Config is an AWS configuration for the local stack.
func Config() aws.Config {
	return aws.Config{
		Region:      localstack.Region,
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	}
}

// DynamoDB returns a client of the local DynamoDB and the name of a new, empty table with the
// production schema, deleted when the test ends. Extra options (e.g. an error-injecting
// middleware) apply to the returned client only.
func DynamoDB(t testing.TB, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, string) {
	t.Helper()
	endpoint := localstack.Endpoint("dynamodb")
	need(t, "DynamoDB (dynalite)", endpoint)
	base := func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) }
	admin := dynamodb.NewFromConfig(Config(), base)
	path, err := localstack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	name := "test-" + randomSuffix()
	spec, err := localstack.ReadTemplate(path, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := localstack.EnsureTable(ctx, admin, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Logf("delete table %s: %v", name, err)
		}
	})
	return dynamodb.NewFromConfig(Config(), append([]func(*dynamodb.Options){base, store.CountCapacity}, optFns...)...), name
}

// SES returns a client of the local SES v2 emulator.
func SES(t testing.TB, optFns ...func(*sesv2.Options)) *sesv2.Client {
	t.Helper()
	endpoint := localstack.Endpoint("sesv2")
	need(t, "SES v2 (aws-ses-v2-local)", endpoint)
	base := func(o *sesv2.Options) { o.BaseEndpoint = aws.String(endpoint) }
	return sesv2.NewFromConfig(Config(), append([]func(*sesv2.Options){base}, optFns...)...)
}

// Email is one message as the SES emulator stores it (GET /store).
type Email struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		Cc  []string `json:"cc"`
		Bcc []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	Attachments []struct {
		Content     string `json:"content"`
		ContentType string `json:"contentType"`
		Filename    string `json:"filename"`
	} `json:"attachments"`
	Headers []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"headers"`
	At int64 `json:"at"` // seconds since the epoch
}

// Header is the value of the custom header name the message was sent with ("" if none).
func (e Email) Header(name string) string {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// SESEvent is the SNS delivery SES's event publishing would make about this message: an event
// of eventType ("Send", "Delivery", ...) with SES's mail object (its message id, timestamp,
// destination and headers), wrapped as the SNS subscription hands it to the feedback Lambda.
// The emulator publishes no events, so tests that need SES's answer build it from what the
// emulator really received.
func (e Email) SESEvent(eventType string) []byte {
	var dest []string
	for _, a := range e.Destination.To {
		dest = append(dest, strings.Trim(a[strings.LastIndex(a, "<")+1:], "<> "))
	}
	mail := map[string]any{
		"timestamp": time.Unix(e.At, 0).UTC().Format(time.RFC3339Nano), "messageId": e.MessageID,
		"destination": dest, "headersTruncated": false, "headers": e.Headers,
	}
	ev := map[string]any{"eventType": eventType, "mail": mail, strings.ToLower(eventType): map[string]any{}}
	msg, _ := json.Marshal(ev)
	sns, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"EventSource": "aws:sns", "EventVersion": "1.0",
		"Sns": map[string]any{"Type": "Notification", "MessageId": "sns-" + e.MessageID, "Message": string(msg)},
	}}})
	return sns
}

// SentEmails returns every email the SES emulator holds. The store is shared by all tests, so
// callers pick theirs out by message id or by a unique recipient.
func SentEmails(t testing.TB) []Email {
	t.Helper()
	endpoint := localstack.Endpoint("sesv2")
	need(t, "SES v2 (aws-ses-v2-local)", endpoint)
	return SentEmailsAt(t, endpoint)
}

// SentEmailsAt returns every email the SES emulator at endpoint holds (one SESEmulator started).
func SentEmailsAt(t testing.TB, endpoint string) []Email {
	t.Helper()
	resp, err := http.Get(endpoint + "/store")
	if err != nil {
		t.Fatalf("read SES emulator store: %v", err)
	}
	defer resp.Body.Close()
	var store struct {
		Emails []Email `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatalf("decode SES emulator store: %v", err)
	}
	return store.Emails
}

// SESEmulator starts an SES v2 emulator of the test's own (the one pinned in infra/local, on a
// free loopback port) whose account is the local stack's (infra/local/ses-account.json) with
// the top-level keys of override replaced: an account in the sandbox, with sending paused or
// its quota spent. It returns the endpoint; the emulator stops when the test ends.
func SESEmulator(t testing.TB, override string) string {
	t.Helper()
	need(t, "SES v2 (aws-ses-v2-local)", localstack.Endpoint("sesv2"))
	tpl, err := localstack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(tpl), "infra", "local")
	var account map[string]any
	base, err := os.ReadFile(filepath.Join(dir, "ses-account.json"))
	if err == nil {
		err = json.Unmarshal(base, &account)
	}
	if err == nil {
		err = json.Unmarshal([]byte(override), &account)
	}
	if err != nil {
		t.Fatalf("SES emulator account: %v", err)
	}
	accountJSON, _ := json.Marshal(account)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("node", "node_modules/aws-ses-v2-local/dist/cli.js", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_SES_ACCOUNT="+string(accountJSON))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start an SES emulator: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := localstack.WaitHTTP(ctx, endpoint); err != nil {
		t.Fatalf("SES emulator on %s: %v", endpoint, err)
	}
	return endpoint
}

// Unique returns a short random string for names that must not collide between tests.
func Unique() string { return randomSuffix() }

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// S3 starts an in-memory S3 API (gofakes3: the local stack has no S3) for the test, and
// returns its endpoint and a client of it. The endpoint is an IP address, so any SDK client
// pointed at it (AWS_ENDPOINT_URL_S3) addresses buckets by path, as gofakes3 needs.
func S3(t testing.TB) (*s3.Client, string) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	cfg := Config()
	cfg.BaseEndpoint = aws.String(srv.URL)
	return s3.NewFromConfig(cfg), srv.URL
}

// SSM serves the one SSM call Sunset makes, GetParameter, over the SDK's JSON protocol, with
// params as the parameters (SecureStrings, returned decrypted): the local stack has no SSM, and
// no emulator of it is served here. It returns the endpoint (AWS_ENDPOINT_URL_SSM).
func SSM(t testing.TB, params map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		var in struct{ Name string }
		if r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" || json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ValidationException","message":"only GetParameter is served"}`)
			return
		}
		v, ok := params[in.Name]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ParameterNotFound","message":"no such parameter"}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": in.Name, "Type": "SecureString", "Value": v, "Version": 1}})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Stage is a findings stage of the test's own: a bucket in an in-memory S3 API (S3).
func Stage(t testing.TB) findings.S3Stage {
	t.Helper()
	c, _ := S3(t)
	const bucket = "staging"
	if err := localstack.EnsureBucket(context.Background(), c, bucket); err != nil {
		t.Fatal(err)
	}
	return findings.S3Stage{Client: c, Bucket: bucket, Prefix: findings.StagingPrefix}
}
