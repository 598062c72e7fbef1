package agg

import (
	"sort"
	"strings"
)

// seenVal is one entry of a finding's capped list: a value (see valueRef) and when it was last
// seen.
type seenVal struct {
	t   int64  // Unix nanoseconds
	ref uint64 // the value: packed, or interned (hash and id)
}

// A value reference is exact for short values: a value of at most 15 digits and dots (an IPv4
// address: nearly every client address) is packed into the reference itself, four bits a
// character, so that comparing two is comparing two integers and the value takes no room in the
// value table. Any other value is interned: its reference is interned | hash<<32 | id, and a
// list is searched by comparing hashes, the value itself (elsewhere in memory) being read only
// to confirm a match.
const interned = 1 << 63

// packValue returns s packed (first character in the lowest four bits, 0 after the last), and
// whether it packs.
func packValue(s string) (uint64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var r uint64
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | uint64(c-'0'+1)
		case c == '.':
			r = r<<4 | 11
		default:
			return 0, false
		}
	}
	return r, true
}

// unpackValue is the string packValue packed into r.
func unpackValue(r uint64) string {
	var b [15]byte
	n := 0
	for ; r != 0; r >>= 4 {
		if d := r & 0xf; d == 11 {
			b[n] = '.'
		} else {
			b[n] = byte('0' + d - 1)
		}
		n++
	}
	return string(b[:n])
}

// values interns the strings kept in findings' lists (client IPs, user agents, device ids), with
// reference counts so that a value dropped from every list is forgotten: the table follows what
// the findings hold, not what went by.
type values struct {
	ids  map[string]uint32
	strs []string
	refs []int32
	free []uint32
}

func (v *values) acquire(s string) uint32 {
	if id, ok := v.ids[s]; ok {
		v.refs[id]++
		return id
	}
	s = strings.Clone(s) // s may point into a read buffer
	var id uint32
	if n := len(v.free); n > 0 {
		id, v.free = v.free[n-1], v.free[:n-1]
		v.strs[id], v.refs[id] = s, 1
	} else {
		id = uint32(len(v.strs))
		v.strs, v.refs = append(v.strs, s), append(v.refs, 1)
	}
	v.ids[s] = id
	return id
}

// release drops a list's hold on the value of ref (nothing to do for a packed value).
func (v *values) release(ref uint64) {
	if ref&interned == 0 {
		return
	}
	id := uint32(ref)
	if v.refs[id]--; v.refs[id] == 0 {
		delete(v.ids, v.strs[id])
		v.strs[id] = ""
		v.free = append(v.free, id)
	}
}

func (v *values) strings(list []seenVal) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = v.str(x.ref)
	}
	return out
}

// str is the value of ref.
func (v *values) str(ref uint64) string {
	if ref&interned == 0 {
		return unpackValue(ref)
	}
	return v.strs[uint32(ref)]
}

// hold returns the reference an entry keeps of s, whose valueRef is ref, interning s if need be.
func (v *values) hold(s string, ref uint64) uint64 {
	if ref&interned == 0 {
		return ref
	}
	return ref&^0xffffffff | uint64(v.acquire(s))
}

// recent keeps list distinct, ordered most recent first (ties by value), at most n long. The
// result does not depend on the order events arrive in. Lists grow to exactly n, never beyond:
// memory per finding is what bounds the scanner's memory. ref is s's valueRef: entries whose
// reference differs (packed) or whose hash differs (interned) are passed over without reading
// their value.
func (v *values) recent(list []seenVal, s string, ref uint64, t int64, n int) []seenVal {
	if s == "" {
		return list
	}
	str := func(i int) string { return v.str(list[i].ref) }
	is := func(i int) bool {
		x := list[i].ref
		if ref&interned == 0 {
			return x == ref
		}
		return x>>32 == ref>>32 && v.strs[uint32(x)] == s
	}
	// Fast path for logs read in time order: the value becomes (or stays) the most recent.
	if len(list) > 0 && (t > list[0].t || (t == list[0].t && s <= str(0))) {
		if is(0) {
			list[0].t = t
			return list
		}
		i := 1
		for ; i < len(list) && !is(i); i++ {
		}
		var held uint64
		if i < len(list) {
			held = list[i].ref
		} else { // new value: grow unless full, dropping the oldest
			held = v.hold(s, ref)
			if len(list) < n {
				list = growVals(list, n)
			} else {
				i = len(list) - 1
				v.release(list[i].ref)
			}
		}
		copy(list[1:i+1], list[:i])
		list[0] = seenVal{t: t, ref: held}
		return list
	}
	i := 0
	for ; i < len(list) && !is(i); i++ {
	}
	var held uint64
	if i < len(list) {
		if t <= list[i].t {
			return list
		}
		held = list[i].ref
		list = append(list[:i], list[i+1:]...)
	} else {
		if len(list) >= n {
			last := len(list) - 1
			if t < list[last].t || (t == list[last].t && s > str(last)) {
				return list
			}
			v.release(list[last].ref)
			list = list[:last]
		}
		held = v.hold(s, ref)
	}
	j := sort.Search(len(list), func(j int) bool {
		return list[j].t < t || (list[j].t == t && v.str(list[j].ref) > s)
	})
	list = growVals(list, n)
	copy(list[j+1:], list[j:])
	list[j] = seenVal{t: t, ref: held}
	return list
}

// growVals lengthens list by one, reallocating to at most n (1, 2, 4, ... n: most lists hold one
// value).
func growVals(list []seenVal, n int) []seenVal {
	if len(list) < cap(list) {
		return list[:len(list)+1]
	}
	l := make([]seenVal, len(list)+1, min(n, max(1, 2*len(list))))
	copy(l, list)
	return l
}
