package docs

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/metrics"
	"github.com/nhsmail-sunset/sunset/shared/planner"
)

// page is one Markdown page of the repository.
type page struct {
	name string // as linked, e.g. "docs/cli.md"
	text string
}

func pages(t *testing.T) []page {
	t.Helper()
	names := []string{"README.md"}
	md, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range md {
		names = append(names, "docs/"+m)
	}
	var out []page
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("..", n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page{n, string(b)})
	}
	return out
}

// block is a fenced code block: its info string and lines.
type block struct {
	info  string
	lines []string
}

func blocks(text string) []block {
	var out []block
	var cur *block
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "```") {
			if cur == nil {
				cur = &block{info: strings.TrimPrefix(l, "```")}
			} else {
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, l)
		}
	}
	return out
}

// command is a shell line without its comment.
func command(l string) string {
	if i := strings.Index(l, " #"); i >= 0 {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

// runElsewhere are the commands the pages show in shell blocks that this test does not run
// itself, each with what runs or checks it instead.
var runElsewhere = map[string]string{
	"make demo":                       "infra/demo_test.go runs the demo script twice, on a table of its own",
	"make test":                       "CI runs it (.ci/run): it is what runs this test",
	"sam build":                       "needs SAM: infra/template_test.go builds every function for arm64 as SAM's go1.x build does",
	"sam deploy --config-env staging": "needs an AWS account: cfn-lint (make lint) and infra/*_test.go check the template it deploys",
	"make sam-build":                  "needs SAM: infra/runtime_test.go builds every function with SAM's command and CGO_ENABLED=0, and checks each binary static",
	"sam deploy --config-env staging --parameter-overrides EnvironmentName=staging SenderIdentity=example.nhs.net AlarmEmail=sunset-alarms@example.nhs.net AuthIssuer=https://login.microsoftonline.com/TENANT/v2.0 AuthAudience=CLIENT_ID": "needs an AWS account: infra/template_test.go checks these are the parameters without a default, and their patterns take these values",
}

// buildSunset builds the CLI once for the tests of this package.
func buildSunset(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sunset")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sunset")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sunset: %v\n%s", err, out)
	}
	return bin
}

// Every shell block's commands run: the `sunset` lines of each page in order, on a table of
// their own, from a directory where the repository's infra/ is at hand (so relative paths in
// the examples resolve and files they write stay out of the repository); each must succeed. The
// commands this test cannot run are listed in runElsewhere with what runs them instead.
func TestShellBlocksRun(t *testing.T) {
	var sunsetLines []string
	var pageOf []string
	for _, p := range pages(t) {
		for _, b := range blocks(p.text) {
			if b.info != "sh" {
				continue
			}
			for _, l := range b.lines {
				c := command(l)
				switch {
				case c == "":
				case strings.HasPrefix(c, "sunset "):
					sunsetLines = append(sunsetLines, c)
					pageOf = append(pageOf, p.name)
				case runElsewhere[c] != "":
				default:
					t.Errorf("%s: shell line %q is neither run here nor listed in runElsewhere", p.name, c)
				}
			}
		}
	}
	if len(sunsetLines) == 0 {
		t.Fatal("no sunset command in any shell block")
	}
	bin := buildSunset(t)
	_, table := localstacktest.DynamoDB(t)
	localstacktest.SES(t)
	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(repo, "infra"), filepath.Join(dir, "infra")); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "SUNSET_LOCAL=1", "SUNSET_TABLE="+table, "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for i, c := range sunsetLines {
		cmd := exec.Command("bash", "-c", c)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %s: %v\n%s", pageOf[i], c, err, out)
		}
	}
}

// flagsOf lists the flags `sunset ARGS... --help` prints.
func flagsOf(t *testing.T, bin string, args ...string) []string {
	t.Helper()
	out, _ := exec.Command(bin, append(args, "--help")...).CombinedOutput()
	var flags []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	re := regexp.MustCompile(`^  -([a-z][a-z-]*)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			flags = append(flags, m[1])
		}
	}
	return flags
}

// Every `sunset ...` the pages mention in code (spans, tables, blocks) names a real command
// (and subcommand) and only flags it has; every `make TARGET` names a real target.
func TestMentionedCommandsExist(t *testing.T) {
	bin := buildSunset(t)
	usage, _ := exec.Command(bin, "--help").CombinedOutput()
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	span := regexp.MustCompile("`([^`\n]+)`")
	flag := regexp.MustCompile(`--([a-z][a-z-]*)`)
	cache := map[string][]string{}
	checked := 0
	for _, p := range pages(t) {
		var mentions []string
		for _, m := range span.FindAllStringSubmatch(p.text, -1) {
			mentions = append(mentions, m[1])
		}
		for _, b := range blocks(p.text) {
			if b.info == "sh" {
				for _, l := range b.lines {
					mentions = append(mentions, command(l))
				}
			}
		}
		for _, m := range mentions {
			m = strings.ReplaceAll(m, `\|`, "|")
			fields := strings.Fields(m)
			switch {
			case len(fields) >= 2 && fields[0] == "make":
				if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(fields[1]) + `:`).Match(makefile) {
					t.Errorf("%s: `%s`: the Makefile has no target %s", p.name, m, fields[1])
				}
				checked++
			case len(fields) >= 2 && fields[0] == "sunset" && fields[1] != strings.ToUpper(fields[1]): // not a placeholder
				name := fields[1]
				if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(name) + ` `).Match(usage) {
					t.Errorf("%s: `%s`: sunset has no command %s", p.name, m, name)
					continue
				}
				subs := []string{""}
				if (name == "campaign" || name == "directory" || name == "dlq" || name == "dispute" || name == "extension") && len(fields) >= 3 {
					subs = strings.Split(fields[2], "|")
				}
				for _, sub := range subs {
					key := strings.TrimSpace(name + " " + sub)
					if _, ok := cache[key]; !ok {
						cache[key] = flagsOf(t, bin, strings.Fields(key)...)
					}
					for _, f := range flag.FindAllStringSubmatch(m, -1) {
						if f[1] != "help" && !slices.Contains(cache[key], f[1]) {
							t.Errorf("%s: `%s`: sunset %s has no flag --%s (it has %v)", p.name, m, key, f[1], cache[key])
						}
					}
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d commands mentioned: the scan of the pages is broken", checked)
	}
}

// The campaign-file page's example is a valid campaign, and its key table names every key of
// the Campaign type.
func TestCampaignFilePage(t *testing.T) {
	b, err := os.ReadFile("campaign-file.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var example string
	for _, bl := range blocks(text) {
		if bl.info == "yaml" {
			example = strings.Join(bl.lines, "\n")
		}
	}
	if example == "" {
		t.Fatal("no yaml example")
	}
	if _, err := campaign.Parse([]byte(example), "campaign-file.md"); err != nil {
		t.Errorf("the example is not a valid campaign: %v", err)
	}
	for _, key := range yamlKeys(reflect.TypeFor[campaign.Campaign]()) {
		if !strings.Contains(text, "`"+key+"`") && !strings.Contains(text, "`"+key+".") && !strings.Contains(text, "`"+key+"[]") {
			t.Errorf("campaign-file.md does not document the key %s", key)
		}
	}
}

// yamlKeys are the top-level keys of a YAML-decoded struct type.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	return out
}

// The skip reasons the CLI page lists are the planner's, in its order.
func TestSkipReasonsPage(t *testing.T) {
	b, err := os.ReadFile("cli.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| ")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		listed = append(listed, m[1])
	}
	var want []string
	for _, r := range planner.SkipReasons {
		want = append(want, string(r))
	}
	if !slices.Equal(listed, want) {
		t.Errorf("cli.md lists skip reasons %q, the planner has %q", listed, want)
	}
}

// Every SUNSET_ variable template.yaml sets is in the operations page's table.
func TestConfigurationPage(t *testing.T) {
	tmpl, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := regexp.MustCompile(`\b(SUNSET_[A-Z_]+):`).FindAllStringSubmatch(string(tmpl), -1)
	if len(vars) == 0 {
		t.Fatal("template.yaml sets no SUNSET_ variable")
	}
	for _, v := range vars {
		if !strings.Contains(string(ops), "| `"+v[1]+"` |") {
			t.Errorf("operations.md does not document %s", v[1])
		}
	}
}

// The operations page documents every metric the functions emit and every alarm of the
// template (the runbook row a person paged for it reads).
func TestOperationsPageCoversMetricsAndAlarms(t *testing.T) {
	b, err := os.ReadFile("operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, n := range metrics.Names {
		if !strings.Contains(text, "`"+string(n)+"`") {
			t.Errorf("operations.md does not document the metric %s", n)
		}
	}
	tmpl, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alarms := regexp.MustCompile(`(?m)^  ([A-Za-z]+Alarm):\n    Type: AWS::CloudWatch::Alarm`).FindAllStringSubmatch(string(tmpl), -1)
	if len(alarms) == 0 {
		t.Fatal("no alarms found in template.yaml")
	}
	perFunction := regexp.MustCompile(`^(Ingest|Directory|Planner|Sender|Feedback|Api)(Errors|Throttles)Alarm$`)
	for _, a := range alarms {
		name := a[1]
		if m := perFunction.FindStringSubmatch(name); m != nil {
			name = "<Function>" + m[2] + "Alarm"
		}
		if !strings.Contains(text, "`"+name+"`") {
			t.Errorf("operations.md has no runbook entry for %s", a[1])
		}
	}
}

// console.md's route table lists exactly the JSON API's routes (shared/api/routes.go), each
// with the role the code asks for.
func TestConsoleRoutesDocumented(t *testing.T) {
	src, err := os.ReadFile("../shared/api/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("console.md")
	if err != nil {
		t.Fatal(err)
	}
	code := map[string]string{}
	for _, m := range regexp.MustCompile(`HandleFunc\("((?:GET|POST) /api/[^"]+)", s\.api\((Viewer|Operator),`).FindAllStringSubmatch(string(src), -1) {
		code[m[1]] = strings.ToLower(m[2])
	}
	if len(code) < 15 {
		t.Fatalf("found %d API routes in routes.go: the pattern is out of date", len(code))
	}
	doc := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `((?:GET|POST) /api/[^`]+)` \\| (viewer|operator) \\|").FindAllStringSubmatch(string(page), -1) {
		doc[m[1]] = m[2]
	}
	for r, role := range code {
		if doc[r] != role {
			t.Errorf("console.md: route %s is documented with role %q; the code asks for %q", r, doc[r], role)
		}
	}
	for r := range doc {
		if _, ok := code[r]; !ok {
			t.Errorf("console.md documents %s, which routes.go does not serve", r)
		}
	}
}
