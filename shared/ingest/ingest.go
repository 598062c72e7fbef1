package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

// Resolver finds the organisation owning each account (directory.Directory).
type Resolver interface {
	Resolve(ctx context.Context, accounts []string) (map[string]string, error)
}

// Campaigns lists the campaigns that still collect findings (campaign.Store).
type Campaigns interface {
	Live(ctx context.Context) ([]*campaign.Campaign, error)
}

// Target is what ingest needs of a campaign.
type Target struct {
	ID    string
	Rules connlog.Rules
	// ExpiresAt is the TTL of the campaign's findings.
	ExpiresAt time.Time
}

// TargetOf is a campaign as an ingest target.
func TargetOf(c *campaign.Campaign) Target {
	return Target{ID: c.ID, Rules: c.ScanRules(), ExpiresAt: c.RetainUntil()}
}

// Targets is every live campaign as an ingest target.
func Targets(ctx context.Context, cs Campaigns) ([]Target, error) {
	live, err := cs.Live(ctx)
	if err != nil {
		return nil, fmt.Errorf("list live campaigns: %w", err)
	}
	out := make([]Target, 0, len(live))
	for _, c := range live {
		out = append(out, TargetOf(c))
	}
	return out, nil
}

// Source is one file to ingest.
type Source struct {
	// ID is the file's stable identity: <bucket>/<key>#<version id or etag:ETag>.
	ID string
	// Name is what people call it: <bucket>/<key> or a path.
	Name string
	// Open streams the file's bytes (compressed or not: the scanner detects gzip).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Ingester ingests files: each file's findings are staged, then committed to the campaign's
// open merge batch; a merge (Merge, hourly in AWS) adds them to the table.
type Ingester struct {
	writer   *findings.Writer
	reader   *findings.Reader
	merger   *findings.Merger
	resolver Resolver
	clock    func() time.Time
	// Options tune the scanners (ByDay is always set).
	Options connlog.Options
	// MaxFindings bounds the findings a scanner holds (0: no bound): past it they are written
	// as a part and the scanner starts again (connlog.Options.MaxFindings), so any file is
	// ingested within a fixed memory, exactly once.
	MaxFindings int
}

// DB is the part of the DynamoDB client ingest uses.
type DB interface {
	findings.Updater
	findings.Querier
	findings.MergeDB
}

// New returns an ingester writing to table, staging findings in stage; mergerID names it in a
// merge's lease.
func New(db DB, table string, stage findings.Stage, resolver Resolver, clock func() time.Time, mergerID string) *Ingester {
	return &Ingester{
		writer: findings.NewWriter(db, table, stage, clock), reader: findings.NewReader(db, table, stage),
		merger: findings.NewMerger(db, table, stage, clock, mergerID), resolver: resolver, clock: clock,
	}
}

// View is the campaign's findings as of now, merged or not (findings.Reader.View).
func (in *Ingester) View(ctx context.Context, campaignID string) (*findings.View, error) {
	return in.reader.View(ctx, campaignID)
}

// Merge adds every committed file of the target's campaign to the table (findings.Merger).
// ErrMergeBusy from it means another merge holds the campaign and will.
func (in *Ingester) Merge(ctx context.Context, t Target) (findings.Merged, error) {
	return in.merger.Merge(ctx, t.ID, t.ExpiresAt)
}

// Outcome is what happened to a file for one campaign.
type Outcome struct {
	Campaign string
	// Skipped is true when the ledger said the file was already done; File is then the
	// summary recorded the first time.
	Skipped bool
	File    findings.File
}

// File ingests one file for every target that has not done it yet. Errors that retrying can
// fix (reading the file, DynamoDB) are returned, and no ledger entry is written for the
// campaigns concerned; a file the scanner does not understand (unknown format, truncated gzip)
// is recorded with its error, keeping what was read before it.
func (in *Ingester) File(ctx context.Context, src Source, targets []Target) ([]Outcome, error) {
	var outcomes []Outcome
	var todo []Target
	for _, t := range targets {
		f, err := in.reader.File(ctx, src.ID, t.ID)
		if err != nil {
			return nil, fmt.Errorf("ingest %s: %w", src.Name, err)
		}
		if f != nil && f.State == findings.StateDone {
			outcomes = append(outcomes, Outcome{Campaign: t.ID, Skipped: true, File: *f})
			continue
		}
		todo = append(todo, t)
	}
	if len(todo) == 0 {
		return outcomes, nil
	}
	start := in.clock()
	scans, err := in.scan(ctx, src, todo)
	if err != nil {
		return outcomes, err
	}
	for i, t := range todo {
		s := scans[i]
		uctx, units := store.WithUnits(ctx)
		f := findings.FileFromSummary(src.ID, src.Name, t.ID, s.summary)
		if s.parts > 0 {
			if f.Batch, err = in.writer.Commit(uctx, t.ID, src.ID, s.parts); err != nil {
				return outcomes, fmt.Errorf("ingest %s: %w", src.Name, err)
			}
		}
		f.Parts = int64(s.parts)
		if s.err != nil {
			f.Error = s.err.Error()
		}
		f.FinishedAt = in.clock()
		f.DurationMS = f.FinishedAt.Sub(start).Milliseconds()
		// The ledger's own put is counted at its largest: the item it writes.
		f.WriteUnits = units.Write() + findings.LedgerUnits(f, t.ExpiresAt)
		if err := in.writer.Done(uctx, f, t.ExpiresAt); err != nil {
			return outcomes, fmt.Errorf("ingest %s: %w", src.Name, err)
		}
		f.State = findings.StateDone
		outcomes = append(outcomes, Outcome{Campaign: t.ID, File: f})
	}
	return outcomes, nil
}

// part stages one part of a file's findings for target t, with the owners of its accounts as
// the directory says now (see findings.Batch.Part). A part without findings is not staged.
func (in *Ingester) part(ctx context.Context, src Source, t Target, part int, fs []connlog.Finding) error {
	accounts := map[string]bool{}
	for _, f := range fs {
		if f.Account != nil && *f.Account != "" {
			accounts[*f.Account] = true
		}
	}
	owners, err := in.resolver.Resolve(ctx, slices.Sorted(maps.Keys(accounts)))
	if err != nil {
		return fmt.Errorf("ingest %s: %w", src.Name, err)
	}
	if err := in.writer.Stage(ctx, findings.Batch{Campaign: t.ID, Source: src.ID, Owners: owners, Part: part}, fs); err != nil {
		return fmt.Errorf("ingest %s for %s: %w", src.Name, t.ID, err)
	}
	return nil
}

type scanResult struct {
	summary connlog.Summary
	parts   int   // staged parts (0: the file had no findings)
	err     error // a data error: recorded, not retried
}

// dataError reports whether a scan error is about the file's content (retrying can not help).
func dataError(err error) bool {
	return errors.Is(err, connlog.ErrUnknownFormat) || errors.Is(err, connlog.ErrTruncated)
}

// scan reads the file once and feeds every target's scanner from that one stream; each
// scanner's findings are written as it goes (a part each time it reaches MaxFindings) and
// when the file ends.
func (in *Ingester) scan(ctx context.Context, src Source, todo []Target) ([]scanResult, error) {
	results := make([]scanResult, len(todo))
	parts := make([]int, len(todo))
	scanners := make([]*connlog.Scanner, len(todo))
	for i, t := range todo {
		opts := in.Options
		opts.ByDay = true
		if in.MaxFindings > 0 {
			opts.MaxFindings = in.MaxFindings
			opts.Flush = func(fs []connlog.Finding) error {
				err := in.part(ctx, src, t, parts[i], fs)
				parts[i]++
				results[i].parts = parts[i]
				return err
			}
		}
		s, err := connlog.NewScanner(t.Rules, opts)
		if err != nil {
			return nil, fmt.Errorf("ingest %s: campaign %s: %w", src.Name, t.ID, err)
		}
		scanners[i] = s
	}
	body, err := src.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", src.Name, err)
	}
	defer body.Close()

	if len(todo) == 1 {
		sum, err := scanners[0].Scan(ctx, src.Name, body)
		results[0].summary, results[0].err = sum, err
	} else {
		// One read, N scanners: each reads its own pipe; a scanner that stops early (unknown
		// format) closes its pipe and is dropped from the fan-out.
		pipes := make([]*io.PipeWriter, len(todo))
		var wg sync.WaitGroup
		for i := range todo {
			pr, pw := io.Pipe()
			pipes[i] = pw
			wg.Add(1)
			go func() {
				defer wg.Done()
				sum, err := scanners[i].Scan(ctx, src.Name, pr)
				results[i].summary, results[i].err = sum, err
				pr.CloseWithError(errScannerDone)
			}()
		}
		_, copyErr := io.Copy(&fanout{ws: pipes, dead: make([]bool, len(pipes))}, body)
		for _, pw := range pipes {
			pw.CloseWithError(copyErr) // nil: EOF
		}
		wg.Wait()
		if copyErr != nil {
			return nil, fmt.Errorf("ingest %s: read: %w", src.Name, copyErr)
		}
	}
	for i := range results {
		if err := results[i].err; err != nil && !dataError(err) {
			return nil, fmt.Errorf("ingest %s for %s: %w", src.Name, todo[i].ID, err)
		}
		if fs := scanners[i].Findings(); len(fs) > 0 {
			if err := in.part(ctx, src, todo[i], parts[i], fs); err != nil {
				return nil, err
			}
			results[i].parts = parts[i] + 1
		}
	}
	return results, nil
}

var errScannerDone = errors.New("scanner finished")

type fanout struct {
	ws   []*io.PipeWriter
	dead []bool
}

func (f *fanout) Write(p []byte) (int, error) {
	for i, w := range f.ws {
		if f.dead[i] {
			continue
		}
		if _, err := w.Write(p); err != nil {
			f.dead[i] = true
		}
	}
	return len(p), nil
}
