package agg

// pageBits sets how many elements a page of a paged slice holds (1024): small enough that an
// empty table (16 shards, several arrays each) costs little, large enough to be few.
const pageBits = 10

// paged is a growable array of pointer-free elements in fixed-size pages. Growing it never
// copies what it holds (a slice that doubles would, and would briefly need both copies: the
// peak memory of a large table), and pages of pointer-free elements are never scanned by the
// garbage collector.
type paged[T any] struct {
	pages [][]T
	n     uint32
}

// at is element i.
func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pageBits][i&(1<<pageBits-1)] }

// add appends a zero element and returns its index.
func (p *paged[T]) add() uint32 {
	if p.n>>pageBits == uint32(len(p.pages)) {
		p.pages = append(p.pages, make([]T, 1<<pageBits))
	}
	i := p.n
	p.n++
	return i
}

// bytes is the memory the pages hold.
func (p *paged[T]) bytes(elem int) int { return len(p.pages) << pageBits * elem }
