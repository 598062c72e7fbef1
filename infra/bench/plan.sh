#!/usr/bin/env bash
# Planner benchmark on the local stack: does planning cost grow with the affected organisations
# and not with the directory? One table holds two campaigns over the same directory: `bench`
# (FINDINGS findings over AFFECTED organisations) and `bench-tenth` (a tenth of both). Plans,
# each a dry run in a process of its own:
#   1. bench        with a directory of SMALL_ORGS organisations (default ORGS/10)
#   2. bench        after the directory has grown to ORGS organisations (same findings)
#   3. bench-tenth  with the ORGS directory
# Rows 1 and 2 should read about the same; row 3 about a tenth. Each row: plan wall time (the
# best of RUNS plans: other work shares the local DynamoDB), DynamoDB requests of one plan by
# operation, peak Go heap, peak RSS of the plan process.
# Defaults are the issue's figures (30k organisations of 10 accounts, 300k findings over 3,000 of
# them). Smaller: ORGS=3000 AFFECTED=300 FINDINGS=30000. WRITERS sets the seeding concurrency.
# Seeding uses BatchWriteItem (findingstest.Items for the finding items, directory.Import for the
# directory) and then reads every finding back with findings.Reader.Window.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s local-env)"
make -s local-up >/dev/null
ORGS=${ORGS:-30000} AFFECTED=${AFFECTED:-3000} FINDINGS=${FINDINGS:-300000}
ACCOUNTS_PER_ORG=${ACCOUNTS_PER_ORG:-10} WRITERS=${WRITERS:-16} RUNS=${RUNS:-3}
SMALL_ORGS=${SMALL_ORGS:-$((ORGS / 10 > AFFECTED ? ORGS / 10 : AFFECTED))}
mkdir -p .bench
go build -o .bench/planbench ./infra/bench/planbench
pb() { .bench/planbench -accounts-per-org "$ACCOUNTS_PER_ORG" -writers "$WRITERS" -runs "$RUNS" "$@"; }

start=$SECONDS
table=$(pb -phase create)
trap 'pb -table "$table" -phase drop' EXIT
echo "planner: table $table; $SMALL_ORGS then $ORGS organisations of $ACCOUNTS_PER_ORG accounts" >&2
pb -table "$table" -phase directory -orgs "$SMALL_ORGS"
pb -table "$table" -phase findings -campaign bench -affected "$AFFECTED" -findings "$FINDINGS"
pb -table "$table" -phase findings -campaign bench-tenth -affected $((AFFECTED / 10)) -findings $((FINDINGS / 10))
rows=$(pb -table "$table" -phase plan -campaign bench -orgs "$SMALL_ORGS" -affected "$AFFECTED" -findings "$FINDINGS")
pb -table "$table" -phase directory -from "$SMALL_ORGS" -orgs "$ORGS"
rows+=$'\n'$(pb -table "$table" -phase plan -campaign bench -orgs "$ORGS" -affected "$AFFECTED" -findings "$FINDINGS")
rows+=$'\n'$(pb -table "$table" -phase plan -campaign bench-tenth -orgs "$ORGS" -affected $((AFFECTED / 10)) -findings $((FINDINGS / 10)))
echo "planner: seeded and planned in $((SECONDS - start)) s" >&2
pb -phase header
echo "$rows"
