package main

import (
	"strings"
	"testing"
)

// On the local stack, preflight checks what it answers (the table, SES's account, a probe
// through the emulator), says what it cannot (the rest is AWS's), and passes.
func TestPreflightLocal(t *testing.T) {
	t.Parallel()
	cli := newTestCLI(t, nil)
	cli.useLocalStack()
	out, errOut, code := cli.run("preflight", "--local", "--send-probe")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ok       table ", "ok       SES account", "ok       probe email", "SES accepted sunset-preflight@example.nhs.net",
		"unknown  Lambda concurrency", "the local stack has no Lambda", "unknown  alarm subscription", "checked in AWS only"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := cli.run("preflight", "extra"); code != 2 || !strings.Contains(errOut, "Usage: sunset preflight") {
		t.Errorf("an argument: exit %d %s", code, errOut)
	}
}
