package main

import (
	"strings"
	"testing"
)

// The local console listens on loopback only: any other address is refused before anything
// starts, saying why.
func TestServeRefusesAnAddressOffLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.168.1.10:8080", "[::]:8080"} {
		_, stderr, code := runCLI(t, nil, "serve", "--local", "--addr", addr, "--role", "operator", "--as", "x")
		if code != 2 || !strings.Contains(stderr, "loopback only") {
			t.Errorf("serve --addr %s: exit %d, %q; want 2 and why", addr, code, stderr)
		}
	}
}
