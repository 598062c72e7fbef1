#!/usr/bin/env bash
# scan.sh: how fast and how lean `sunset scan` reads large IIS W3C logs, against mawk doing the
# same aggregation, grep -cF for the legacy hostnames and zcat for the gzip case.
#
# Two workload shapes (infra/bench/genw3c): narrow, 20,000 accounts each with one home address
# and one device; wide, 50,000 accounts over four legacy hostnames and five kinds of request,
# with a client address and device id that change from request to request (many more findings,
# and nearly every legacy event adds list values). Then one file of ~3M distinct findings, for
# the bytes a finding costs.
#
# Every figure is the best of BENCH_RUNS (default 5) runs, interleaved (round 1: each tool once,
# round 2: ...) so that load from other users of a shared machine falls on all tools alike.
# CPU seconds (user+sys) per GB do not depend on how many cores are free; wall-clock MB/s do.
# Generated logs go to $BENCH_DIR (default /tmp/sunset-bench), outside the repository.
# Usage: infra/bench/scan.sh [LINES]   (default 3000000, ~700 MB a file)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
lines=${1:-${BENCH_LINES:-3000000}}
dir=${BENCH_DIR:-/tmp/sunset-bench}
runs=${BENCH_RUNS:-5}
campaign="$root/infra/bench/campaign-bench.yaml"
mkdir -p "$dir"

for tool in mawk grep zcat gzip /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "scan.sh: $tool is required (GNU time: apt-get install time)" >&2; exit 1; }
done

echo "building sunset and the generator..." >&2
(cd "$root" && go build -o "$dir/sunset" ./cmd/sunset && go build -o "$dir/genw3c" ./infra/bench/genw3c && go build -o "$dir/inflate" ./infra/bench/inflate)

# gen NAME ARGS...: generate $dir/NAME.log (and .gz) unless present.
gen() {
	local name=$1 f="$dir/$1.log"
	shift
	if [ ! -s "$f" ]; then
		echo "generating $f..." >&2
		"$dir/genw3c" "$@" >"$f.tmp" && mv "$f.tmp" "$f"
	fi
	if [ ! -s "$f.gz" ]; then
		echo "compressing $f..." >&2
		gzip -c -6 "$f" >"$f.gz.tmp" && mv "$f.gz.tmp" "$f.gz"
	fi
}
gen "narrow-$lines-2" -lines "$lines" -legacy 0.02
gen "narrow-$lines-30" -lines "$lines" -legacy 0.30
gen "wide-$lines-30" -lines "$lines" -legacy 0.30 -wide
gen "findings-$lines" -lines "$lines" -legacy 1 -wide -accounts 1000000

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

# measure NAME OUT CMD...: one run; keeps per NAME the best wall, best CPU and largest RSS.
declare -A wall cpu rss
measure() {
	local name=$1 out=$2 m w c r
	shift 2
	m=$(/usr/bin/time -f '%e %U %S %M' "$@" 2>&1 >"$out" | tail -1)
	read -r w u s r <<<"$m"
	c=$(echo "$u + $s" | bc -l)
	if [ -z "${wall[$name]:-}" ] || [ "$(echo "$w < ${wall[$name]}" | bc -l)" = 1 ]; then wall[$name]=$w; fi
	if [ -z "${cpu[$name]:-}" ] || [ "$(echo "$c < ${cpu[$name]}" | bc -l)" = 1 ]; then cpu[$name]=$c; fi
	if [ -z "${rss[$name]:-}" ] || [ "$r" -gt "${rss[$name]}" ]; then rss[$name]=$r; fi
}

scan=("$dir/sunset" scan --quiet --campaign "$campaign")
grepcmd=(grep -cF -e imap.nhs.net -e pop.nhs.net -e smtp.nhs.net -e eas.nhs.net -e mail.nhs.net -e outlook.nhs.net)
mbs() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", b/1048576/s}'; }
pergb() { awk -v b="$1" -v c="$2" 'BEGIN {printf "%.2f", c/(b/1e9)}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k/1024}'; }

printf '\n| input (%s lines) | MB | findings | sunset MB/s | mawk MB/s | grep MB/s | sunset / mawk wall | sunset / grep | sunset CPU s/GB | mawk CPU s/GB | CPU vs mawk | peak RSS |\n' "$lines"
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for f in "narrow-$lines-2" "narrow-$lines-30" "wide-$lines-30"; do
	path="$dir/$f.log"
	size=$(stat -L -c %s "$path")
	cat "$path" >/dev/null # warm the page cache
	wall=() cpu=() rss=()
	for _ in $(seq "$runs"); do
		measure scan "$dir/out.jsonl" "${scan[@]}" "$path"
		measure awk "$dir/out" mawk "$awkprog" "$path"
		# grep writes to a file: GNU grep stops at the first match when its output is /dev/null.
		measure grep "$dir/out" "${grepcmd[@]}" "$path"
	done
	n=$(wc -l <"$dir/out.jsonl")
	printf '| %s | %.0f | %s | %s | %s | %s | %sx | %.0f%% | %s | %s | %s | %s MiB |\n' "$f" "$(echo "$size/1048576" | bc -l)" "$n" \
		"$(mbs "$size" "${wall[scan]}")" "$(mbs "$size" "${wall[awk]}")" "$(mbs "$size" "${wall[grep]}")" \
		"$(ratio "${wall[awk]}" "${wall[scan]}")" "$(echo "100*${wall[grep]}/${wall[scan]}" | bc -l)" \
		"$(pergb "$size" "${cpu[scan]}")" "$(pergb "$size" "${cpu[awk]}")" "$(ratio "${cpu[scan]}" "${cpu[awk]}")" "$(mib "${rss[scan]}")"
done

# inflate: the same library inflating alone, one core (a deflate stream is one chain). Its wall
# time is the least a gzip scan can take; zcat / inflate is the most "sunset / zcat" can be.
printf '\n| gzip input | MB (gz) | sunset MB/s* | zcat MB/s* | sunset / zcat wall | ceiling: zcat / inflate alone | sunset CPU s/GB* | inflate CPU s/GB* | zcat CPU s/GB* | peak RSS |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for f in "narrow-$lines-30" "wide-$lines-30"; do
	path="$dir/$f.log"
	size=$(stat -L -c %s "$path")
	cat "$path.gz" >/dev/null
	wall=() cpu=() rss=()
	for _ in $(seq "$runs"); do
		measure scan /dev/null "${scan[@]}" "$path.gz"
		measure zcat /dev/null zcat "$path.gz"
		measure inflate /dev/null "$dir/inflate" "$path.gz"
	done
	printf '| %s.gz | %.0f | %s | %s | %sx | %sx | %s | %s | %s | %s MiB |\n' "$f" "$(echo "$(stat -L -c %s "$path.gz")/1048576" | bc -l)" \
		"$(mbs "$size" "${wall[scan]}")" "$(mbs "$size" "${wall[zcat]}")" "$(ratio "${wall[zcat]}" "${wall[scan]}")" \
		"$(ratio "${wall[zcat]}" "${wall[inflate]}")" "$(pergb "$size" "${cpu[scan]}")" "$(pergb "$size" "${cpu[inflate]}")" \
		"$(pergb "$size" "${cpu[zcat]}")" "$(mib "${rss[scan]}")"
done
echo "* MB of uncompressed log."

# Bytes a finding costs: one file of ~3M distinct findings, scanned once.
path="$dir/findings-$lines.log"
wall=() cpu=() rss=()
measure scan "$dir/out.jsonl" "${scan[@]}" "$path"
n=$(wc -l <"$dir/out.jsonl")
printf '\n%s distinct findings in one file: peak RSS %s MiB, %.0f bytes a finding; %s CPU s.\n' "$n" "$(mib "${rss[scan]}")" \
	"$(echo "${rss[scan]}*1024/$n" | bc -l)" "${cpu[scan]}"
echo "Best of $runs interleaved runs; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Targets at 30% legacy: CPU s/GB at most half of mawk's (CPU vs mawk <= 0.50), >= 3x mawk wall, >= 80% of grep -cF, gzip >= 2x zcat; peak RSS < 64 MiB narrow, < 150 MiB wide."
rm -f "$dir/out" "$dir/out.jsonl"
