//go:build !amd64

package connlog

func spaces(b []byte, pos []int32) int { return spacesGo(b, pos) }
