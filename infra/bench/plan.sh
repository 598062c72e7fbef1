#!/usr/bin/env bash
# Planner benchmark on the local stack: do plan time, reads and memory grow with the affected
# organisations and their findings, and not with the directory? One table, one directory, three
# campaigns of 100 findings per affected organisation: bench-s (AFFECTED/10 organisations),
# bench-m (AFFECTED) and bench-l (AFFECTED*10). Each plan or run is a process of its own, so
# its peak RSS is the plan's:
#   plans (dry runs, best of RUNS): bench-m with a directory of AFFECTED organisations, then,
#     with the directory grown to ORGS, bench-s, bench-m and bench-l;
#   runs (once each, what the scheduled Lambda does: planner.RunLean claims every due notice
#     and hands it to a dispatcher that counts, a chunk of organisations at a time).
# Defaults are the issue's figures: 300 / 3,000 / 30,000 affected organisations (30k, 300k and
# 3M findings) in a directory of 30,000 organisations of 10 accounts. Seeding the 3.3M findings
# takes about half an hour on dynalite. Smaller: AFFECTED=300 ORGS=3000.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s local-env)"
make -s local-up >/dev/null
AFFECTED=${AFFECTED:-3000} ORGS=${ORGS:-30000}
ACCOUNTS_PER_ORG=${ACCOUNTS_PER_ORG:-10} WRITERS=${WRITERS:-16} RUNS=${RUNS:-3}
S=$((AFFECTED / 10)) M=$AFFECTED L=$((AFFECTED * 10))
mkdir -p .bench
go build -o .bench/planbench ./infra/bench/planbench
pb() { .bench/planbench -accounts-per-org "$ACCOUNTS_PER_ORG" -writers "$WRITERS" -runs "$RUNS" "$@"; }

start=$SECONDS
table=$(pb -phase create)
trap 'pb -table "$table" -phase drop' EXIT
echo "planner: table $table; $M then $ORGS organisations of $ACCOUNTS_PER_ORG accounts" >&2
pb -table "$table" -phase directory -orgs "$M"
pb -table "$table" -phase findings -campaign bench-m -affected "$M" -findings $((M * 100))
rows=$(pb -table "$table" -phase plan -campaign bench-m -orgs "$M" -affected "$M" -findings $((M * 100)))
pb -table "$table" -phase directory -from "$M" -orgs "$ORGS"
pb -table "$table" -phase findings -campaign bench-s -affected "$S" -findings $((S * 100))
pb -table "$table" -phase findings -campaign bench-l -affected "$L" -findings $((L * 100))
for c in s m l; do
  n=$(eval echo "\$$(echo $c | tr a-z A-Z)")
  rows+=$'\n'$(pb -table "$table" -phase plan -campaign bench-$c -orgs "$ORGS" -affected "$n" -findings $((n * 100)))
done
runs=""
for c in s m l; do
  n=$(eval echo "\$$(echo $c | tr a-z A-Z)")
  runs+=$(pb -table "$table" -phase run -campaign bench-$c -orgs "$ORGS" -affected "$n" -findings $((n * 100)))$'\n'
done
echo "planner: seeded, planned and ran in $((SECONDS - start)) s" >&2
echo "plans (dry runs):"
pb -phase header
echo "$rows"
echo
echo "runs (RunLean: claims and hands over every due notice):"
pb -phase run-header
printf '%s' "$runs"
