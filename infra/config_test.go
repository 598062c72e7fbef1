package infra

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/directory"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/lambdaenv"
	"github.com/nhsmail-sunset/sunset/shared/planner"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

// loadConfig is, for each function of template.yaml, the LoadConfig its main calls.
var loadConfig = map[string]func(getenv func(string) string) error{
	"IngestFunction":    func(g func(string) string) error { _, err := ingest.LoadConfig(g); return err },
	"DirectoryFunction": func(g func(string) string) error { _, err := directory.LoadConfig(g); return err },
	"PlannerFunction":   func(g func(string) string) error { _, err := planner.LoadConfig(g); return err },
	"SenderFunction":    func(g func(string) string) error { _, err := sender.LoadConfig(g); return err },
	"FeedbackFunction":  func(g func(string) string) error { _, err := feedback.LoadConfig(g); return err },
	"ApiFunction":       func(g func(string) string) error { _, err := api.LoadConfig(g); return err },
}

// functionEnv is the environment template.yaml gives a function: Globals, then its own. A
// reference to a parameter reads as the parameter's default; one to a resource reads as the
// resource's name, which is enough to be "set".
func functionEnv(t *testing.T, function string) map[string]string {
	t.Helper()
	c := loadCFN(t)
	env := map[string]string{}
	for k, v := range functionEnvRaw(c, function) {
		env[k] = templateValue(c, v, nil)
	}
	return env
}

// The template's environment and each function's Config agree: with exactly the template's
// variables the Config loads; every variable the template sets is one the Config reads; and
// taking away any variable the Config requires is refused with an error naming it.
func TestTemplateEnvironmentMatchesEachConfig(t *testing.T) {
	_, res := readTemplate(t)
	functions := 0
	for name, r := range res {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		functions++
		t.Run(name, func(t *testing.T) {
			load, ok := loadConfig[name]
			if !ok {
				t.Fatalf("no LoadConfig listed for %s in loadConfig", name)
			}
			env := functionEnv(t, name)
			read := map[string]bool{}
			if err := load(func(k string) string { read[k] = true; return env[k] }); err != nil {
				t.Fatalf("Config refuses the template's environment: %v", err)
			}
			for _, k := range slices.Sorted(maps.Keys(env)) {
				if !read[k] {
					t.Errorf("template.yaml sets %s, which the function's Config never reads", k)
				}
				without := maps.Clone(env)
				delete(without, k)
				err := load(func(k string) string { return without[k] })
				var ce *lambdaenv.Error
				if err != nil && (!errors.As(err, &ce) || !slices.Contains(ce.Variables, k)) {
					t.Errorf("without %s: error %v does not name it", k, err)
				}
			}
		})
	}
	if functions == 0 {
		t.Fatal("template.yaml declares no functions")
	}
	for name := range loadConfig {
		if res[name].Type != "AWS::Serverless::Function" {
			t.Errorf("loadConfig lists %s, which template.yaml does not declare as a function", name)
		}
	}
}

// A function whose environment is missing refuses to start: it exits with status 1 at init and
// says why in one JSON log line that names every missing variable (the Lambda service shows
// init failures; a function that started anyway would fail on its first event instead).
func TestFunctionsExitAtInitNamingTheMissingVariables(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every function")
	}
	_, res := readTemplate(t)
	bins := bootstraps(t)
	for name, r := range res {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			exe := bins[name]
			var required []string
			env := functionEnv(t, name)
			for k := range env {
				without := maps.Clone(env)
				delete(without, k)
				if loadConfig[name](func(k string) string { return without[k] }) != nil {
					required = append(required, k)
				}
			}
			slices.Sort(required)
			if len(required) == 0 {
				t.Fatal("the function requires no variable: nothing to take away")
			}
			cmd := exec.Command(exe)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "AWS_REGION=eu-west-2"}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit = %v, want status 1; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("stderr has %d lines, want one JSON line:\n%s", len(lines), stderr.String())
			}
			var rec struct {
				Level     string   `json:"level"`
				Msg       string   `json:"msg"`
				Function  string   `json:"function"`
				Variables []string `json:"variables"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatalf("stderr is not JSON: %v\n%s", err, lines[0])
			}
			slices.Sort(rec.Variables)
			if rec.Level != "ERROR" || !strings.EqualFold(rec.Function+"Function", name) || !slices.Equal(rec.Variables, required) {
				t.Errorf("log line %s: want level ERROR, function %s, variables %v", lines[0], name, required)
			}
		})
	}
}
