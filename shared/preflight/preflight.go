// Package preflight says what a deployment still lacks before its first campaign: each check
// is ok, missing (with the fix) or unknown (it could not be checked, and why). It reads the
// stack (its parameters, outputs and resources) and asks each service what the local stack
// cannot show: SES's account, identity and configuration set, SSM's secrets, Lambda's account
// concurrency, the schedule, the alarm topic's subscriptions, the Entra ID issuer.
package preflight

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is a check's outcome.
type Status string

// The outcomes of a check.
const (
	OK      Status = "ok"
	Missing Status = "missing"
	Unknown Status = "unknown" // not checked: the local stack has no such service, or no access
)

// Check is one thing a deployment needs, and whether it has it.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"` // what to do when missing
}

// Deployment is what the stack says of itself: its parameters, outputs, and the physical id of
// each resource by logical id.
type Deployment struct {
	Stack      string
	Parameters map[string]string
	Outputs    map[string]string
	Resources  map[string]string
}

// Clients are the services the checks ask; a nil one makes its checks unknown.
type Clients struct {
	DynamoDB  Tables
	SES       SES
	SSM       SSM
	SNS       SNS
	Lambda    Lambda
	Scheduler Scheduler
	HTTP      *http.Client
	// Probes reads whether the feedback function recorded the probe's events.
	Probes Probes
}

// Probes is what of feedback.Probes the probe's check reads.
type Probes interface {
	Seen(ctx context.Context, token, event string) (time.Time, bool, error)
}

// Options change what is checked.
type Options struct {
	// SendProbe sends one email from the sending identity, through the configuration set, to
	// SES's mailbox simulator's bounce address, and waits up to ProbeWait (default 3 minutes)
	// for its Bounce event to reach the feedback function (checked every ProbePoll, default
	// 10 s).
	SendProbe            bool
	ProbeWait, ProbePoll time.Duration
	// AccessToken, if given, is an access token of the console's application, whose version,
	// issuer and audience are checked (it is decoded, never verified or stored).
	AccessToken string
	// Timeout bounds each check (default 10 s).
	Timeout time.Duration
	// Local: the checks run against the local stack, which lacks most of these services.
	Local bool
}

// Run makes every check, in the order a first deployment meets them.
func Run(ctx context.Context, c Clients, d Deployment, o Options) []Check {
	o.Timeout = cmp.Or(o.Timeout, 10*time.Second)
	o.ProbeWait, o.ProbePoll = cmp.Or(o.ProbeWait, 3*time.Minute), cmp.Or(o.ProbePoll, 10*time.Second)
	var out []Check
	for _, check := range []struct {
		run  func(context.Context, Clients, Deployment, Options) []Check
		wait time.Duration
	}{
		{checkTable, 0}, {checkAccount, 0}, {checkIdentity, 0}, {checkConfigurationSet, 0}, {checkProbe, o.ProbeWait},
		{checkSecrets, 0}, {checkConcurrency, 0}, {checkSchedule, 0}, {checkAlarms, 0}, {checkSignIn, 0},
	} {
		cctx, cancel := context.WithTimeout(ctx, o.Timeout+check.wait)
		out = append(out, check.run(cctx, c, d, o)...)
		cancel()
	}
	return out
}

// AnyMissing reports whether any check is missing.
func AnyMissing(checks []Check) bool {
	for _, c := range checks {
		if c.Status == Missing {
			return true
		}
	}
	return false
}

// Write prints the checks as a table, each missing one followed by its fix.
func Write(w io.Writer, checks []Check) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	for _, c := range checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Status, c.Name, oneLine(c.Detail))
		if c.Status == Missing && c.Fix != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", oneLine(c.Fix))
		}
	}
	return tw.Flush()
}

// oneLine keeps an answer from AWS (or an issuer) on one line of the terminal, without control
// characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func unknown(name, why string) []Check { return []Check{{Name: name, Status: Unknown, Detail: why}} }

// none says why a service's checks were not made: the local stack has no such service.
func none(o Options, service string) string {
	if o.Local {
		return "the local stack has no " + service
	}
	return "no " + service + " client"
}

// stackHas says why a check of a stack's resource was not made.
func stackHas(o Options, what string) string {
	if o.Local {
		return "checked in AWS only (a deployed stack's)"
	}
	return "the stack has " + what
}
