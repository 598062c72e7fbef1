package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// awsCalls is, for each function, every AWS action its code may call, as IAM names them. It
// is the contract between the code and template.yaml: TestPoliciesAllowExactlyTheCallsOfTheCode
// checks each function's policy allows these and nothing more, and
// TestFunctionsCallOnlyWhatTheyDeclare runs every function's real handler (NewHandler, as its
// main builds it) through a day of work and checks each call it made is listed here.
var awsCalls = map[string][]string{
	"IngestFunction": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem",
		"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}, // GetObject of a version needs both; PutObject: staged findings
	"DirectoryFunction": {"dynamodb:GetItem", "dynamodb:BatchWriteItem", "dynamodb:Query", "dynamodb:UpdateItem", "s3:GetObject",
		"s3:ListBucket"}, // no call: with it S3 answers a missing file 404 (skipped), without it 403 (a failed batch)
	"PlannerFunction": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem",
		"dynamodb:UpdateItem", "dynamodb:BatchWriteItem", "sqs:SendMessage", "s3:GetObject"}, // SendMessageBatch is authorised as SendMessage; GetObject: unmerged findings; UpdateItem: merged emails
	"SenderFunction": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "ses:SendEmail", "ses:GetAccount",
		"ssm:GetParameter", "sqs:ChangeMessageVisibility"}, // holds a hand-off outside its campaign's send window
	"FeedbackFunction": {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, // GetItem: the auto-pause's history entry
	"ApiFunction": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem",
		"ses:SendEmail", "ses:GetAccount", "ssm:GetParameter", "sqs:SendMessage", "s3:GetObject"}, // SendMessage: "Send it again" of a failed notice; GetObject: unmerged findings
}

// keyPrefixes is, for each function, the partition-key prefixes of the table items ("table
// NOTICE#") and of the index partitions ("index CAMPAIGNS") its code reads or writes: what its
// policy's dynamodb:LeadingKeys conditions allow (TestPoliciesAllowExactlyTheCallsOfTheCode),
// and what the recorded day of work may name (TestFunctionsCallOnlyWhatTheyDeclare).
var keyPrefixes = map[string][]string{
	"IngestFunction": {"table FILE#", "table DAY#", "table ADDR#", "table ACCT#", "table ORG#", "table SUBDOMAIN#", "table MERGE#",
		"index CAMPAIGNS", "index LOCAL#"},
	"DirectoryFunction": {"table ORG#", "table ACCT#", "table SUBDOMAIN#", "index ORGS", "index ACCTS#"},
	"PlannerFunction": {"table CAMPAIGN#", "table DAY#", "table ACCT#", "table ORG#", "table SUBDOMAIN#", "table SUPPRESS#", "table NOTICE#", "table PROGRESS#", "table OWNER#",
		"table MERGE#", "table MAIL#", "index CAMPAIGNS", "index NOTICES#", "index ORGFIND#", "index UNATTR#", "index LOCAL#", "index SUPPRESSED", "index ANSWERS#"},
	"SenderFunction":   {"table NOTICE#", "table MAIL#", "table CAMPAIGN#", "table SUPPRESS#", "index SUPPRESSED"},
	"FeedbackFunction": {"table NOTICE#", "table MAIL#", "table SUPPRESS#", "table CAMPAIGN#", "table PROBE#"},
	"ApiFunction": {"table CAMPAIGN#", "table NOTICE#", "table MAIL#", "table DAY#", "table ACCT#", "table ORG#", "table SUBDOMAIN#", "table SUPPRESS#",
		"table PROGRESS#", "table OWNER#", "table ANSWER#", "table RATE#", "table MERGE#",
		"index CAMPAIGNS", "index NOTICES#", "index MAILS#", "index ORGFIND#", "index UNATTR#", "index LOCAL#", "index SUPPRESSED", "index ANSWERS#"},
}

// iamAction is the IAM action an SDK call is authorised as.
func iamAction(service, operation string) string {
	prefix := map[string]string{"DynamoDB": "dynamodb", "SESv2": "ses", "S3": "s3", "SQS": "sqs"}[service]
	if prefix == "" {
		prefix = strings.ToLower(service)
	}
	switch operation {
	case "SendMessageBatch":
		operation = "SendMessage"
	case "DeleteMessageBatch":
		operation = "DeleteMessage"
	}
	return prefix + ":" + operation
}

// recorder notes every operation a client starts, before it is sent (so a call that then
// fails is noted too), and the partition-key prefixes of the table items and index partitions
// each DynamoDB call names ("table NOTICE#", "index CAMPAIGNS").
type recorder struct {
	mu       sync.Mutex
	calls    map[string]bool
	prefixes map[string]bool
	uses     map[string]bool // "dynamodb:Query table NOTICE#": each action with what it named
}

func (r *recorder) option(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("record", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		r.mu.Lock()
		action := iamAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))
		r.calls[action] = true
		for _, p := range keyPrefixesOf(in.Parameters) {
			r.prefixes[p] = true
			r.uses[action+" "+p] = true
		}
		r.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	}), middleware.Before)
}

// keyPrefix is what of a partition-key value a LeadingKeys condition names: up to and with the
// first '#' ("NOTICE#"), or the whole value when it has none ("CAMPAIGNS").
func keyPrefix(v types.AttributeValue) string {
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		return "?"
	}
	if i := strings.IndexByte(s.Value, '#'); i >= 0 {
		return s.Value[:i+1]
	}
	return s.Value
}

// keyPrefixesOf lists the partition-key prefixes a DynamoDB request names.
func keyPrefixesOf(params any) []string {
	var out []string
	table := func(item map[string]types.AttributeValue) {
		if v, ok := item["PK"]; ok {
			out = append(out, "table "+keyPrefix(v))
		}
	}
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		table(in.Key)
	case *dynamodb.PutItemInput:
		table(in.Item)
	case *dynamodb.UpdateItemInput:
		table(in.Key)
	case *dynamodb.DeleteItemInput:
		table(in.Key)
	case *dynamodb.BatchGetItemInput:
		for _, ka := range in.RequestItems {
			for _, k := range ka.Keys {
				table(k)
			}
		}
	case *dynamodb.BatchWriteItemInput:
		for _, reqs := range in.RequestItems {
			for _, w := range reqs {
				if w.PutRequest != nil {
					table(w.PutRequest.Item)
				}
				if w.DeleteRequest != nil {
					table(w.DeleteRequest.Key)
				}
			}
		}
	case *dynamodb.QueryInput:
		// The partition key is the first "<key> = :placeholder" of the key condition.
		cond := aws.ToString(in.KeyConditionExpression)
		name, rest, _ := strings.Cut(cond, " = ")
		ph, _, _ := strings.Cut(rest, " ")
		where := "table"
		if in.IndexName != nil {
			where = "index"
		}
		if name == "PK" || in.IndexName != nil {
			out = append(out, where+" "+keyPrefix(in.ExpressionAttributeValues[ph]))
		}
	}
	return out
}

// endpoints points each service at its local stand-in (ConfigSources, as the SDK reads
// AWS_ENDPOINT_URL_<SERVICE>).
type endpoints map[string]string

func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v, ok := e[sdkID]
	return v, ok, nil
}

// A day of work through every function's real handler, each with its own recording clients:
// the directory files and a log file land in S3 (gofakes3), the planner claims and hands off
// (the hand-off fails: there is no SQS here, but the call is noted), the sender sends through
// the SES emulator, feedback applies SES's events. Every call each made must be in awsCalls.
func TestFunctionsCallOnlyWhatTheyDeclare(t *testing.T) {
	ctx := context.Background()
	db, table := localstacktest.DynamoDB(t)
	s3c, s3URL := localstacktest.S3(t)
	eps := endpoints{"DynamoDB": localstack.Endpoint("dynamodb"), "SESv2": localstack.Endpoint("sesv2"), "S3": s3URL, "SQS": "http://127.0.0.1:1"}
	recorded := map[string]*recorder{}
	clients := func(fn string) *awsclient.Clients {
		r := &recorder{calls: map[string]bool{}, prefixes: map[string]bool{}, uses: map[string]bool{}}
		recorded[fn] = r
		cfg := localstacktest.Config()
		cfg.RetryMaxAttempts = 1
		cfg.ConfigSources = []any{eps}
		cfg.APIOptions = append(cfg.APIOptions, r.option)
		return awsclient.FromConfig(cfg)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	data := filepath.Join("demo", "data")
	london, _ := time.LoadLocation("Europe/London")
	today := time.Now().In(london)
	id := "calls-" + localstacktest.Unique()

	// The bucket, the directory and today's log.
	bucket := "sunset-logs-test"
	put := func(key string, body []byte) string {
		t.Helper()
		out, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VersionId)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(data, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	put("directory/organisations.csv", read("orgs.csv"))
	put("directory/accounts.csv", read("accounts.csv"))
	logBody := strings.ReplaceAll(string(read("logs/1/iis-2021-07-19.log")), "2021-07-19", today.Format("2006-01-02"))
	logVersion := put("logs/iis/today.log", []byte(logBody))

	// The campaign: the demo's, with its advance notice due today.
	spec := strings.Replace(string(read("campaign.yaml")), "id: demo-legacy-hostnames-2021", "id: "+id, 1)
	spec = strings.Replace(spec, "shutdown: 2021-09-07", "shutdown: "+today.AddDate(0, 0, 42).Format("2006-01-02"), 1)
	c, err := campaign.Parse([]byte(spec), "campaign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.NewStore(db, table, time.Now).Apply(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	s3event := func(key, version string) events.SQSEvent {
		ev := events.S3Event{Records: []events.S3EventRecord{{EventName: "ObjectCreated:Put", S3: events.S3Entity{
			Bucket: events.S3Bucket{Name: bucket}, Object: events.S3Object{Key: key, VersionID: version}}}}}
		b, _ := json.Marshal(ev)
		return events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m-" + key, Body: string(b)}}}
	}
	noFailures := func(what string, resp events.SQSEventResponse, err error) {
		t.Helper()
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v %v", what, resp, err)
		}
	}

	dcfg, _ := directory.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_DIRECTORY_PREFIX": "directory/", "SUNSET_DIRECTORY_PRUNE": "true"}[k]
	})
	resp, err := directory.NewHandler(dcfg, clients("DirectoryFunction"), quiet).Handle(ctx, s3event("directory/accounts.csv", ""))
	noFailures("directory", resp, err)

	icfg, _ := ingest.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_STAGING_BUCKET": bucket}[k]
	})
	ih := ingest.NewHandler(icfg, clients("IngestFunction"), quiet)
	resp, err = ih.Handle(ctx, s3event("logs/iis/today.log", logVersion))
	noFailures("ingest", resp, err)
	// A second file, merged by the hourly schedule's event; the first stays committed, read
	// as pending by the planner and the API.
	if _, err := ih.Invoke(ctx, []byte(`{"merge": true}`)); err != nil {
		t.Fatalf("hourly merge: %v", err)
	}
	resp, err = ih.Handle(ctx, s3event("logs/iis/later.log", put("logs/iis/later.log", []byte(strings.ReplaceAll(logBody, "Thunderbird", "Outlook")))))
	noFailures("ingest of a second file", resp, err)

	pcfg, _ := planner.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_SEND_QUEUE_URL": "http://127.0.0.1:1/123456789012/send", "SUNSET_STAGING_BUCKET": bucket}[k]
	})
	if err := planner.NewHandler(pcfg, clients("PlannerFunction"), quiet).Handle(ctx, events.EventBridgeEvent{ID: "scheduled"}); err == nil {
		t.Fatal("the planner handed off to an SQS that is not there without an error")
	}
	claimed, err := ledger.New(db, table, time.Now).List(ctx, id)
	if err != nil || len(claimed) == 0 {
		t.Fatalf("the planner claimed %d notices (%v): the day has no work to check", len(claimed), err)
	}
	// And a notice to a large organisation, whose rows do not fit its item (row parts).
	big := ledger.Notice{Campaign: id, Org: "BIG1", OrgName: "Big Trust", Stage: claimed[0].Stage, Deadline: claimed[0].Deadline,
		PlannedFor: claimed[0].PlannedFor, Recipients: []string{"la-" + localstacktest.Unique() + "@example.nhs.net"}}
	for i := range 3000 {
		big.Accounts = append(big.Accounts, ledger.Account{Account: fmt.Sprintf("user.%05d@nhs.net", i), Hostname: "imap.nhs.net", Protocol: "IMAP",
			LastSeen: today, Successes: 1, UserAgents: []string{strings.Repeat("Outlook-iOS/2.0 ", 8)}, ClientIPs: []string{"10.0.0.1", "10.0.0.2"}})
	}
	if ok, err := ledger.New(db, table, time.Now).Claim(ctx, big); !ok || err != nil {
		t.Fatalf("claim the large notice: %v %v", ok, err)
	}
	claimed = append(claimed, big)

	eps["SSM"] = localstacktest.SSM(t, map[string]string{"/sunset/signing-keys": signing.NewKey(), "/sunset/console-client-secret": "s"})
	scfg, _ := sender.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_PUBLIC_URL": "https://api.example", "SUNSET_SIGNING_KEYS_PARAMETER": "/sunset/signing-keys",
			"SUNSET_SENDER_IDENTITY": "example.nhs.net", "SUNSET_SEND_QUEUE_URL": "http://127.0.0.1:1/123456789012/send"}[k]
	})
	var handOff events.SQSEvent
	for _, n := range claimed {
		b, _ := json.Marshal(n.Key())
		handOff.Records = append(handOff.Records, events.SQSMessage{MessageId: n.Org, Body: string(b)})
	}
	// The demo's federation LA is in two of the day's notices: the planner merged its copies.
	mails, err := ledger.New(db, table, time.Now).Mails(ctx, id)
	if err != nil || len(mails) != 1 {
		t.Fatalf("the planner made %d merged emails (%v), want the federation's one", len(mails), err)
	}
	for _, m := range mails {
		b, _ := json.Marshal(sender.MailHandOff{Campaign: id, Mail: m.ID()})
		handOff.Records = append(handOff.Records, events.SQSMessage{MessageId: m.ID(), Body: string(b)})
	}
	sh, err := sender.NewHandler(ctx, scfg, clients("SenderFunction"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = sh.Handle(ctx, handOff)
	noFailures("sender", resp, err)

	// Feedback pauses the campaign at its first bounce (a limit of 1% over one send), so the
	// auto-pause's reads and writes are recorded too.
	fcfg, _ := feedback.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_AUTO_PAUSE_BOUNCE_RATE": "0.01", "SUNSET_AUTO_PAUSE_MIN_SENDS": "1"}[k]
	})
	fb := feedback.NewHandler(fcfg, clients("FeedbackFunction"), quiet)
	sent := 0
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") != id {
			continue
		}
		if m.Header("X-Sunset-Mail") == "" {
			sent++
		}
		for _, kind := range []string{"Send", "Delivery"} {
			var ev events.SNSEvent
			json.Unmarshal(m.SESEvent(kind), &ev)
			if err := fb.Handle(ctx, ev); err != nil {
				t.Fatalf("feedback %s: %v", kind, err)
			}
		}
	}
	bounce, _ := os.ReadFile("../events/ses-bounce.json")
	var bev events.SNSEvent
	json.Unmarshal(bounce, &bev)
	if err := fb.Handle(ctx, bev); err != nil {
		t.Fatal(err)
	}
	if sent != len(claimed) {
		t.Fatalf("%d emails for %d claimed notices", sent, len(claimed))
	}
	probe, _ := os.ReadFile("../events/ses-probe-bounce.json") // sunset preflight --send-probe's
	var pev events.SNSEvent
	json.Unmarshal(probe, &pev)
	if err := fb.Handle(ctx, pev); err != nil {
		t.Fatal(err)
	}
	for _, m := range localstacktest.SentEmails(t) {
		if m.Header("X-Sunset-Campaign") == id {
			if err := fb.Handle(ctx, permanentBounce(t, m)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	cs := campaign.NewStore(db, table, time.Now)
	if r, err := cs.Get(ctx, id); err != nil || r.Status != campaign.Paused {
		t.Fatalf("campaign %s after a bounce over the limit: %+v %v, want paused", id, r, err)
	}
	if err := cs.SetStatus(ctx, id, campaign.Active, "test"); err != nil { // the team's day starts with it resumed
		t.Fatal(err)
	}

	// The team's day in the console and API: every route, as an operator.
	acfg, _ := api.LoadConfig(func(k string) string {
		return map[string]string{"SUNSET_TABLE": table, "SUNSET_AUTH_ISSUER": "https://login.example/v2.0", "SUNSET_AUTH_AUDIENCE": "api://sunset",
			"SUNSET_SIGNING_KEYS_PARAMETER": "/sunset/signing-keys", "SUNSET_CLIENT_SECRET_PARAMETER": "/sunset/console-client-secret",
			"SUNSET_SENDER_IDENTITY": "example.nhs.net", "SUNSET_STAGING_BUCKET": bucket, "SUNSET_TEST_RECIPIENTS": "ops@example.nhs.net"}[k]
	})
	ah, err := api.NewHandler(ctx, acfg, clients("ApiFunction"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	op := map[string]string{"sub": "s1", "name": "Ops", "roles": "[operator]"}
	for _, rq := range []struct{ method, path, body string }{
		{"GET", "/api/campaigns", ""}, {"GET", "/api/campaigns/" + id, ""}, {"POST", "/api/campaigns/validate", spec},
		{"GET", "/api/campaigns/" + id + "/plan", ""}, {"GET", "/api/campaigns/" + id + "/report", ""},
		{"GET", "/api/campaigns/" + id + "/organisations", ""}, {"GET", "/api/campaigns/" + id + "/burndown.csv", ""},
		{"GET", "/api/campaigns/" + id + "/unassigned", ""}, {"GET", "/api/suppressed", ""},
		{"GET", "/api/campaigns/" + id + "/preview?org=" + claimed[0].Org + "&stage=" + claimed[0].Stage, ""},
		{"POST", "/api/campaigns/" + id + "/send-test", `{"org":"` + claimed[0].Org + `","stage":"` + claimed[0].Stage + `","to":"ops@example.nhs.net"}`},
		{"POST", "/api/campaigns", strings.Replace(spec, "title: ", "title: New ", 1)},
		{"POST", "/api/campaigns/" + id + "/pause", ""}, {"POST", "/api/campaigns/" + id + "/resume", ""},
		{"POST", "/api/campaigns/" + id + "/extensions", `{"org":"` + claimed[0].Org + `","until":"` + today.AddDate(0, 0, 50).Format("2006-01-02") + `","reason":"r"}`},
	} {
		p, q, _ := strings.Cut(rq.path, "?")
		resp, err := ah.Handle(ctx, events.APIGatewayV2HTTPRequest{RawPath: p, RawQueryString: q, Body: rq.body,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: rq.method},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: op}}}})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("api %s %s: %d %s", rq.method, rq.path, resp.StatusCode, resp.Body)
		}
	}

	for fn, r := range recorded {
		got := slices.Sorted(maps.Keys(r.calls))
		if len(got) == 0 {
			t.Errorf("%s made no AWS call: the recorder is not wired", fn)
		}
		for _, call := range got {
			if !slices.Contains(awsCalls[fn], call) {
				t.Errorf("%s calls %s, which awsCalls (and so its policy) does not list", fn, call)
			}
		}
		t.Logf("%s: %s", fn, strings.Join(got, " "))
		prefixes := slices.Sorted(maps.Keys(r.prefixes))
		for _, p := range prefixes {
			if !slices.Contains(keyPrefixes[fn], p) {
				t.Errorf("%s names %s, which keyPrefixes (and so its LeadingKeys condition) does not list", fn, p)
			}
		}
		t.Logf("%s keys: %s", fn, strings.Join(prefixes, ", "))
		// Each call is allowed by one statement: its action, on the table or the index it
		// named, for the partition key it named.
		statements := functionStatements(loadCFN(t).Resources[fn])
		for _, use := range slices.Sorted(maps.Keys(r.uses)) {
			action, where, _ := strings.Cut(use, " ")
			if !slices.ContainsFunc(statements, func(st statement) bool {
				return slices.Contains(st.Actions, action) && slices.Contains(leadingKeysOf(t, fn, st), where)
			}) {
				t.Errorf("%s: no statement of its policy allows %s on %s", fn, action, where)
			}
		}
	}
	if len(recorded) != len(awsCalls) {
		t.Errorf("ran %d functions, awsCalls lists %d", len(recorded), len(awsCalls))
	}
}

// permanentBounce is SES's Bounce event for every recipient of m.
func permanentBounce(t *testing.T, m localstacktest.Email) events.SNSEvent {
	t.Helper()
	var ev events.SNSEvent
	if err := json.Unmarshal(m.SESEvent("Bounce"), &ev); err != nil {
		t.Fatal(err)
	}
	var msg map[string]any
	json.Unmarshal([]byte(ev.Records[0].SNS.Message), &msg)
	var recipients []any
	for _, a := range asList(asMap(msg["mail"])["destination"]) {
		recipients = append(recipients, map[string]any{"emailAddress": a, "action": "failed", "status": "5.1.1"})
	}
	msg["bounce"] = map[string]any{"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": recipients}
	b, _ := json.Marshal(msg)
	ev.Records[0].SNS.Message = string(b)
	return ev
}
