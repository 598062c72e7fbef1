package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/feedback"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/preflight"
)

func init() {
	commands["preflight"] = command{summary: "what a deployment still lacks before its first campaign: each check ok, missing (with the fix) or unknown", run: runPreflight}
}

const preflightUsage = `Usage: sunset preflight [--stack NAME] [--send-probe [--probe-wait 3m]] [--access-token TOKEN] [--json]
       sunset preflight --local [--send-probe] [--json]
Reads the stack (default: SUNSET_TABLE, which is the stack's name as samconfig.toml deploys it)
and checks SES (production access, quota, the identity with DKIM and MAIL FROM, the
configuration set's event destination), the SSM secrets, Lambda's account concurrency, the daily
schedule, the alarm topic's confirmed subscription and the Entra ID issuer. --local checks what
the local stack answers and says what it cannot. Exit 1 when anything is missing.`

func runPreflight(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("preflight", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, preflightUsage); fl.PrintDefaults() }
	stack := fl.String("stack", "", "the CloudFormation stack `NAME` (default SUNSET_TABLE)")
	probe := fl.Bool("send-probe", false, "send one email through the configuration set to SES's mailbox simulator's bounce address, and wait for the bounce to reach the feedback function")
	wait := fl.Duration("probe-wait", 3*time.Minute, "how long to wait for the probe's bounce")
	token := fl.String("access-token", "", "an access `TOKEN` of a console sign-in: its version, issuer and audience are checked")
	asJSON := fl.Bool("json", false, "print JSON")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return 2
	}
	opt := preflight.Options{SendProbe: *probe, ProbeWait: *wait, AccessToken: *token, Local: awsclient.IsLocal(*local, env.getenv)}
	var c preflight.Clients
	var d preflight.Deployment
	var err error
	if opt.Local {
		c, d, err = localPreflight(ctx, env)
	} else {
		c, d, err = awsPreflight(ctx, env, cmp.Or(*stack, env.getenv("SUNSET_TABLE")))
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset preflight: %v\n", err)
		return 1
	}
	checks := preflight.Run(ctx, c, d, opt)
	if *asJSON {
		printJSON(env, checks)
	} else {
		preflight.Write(env.stdout, checks)
	}
	if preflight.AnyMissing(checks) {
		return 1
	}
	return 0
}

// localPreflight is the local stack as a deployment: its table and SES emulator, sending as
// the local identity.
func localPreflight(ctx context.Context, env *cliEnv) (preflight.Clients, preflight.Deployment, error) {
	db, table, err := env.dynamo(ctx, true)
	if err != nil {
		return preflight.Clients{}, preflight.Deployment{}, err
	}
	c := preflight.Clients{DynamoDB: db}
	if s, err := env.ses(ctx, true); err == nil {
		c.SES, _ = s.(preflight.SES)
	}
	d := preflight.Deployment{Stack: "local", Outputs: map[string]string{"TableName": table},
		Parameters: map[string]string{"SenderIdentity": cmp.Or(env.getenv("SUNSET_SENDER_IDENTITY"), localstack.SenderIdentity)}}
	return c, d, nil
}

// awsPreflight reads the stack and builds a client for each service the checks ask.
func awsPreflight(ctx context.Context, env *cliEnv, stack string) (preflight.Clients, preflight.Deployment, error) {
	if stack == "" {
		return preflight.Clients{}, preflight.Deployment{}, fmt.Errorf("name the stack: --stack NAME or SUNSET_TABLE")
	}
	a, err := awsclient.Load(ctx, false, env.getenv)
	if err != nil {
		return preflight.Clients{}, preflight.Deployment{}, err
	}
	cfg := a.Config()
	d, err := preflight.Load(ctx, cloudformation.NewFromConfig(cfg), stack)
	if err != nil {
		return preflight.Clients{}, preflight.Deployment{}, err
	}
	return preflight.Clients{DynamoDB: a.DynamoDB(), SES: a.SESv2(), SSM: ssm.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg),
		Lambda: lambda.NewFromConfig(cfg), Scheduler: scheduler.NewFromConfig(cfg), HTTP: &http.Client{Timeout: 10 * time.Second},
		Probes: feedback.NewProbes(a.DynamoDB(), d.Outputs["TableName"])}, d, nil
}
