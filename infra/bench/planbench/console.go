package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// consolePages times the console's and the API's answers for campaign c.campaign after a run
// (phase console): each route -runs times through the API Lambda's own handler (api.Server, as
// ServeHTTP; no network), against the seeded table. One row a route: median, 99th percentile and
// slowest time, the response's size, the DynamoDB requests of one answer and the most heap in
// use while answering (sampled every 5 ms; the process holds little else).
func consolePages(ctx context.Context, db *dynamodb.Client, cnt *counter, c config) error {
	keys, err := signing.ParseKeyring(signing.NewKey())
	if err != nil {
		return err
	}
	srv, err := api.New(api.Options{DB: db, Table: c.table, Clock: clock, Keys: keys,
		Local:  &api.Local{Default: &api.Identity{Subject: "bench", Name: "bench", Roles: []api.Role{api.Viewer}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	id := c.campaign
	fmt.Printf("| request (campaign of %d affected organisations, %d findings) | median | p99 | slowest | bytes | DynamoDB requests | peak heap |\n", c.affected, c.findings)
	fmt.Println("|---|---:|---:|---:|---:|---|---:|")
	for _, rq := range []struct {
		path string
		runs int
	}{
		{"/console/campaigns/" + id, c.runs},
		{"/console/campaigns/" + id + "?page=30", c.runs},
		{"/console/campaigns/" + id + "/orgs/" + ods(c.affected/2), c.runs},
		{"/api/campaigns/" + id + "/organisations", c.runs},
		{"/api/campaigns/" + id + "/burndown.svg", c.runs},
		{"/api/campaigns/" + id + "/report", reportRuns}, // a report plans the campaign: far slower
		{"/console/campaigns/" + id + "/plan?at=" + at.String(), reportRuns},
		{"/api/campaigns/" + id + "/plan?at=" + at.String() + "&after=" + ods(c.affected/2), reportRuns},
	} {
		path := rq.path
		var took []time.Duration
		var size int
		var ops map[string]int
		var peak uint64
		for i := range max(rq.runs, 1) + 1 { // the first answer warms the connections and is not counted
			cnt.reset()
			rec := httptest.NewRecorder()
			runtime.GC()
			stop := sampleHeap(&peak)
			start := time.Now()
			// The local console answers loopback names only.
			srv.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1"+path, nil))
			d := time.Since(start)
			stop()
			if rec.Code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %.300s", path, rec.Code, rec.Body.String())
			}
			if i > 0 {
				took = append(took, d)
			}
			size, ops = rec.Body.Len(), cnt.reset()
		}
		slices.Sort(took)
		fmt.Printf("| `GET %s` | %s | %s | %s | %d | %s | %.0f MiB |\n", path, round(took[len(took)/2]), round(took[min(len(took)-1, len(took)*99/100)]),
			round(took[len(took)-1]), size, describeOps(ops), float64(peak)/(1<<20))
	}
	return nil
}

// reportRuns is how many times the report is timed (REPORT_RUNS in console.sh).
var reportRuns = 5

func round(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func describeOps(ops map[string]int) string {
	var parts []string
	total := 0
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		parts = append(parts, fmt.Sprintf("%s %d", op, ops[op]))
		total += ops[op]
	}
	return fmt.Sprintf("%d (%s)", total, strings.Join(parts, ", "))
}

// sampleHeap raises *peak to the heap in use, every 5 ms until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			*peak = max(*peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() { close(done); <-finished }
}
