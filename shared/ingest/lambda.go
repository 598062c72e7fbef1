package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Config is the ingest Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// MemoryMB is the function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by Lambda;
	// default 1024): the soft memory limit is 90% of it, and the scanners' findings are
	// written out in parts before they hold 40% of it.
	MemoryMB int
	// MaxFindings overrides the findings a scanner holds before it writes a part
	// (SUNSET_MAX_FINDINGS; default 40% of MemoryMB at connlog.BytesPerFinding).
	MaxFindings int
	// StagingBucket holds each file's findings until the hourly merge (SUNSET_STAGING_BUCKET,
	// required; under findings.StagingPrefix).
	StagingBucket string
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{
		Table:         e.Required("SUNSET_TABLE"),
		MemoryMB:      e.Int("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 1024, 128),
		MaxFindings:   e.Int("SUNSET_MAX_FINDINGS", 0, 0),
		StagingBucket: e.Required(findings.StagingBucketEnv),
	}
	if c.MaxFindings == 0 {
		c.MaxFindings = c.MemoryMB << 20 * 2 / 5 / connlog.BytesPerFinding
	}
	return c, e.Err()
}

// NewHandler is the ingest Lambda over the real table and bucket. It sets the process's soft
// memory limit to 90% of the function's memory (unless GOMEMLIMIT is set); the scanners' part
// writes (MaxFindings, 40% of it) keep the live heap well below the limit, so a file of any
// size ends within the function's memory instead of failing into the queue's DLQ.
func NewHandler(cfg Config, c *awsclient.Clients, log *slog.Logger) *Handler {
	lambdaenv.LimitMemory(cfg.MemoryMB)
	db := c.DynamoDB()
	s3c := s3.NewFromConfig(c.Config())
	stage := findings.S3Stage{Client: s3c, Bucket: cfg.StagingBucket, Prefix: findings.StagingPrefix}
	host, _ := os.Hostname()
	in := New(db, cfg.Table, stage, directory.New(db, cfg.Table, time.Now), time.Now, fmt.Sprintf("ingest %s %d", host, os.Getpid()))
	in.MaxFindings = cfg.MaxFindings
	return &Handler{
		Ingester:  in,
		Campaigns: campaign.NewStore(db, cfg.Table, time.Now),
		S3:        s3c,
		Log:       log,
		Metrics:   metrics.New(os.Stdout, "ingest", time.Now),
	}
}

// Handler is the ingest Lambda: SQS messages whose bodies are S3 event notifications for new
// log files. A message whose file fails is reported back as a batch item failure, so SQS
// retries just it (and moves it to the dead-letter queue after maxReceiveCount).
type Handler struct {
	Ingester  *Ingester
	Campaigns Campaigns
	S3        S3Getter
	Log       *slog.Logger
	// Metrics counts files, lines, legacy events, malformed lines and findings written (nil:
	// none).
	Metrics *metrics.Recorder
}

// Invoke is the function's entry point: an SQS batch of S3 notifications (Handle), or the
// hourly schedule's event (Merge). The schedule's input is {"merge": true}.
func (h *Handler) Invoke(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records json.RawMessage `json:"Records"`
		Merge   bool            `json:"merge"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if probe.Merge {
		return nil, h.Merge(ctx)
	}
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("decode SQS event: %w", err)
	}
	return h.Handle(ctx, ev)
}

// Merge adds every live campaign's committed files to the table (the hourly schedule). A
// campaign another merge holds is left to it; one that fails does not stop the others, and
// the invocation fails (the schedule retries) if any did: merges are idempotent.
func (h *Handler) Merge(ctx context.Context) error {
	defer func() {
		if err := h.Metrics.Flush(); err != nil {
			h.Log.ErrorContext(ctx, "metrics not written", "error", err.Error())
		}
	}()
	targets, err := Targets(ctx, h.Campaigns)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range targets {
		uctx, units := store.WithUnits(ctx)
		m, err := h.Ingester.Merge(uctx, t)
		if errors.Is(err, findings.ErrMergeBusy) {
			h.Log.InfoContext(ctx, "merge left to the merge running", "campaign", t.ID)
			continue
		}
		h.Metrics.Add(t.ID, metrics.FindingsMerged, float64(m.Written))
		h.Metrics.Add(t.ID, metrics.MergeWriteUnits, units.Write())
		h.Log.InfoContext(ctx, "merged", "campaign", t.ID, "batches", m.Batches, "files", m.Files, "keys", m.Keys,
			"written", m.Written, "write_units", units.Write(), "read_units", units.Read())
		if err != nil {
			h.Log.ErrorContext(ctx, "merge failed", "campaign", t.ID, "error", err.Error())
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Handle processes one SQS batch.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	defer func() {
		if err := h.Metrics.Flush(); err != nil {
			h.Log.ErrorContext(ctx, "metrics not written", "error", err.Error())
		}
	}()
	var resp events.SQSEventResponse
	var targets []Target
	loaded := false
	for _, msg := range ev.Records {
		if err := h.message(ctx, msg, &targets, &loaded); err != nil {
			h.Log.ErrorContext(ctx, "ingest failed", "message_id", msg.MessageId, "error", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

func (h *Handler) message(ctx context.Context, msg events.SQSMessage, targets *[]Target, loaded *bool) error {
	var s3ev events.S3Event
	if err := json.Unmarshal([]byte(msg.Body), &s3ev); err != nil {
		// Not retryable: a poison message goes to the DLQ after its retries, where it is seen.
		return fmt.Errorf("decode S3 event: %w", err)
	}
	if len(s3ev.Records) == 0 {
		h.Log.InfoContext(ctx, "message without S3 records ignored (e.g. s3:TestEvent)", "message_id", msg.MessageId)
		return nil
	}
	if !*loaded {
		t, err := Targets(ctx, h.Campaigns)
		if err != nil {
			return err
		}
		*targets, *loaded = t, true
	}
	var errs []error
	for _, r := range s3ev.Records {
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			continue
		}
		o, err := ObjectFromEvent(r.S3.Bucket.Name, r.S3.Object.Key, r.S3.Object.VersionID, r.S3.Object.ETag)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(*targets) == 0 {
			// Acknowledged, not lost: the file stays in the bucket, and `sunset backfill` hands
			// it over again once a campaign is live.
			h.Metrics.Add("", metrics.FilesWithoutCampaign, 1)
			h.Log.WarnContext(ctx, "no live campaign: file not ingested; once one is, sunset backfill --campaign ID ingests it", "object", o.ID())
			continue
		}
		outs, err := h.Ingester.File(ctx, S3Source(h.S3, o), *targets)
		if errors.Is(err, ErrObjectGone) {
			h.Log.WarnContext(ctx, "object gone before ingest", "object", o.ID(), "error", err.Error())
			continue
		}
		if err != nil {
			h.Metrics.Add("", metrics.FilesFailed, 1)
			errs = append(errs, err)
			continue
		}
		read := false
		for _, out := range outs {
			f := out.File
			if !out.Skipped {
				read = true
				h.Metrics.Add(out.Campaign, metrics.Lines, float64(f.Lines))
				h.Metrics.Add(out.Campaign, metrics.LegacyEvents, float64(f.Events))
				h.Metrics.Add(out.Campaign, metrics.MalformedLines, float64(f.Malformed))
				h.Metrics.Add(out.Campaign, metrics.IngestWriteUnits, f.WriteUnits)
			}
			h.Log.InfoContext(ctx, "ingested", "object", o.ID(), "campaign", out.Campaign, "skipped", out.Skipped,
				"format", f.Format, "lines", f.Lines, "events", f.Events, "findings", f.Findings, "batch", f.Batch, "write_units", f.WriteUnits,
				"unresolved", f.Unresolved, "malformed", f.Malformed, "error", f.Error, "duration_ms", f.DurationMS)
		}
		if read {
			h.Metrics.Add("", metrics.FilesIngested, 1)
		}
	}
	return errors.Join(errs...)
}
