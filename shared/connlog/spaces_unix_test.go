//go:build unix

package connlog

import (
	"bytes"
	"runtime/debug"
	"syscall"
	"testing"
)

// spaces reads nothing outside its slice: lines that end where an unreadable page starts, and
// lines that start where one ends. A read past either faults, which the test reports.
func TestSpacesPageEnds(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 3*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip("mmap:", err)
	}
	defer syscall.Munmap(mem)
	for i := page; i < 2*page; i++ {
		mem[i] = "ab "[i%3]
	}
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	if err := syscall.Mprotect(mem[2*page:], syscall.PROT_NONE); err != nil {
		t.Skip("mprotect:", err)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("spaces read outside its line: %v", r)
		}
	}()
	pos := make([]int32, maxSpaces)
	for n := range 300 {
		for _, b := range [][]byte{mem[2*page-n : 2*page], mem[page : page+n]} {
			if got, want := spaces(b, pos), bytes.Count(b, []byte{' '}); got != want {
				t.Fatalf("%d bytes: %d spaces, want %d", n, got, want)
			}
		}
	}
}
