package connlog

import (
	"bytes"
	"encoding/binary"
	"io"
)

// lineSource hands out the lines of a stream through one fixed buffer. Alongside each block it
// read it keeps a lower-cased copy, searched block-wise for the needles, so that "does this line
// hold a needle?" costs a couple of comparisons per line instead of a search per line.
type lineSource struct {
	r       io.Reader
	buf     []byte // raw bytes; data is buf[start:end]
	low     []byte // lower-cased mirror of buf, maintained only when there are needles
	start   int
	end     int
	eof     bool
	err     error
	maxLine int
	total   int64 // bytes read from r

	needles [][]byte
	rare    []int // per needle: offset of its rarest byte in the data seen first (see rareOffsets)
	pos     []int // per needle: offset in buf of its next occurrence at or after the current line, or -1
	valid   []int // per needle: pos is known up to this offset (exclusive)
}

func newLineSource(r io.Reader, maxLine int, needles [][]byte) *lineSource {
	s := &lineSource{r: r, buf: make([]byte, maxLine+64<<10), maxLine: maxLine, needles: needles}
	if len(needles) > 0 {
		s.low = make([]byte, len(s.buf))
		s.rare = rareOffsets(needles, nil)
		s.pos = make([]int, len(needles))
		s.valid = make([]int, len(needles))
		for i := range s.pos {
			s.pos[i] = -1
		}
	}
	return s
}

// fill reads more data after compacting; it returns false at EOF or on error with no progress.
func (s *lineSource) fill() bool {
	if s.eof {
		return false
	}
	if s.start > 0 {
		n := copy(s.buf, s.buf[s.start:s.end])
		if s.low != nil {
			copy(s.low, s.low[s.start:s.end])
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
		}
		s.start, s.end = 0, n
	}
	if s.end == len(s.buf) {
		return false
	}
	n, err := s.r.Read(s.buf[s.end:])
	if n > 0 {
		if s.low != nil {
			lowerASCII(s.low[s.end:s.end+n], s.buf[s.end:s.end+n])
		}
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

// skipBOM drops a UTF-8 byte order mark at the current position.
func (s *lineSource) skipBOM() {
	if bytes.HasPrefix(s.buf[s.start:s.end], []byte("\xEF\xBB\xBF")) {
		s.start += 3
	}
}

// line is one line without its terminator ("\r\n" or "\n").
type line struct {
	b         []byte // raw bytes; valid until the next call
	low       []byte // lower-cased bytes, when the source has needles
	candidate bool   // holds at least one needle (always true without needles)
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
			for k := range s.pos {
				s.pos[k], s.valid[k] = -1, s.start
			}
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
	ln := line{b: s.buf[a:e], candidate: true}
	if s.low == nil {
		return ln
	}
	ln.low = s.low[a:e]
	ln.candidate = false
	for i, n := range s.needles {
		p := s.pos[i]
		if (p >= 0 && p < a) || (p < 0 && s.valid[i] < e) {
			// Stale, or not searched this far: search from this line to the end of the data.
			p = -1
			if j := indexRare(s.low[a:s.end], n, s.rare[i]); j >= 0 {
				p = a + j
			}
			s.pos[i], s.valid[i] = p, s.end
		}
		if p >= a && p+len(n) <= e {
			ln.candidate = true
		}
	}
	return ln
}

// reset makes s hand out the lines of one block of whole lines (the parallel path): the block
// is used in place and its end is the end of the stream.
func (s *lineSource) reset(block []byte) {
	s.buf, s.start, s.end, s.eof, s.err = block, 0, len(block), true, nil
	if s.needles == nil {
		return
	}
	if cap(s.low) < len(block) {
		s.low = make([]byte, len(block))
	}
	s.low = s.low[:len(block)]
	lowerASCII(s.low, block)
	for i := range s.pos {
		s.pos[i], s.valid[i] = -1, 0
	}
}

// lowerASCII writes src lower-cased (ASCII letters only) to dst, eight bytes at a time.
func lowerASCII(dst, src []byte) {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(src); i += 8 {
		x := binary.LittleEndian.Uint64(src[i:])
		h := x & ^uint64(high)          // each byte's low 7 bits
		ge := h + ones*uint64(0x80-'A') // high bit set where byte >= 'A'
		gt := h + ones*uint64(0x80-'Z'-1)
		upper := ge & ^gt & ^x & high // >= 'A', <= 'Z', and ASCII
		binary.LittleEndian.PutUint64(dst[i:], x|upper>>2)
	}
	for ; i < len(src); i++ {
		c := src[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[i] = c
	}
}

// rareOffsets picks, for each needle, the offset of the byte that is least frequent in sample
// (the data read first, lower-cased). Searching for that byte and checking the needle around each
// hit is much faster than bytes.Index, which looks for the needle's first byte: in a log that is
// often a common one ('.' of ".nhs.net", say) and the search degrades to comparing at every offset.
func rareOffsets(needles [][]byte, sample []byte) []int {
	var freq [256]int
	for _, c := range sample {
		freq[c]++
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

// indexRare is bytes.Index(s, n), searching for n[r] and comparing n around each occurrence.
// When that byte turns out to be common in s it hands the rest of the search to bytes.Index.
func indexRare(s, n []byte, r int) int {
	if len(n) == 0 || len(s) < len(n) {
		return bytes.Index(s, n)
	}
	c, last := n[r], len(s)-len(n)+r // occurrences of c at i in [r, last] can start a match
	fails := 0
	for i := r; i <= last; {
		j := bytes.IndexByte(s[i:last+1], c)
		if j < 0 {
			return -1
		}
		i += j
		if bytes.Equal(s[i-r:i-r+len(n)], n) {
			return i - r
		}
		fails++
		i++
		if fails > 16+i>>5 { // more than one false hit per 32 bytes: c is not rare here
			if k := bytes.Index(s[i-r:], n); k >= 0 {
				return i - r + k
			}
			return -1
		}
	}
	return -1
}
