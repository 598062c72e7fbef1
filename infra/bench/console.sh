#!/usr/bin/env bash
# Console benchmark on the local stack: a campaign of AFFECTED organisations (PER_ORG findings
# each, default 100) in a directory of as many, one daily run (planner.RunLean, which records the progress
# the console reads), then each console page and API route RUNS times through the API Lambda's
# handler (planbench -phase console), and the CLI's dry run. Prints one row a request: median, p99, slowest, size and
# the DynamoDB requests of one answer, the peak heap. Defaults: AFFECTED=3000 PER_ORG=100 RUNS=30
# REPORT_RUNS=5 DAYS=30 (seeding 300k findings takes a few minutes on dynalite); 30,000
# affected organisations: AFFECTED=30000 PER_ORG=6 DAYS=3 (each org's findings over 3 days:
# dynalite will not hold 1.8M findings beside the tests).
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s local-env)"
make -s local-up >/dev/null
AFFECTED=${AFFECTED:-3000} PER_ORG=${PER_ORG:-100} DAYS=${DAYS:-30} RUNS=${RUNS:-30} REPORT_RUNS=${REPORT_RUNS:-5} WRITERS=${WRITERS:-16}
mkdir -p .bench
go build -o .bench/planbench ./infra/bench/planbench
pb() { .bench/planbench -accounts-per-org 10 -days "$DAYS" -writers "$WRITERS" "$@"; }
table=$(pb -phase create)
trap 'pb -table "$table" -phase drop' EXIT
pb -table "$table" -phase directory -orgs "$AFFECTED"
pb -table "$table" -phase findings -campaign bench-console -affected "$AFFECTED" -findings $((AFFECTED * PER_ORG))
pb -table "$table" -phase run -campaign bench-console -orgs "$AFFECTED" -affected "$AFFECTED" -findings $((AFFECTED * PER_ORG)) >/dev/null
go test -run '^$' -bench 'BenchmarkCampaignPage' -benchmem ./shared/api | grep '^Benchmark'
echo
# The CLI's dry run of the same day (sunset plan streams it: PlanEach), in a process of its own.
pb -phase header
pb -table "$table" -phase plan -each -runs 1 -campaign bench-console -orgs "$AFFECTED" -affected "$AFFECTED" -findings $((AFFECTED * PER_ORG))
echo
pb -table "$table" -phase console -campaign bench-console -affected "$AFFECTED" -findings $((AFFECTED * PER_ORG)) -runs "$RUNS" -report-runs "$REPORT_RUNS"
