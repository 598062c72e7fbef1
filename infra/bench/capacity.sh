#!/usr/bin/env bash
# capacity.sh: a scaled-down national day through the ingest path on the local stack
# (ingestbench capacity): SERVERS front-end servers each writing an HttpProxy log an hour in
# which every one of ACCOUNTS legacy accounts appears, ALB_NODES load-balancer nodes writing a
# log every five minutes (ALB_IPS addresses each), the hourly merge after each hour. Prints the
# write requests, the write units (the local stand-in reports the table's share; docs/capacity.md
# adds the indexes'), the write units a key-day and a key-hour, the largest item, wall time.
# Usage: infra/bench/capacity.sh   (SERVERS=40 HOURS=24 ACCOUNTS=2000 ALB_NODES=3 ALB_IPS=300)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
make -s local-up >/dev/null
eval "$(go run ./infra/local/stack env)"
mkdir -p .bench
go build -o .bench/ingestbench ./infra/bench/ingestbench
.bench/ingestbench capacity --campaign infra/demo/data/campaign.yaml -servers "${SERVERS:-40}" -hours "${HOURS:-24}" \
	-accounts "${ACCOUNTS:-2000}" -alb-nodes "${ALB_NODES:-3}" -alb-ips "${ALB_IPS:-300}"
