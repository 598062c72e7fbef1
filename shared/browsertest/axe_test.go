package browsertest

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// recorder keeps what CheckPage reports instead of failing the test.
type recorder struct {
	*testing.T
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// The checks catch what they are for: an image without a text alternative (axe-core), a link
// whose focus is hidden, a page wider than a phone; a page without them passes.
func TestCheckPageCatchesProblems(t *testing.T) {
	ctx := New(t, time.Minute)
	for _, tc := range []struct {
		name, html string
		want       []string
	}{
		{"clean", `<main><h1>Fine</h1><p><a href="#x">a link</a></p></main>`, nil},
		{"image without alt", `<main><h1>x</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main>`, []string{"image-alt"}},
		{"focus hidden", `<main><h1>x</h1><p><a href="#x" style="outline:none">a link</a></p></main>`, []string{"no visible focus"}},
		{"too wide", `<main><h1>x</h1><div style="width:900px">wide</div></main>`, []string{"scrolls sideways"}},
	} {
		page := "data:text/html," + url.PathEscape(`<!DOCTYPE html><html lang="en-GB"><head><meta name="viewport" content="width=device-width"><title>`+tc.name+`</title></head><body>`+tc.html+`</body></html>`)
		if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
			t.Fatal(err)
		}
		r := &recorder{T: t}
		CheckPage(r, ctx, tc.name)
		all := strings.Join(r.errs, "\n")
		if len(tc.want) == 0 && all != "" {
			t.Errorf("%s: %s", tc.name, all)
		}
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no %q in:\n%s", tc.name, w, all)
			}
		}
	}
}
