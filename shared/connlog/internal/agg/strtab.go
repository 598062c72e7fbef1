package agg

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// strTab interns strings: each distinct string gets a small id, its bytes live once in an arena
// of pages, and an open-addressing index of (hash, id) finds it. Everything it holds is
// pointer-free, so a table of a million strings costs the garbage collector nothing.
//
// With reference counts (values), a string no list holds any more is dead: its id stays in the
// index (a later lookup of the same string revives it) until dead bytes outweigh live ones and
// compact drops them; ids stay stable across compactions, so references to live strings hold.
// A string compact dropped has its id on the free list, for add to reuse.
type strTab struct {
	seed maphash.Seed // hash: the callers' precomputed hashes are made with it too
	idx  index
	offs paged[uint32] // id -> page<<16 | offset of the string in the arena
	lens paged[uint16] // the length, and in the top bit whether the string is plainJSON

	refs  paged[int32] // counted tables only
	arena [][]byte     // pages of arenaPage bytes
	used  int          // bytes used in the last page
	free  []uint32     // ids of strings dropped by compact, for reuse
	live  int          // bytes of live strings (counted tables)
	dead  int          // bytes of dead strings still in the arena
}

const arenaPage = 16 << 10

// plainBit marks a length whose string is plainJSON; maxLen is the longest string kept (it
// fits an arena page).
const (
	plainBit = 1 << 15
	maxLen   = arenaPage - 1
)

func (t *strTab) len(id uint32) int { return int(*t.lens.at(id) &^ plainBit) }

// plain reports whether string id is plainJSON, as found when it was added.
func (t *strTab) plain(id uint32) bool { return *t.lens.at(id)&plainBit != 0 }

// plainJSON reports whether encoding/json writes s as it is between quotes: printable ASCII
// without '"', '\\', '<', '>' or '&'. Strings are written out many times and added once, so the
// check is made once.
func plainJSON[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// hash is the hash the table indexes s by.
func (t *strTab) hash(s []byte) uint32 { return uint32(maphash.Bytes(t.seed, s)) }

func (t *strTab) rehash(id uint32) uint32 { return t.hash(sb(t.str(id))) }

// indexed is the hash of id, and whether the index holds it (not if compact dropped it).
func (t *strTab) indexed(id uint32) (uint32, bool) {
	if *t.offs.at(id) == deadOff {
		return 0, false
	}
	return t.rehash(id), true
}

// sb is s as bytes, without a copy (never written).
func sb(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// str is the string of id: a view into the arena, valid while the table lives and is not
// compacted.
func (t *strTab) str(id uint32) string {
	o := *t.offs.at(id)
	b := t.arena[o>>16][o&0xffff:]
	return unsafe.String(&b[0], t.len(id))
}

// find returns the id of s, whose hash is h, if the table holds it (dead or alive).
func (t *strTab) find(s []byte, h uint32) (uint32, bool) {
	if len(t.idx.slots) == 0 {
		return 0, false
	}
	mask, tag := uint32(len(t.idx.slots)-1), h&tagMask
	for i := h & mask; ; i = (i + 1) & mask {
		sl := t.idx.slots[i]
		if sl == 0 {
			return 0, false
		}
		if sl&tagMask == tag {
			id := sl&idMask - 1
			if t.len(id) == len(s) && t.equal(id, s) {
				return id, true
			}
		}
	}
}

// prefetch is step 0, 1 or 2 of asking for what find(s, h) will read: the index slot, then the
// offset and length of the string it likely holds, then the string's bytes. Each step reads
// what the one before fetched.
func (t *strTab) prefetch(h uint32, step int) {
	if step == 0 {
		t.idx.prefetch(h)
		return
	}
	id, ok := t.idx.peek(h)
	switch {
	case !ok:
	case step == 1:
		prefetch(uintptr(unsafe.Pointer(t.offs.at(id))))
		prefetch(uintptr(unsafe.Pointer(t.lens.at(id))))
	default:
		t.prefetchStr(id)
	}
}

// prefetchStr asks for the bytes of string id.
func (t *strTab) prefetchStr(id uint32) {
	if o := *t.offs.at(id); o != deadOff {
		prefetch(uintptr(unsafe.Pointer(unsafe.SliceData(t.arena[o>>16]))) + uintptr(o&0xffff))
	}
}

func (t *strTab) equal(id uint32, s []byte) bool {
	o := *t.offs.at(id)
	return bytes.Equal(t.arena[o>>16][o&0xffff:o&0xffff+uint32(len(s))], s)
}

// add stores s (not in the table) under hash h, in the arena under a new (or freed) id, and
// returns the id.
func (t *strTab) add(s []byte, h uint32) uint32 {
	if len(s) > maxLen {
		s = s[:maxLen] // callers bound their values far below this
	}
	if len(t.arena) == 0 || t.used+len(s) > arenaPage {
		t.arena = append(t.arena, make([]byte, arenaPage))
		t.used = 0
	}
	p := len(t.arena) - 1
	copy(t.arena[p][t.used:], s)
	var id uint32
	if n := len(t.free); n > 0 {
		id, t.free = t.free[n-1], t.free[:n-1]
	} else {
		id = t.offs.add()
		t.lens.add()
		t.refs.add()
	}
	*t.offs.at(id) = uint32(p)<<16 | uint32(t.used)
	l := uint16(len(s))
	if plainJSON(s) {
		l |= plainBit
	}
	*t.lens.at(id) = l
	*t.refs.at(id) = 0
	t.used += len(s)
	t.idx.insert(h, id, t.offs.n, t.indexed)
	return id
}

// intern returns the id of s, adding it if need be.
func (t *strTab) intern(s []byte, h uint32) uint32 {
	if id, ok := t.find(s, h); ok {
		return id
	}
	return t.add(s, h)
}

// addRef makes id one more holder's: a string just added, or a dead one, comes alive.
func (t *strTab) addRef(id uint32) {
	r := t.refs.at(id)
	n := t.len(id)
	if *r == -1 {
		*r, t.dead = 0, t.dead-n
	}
	if *r == 0 {
		t.live += n
	}
	*r++
}

// release drops one holder of id; a string nobody holds is dead (reference count -1).
func (t *strTab) release(id uint32) {
	r := t.refs.at(id)
	if *r--; *r == 0 {
		n := t.len(id)
		*r, t.live, t.dead = -1, t.live-n, t.dead+n
		if t.dead > 1<<20 && t.dead > t.live {
			t.compact()
		}
	}
}

// compact rebuilds the arena with the live strings only, keeping their ids, and the index
// with them.
func (t *strTab) compact() {
	old := t.arena
	t.arena, t.used, t.dead = nil, 0, 0
	indexed := 0
	for id := range t.offs.n {
		switch {
		case *t.offs.at(id) == deadOff:
		case *t.refs.at(id) <= 0:
			t.free = append(t.free, id)
			*t.offs.at(id) = deadOff
		default:
			indexed++
		}
	}
	t.idx = index{slots: make([]uint32, t.idx.sizeFor(indexed))}
	for id := range t.offs.n {
		o := *t.offs.at(id)
		if o == deadOff {
			continue
		}
		n := t.len(id)
		if len(t.arena) == 0 || t.used+n > arenaPage {
			t.arena = append(t.arena, make([]byte, arenaPage))
			t.used = 0
		}
		p := len(t.arena) - 1
		copy(t.arena[p][t.used:], old[o>>16][o&0xffff:o&0xffff+uint32(n)])
		*t.offs.at(id) = uint32(p)<<16 | uint32(t.used)
		t.used += n
		t.idx.place(t.rehash(id), id)
		t.idx.n++
	}
}

// deadOff marks the offset of an id that compact dropped (it is on the free list).
const deadOff = ^uint32(0)

// bytes is roughly the memory the table holds.
func (t *strTab) bytes() int {
	return len(t.arena)*arenaPage + len(t.idx.slots)*4 + t.offs.bytes(4) + t.lens.bytes(2) + t.refs.bytes(4)
}

// index maps hashes to ids with linear probing in a power-of-two array of 4-byte slots, each
// the hash's top 8 bits as a tag and id+1 below (0 is empty): half the memory of 8-byte slots,
// and the tag still spares callers most key comparisons. Callers compare the candidates' keys
// themselves. It grows at 3/4 full and never removes an entry. Growing walks the ids in order
// and asks rehash for each one's hash (and whether the index holds it): records and strings
// were written in id order, so the walk reads memory in order, as the processor prefetches it;
// walking the old slots would read them in hash order, a cache miss each.
type index struct {
	slots []uint32
	n     int
}

const (
	tagMask = 0xff000000
	idMask  = 1<<24 - 1 // 16.7 million ids per index: far more than a shard holds
)

// prefetch asks for the slot where a lookup of hash h starts.
func (x *index) prefetch(h uint32) {
	if len(x.slots) > 0 {
		prefetch(uintptr(unsafe.Pointer(&x.slots[h&uint32(len(x.slots)-1)])))
	}
}

// peek is the id in the slot where a lookup of hash h starts, if its tag is h's: the likely
// answer, for prefetching what the lookup will read.
func (x *index) peek(h uint32) (uint32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	sl := x.slots[h&uint32(len(x.slots)-1)]
	return sl&idMask - 1, sl != 0 && sl&tagMask == h&tagMask
}

func (x *index) sizeFor(n int) int {
	size := 64
	for size*3 < n*4+4 {
		size *= 2
	}
	return size
}

// insert adds (h, id), which the index does not hold; ids below n are the others it may hold.
func (x *index) insert(h, id, n uint32, rehash func(id uint32) (uint32, bool)) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow(id, n, rehash)
	}
	x.place(h, id)
	x.n++
}

func (x *index) place(h, id uint32) {
	mask := uint32(len(x.slots) - 1)
	i := h & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = h&tagMask | (id+1)&idMask
}

// grow doubles the slots and places again every id below n that rehash says the index holds,
// except adding, the one being inserted.
func (x *index) grow(adding, n uint32, rehash func(id uint32) (uint32, bool)) {
	x.slots = make([]uint32, max(64, 2*len(x.slots)))
	for id := range n {
		if id == adding {
			continue
		}
		if h, ok := rehash(id); ok {
			x.place(h, id)
		}
	}
}
