package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Config is the feedback Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
	// AutoPause is when a campaign is paused for its bounce rate: SUNSET_AUTO_PAUSE_BOUNCE_RATE
	// (a fraction; default 0.08, above SES's 5% review threshold and below the 10% at which SES
	// may pause the whole account; 0 turns it off) over at least SUNSET_AUTO_PAUSE_MIN_SENDS
	// recipients (default 100).
	AutoPause AutoPause
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{
		Table: e.Required("SUNSET_TABLE"),
		AutoPause: AutoPause{
			BounceRate: e.Float("SUNSET_AUTO_PAUSE_BOUNCE_RATE", 0.08, 0),
			MinSends:   int64(e.Int("SUNSET_AUTO_PAUSE_MIN_SENDS", 100, 1)),
		},
	}
	return c, e.Err()
}

// NewHandler is the feedback Lambda over the real table, with its metrics on standard output.
func NewHandler(cfg Config, c *awsclient.Clients, log *slog.Logger) *Handler {
	db := c.DynamoDB()
	return New(suppression.New(db, cfg.Table, time.Now), ledger.New(db, cfg.Table, time.Now), Options{
		Campaigns: campaign.NewStore(db, cfg.Table, time.Now), AutoPause: cfg.AutoPause,
		Metrics: metrics.New(os.Stdout, "feedback", time.Now), Logger: log, Probes: NewProbes(db, cfg.Table),
	})
}

// Handle processes every SES event of an SNS delivery. A record that is not an SES event is
// logged and skipped (retrying cannot fix it); a failure to write is returned, so the Lambda is
// retried (and, after its retries, the event lands in the feedback DLQ): every write is
// idempotent.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) error {
	defer h.flush()
	var errs []error
	for _, r := range ev.Records {
		var e Event
		if err := json.Unmarshal([]byte(r.SNS.Message), &e); err != nil || e.EventType == "" {
			h.log.Error("SNS message is not an SES event: skipped", "sns_message_id", r.SNS.MessageID, "error", err)
			continue
		}
		if err := h.Process(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *Handler) flush() {
	if err := h.metrics.Flush(); err != nil {
		h.log.Error("metrics not written", "error", err)
	}
}
