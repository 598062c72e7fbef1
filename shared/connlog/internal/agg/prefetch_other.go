//go:build !amd64 && !arm64

package agg

func prefetch(uintptr) {}
