package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
)

func init() {
	commands["scan"] = command{summary: "scan connection logs for accounts still using legacy hostnames", run: runScan}
}

func runScan(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("scan", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	campaignPath := fl.String("campaign", "", "campaign `file` (YAML) naming the legacy hostnames, endpoints and ignored accounts")
	format := fl.String("format", "auto", "log `format`: auto, "+formatNames())
	mapping := fl.String("map", "", "jsonl/csv field mapping `k=v,...` (account, hostname, time, client_ip, protocol, status, user_agent, device_id, server, port, path); overrides the campaign's mapping")
	quiet := fl.Bool("quiet", false, "do not print the per-file summary on stderr")
	byDay := fl.Bool("by-day", false, "split findings by UTC day (as ingestion stores them)")
	fields := fl.String("fields", "", "the field `LIST` of --format's files that lack a #Fields header, as that line writes it, or default; overrides the campaign's")
	cpuprofile := fl.String("cpuprofile", "", "write a CPU profile of the scan to `file`, for go tool pprof (and make pgo, which builds the binaries from one)")
	fl.Usage = func() {
		fmt.Fprintln(env.stderr, "Usage: sunset scan --campaign FILE [--format F [--fields LIST]] [--map k=v,...] [--by-day] [--quiet] [--cpuprofile FILE] LOG...  (- reads stdin)")
		fmt.Fprintln(env.stderr, "Prints one JSON finding per line on stdout and a summary per file on stderr.")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if *campaignPath == "" || fl.NArg() == 0 {
		fl.Usage()
		return 2
	}
	f, err := connlog.ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: --format: %v\n", err)
		return 2
	}
	if *fields != "" && f == connlog.FormatAuto {
		fmt.Fprintln(env.stderr, "sunset scan: --fields needs --format: the list is that format's")
		return 2
	}
	rules, code := scanRules(env, *campaignPath, f, *fields, *mapping)
	if code != 0 {
		return code
	}
	s, err := connlog.NewScanner(rules, connlog.Options{Format: f, ByDay: *byDay})
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: %s: %v\n", *campaignPath, err)
		return 2
	}
	stop, err := startProfile(*cpuprofile)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: --cpuprofile: %v\n", err)
		return 2
	}
	code = scanFiles(ctx, env, s, fl.Args(), *quiet)
	if err := stop(); err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: --cpuprofile: %v\n", err)
		code = 1
	}
	return code
}

// scanFiles scans each of names and writes the findings out; the status is 1 when a file or
// the output failed (the other files are still scanned, and their findings written).
func scanFiles(ctx context.Context, env *cliEnv, s *connlog.Scanner, names []string, quiet bool) int {
	// One goroutine a file, as many at once as there are processors: each file is read in one
	// goroutine, as the Lambda reads it, and several files use several cores. Summaries are
	// printed in the order the files were named.
	type result struct {
		sum connlog.Summary
		err error
	}
	results := make([]result, len(names))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := ctx.Err(); err != nil {
				results[i] = result{connlog.Summary{}, err}
				return
			}
			sum, err := scanOne(ctx, env, s, name)
			results[i] = result{sum, err}
		}()
	}
	wg.Wait()
	code := 0
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(env.stderr, "sunset scan: %v\n", r.err)
			code = 1
		}
		if !quiet && r.sum.Format != "" {
			fmt.Fprintln(env.stderr, summaryLine(r.sum))
		}
	}
	// Streamed, not built as a []Finding first: the table may hold many findings.
	if err := s.WriteJSONLines(env.stdout); err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: write findings: %v\n", err)
		return 1
	}
	return code
}

// startProfile starts a CPU profile written to path (none when path is empty) and returns what
// stops it and closes the file.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// scanRules reads the campaign file's rules and applies --fields (for format f) and --map over
// them; a non-zero status ends the command.
func scanRules(env *cliEnv, path string, f connlog.Format, fields, mapping string) (connlog.Rules, int) {
	rules, err := env.scanRules(path)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset scan: %v\n", err)
		return rules, 2
	}
	if fields != "" {
		if _, err := connlog.DeclaredFields(string(f), fields); err != nil {
			fmt.Fprintf(env.stderr, "sunset scan: --fields: %v\n", err)
			return rules, 2
		}
		rules.Fields = maps.Clone(rules.Fields)
		if rules.Fields == nil {
			rules.Fields = map[string]string{}
		}
		rules.Fields[string(f)] = fields
	}
	if mapping != "" {
		m, err := parseMapping(mapping)
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset scan: --map: %v\n", err)
			return rules, 2
		}
		merged := maps.Clone(rules.Mapping)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, m)
		rules.Mapping = merged
	}
	return rules, 0
}

func scanOne(ctx context.Context, env *cliEnv, s *connlog.Scanner, name string) (connlog.Summary, error) {
	var r io.Reader
	if name == "-" {
		r = env.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return connlog.Summary{Name: name}, fmt.Errorf("scan %s: %w", name, err)
		}
		defer f.Close()
		r = f
	}
	return s.Scan(ctx, name, r)
}

// summaryLine is the one-line stderr summary of a file.
func summaryLine(s connlog.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: format=%s lines=%d events=%d findings=%d unresolved=%d ignored=%d unattributed=%d malformed=%d",
		s.Name, s.Format, s.Lines, s.Events, s.Findings, s.Unresolved, s.Ignored, s.Unattributed, s.Malformed)
	if len(s.MalformedLines) > 0 {
		parts := make([]string, len(s.MalformedLines))
		for i, m := range s.MalformedLines {
			parts[i] = fmt.Sprintf("line %d: %s", m.Line, m.Reason)
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, "; "))
	}
	return b.String()
}

// parseMapping reads "account=upn,hostname=host".
func parseMapping(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("%q is not key=column", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}

func formatNames() string {
	names := make([]string, len(connlog.Formats))
	for i, f := range connlog.Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// campaignScanRules loads and validates the campaign file and keeps what the scanner needs.
func campaignScanRules(path string) (connlog.Rules, error) {
	c, err := campaign.Load(path)
	if err != nil {
		return connlog.Rules{}, err
	}
	return c.ScanRules(), nil
}
