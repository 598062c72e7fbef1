package infra

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nhsmail-sunset/sunset/shared/browsertest"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// everyPageAccessible opens every kind of page of the console, its sign-in, and the pages the
// demo's notices link to (the three answers, the status page, a link that is not valid) in
// Chromium, and checks each against WCAG 2.2 AA as far as a machine can (browsertest.CheckPage:
// axe-core at 375 and 1,280 px, visible keyboard focus, no sideways scrolling down to 320 px);
// every page has a title of its own.
func everyPageAccessible(t *testing.T, table string) {
	base := serveConsole(t, table)
	ctx := browsertest.New(t, 5*time.Minute)
	const id = "demo-legacy-hostnames-2021"
	titles := map[string]string{}
	check := func(what, path string, wait string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
			t.Fatalf("%s (%s): %v", what, path, err)
		}
		title := browsertest.Title(t, ctx)
		if other, dup := titles[title]; dup {
			t.Errorf("%s and %s share the title %q", what, other, title)
		}
		titles[title] = what
		browsertest.CheckPage(t, ctx, what)
	}
	check("sign-in", "/auth/signin?next=/console/", "input#name")
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("input#name"), "Ada Operator"),
		chromedp.Click(chromedp.CSS(`input[name=role][value=operator]`)), chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header form[action="/auth/signout"]`))); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	c := "/console/campaigns/" + id
	for _, p := range []struct{ what, path string }{
		{"campaigns", "/console/"},
		{"campaign", c},
		{"plan", c + "/plan?at=2021-08-17"},
		{"unassigned accounts", c + "/unassigned"},
		{"organisation", c + "/orgs/RX1"},
		{"notice", c + "/orgs/RX1/notices/final"},
		{"pause confirmation", c + "/pause"},
		{"extend", c + "/extend"},
		{"send a test", c + "/orgs/RX1/send-test?stage=final"},
		{"apply", "/console/apply"},
		{"suppressed addresses", "/console/suppressed"},
		{"answers", c + "/answers"},
		{"merged emails", c + "/mails"},
		{"a merged email", c + "/mails/" + ledger.MailKeyOf(id, calendar.Date{Year: 2021, Month: 7, Day: 27}, "it.support@federation.example.nhs.net").ID()},
		{"a notice in a merged email", c + "/orgs/RTH/notices/advance"},
		{"no such page", "/console/no-such-page"},
	} {
		check(p.what, p.path, "main h1")
	}
	// The email as sent (the notice page's frame) is the golden emails' HTML: shared/notice's
	// TestGoldenEmailsAreAccessible checks those.

	var text string
	for _, m := range localstacktest.SentEmails(t) { // the demo's latest final notice to Riverside
		if m.Header("X-Sunset-Campaign") == id && m.Header("X-Sunset-Org") == "RX1" && m.Header("X-Sunset-Stage") == "final" {
			text = m.Body.Text
		}
	}
	for _, l := range []struct{ what, label string }{
		{"answer: changed", "We have changed these settings"},
		{"answer: not ours", "These accounts are not ours"},
		{"answer: more time", "We need more time"},
		{"status page", "Where things stand now, account by account (updated as new logs arrive)"},
	} {
		m := regexp.MustCompile(regexp.QuoteMeta(l.label) + `:\n(\S+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("the demo's final notice to Riverside has no %q link", l.label)
		}
		u, _ := url.Parse(m[1])
		check(l.what, u.Path, "main h1")
	}
	check("a link that is not valid", "/answer/fixed/not-a-token", "main h1")
}
