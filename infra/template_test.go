package infra

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, ".")
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
