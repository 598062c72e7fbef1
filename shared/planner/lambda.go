package planner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// Config is the planner Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// SendQueueURL is the SQS queue claimed notices are handed to (SUNSET_SEND_QUEUE_URL,
	// required).
	SendQueueURL string
	// MemoryMB is the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by Lambda;
	// default 256): the soft memory limit is 90% of it.
	MemoryMB int
	// StagingBucket holds the findings committed but not merged yet (SUNSET_STAGING_BUCKET,
	// required): a plan reads them too.
	StagingBucket string
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{Table: e.Required("SUNSET_TABLE"), SendQueueURL: e.Required("SUNSET_SEND_QUEUE_URL"),
		MemoryMB: e.Int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 256, 128), StagingBucket: e.Required(findings.StagingBucketEnv)}
	return c, e.Err()
}

// NewHandler is the scheduled planner over the real table, handing off to the send queue. The
// planner streams (Run with Lean), so its memory follows a chunk of organisations; the soft limit at
// 90% of the function's memory is a backstop.
func NewHandler(cfg Config, c *awsclient.Clients, log *slog.Logger) *Handler {
	lambdaenv.LimitMemory(cfg.MemoryMB)
	db := c.DynamoDB()
	return &Handler{
		Planner:    New(db, cfg.Table, findings.S3Stage{Client: s3.NewFromConfig(c.Config()), Bucket: cfg.StagingBucket, Prefix: findings.StagingPrefix}, time.Now),
		Live:       campaign.NewStore(db, cfg.Table, time.Now),
		Dispatcher: &Queue{Client: sqs.NewFromConfig(c.Config()), URL: cfg.SendQueueURL},
		Logger:     log,
		Metrics:    metrics.New(os.Stdout, "planner", time.Now),
	}
}

// LiveCampaigns lists the campaigns a scheduled run looks at (shared/campaign.Store fits).
type LiveCampaigns interface {
	Live(ctx context.Context) ([]*campaign.Campaign, error)
}

// Handler is the scheduled planner Lambda: every live campaign is run for today in its own
// time zone, and claimed notices go to Dispatcher.
type Handler struct {
	Planner    *Planner
	Live       LiveCampaigns
	Dispatcher Dispatcher
	Logger     *slog.Logger
	// Metrics gets each campaign's notices and funnel, and PlannerRuns once every live campaign
	// was planned (nil: none).
	Metrics *metrics.Recorder
}

// Handle runs one scheduled invocation. A campaign that fails does not stop the others; the
// invocation fails (and the scheduler retries it) if any did, which is safe: claims are
// idempotent and today's unsent claims are handed over again. PlannerRuns counts only a run in
// which every campaign was planned: the "planner did not run" alarm watches it.
func (h *Handler) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	defer func() {
		if err := h.Metrics.Flush(); err != nil {
			log.Error("metrics not written", "error", err)
		}
	}()
	live, err := h.Live.Live(ctx)
	if err != nil {
		return fmt.Errorf("scheduled run %s: %w", ev.ID, err)
	}
	var errs []error
	for _, c := range live {
		at := c.Today(h.Planner.Clock())
		res, err := h.Planner.Run(ctx, c.ID, at, h.Dispatcher, Lean())
		if err != nil {
			log.Error("plan campaign", "campaign", c.ID, "at", at.String(), "error", err)
			errs = append(errs, err)
			continue
		}
		h.count(c.ID, res)
		log.Info("planned campaign", "campaign", c.ID, "at", at.String(), "status", res.Plan.Status,
			"due", res.Counts.Due, "claimed", res.Counts.Claimed, "dispatched", res.Dispatched, "skipped", res.Counts.Skipped,
			"unassigned_accounts", res.Counts.Unassigned)
	}
	if len(errs) == 0 {
		h.Metrics.Add("", metrics.PlannerRuns, 1)
	}
	return errors.Join(errs...)
}

// count records one campaign's run: the notices due, claimed, superseded and handed over again,
// and the funnel.
func (h *Handler) count(id string, res Result) {
	m := h.Metrics
	m.Add(id, metrics.NoticesPlanned, float64(res.Counts.Due))
	m.Add(id, metrics.NoticesClaimed, float64(res.Counts.Claimed))
	m.Add(id, metrics.NoticesSuperseded, float64(res.Superseded))
	m.Add(id, metrics.NoticesPendingDispatch, float64(max(0, res.Dispatched-res.Counts.Claimed)))
	f := res.Plan.Funnel
	m.Set(id, metrics.AffectedOrganisations, float64(f.Affected))
	m.Set(id, metrics.AffectedAccounts, float64(f.AffectedAccounts))
	m.Set(id, metrics.NotifiedOrganisations, float64(f.Notified))
	m.Set(id, metrics.FixedOrganisations, float64(f.Fixed))
}

// SQSSender is the part of the SQS client the queue dispatcher uses.
type SQSSender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue hands claimed notices to the sender through the SQS send queue.
type Queue struct {
	Client SQSSender
	URL    string
}

// DispatchMails sends one message per merged email ({"campaign","mail"}), ten per request.
func (q *Queue) DispatchMails(ctx context.Context, mails []ledger.MailKey) error {
	bodies := make([]any, len(mails))
	for i, m := range mails {
		bodies[i] = struct {
			Campaign string `json:"campaign"`
			Mail     string `json:"mail"`
		}{m.Campaign, m.ID()}
	}
	return q.send(ctx, bodies)
}

// Dispatch sends one message per notice, ten per request. Entries SQS rejects are an error
// (the notices stay claimed; a re-run of the same day hands them over again).
func (q *Queue) Dispatch(ctx context.Context, notices []ledger.Notice) error {
	bodies := make([]any, len(notices))
	for i, n := range notices {
		bodies[i] = n.Key()
	}
	return q.send(ctx, bodies)
}

// send sends one message per body (as JSON), ten per request.
func (q *Queue) send(ctx context.Context, bodies []any) error {
	for start := 0; start < len(bodies); start += 10 {
		end := min(start+10, len(bodies))
		entries := make([]types.SendMessageBatchRequestEntry, 0, end-start)
		for i, b := range bodies[start:end] {
			body, err := json.Marshal(b)
			if err != nil {
				return err
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))})
		}
		out, err := q.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			return fmt.Errorf("send to queue %s: %w", q.URL, err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("send to queue %s: %d of %d messages rejected (first: %s %s)", q.URL, len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return nil
}
