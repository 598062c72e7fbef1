#!/usr/bin/env bash
# ingest.sh: ingest of a generated 1M-line IIS log into the local stack (DynamoDB write
# requests vs distinct finding keys, wall time next to `sunset scan` of the same file); ten
# files ingested at once with throttling injected (nothing lost, nothing doubled); and a
# directory import of generated organisations/accounts CSVs (time, peak memory).
# Needs the local stack (make local-up). Generated files go to $BENCH_DIR (default
# /tmp/sunset-bench), outside the repository.
# Usage: infra/bench/ingest.sh [LOG_LINES] [ORGS] [ACCOUNTS]   (default 1000000 30000 1500000)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
lines=${1:-${BENCH_INGEST_LINES:-1000000}}
orgs=${2:-${BENCH_ORGS:-30000}}
accounts=${3:-${BENCH_ACCOUNTS:-1500000}}
dir=${BENCH_DIR:-/tmp/sunset-bench}
campaign="$root/shared/campaign/testdata/full.yaml"
mkdir -p "$dir"

echo "building sunset, the generator and ingestbench..." >&2
(cd "$root" && go build -o "$dir/sunset" ./cmd/sunset && go build -o "$dir/genw3c" ./infra/bench/genw3c &&
	go build -o "$dir/ingestbench" ./infra/bench/ingestbench)
eval "$(cd "$root" && go run ./infra/local/stack env)"

log="$dir/w3c-$lines-ingest.log"
if [ ! -s "$log" ]; then
	echo "generating $log..." >&2
	"$dir/genw3c" -lines "$lines" -legacy 0.02 >"$log.tmp" && mv "$log.tmp" "$log"
fi

s=$(date +%s.%N)
"$dir/sunset" scan --quiet --by-day --campaign "$campaign" "$log" >"$dir/scan.out"
scan_s=$(echo "$(date +%s.%N) - $s" | bc -l)
scan_keys=$(wc -l <"$dir/scan.out")

echo "ingesting $log..." >&2
s=$(date +%s.%N)
res=$("$dir/ingestbench" ingest --campaign "$campaign" "$log")
ingest_s=$(echo "$(date +%s.%N) - $s" | bc -l)
get() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$res"; }

echo
echo "### Ingest of a ${lines}-line IIS log (2% legacy) into the local DynamoDB (dynalite)"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| log lines | $(get lines) |"
echo "| legacy events | $(get events) |"
echo "| distinct keys (account, host, protocol, day), \`sunset scan --by-day\` | $scan_keys |"
echo "| distinct keys stored (read back by day) | $(get stored_keys) |"
echo "| finding writes by the merge (UpdateItem, one a key) | $(get merge_writes) |"
echo "| all UpdateItem requests (the file's commit, the merge's lease, seals and state too) | $(get update_items) |"
echo "| ledger write requests (PutItem) | $(get put_items) |"
echo "| finding writes on redelivery of the same object | $(get redelivery_updates) |"
echo "| \`sunset scan\` of the same file (s) | $(printf '%.2f' "$scan_s") |"
echo "| ingest, scan + writes (s) | $(get seconds) |"
if [ "$(get merge_writes)" != "$(get stored_keys)" ] || [ "$(get merge_writes)" != "$scan_keys" ]; then
	echo "ingest.sh: finding writes ($(get merge_writes)) != distinct keys ($scan_keys / $(get stored_keys))" >&2
	exit 1
fi

# Ten files ingested at once (more than the ingest Lambda's MaximumConcurrency of 4), one write
# attempt in five throttled: every key must be stored once with the sum of its files' totals.
conc_lines=${BENCH_CONCURRENT_LINES:-200000}
conc_logs=()
for i in $(seq 1 10); do
	f="$dir/w3c-$conc_lines-seed$i.log"
	[ -s "$f" ] || "$dir/genw3c" -lines "$conc_lines" -legacy 0.3 -seed "$i" >"$f"
	conc_logs+=("$f")
done
echo "ingesting 10 files at once with throttling..." >&2
res=$("$dir/ingestbench" concurrent --campaign "$campaign" --throttle 0.2 "${conc_logs[@]}")
echo
echo "### 10 files of ${conc_lines} lines (30% legacy) ingested at once, 1 write attempt in 5 throttled"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| distinct keys in the files (account, host, protocol, day) | $(get keys) |"
echo "| keys stored | $(get stored_keys) |"
echo "| finding write requests (UpdateItem, before SDK retries) | $(get update_items) |"
echo "| findings the files' ingests wrote (sum of per-file distinct keys) | $(get writes_wanted) |"
echo "| write attempts throttled (retried by the SDK) | $(get throttled) |"
echo "| findings lost / doubled | $(get lost) / $(get doubled) |"
echo "| wall time (s) | $(get seconds) |"

# One file of BUDGET_ACCOUNTS distinct accounts with the scanner held to BUDGET_MIB: findings are
# written in parts and merged in the table; every account must be stored once with one
# success. 3M accounts take dynalite about an hour and, in memory, most of 24 GB: run it on a
# disk-backed dynalite (node infra/local/dynalite.js --port 8010 --path DIR, and
# AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8010). BUDGET_ACCOUNTS=0 skips it.
budget_accounts=${BUDGET_ACCOUNTS:-300000} budget_mib=${BUDGET_MIB:-16}
if [ "$budget_accounts" -gt 0 ]; then
	echo "ingesting $budget_accounts distinct accounts under a $budget_mib MiB scanner budget..." >&2
	res=$(GOMEMLIMIT=${BUDGET_GOMEMLIMIT:-64MiB} "$dir/ingestbench" budget --campaign "$campaign" --accounts "$budget_accounts" --budget-mib "$budget_mib")
	echo
	echo "### One file of $budget_accounts distinct accounts, scanner budget $budget_mib MiB"
	echo
	echo "| measure | value |"
	echo "|---|---|"
	for k in $(tr ' ' '\n' <<<"$res" | cut -d= -f1); do echo "| $k | $(get "$k") |"; done
fi

o="$dir/orgs-$orgs.csv" a="$dir/accounts-$accounts.csv"
if [ ! -s "$o" ] || [ ! -s "$a" ]; then
	echo "generating $o and $a..." >&2
	awk -v n="$orgs" 'BEGIN { print "ods_code,name,la_emails,pla_email,subdomain";
		for (i = 0; i < n; i++) printf "X%05d,\"Organisation %d, Somewhere\",la1.x%05d@nhs.net;la2.x%05d@nhs.net,pla.x%05d@nhs.net,%s\n", i, i, i, i, i, (i % 10 == 0 ? sprintf("x%05d.nhs.net", i) : "") }' >"$o"
	awk -v n="$accounts" -v orgs="$orgs" 'BEGIN { print "email,ods_code,type";
		split("user user user shared application", t, " ");
		for (i = 0; i < n; i++) printf "person.%07d@nhs.net,X%05d,%s\n", i, i % orgs, t[1 + i % 5] }' >"$a"
fi
echo "importing the directory ($orgs organisations, $accounts accounts)..." >&2
if [ -x /usr/bin/time ]; then
	/usr/bin/time -v -o "$dir/time.txt" "$dir/ingestbench" directory "$o" "$a" >"$dir/dir.out"
	rss=$(awk -F: '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$dir/time.txt")
else
	"$dir/ingestbench" directory "$o" "$a" >"$dir/dir.out"
	rss="n/a"
fi
res=$(cat "$dir/dir.out")
echo
echo "### Directory import: $orgs organisations, $accounts accounts (streamed, batches of 25)"
echo
echo "| measure | value |"
echo "|---|---|"
echo "| organisations / sub-domains / accounts imported | $(get orgs) / $(get subdomains) / $(get accounts) |"
echo "| BatchWriteItem requests | $(get batch_writes) |"
echo "| wall time (s) | $(get seconds) |"
echo "| peak Go heap in use (MiB) | $(get peak_heap_mib) |"
echo "| peak RSS of the process (MiB) | $rss |"
