package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nhsmail-sunset/sunset/shared/localstack"
)

// Widths are the page widths the accessibility checks run at: a phone and a desktop.
var Widths = []int64{375, 1280}

// axeTags are the axe-core rule sets checked: WCAG 2.0, 2.1 and 2.2 at levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

// axeSource is axe-core's script, pinned in infra/local/package.json (make local-up installs
// it beside the other local tools).
func axeSource() (string, error) {
	axeOnce.Do(func() {
		tpl, err := localstack.FindTemplate()
		if err != nil {
			axeErr = err
			return
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(tpl), "infra", "local", "node_modules", "axe-core", "axe.min.js"))
		if err != nil {
			axeErr = fmt.Errorf("axe-core is not installed (make local-up installs it): %w", err)
			return
		}
		axeSrc = string(b)
	})
	return axeSrc, axeErr
}

// violation is one axe-core rule a page breaks, with the elements that break it.
type violation struct {
	ID, Impact, Help string
	Nodes            []struct {
		Target []any `json:"target"`
	}
}

// focused describes the element the keyboard focused, and whether it shows it: an outline or
// a box shadow (Chromium's own focus ring for keyboard focus is an outline).
const focused = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return JSON.stringify({done: true});
  // Inside a frame the focus is the frame's document's to show (the emails' own check).
  if (el.tagName === 'IFRAME') return JSON.stringify({id: el.outerHTML.slice(0, 100), shown: true});
  const cs = getComputedStyle(el);
  const shown = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
  return JSON.stringify({id: el.outerHTML.slice(0, 100), shown: shown});
})()`

// checkFocus moves through the page with the Tab key, as a keyboard user does, and fails on
// each control that shows no focus indicator.
func checkFocus(t testing.TB, ctx context.Context, what string, width int64) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); true`)); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	seen := map[string]bool{}
	for range 300 {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("\t")); err != nil {
			t.Fatalf("%s: tab: %v", what, err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](focused))
		if err != nil {
			t.Fatalf("%s: focus: %v", what, err)
		}
		var f struct {
			Done  bool   `json:"done"`
			ID    string `json:"id"`
			Shown bool   `json:"shown"`
		}
		json.Unmarshal([]byte(out), &f)
		if f.Done || seen[f.ID] {
			return
		}
		seen[f.ID] = true
		if !f.Shown {
			t.Errorf("%s at %d px: no visible focus on %s", what, width, f.ID)
		}
	}
}

// widestElement names the innermost element that reaches past the right of the window.
const widestElement = `(() => {
  let found = '';
  const clipped = el => { for (let p = el.parentElement; p; p = p.parentElement) { if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true; } return false; };
  for (const el of document.body.querySelectorAll('*')) {
    if (clipped(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1) found = el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ': ' + (el.textContent || '').trim().slice(0, 60);
  }
  return found;
})()`

// CheckPage checks the page open in ctx at each of Widths: axe-core's WCAG 2.2 A and AA rules
// (no violation) and a visible focus indicator on every control; and no sideways scrolling at
// 320, 375 and 1,280 CSS pixels. what names the page in failures. It leaves the viewport at
// 1,280 pixels.
func CheckPage(t testing.TB, ctx context.Context, what string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range Widths {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		loaded, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined'`))
		if !loaded {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
				t.Fatalf("%s: load axe-core: %v", what, err)
			}
		}
		tags, _ := json.Marshal(axeTags)
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: 'tag', values: `+string(tags)+`}, resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s at %d px: axe-core: %v", what, w, err)
		}
		var vs []violation
		if err := json.Unmarshal([]byte(out), &vs); err != nil {
			t.Fatalf("%s: axe-core's answer: %v", what, err)
		}
		for _, v := range vs {
			var targets []string
			for _, n := range v.Nodes {
				targets = append(targets, fmt.Sprint(n.Target...))
			}
			t.Errorf("%s at %d px: %s (%s): %s; on %s", what, w, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
		}
		checkFocus(t, ctx, what, w)
	}
	// Reflow (WCAG 1.4.10): nothing scrolls sideways down to 320 CSS pixels.
	for _, w := range []int64{320, 375, 1280} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		over, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth - window.innerWidth`))
		if err == nil && over > 0 {
			widest, _ := chromedp.Run(ctx, chromedp.Evaluate[string](widestElement))
			t.Errorf("%s at %d px: the page scrolls sideways by %d px (%s)", what, w, over, widest)
		}
	}
}

// Title is the page's title.
func Title(t testing.TB, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
