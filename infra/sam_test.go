package infra

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// samTransform is what `sam deploy` hands CloudFormation, made by the SAM translator itself:
// each function's CodeUri replaced by its uploaded S3 object (as sam package does), then the
// AWS::Serverless-2016-10-31 transform with the deployment's parameters.
const samTransform = `
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    def load(self):
        return {}

with open(sys.argv[1]) as f:
    tpl = yaml_parse(f.read())
for name, r in tpl["Resources"].items():
    if r["Type"] == "AWS::Serverless::Function":
        r["Properties"]["CodeUri"] = "s3://sunset-artifacts/" + name + ".zip"
json.dump(transform(tpl, json.loads(sys.argv[2]), NoManagedPolicies()), sys.stdout)
`

// The template goes through the SAM translator (the transform sam deploy relies on) with the
// parameters a deployment gives, and what comes out is what the tests of template.yaml assume:
// arm64 bootstraps on provided.al2023 with their reserved concurrency, each queue's event
// source within it, the console's routes with and without the slash, state retained.
func TestSAMTransform(t *testing.T) {
	if exec.Command("python3", "-c", "import samtranslator").Run() != nil {
		t.Skip("the SAM translator is not installed (pip install aws-sam-translator): the transform is not checked")
	}
	params, _ := json.Marshal(requiredParameters)
	cmd := exec.Command("python3", "-c", samTransform, "../template.yaml", string(params))
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=eu-west-2")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the SAM transform: %v", err)
	}
	var doc struct {
		Resources map[string]struct {
			Type           string
			DeletionPolicy string
			Properties     map[string]any
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	reserved := map[string]float64{}
	functions := 0
	for name, r := range doc.Resources {
		switch r.Type {
		case "AWS::Lambda::Function":
			functions++
			p := r.Properties
			if p["Runtime"] != "provided.al2023" || p["Handler"] != "bootstrap" || len(asList(p["Architectures"])) != 1 || asList(p["Architectures"])[0] != "arm64" {
				t.Errorf("%s: %v %v %v", name, p["Runtime"], p["Handler"], p["Architectures"])
			}
			reserved[name], _ = p["ReservedConcurrentExecutions"].(float64)
		case "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket", "AWS::KMS::Key":
			if r.DeletionPolicy != "Retain" {
				t.Errorf("%s (%s) is not retained after the transform", name, r.Type)
			}
		case "AWS::ApiGatewayV2::Api":
			paths := asMap(asMap(r.Properties["Body"])["paths"])
			for path, method := range map[string]string{"/": "get", "/console": "get", "/console/{proxy+}": "x-amazon-apigateway-any-method",
				"/api/{proxy+}": "x-amazon-apigateway-any-method", "/answer/{proxy+}": "x-amazon-apigateway-any-method", "/auth/{proxy+}": "x-amazon-apigateway-any-method"} {
				if _, ok := asMap(paths[path])[method]; !ok {
					t.Errorf("the HTTP API has no %s %s", method, path)
				}
			}
		}
	}
	if functions != 6 {
		t.Errorf("%d functions after the transform, want 6", functions)
	}
	for name, r := range doc.Resources {
		if r.Type != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		fn, _ := asMap(r.Properties["FunctionName"])["Ref"].(string)
		maxc, _ := asMap(r.Properties["ScalingConfig"])["MaximumConcurrency"].(float64)
		if maxc > 0 && reserved[fn] > 0 && reserved[fn] < maxc {
			t.Errorf("%s: MaximumConcurrency %v over %s's reserved %v", name, maxc, fn, reserved[fn])
		}
	}
}
