package connlog

// spaces is spacesGo in assembly (spaces_amd64.s).
//
//go:noescape
func spaces(b []byte, pos []int32) int
