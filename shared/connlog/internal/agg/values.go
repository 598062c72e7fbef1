package agg

import (
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// seenVal is one entry of a finding's capped list: a value and when it was last seen, in 12
// bytes. The time is Unix nanoseconds in 62 bits (times before 1970 or after 2116, which no log
// has, are clamped); the top two bits of hi say what ref is: an interned value's id, a loose
// value's position, or (neither) an IPv4 address in its four bytes.
type seenVal struct{ hi, lo, ref uint32 }

const (
	seenInterned = 1 << 31
	seenLoose    = 1 << 30
)

func mkSeen(t int64, r vref) seenVal {
	t = min(max(t, 0), 1<<62-1)
	hi := uint32(uint64(t) >> 32)
	if r&isInterned != 0 {
		hi |= seenInterned
	}
	if r&isLoose != 0 {
		hi |= seenLoose
	}
	return seenVal{hi: hi, lo: uint32(t), ref: uint32(r)}
}

func (e seenVal) t() int64 { return int64(uint64(e.hi&^(seenInterned|seenLoose))<<32 | uint64(e.lo)) }

func (e seenVal) vref() vref {
	r := vref(e.ref)
	if e.hi&seenInterned != 0 {
		r |= isInterned
	}
	if e.hi&seenLoose != 0 {
		r |= isLoose
	}
	return r
}

// vref is a value as a list refers to it. An IPv4 address in canonical dotted form (nearly
// every client address) is its four bytes: comparing two is comparing two integers, and it
// takes no room in the value table. A user agent is interned: isInterned | its id in the value
// table. Any other value is loose: isLoose | its position in the shard's loose arena.
type vref uint64

const (
	isInterned vref = 1 << 32
	isLoose    vref = 1 << 33
)

// pval is a value prepared before its shard's lock is taken: its reference when it packs, else
// the hash its table finds it by, once lookup has needed it.
type pval struct {
	ref    vref
	hash   uint32
	packed bool
	hashed bool
	loose  bool // kept by each list that holds it, not shared through the index (prepValue)
}

// packV4 returns s, when it is an IPv4 address written as Go writes one (four decimal bytes,
// no leading zeros), as its four bytes: exact, since unpackV4 writes it back the same.
func packV4(s string) (uint32, bool) {
	if len(s) < 7 || len(s) > 15 {
		return 0, false
	}
	var r uint32
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || n > 255 || parts == 4 {
				return 0, false
			}
			r, parts, n, digits = r<<8|uint32(n), parts+1, 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || digits == 3 || (digits > 0 && n == 0) {
			return 0, false // not a digit, too long, or a leading zero
		}
		n, digits = n*10+int(c-'0'), digits+1
	}
	return r, parts == 4
}

// appendV4 appends the address packV4 packed into r: each byte's digits from a table, as the
// output writes one or more addresses for every finding.
func appendV4(b []byte, r uint32) []byte {
	for i := 24; i >= 0; i -= 8 {
		d := &decimalBytes[r>>i&0xff]
		b = append(b, d[1:1+d[0]]...)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return b
}

// decimalBytes[n] is n in decimal: its length, then its digits.
var decimalBytes = func() (t [256][4]byte) {
	for n := range t {
		s := strconv.Itoa(n)
		t[n][0] = byte(len(s))
		copy(t[n][1:], s)
	}
	return t
}()

// values keeps the strings of findings' lists that do not pack: user agents interned, with
// reference counts so that a value dropped from every list is forgotten, and device ids and
// addresses loose, a copy for each list entry. The table follows what the findings hold, not
// what went by.
type values struct {
	tab   strTab
	loose looseArena
}

// lookup is the reference of s (prepared as p) if some list of the shard may hold it. A value a
// finding saw last (list[0]) is compared in place: most events repeat their finding's user
// agent and device, and then s need not be hashed nor looked up in the table.
func (v *values) lookup(list []seenVal, s string, p *pval) (vref, bool) {
	if p.packed {
		return p.ref, true
	}
	if p.loose {
		for _, e := range list {
			if v.is(e.vref(), s) {
				return e.vref(), true
			}
		}
		return 0, false
	}
	if len(list) > 0 && v.is(list[0].vref(), s) {
		return list[0].vref(), true
	}
	if !p.hashed {
		p.hash, p.hashed = v.tab.hash(sb(s)), true
	}
	id, ok := v.tab.find(sb(s), p.hash)
	return isInterned | vref(id), ok
}

// is reports whether r is a value kept in the table whose string is s.
func (v *values) is(r vref, s string) bool {
	switch {
	case r&isLoose != 0:
		_, b := v.loose.at(uint32(r))
		return string(b) == s
	case r&isInterned != 0:
		return v.tab.len(uint32(r)) == len(s) && v.tab.str(uint32(r)) == s
	}
	return false
}

// hold returns the reference a new entry keeps of s: one more holder of an interned value, or
// a loose value's own copy; known and ok are lookup's answer (which hashed s when it did not
// find it).
func (v *values) hold(s string, p pval, known vref, ok bool) vref {
	if p.packed {
		return p.ref
	}
	if p.loose { // each holder its own copy
		return isLoose | vref(v.loose.add(s))
	}
	id := uint32(known)
	if !ok {
		id = v.tab.add(sb(s), p.hash)
	}
	v.tab.addRef(id)
	return isInterned | vref(id)
}

// release drops a list's hold on the value of r (nothing to do for a packed value).
func (v *values) release(r vref) {
	switch {
	case r&isLoose != 0:
		v.loose.drop(uint32(r))
	case r&isInterned != 0:
		v.tab.release(uint32(r))
	}
}

// str is the value of r kept in the table (not a packed one), and whether it is plainJSON.
func (v *values) str(r vref) (string, bool) {
	if r&isLoose != 0 {
		return v.loose.str(uint32(r))
	}
	return v.tab.str(uint32(r)), v.tab.plain(uint32(r))
}

// compare compares the value of r with s, without building the value's string.
func (v *values) compare(r vref, s string) int {
	if r&(isInterned|isLoose) != 0 {
		str, _ := v.str(r)
		return strings.Compare(str, s)
	}
	var b [15]byte
	v4 := appendV4(b[:0], uint32(r))
	return strings.Compare(unsafe.String(&v4[0], len(v4)), s)
}

// appendStr appends the value of r.
func (v *values) appendStr(b []byte, r vref) []byte {
	if r&(isInterned|isLoose) != 0 {
		str, _ := v.str(r)
		return append(b, str...)
	}
	return appendV4(b, uint32(r))
}

func (v *values) strings(list []seenVal) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = string(v.appendStr(nil, x.vref()))
	}
	return out
}

// recent keeps list distinct, ordered most recent first (ties by value), at most n long. The
// result does not depend on the order events arrive in. Lists grow to exactly n, never beyond:
// memory per finding is what bounds the scanner's memory. grow lengthens the list by one
// (moving it to a larger chunk when it is full). s is looked up once, so the list is searched
// by comparing references, never strings.
func (v *values) recent(list []seenVal, s string, p pval, t int64, n int, grow func([]seenVal) []seenVal) []seenVal {
	if s == "" {
		return list
	}
	t = min(max(t, 0), 1<<62-1)
	known, ok := v.lookup(list, s, &p)
	is := func(i int) bool { return ok && list[i].vref() == known }
	// Fast path for logs read in time order: the value becomes (or stays) the most recent.
	if len(list) > 0 && (t > list[0].t() || (t == list[0].t() && v.compare(list[0].vref(), s) >= 0)) {
		if is(0) {
			list[0] = mkSeen(t, known)
			return list
		}
		i := 1
		for ; i < len(list) && !is(i); i++ {
		}
		var held vref
		if i < len(list) {
			held = list[i].vref()
		} else { // new value: grow unless full, dropping the oldest
			held = v.hold(s, p, known, ok)
			if len(list) < n {
				list = grow(list)
			} else {
				i = len(list) - 1
				v.release(list[i].vref())
			}
		}
		copy(list[1:i+1], list[:i])
		list[0] = mkSeen(t, held)
		return list
	}
	i := 0
	for ; i < len(list) && !is(i); i++ {
	}
	var held vref
	if i < len(list) {
		if t <= list[i].t() {
			return list
		}
		held = list[i].vref()
		list = append(list[:i], list[i+1:]...)
	} else {
		if len(list) >= n {
			last := len(list) - 1
			if t < list[last].t() || (t == list[last].t() && v.compare(list[last].vref(), s) < 0) {
				return list
			}
			v.release(list[last].vref())
			list = list[:last]
		}
		held = v.hold(s, p, known, ok)
	}
	j := sort.Search(len(list), func(j int) bool {
		return list[j].t() < t || (list[j].t() == t && v.compare(list[j].vref(), s) > 0)
	})
	list = grow(list)
	copy(list[j+1:], list[j:])
	list[j] = mkSeen(t, held)
	return list
}

// A list lives in its finding's record while it fits (two client addresses, one user agent,
// one device id) and in a chunk of the shard's list pool once it outgrows that: chunks come in
// the sizes lists grow through (2, 4, 8, then the cap: 5 user agents, 10 addresses or devices),
// and a chunk a list leaves goes back on its size's free list.
var chunkSizes = [...]uint8{2, 4, 5, 8, 10}

// sizeClass is the index of chunk size c (always one of chunkSizes: lists grow by nextCap).
func sizeClass(c uint8) int {
	for i, s := range chunkSizes {
		if s >= c {
			return i
		}
	}
	return len(chunkSizes) - 1
}

// nextCap is the capacity a full list of capacity c grows to, for a list of at most n.
func nextCap(c uint8, n int) uint8 { return uint8(min(n, max(2, 2*int(c)))) }

type listPool struct {
	pages [][]seenVal
	used  int
	free  [len(chunkSizes)][]uint32
}

const listPage = 1024

// get returns a chunk of c entries: its handle (page<<12 | offset) and the entries.
func (p *listPool) get(c uint8) (uint32, []seenVal) {
	k := sizeClass(c)
	if n := len(p.free[k]); n > 0 {
		h := p.free[k][n-1]
		p.free[k] = p.free[k][:n-1]
		return h, p.slice(h, c)
	}
	if len(p.pages) == 0 || p.used+int(c) > listPage {
		p.pages = append(p.pages, make([]seenVal, listPage))
		p.used = 0
	}
	h := uint32(len(p.pages)-1)<<12 | uint32(p.used)
	p.used += int(c)
	return h, p.slice(h, c)
}

func (p *listPool) slice(h uint32, c uint8) []seenVal {
	off := h & (listPage - 1)
	return p.pages[h>>12][off : off+uint32(c) : off+uint32(c)]
}

func (p *listPool) put(h uint32, c uint8) {
	k := sizeClass(c)
	p.free[k] = append(p.free[k], h)
}

func (p *listPool) bytes() int { return len(p.pages) * listPage * 12 }
