#!/usr/bin/env bash
# scan.sh: how fast `sunset scan` reads a large IIS W3C log, against mawk doing the same
# aggregation, grep -cF for the legacy hostnames and zcat for the gzip case; plus peak RSS.
# Generated logs go to $BENCH_DIR (default /tmp/sunset-bench), outside the repository.
# Usage: infra/bench/scan.sh [LINES]   (default 3000000, ~500 MB)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
lines=${1:-${BENCH_LINES:-3000000}}
dir=${BENCH_DIR:-/tmp/sunset-bench}
campaign="$root/infra/bench/campaign-bench.yaml"
mkdir -p "$dir"

for tool in mawk grep zcat gzip; do
	command -v "$tool" >/dev/null || { echo "scan.sh: $tool is required" >&2; exit 1; }
done

echo "building sunset and the generator..." >&2
(cd "$root" && go build -o "$dir/sunset" ./cmd/sunset && go build -o "$dir/genw3c" ./infra/bench/genw3c)

for pct in 2 30; do
	f="$dir/w3c-$lines-$pct.log"
	if [ ! -s "$f" ]; then
		echo "generating $f..." >&2
		"$dir/genw3c" -lines "$lines" -legacy "0.$(printf '%02d' "$pct")" >"$f.tmp" && mv "$f.tmp" "$f"
	fi
	if [ ! -s "$f.gz" ]; then
		echo "compressing $f..." >&2
		gzip -c -6 "$f" >"$f.gz.tmp" && mv "$f.gz.tmp" "$f.gz"
	fi
done

# seconds OUT CMD... : wall-clock seconds of one run, stdout to OUT.
seconds() {
	local out=$1 s e
	shift
	s=$(date +%s.%N)
	"$@" >"$out" 2>/dev/null || true
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

# Fairness: every tool reads the same file, from a warm page cache, and the runs are interleaved
# (round 1: each tool once, round 2: ...) so that load from other users of this shared machine
# falls on all of them alike; each tool keeps its best (least disturbed) run.
# grep writes to a file: GNU grep stops at the first match when its output is /dev/null.
# zcat writes to /dev/null, as `zcat file >/dev/null` (writing the log to a file would slow it).
runs=${BENCH_RUNS:-3}
declare -A best_t
# race NAME OUT CMD... (one run, kept when it is the best so far)
race() {
	local name=$1 out=$2 t
	shift 2
	t=$(seconds "$out" "$@")
	if [ -z "${best_t[$name]:-}" ] || [ "$(echo "$t < ${best_t[$name]}" | bc -l)" = 1 ]; then best_t[$name]=$t; fi
}

# peak_rss_mib CMD... : peak resident set size of CMD in MiB.
peak_rss_mib() {
	if /usr/bin/time -v true >/dev/null 2>&1; then
		/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {printf "%.1f", $2/1024}'
	else
		"$@" >/dev/null 2>&1 &
		local pid=$! hwm=0 v
		while kill -0 "$pid" 2>/dev/null; do
			v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ -n "$v" ] && [ "$v" -gt "$hwm" ] && hwm=$v
			sleep 0.05
		done
		wait "$pid" || true
		awk -v k="$hwm" 'BEGIN {printf "%.1f", k/1024}'
	fi
}

# The same aggregation in mawk: key = (account, legacy hostname from the HH token, stem).
awkprog='
BEGIN { split("imap.nhs.net pop.nhs.net smtp.nhs.net eas.nhs.net mail.nhs.net outlook.nhs.net", h, " "); for (i in h) legacy[h[i]] = 1 }
/^#/ { next }
{
	q = $6; i = index(q, "_HH:"); if (!i) next
	host = substr(q, i + 4); j = index(host, "_"); if (j) host = substr(host, 1, j - 1)
	host = tolower(host)
	if (host in legacy) n[tolower($8) SUBSEP host SUBSEP $5]++
}
END { for (k in n) c++; print c + 0 }'

scan=("$dir/sunset" scan --quiet --campaign "$campaign")
mb() { awk -v b="$1" 'BEGIN {printf "%.0f", b/1048576}'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/1048576/s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b/a}'; }

verdict() { awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t) ? "PASS" : "MISS"}'; }
rss_ok() { awk -v v="$1" 'BEGIN {print (v < 64) ? "PASS" : "MISS"}'; }

printf '\n%-24s %6s %11s %9s %9s %14s %14s %14s\n' "input ($lines lines)" "MB" "sunset MB/s" "mawk MB/s" "grep MB/s" "sunset/mawk" "sunset/grep" "peak RSS MiB"
for pct in 2 30; do
	f="$dir/w3c-$lines-$pct.log"
	size=$(stat -L -c %s "$f")
	cat "$f" >/dev/null # warm the page cache
	best_t=()
	for _ in $(seq "$runs"); do
		race scan "$dir/out" "${scan[@]}" "$f"
		race awk "$dir/out" mawk "$awkprog" "$f"
		race grep "$dir/out" grep -cF -e imap.nhs.net -e pop.nhs.net -e smtp.nhs.net -e eas.nhs.net -e mail.nhs.net -e outlook.nhs.net "$f"
	done
	rss=$(peak_rss_mib "${scan[@]}" "$f")
	r_awk=$(ratio "${best_t[scan]}" "${best_t[awk]}")
	r_grep=$(awk -v a="${best_t[scan]}" -v b="${best_t[grep]}" 'BEGIN {printf "%.0f", 100*b/a}')
	printf '%-24s %6s %11s %9s %9s %14s %14s %14s\n' "w3c $pct% legacy" "$(mb "$size")" "$(rate "$size" "${best_t[scan]}")" \
		"$(rate "$size" "${best_t[awk]}")" "$(rate "$size" "${best_t[grep]}")" "${r_awk}x $(verdict "$r_awk" 2)" \
		"${r_grep}% $(verdict "$r_grep" 40)" "$rss $(rss_ok "$rss")"
done

printf '\n%-24s %8s %13s %11s %16s %14s\n' "gzip input" "MB (gz)" "sunset MB/s*" "zcat MB/s*" "sunset vs zcat" "peak RSS MiB"
for pct in 2 30; do
	f="$dir/w3c-$lines-$pct.log"
	size=$(stat -L -c %s "$f")
	cat "$f.gz" >/dev/null
	best_t=()
	for _ in $(seq "$runs"); do
		race scan "$dir/out" "${scan[@]}" "$f.gz"
		race zcat /dev/null zcat "$f.gz"
	done
	rss=$(peak_rss_mib "${scan[@]}" "$f.gz")
	r=$(ratio "${best_t[scan]}" "${best_t[zcat]}")
	printf '%-24s %8s %13s %11s %16s %14s\n' "w3c $pct% legacy .gz" "$(mb "$(stat -L -c %s "$f.gz")")" "$(rate "$size" "${best_t[scan]}")" \
		"$(rate "$size" "${best_t[zcat]}")" "${r}x $(verdict "$r" 1)" "$rss $(rss_ok "$rss")"
done
echo "* MB/s of uncompressed log. Ratios above 1 mean sunset is faster. Best of $runs interleaved runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Targets: >= 2x mawk, >= 40% of grep -cF, gzip no slower than zcat (>= 1x), peak RSS < 64 MiB."
