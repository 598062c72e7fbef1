package agg

import (
	"sync"
	"unsafe"
)

// mem is where a shard's arrays live: memory mapped from the operating system, outside the Go
// heap. The table is the one large, long-lived thing a scan holds, and nothing in it can be
// freed while the scan runs. On the heap it counted toward the collector's goal: with the
// heap held near the table's size (so that memory stays close to what findings need), the
// collector ran over and over for nothing, 339 times in one scan of the wide benchmark, a
// third of its CPU. Outside the heap the collector sees only the scan's small working memory,
// and the table's memory is exactly what it holds.
//
// Arrays are carved from slabs of slabSize bytes; one that is handed back (a list chunk that
// grew, an index that doubled, an arena that was compacted) goes on a free list by size for the
// next request of that size. Arrays of ownMapping bytes or more get a mapping of their own,
// unmapped when handed back. Slabs go back to the system at release, which the table calls
// when it is freed (Free, or the cleanup New attaches for a table dropped without it).
//
// A nil *mem takes its arrays from the Go heap (tests of single parts, a table after Free), and
// so does every mem in builds for the race detector, which checks only memory of the heap
// (mem_heap.go). Whatever comes from mem must hold no pointers: the collector does not look
// inside it.
type mem struct {
	mu       sync.Mutex // release may come from a cleanup, while nothing else uses the table
	cur      []byte     // the rest of the current slab
	slabs    [][]byte
	big      map[*byte][]byte // arrays with a mapping of their own, by first byte
	free     map[int][][]byte // arrays handed back, by size
	released bool
}

const (
	slabSize = 1 << 20
	// ownMapping is the size from which an array gets a mapping of its own: indexes that
	// doubled past it go back to the system, not to a free list that only an index of the
	// same size would use.
	ownMapping = 64 << 10
	// align keeps every array on its own cache lines (records hold int64s: 8 would do).
	align = 64
)

// alloc returns n zeroed bytes.
func (m *mem) alloc(n int) []byte {
	if m == nil || !offHeap {
		return make([]byte, n)
	}
	if l := m.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		m.free[n] = l[:len(l)-1]
		clear(b)
		return b
	}
	if n >= ownMapping {
		b := mapBytes(n)
		if m.big == nil {
			m.big = map[*byte][]byte{}
		}
		m.big[&b[0]] = b
		return b
	}
	size := (n + align - 1) &^ (align - 1)
	if len(m.cur) < size {
		s := mapBytes(slabSize)
		m.slabs = append(m.slabs, s)
		m.cur = s
	}
	b := m.cur[:n:n]
	m.cur = m.cur[size:]
	return b
}

// hand takes back b, which alloc returned.
func (m *mem) hand(b []byte) {
	if m == nil || !offHeap || len(b) == 0 {
		return
	}
	if _, ok := m.big[&b[0]]; ok {
		delete(m.big, &b[0])
		unmapBytes(b)
		return
	}
	if m.free == nil {
		m.free = map[int][][]byte{}
	}
	m.free[len(b)] = append(m.free[len(b)], b)
}

// release unmaps everything m handed out: nothing may use it after.
func (m *mem) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.released {
		return
	}
	m.released = true
	for _, s := range m.slabs {
		unmapBytes(s)
	}
	for _, b := range m.big {
		unmapBytes(b)
	}
	m.slabs, m.big, m.free, m.cur = nil, nil, nil, nil
}

// array returns n zeroed elements of the pointer-free type T from m.
func array[T any](m *mem, n int) []T {
	var z T
	b := m.alloc(n * int(unsafe.Sizeof(z)))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

// handArray hands back an array that array returned.
func handArray[T any](m *mem, a []T) {
	var z T
	m.hand(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(a))), len(a)*int(unsafe.Sizeof(z))))
}
