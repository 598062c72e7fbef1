package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/deadletter"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack/localstacktest"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

// testCLI is one test's CLI: its own variables, clock and clients, so tests run in parallel and
// none can reach real AWS. Without useLocalStack, a command that builds an AWS client fails the
// test.
type testCLI struct {
	t     *testing.T
	vars  map[string]string
	now   time.Time // zero: the real clock
	stdin string
	rules func(path string) (connlog.Rules, error)
	db    *dynamodb.Client
	table string
	ses   sender.SES
	sqs   deadletter.SQS  // nil: a command that needs SQS fails the test
	s3    ingest.Versions // nil: a command that needs S3 fails the test
	links *answers.Links  // the answer links of the notices it sends (nil: none)
	stage findings.Stage  // where ingest stages findings (useLocalStack gives one)
}

func newTestCLI(t *testing.T, vars map[string]string) *testCLI {
	return &testCLI{t: t, vars: vars, rules: campaignScanRules}
}

// useLocalStack gives the CLI a fresh table on the local stack and the SES emulator.
func (c *testCLI) useLocalStack(optFns ...func(*dynamodb.Options)) (*dynamodb.Client, string) {
	c.t.Helper()
	c.db, c.table = localstacktest.DynamoDB(c.t, optFns...)
	c.ses = localstacktest.SES(c.t)
	c.stage = localstacktest.Stage(c.t)
	return c.db, c.table
}

// clock is the CLI's time source.
func (c *testCLI) clock() time.Time {
	if c.now.IsZero() {
		return time.Now()
	}
	return c.now
}

// run runs the CLI in-process and returns what it printed and its exit status.
func (c *testCLI) run(args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	e := &cliEnv{
		stdin:     strings.NewReader(c.stdin),
		stdout:    &out,
		stderr:    &errb,
		getenv:    func(k string) string { return c.vars[k] },
		clock:     c.clock,
		scanRules: c.rules,
		dynamo: func(context.Context, bool) (*dynamodb.Client, string, error) {
			if c.db == nil {
				return nil, "", errors.New("this test has no table (useLocalStack)")
			}
			return c.db, c.table, nil
		},
		sqs: func(context.Context) (deadletter.SQS, string, error) {
			if c.sqs == nil {
				return nil, "", errors.New("this test has no SQS")
			}
			return c.sqs, c.vars["SUNSET_TABLE"], nil
		},
		s3: func(context.Context) (ingest.Versions, error) {
			if c.s3 == nil {
				return nil, errors.New("this test has no S3")
			}
			return c.s3, nil
		},
		ses: func(context.Context, bool) (sender.SES, error) {
			if c.ses == nil {
				return nil, errors.New("this test has no SES (useLocalStack)")
			}
			return c.ses, nil
		},
		links: func(context.Context, bool) (*answers.Links, error) { return c.links, nil },
		stage: func(context.Context, bool) (findings.Stage, error) {
			if c.stage == nil {
				return nil, errors.New("this test has no stage (useLocalStack)")
			}
			return c.stage, nil
		},
	}
	code = dispatch(context.Background(), e, args)
	return out.String(), errb.String(), code
}

// runCLI runs the CLI in-process with the given variables (nil: none) and no AWS.
func runCLI(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return newTestCLI(t, vars).run(args...)
}

func TestDispatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no arguments shows usage and fails", nil, 2, "Usage: sunset <command>", ""},
		{"--help shows usage", []string{"--help"}, 0, "Commands:", ""},
		{"help shows usage", []string{"help"}, 0, "--local", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if !strings.Contains(out, tc.stdout) {
				t.Errorf("stdout %q lacks %q", out, tc.stdout)
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr %q lacks %q", errOut, tc.stderr)
			}
		})
	}
}

// Every registered command appears in the usage with its summary.
func TestUsageListsEveryCommand(t *testing.T) {
	t.Parallel()
	out, _, _ := runCLI(t, nil, "--help")
	for name, c := range commands {
		if c.summary == "" {
			t.Errorf("command %s has no summary", name)
		}
		if !strings.Contains(out, "  "+name+" ") {
			t.Errorf("usage does not list %s", name)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		ok   bool
	}{
		{"flags parse", []string{"--local", "x"}, 0, true},
		{"help is a success that ends the command", []string{"--help"}, 0, false},
		{"unknown flag is a usage mistake", []string{"--nope"}, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fl := flag.NewFlagSet("t", flag.ContinueOnError)
			fl.SetOutput(io.Discard)
			local := localFlag(fl)
			code, ok := parseFlags(fl, tc.args)
			if code != tc.code || ok != tc.ok {
				t.Fatalf("parseFlags = %d, %v; want %d, %v", code, ok, tc.code, tc.ok)
			}
			if tc.ok && !*local {
				t.Error("--local not set")
			}
		})
	}
}
