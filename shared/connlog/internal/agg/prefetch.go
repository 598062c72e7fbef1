//go:build amd64 || arm64

package agg

// prefetch asks the processor to bring the cache line at p into its caches (PREFETCHT0 on
// amd64, PRFM PLDL1KEEP on arm64, prefetch_*.s); it never faults, whatever p is. Go has no
// prefetch of its own: a plain load would stall the processor until the line came in, which
// is what prefetching is for avoiding.
//
//go:noescape
func prefetch(p uintptr)
