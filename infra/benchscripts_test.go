package infra

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
)

// The benchmark scripts that measure against the local stack run at a small size in make
// test, so a change that breaks one is seen at once and not the next time someone measures
// (console.sh's console phase once failed on the local console's loopback check unnoticed).
// Each prints the line its figures are read from.
func TestBenchScriptsRunSmall(t *testing.T) {
	localstacktest.DynamoDB(t) // the local stack, or a skip that says so
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		script string
		env    []string
		want   []string
	}{
		{"console.sh", []string{"AFFECTED=12", "PER_ORG=2", "DAYS=1", "RUNS=1", "REPORT_RUNS=1"},
			[]string{"| `GET /console/campaigns/bench-console` |", "| `GET /api/campaigns/bench-console/plan?at="}},
		{"capacity.sh", []string{"SERVERS=2", "HOURS=2", "ACCOUNTS=10", "ALB_NODES=1", "ALB_IPS=5"},
			[]string{"first hour a key, table + index:", "survey of the day: 10 accounts"}},
		{"plan.sh", []string{"AFFECTED=3", "ORGS=10", "RUNS=1"},
			[]string{"runs (RunLean: claims and hands over every due notice):", "| 10 | 30 | 3000 | 10 |"}},
	} {
		t.Run(c.script, func(t *testing.T) {
			cmd := exec.Command("bash", filepath.Join("infra", "bench", c.script))
			cmd.Dir = root
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.script, err, out)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("%s printed no %q:\n%s", c.script, w, out)
				}
			}
		})
	}
}
