package infra

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nhsmail-sunset/sunset/shared/metrics"
)

// Every alarm reaches someone: it publishes to AlarmTopic when it fires and when it clears,
// and the topic lets CloudWatch publish and mails the team (AlarmEmail, required).
func TestEveryAlarmReachesSomeone(t *testing.T) {
	c := loadCFN(t)
	alarms := c.ofType("AWS::CloudWatch::Alarm")
	if len(alarms) == 0 {
		t.Fatal("no alarms")
	}
	for name, a := range alarms {
		for _, key := range []string{"AlarmActions", "OKActions"} {
			if !slices.ContainsFunc(asList(a.Properties[key]), func(v any) bool { return refTo(v, "AlarmTopic") }) {
				t.Errorf("%s: %s does not include AlarmTopic", name, key)
			}
		}
		if d, _ := a.Properties["AlarmDescription"].(string); d == "" {
			t.Errorf("%s has no AlarmDescription (the first line the person paged reads)", name)
		}
	}
	if c.Resources["AlarmTopic"].Type != "AWS::SNS::Topic" {
		t.Fatal("no AlarmTopic")
	}
	sub := c.Resources["AlarmEmailSubscription"]
	if sub.Condition != "" || sub.Properties["Protocol"] != "email" || !refTo(sub.Properties["Endpoint"], "AlarmEmail") {
		t.Errorf("AlarmEmailSubscription = %+v, want an email subscription to AlarmEmail, always", sub)
	}
	pol := fmt.Sprint(c.Resources["AlarmTopicPolicy"].Properties)
	if !strings.Contains(pol, "cloudwatch.amazonaws.com") || !strings.Contains(pol, "sns:Publish") {
		t.Errorf("AlarmTopicPolicy does not let CloudWatch publish: %s", pol)
	}
}

// The alarms the runbook promises exist: each dead-letter queue not empty, each function's
// errors and throttles, the planner not running, the sender failing, SES reputation.
func TestTheRunbooksAlarmsExist(t *testing.T) {
	c := loadCFN(t)
	alarms := c.ofType("AWS::CloudWatch::Alarm")
	watches := func(ns, metric, dimValue string) bool {
		for _, a := range alarms {
			p := a.Properties
			if p["Namespace"] != ns || p["MetricName"] != metric {
				continue
			}
			if dimValue == "" {
				return true
			}
			for _, d := range asList(p["Dimensions"]) {
				v := asMap(d)["Value"]
				if refTo(v, dimValue) || getAttOf(v) == dimValue || v == dimValue {
					return true
				}
			}
		}
		return false
	}
	for _, q := range deadLetterQueues(t, c) {
		if !watches("AWS/SQS", "ApproximateNumberOfMessagesVisible", q) {
			t.Errorf("dead-letter queue %s has no alarm", q)
		}
	}
	for name := range c.ofType("AWS::Serverless::Function") {
		for _, m := range []string{"Errors", "Throttles"} {
			if !watches("AWS/Lambda", m, name) {
				t.Errorf("%s has no %s alarm", name, m)
			}
		}
	}
	for _, w := range []struct{ ns, metric, dim string }{
		{"Sunset", string(metrics.PlannerRuns), "planner"},
		{"Sunset", string(metrics.NoticesFailed), "sender"},
		{"Sunset", string(metrics.NoticesInDoubt), "sender"},
		{"Sunset", string(metrics.CampaignsAutoPaused), "feedback"},
		{"AWS/SES", "Reputation.BounceRate", ""},
		{"AWS/SES", "Reputation.ComplaintRate", ""},
	} {
		if !watches(w.ns, w.metric, w.dim) {
			t.Errorf("no alarm on %s %s %s", w.ns, w.metric, w.dim)
		}
	}
	if th := alarms["SesBounceRateAlarm"].Properties["Threshold"]; fmt.Sprint(th) != "0.05" {
		t.Errorf("bounce rate threshold %v, want SES's 5%% (0.05)", th)
	}
	if th := alarms["SesComplaintRateAlarm"].Properties["Threshold"]; fmt.Sprint(th) != "0.001" {
		t.Errorf("complaint rate threshold %v, want SES's 0.1%% (0.001)", th)
	}
	run := alarms["PlannerDidNotRunAlarm"].Properties
	if run["TreatMissingData"] != "breaching" || run["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("PlannerDidNotRunAlarm must treat no data as breaching (a run that never happens emits nothing): %v", run)
	}
}

// Alarms on Sunset's own metrics name a metric the code emits, with the dimension the emitting
// function uses; every alarm's evaluation window is one CloudWatch accepts.
func TestAlarmsAreWellFormed(t *testing.T) {
	c := loadCFN(t)
	functions := []string{"ingest", "directory", "planner", "sender", "feedback"}
	for name, a := range c.ofType("AWS::CloudWatch::Alarm") {
		p := a.Properties
		period, _ := p["Period"].(int)
		evals, _ := p["EvaluationPeriods"].(int)
		switch {
		case period < 60 || period%60 != 0:
			t.Errorf("%s: Period %v", name, p["Period"])
		case period < 3600 && period*evals > 86400, period*evals > 7*86400:
			t.Errorf("%s: %d periods of %ds exceed what CloudWatch evaluates", name, evals, period)
		}
		if dta, ok := p["DatapointsToAlarm"].(int); ok && dta > evals {
			t.Errorf("%s: DatapointsToAlarm %d > EvaluationPeriods %d", name, dta, evals)
		}
		if p["Namespace"] != metrics.Namespace {
			continue
		}
		if !slices.Contains(metrics.Names, metrics.Name(fmt.Sprint(p["MetricName"]))) {
			t.Errorf("%s watches %v, which no Sunset function emits (metrics.Names)", name, p["MetricName"])
		}
		dims := asList(p["Dimensions"])
		if len(dims) != 1 || asMap(dims[0])["Name"] != metrics.DimFunction || !slices.Contains(functions, fmt.Sprint(asMap(dims[0])["Value"])) {
			t.Errorf("%s: dimensions %v, want function=<one of %v>", name, dims, functions)
		}
	}
}

// deadLetterQueues are the queues something sends its failures to: a redrive target, a
// function's DeadLetterQueue, an SNS subscription's RedrivePolicy.
func deadLetterQueues(t *testing.T, c *cfn) []string {
	var out []string
	add := func(v any) {
		if q := getAttOf(v); q != "" && !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	for _, r := range c.Resources {
		add(asMap(r.Properties["RedrivePolicy"])["deadLetterTargetArn"])
		add(asMap(r.Properties["DeadLetterQueue"])["TargetArn"])
		for _, ev := range asMap(r.Properties["Events"]) {
			add(asMap(asMap(asMap(ev)["Properties"])["RedrivePolicy"])["deadLetterTargetArn"])
		}
		add(asMap(asMap(r.Properties["Target"])["DeadLetterConfig"])["Arn"])
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("no dead-letter queues found")
	}
	return out
}

// Every queue is encrypted and every queue that is not itself a dead-letter queue has one;
// every asynchronous path (SNS to a function) has one too.
func TestEveryQueueEncryptedWithADeadLetterQueue(t *testing.T) {
	c := loadCFN(t)
	dlqs := deadLetterQueues(t, c)
	for name, q := range c.ofType("AWS::SQS::Queue") {
		if q.Properties["SqsManagedSseEnabled"] != true && q.Properties["KmsMasterKeyId"] == nil {
			t.Errorf("queue %s is not encrypted", name)
		}
		if !slices.Contains(dlqs, name) && q.Properties["RedrivePolicy"] == nil {
			t.Errorf("queue %s has no dead-letter queue", name)
		}
	}
	for name, f := range c.ofType("AWS::Serverless::Function") {
		for evName, ev := range asMap(f.Properties["Events"]) {
			if asMap(ev)["Type"] != "SNS" {
				continue
			}
			if asMap(asMap(asMap(ev)["Properties"])["RedrivePolicy"])["deadLetterTargetArn"] == nil {
				t.Errorf("%s: SNS event %s has no RedrivePolicy (undeliverable events would be lost)", name, evName)
			}
			if asMap(f.Properties["DeadLetterQueue"])["TargetArn"] == nil {
				t.Errorf("%s is invoked asynchronously (SNS) but has no DeadLetterQueue for the events it fails", name)
			}
		}
	}
}

// The dashboard is valid JSON once its ${...} substitutions are made, every ${...} names a
// resource or parameter, and it draws only metrics Sunset emits.
func TestDashboard(t *testing.T) {
	c := loadCFN(t)
	d, ok := c.Resources["Dashboard"]
	if !ok || d.Type != "AWS::CloudWatch::Dashboard" {
		t.Fatal("no Dashboard")
	}
	body, _ := asMap(d.Properties["DashboardBody"])["Fn::Sub"].(string)
	sub := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	for _, m := range sub.FindAllStringSubmatch(body, -1) {
		if _, ok := c.Resources[m[1]]; !ok && !strings.HasPrefix(m[1], "AWS::") && c.Parameters[m[1]] == nil {
			t.Errorf("dashboard refers to ${%s}, which the template does not declare", m[1])
		}
	}
	var doc struct {
		Widgets []struct {
			Properties struct {
				Title   string  `json:"title"`
				Metrics [][]any `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(sub.ReplaceAllString(body, "x")), &doc); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	var titles []string
	name := regexp.MustCompile(`MetricName="([A-Za-z]+)"`)
	for _, w := range doc.Widgets {
		titles = append(titles, w.Properties.Title)
		for _, m := range w.Properties.Metrics {
			var used []string
			if len(m) >= 2 && m[0] == metrics.Namespace {
				used = append(used, fmt.Sprint(m[1]))
			}
			if e, ok := m[0].(map[string]any); ok {
				for _, mm := range name.FindAllStringSubmatch(fmt.Sprint(e["expression"]), -1) {
					used = append(used, mm[1])
				}
			}
			for _, u := range used {
				if !slices.Contains(metrics.Names, metrics.Name(u)) {
					t.Errorf("widget %q draws %s, which no Sunset function emits", w.Properties.Title, u)
				}
			}
		}
	}
	all := strings.ToLower(strings.Join(titles, " | "))
	for _, want := range []string{"affected", "notified", "fixed", "quota", "errors", "dead-letter"} {
		if !strings.Contains(all, want) {
			t.Errorf("no dashboard widget about %q (titles: %s)", want, all)
		}
	}
}
