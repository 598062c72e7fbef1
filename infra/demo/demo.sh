#!/usr/bin/env bash
# `make demo`: the main job end to end on the local stack. The stack stays up afterwards
# (`make local-down` stops it) so the emails can be read in the SES viewer.
set -euo pipefail
cd "$(dirname "$0")/../.."
infra/local/up.sh
echo
echo "== Local stack health"
go run ./infra/local/stack health

# The journey: a fictional directory, the 2021 hostname campaign, connection logs of several
# days in three real formats (IIS W3C incl. gzip, Exchange IMAP4 and SMTP Receive protocol
# logs), then the daily run on successive dates. Data: infra/demo/data (gen_logs.py made the logs).
eval "$(go run ./infra/local/stack env)"
export SUNSET_LOCAL=1
# DEMO_TABLE: another table of the local stack (infra/demo_test.go runs the demo on its own).
export SUNSET_TABLE=${DEMO_TABLE:-$SUNSET_TABLE}
data=infra/demo/data
campaign=demo-legacy-hostnames-2021
mkdir -p .demo
go build -o .demo/sunset ./cmd/sunset
go build -o .demo/summary ./infra/demo/summary
sunset() { .demo/sunset "$@"; }
# (grep finds nothing in an empty store and exits 1: that is a count of 0, not a failure)
emails() { curl -fsS http://127.0.0.1:8005/store | { grep -o '"messageId"' || true; } | wc -l | tr -d ' '; }
before=$(emails)

echo
echo "== Import the organisation directory"
sunset directory import --orgs "$data/orgs.csv" --accounts "$data/accounts.csv"
echo
echo "== Apply the campaign (shutdown 07 September 2021; applied as on 01 July 2021)"
sunset campaign apply "$data/campaign.yaml" --at 2021-07-01 --by demo

day() { # day DATE TITLE LOG_PHASE
  echo
  echo "== $2"
  if [ -n "$3" ]; then
    echo "-- ingest the logs of phase $3"
    sunset ingest --campaign "$campaign" "$data"/logs/"$3"/*
  fi
  echo "-- sunset run --at $1"
  sunset run --campaign "$campaign" --at "$1" --json | .demo/summary
}

day 2021-07-27 "27 July 2021: advance notice (42 days before)" 1
day 2021-08-17 "17 August 2021: reminder. Thameside fixed its accounts, so it is not reminded" 2
day 2021-08-31 "31 August 2021: final reminder. Meadowbank has fixed its accounts too" 3
day 2021-09-07 "07 September 2021: the hostnames are retired" ""

echo
echo "== sunset report --campaign $campaign"
sunset report --campaign "$campaign"

after=$(emails)
echo
echo "== Emails sent by this demo run: $((after - before))"
echo "   Run 'make demo' again: it sends nothing new. Every notice is in the ledger (one per"
echo "   organisation per stage, ever), every log file in the file ledger, so a repeat is a no-op."
# The team's console on the demo's data (sunset serve --local, signed in as an operator named
# demo); DEMO_CONSOLE=no leaves it off (the tests run their own).
console_url=http://127.0.0.1:8080/console/
if [ "${DEMO_CONSOLE:-yes}" != no ]; then
  run=infra/local/.run
  if [ -f "$run/console.pid" ] && kill -0 "$(cat "$run/console.pid")" 2>/dev/null; then
    kill "$(cat "$run/console.pid")"; sleep 0.5
  fi
  # --at: the console runs on the demo's calendar, so its pages and the notices' answer links
  # (which expire with the campaign's retention) are as on the day of the switch-off.
  nohup .demo/sunset serve --local --role operator --as demo --at 2021-09-07 >"$run/console.log" 2>&1 &
  echo $! >"$run/console.pid"
  for _ in $(seq 50); do curl -fsS -o /dev/null "$console_url" 2>/dev/null && break; sleep 0.1; done
fi

echo
echo "Read every email in the SES viewer: http://127.0.0.1:8005"
if [ "${DEMO_CONSOLE:-yes}" != no ]; then
  echo "See the campaign in the team's console:  $console_url (signed in locally as an operator)"
fi
echo "The local stack stays up; 'make local-down' stops it."
