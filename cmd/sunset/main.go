// Command sunset is the operator CLI: the same shared/ packages the Lambdas call, driven by flags.
package main

import (
	"github.com/nhsmail-sunset/sunset/shared/untrusted"

	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/awsclient"
	"github.com/nhsmail-sunset/sunset/shared/connlog"
	"github.com/nhsmail-sunset/sunset/shared/deadletter"
	"github.com/nhsmail-sunset/sunset/shared/findings"
	"github.com/nhsmail-sunset/sunset/shared/ingest"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

// command is one subcommand. run gets the arguments after the subcommand's name and returns the
// process exit status: 0 success, 1 a failure while working, 2 a usage or input mistake.
type command struct {
	summary string
	run     func(ctx context.Context, env *cliEnv, args []string) int
}

// cliEnv is everything a subcommand reads, writes and builds its clients from, instead of
// process globals: each test builds its own (a fixed clock, a fresh local table), so tests can
// run in parallel.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	// clock is every command's time source.
	clock func() time.Time
	// dynamo builds the DynamoDB client and names the table (--local: the local stack's).
	dynamo func(ctx context.Context, local bool) (*dynamodb.Client, string, error)
	// ses builds the SES v2 client.
	ses func(ctx context.Context, local bool) (sender.SES, error)
	// scanRules reads a campaign file into scanner rules; its errors are campaign-file
	// mistakes (exit 2).
	scanRules func(path string) (connlog.Rules, error)
	// sqs builds the SQS client and names the table its queues are named after (AWS only: the
	// local stack has no SQS).
	sqs func(ctx context.Context) (deadletter.SQS, string, error)
	// s3 builds the S3 client of the log bucket (AWS only).
	s3 func(ctx context.Context) (ingest.Versions, error)
	// links are the answer links the notices the CLI sends carry (nil: none).
	links func(ctx context.Context, local bool) (*answers.Links, error)
	// stage is where ingest stages findings until a merge (SUNSET_STAGING_BUCKET; --local:
	// the local stack's S3).
	stage func(ctx context.Context, local bool) (findings.Stage, error)
}

// processEnv is the environment of the real process: its files, variables, clock and AWS.
func processEnv() *cliEnv {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, clock: time.Now,
		scanRules: campaignScanRules}
	env.dynamo = func(ctx context.Context, local bool) (*dynamodb.Client, string, error) {
		local = awsclient.IsLocal(local, env.getenv)
		c, err := awsclient.Load(ctx, local, env.getenv)
		if err != nil {
			return nil, "", err
		}
		table, err := awsclient.TableName(local, env.getenv)
		if err != nil {
			return nil, "", err
		}
		return c.DynamoDB(), table, nil
	}
	env.sqs = func(ctx context.Context) (deadletter.SQS, string, error) {
		if awsclient.IsLocal(false, env.getenv) {
			return nil, "", errors.New("the local stack has no SQS: dead-letter queues exist in AWS only")
		}
		c, err := awsclient.Load(ctx, false, env.getenv)
		if err != nil {
			return nil, "", err
		}
		table, err := awsclient.TableName(false, env.getenv)
		if err != nil {
			return nil, "", err
		}
		return sqs.NewFromConfig(c.Config()), table, nil
	}
	env.s3 = func(ctx context.Context) (ingest.Versions, error) {
		if awsclient.IsLocal(false, env.getenv) {
			return nil, errors.New("the local stack has no S3: the log bucket exists in AWS only")
		}
		c, err := awsclient.Load(ctx, false, env.getenv)
		if err != nil {
			return nil, err
		}
		return s3.NewFromConfig(c.Config()), nil
	}
	env.links = func(ctx context.Context, local bool) (*answers.Links, error) {
		return processLinks(ctx, env, local)
	}
	env.stage = func(ctx context.Context, local bool) (findings.Stage, error) {
		local = awsclient.IsLocal(local, env.getenv)
		bucket := env.getenv(findings.StagingBucketEnv)
		if bucket == "" && local {
			bucket = localstack.StagingBucket
		}
		if bucket == "" {
			return nil, fmt.Errorf("%s is not set (the stack's output StagingBucket; --local for the local stack)", findings.StagingBucketEnv)
		}
		c, err := awsclient.Load(ctx, local, env.getenv)
		if err != nil {
			return nil, err
		}
		return findings.S3Stage{Client: c.S3(), Bucket: bucket, Prefix: findings.StagingPrefix}, nil
	}
	env.ses = func(ctx context.Context, local bool) (sender.SES, error) {
		local = awsclient.IsLocal(local, env.getenv)
		c, err := awsclient.Load(ctx, local, env.getenv)
		if err != nil {
			return nil, err
		}
		return c.SESv2(), nil
	}
	return env
}

// processLinks are the answer links of the notices the CLI renders: on the local stack under
// its own keys (infra/local/.run/signing-keys) to sunset serve --local's address; in AWS under
// the keys of SUNSET_SIGNING_KEYS_PARAMETER to SUNSET_PUBLIC_URL, as the sender Lambda makes
// them, or none when those are not set. SUNSET_PUBLIC_URL overrides the address either way.
func processLinks(ctx context.Context, env *cliEnv, local bool) (*answers.Links, error) {
	base := env.getenv("SUNSET_PUBLIC_URL")
	if awsclient.IsLocal(local, env.getenv) {
		keys, err := signing.LocalKeyring(localKeysPath())
		if err != nil {
			return nil, err
		}
		return &answers.Links{Keys: keys, Base: cmp.Or(base, answers.LocalBase)}, nil
	}
	param := env.getenv("SUNSET_SIGNING_KEYS_PARAMETER")
	if param == "" || base == "" {
		return nil, nil
	}
	c, err := awsclient.Load(ctx, false, env.getenv)
	if err != nil {
		return nil, err
	}
	keys, err := signing.KeyringFromSSM(ctx, ssm.NewFromConfig(c.Config()), param)
	if err != nil {
		return nil, err
	}
	return &answers.Links{Keys: keys, Base: base}, nil
}

// commands is the whole CLI. Each file of this package adds the commands of one area of work.
var commands = map[string]command{}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	code := dispatch(ctx, processEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}

// dispatch runs the command args name. Everything it prints goes through untrusted.Writer:
// account names from logs, organisation names from the directory and answers' notes reach the
// terminal with no control, bidi or invisible character as itself (escaped, visibly; in JSON
// the escape is the same value).
func dispatch(ctx context.Context, env *cliEnv, args []string) int {
	out, errOut := untrusted.NewWriter(env.stdout), untrusted.NewWriter(env.stderr)
	defer out.Flush()
	defer errOut.Flush()
	e := *env
	e.stdout, e.stderr = out, errOut
	env = &e
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "sunset: unknown command %q (run 'sunset --help')\n", args[0])
		return 2
	}
	return cmd.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "sunset retires legacy mail hostnames: it finds the accounts still using them and tells their organisations.")
	fmt.Fprintln(w, "\nUsage: sunset <command> [flags]   (sunset <command> --help for its flags)\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nEvery command that talks to AWS accepts --local (or SUNSET_LOCAL=1) to use the local stack.")
}

// parseFlags parses a subcommand's flags, before, between or after its other arguments, as
// people type them (sunset scan FILE --format iis); after "--" everything is an argument.
// fl.Args() are then the other arguments, in order. When it returns false the command ends
// with the returned status: 0 after --help, 2 for a usage mistake (flag has already said which).
func parseFlags(fl *flag.FlagSet, args []string) (int, bool) {
	if _, err := parseMixed(fl, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// parseMixed parses flags anywhere in args and returns the other arguments (fl.Args() too).
func parseMixed(fl *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		if fl.NArg() == 0 {
			break
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
	pos = append(pos, tail...)
	if err := fl.Parse(append([]string{"--"}, pos...)); err != nil { // so fl.Args() are pos
		return nil, err
	}
	return pos, nil
}

// localFlag adds --local, which every command that talks to AWS takes.
func localFlag(fl *flag.FlagSet) *bool {
	return fl.Bool("local", false, "use the local stack (also SUNSET_LOCAL=1)")
}
