package connlog

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// Splitting a line into its fields was the largest single cost of reading an IIS log: one
// bytes.IndexByte a field, a dozen calls a line, each with its fixed cost for fields a few
// bytes long, and a bytes.Count first to check the line's shape. spaces finds every space of
// a line in one pass instead, eight bytes at a time in plain Go (the same code on every
// architecture; BenchmarkSpaces compares it with the IndexByte split).

// maxSpaces is how many space positions a parser keeps: more than any IIS log's fields.
const maxSpaces = 64

const (
	lo7   = 0x7f7f7f7f7f7f7f7f
	blank = 0x2020202020202020
)

// spaces writes the offsets of the first len(pos) spaces of b into pos and returns how many
// spaces b holds in all.
func spaces(b []byte, pos []int32) int {
	n, i := 0, 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:]) ^ blank // a space is a zero byte now
		m := ^((v&lo7 + lo7) | v | lo7)                // the high bit of each zero byte, exactly
		for m != 0 {
			if n < len(pos) {
				pos[n] = int32(i + bits.TrailingZeros64(m)/8)
			}
			n++
			m &= m - 1
		}
	}
	for ; i < len(b); i++ {
		if b[i] == ' ' {
			if n < len(pos) {
				pos[n] = int32(i)
			}
			n++
		}
	}
	return n
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
