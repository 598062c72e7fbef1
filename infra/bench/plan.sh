#!/usr/bin/env bash
# Planner benchmark on the local stack: seed a directory of ORGS organisations (ACCOUNTS_PER_ORG
# accounts each) and FINDINGS finding items over AFFECTED organisations, then time one dry-run
# plan, count its DynamoDB requests by operation and report peak heap and the plan process's
# peak RSS. Defaults are the issue's figures (30k organisations, 300k findings); seeding them on
# dynalite takes a while. Override with e.g. ORGS=3000 FINDINGS=30000 AFFECTED=300.
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s local-env)"
make -s local-up >/dev/null
ORGS=${ORGS:-30000} AFFECTED=${AFFECTED:-3000} FINDINGS=${FINDINGS:-300000} ACCOUNTS_PER_ORG=${ACCOUNTS_PER_ORG:-10}
mkdir -p .bench
go build -o .bench/planbench ./infra/bench/planbench
args=(-orgs "$ORGS" -affected "$AFFECTED" -findings "$FINDINGS" -accounts-per-org "$ACCOUNTS_PER_ORG")
table=$(.bench/planbench "${args[@]}" -phase seed)
trap '.bench/planbench -table "$table" -phase drop' EXIT
echo "planner: $ORGS organisations, $AFFECTED affected, $FINDINGS findings (table $table)"
/usr/bin/time -f "plan process peak RSS: %M KiB" .bench/planbench "${args[@]}" -table "$table" -phase plan
