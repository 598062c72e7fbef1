// Package lambdaenv is how every Sunset Lambda starts: its package's Config is read from the
// environment through an Env, which collects every missing or malformed variable into one
// error, and a function that cannot start says so in one JSON log line naming the variables,
// then exits (at init, where the Lambda service shows it, not at the first event).
package lambdaenv

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
)

// Env reads variables for one Config. The zero value is not usable; call New.
type Env struct {
	getenv   func(string) string
	problems []string
	bad      []string
}

// New reads variables through getenv (os.Getenv in a Lambda).
func New(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Required is the value of name; empty or unset is a problem.
func (e *Env) Required(name string) string {
	v := strings.TrimSpace(e.getenv(name))
	if v == "" {
		e.fail(name, name+" is not set")
	}
	return v
}

// String is the value of name, or def when it is unset or empty.
func (e *Env) String(name, def string) string {
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v
	}
	return def
}

// Float is name as a number of at least min, or def when it is unset or empty.
func (e *Env) Float(name string, def, min float64) float64 {
	s := e.String(name, "")
	if s == "" {
		return def
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < min {
		e.fail(name, fmt.Sprintf("%s=%q is not a number of at least %g", name, s, min))
		return def
	}
	return f
}

// Int is name as a whole number of at least min, or def when it is unset or empty.
func (e *Env) Int(name string, def, min int) int {
	s := e.String(name, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min {
		e.fail(name, fmt.Sprintf("%s=%q is not a whole number of at least %d", name, s, min))
		return def
	}
	return n
}

// Bool is name as true or false, or def when it is unset or empty.
func (e *Env) Bool(name string, def bool) bool {
	s := e.String(name, "")
	switch strings.ToLower(s) {
	case "":
		return def
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	e.fail(name, fmt.Sprintf("%s=%q is not true or false", name, s))
	return def
}

func (e *Env) fail(name, problem string) {
	e.problems = append(e.problems, problem)
	e.bad = append(e.bad, name)
}

// Err is every problem met so far in one *Error, or nil.
func (e *Env) Err() error {
	if len(e.problems) == 0 {
		return nil
	}
	return &Error{Variables: slices.Clone(e.bad), Problems: slices.Clone(e.problems)}
}

// Error is a configuration that can not start a function.
type Error struct {
	Variables []string // the variables at fault, in the order read
	Problems  []string // one sentence each
}

func (e *Error) Error() string { return "configuration: " + strings.Join(e.Problems, "; ") }

// Logger is the JSON logger of a function (the template's LoggingConfig is JSON too), with the
// function's name on every line.
func Logger(function string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("function", function)
}

// LimitMemory sets the process's soft memory limit to 90% of the function's memory (memoryMB,
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE), unless GOMEMLIMIT is set: past it the collector works
// harder instead of the function running out of memory.
func LimitMemory(memoryMB int) {
	if os.Getenv("GOMEMLIMIT") == "" && memoryMB > 0 {
		debug.SetMemoryLimit(int64(memoryMB) << 20 * 9 / 10)
	}
}

// Exit logs that the function could not start, naming the variables at fault when err is an
// *Error, and exits with status 1. Only a main calls it.
func Exit(log *slog.Logger, err error) {
	attrs := []any{"error", err.Error()}
	var ce *Error
	if errors.As(err, &ce) {
		attrs = append(attrs, "variables", ce.Variables)
	}
	log.Error("function can not start", attrs...)
	os.Exit(1)
}
