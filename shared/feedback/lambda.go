package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// Config is the feedback Lambda's environment.
type Config struct {
	// Table is the Sunset table (SUNSET_TABLE, required).
	Table string
}

// LoadConfig reads Config, naming every missing or malformed variable in one error.
func LoadConfig(getenv func(string) string) (Config, error) {
	e := lambdaenv.New(getenv)
	c := Config{Table: e.Required("SUNSET_TABLE")}
	return c, e.Err()
}

// NewHandler is the feedback Lambda over the real table.
func NewHandler(cfg Config, c *awsclient.Clients, log *slog.Logger) *Handler {
	db := c.DynamoDB()
	return New(suppression.New(db, cfg.Table, time.Now), ledger.New(db, cfg.Table, time.Now), log)
}

// Handle processes every SES event of an SNS delivery. A record that is not an SES event is
// logged and skipped (retrying cannot fix it); a failure to write is returned, so the Lambda is
// retried: every write is idempotent.
func (h *Handler) Handle(ctx context.Context, ev events.SNSEvent) error {
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
