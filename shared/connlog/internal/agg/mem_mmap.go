//go:build unix && !race

package agg

import (
	"fmt"
	"syscall"
)

const offHeap = true

// mapBytes maps n bytes of zeroed anonymous memory. The system commits pages as they are
// first touched, so a slab costs only what is used of it.
func mapBytes(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		// As the heap does when it can not grow.
		panic(fmt.Sprintf("findings table: map %d bytes: %v", n, err))
	}
	return b
}

func unmapBytes(b []byte) {
	if err := syscall.Munmap(b); err != nil {
		panic(fmt.Sprintf("findings table: unmap %d bytes: %v", len(b), err))
	}
}
