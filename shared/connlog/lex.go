package connlog

import (
	"bytes"
	"time"
	"unsafe"
)

// parseTime reads "YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm]" (no zone = UTC). It returns the
// number of fraction digits so output can keep the log's precision.
func parseTime(b []byte) (t time.Time, prec int8, ok bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, 0, false
	}
	rest := b[19:]
	ns := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if i <= 9 {
				ns = ns*10 + int(rest[i]-'0')
			}
			i++
		}
		if i == 1 {
			return time.Time{}, 0, false
		}
		prec = int8(min(i-1, 9))
		for k := i - 1; k < 9; k++ {
			ns *= 10
		}
		rest = rest[i:]
	}
	off := 0
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, a := num(rest[1:3])
		om, c := num(rest[4:6])
		if !a || !c {
			return time.Time{}, 0, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	case len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
		oh, a := num(rest[1:3])
		om, c := num(rest[3:5])
		if !a || !c {
			return time.Time{}, 0, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, 0, false
	}
	t = time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	if t.Day() != d { // 31 February and friends
		return time.Time{}, 0, false
	}
	return t.Add(-time.Duration(off) * time.Second), prec, true
}

// dayCache is parseTime for lines that mostly share a date: it remembers the last date it saw
// and the Unix time of its midnight, so that a "YYYY-MM-DD HH:MM:SS" of that date costs a few
// digit reads instead of calendar arithmetic. Anything else goes to parseTime.
type dayCache struct {
	day [10]byte
	mid int64 // Unix seconds of day's 00:00:00 UTC
	ok  bool
}

// sameDay is parse(date + " " + clock) for a date of the day the cache holds and a clock of
// whole seconds; ok is false for anything else (which parse reads).
func (c *dayCache) sameDay(date, clock []byte) (time.Time, bool) {
	if !c.ok || len(date) != 10 || len(clock) != 8 || string(date) != string(c.day[:]) || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	h, ok1 := twoDigits(clock[0], clock[1])
	mi, ok2 := twoDigits(clock[3], clock[4])
	s, ok3 := twoDigits(clock[6], clock[7])
	if ok1 && ok2 && ok3 && h <= 23 && mi <= 59 && s <= 60 {
		return time.Unix(c.mid+int64(h*3600+mi*60+s), 0).UTC(), true
	}
	return time.Time{}, false
}

func (c *dayCache) parse(b []byte) (time.Time, int8, bool) {
	if len(b) == 19 && (b[10] == ' ' || b[10] == 'T' || b[10] == 't') {
		if t, ok := c.sameDay(b[:10], b[11:]); ok {
			return t, 0, true
		}
	}
	t, prec, ok := parseTime(b)
	if ok {
		var m [19]byte
		copy(m[:10], b[:10])
		copy(m[10:], " 00:00:00")
		if t0, _, ok0 := parseTime(m[:]); ok0 {
			c.day, c.mid, c.ok = [10]byte(b[:10]), t0.Unix(), true
		}
	}
	return t, prec, ok
}

func twoDigits(a, b byte) (int, bool) {
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// parseEpoch reads Unix seconds or milliseconds, with an optional fraction.
func parseEpoch(s string) (time.Time, int8, bool) {
	if s == "" {
		return time.Time{}, 0, false
	}
	intPart, frac := s, ""
	if i := bytes.IndexByte([]byte(s), '.'); i >= 0 {
		intPart, frac = s[:i], s[i+1:]
	}
	if !isDigits(intPart) || (frac != "" && !isDigits(frac)) || len(intPart) > 16 {
		return time.Time{}, 0, false
	}
	var n int64
	for i := 0; i < len(intPart); i++ {
		n = n*10 + int64(intPart[i]-'0')
	}
	ns := int64(0)
	prec := int8(min(len(frac), 9))
	for i := 0; i < 9; i++ {
		ns *= 10
		if i < len(frac) {
			ns += int64(frac[i] - '0')
		}
	}
	if len(intPart) >= 12 { // milliseconds
		return time.UnixMilli(n).UTC().Add(time.Duration(ns / 1000)), max(3, prec+3), true
	}
	return time.Unix(n, ns).UTC(), prec, true
}

// splitCSV splits one CSV record (RFC 4180 quoting with doubled quotes) into dst. Quoted fields
// holding doubled quotes are unescaped into scratch. ok is false for an unterminated quote.
func splitCSV(b []byte, dst [][]byte, scratch []byte) ([][]byte, []byte, bool) {
	dst = dst[:0]
	scratch = scratch[:0]
	for {
		if len(b) > 0 && b[0] == '"' {
			b = b[1:]
			start := len(scratch)
			plain := true
			var field []byte
			for {
				i := bytes.IndexByte(b, '"')
				if i < 0 {
					return dst, scratch, false
				}
				if i+1 < len(b) && b[i+1] == '"' {
					if plain {
						plain = false
					}
					scratch = append(scratch, b[:i+1]...)
					b = b[i+2:]
					continue
				}
				if plain {
					field = b[:i]
				} else {
					scratch = append(scratch, b[:i]...)
					field = scratch[start:len(scratch):len(scratch)]
				}
				b = b[i+1:]
				break
			}
			// Anything between the closing quote and the comma is kept loosely.
			if i := bytes.IndexByte(b, ','); i >= 0 {
				dst = append(dst, field)
				b = b[i+1:]
				continue
			}
			return append(dst, field), scratch, true
		}
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			return append(dst, b), scratch, true
		}
		dst = append(dst, b[:i])
		b = b[i+1:]
	}
}

// splitSpaceQuoted splits on single spaces, treating "..." (with \" escapes) as one field whose
// quotes are dropped (AWS load balancer logs).
func splitSpaceQuoted(b []byte, dst [][]byte) ([][]byte, bool) {
	dst = dst[:0]
	for len(b) > 0 {
		if b[0] == '"' {
			j := 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return dst, false
			}
			dst = append(dst, b[1:j])
			b = b[j+1:]
			if len(b) > 0 && b[0] == ' ' {
				b = b[1:]
			}
			continue
		}
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			dst = append(dst, b)
			break
		}
		dst = append(dst, b[:i])
		b = b[i+1:]
	}
	return dst, true
}

// hhToken finds the ActiveSync front end's `_HH:<host>_` token in a query string: the value after
// the first "hh:" or "hh%3a" (any case) that starts the query or follows '_', '=' or ';'. It looks
// for the rare ':' and '%' and checks the bytes around them, so the query is never case-folded.
func hhToken(q []byte) []byte {
	at, n := hhAt(q, ':', ""), 3
	pq := q // where an "hh%3a" before at can be: it ends at most 4 bytes after at
	if at >= 0 {
		pq = q[:min(len(q), at+4)]
	}
	if j := hhAt(pq, '%', "3a"); j >= 0 && (at < 0 || j < at) {
		at, n = j, 5
	}
	if at < 0 {
		return nil
	}
	v := q[at+n:]
	for x, c := range v {
		if c == '_' || c == '&' || c == ';' || c == ' ' || c == ',' {
			return v[:x]
		}
	}
	return v
}

// hhAt returns the offset in q of the first "hh" + mark + rest (ASCII case ignored; rest is lower
// case) that starts q or follows '_', '=' or ';', or -1.
func hhAt(q []byte, mark byte, rest string) int {
	for i := 0; ; {
		j := bytes.IndexByte(q[i:], mark)
		if j < 0 {
			return -1
		}
		j += i
		s, e := j-2, j+1+len(rest)
		if s >= 0 && e <= len(q) && foldASCII(q[s]) == 'h' && foldASCII(q[s+1]) == 'h' &&
			(s == 0 || q[s-1] == '_' || q[s-1] == '=' || q[s-1] == ';') && equalFoldLower(q[j+1:e], []byte(rest)) {
			return s
		}
		i = j + 1
	}
}

// foldASCII lower-cases an ASCII letter.
func foldASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// indexFold is bytes.Index for a lower-case ASCII needle, ignoring the case of b.
func indexFold(b []byte, lowNeedle string) int {
	n := len(lowNeedle)
	if n == 0 {
		return 0
	}
	for i := 0; i+n <= len(b); i++ {
		if foldASCII(b[i]) != lowNeedle[0] {
			continue
		}
		ok := true
		for k := 1; k < n; k++ {
			if foldASCII(b[i+k]) != lowNeedle[k] {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// queryValue returns the value of key (case-insensitive, a name without '=', '&' or '?') in an
// a=b&c=d query: the first pair whose name is key, where a pair may start with '?'. It looks at
// each '=' and checks the name before it: a '=' inside a value never has a pair's start and the
// key right before it, as the name of a pair holds no '='. So the query is read once.
func queryValue(q []byte, key string) []byte {
	for i := 0; ; {
		j := bytes.IndexByte(q[i:], '=')
		if j < 0 {
			return nil
		}
		eq := i + j
		if k := eq - len(key); k >= 0 && pairStart(q, k) && bytes.EqualFold(q[k:eq], []byte(key)) {
			v := q[eq+1:]
			if e := bytes.IndexByte(v, '&'); e >= 0 {
				v = v[:e]
			}
			return v
		}
		i = eq + 1
	}
}

// pairStart reports whether a pair's name can start at q[k]: at the start of the query or of a
// pair ('&'), after one '?' there.
func pairStart(q []byte, k int) bool {
	if k > 0 && q[k-1] == '?' {
		k--
	}
	return k == 0 || q[k-1] == '&'
}

// plusToSpace turns W3C's '+' back into spaces. Without a '+' the result is a view of b.
func plusToSpace(b []byte) string {
	if bytes.IndexByte(b, '+') < 0 {
		return view(b)
	}
	return string(bytes.ReplaceAll(b, []byte("+"), []byte(" ")))
}

// view is b as a string, without a copy. It is valid only as long as b's buffer holds the line:
// parsers use it for event values, which the aggregator copies when it keeps them, and events are
// folded before their buffer is read into again.
func view(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// dash maps W3C/CSV "-" (no value) to "".
func dash(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// fieldNames splits a "#Fields:" declaration (space- or comma-separated) into names.
func fieldNames(decl []byte, sep byte) []string {
	decl = bytes.TrimSpace(decl)
	var out []string
	for _, f := range bytes.Split(decl, []byte{sep}) {
		f = bytes.TrimSpace(f)
		if len(f) > 0 || sep == ',' {
			out = append(out, string(f))
		}
	}
	return out
}

// colIndex finds a column by case-insensitive name; -1 if absent.
func colIndex(names []string, want ...string) int {
	for _, w := range want {
		for i, n := range names {
			if equalFoldASCII(n, w) {
				return i
			}
		}
	}
	return -1
}

func equalFoldASCII(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// splitSpaces appends the fields of b, separated by single spaces, to out.
func splitSpaces(out [][]byte, b []byte) [][]byte {
	for {
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
}

// field returns fields[i] or nil when the column is absent.
func field(fields [][]byte, i int) []byte {
	if i < 0 || i >= len(fields) {
		return nil
	}
	return fields[i]
}
