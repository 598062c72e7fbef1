package connlog

import (
	"bytes"
	"io"
)

// lineSource hands out the lines of a stream through one fixed buffer. When it has needles it
// searches the buffer for them block-wise, ignoring ASCII case, and remembers where each probe
// next matches, so that "does this line hold a needle?" costs a couple of comparisons per line
// instead of a search per line.
type lineSource struct {
	r       io.Reader
	buf     []byte // raw bytes; data is buf[start:end]
	start   int
	end     int
	eof     bool
	err     error
	maxLine int
	total   int64 // bytes read from r

	probes []probe
	pos    []int // per probe: offset in buf of its next match at or after the current line, or -1
	valid  []int // per probe: pos is known up to this offset (exclusive)

	// beforeMove, when set, is called before fill moves or overwrites what buf holds: views
	// of the lines handed out so far are about to change.
	beforeMove func()
}

func newLineSource(r io.Reader, maxLine int) *lineSource {
	return &lineSource{r: r, buf: make([]byte, maxLine+64<<10), maxLine: maxLine}
}

// setProbes makes s look for the needles of probes: a line is a candidate only when it holds one.
// (Without a call every line is a candidate.)
func (s *lineSource) setProbes(probes []probe) {
	s.probes = append([]probe{}, probes...)
	s.pos = make([]int, len(probes))
	s.valid = make([]int, len(probes))
	s.forget(0)
}

// forget drops what s knows of where the probes match: the search starts again at from.
func (s *lineSource) forget(from int) {
	for i := range s.pos {
		s.pos[i], s.valid[i] = -1, from
	}
}

// fill reads more data after compacting; it returns false at EOF or on error with no progress.
func (s *lineSource) fill() bool {
	if s.eof {
		return false
	}
	if s.beforeMove != nil {
		s.beforeMove()
	}
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		for i := range s.pos {
			switch {
			case s.pos[i] >= s.start:
				s.pos[i] -= s.start
				s.valid[i] -= s.start
			case s.pos[i] >= 0: // stale: forget it, search again
				s.pos[i], s.valid[i] = -1, 0
			default:
				s.valid[i] = max(0, s.valid[i]-s.start)
			}
		}
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		return false
	}
	n, err := s.r.Read(s.buf[s.end:])
	if n > 0 {
		s.end += n
		s.total += int64(n)
	}
	if err != nil {
		s.eof = true
		if err != io.EOF {
			s.err = err
		}
	}
	return n > 0 || !s.eof
}

// peek returns up to n bytes of what follows without consuming it (for format detection).
func (s *lineSource) peek(n int) []byte {
	for s.end-s.start < n && !s.eof {
		if !s.fill() && s.end == len(s.buf) {
			break
		}
	}
	return s.buf[s.start:min(s.end, s.start+n)]
}

// bom is the UTF-8 byte order mark. Windows tools and exporters write one at the start of a
// file (and concatenated files or gzip members carry it to the start of a line inside one).
var bom = []byte("\xEF\xBB\xBF")

// trimBOM drops a byte order mark at the start of a line. A careful reader of a log treats it
// as no character at all: the line is what follows it.
func trimBOM(b []byte) []byte {
	for len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		b = b[3:]
	}
	return b
}

// line is one line without its terminator ("\r\n" or "\n").
type line struct {
	b         []byte // raw bytes; valid until the next call
	candidate bool   // holds at least one needle, in any ASCII case (always true without needles)
	tooLong   bool   // longer than maxLine: b is nil, the line was skipped
}

// next returns the next line; ok is false at the end of the stream (check s.err).
func (s *lineSource) next() (ln line, ok bool) {
	for {
		if i := bytes.IndexByte(s.buf[s.start:s.end], '\n'); i >= 0 {
			a, b := s.start, s.start+i
			s.start = b + 1
			if i > s.maxLine { // exact, whatever the buffer happened to hold
				return line{tooLong: true}, true
			}
			return s.make(a, b), true
		}
		if s.end-s.start > s.maxLine {
			return s.skipLong(), true
		}
		if !s.fill() {
			if s.end-s.start > s.maxLine {
				return s.skipLong(), true
			}
			if s.eof || s.end == len(s.buf) {
				if s.start < s.end {
					a, b := s.start, s.end
					s.start = s.end
					return s.make(a, b), true
				}
				return line{}, false
			}
		}
	}
}

// skipLong discards the current over-long line up to and including its newline, reading through
// the buffer without keeping what it drops.
func (s *lineSource) skipLong() line {
	s.start = s.end
	for {
		if !s.fill() && s.eof && s.start == s.end {
			return line{tooLong: true}
		}
		if i := bytes.IndexByte(s.buf[s.start:s.end], '\n'); i >= 0 {
			s.start += i + 1
			s.forget(s.start)
			return line{tooLong: true}
		}
		s.start = s.end
		if s.eof {
			return line{tooLong: true}
		}
	}
}

func (s *lineSource) make(a, b int) line {
	e := b
	if e > a && s.buf[e-1] == '\r' {
		e--
	}
	for e-a >= 3 && s.buf[a] == 0xEF && s.buf[a+1] == 0xBB && s.buf[a+2] == 0xBF {
		a += 3
	}
	ln := line{b: s.buf[a:e], candidate: s.probes == nil}
	for i := range s.probes {
		pr := &s.probes[i]
		p := s.pos[i]
		if (p >= 0 && p < a) || (p < 0 && s.valid[i] < e) {
			// Stale, or not searched this far: search from this line to the end of the data.
			p = -1
			if j := pr.index(s.buf[a:s.end]); j >= 0 {
				p = a + j
			}
			s.pos[i], s.valid[i] = p, s.end
		}
		if p >= a && p+len(pr.needle) <= e {
			ln.candidate = true
		}
	}
	return ln
}

// probe is one way of finding a needle (lower-case ASCII) in raw bytes, whatever their case:
// search for the byte c, which the needle holds (folded) at offset r, and compare the needle
// around each hit. A needle whose chosen byte is a letter gets two probes, one per case, so that
// the data is never lower-cased as a whole: most lines hold no needle and are never folded.
type probe struct {
	needle []byte
	r      int
	c      byte
}

// newProbes picks, for each needle, the byte that is least frequent in sample (the data read
// first, any case): searching for that byte and checking the needle around each hit is much
// faster than looking for the needle's first byte, in a log often a common one ('.' of
// ".nhs.net", say), where a search degrades to comparing at every offset.
func newProbes(needles [][]byte, sample []byte) []probe {
	var out []probe
	for i, r := range rareOffsets(needles, sample) {
		n := needles[i]
		c := n[r]
		out = append(out, probe{needle: n, r: r, c: c})
		if 'a' <= c && c <= 'z' {
			out = append(out, probe{needle: n, r: r, c: c - 'a' + 'A'})
		}
	}
	return out
}

// rareOffsets returns, per needle (lower-case), the offset of its byte that is least frequent in
// sample, letters counted in both cases.
func rareOffsets(needles [][]byte, sample []byte) []int {
	var freq [256]int
	for _, c := range sample {
		freq[foldASCII(c)]++
	}
	out := make([]int, len(needles))
	for i, n := range needles {
		for j, c := range n {
			if freq[c] < freq[n[out[i]]] {
				out[i] = j
			}
		}
	}
	return out
}

// index returns the offset of the first match of the needle in s (ignoring ASCII case) that
// holds p.c at offset p.r, or an earlier match of another case; -1 if there is none. When p.c
// turns out to be common in s it hands the rest of the search to indexFold.
func (p *probe) index(s []byte) int {
	n, r, c := p.needle, p.r, p.c
	if len(s) < len(n) {
		return -1
	}
	last := len(s) - len(n) + r // occurrences of c at i in [r, last] can start a match
	fails := 0
	for i := r; i <= last; {
		j := bytes.IndexByte(s[i:last+1], c)
		if j < 0 {
			return -1
		}
		i += j
		if equalFoldLower(s[i-r:i-r+len(n)], n) {
			return i - r
		}
		fails++
		i++
		if fails > 16+i>>5 { // more than one false hit per 32 bytes: c is not rare here
			if k := indexFold(s[i-r:], view(n)); k >= 0 {
				return i - r + k
			}
			return -1
		}
	}
	return -1
}

// equalFoldLower reports whether b equals the lower-case ASCII low, ignoring the case of b.
func equalFoldLower[T string | []byte](b, low T) bool {
	if len(b) != len(low) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if foldASCII(b[i]) != low[i] {
			return false
		}
	}
	return true
}
