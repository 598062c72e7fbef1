package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
)

// runCLI runs the CLI in-process with the given environment (nil: empty) and returns what it
// printed and its exit status.
func runCLI(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &cliEnv{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return env[k] },
	}
	code = dispatch(context.Background(), e, args)
	return out.String(), errb.String(), code
}

func TestDispatch(t *testing.T) {
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
