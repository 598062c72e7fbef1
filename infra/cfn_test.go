package infra

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// cfn is template.yaml with its short-form intrinsics spelled out as CloudFormation's JSON
// form ({"Ref": x}, {"Fn::GetAtt": [r, a]}, {"Fn::Sub": s}, ...), so tests can follow
// references instead of reading them as strings.
type cfn struct {
	Globals    map[string]any // Globals.Function
	Parameters map[string]map[string]any
	Conditions map[string]any
	Resources  map[string]cfnResource
	Outputs    map[string]any
}

type cfnResource struct {
	Type                string
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	Properties          map[string]any
}

func loadCFN(t *testing.T) *cfn {
	t.Helper()
	raw, err := os.ReadFile("../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	doc, _ := intrinsic(root.Content[0]).(map[string]any)
	out := &cfn{Parameters: map[string]map[string]any{}, Resources: map[string]cfnResource{}}
	for k, v := range asMap(doc["Parameters"]) {
		out.Parameters[k] = asMap(v)
	}
	out.Globals = asMap(asMap(doc["Globals"])["Function"])
	out.Conditions = asMap(doc["Conditions"])
	out.Outputs = asMap(doc["Outputs"])
	for name, v := range asMap(doc["Resources"]) {
		m := asMap(v)
		r := cfnResource{Properties: asMap(m["Properties"])}
		r.Type, _ = m["Type"].(string)
		r.Condition, _ = m["Condition"].(string)
		r.DeletionPolicy, _ = m["DeletionPolicy"].(string)
		r.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
		out.Resources[name] = r
	}
	return out
}

// intrinsic decodes a node, turning a tag like !GetAtt into its Fn:: form.
func intrinsic(n *yaml.Node) any {
	var v any
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			m[n.Content[i].Value] = intrinsic(n.Content[i+1])
		}
		v = m
	case yaml.SequenceNode:
		l := []any{}
		for _, c := range n.Content {
			l = append(l, intrinsic(c))
		}
		v = l
	case yaml.AliasNode:
		return intrinsic(n.Alias)
	default:
		if strings.HasPrefix(n.Tag, "!!") {
			_ = n.Decode(&v)
		} else {
			v = n.Value
		}
	}
	switch tag := n.Tag; {
	case tag == "!Ref":
		return map[string]any{"Ref": v}
	case tag == "!GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			return map[string]any{"Fn::GetAtt": []any{res, attr}}
		}
		return map[string]any{"Fn::GetAtt": v}
	case strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!"):
		return map[string]any{"Fn::" + tag[1:]: v}
	}
	return v
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// refTo reports whether v is {"Ref": name}.
func refTo(v any, name string) bool { return asMap(v)["Ref"] == name }

// getAttOf is the resource v is a GetAtt of ("" when it is not one).
func getAttOf(v any) string {
	if l, ok := asMap(v)["Fn::GetAtt"].([]any); ok && len(l) > 0 {
		s, _ := l[0].(string)
		return s
	}
	return ""
}

// ofType is the resources of one type, by name.
func (c *cfn) ofType(typ string) map[string]cfnResource {
	out := map[string]cfnResource{}
	for n, r := range c.Resources {
		if r.Type == typ {
			out[n] = r
		}
	}
	return out
}
