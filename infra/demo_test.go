package infra

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// `make demo` works on a clean table and is a no-op the second time: the first run sends the
// seven notices of the README's story (advance to three organisations, two reminders ... one
// retirement), the second sends none and the report still lists seven sent. It runs the real
// script on a table of its own (DEMO_TABLE), so it sees no other test's items.
func TestMakeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo")
	}
	_, table := localstacktest.DynamoDB(t)
	localstacktest.SES(t)
	run := func() string {
		t.Helper()
		cmd := exec.Command("bash", "demo/demo.sh")
		cmd.Env = append(os.Environ(), "DEMO_TABLE="+table, "DEMO_CONSOLE=no")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo.sh: %v\n%s", err, out)
		}
		return string(out)
	}
	sent := regexp.MustCompile(`(?m)^  SENT +(\S+) .*\s(advance|reminder|final|retired) `)
	first := run()
	var got []string
	for _, m := range sent.FindAllStringSubmatch(first, -1) {
		got = append(got, m[1]+" "+m[2])
	}
	want := []string{"RTH advance", "RX1 advance", "Y0123 advance", "RX1 reminder", "Y0123 reminder", "RX1 final", "RX1 retired"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("first run sent %q, want %q\n%s", got, want, first)
	}
	for _, s := range []string{"skipped  RTH", "Thameside", "it.support@federation.example.nhs.net (merged)",
		"one email for 2 organisations: RTH, Y0123", "Campaign demo-legacy-hostnames-2021: 7 notices (7 sent, 0 claimed, 0 failed, 0 suppressed)",
		"Read every email in the SES viewer: http://127.0.0.1:8005"} {
		if !strings.Contains(first, s) {
			t.Errorf("first run does not say %q\n%s", s, first)
		}
	}
	second := run()
	if m := sent.FindAllString(second, -1); len(m) != 0 {
		t.Errorf("second run sent %q, want nothing\n%s", m, second)
	}
	if !strings.Contains(second, "7 notices (7 sent") || !strings.Contains(second, "already ingested") {
		t.Errorf("second run:\n%s", second)
	}
	t.Run("the console in a browser", func(t *testing.T) { consoleInBrowser(t, table) })
	t.Run("every page is accessible", func(t *testing.T) { everyPageAccessible(t, table) })
}
