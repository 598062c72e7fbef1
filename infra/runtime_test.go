package infra

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics/metricstest"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

var (
	buildOnce  sync.Once
	builtDir   string
	builtError error
)

// bootstraps builds every function once per test binary, for this machine's architecture, with
// the command SAM's Go builder runs (go build -o bootstrap, GOOS=linux, GOARCH set, no tags; the
// rest of the environment is the caller's, so CGO_ENABLED=0 as `make sam-build` sets it), and
// returns the executable of each function resource.
func bootstraps(t *testing.T) map[string]string {
	t.Helper()
	buildOnce.Do(func() {
		builtDir, builtError = os.MkdirTemp("", "sunset-bootstraps-")
		if builtError != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", builtDir+string(os.PathSeparator), "./functions/...")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			builtError = fmt.Errorf("go build ./functions/...: %v\n%s", err, out)
		}
	})
	if builtError != nil {
		t.Fatal(builtError)
	}
	_, res := readTemplate(t)
	out := map[string]string{}
	for name, r := range res {
		if r.Type == "AWS::Serverless::Function" {
			uri, _ := r.Properties["CodeUri"].(string)
			out[name] = filepath.Join(builtDir, filepath.Base(strings.TrimSuffix(uri, "/")))
		}
	}
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// runtimeAPI is the Lambda Runtime API as the Lambda service serves it to a function
// (/2018-06-01/runtime/invocation/next, .../{id}/response, .../{id}/error, /init/error),
// handing out a fixed list of events and keeping what the function answers.
type runtimeAPI struct {
	srv    *httptest.Server
	events chan invocation
	mu     sync.Mutex
	got    map[string]answer
	done   chan string
}

type invocation struct {
	id      string
	payload []byte
}

type answer struct {
	kind string // response or error
	body []byte
}

func newRuntimeAPI(t *testing.T) *runtimeAPI {
	api := &runtimeAPI{events: make(chan invocation, 16), got: map[string]answer{}, done: make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-api.events:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-2:123456789012:function:sunset-test")
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	answerFor := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			api.mu.Lock()
			api.got[r.PathValue("id")] = answer{kind, body}
			api.mu.Unlock()
			w.WriteHeader(http.StatusAccepted)
			api.done <- r.PathValue("id")
		}
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", answerFor("response"))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", answerFor("error"))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		t.Errorf("init error: %s", body)
		w.WriteHeader(http.StatusAccepted)
	})
	api.srv = httptest.NewServer(mux)
	t.Cleanup(api.srv.Close)
	return api
}

// invoke hands one event to the function and waits for its answer (exited is closed when the
// process ends).
func (api *runtimeAPI) invoke(t *testing.T, id string, payload []byte, exited <-chan struct{}) answer {
	t.Helper()
	api.events <- invocation{id, payload}
	select {
	case got := <-api.done:
		if got != id {
			t.Fatalf("answer for %s, want %s", got, id)
		}
	case <-exited:
		t.Fatalf("the function exited instead of answering %s", id)
	case <-time.After(30 * time.Second):
		t.Fatalf("no answer to %s in 30s", id)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	return api.got[id]
}

// templateValue resolves what template.yaml gives a variable to what it is in this test: a
// parameter's default, or a stand-in for the resource it names. Every condition is false with
// the parameters' defaults (the optional edge is off), so Fn::If is its second branch, and
// AWS::NoValue is empty (as unset).
func templateValue(c *cfn, v any, stand map[string]string) string {
	if s, ok := v.(string); ok {
		return s
	}
	if l := asList(asMap(v)["Fn::If"]); len(l) == 3 {
		return templateValue(c, l[2], stand)
	}
	if refTo(v, "AWS::NoValue") {
		return ""
	}
	if s, ok := asMap(v)["Fn::Sub"].(string); ok {
		return subVars.ReplaceAllStringFunc(s, func(m string) string {
			name := m[2 : len(m)-1]
			if v, ok := map[string]string{"AWS::AccountId": "123456789012", "AWS::Region": localstack.Region, "AWS::Partition": "aws"}[name]; ok {
				return cmp.Or(stand[name], v)
			}
			return templateValue(c, map[string]any{"Ref": name}, stand)
		})
	}
	if ref, ok := asMap(v)["Ref"].(string); ok {
		if p, ok := c.Parameters[ref]; ok {
			if d, ok := p["Default"]; ok {
				return fmt.Sprint(d)
			}
			return requiredParameters[ref]
		}
		if s, ok := stand[ref]; ok {
			return s
		}
		return ref
	}
	return fmt.Sprint(v)
}

// subVars are the ${...} of a Fn::Sub string.
var subVars = regexp.MustCompile(`\$\{[^}]+\}`)

// requiredParameters are the values the tests deploy with for the template's parameters that
// have no default (each environment must give them: docs/deploy.md).
var requiredParameters = map[string]string{
	"SenderIdentity": "example.nhs.net",
	"AlarmEmail":     "sunset-alarms@example.nhs.net",
	"AuthIssuer":     "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0",
	"AuthAudience":   "6f1c2d3e-0000-4000-8000-000000000001",
}

// Each function's bootstrap, built as SAM builds it, started as a process with exactly the
// environment template.yaml gives it, answers the Lambda Runtime API: it takes its sample
// events (events/*.json) and answers each (SQS: a partial batch response naming only the
// records that failed), returns an error for an event of the wrong shape, and keeps running.
// A missing variable, a panic at init or a handler with the wrong signature fails here.
func TestBootstrapsAnswerTheRuntimeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every function")
	}
	ctx := context.Background()
	bins := bootstraps(t)
	c := loadCFN(t)
	db, table := localstacktest.DynamoDB(t)
	s3c, s3URL := localstacktest.S3(t)

	// The object of events/sqs-s3-put.json, and a live campaign for ingest to scan it for.
	// The log bucket of the sample events, and the one the template names (AWS::AccountId
	// "example"), where ingest stages findings.
	for _, b := range []string{"sunset-logs-example", "sunset-logs-example-dev"} {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	s3c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("sunset-logs-example"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	logFile, _ := os.ReadFile("demo/data/logs/1/iis-2021-07-19.log")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(logFile)
	zw.Close()
	put, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sunset-logs-example"), Key: aws.String("logs/iis/CAS 01/u_ex210802.log.gz"), Body: bytes.NewReader(gz.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	camp, err := campaign.Load("demo/data/campaign.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := campaign.NewStore(db, table, time.Now).Apply(ctx, camp, "test"); err != nil {
		t.Fatal(err)
	}

	sample := func(name string) []byte {
		b, err := os.ReadFile("../events/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// events/sqs-s3-put.json, with the version id S3 gave the upload, and a second record that
	// is not an S3 event at all.
	var s3put events.SQSEvent
	json.Unmarshal(sample("sqs-s3-put.json"), &s3put)
	var inner events.S3Event
	json.Unmarshal([]byte(s3put.Records[0].Body), &inner)
	inner.Records[0].S3.Object.VersionID = aws.ToString(put.VersionId)
	body, _ := json.Marshal(inner)
	s3put.Records[0].Body = string(body)
	poison := s3put.Records[0]
	poison.MessageId, poison.Body = "poison", "{not json"
	s3put.Records = append(s3put.Records, poison)
	withPoison, _ := json.Marshal(s3put)

	type call struct {
		payload  []byte
		wantKind string
		check    func(t *testing.T, body []byte)
	}
	batch := func(want ...string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			var r events.SQSEventResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatalf("response %s is not an SQS batch response: %v", body, err)
			}
			var got []string
			for _, f := range r.BatchItemFailures {
				got = append(got, f.ItemIdentifier)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("batch item failures %v, want %v", got, want)
			}
		}
	}
	wrongShape := []byte(`{"Records": "not a list"}`)
	status := func(want int) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			var r events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(body, &r); err != nil || r.StatusCode != want {
				t.Errorf("response %s: status %d, want %d (%v)", body, r.StatusCode, want, err)
			}
		}
	}
	calls := map[string][]call{
		"IngestFunction":    {{withPoison, "response", batch("poison")}, {sample("ingest-merge.json"), "response", nil}, {wrongShape, "error", nil}},
		"DirectoryFunction": {{sample("sqs-s3-put.json"), "response", batch()}, {wrongShape, "error", nil}}, // a logs/ key: not a directory file
		"PlannerFunction":   {{sample("scheduled.json"), "response", nil}, {[]byte(`"not an event"`), "error", nil}},
		"SenderFunction":    {{sample("sqs-message.json"), "response", batch()}, {wrongShape, "error", nil}}, // no such notice: dropped
		"FeedbackFunction": {{sample("ses-send.json"), "response", nil}, {sample("ses-delivery.json"), "response", nil},
			{sample("ses-bounce.json"), "response", nil}, {sample("ses-complaint.json"), "response", nil},
			{sample("ses-probe-bounce.json"), "response", nil}, {wrongShape, "error", nil}},
		"ApiFunction": {{sample("apigw-v2-campaigns.json"), "response", status(200)}, {sample("apigw-v2-console.json"), "response", status(303)},
			{[]byte(`"not an event"`), "error", nil}},
	}
	// The API reads its signing keys from SSM at init: the template's parameter names.
	ssmURL := localstacktest.SSM(t, map[string]string{"/sunset/signing-keys": signing.NewKey(), "/sunset/console-client-secret": "s"})
	for name, exe := range bins {
		t.Run(name, func(t *testing.T) {
			cs, ok := calls[name]
			if !ok {
				t.Fatalf("no sample events listed for %s", name)
			}
			api := newRuntimeAPI(t)
			stand := map[string]string{"Table": table, "SendQueue": "https://sqs.eu-west-2.amazonaws.com/123456789012/sunset-test-send",
				"SesConfigurationSet": "sunset-test", "AWS::AccountId": "example"}
			env := []string{
				"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + strings.TrimPrefix(api.srv.URL, "http://"),
				"AWS_LAMBDA_FUNCTION_NAME=sunset-test-" + name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256",
				"AWS_REGION=" + localstack.Region, "AWS_ACCESS_KEY_ID=" + localstack.AccessKey, "AWS_SECRET_ACCESS_KEY=" + localstack.SecretKey,
				"AWS_EC2_METADATA_DISABLED=true",
				"AWS_ENDPOINT_URL_DYNAMODB=" + localstack.Endpoint("dynamodb"), "AWS_ENDPOINT_URL_SESV2=" + localstack.Endpoint("sesv2"),
				"AWS_ENDPOINT_URL_S3=" + s3URL, "AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1", "AWS_ENDPOINT_URL_SSM=" + ssmURL,
			}
			for k, v := range functionEnvRaw(c, name) {
				env = append(env, k+"="+templateValue(c, v, stand))
			}
			var stdout, stderr bytes.Buffer
			cmd := withoutZoneinfo(t, exe)
			cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			defer func() {
				cmd.Process.Kill()
				<-exited
				if strings.Contains(stderr.String(), "panic") {
					t.Errorf("the function panicked:\n%s", stderr.String())
				}
				if _, err := metricstest.Check(stdout.Bytes()); err != nil {
					t.Errorf("standard output is not only valid metric lines: %v", err)
				}
				if t.Failed() {
					t.Logf("stderr:\n%s", stderr.String())
				}
			}()
			for i, c := range cs {
				id := fmt.Sprintf("%s-%d", name, i)
				got := api.invoke(t, id, c.payload, exited)
				if got.kind != c.wantKind {
					t.Errorf("event %d: the function answered %s %s, want a %s", i, got.kind, got.body, c.wantKind)
					continue
				}
				if c.check != nil {
					c.check(t, got.body)
				}
			}
		})
	}
}

// functionEnvRaw is the environment template.yaml gives a function (Globals, then its own),
// with the values as the template writes them (references unresolved).
func functionEnvRaw(c *cfn, function string) map[string]any {
	out := map[string]any{}
	for _, props := range []map[string]any{c.Globals, c.Resources[function].Properties} {
		for k, v := range asMap(asMap(props["Environment"])["Variables"]) {
			out[k] = v
		}
	}
	return out
}

// withoutZoneinfo runs exe where /usr/share/zoneinfo is an empty folder, as on a runtime without
// the time zone database (in a user and mount namespace of its own); where the machine allows
// no namespaces it runs exe as is, and TestBootstrapsAreStaticWithTheirTimeZones still holds.
func withoutZoneinfo(t *testing.T, exe string) *exec.Cmd {
	if exec.Command("unshare", "-rm", "true").Run() != nil {
		t.Log("unshare -rm is not allowed here: the function runs with the machine's zoneinfo")
		return exec.Command(exe)
	}
	empty := t.TempDir()
	return exec.Command("unshare", "-rm", "sh", "-c", `mount --bind "$1" /usr/share/zoneinfo && exec "$2"`, "sh", empty, exe)
}

// Every bootstrap is a static binary (no interpreter: it needs no C library from the runtime,
// whatever the build host's) and carries the time zone database (shared/bootstrap).
func TestBootstrapsAreStaticWithTheirTimeZones(t *testing.T) {
	for name, exe := range bootstraps(t) {
		f, err := elf.Open(exe)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked: build with CGO_ENABLED=0", name)
			}
		}
		syms, err := f.Symbols()
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.ContainsFunc(syms, func(s elf.Symbol) bool { return s.Name == "time/tzdata..inittask" }) {
			t.Errorf("%s does not embed time/tzdata: its main must import shared/bootstrap", name)
		}
	}
}
