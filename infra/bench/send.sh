#!/usr/bin/env bash
# send.sh: delivery throughput for `make bench`: the render Go benchmark, then render + send of
# N notices (default 10000) to a private SES v2 emulator (its own port and quota, so the shared
# one on :8005 keeps its store small for everyone's tests), and the full sender (ledger on the
# local dynalite + SES) for FULL notices. Prints markdown tables and peak memory.
# Usage: infra/bench/send.sh   (N=5000 FULL=5000 CONCURRENCY=8 ROWS=4 PORT=8015)
set -euo pipefail
cd "$(dirname "$0")/../.."
eval "$(make -s local-env)"
make -s local-up >/dev/null
N=${N:-5000} FULL=${FULL:-5000} CONCURRENCY=${CONCURRENCY:-8} ROWS=${ROWS:-4} PORT=${PORT:-8015}

echo "render benchmark (go test -bench BenchmarkRender ./shared/notice):"
go test -run '^$' -bench BenchmarkRender -benchmem ./shared/notice | grep '^Benchmark'
echo

# A private emulator with a quota high enough to measure Sunset, not the quota.
account=$(sed 's/"MaxSendRate": *[0-9]*/"MaxSendRate": 100000/' infra/local/ses-account.json)
log=$(mktemp)
AWS_SES_ACCOUNT="$account" node infra/local/node_modules/aws-ses-v2-local/dist/cli.js --host 127.0.0.1 --port "$PORT" >"$log" 2>&1 &
ses_pid=$!
trap 'kill "$ses_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/health-check" >/dev/null 2>&1 && break; sleep 0.2; done

mkdir -p .bench
go build -o .bench/sendbench ./infra/bench/sendbench
.bench/sendbench -n "$N" -full "$FULL" -concurrency "$CONCURRENCY" -rows "$ROWS" -ses "http://127.0.0.1:$PORT" \
	-peer "dynalite=$(cat infra/local/.run/dynalite.pid)" -peer "SES emulator=$ses_pid"
echo "(the SES quota, not Sunset, bounds production sending: 14-100 emails/s on typical accounts;"
echo " the sender keeps to it with a token bucket from GetAccount.SendQuota.MaxSendRate)"
