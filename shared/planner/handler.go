package planner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
)

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
}

// Handle runs one scheduled invocation. A campaign that fails does not stop the others; the
// invocation fails (and the scheduler retries it) if any did, which is safe: claims are
// idempotent and today's unsent claims are handed over again.
func (h *Handler) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	live, err := h.Live.Live(ctx)
	if err != nil {
		return fmt.Errorf("scheduled run %s: %w", ev.ID, err)
	}
	var errs []error
	for _, c := range live {
		at := c.Today(h.Planner.Clock())
		res, err := h.Planner.Run(ctx, c.ID, at, h.Dispatcher)
		if err != nil {
			log.Error("plan campaign", "campaign", c.ID, "at", at.String(), "error", err)
			errs = append(errs, err)
			continue
		}
		reasons := map[string]int{}
		for _, s := range res.Plan.Skipped {
			reasons[s.Reason]++
		}
		log.Info("planned campaign", "campaign", c.ID, "at", at.String(), "status", res.Plan.Status,
			"claimed", len(res.Claimed), "dispatched", res.Dispatched, "skipped", reasons,
			"unassigned", len(res.Plan.Unassigned), "unattributed", len(res.Plan.Unattributed))
	}
	return errors.Join(errs...)
}
