package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/store"
)

func init() {
	commands["ingest"] = command{summary: "ingest log files into the table for a campaign (exactly once per file)", run: runIngest}
}

func runIngest(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	camp := fl.String("campaign", "", "campaign `ID_OR_FILE`: a campaign file (YAML) if the path exists, else the id of an applied campaign")
	local := localFlag(fl)
	fl.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: sunset ingest --campaign ID_OR_FILE [--local] LOG...")
		fmt.Fprintln(env.stderr, "Scans each log (gzip or not) and stores its findings by day; a file already ingested for the campaign is skipped.")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if *camp == "" || fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	for _, p := range fl.Args() {
		if st, err := os.Stat(p); err != nil || st.IsDir() {
			fmt.Fprintf(env.stderr, "sunset ingest: %s: not a readable file\n", p)
			return 2
		}
	}
	db, table, err := env.dynamo(ctx, *local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
		return 1
	}
	c, code := ingestCampaign(ctx, env, campaign.NewStore(db, table, env.clock), *camp)
	if c == nil {
		return code
	}
	stage, err := env.stage(ctx, *local)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
		return 1
	}
	host, _ := os.Hostname()
	in := ingest.New(db, table, stage, directory.New(db, table, env.clock), env.clock, fmt.Sprintf("sunset ingest %s %d", host, os.Getpid()))
	targets := []ingest.Target{ingest.TargetOf(c)}
	for _, path := range fl.Args() {
		src, err := ingest.FileSource(path)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
			code = 1
			continue
		}
		stop := showProgress(env.stderr, &src)
		outs, err := in.File(ctx, src, targets)
		stop()
		for _, o := range outs {
			f := o.File
			if o.Skipped {
				fmt.Fprintf(env.stdout, "%s: campaign %s: already ingested %s (skipped)\n", path, o.Campaign, f.FinishedAt.Format(time.RFC3339))
				continue
			}
			fmt.Fprintf(env.stdout, "%s: campaign %s: format=%s lines=%d events=%d findings=%d unresolved=%d ignored=%d unattributed=%d malformed=%d batch=%d write_units=%g duration=%dms",
				path, o.Campaign, f.Format, f.Lines, f.Events, f.Findings, f.Unresolved, f.Ignored, f.Unattributed, f.Malformed, f.Batch, f.WriteUnits, f.DurationMS)
			if f.Error != "" {
				fmt.Fprintf(env.stdout, " error=%q", f.Error)
			}
			fmt.Fprintln(env.stdout)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
			code = 1
		}
	}
	return mergeNow(ctx, env, in, targets[0], code)
}

// mergeNow merges the campaign's committed files into the table, as the hourly schedule does
// in AWS, unless another merge holds the campaign (it merges them). Readers see committed
// files either way; merging here keeps the local table what AWS's is an hour later.
func mergeNow(ctx context.Context, env *cliEnv, in *ingest.Ingester, t ingest.Target, code int) int {
	uctx, units := store.WithUnits(ctx)
	m, err := in.Merge(uctx, t)
	switch {
	case errors.Is(err, findings.ErrMergeBusy):
		fmt.Fprintf(env.stdout, "campaign %s: another merge is running; it merges these files\n", t.ID)
	case err != nil:
		fmt.Fprintf(env.stderr, "sunset ingest: %v (the files are committed: the next merge adds them)\n", err)
		return 1
	case len(m.Batches) > 0:
		fmt.Fprintf(env.stdout, "campaign %s: merged %d files: %d findings written, %g write units\n", t.ID, m.Files, m.Written, units.Write())
	}
	return code
}

// ingestCampaign is the campaign --campaign names: a campaign file if the path exists, else an
// applied campaign that still collects findings. On nil the command ends with the status.
func ingestCampaign(ctx context.Context, env *cliEnv, store *campaign.Store, idOrFile string) (*campaign.Campaign, int) {
	if _, statErr := os.Stat(idOrFile); statErr == nil {
		c, err := campaign.Load(idOrFile)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
			return nil, 2
		}
		return c, 0
	}
	rec, err := store.Get(ctx, idOrFile)
	if errors.Is(err, campaign.ErrNotFound) {
		fmt.Fprintf(env.stderr, "sunset ingest: %s is neither a campaign file nor an applied campaign\n", idOrFile)
		return nil, 2
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset ingest: %v\n", err)
		return nil, 1
	}
	if rec.Status == campaign.Cancelled {
		fmt.Fprintf(env.stderr, "sunset ingest: campaign %s is cancelled: it collects no findings\n", idOrFile)
		return nil, 2
	}
	return rec.Campaign, 0
}

// showProgress wraps src so a terminal stderr shows how far through the file the scan is;
// anything else (a pipe, a log, a test) gets nothing.
func showProgress(stderr io.Writer, src *ingest.Source) (stop func()) {
	f, ok := stderr.(*os.File)
	if !ok {
		return func() {}
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return func() {}
	}
	var total int64
	if st, err := os.Stat(src.Name); err == nil {
		total = st.Size()
	}
	var n atomic.Int64
	open := src.Open
	src.Open = func(ctx context.Context) (io.ReadCloser, error) {
		rc, err := open(ctx)
		if err != nil {
			return nil, err
		}
		return &countingReader{ReadCloser: rc, n: &n}, nil
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				fmt.Fprint(f, "\r\033[K")
				return
			case <-t.C:
				pct := 0.0
				if total > 0 {
					pct = 100 * float64(n.Load()) / float64(total)
				}
				fmt.Fprintf(f, "\r\033[K%s: %.1f / %.1f MB (%.0f%%)", src.Name, float64(n.Load())/1e6, float64(total)/1e6, pct)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n.Add(int64(k))
	return k, err
}
