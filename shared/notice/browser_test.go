package notice_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nhsmail-sunset/sunset/shared/browsertest"
)

// Every golden email reads on a phone and on a desktop: opened in Chromium at 375 and at 1,024
// pixels wide, no page scrolls sideways.
func TestGoldenEmailsFitTheScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a browser")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.html"))
	if err != nil || len(files) < 10 {
		t.Fatalf("golden HTML files: %v %v", files, err)
	}
	ctx := browsertest.New(t, 2*time.Minute)
	for _, width := range []int64{375, 1024} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			abs, _ := filepath.Abs(f)
			if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs)); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			over, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth - window.innerWidth`))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if over > 0 {
				t.Errorf("%s at %d px: the page is %d px wider than the screen", f, width, over)
			}
		}
	}
}

// Every golden email meets WCAG 2.2 AA as far as axe-core can tell, at 375 and 1,280 pixels,
// with a visible focus on every link and no sideways scrolling down to 320 pixels.
func TestGoldenEmailsAreAccessible(t *testing.T) {
	if testing.Short() {
		t.Skip("opens a browser")
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*", "*.html"))
	if err != nil || len(files) < 10 {
		t.Fatalf("golden HTML files: %v %v", files, err)
	}
	ctx := browsertest.New(t, 5*time.Minute)
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+abs)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		browsertest.CheckPage(t, ctx, f)
	}
}
