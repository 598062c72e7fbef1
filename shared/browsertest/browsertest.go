// Package browsertest starts Debian's Chromium, headless, for tests that open Sunset's pages in a
// real browser (driven with chromedp). A test calls New; without Chromium it is skipped, unless
// SUNSET_REQUIRE_LOCAL is set (make test and CI), when it fails: `make test` installs Chromium
// first (infra/local/chromium.sh).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Path is where Chromium is looked for first (Debian's package), then on PATH.
const Path = "/usr/bin/chromium"

func find() string {
	if _, err := os.Stat(Path); err == nil {
		return Path
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// New starts a headless Chromium for the test (closed at its end) and returns a chromedp
// context of one tab, with a deadline of timeout for everything the test does in it.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	exe := find()
	if exe == "" {
		if os.Getenv("SUNSET_REQUIRE_LOCAL") != "" {
			t.Fatal("chromium is not installed (infra/local/chromium.sh installs it; make test runs it)")
		}
		t.Skip("chromium is not installed: apt-get install -y chromium")
	}
	// The flags a closed network needs (no background connections, no component updates) and a
	// root user in a container needs (no sandbox).
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1024, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	// The first action starts the browser, which lives as long as that action's context: no
	// timeout on it, only on what the test does after.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	return tctx
}
