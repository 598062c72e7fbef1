package infra

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nhsmail-sunset/sunset/shared/preflight"
)

type resource struct {
	Type       string         `yaml:"Type"`
	Properties map[string]any `yaml:"Properties"`
	Metadata   map[string]any `yaml:"Metadata"`
}

func readTemplate(t *testing.T) (globals map[string]any, resources map[string]resource) {
	t.Helper()
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Transform string                    `yaml:"Transform"`
		Globals   map[string]map[string]any `yaml:"Globals"`
		Resources map[string]resource       `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if doc.Transform != "AWS::Serverless-2016-10-31" {
		t.Fatalf("Transform = %q, want AWS::Serverless-2016-10-31", doc.Transform)
	}
	return doc.Globals["Function"], doc.Resources
}

func TestGlobalsAreLambdaOnGraviton(t *testing.T) {
	g, _ := readTemplate(t)
	if g["Runtime"] != "provided.al2023" || g["Handler"] != "bootstrap" {
		t.Errorf("Globals.Function runtime/handler = %v/%v, want provided.al2023/bootstrap", g["Runtime"], g["Handler"])
	}
	if archs, _ := g["Architectures"].([]any); len(archs) != 1 || archs[0] != "arm64" {
		t.Errorf("Globals.Function.Architectures = %v, want [arm64]", g["Architectures"])
	}
}

// Every function's CodeUri is a folder holding a main package that builds as a Lambda bootstrap
// for linux/arm64, and each is built by SAM the same way; the ingest function, which scans
// logs, with the profile make pgo writes (default.pgo).
func TestEveryFunctionBuildsForArm64(t *testing.T) {
	_, res := readTemplate(t)
	n := 0
	for name, r := range res {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			uri, _ := r.Properties["CodeUri"].(string)
			if uri == "" {
				t.Fatal("no CodeUri")
			}
			if r.Metadata["BuildMethod"] != "go1.x" {
				t.Errorf("Metadata.BuildMethod = %v, want go1.x", r.Metadata["BuildMethod"])
			}
			dir := filepath.Join("..", uri)
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
				t.Fatalf("CodeUri %s: %v", uri, err)
			}
			list := exec.Command("go", "list", "-f", "{{.Name}}", ".")
			list.Dir = dir
			if b, err := list.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "main" {
				t.Fatalf("CodeUri %s is not a main package: %s %v", uri, b, err)
			}
			out := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.Command("go", "build", "-o", out, ".") // SAM's go1.x builder's command
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build %s for linux/arm64: %v\n%s", uri, err, b)
			}
			if strings.Contains(uri, "functions/ingest") { // the scanner's Lambda: built with the scans' profile (make pgo)
				if b, err := exec.Command("go", "version", "-m", out).CombinedOutput(); err != nil || !strings.Contains(string(b), "-pgo=") {
					t.Errorf("%s is built without a profile (default.pgo): %v\n%s", uri, err, b)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("template.yaml declares no functions")
	}
}

// The parameters a deployment cannot work without have no default to forget: sam deploy stops,
// naming them, until each environment gives them. Each has a pattern that takes the values the
// tests deploy with and refuses an empty one.
func TestParametersWithoutUnusableDefaults(t *testing.T) {
	c := loadCFN(t)
	for _, name := range []string{"SenderIdentity", "AlarmEmail", "AuthIssuer", "AuthAudience"} {
		p, ok := c.Parameters[name]
		if !ok {
			t.Errorf("no parameter %s", name)
			continue
		}
		if d, ok := p["Default"]; ok {
			t.Errorf("%s has a default (%v): a stack deployed without it would not work", name, d)
		}
		pattern, _ := p["AllowedPattern"].(string)
		re, err := regexp.Compile(pattern)
		if pattern == "" || err != nil {
			t.Errorf("%s: AllowedPattern %q: %v", name, pattern, err)
			continue
		}
		if v := requiredParameters[name]; !re.MatchString(v) || re.MatchString("") {
			t.Errorf("%s: AllowedPattern %q refuses the tests' %q or takes an empty value", name, pattern, v)
		}
	}
	re := regexp.MustCompile(c.Parameters["SenderIdentity"]["AllowedPattern"].(string))
	for v, want := range map[string]bool{"nhs.net": true, "noreply@nhs.net": true, "mail.example.nhs.net": true,
		"nhs": false, "noreply@": false, "a b.net": false, "https://nhs.net": false} {
		if re.MatchString(v) != want {
			t.Errorf("SenderIdentity %q: accepted %v, want %v", v, !want, want)
		}
	}
	for k := range c.Parameters {
		if _, ok := c.Parameters[k]["Default"]; !ok && requiredParameters[k] == "" {
			t.Errorf("parameter %s has no default and no value in requiredParameters", k)
		}
	}
}

// samconfig.toml: every environment builds without SAM's cache (it hashes only CodeUri, and the
// code is in shared/), and overrides only parameters the template has.
func TestSamconfigBuildsFreshAndNamesRealParameters(t *testing.T) {
	f, err := os.Open("../samconfig.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := loadCFN(t)
	section, envs, builds := "", map[string]bool{}, map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			envs[strings.SplitN(section, ".", 2)[0]] = true
			continue
		}
		key, value, ok := strings.Cut(line, " = ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(section, ".build.parameters") && key == "cached" {
			builds[strings.SplitN(section, ".", 2)[0]] = value
		}
		if key == "parameter_overrides" {
			for _, kv := range strings.Fields(strings.Trim(value, `"`)) {
				name, _, _ := strings.Cut(kv, "=")
				if _, ok := c.Parameters[name]; !ok {
					t.Errorf("[%s] overrides %s, which template.yaml does not have", section, name)
				}
			}
		}
	}
	if len(envs) == 0 {
		t.Fatal("samconfig.toml has no environments")
	}
	for _, env := range slices.Sorted(maps.Keys(envs)) {
		if builds[env] != "false" {
			t.Errorf("[%s.build.parameters] cached = %q, want false: SAM's cache would deploy stale shared/ code", env, builds[env])
		}
	}
}

// What holds the campaign's state and evidence survives a stack deleted or a resource replaced
// by mistake: the table (with deletion protection too), the bucket, the topics' key, every queue.
func TestStatefulResourcesAreRetained(t *testing.T) {
	c := loadCFN(t)
	stateful := []string{"Table", "LogBucket", "TopicKey"}
	for name := range c.ofType("AWS::SQS::Queue") {
		stateful = append(stateful, name)
	}
	for _, name := range stateful {
		r, ok := c.Resources[name]
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if r.DeletionPolicy != "Retain" || r.UpdateReplacePolicy != "Retain" {
			t.Errorf("%s: DeletionPolicy %q, UpdateReplacePolicy %q, want Retain for both", name, r.DeletionPolicy, r.UpdateReplacePolicy)
		}
	}
	if c.Resources["Table"].Properties["DeletionProtectionEnabled"] != true {
		t.Error("the table has no deletion protection")
	}
}

// Each queue that feeds a function keeps a message invisible for at least six times the
// function's timeout (AWS's advice: a batch retried inside one timeout is not received twice),
// and a function's reserved concurrency is at least its event source's MaximumConcurrency (fewer
// throttles the poller by design).
func TestQueuesFitTheirFunctions(t *testing.T) {
	c := loadCFN(t)
	globalTimeout, _ := c.Globals["Timeout"].(int)
	n := 0
	for name, f := range c.ofType("AWS::Serverless::Function") {
		timeout, ok := f.Properties["Timeout"].(int)
		if !ok {
			timeout = globalTimeout
		}
		for _, ev := range asMap(f.Properties["Events"]) {
			ev := asMap(ev)
			if ev["Type"] != "SQS" {
				continue
			}
			n++
			props := asMap(ev["Properties"])
			queue := getAttOf(props["Queue"])
			vis, _ := c.Resources[queue].Properties["VisibilityTimeout"].(int)
			if vis < 6*timeout {
				t.Errorf("%s: %s's VisibilityTimeout %d s is under 6 x the %d s timeout", name, queue, vis, timeout)
			}
			maxc, ok := asMap(props["ScalingConfig"])["MaximumConcurrency"].(int)
			reserved, hasReserved := f.Properties["ReservedConcurrentExecutions"].(int)
			if ok && hasReserved && reserved < maxc {
				t.Errorf("%s: reserved concurrency %d under its queue's MaximumConcurrency %d", name, reserved, maxc)
			}
		}
	}
	if n == 0 {
		t.Fatal("no SQS event sources")
	}
}

// Raw log files (personal data, needed only until ingested) expire from logs/ after
// RawLogRetentionDays, staged findings (needed only until the hourly merge) from staging/
// after 14 days; the directory files, replaced in place, are not expired.
func TestRawLogsExpire(t *testing.T) {
	c := loadCFN(t)
	found, staged := false, false
	for _, r := range asList(asMap(c.Resources["LogBucket"].Properties["LifecycleConfiguration"])["Rules"]) {
		r := asMap(r)
		if r["Prefix"] == "logs/" && r["Status"] == "Enabled" && refTo(r["ExpirationInDays"], "RawLogRetentionDays") {
			found = true
		}
		if r["Prefix"] == "staging/" && fmt.Sprint(r["ExpirationInDays"]) == "14" {
			staged = true
			continue
		}
		if _, ok := r["ExpirationInDays"]; ok && r["Prefix"] != "logs/" {
			t.Errorf("lifecycle rule %v expires objects outside logs/ and staging/", r["Id"])
		}
	}
	if !found {
		t.Error("no lifecycle rule expires logs/ after RawLogRetentionDays")
	}
	if !staged {
		t.Error("no lifecycle rule expires staging/ after 14 days")
	}
}

// The console's address without its slash is routed (to the API function, which redirects it).
func TestConsoleAddressIsRouted(t *testing.T) {
	c := loadCFN(t)
	routes := map[string]bool{}
	for _, ev := range asMap(c.Resources["ApiFunction"].Properties["Events"]) {
		p := asMap(asMap(ev)["Properties"])
		routes[fmt.Sprint(p["Method"], " ", p["Path"])] = true
	}
	for _, want := range []string{"GET /", "GET /console", "ANY /console/{proxy+}"} {
		if !routes[want] {
			t.Errorf("no route %s (routes: %v)", want, routes)
		}
	}
}

// sunset preflight checks the account's Lambda concurrency against what the stack reserves.
func TestPreflightKnowsTheReservedConcurrency(t *testing.T) {
	c := loadCFN(t)
	sum := 0
	for _, f := range c.ofType("AWS::Serverless::Function") {
		n, _ := f.Properties["ReservedConcurrentExecutions"].(int)
		sum += n
	}
	if sum != preflight.Reserved {
		t.Errorf("the functions reserve %d; preflight.Reserved is %d", sum, preflight.Reserved)
	}
}
