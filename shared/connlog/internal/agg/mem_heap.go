//go:build !unix || race

package agg

// offHeap is false where memory is not mapped: systems without mmap, and the race detector,
// which checks only memory of the Go heap (so under -race the table lives there, and its
// accesses are checked).
const offHeap = false

func mapBytes(n int) []byte { return make([]byte, n) }
func unmapBytes([]byte)     {}
