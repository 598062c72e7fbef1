// Package findingstest seeds a table with findings in bulk, for benchmarks and fixtures (like
// httptest for net/http): items are made by the findings package itself, never by hand.
package findingstest

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Batch says whose findings are seeded.
type Batch struct {
	Campaign string
	// Owners maps accounts to the ODS code of their organisation (missing: unassigned).
	Owners    map[string]string
	ExpiresAt time.Time
}

// Items returns the whole items that merging fs (one file's findings) leaves in a table that
// holds none of them (findings.Items), to be written with BatchWriteItem, many times faster
// than ingesting. A put replaces whole items: never ingest with it.
func Items(_ context.Context, b Batch, fs []connlog.Finding) ([]map[string]types.AttributeValue, error) {
	return findings.Items(b.Campaign, fs, b.Owners, b.ExpiresAt)
}

// Seed writes the items of fs (Items) to table and returns how many.
func Seed(ctx context.Context, db store.BatchWriter, table string, b Batch, fs []connlog.Finding) (int, error) {
	items, err := Items(ctx, b, fs)
	if err != nil {
		return 0, err
	}
	return len(items), store.BatchPut(ctx, db, table, items)
}
