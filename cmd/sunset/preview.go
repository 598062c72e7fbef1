package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nhsmail-sunset/sunset/shared/campaign"
	"github.com/nhsmail-sunset/sunset/shared/ledger"
	"github.com/nhsmail-sunset/sunset/shared/notice"
	"github.com/nhsmail-sunset/sunset/shared/sender"
)

func init() {
	commands["preview"] = command{summary: "write the .html, .txt and .eml of exactly what would be sent to one organisation (no ledger write)", run: runPreview}
}

const previewUsage = "Usage: sunset preview --campaign ID (--org ODS [--stage S] | --recipient ADDRESS) [--at YYYY-MM-DD] --out DIR [--local]"

func runPreview(ctx context.Context, env *cliEnv, args []string) int {
	fl := flag.NewFlagSet("preview", flag.ContinueOnError)
	fl.SetOutput(env.stderr)
	fl.Usage = func() { fmt.Fprintln(env.stderr, previewUsage); fl.PrintDefaults() }
	id := fl.String("campaign", "", "campaign `ID`")
	org := fl.String("org", "", "the organisation's `ODS` code")
	stage := fl.String("stage", "", "the stage to render (default: the one a run on --at would send)")
	at := fl.String("at", "", "render as on this date in the campaign's time zone (default today)")
	out := fl.String("out", "", "the `DIR` to write the files to (created if missing)")
	recipient := fl.String("recipient", "", "instead of --org: the email this `ADDRESS` would get (one email a day: merged when it is in several organisations' notices)")
	local := localFlag(fl)
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if *id == "" || (*org == "") == (*recipient == "") || *out == "" || fl.NArg() > 0 || (*recipient != "" && *stage != "") {
		fl.Usage()
		return 2
	}
	if !parseAt(env, "preview", *at) {
		return 2
	}
	env = atTime(ctx, env, *local, *id, *at)
	if *recipient != "" {
		return mergedThen(ctx, env, "preview", *local, *id, *recipient, *at, func(rec *campaign.Record, k ledger.MailKey, ns []ledger.Notice, _ *sender.Sender) int {
			r, err := notice.New(rec.Campaign, ".")
			if err != nil {
				fmt.Fprintf(env.stderr, "sunset preview: %v\n", err)
				return 1
			}
			e, err := r.RenderMerged(k, *recipient, ns, env.clock())
			if err != nil {
				fmt.Fprintf(env.stderr, "sunset preview: %v\n", err)
				return 1
			}
			base := filepath.Join(*out, fmt.Sprintf("%s-%s", sender.Tag(k.Campaign), sender.Tag(k.ID())))
			if !writePreview(env, e, base) {
				return 1
			}
			fmt.Fprintf(env.stdout, "preview of the email to %s as on %s: %d organisations\n  subject: %s\n  attachment %s\n  wrote %s.html, %s.txt, %s.eml\n",
				*recipient, k.Day, len(ns), e.Subject, e.CSVName, base, base, base)
			return 0
		})
	}
	return renderThen(ctx, env, "preview", *local, *id, *org, *stage, *at, func(rec *campaign.Record, n ledger.Notice, _ *sender.Sender) int {
		r, err := notice.New(rec.Campaign, ".")
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset preview: %v\n", err)
			return 1
		}
		e, err := r.Render(n, env.clock())
		if err != nil {
			fmt.Fprintf(env.stderr, "sunset preview: %v\n", err)
			return 1
		}
		base := filepath.Join(*out, fmt.Sprintf("%s-%s-%s", sender.Tag(n.Campaign), sender.Tag(n.Org), sender.Tag(n.Stage)))
		if !writePreview(env, e, base) {
			return 1
		}
		fmt.Fprintf(env.stdout, "preview of %s/%s/%s as on %s (template %s)\n  subject: %s\n  to: %v\n  accounts: %d rows, attachment %s\n  wrote %s.html, %s.txt, %s.eml\n",
			n.Campaign, n.Org, n.Stage, n.PlannedFor, e.Template, e.Subject, e.To, len(n.Accounts), e.CSVName, base, base, base)
		return 0
	})
}

// writePreview writes e as base.html, base.txt and base.eml (the folder created if missing).
func writePreview(env *cliEnv, e *notice.Email, base string) bool {
	eml, err := e.EML()
	if err == nil {
		err = os.MkdirAll(filepath.Dir(base), 0o755)
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".html", []byte(e.HTML)}, {".txt", []byte(e.Text)}, {".eml", eml}} {
		if err == nil {
			err = os.WriteFile(base+f.ext, f.data, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "sunset preview: %v\n", err)
		return false
	}
	return true
}
