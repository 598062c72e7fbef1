package infra

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// wildcardResource are the actions that may have Resource "*", each with the reason AWS
// gives no narrower one. Any other "*" resource fails the test.
var wildcardResource = map[string]string{
	"ses:GetAccount": "GetAccount reads the account's sending quota and status: the action has no resource type to scope it to",
}

type statement struct {
	Sid       string
	Effect    string
	Actions   []string
	Resources []any
	Principal map[string]any
	Condition map[string]any
}

func statementsOf(v any) []statement {
	var out []statement
	for _, s := range asList(v) {
		m := asMap(s)
		st := statement{Effect: fmt.Sprint(m["Effect"]), Principal: asMap(m["Principal"]), Condition: asMap(m["Condition"])}
		st.Sid, _ = m["Sid"].(string)
		for _, a := range asList(m["Action"]) {
			st.Actions = append(st.Actions, fmt.Sprint(a))
		}
		st.Resources = asList(m["Resource"])
		out = append(out, st)
	}
	return out
}

// functionStatements is every statement of a function's inline policies.
func functionStatements(r cfnResource) []statement {
	var out []statement
	for _, p := range asList(r.Properties["Policies"]) {
		out = append(out, statementsOf(asMap(p)["Statement"])...)
	}
	return out
}

// Every identity policy is least privilege: named actions (no wildcards), named resources (no
// "*" except where AWS has no resource to name, each listed with the reason), the table's
// items only through the table's ARN, and every function allows exactly the calls its code
// makes (awsCalls) on exactly the partition keys its code names (keyPrefixes, as
// dynamodb:LeadingKeys conditions): nothing it needs is missing, nothing it does not use is
// granted. A LeadingKeys condition on an index statement names the index's partition keys.
func TestPoliciesAllowExactlyTheCallsOfTheCode(t *testing.T) {
	c := loadCFN(t)
	functions := c.ofType("AWS::Serverless::Function")
	for name, f := range functions {
		t.Run(name, func(t *testing.T) {
			allowed := map[string]bool{}
			var leading []string // "table X#" / "index Y" as the conditions allow them
			for _, st := range functionStatements(f) {
				if st.Effect != "Allow" {
					continue
				}
				checkStatement(t, name, st)
				for _, a := range st.Actions {
					allowed[a] = true
				}
				leading = append(leading, leadingKeysOf(t, name, st)...)
			}
			slices.Sort(leading)
			leading = slices.Compact(leading) // a prefix read by one statement and written by another is one prefix
			want := slices.Sorted(slices.Values(keyPrefixes[name]))
			if !slices.Equal(leading, want) {
				t.Errorf("dynamodb:LeadingKeys allow %v; the code names %v (keyPrefixes)", leading, want)
			}
			calls, ok := awsCalls[name]
			if !ok {
				t.Fatalf("awsCalls has no entry for %s", name)
			}
			for _, a := range calls {
				if !allowed[a] {
					t.Errorf("the code calls %s; the policy does not allow it", a)
				}
			}
			for _, a := range slices.Sorted(maps.Keys(allowed)) {
				if !slices.Contains(calls, a) {
					t.Errorf("the policy allows %s, which the code never calls (awsCalls)", a)
				}
			}
		})
	}
	for name := range awsCalls {
		if _, ok := functions[name]; !ok {
			t.Errorf("awsCalls lists %s, which template.yaml does not declare", name)
		}
	}
	for name, r := range c.ofType("AWS::IAM::Role") {
		for _, p := range asList(r.Properties["Policies"]) {
			for _, st := range statementsOf(asMap(asMap(p)["PolicyDocument"])["Statement"]) {
				checkStatement(t, name, st)
			}
		}
	}
}

// leadingKeysOf is what a DynamoDB statement's dynamodb:LeadingKeys condition allows, as
// keyPrefixes writes it ("table NOTICE#" for NOTICE#*); a DynamoDB statement without one, or
// with another operator, fails: every function is kept to the items it owns.
func leadingKeysOf(t *testing.T, owner string, st statement) []string {
	t.Helper()
	dynamo := slices.ContainsFunc(st.Actions, func(a string) bool { return strings.HasPrefix(a, "dynamodb:") })
	if !dynamo {
		return nil
	}
	keys := asList(asMap(st.Condition["ForAllValues:StringLike"])["dynamodb:LeadingKeys"])
	if len(keys) == 0 {
		t.Errorf("%s %s: DynamoDB statement without a ForAllValues:StringLike dynamodb:LeadingKeys condition", owner, st.Sid)
		return nil
	}
	where := "table"
	if len(st.Resources) == 1 && strings.Contains(fmt.Sprint(asMap(st.Resources[0])["Fn::Sub"]), "/index/") {
		where = "index"
	} else if len(st.Resources) != 1 || getAttOf(st.Resources[0]) != "Table" {
		t.Errorf("%s %s: a DynamoDB statement names the table or its indexes, not both (the conditions differ)", owner, st.Sid)
	}
	var out []string
	for _, k := range keys {
		out = append(out, where+" "+strings.TrimSuffix(fmt.Sprint(k), "*"))
	}
	return out
}

func checkStatement(t *testing.T, owner string, st statement) {
	t.Helper()
	for _, a := range st.Actions {
		if strings.Contains(a, "*") {
			t.Errorf("%s %s: action %s is a wildcard", owner, st.Sid, a)
		}
	}
	if len(st.Resources) == 0 {
		t.Errorf("%s %s: no Resource", owner, st.Sid)
	}
	for _, r := range st.Resources {
		if r != "*" {
			if s, ok := r.(string); ok && strings.HasSuffix(s, ":*") {
				t.Errorf("%s %s: resource %s is a wildcard", owner, st.Sid, s)
			}
			continue
		}
		for _, a := range st.Actions {
			if wildcardResource[a] == "" {
				t.Errorf("%s %s: %s on Resource \"*\" (add the reason to wildcardResource if AWS has no narrower resource)", owner, st.Sid, a)
			}
		}
	}
	for _, a := range st.Actions {
		if !strings.HasPrefix(a, "dynamodb:") {
			continue
		}
		for _, r := range st.Resources {
			if getAttOf(r) != "Table" && !strings.Contains(fmt.Sprint(asMap(r)["Fn::Sub"]), "${Table.Arn}/index/") {
				t.Errorf("%s %s: %s on %v, not the table or its indexes", owner, st.Sid, a, r)
			}
		}
	}
}

// Every resource policy that lets an AWS service in (S3 into the queues, SES and CloudWatch
// into the topics, SNS into the feedback DLQ) says whose: a SourceAccount or SourceArn
// condition, so no other account's bucket or topic can use it (the confused deputy).
func TestServicePrincipalsAreScoped(t *testing.T) {
	c := loadCFN(t)
	n := 0
	for _, typ := range []string{"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"} {
		for name, r := range c.ofType(typ) {
			for _, st := range statementsOf(asMap(r.Properties["PolicyDocument"])["Statement"]) {
				if st.Principal["Service"] == nil {
					continue
				}
				n++
				cond := fmt.Sprint(st.Condition)
				if !strings.Contains(cond, "aws:SourceAccount") && !strings.Contains(cond, "aws:SourceArn") {
					t.Errorf("%s %s lets %v in with no SourceAccount or SourceArn condition", name, st.Sid, st.Principal["Service"])
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no service principals found")
	}
}

// Whoever may send email sends only as the SES identity of the stack (SenderIdentity: a domain
// or one address) and only with a From that identity covers (ses:FromAddress), never as an
// identity named elsewhere: IAM checks a verified domain as identity/<domain>.
func TestSendEmailOnlyAsTheSenderIdentity(t *testing.T) {
	c := loadCFN(t)
	senders := 0
	for name, r := range c.ofType("AWS::Serverless::Function") {
		for _, st := range functionStatements(r) {
			if !slices.Contains(st.Actions, "ses:SendEmail") {
				continue
			}
			senders++
			identities := 0
			for _, res := range st.Resources {
				s := fmt.Sprint(res)
				if strings.Contains(s, ":identity/") {
					identities++
					if !strings.Contains(s, ":identity/${SenderIdentity}") {
						t.Errorf("%s: SendEmail on %s, want identity/${SenderIdentity}", name, s)
					}
				}
			}
			if identities != 1 {
				t.Errorf("%s: SendEmail names %d identities, want exactly the SenderIdentity", name, identities)
			}
			from := fmt.Sprint(asMap(st.Condition["StringLike"])["ses:FromAddress"])
			if !strings.Contains(from, "*@${SenderIdentity}") || !strings.Contains(from, "Ref:SenderIdentity") {
				t.Errorf("%s: SendEmail's ses:FromAddress condition is %s, want [*@${SenderIdentity}, SenderIdentity]", name, from)
			}
		}
	}
	if senders != 2 {
		t.Errorf("%d statements allow SendEmail, want 2 (the sender's notices, the API's test sends)", senders)
	}
}
