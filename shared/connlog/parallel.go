package connlog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
)

// The parallel path (IIS logs): one goroutine reads (and inflates) the stream and cuts it into
// blocks of whole lines; workers classify and parse the blocks and fold each block's events into
// the aggregator, whose table is sharded under several locks. Lines of an IIS log are independent
// of each other except for the header lines, so the reader follows the headers and hands every
// block the header state in force at its start, and its place in the stream (lines are
// numbered once every block is read: numberLines). Aggregation does not depend on the order
// events arrive in, so findings and counts are exactly those of the serial path.

// defaultBlockSize is how much new data a block holds (plus the start of a line carried over).
const defaultBlockSize = 256 << 10

// block is a run of whole lines for a worker.
type block struct {
	buf  []byte // the pooled buffer data lives in
	data []byte // whole lines; at the end of the stream the last one may lack its newline
	seq  int    // blocks are numbered in stream order
	long bool   // instead of data: one line longer than MaxLineBytes, skipped by the reader
	hdr  iisHeaderState
}

// worked is what a worker hands back: its counts, its malformed lines (numbered within their
// block, seqs[i] the block of MalformedLines[i]), and how many lines each block it read holds.
type worked struct {
	sum   Summary
	seqs  []int
	lines []blockLines
}

type blockLines struct {
	seq int
	n   int64
}

// parallelState is what the workers share (besides the aggregator, which has its own locks).
type parallelState struct {
	pool chan []byte
	size int // of a pooled buffer
	sent int // blocks the reader sent
}

// carry returns a buffer that holds rest at its start with room for a block after it, and
// len(rest): buf itself when it is large enough, else a larger one of its own. Either way exactly
// one buffer comes back through the pool, so the number in circulation stays the same.
func carry(buf, rest []byte, blockSize int) ([]byte, int) {
	if len(rest)+blockSize > len(buf) {
		buf = make([]byte, len(rest)+blockSize)
	}
	return buf, copy(buf, rest)
}

// runParallel reads the rest of the file through workers goroutines. p has seen no line yet.
func (fs *fileScan) runParallel(ctx context.Context, p *iisParser, workers int) error {
	// A pooled buffer holds a block and the start of a line carried over from the one before,
	// up to a quarter block: lines are short. A longer start of a line (up to MaxLineBytes) gets
	// a buffer of its own (see carry), so memory is not sized for the longest line possible.
	bs := fs.blockSize()
	st := &parallelState{pool: make(chan []byte, workers+3), size: bs + min(fs.opts.MaxLineBytes+1, bs/4)}
	for i := 0; i < workers+3; i++ {
		st.pool <- make([]byte, st.size)
	}
	work := make(chan *block, workers)
	outs := make([]worked, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fs.work(st, work, &outs[i])
		}()
	}
	err := fs.split(ctx, p.iisHeaderState, st, work)
	close(work)
	wg.Wait()
	fs.numberLines(outs, st.sent)
	for _, o := range outs {
		w := &o.sum
		fs.sum.Lines += w.Lines
		fs.sum.Events += w.Events
		fs.sum.Unresolved += w.Unresolved
		fs.sum.Ignored += w.Ignored
		fs.sum.Unattributed += w.Unattributed
		fs.sum.Malformed += w.Malformed
		fs.sum.Findings += w.Findings
		fs.sum.MalformedLines = append(fs.sum.MalformedLines, w.MalformedLines...)
	}
	// Each worker kept the first few of its (increasing) line numbers; the first few overall are
	// among them.
	slices.SortFunc(fs.sum.MalformedLines, func(a, b LineError) int { return int(a.Line - b.Line) })
	if len(fs.sum.MalformedLines) > maxMalformedSamples {
		fs.sum.MalformedLines = fs.sum.MalformedLines[:maxMalformedSamples]
	}
	return err
}

// numberLines turns the line numbers of the malformed lines the workers kept, counted within
// their blocks, into the file's: a block's first line follows the lines of every block before
// it (sent of them in all, each read by one worker). The reader does not count lines as it
// cuts blocks (a pass over every byte); the workers count those they read anyway.
func (fs *fileScan) numberLines(outs []worked, sent int) {
	first := make([]int64, sent)
	for _, o := range outs {
		for _, b := range o.lines {
			first[b.seq] = b.n
		}
	}
	next := fs.no + 1
	for i, n := range first {
		first[i], next = next, next+n
	}
	for _, o := range outs {
		for i := range o.sum.MalformedLines {
			o.sum.MalformedLines[i].Line += first[o.seqs[i]] - 1
		}
	}
}

// work parses blocks with its own parser, line source and counts.
func (fs *fileScan) work(st *parallelState, work <-chan *block, out *worked) {
	sum := &out.sum
	w := &fileScan{Scanner: fs.Scanner, sum: sum, batching: true, quickAll: fs.quickAll, seqs: &out.seqs}
	w.src = &lineSource{maxLine: fs.src.maxLine}
	if fs.src.probes != nil {
		w.src.setProbes(fs.src.probes)
	}
	p := &iisParser{fs: w}
	for b := range work {
		w.no, w.seq = 0, b.seq
		if b.long {
			w.no++
			sum.Lines++
			w.tooLong()
		} else {
			p.iisHeaderState = b.hdr
			w.src.reset(b.data)
			for {
				ln, ok := w.src.next()
				if !ok {
					break
				}
				w.no++
				sum.Lines++
				w.line(p, ln)
			}
			w.src.buf = nil
		}
		out.lines = append(out.lines, blockLines{b.seq, w.no})
		w.addBatch() // before the buffer goes back: the events' strings point into it
		if buf := b.buf; buf != nil {
			if len(buf) != st.size { // one grown for a long line: the pool keeps the usual size
				buf = make([]byte, st.size)
			}
			st.pool <- buf
		}
	}
}

// split reads the stream after what the line source holds and sends blocks of whole lines.
// A read error is left in fs.src.err, as the serial path does. It is one loop over the
// stream, long because the state a block boundary needs (a carried partial line, a header line
// that ends the block, a line too long for any block) is local to that loop: split apart, the
// pieces would pass that state back and forth.
func (fs *fileScan) split(ctx context.Context, hdr iisHeaderState, st *parallelState, work chan<- *block) error {
	src := fs.src
	r, maxLine, blockSize := src.r, src.maxLine, fs.blockSize()
	eof := false
	read := func(b []byte) int {
		m, err := r.Read(b)
		if err != nil {
			eof = true
			if err != io.EOF {
				src.err = err
			}
		}
		return m
	}
	send := func(buf, data []byte) {
		b := &block{buf: buf, data: data, seq: st.sent, hdr: hdr.clone()}
		st.sent++
		trackHeaders(&hdr, data, maxLine)
		work <- b
	}
	// What the line source already holds (format detection read it) goes first, in place.
	init := src.buf[src.start:src.end]
	src.start, eof = src.end, src.eof
	cut := len(init)
	if !eof {
		cut = bytes.LastIndexByte(init, '\n') + 1
	}
	if cut > 0 {
		send(nil, init[:cut])
	}
	cur, n := <-st.pool, 0
	skipping := len(init)-cut > maxLine
	if !skipping {
		cur, n = carry(cur, init[cut:], blockSize)
	}
	for {
		if err := ctx.Err(); err != nil {
			st.pool <- cur
			return fmt.Errorf("scan %s: %w", fs.sum.Name, err)
		}
		if skipping {
			// The line being read is too long: drop it unread, up to its newline.
			n = 0
			for !eof {
				m := read(cur)
				if i := bytes.IndexByte(cur[:m], '\n'); i >= 0 {
					n = copy(cur, cur[i+1:m])
					break
				}
			}
			work <- &block{seq: st.sent, long: true}
			st.sent++
			skipping = false
		}
		for start := n; n-start < blockSize && n < len(cur) && !eof; {
			n += read(cur[n:min(len(cur), start+blockSize)])
		}
		cut := n
		if !eof {
			cut = bytes.LastIndexByte(cur[:n], '\n') + 1
		}
		rest := cur[cut:n]
		switch {
		case len(rest) > maxLine:
			if cut > 0 {
				next := <-st.pool
				send(cur, cur[:cut])
				cur = next
			}
			skipping = true
		case cut == 0 && !eof:
			// No whole line yet (and not too long): read more, into a larger buffer when full.
			if n == len(cur) {
				cur, n = carry(cur, cur[:n], blockSize)
			}
		case eof:
			if cut > 0 {
				send(cur, cur[:cut])
			} else {
				st.pool <- cur
			}
			return nil
		default:
			next := <-st.pool
			next, n = carry(next, rest, blockSize)
			send(cur, cur[:cut])
			cur = next
		}
	}
}

func (s *Scanner) blockSize() int {
	if s.testBlock > 0 {
		return s.testBlock
	}
	return defaultBlockSize
}

// trackHeaders applies the header lines of data to h, as the parser would.
func trackHeaders(h *iisHeaderState, data []byte, maxLine int) {
	at := 0
	if len(data) == 0 || data[0] != '#' {
		if at = headerStart(data, 0); at < 0 {
			return
		}
	}
	for {
		l := data[at:]
		if i := bytes.IndexByte(l, '\n'); i >= 0 {
			l = l[:i]
		}
		if len(l) <= maxLine {
			h.header(bytes.TrimSuffix(l, []byte{'\r'}))
		}
		if at = headerStart(data, at+len(l)); at < 0 {
			return
		}
	}
}

// headerStart returns the offset of the first '#' at or after from that starts a line (follows a
// newline, or a newline and a byte order mark), or -1. It looks for the '#', rare in data lines, not for the newline before it: the
// reader, which also inflates gzip, runs it over every block.
func headerStart(data []byte, from int) int {
	for from < len(data) {
		i := bytes.IndexByte(data[from:], '#')
		if i < 0 {
			return -1
		}
		at := from + i
		if at > 0 && data[at-1] == '\n' || at >= 3 && bytes.Equal(data[at-3:at], bom) && (at == 3 || data[at-4] == '\n') {
			return at
		}
		from = at + 1
	}
	return -1
}
