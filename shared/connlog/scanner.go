package connlog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	"github.com/nhsmail-sunset/sunset/shared/connlog/internal/agg"
)

// Format names a log format.
type Format string

// The formats the scanner reads. FormatAuto detects the format from headers and line shape.
const (
	FormatAuto        Format = ""
	FormatIIS         Format = "iis"
	FormatHTTPProxy   Format = "exchange-httpproxy"
	FormatIMAP4       Format = "exchange-imap4"
	FormatPOP3        Format = "exchange-pop3"
	FormatSMTPReceive Format = "exchange-smtp-receive"
	FormatALB         Format = "alb"
	FormatNLB         Format = "nlb"
	FormatELB         Format = "elb"
	FormatJSONL       Format = "jsonl"
	FormatCSV         Format = "csv"
	FormatUnknown     Format = "unknown"
	// FormatEmpty is the format of a file with no data line (0 bytes, blank lines, byte order
	// marks or '#' lines only) that names no format: nothing to read, which is no error (IIS
	// writes header-only files on rotation; empty objects land in buckets).
	FormatEmpty         Format = "empty"
	defaultMaxLine             = 1 << 20
	defaultMaxSessions         = 10000
	maxMalformedSamples        = 5
)

// Formats lists every format a caller can force.
var Formats = []Format{FormatIIS, FormatHTTPProxy, FormatIMAP4, FormatPOP3, FormatSMTPReceive, FormatALB, FormatNLB, FormatELB, FormatJSONL, FormatCSV}

// ParseFormat validates a format name ("" or "auto" = detect).
func ParseFormat(s string) (Format, error) {
	if s == "" || s == "auto" {
		return FormatAuto, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown format %q (known: auto, %s)", s, strings.Join(names, ", "))
}

// Options tune a Scanner. The zero value detects formats and aggregates over all time.
type Options struct {
	// Format forces a format for every file; FormatAuto detects it per file.
	Format Format
	// ByDay splits findings by UTC day of the event (Finding.Day is set), for storage that
	// keeps one record per (key, day).
	ByDay bool
	// MaxLineBytes is the longest line read; longer lines are skipped and counted as malformed.
	// Zero means 1 MiB.
	MaxLineBytes int
	// MaxSessions bounds the SMTP/POP3 session table per file; the least recently used session is
	// flushed when it is full. Zero means 10000.
	MaxSessions int
	// MaxFindings bounds the findings the table holds (0: no bound), and so its memory: a
	// finding costs about 200 bytes (BytesPerFinding is the figure to plan with). Past it the
	// scanner hands every finding so far to Flush as partial findings and starts an empty
	// table, so a file of any number of distinct findings is read within a fixed memory. A file is
	// read in one goroutine, so the parts are cut at the same events on every read of it: a writer that stores each part as its own
	// contribution can write them again on a retry and count nothing twice.
	MaxFindings int
	// Flush receives the partial findings when MaxFindings is reached (required with it). An
	// error stops the scan and is returned by Scan.
	Flush func(partial []Finding) error
}

// BytesPerFinding is what a finding costs the scanner, to size MaxFindings from a memory
// budget: what wide workloads measure (docs/performance.md), with room for the transient
// memory of writing a part out.
const BytesPerFinding = 320

// budgetCheck is how many events go by between two looks at the table's size: a table holds at
// most MaxFindings + budgetCheck findings.
const budgetCheck = 1024

// LineError is a malformed line: its number and why. It never holds the line itself.
type LineError struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// Summary is what one Scan saw.
type Summary struct {
	Name   string `json:"name"`
	Format Format `json:"format"`
	// Gzip is true when the input was gzip-compressed; Bytes counts bytes as stored (compressed).
	Gzip  bool  `json:"gzip"`
	Bytes int64 `json:"bytes"`
	// Lines counts every line, headers included.
	Lines int64 `json:"lines"`
	// Events counts events on legacy hostnames that went into findings (ignored ones excluded).
	Events int64 `json:"events"`
	// Findings counts the distinct findings this file contributed to.
	Findings int64 `json:"findings"`
	// Unresolved counts events whose hostname the line did not identify.
	Unresolved int64 `json:"unresolved"`
	// Ignored counts legacy events of accounts matching Rules.IgnoreAccounts.
	Ignored int64 `json:"ignored"`
	// Unattributed counts legacy events without an authenticated account.
	Unattributed int64 `json:"unattributed"`
	// Malformed counts lines skipped as malformed (including over-long lines); MalformedLines
	// holds the first few.
	Malformed      int64       `json:"malformed"`
	MalformedLines []LineError `json:"malformed_lines,omitempty"`
	// Flushes counts the partial findings handed to Options.Flush (Findings then counts the
	// findings of every part: a key seen on both sides of a flush is in two parts).
	Flushes int `json:"flushes,omitempty"`
}

// ErrUnknownFormat is returned (wrapped) when a file's format can not be detected.
var ErrUnknownFormat = errors.New("unknown format")

// ErrTruncated is returned (wrapped) when a gzip stream ends early or is corrupt.
var ErrTruncated = errors.New("truncated or corrupt gzip")

// Scanner aggregates findings over any number of files. It is not safe for concurrent Scans.
type Scanner struct {
	rules *rules
	opts  Options
	table *agg.Table
	mu    sync.Mutex // guards gen: Scan may run for several files at once (without MaxFindings)
	gen   int
	// noPrefilter parses every line fully; tests use it to check the fast path changes nothing.
	noPrefilter bool
}

// NewScanner compiles rules; it fails on a bad endpoint key, glob or mapping key.
func NewScanner(r Rules, opts Options) (*Scanner, error) {
	c, err := compileRules(r)
	if err != nil {
		return nil, fmt.Errorf("connlog rules: %w", err)
	}
	if opts.Format != FormatAuto {
		if _, err := ParseFormat(string(opts.Format)); err != nil {
			return nil, fmt.Errorf("connlog options: %w", err)
		}
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = defaultMaxLine
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = defaultMaxSessions
	}
	if opts.MaxFindings > 0 && opts.Flush == nil {
		return nil, fmt.Errorf("connlog options: MaxFindings needs a Flush")
	}
	return &Scanner{rules: c, opts: opts, table: agg.New(opts.ByDay)}, nil
}

// Findings returns every finding so far, sorted by account, hostname, protocol (and day), with
// unattributed findings last (by hostname, protocol, client IP).
func (s *Scanner) Findings() []Finding { return s.table.Findings() }

// Len is the number of findings so far; TableBytes the memory their table holds. It is safe to
// call both while a Scan runs (to watch memory).
func (s *Scanner) Len() int        { return s.table.Len() }
func (s *Scanner) TableBytes() int { return s.table.Bytes() }

// Scan reads one file to its end and folds its events into the scanner's findings. name is used in
// errors and the summary. Gzip is detected by its magic bytes. The summary is valid (counts so
// far) even when err is not nil; events read before an error are kept.
//
// Without MaxFindings, Scan may run for several files at once, one goroutine a file: their
// events fold into the one table (its shards locked), each file's own counts in its Summary.
func (s *Scanner) Scan(ctx context.Context, name string, r io.Reader) (Summary, error) {
	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.mu.Unlock()
	sum := Summary{Name: name}
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	var src io.Reader = br
	var gz *gzip.Reader
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		sum.Gzip = true
		var err error
		gz, err = gzip.NewReader(br)
		if err != nil {
			sum.Bytes = cr.n
			return sum, fmt.Errorf("scan %s: %w at byte offset %d: %v", name, ErrTruncated, cr.n-int64(br.Buffered()), err)
		}
		src = gz
	}
	fs := &fileScan{Scanner: s, sum: &sum, gen: gen}
	var needles [][]byte
	fs.src = newLineSource(src, s.opts.MaxLineBytes)
	format := s.opts.Format
	if format == FormatAuto {
		head := fs.src.peek(64 << 10)
		format = detect(head, s.rules.mapping, s.rules.fields)
		if format == FormatUnknown && fs.src.eof && fs.src.end-fs.src.start < 64<<10 && !hasDataLine(head) {
			format = FormatEmpty
		}
	}
	if (format == FormatIIS || s.opts.Format == FormatAuto) && advancedLogging(fs.src.peek(64<<10)) {
		sum.Bytes = cr.n
		return sum, fmt.Errorf("scan %s: %w: an IIS Advanced Logging file (quoted values, local times), which Sunset does not read: log the site with IIS's own W3C logging (its u_ex*.log files)", name, ErrUnknownFormat)
	}
	sum.Format = format
	p := newParser(format, fs)
	if d, ok := p.(declarer); ok && s.rules.fields[format] != nil {
		d.declare(s.rules.fields[format])
	}
	if p == nil {
		sum.Bytes = cr.n
		return sum, fmt.Errorf("scan %s: %w (expected one of: %s; a file without its #Fields header needs its field list declared: formats in the campaign, or --format with --fields)", name, ErrUnknownFormat, formatList())
	}
	if p.prefilter() && !s.noPrefilter {
		if c, ok := p.(interface{ classifies() bool }); ok && c.classifies() {
			fs.quickAll = true
		} else if needles = s.rules.hostNeedle; len(needles) > 0 || len(s.rules.endpointIP) > 0 {
			fs.src.setProbes(newProbes(needles, fs.src.buf[fs.src.start:fs.src.end]))
		}
	}
	if _, ok := p.(*iisParser); ok {
		fs.batching, fs.src.beforeMove = true, fs.addBatch
	}
	err := fs.run(ctx, p)
	fs.addBatch()
	sum.Bytes = cr.n
	if err == nil && fs.src.err != nil {
		if gz != nil && (errors.Is(fs.src.err, io.ErrUnexpectedEOF) || errors.Is(fs.src.err, gzip.ErrChecksum) || errors.Is(fs.src.err, gzip.ErrHeader) || isFlateError(fs.src.err)) {
			err = fmt.Errorf("scan %s: %w at byte offset %d: %v", name, ErrTruncated, cr.n-int64(br.Buffered()), fs.src.err)
		} else {
			err = fmt.Errorf("scan %s: read at byte offset %d: %w", name, cr.n, fs.src.err)
		}
	}
	return sum, err
}

func isFlateError(err error) bool {
	return strings.Contains(fmt.Sprintf("%T", errors.Unwrap(err)), "flate") || strings.Contains(fmt.Sprintf("%T", err), "flate")
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// fileScan is the state of one Scan shared by the parsers.
type fileScan struct {
	*Scanner
	sum *Summary
	src *lineSource
	no  int64 // current line number
	gen int   // this file's number, for the table's first-event-of-a-finding counts
	// quickAll hands every line to the parser's quick first: it tells legacy lines itself
	// (classifies), so the line source searches for no needle.
	quickAll bool
	// batching collects events in batch instead of adding them one by one: the table folds a
	// batch's events shard by shard (agg.Table.AddBatch). The IIS path adds them before the line
	// source moves its buffer (the events' strings are views of it), at the budget's checks, and
	// at the end of the file.
	batching bool
	batch    []agg.Event
	scratch  agg.Scratch
	uas      memo // user agent -> redacted and cleaned
	// sinceCheck counts events since the table's size was last checked against the budget;
	// flushErr is Flush's error, which ends the scan.
	sinceCheck int
	flushErr   error
}

// parser reads one format.
type parser interface {
	// prefilter reports whether lines without a needle may skip the full parse (quick is used).
	prefilter() bool
	// quick classifies a line holding no needle: it returns parseFully when it can not decide.
	quick(ln line) quickResult
	// parse handles a line fully: headers, events, malformed reasons.
	parse(ln line)
	// finish flushes state at the end of the file (pending sessions).
	finish()
}

type quickResult int

const (
	parseFully quickResult = iota
	quickUnresolved
	quickNotLegacy
	quickHeader
)

func (fs *fileScan) run(ctx context.Context, p parser) error {
	defer p.finish()
	for {
		ln, ok := fs.src.next()
		if !ok {
			return nil
		}
		fs.no++
		fs.sum.Lines++
		if fs.no&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("scan %s: %w", fs.sum.Name, err)
			}
		}
		if fs.flushErr != nil {
			return fs.flushErr
		}
		fs.line(p, ln)
	}
}

// line handles one line (already counted).
func (fs *fileScan) line(p parser, ln line) {
	if ln.tooLong {
		fs.tooLong()
		return
	}
	if !ln.candidate || fs.quickAll {
		switch p.quick(ln) {
		case quickUnresolved:
			fs.sum.Unresolved++
			return
		case quickNotLegacy, quickHeader:
			return
		}
	}
	p.parse(ln)
}

func (fs *fileScan) tooLong() {
	fs.malformed(fmt.Sprintf("line longer than %d bytes skipped", fs.opts.MaxLineBytes))
}

func (fs *fileScan) malformed(reason string) {
	fs.sum.Malformed++
	if len(fs.sum.MalformedLines) < maxMalformedSamples {
		fs.sum.MalformedLines = append(fs.sum.MalformedLines, LineError{Line: fs.no, Reason: reason})
	}
}

// outcome records a resolved (or not) event. e.host/e.direct are filled from the resolution.
func (fs *fileScan) outcome(e *event, host string, direct bool, res resolution) {
	switch res {
	case unresolved:
		fs.sum.Unresolved++
		return
	case notLegacy:
		return
	}
	e.Host, e.Direct = host, direct
	fs.emit(e)
}

// emit counts a legacy event: ignore rules, unattributed, aggregation.
func (fs *fileScan) emit(e *event) {
	if e.Account != "" && fs.rules.ignored(e.Account) {
		fs.sum.Ignored++
		return
	}
	e.ClientIP = clean(stripZone(e.ClientIP), 64)
	if !e.uaClean {
		e.UserAgent = fs.uas.getString(e.UserAgent, cleanUserAgent)
	}
	e.DeviceID = clean(redact(e.DeviceID), 128)
	e.Account = clean(redact(e.Account), 320)
	fs.sum.Events++
	if e.Account == "" {
		fs.sum.Unattributed++
	}
	if fs.batching {
		fs.batch = append(fs.batch, e.Event)
	} else if fs.table.AddWith(&e.Event, fs.gen, &fs.scratch) {
		fs.sum.Findings++
	}
	if fs.opts.MaxFindings > 0 {
		// Parts fall at the same events on every read: every budgetCheck events, all added.
		if fs.sinceCheck++; fs.sinceCheck == budgetCheck {
			fs.sinceCheck = 0
			fs.addBatch()
			if fs.table.Len() >= fs.opts.MaxFindings {
				fs.flush()
			}
		}
	}
}

// addBatch adds the events batched so far (see batching).
func (fs *fileScan) addBatch() {
	if len(fs.batch) == 0 {
		return
	}
	fs.sum.Findings += int64(fs.table.AddBatch(fs.batch, fs.gen, &fs.scratch))
	clear(fs.batch) // drop the strings
	fs.batch = fs.batch[:0]
}

// flush hands the findings so far to Options.Flush and starts an empty table.
func (fs *fileScan) flush() {
	if fs.flushErr != nil {
		return
	}
	if err := fs.opts.Flush(fs.table.Findings()); err != nil {
		fs.flushErr = fmt.Errorf("scan %s: flush part %d: %w", fs.sum.Name, fs.sum.Flushes, err)
		return
	}
	fs.sum.Flushes++
	fs.table.Free() // Findings made copies
	fs.table = agg.New(fs.opts.ByDay)
}

func cleanUserAgent(s string) string { return clean(redact(s), 512) }

// stripZone drops an IPv6 zone index ("fe80::1%12"): it names the interface of the server
// that logged, not the client.
func stripZone(ip string) string {
	if i := strings.IndexByte(ip, '%'); i > 0 && strings.IndexByte(ip[:i], ':') >= 0 {
		return ip[:i]
	}
	return ip
}

// clean makes a kept value valid UTF-8, trimmed and bounded in length.
func clean(s string, n int) string {
	if plainValue(s, n) {
		return s
	}
	return cleanAny(s, n)
}

// cleanAny is clean without the fast check.
func cleanAny(s string, n int) string {
	if !utf8.ValidString(s) { // checks eight ASCII bytes at a time; ToValidUTF8 goes byte by byte
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.TrimSpace(s)
	if s == "-" {
		return ""
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// plainValue reports whether clean keeps s as it is: ASCII, not "-", at most n bytes, and no
// space at either end to trim. Nearly every value is, and one pass tells.
func plainValue(s string, n int) bool {
	if len(s) == 0 || len(s) > n || s == "-" || asciiSpace(s[0]) || asciiSpace(s[len(s)-1]) {
		return len(s) == 0
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiSpace(c byte) bool { return c == ' ' || '\t' <= c && c <= '\r' }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
