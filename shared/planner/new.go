package planner

import (
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

// New is the planner over the Sunset table, with the real stores.
func New(db store.Table, table string, clock func() time.Time) *Planner {
	return &Planner{
		Campaigns:   campaign.NewStore(db, table, clock),
		Findings:    findings.NewReader(db, table),
		Directory:   directory.New(db, table, clock),
		Suppression: suppression.New(db, table, clock),
		Ledger:      ledger.New(db, table, clock),
		Progress:    progress.NewStore(db, table),
		Answers:     answers.NewStore(db, table, clock),
		Clock:       clock,
	}
}
