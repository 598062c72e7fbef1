package infra

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/chromedp"

	"github.com/nhsmail-sunset/sunset/shared/browsertest"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// serveConsole starts `sunset serve --local` (the binary the demo built) on table, on a free
// port, and returns its base URL; it is stopped when the test ends.
func serveConsole(t *testing.T, table string) string {
	t.Helper()
	cmd := exec.Command("../.demo/sunset", "serve", "--local", "--addr", "127.0.0.1:0", "--at", "2021-09-07") // as make demo runs it
	cmd.Env = os.Environ()
	for _, kv := range localstack.Env() {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	cmd.Env = append(cmd.Env, "SUNSET_TABLE="+table, "SUNSET_LOCAL=1") // after the stack's own: the last of a name wins
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`console at (http://\S+)/console/`).FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("sunset serve said %q (%v)", line, err)
	}
	return m[1]
}

// consoleInBrowser opens the console of the demo's data in Chromium as its users would: sign
// in as a viewer, open the campaign (its chart and its organisations), an organisation, a sent
// email; be refused a pause; sign in again as an operator, pause and resume through the
// confirmation pages; move through the page with the keyboard.
func consoleInBrowser(t *testing.T, table string) {
	base := serveConsole(t, table)
	ctx := browsertest.New(t, 90*time.Second)
	const id = "demo-legacy-hostnames-2021"
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	signIn := func(name, role string) {
		t.Helper()
		do("sign in as "+role,
			chromedp.WaitVisible(chromedp.CSS("input#name")),
			chromedp.SendKeys(chromedp.CSS("input#name"), name),
			chromedp.Click(chromedp.CSS(`input[name=role][value=`+role+`]`)),
			chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`header form[action="/auth/signout"]`)))
	}

	do("open the console", chromedp.Navigate(base+"/console/"))
	if h := text("h1"); !strings.Contains(h, "Sign in") {
		t.Fatalf("without a session the console shows %q, not the sign-in", h)
	}
	signIn("Vera Viewer", "viewer")
	if h := text("h1"); h != "Campaigns" {
		t.Fatalf("after sign-in: %q", h)
	}
	do("open the campaign", chromedp.Click(chromedp.CSS(`a[href="/console/campaigns/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg[role=img]`)))
	chart := text(`figure.chart`)
	for _, s := range []string{"Affected organisations", "Affected accounts", "Shutdown", "07 September 2021", "advance"} {
		if !strings.Contains(chart, s) {
			t.Errorf("the chart does not show %q", s)
		}
	}
	orgs := text(`#organisations + .wide table`)
	for _, s := range []string{"Riverside Teaching Hospitals NHS Foundation Trust", "Thameside Community Healthcare NHS Trust", "Meadowbank Surgery"} {
		if !strings.Contains(orgs, s) {
			t.Errorf("the organisations table does not list %q:\n%s", s, orgs)
		}
	}
	do("open an organisation", chromedp.Click(chromedp.CSS(`a[href="/console/campaigns/`+id+`/orgs/RX1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#notices`)))
	if acc := text(`#accounts + p + .wide table`); !strings.Contains(acc, "ward7.scanner@nhs.net") {
		t.Errorf("the organisation's accounts:\n%s", acc)
	}
	do("open its final email", chromedp.Click(chromedp.CSS(`a[href="/console/campaigns/`+id+`/orgs/RX1/notices/final"]`)),
		chromedp.WaitVisible(chromedp.CSS(`iframe.email`)))
	if s := text(`main`); !strings.Contains(s, "exactly as sent") || !strings.Contains(s, "Final reminder") {
		t.Errorf("the email page:\n%s", s)
	}
	do("open the merged emails", chromedp.Navigate(base+"/console/campaigns/"+id+"/mails"), chromedp.WaitVisible(chromedp.CSS(`main table`)))
	if s := text(`main table`); !strings.Contains(s, "it.support@federation.example.nhs.net") || !strings.Contains(s, "RTH, Y0123") || !strings.Contains(s, "sent") {
		t.Errorf("the merged emails:\n%s", s)
	}
	do("open the federation's merged email", chromedp.Click(chromedp.CSS(`main table a[href*="/mails/"]`)), chromedp.WaitVisible(chromedp.CSS(`iframe.email`)))
	if s := text(`main`); !strings.Contains(s, "exactly as sent") || !strings.Contains(s, "2 organisations") {
		t.Errorf("the merged email's page:\n%s", s)
	}
	do("ask to pause as a viewer", chromedp.Navigate(base+"/console/campaigns/"+id+"/pause"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if s := text("main"); !strings.Contains(s, "Your roles do not allow this") {
		t.Errorf("a viewer asking to pause sees:\n%s", s)
	}

	do("sign out", chromedp.Click(chromedp.CSS(`header button`)), chromedp.WaitVisible(chromedp.CSS(`a[href^="/auth/signin"]`)))
	do("sign in again", chromedp.Click(chromedp.CSS(`a[href^="/auth/signin"]`)))
	signIn("Ada Operator", "operator")
	do("open the campaign", chromedp.Navigate(base+"/console/campaigns/"+id), chromedp.WaitVisible(chromedp.CSS(`a[href$="/pause"]`)))
	do("pause", chromedp.Click(chromedp.CSS(`a[href$="/pause"]`)), chromedp.WaitVisible(chromedp.CSS(`main form button`)))
	if h := text("h1"); h != "Pause "+id+"?" {
		t.Errorf("the confirmation asks %q", h)
	}
	do("confirm", chromedp.Click(chromedp.CSS(`main form button`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if s := text(".flash"); !strings.Contains(s, "paused") {
		t.Errorf("after the pause: %q", s)
	}
	do("resume", chromedp.Click(chromedp.CSS(`a[href$="/resume"]`)), chromedp.WaitVisible(chromedp.CSS(`main form button`)),
		chromedp.Click(chromedp.CSS(`main form button`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if s := text(".flash"); !strings.Contains(s, "active again") {
		t.Errorf("after the resume: %q", s)
	}
	if s := text("#history + .wide table"); !strings.Contains(s, "Ada Operator [local:Ada Operator]") || !strings.Contains(s, "status: active → paused") {
		t.Errorf("the history does not record who paused:\n%s", s)
	}

	// A notice SES rejected after all (its Reject event marks it failed), sent again from its
	// page: the reason, the confirmation naming the error, the flash.
	db := dynamodb.NewFromConfig(localstacktest.Config(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(localstack.Endpoint("dynamodb")) })
	if err := ledger.New(db, table, time.Now).MarkRejected(context.Background(), id, "RX1", "final"); err != nil {
		t.Fatal(err)
	}
	do("open the failed notice", chromedp.Navigate(base+"/console/campaigns/"+id+"/orgs/RX1/notices/final"), chromedp.WaitVisible(chromedp.CSS(`#reason`)))
	do("say why it can go now", chromedp.SendKeys(chromedp.CSS(`#reason`), "the address is corrected"),
		chromedp.Click(chromedp.CSS(`form[action$="/resend"] button`)), chromedp.WaitNotPresent(chromedp.CSS(`#reason`)),
		chromedp.WaitVisible(chromedp.CSS(`main form button`)))
	if s := text("main"); !strings.Contains(s, "It failed: ") || !strings.Contains(s, "the address is corrected") {
		t.Errorf("the resend's confirmation:\n%s", s)
	}
	do("send it again", chromedp.Click(chromedp.CSS(`main form button`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	if s := text(".flash"); !strings.Contains(s, "handed to the sender") {
		t.Errorf("after the resend: %q", s)
	}
	if s := text("main"); !strings.Contains(s, "Sent again") || !strings.Contains(s, "Ada Operator") {
		t.Errorf("the notice page does not record the resend:\n%s", s)
	}

	answerInBrowser(t, ctx, base, id)

	// The keyboard: the first Tab reaches the skip link, and following it lands on the main content.
	var active string
	do("tab", chromedp.KeyEvent("\t"))
	active, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.className + ":" + document.activeElement.getAttribute("href")`))
	if err != nil || active != "skip:#main" {
		t.Errorf("the first Tab focuses %q (%v), want the skip link", active, err)
	}
}

// answerInBrowser follows the three links of a notice the demo sent, as its recipient would:
// each page, a choice, the button, the confirmation; then the team sees the answers in the
// console.
func answerInBrowser(t *testing.T, ctx context.Context, base, id string) {
	t.Helper()
	var text string
	for _, m := range localstacktest.SentEmails(t) { // the latest of the demo's final notices to Riverside
		if m.Header("X-Sunset-Campaign") == id && m.Header("X-Sunset-Org") == "RX1" && m.Header("X-Sunset-Stage") == "final" {
			text = m.Body.Text
		}
	}
	link := func(label string) string {
		t.Helper()
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `:\n(\S+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("the demo's final notice to Riverside has no %q link:\n%s", label, text)
		}
		u, _ := url.Parse(m[1])
		return base + u.Path // the demo's console address is not this test's
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	done := func(what string) {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		if err != nil || !strings.Contains(s, "Thank you") || !strings.Contains(s, "recorded") {
			t.Errorf("%s: the confirmation says %q (%v)", what, s, err)
		}
	}
	first := chromedp.Click(chromedp.CSS(`input[name=by]`))
	submit := chromedp.Click(chromedp.CSS(`main form button`))
	thanks := chromedp.WaitVisible(chromedp.CSS(`.done`))
	do("we have changed these settings", chromedp.Navigate(link("We have changed these settings")), first,
		chromedp.SendKeys(chromedp.CSS("#note"), "the theatre printer is moved"), submit, thanks)
	done("fixed")
	do("these accounts are not ours", chromedp.Navigate(link("These accounts are not ours")), first,
		chromedp.Click(chromedp.CSS(`input[name=account]`)), submit, thanks)
	done("not ours")
	do("we need more time", chromedp.Navigate(link("We need more time")), first,
		chromedp.SetValue(chromedp.CSS("#until"), "2021-10-01"), chromedp.SendKeys(chromedp.CSS("#note"), "supplier visit on 30 September"), submit, thanks)
	done("more time")
	do("the team's view", chromedp.Navigate(base+"/console/campaigns/"+id+"/answers"), chromedp.WaitVisible(chromedp.CSS("#disputes")))
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	for _, want := range []string{"theatres.printer", "01 October 2021", "supplier visit on 30 September", "the theatre printer is moved", "Reassign"} {
		if err != nil || !strings.Contains(s, want) {
			t.Errorf("the console's answers page does not show %q (%v)", want, err)
		}
	}
}
