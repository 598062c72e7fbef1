package infra

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Nothing on an asynchronous path is dropped: every schedule has a dead-letter queue, and so has
// every function something invokes asynchronously (a schedule, an SNS topic).
func TestNoAsyncPathDropsAnything(t *testing.T) {
	c := loadCFN(t)
	scheduled := 0
	for name, s := range c.ofType("AWS::Scheduler::Schedule") {
		target := asMap(s.Properties["Target"])
		if getAttOf(asMap(target["DeadLetterConfig"])["Arn"]) == "" {
			t.Errorf("schedule %s has no DeadLetterConfig", name)
		}
		fn := getAttOf(target["Arn"])
		if asMap(c.Resources[fn].Properties["DeadLetterQueue"])["TargetArn"] == nil {
			t.Errorf("%s, invoked by schedule %s, has no DeadLetterQueue for the runs it fails", fn, name)
		}
		scheduled++
		// The scheduler's role may send to the DLQ it names.
		role := getAttOf(target["RoleArn"])
		if !strings.Contains(fmt.Sprint(c.Resources[role].Properties["Policies"]), "sqs:SendMessage") {
			t.Errorf("role %s of schedule %s may not send to its DLQ", role, name)
		}
	}
	if scheduled == 0 {
		t.Fatal("no schedules")
	}
}

// Every topic is encrypted with a key whose policy lets exactly the services that publish to
// it use it, for this account only.
func TestTopicsEncryptedWithAKeyTheirPublishersMayUse(t *testing.T) {
	c := loadCFN(t)
	for name, topic := range c.ofType("AWS::SNS::Topic") {
		key, _ := asMap(topic.Properties["KmsMasterKeyId"])["Ref"].(string)
		if c.Resources[key].Type != "AWS::KMS::Key" {
			t.Errorf("topic %s is not encrypted with a key of this template (KmsMasterKeyId %v)", name, topic.Properties["KmsMasterKeyId"])
			continue
		}
		k := c.Resources[key].Properties
		if k["EnableKeyRotation"] != true {
			t.Errorf("key %s does not rotate", key)
		}
		var services []string
		for _, st := range statementsOf(asMap(k["KeyPolicy"])["Statement"]) {
			for _, s := range asList(st.Principal["Service"]) {
				services = append(services, fmt.Sprint(s))
				if !strings.Contains(fmt.Sprint(st.Condition), "aws:SourceAccount") {
					t.Errorf("key %s lets %v in for any account", key, s)
				}
				for _, a := range st.Actions {
					if a != "kms:GenerateDataKey*" && a != "kms:Decrypt" {
						t.Errorf("key %s gives %v %s (publishing needs GenerateDataKey* and Decrypt)", key, s, a)
					}
				}
			}
		}
		for _, want := range []string{"ses.amazonaws.com", "cloudwatch.amazonaws.com"} {
			if !slices.Contains(services, want) {
				t.Errorf("key %s does not let %s publish", key, want)
			}
		}
	}
}

// The log bucket refuses every request that is not over TLS.
func TestLogBucketIsTLSOnly(t *testing.T) {
	c := loadCFN(t)
	found := false
	for _, p := range c.ofType("AWS::S3::BucketPolicy") {
		if !refTo(p.Properties["Bucket"], "LogBucket") {
			continue
		}
		for _, st := range statementsOf(asMap(p.Properties["PolicyDocument"])["Statement"]) {
			cond := fmt.Sprint(st.Condition)
			if st.Effect == "Deny" && slices.Contains(st.Actions, "s3:*") && strings.Contains(cond, "aws:SecureTransport") &&
				strings.Contains(cond, "false") && len(st.Resources) == 2 {
				found = true
			}
		}
	}
	if !found {
		t.Error("no bucket policy denies s3:* on LogBucket and its objects when aws:SecureTransport is false")
	}
}
