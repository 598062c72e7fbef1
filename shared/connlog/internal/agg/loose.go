package agg

import (
	"encoding/binary"
	"unsafe"
)

// looseArena holds a shard's loose values (device ids, addresses that do not pack): a list
// entry that holds one has a copy of its own, and refers to it by its position in the arena.
// A value is stored as a 2-byte header (its length, and whether it is plainJSON) and its
// bytes, so reading one (to compare it, or to write it out) is one place in memory: no id, no
// index, no arrays of offsets and lengths to keep, as interned values need (strTab).
//
// A value its list drops is dead. When dead bytes outweigh live ones, the shard moves the live
// values to new pages and points its lists at them (shard.compactLoose): each value has
// exactly one holder, so moving it is updating one entry.
type looseArena struct {
	pages [][]byte
	used  int // bytes used in the last page
	live  int // bytes (with headers) of the values lists hold
	dead  int // bytes of dropped values still in the pages
	n     int // values lists hold

	compactions int // for tests
}

// loosePage is the size of a page; a position is page<<looseShift | offset (32 bits: 4 GiB
// of values a shard).
const (
	loosePage     = 16 << 10
	looseShift    = 14
	looseHdr      = 2
	looseMaxLen   = loosePage - looseHdr
	loosePlainBit = 1 << 15
)

// add stores s and returns its position.
func (a *looseArena) add(s string) uint32 {
	if len(s) > looseMaxLen {
		s = s[:looseMaxLen] // callers bound their values far below this
	}
	n := looseHdr + len(s)
	if len(a.pages) == 0 || a.used+n > loosePage {
		a.pages = append(a.pages, make([]byte, loosePage))
		a.used = 0
	}
	page := a.pages[len(a.pages)-1]
	h := uint16(len(s))
	if plainJSON(s) {
		h |= loosePlainBit
	}
	binary.LittleEndian.PutUint16(page[a.used:], h)
	copy(page[a.used+looseHdr:], s)
	pos := uint32(len(a.pages)-1)<<looseShift | uint32(a.used)
	a.used += n
	a.live += n
	a.n++
	return pos
}

// at is the header and bytes of the value at pos.
func (a *looseArena) at(pos uint32) (uint16, []byte) {
	b := a.pages[pos>>looseShift][pos&(1<<looseShift-1):]
	h := binary.LittleEndian.Uint16(b)
	return h, b[looseHdr : looseHdr+int(h&^loosePlainBit)]
}

// prefetch asks for the cache line of the value at pos.
func (a *looseArena) prefetch(pos uint32) {
	prefetch(uintptr(unsafe.Pointer(unsafe.SliceData(a.pages[pos>>looseShift]))) + uintptr(pos&(1<<looseShift-1)))
}

// str is the value at pos (a view into the arena, valid until the shard compacts it), and
// whether it is plainJSON.
func (a *looseArena) str(pos uint32) (string, bool) {
	h, b := a.at(pos)
	return unsafe.String(unsafe.SliceData(b), len(b)), h&loosePlainBit != 0
}

// drop marks the value at pos dead: its list no longer holds it.
func (a *looseArena) drop(pos uint32) {
	_, b := a.at(pos)
	n := looseHdr + len(b)
	a.live, a.dead, a.n = a.live-n, a.dead+n, a.n-1
}

// crowded reports whether dead bytes outweigh live ones (and are worth a compaction).
func (a *looseArena) crowded() bool { return a.dead > 1<<20 && a.dead > a.live }

// compact moves every value the lists hold to new pages: each calls move for its entries,
// which gets a value's new position for its old one. The old pages go back to mem.
func (a *looseArena) compact(each func(move func(pos uint32) uint32)) {
	old := *a
	a.pages, a.used, a.live, a.dead, a.n = nil, 0, 0, 0, 0
	a.compactions++
	each(func(pos uint32) uint32 {
		s, _ := old.str(pos)
		return a.add(s)
	})
}

func (a *looseArena) bytes() int { return len(a.pages) * loosePage }
