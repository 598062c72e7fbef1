package planner

import (
	"context"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/progress"
	"github.com/nhsmail-sunset/sunset/shared/store"
	"github.com/nhsmail-sunset/sunset/shared/suppression"
)

// New is the planner over the Sunset table, with the real stores; stage holds the findings
// committed but not merged yet.
func New(db store.Table, table string, stage findings.Stage, clock func() time.Time) *Planner {
	l := ledger.New(db, table, clock)
	return &Planner{
		Campaigns:   campaign.NewStore(db, table, clock),
		Findings:    views{findings.NewReader(db, table, stage)},
		Directory:   directory.New(db, table, clock),
		Suppression: suppression.New(db, table, clock),
		Ledger:      l,
		Mails:       l,
		Progress:    progress.NewStore(db, table),
		Answers:     answers.NewStore(db, table, clock),
		Clock:       clock,
	}
}

// views gives the findings reader's views as the planner reads them.
type views struct{ r *findings.Reader }

func (v views) View(ctx context.Context, campaignID string) (FindingsView, error) {
	return v.r.View(ctx, campaignID)
}
