package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nhsmail-sunset/sunset/shared/answers"
	"github.com/nhsmail-sunset/sunset/shared/api"
	"github.com/nhsmail-sunset/sunset/shared/calendar"
	"github.com/nhsmail-sunset/sunset/shared/localstack"
	"github.com/nhsmail-sunset/sunset/shared/sender"
	"github.com/nhsmail-sunset/sunset/shared/signing"
)

func init() {
	commands["serve"] = command{summary: "serve the console and the JSON API on this machine against the local stack (--local)", run: runServe}
}

const serveUsage = "Usage: sunset serve --local [--addr 127.0.0.1:8080] [--role viewer|operator --as NAME] [--at YYYY-MM-DD]"

// runServe serves the console and API of the API Lambda (the same shared/api handler) against
// the local stack, until interrupted. Signing in is local: a form asks who you are and which
// role you have, or --role and --as say it for every request without a session. Both are
// refused without --local: in AWS people sign in with Entra ID.
func runServe(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, serveUsage); fl.PrintDefaults() }
	addr := fl.String("addr", "127.0.0.1:8080", "the loopback `ADDRESS` to listen on (others are refused: local sign-in trusts whoever connects)")
	role := fl.String("role", "", "sign every request without a session in with this `ROLE` (viewer or operator)")
	as := fl.String("as", "", "the `NAME` --role signs in as (recorded with every change)")
	at := fl.String("at", "", "serve as on this date `YYYY-MM-DD` (a replay such as make demo's): its clock starts there at 09:00 UK time and runs on")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	switch {
	case fl.NArg() > 0:
		fl.Usage()
		return 2
	case !*local:
		fmt.Fprintln(env.stderr, "sunset serve: --local is required: the console signs people in locally only on the local stack (in AWS it is the API function, with Entra ID)")
		return 2
	case !api.LoopbackAddr(*addr):
		fmt.Fprintf(env.stderr, "sunset serve: --addr %q: the local console listens on loopback only (127.0.0.1:PORT, [::1]:PORT or localhost:PORT): local sign-in trusts whoever connects\n", *addr)
		return 2
	case (*role == "") != (*as == ""):
		fmt.Fprintln(env.stderr, "sunset serve: --role and --as go together")
		return 2
	case *role != "" && *role != string(api.Viewer) && *role != string(api.Operator):
		fmt.Fprintf(env.stderr, "sunset serve: --role %q: want viewer or operator\n", *role)
		return 2
	}
	if !parseAt(env, "serve", *at) {
		return 2
	}
	if d, clock, _ := splitAt(*at); *at != "" && clock == "" {
		env = withClockFrom(env, d)
	} else if clock != "" {
		env = atTime(ctx, env, true, "", *at)
	}
	srv, err := localServer(ctx, env, *role, *as)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset serve: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(env.stdout, "console at http://%s/console/ (API under /api/); Ctrl-C stops it\n", ln.Addr())
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(env.stderr, "sunset serve: %v\n", err)
		return 1
	}
	return 0
}

// withClockFrom is env with a clock that starts at 09:00 UK time on d and runs on from there.
func withClockFrom(env *cliEnv, d calendar.Date) *cliEnv {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.UTC
	}
	start, real := d.Start(london).Add(9*time.Hour), env.clock()
	e := *env
	e.clock = func() time.Time { return start.Add(env.clock().Sub(real)) }
	return &e
}

// localServer is the API Lambda's server over the local stack, with local sign-in.
func localServer(ctx context.Context, env *cliEnv, role, as string) (*api.Server, error) {
	db, table, err := env.dynamo(ctx, true)
	if err != nil {
		return nil, err
	}
	ses, err := env.ses(ctx, true)
	if err != nil {
		return nil, err
	}
	stage, err := env.stage(ctx, true)
	if err != nil {
		return nil, err
	}
	keys, err := signing.LocalKeyring(localKeysPath())
	if err != nil {
		return nil, err
	}
	loc := &api.Local{}
	if role != "" {
		loc.Default = &api.Identity{Subject: "local:" + strings.TrimSpace(as), Name: strings.TrimSpace(as), Roles: []api.Role{api.Role(role)}}
	}
	return api.New(api.Options{DB: db, Table: table, SES: ses, ConfigurationSet: env.getenv("SUNSET_CONFIGURATION_SET"),
		Clock: env.clock, Keys: keys, Local: loc, Logger: slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		PublicURL: cmp.Or(env.getenv("SUNSET_PUBLIC_URL"), answers.LocalBase), SenderIdentity: env.getenv("SUNSET_SENDER_IDENTITY"), Stage: stage,
		TestRecipients: sender.ParseTestRecipients(env.getenv("SUNSET_TEST_RECIPIENTS"))})
}

// localKeysPath is where the local stack keeps its signing keys: infra/local/.run beside the
// template, or the user's cache folder outside a checkout.
func localKeysPath() string {
	if t, err := localstack.FindTemplate(); err == nil {
		return filepath.Join(filepath.Dir(t), "infra", "local", ".run", "signing-keys")
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "sunset", "signing-keys")
}
