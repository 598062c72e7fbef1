package connlog

import (
	"bytes"
	"slices"
)

// Splitting a line into its fields was the largest single cost of reading an IIS log: one
// bytes.IndexByte a field, a dozen calls a line, each with its fixed cost for fields a few
// bytes long, and a bytes.Count first to check the line's shape. spaces finds every space of
// a line in one pass instead: on amd64 sixteen bytes at a time with SSE2 (spaces_amd64.s,
// which every amd64 processor has), elsewhere with spacesGo, which the tests hold the
// assembly to.

// maxSpaces is how many space positions a parser keeps: more than any IIS log's fields.
const maxSpaces = 64

// spacesGo writes the offsets of the first len(pos) spaces of b into pos and returns how many
// spaces b holds in all.
func spacesGo(b []byte, pos []int32) int {
	n, off := 0, 0
	for {
		i := bytes.IndexByte(b[off:], ' ')
		if i < 0 {
			return n
		}
		if n < len(pos) {
			pos[n] = int32(off + i)
		} else {
			return n + bytes.Count(b[off+i:], []byte{' '})
		}
		n++
		off += i + 1
	}
}

// fieldsTo extends out, the first fields of b, to its first k, given the offsets of all the
// spaces of b (k is at most len(pos)+1).
func fieldsTo(out [][]byte, b []byte, pos []int32, k int) [][]byte {
	i := len(out)
	if i >= k {
		return out
	}
	out = slices.Grow(out, k-i)[:k]
	start := 0
	if i > 0 {
		start = int(pos[i-1]) + 1
	}
	for ; i < k; i++ {
		end := len(b)
		if i < len(pos) {
			end = int(pos[i])
		}
		out[i] = b[start:end]
		start = end + 1
	}
	return out
}
