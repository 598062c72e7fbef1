package infra

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The optional edge: with EdgeWebAclArn the stack puts CloudFront (carrying that web ACL) in
// front of the HTTP API, caches nothing, passes every viewer header but Host (and the Host as
// X-Forwarded-Host), adds the secret the API checks, and moves the answer links and the
// console to its address; without it, none of that exists.
func TestEdgeCarriesPerSourceLimits(t *testing.T) {
	c := loadCFN(t)
	edge := c.Resources["Edge"]
	if edge.Type != "AWS::CloudFront::Distribution" || edge.Condition != "HasEdge" || c.Resources["EdgeHost"].Condition != "HasEdge" {
		t.Fatalf("Edge: %+v (EdgeHost %+v)", edge, c.Resources["EdgeHost"])
	}
	cfg := asMap(edge.Properties["DistributionConfig"])
	if !refTo(cfg["WebACLId"], "EdgeWebAclArn") {
		t.Errorf("the distribution does not carry EdgeWebAclArn: %v", cfg["WebACLId"])
	}
	b := asMap(cfg["DefaultCacheBehavior"])
	if got := fmt.Sprint(b["AllowedMethods"]); got != "[GET HEAD OPTIONS PUT PATCH POST DELETE]" {
		t.Errorf("AllowedMethods %s: forms and the API need every method", got)
	}
	if b["CachePolicyId"] != "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" || b["OriginRequestPolicyId"] != "b689b0a8-53d0-40ab-baf2-68738e2966ac" {
		t.Errorf("cache %v, origin request %v: want CachingDisabled and AllViewerExceptHostHeader", b["CachePolicyId"], b["OriginRequestPolicyId"])
	}
	origin := asMap(asList(cfg["Origins"])[0])
	hdr := asMap(asList(origin["OriginCustomHeaders"])[0])
	if hdr["HeaderName"] != "X-Sunset-Edge" || !refTo(hdr["HeaderValue"], "EdgeSecret") {
		t.Errorf("origin header %v: want X-Sunset-Edge from EdgeSecret", hdr)
	}
	env := asMap(asMap(asMap(c.Resources["ApiFunction"].Properties["Environment"])["Variables"]))
	if !strings.Contains(fmt.Sprint(env["SUNSET_EDGE_SECRET"]), "EdgeSecret") {
		t.Errorf("the API is not told the edge's secret: %v", env["SUNSET_EDGE_SECRET"])
	}
	senderEnv := asMap(asMap(asMap(c.Resources["SenderFunction"].Properties["Environment"])["Variables"]))
	if !strings.Contains(fmt.Sprint(senderEnv["SUNSET_PUBLIC_URL"]), "Edge.DomainName") {
		t.Errorf("notices' links do not lead to the edge when there is one: %v", senderEnv["SUNSET_PUBLIC_URL"])
	}
	if p := c.Parameters["EdgeSecret"]; p["NoEcho"] != true {
		t.Errorf("EdgeSecret is not NoEcho: %v", p)
	}
}

// infra/edge-waf.yaml (deployed in us-east-1) limits each source: the answer pages harder than
// the rest.
func TestEdgeWebACLLimitsEachSource(t *testing.T) {
	raw, err := os.ReadFile("edge-waf.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	doc := asMap(intrinsic(root.Content[0]))
	acl := asMap(asMap(asMap(doc["Resources"])["WebAcl"])["Properties"])
	if acl["Scope"] != "CLOUDFRONT" {
		t.Errorf("scope %v", acl["Scope"])
	}
	var answers, all bool
	for _, r := range asList(acl["Rules"]) {
		st := asMap(asMap(asMap(r)["Statement"])["RateBasedStatement"])
		if st == nil || asMap(asMap(r)["Action"])["Block"] == nil || st["AggregateKeyType"] != "IP" {
			continue
		}
		if m := asMap(asMap(st["ScopeDownStatement"])["ByteMatchStatement"]); m["SearchString"] == "/answer/" {
			answers = true
		} else if st["ScopeDownStatement"] == nil {
			all = true
		}
	}
	if !answers || !all {
		t.Errorf("rate-based rules per source: answer pages %v, everything %v; want both", answers, all)
	}
}
