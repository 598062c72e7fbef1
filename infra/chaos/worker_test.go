package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// A handler can die with its process (a Lambda sandbox that runs out of memory or hits its
// timeout's hard stop): no deferred release, no answer. The run starts some invocations in a
// process of their own, this test binary again with workerEnv set, and kills it at a random
// moment.

// workerEnv names the handler a worker process runs ("sender", "ingest", "merge").
const workerEnv = "CHAOS_WORKER"

func TestMain(m *testing.M) {
	if kind := os.Getenv(workerEnv); kind != "" {
		os.Exit(work(kind))
	}
	os.Exit(m.Run())
}

// wiring is where a run's handlers send their requests: the proxies, the table and the bucket
// that holds both the log files and the staged findings.
type wiring struct {
	DB, SES, S3, Table, Bucket string
}

func (w wiring) env(kind string) []string {
	return append(os.Environ(), workerEnv+"="+kind, "CHAOS_DB="+w.DB, "CHAOS_SES="+w.SES, "CHAOS_S3="+w.S3,
		"CHAOS_TABLE="+w.Table, "CHAOS_BUCKET="+w.Bucket)
}

func wiringFromEnv() wiring {
	return wiring{DB: os.Getenv("CHAOS_DB"), SES: os.Getenv("CHAOS_SES"), S3: os.Getenv("CHAOS_S3"),
		Table: os.Getenv("CHAOS_TABLE"), Bucket: os.Getenv("CHAOS_BUCKET")}
}

// clientTimeout is the clients' timeout: a hung request (Timeout) fails after it, and the SDK
// retries.
const clientTimeout = time.Second

// config is the local stack's configuration with the retryer every function's clients have
// (awsclient.Retryer: 8 attempts, no client-side quota), so a run retries as production does.
func config() aws.Config {
	cfg := localstacktest.Config()
	cfg.Retryer = awsclient.Retryer
	return cfg
}

func (w wiring) dynamo() *dynamodb.Client {
	hc := &http.Client{Timeout: clientTimeout}
	return dynamodb.NewFromConfig(config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(w.DB); o.HTTPClient = hc })
}

func (w wiring) sender(log *slog.Logger) *sender.Sender {
	db, clock := w.dynamo(), time.Now
	hc := &http.Client{Timeout: clientTimeout}
	ses := sesv2.NewFromConfig(config(), func(o *sesv2.Options) { o.BaseEndpoint = aws.String(w.SES); o.HTTPClient = hc })
	return sender.New(ses, ledger.New(db, w.Table, clock), campaign.NewStore(db, w.Table, clock), suppression.New(db, w.Table, clock), clock,
		sender.Options{Instances: 2, Logger: log})
}

func (w wiring) s3() *s3.Client {
	hc := &http.Client{Timeout: clientTimeout}
	return s3.NewFromConfig(config(), func(o *s3.Options) {
		o.BaseEndpoint = aws.String(w.S3)
		o.UsePathStyle = true
		o.HTTPClient = hc
	})
}

// stage is where ingest stages findings and readers find those not merged yet.
func (w wiring) stage() findings.S3Stage {
	return findings.S3Stage{Client: w.s3(), Bucket: w.Bucket, Prefix: findings.StagingPrefix}
}

// ingest is the ingest function's handler; id names its merges in the lease, clock is its time.
func (w wiring) ingest(log *slog.Logger, id string, clock func() time.Time) *ingest.Handler {
	db := w.dynamo()
	in := ingest.New(db, w.Table, w.stage(), directory.New(db, w.Table, clock), clock, id)
	return &ingest.Handler{Ingester: in, Campaigns: campaign.NewStore(db, w.Table, clock), S3: w.s3(), Log: log}
}

// outcome is what an invocation answered: the SQS batch response, or the error it failed with.
type outcome struct {
	Response events.SQSEventResponse `json:"response"`
	Err      string                  `json:"error,omitempty"`
}

// work is a worker process: one invocation of kind, its event on stdin, its outcome on stdout,
// its log (JSON lines) on stderr.
func work(kind string) int {
	ctx := context.Background()
	w := wiringFromEnv()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 2
	}
	out, err := invokeHere(ctx, w, kind, in, log)
	if err != nil {
		out.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(out)
	return 0
}

// invokeHere runs one invocation of kind in this process.
func invokeHere(ctx context.Context, w wiring, kind string, event []byte, log *slog.Logger) (outcome, error) {
	var ev events.SQSEvent
	if kind != "merge" {
		if err := json.Unmarshal(event, &ev); err != nil {
			return outcome{}, err
		}
	}
	var out outcome
	var err error
	switch kind {
	case "sender":
		out.Response, err = w.sender(log).Handle(ctx, ev)
	case "ingest":
		out.Response, err = w.ingest(log, fmt.Sprintf("ingest %d", os.Getpid()), time.Now).Handle(ctx, ev)
	case "merge":
		err = w.ingest(log, fmt.Sprintf("merge %d %p", os.Getpid(), &out), time.Now).Merge(ctx)
	default:
		err = fmt.Errorf("no handler %q", kind)
	}
	return out, err
}

// invoker runs invocations: most in this process, a share (Kill) in a worker process killed
// after a random delay of up to MaxDelay (one that ends first is not killed).
type invoker struct {
	w        wiring
	Kill     float64
	MaxDelay time.Duration

	mu            sync.Mutex
	rng           *rand.Rand
	spawned, died int
}

func newInvoker(w wiring, seed uint64, kill float64, maxDelay time.Duration) *invoker {
	return &invoker{w: w, Kill: kill, MaxDelay: maxDelay, rng: rand.New(rand.NewPCG(seed, 99))}
}

// errKilled is the outcome of an invocation whose process was killed: like a Lambda whose
// sandbox died, it answered nothing, so the whole batch comes back.
var errKilled = errors.New("the invocation's process was killed")

// draw decides, in the order invocations are made, whether one runs in a process that is
// killed, and when.
func (iv *invoker) draw() (bool, time.Duration) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.rng.Float64() >= iv.Kill {
		return false, 0
	}
	return true, time.Duration(iv.rng.Float64() * float64(iv.MaxDelay))
}

// invoke runs one invocation of kind with event; log receives what the handler logged.
func (iv *invoker) invoke(ctx context.Context, kind string, event []byte, kill bool, delay time.Duration, log io.Writer) (outcome, error) {
	if !kill {
		return invokeHere(ctx, iv.w, kind, event, slog.New(slog.NewJSONHandler(log, nil)))
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = iv.w.env(kind)
	cmd.Stdin = bytes.NewReader(event)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, log
	if err := cmd.Start(); err != nil {
		return outcome{}, err
	}
	iv.mu.Lock()
	iv.spawned++
	iv.mu.Unlock()
	timer := time.AfterFunc(delay, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err != nil { // killed (or died): no answer
		iv.mu.Lock()
		iv.died++
		iv.mu.Unlock()
		return outcome{}, errKilled
	}
	var out outcome
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return outcome{}, fmt.Errorf("worker's answer: %w", err)
	}
	if out.Err != "" {
		return out, errors.New(out.Err)
	}
	return out, nil
}

// failures are the reasons the handler logged for the messages it failed ("ingest failed",
// "send failed", ... with a message_id), by message id.
func failures(log []byte) map[string]string {
	out := map[string]string{}
	for _, line := range bytes.Split(log, []byte("\n")) {
		var e struct {
			Msg, Error string
			ID         string `json:"message_id"`
		}
		if json.Unmarshal(line, &e) == nil && e.ID != "" && e.Error != "" && strings.Contains(e.Msg, "failed") {
			out[e.ID] = e.Error
		}
	}
	return out
}
