package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/findings"
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

// Ingester ingests files.
type Ingester struct {
	writer   *findings.Writer
	reader   *findings.Reader
	resolver Resolver
	clock    func() time.Time
	// Options tune the scanners (ByDay is always set).
	Options connlog.Options
}

// DB is the part of the DynamoDB client ingest uses.
type DB interface {
	findings.Updater
	findings.Querier
}

// New returns an ingester writing to table.
func New(db DB, table string, resolver Resolver, clock func() time.Time) *Ingester {
	return &Ingester{writer: findings.NewWriter(db, table), reader: findings.NewReader(db, table), resolver: resolver, clock: clock}
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
	accounts := map[string]bool{}
	for _, s := range scans {
		for _, f := range s.findings {
			if f.Account != nil && *f.Account != "" {
				accounts[*f.Account] = true
			}
		}
	}
	list := make([]string, 0, len(accounts))
	for a := range accounts {
		list = append(list, a)
	}
	sort.Strings(list)
	owners, err := in.resolver.Resolve(ctx, list)
	if err != nil {
		return outcomes, fmt.Errorf("ingest %s: %w", src.Name, err)
	}
	for i, t := range todo {
		s := scans[i]
		n, err := in.writer.Write(ctx, findings.Batch{Campaign: t.ID, Source: src.ID, Owners: owners, ExpiresAt: t.ExpiresAt}, s.findings)
		if err != nil {
			return outcomes, fmt.Errorf("ingest %s for %s: %w", src.Name, t.ID, err)
		}
		f := findings.FileFromSummary(src.ID, src.Name, t.ID, s.summary)
		f.Writes = int64(n)
		if s.err != nil {
			f.Error = s.err.Error()
		}
		f.FinishedAt = in.clock()
		f.DurationMS = f.FinishedAt.Sub(start).Milliseconds()
		if err := in.writer.Done(ctx, f, t.ExpiresAt); err != nil {
			return outcomes, fmt.Errorf("ingest %s: %w", src.Name, err)
		}
		f.State = findings.StateDone
		outcomes = append(outcomes, Outcome{Campaign: t.ID, File: f})
	}
	return outcomes, nil
}

type scanResult struct {
	summary  connlog.Summary
	findings []connlog.Finding
	err      error // a data error: recorded, not retried
}

// dataError reports whether a scan error is about the file's content (retrying can not help).
func dataError(err error) bool {
	return errors.Is(err, connlog.ErrUnknownFormat) || errors.Is(err, connlog.ErrTruncated)
}

// scan reads the file once and feeds every target's scanner from that one stream.
func (in *Ingester) scan(ctx context.Context, src Source, todo []Target) ([]scanResult, error) {
	opts := in.Options
	opts.ByDay = true
	scanners := make([]*connlog.Scanner, len(todo))
	for i, t := range todo {
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

	results := make([]scanResult, len(todo))
	if len(todo) == 1 {
		sum, err := scanners[0].Scan(ctx, src.Name, body)
		results[0] = scanResult{summary: sum, err: err}
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
				results[i] = scanResult{summary: sum, err: err}
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
		results[i].findings = scanners[i].Findings()
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
