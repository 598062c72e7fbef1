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

# seconds CMD... : wall-clock seconds of one run, output discarded.
seconds() {
	local s e
	s=$(date +%s.%N)
	# Output goes to a file, not /dev/null: GNU grep stops at the first match when it sees /dev/null.
	"$@" >"$dir/out" 2>/dev/null || true
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

# best CMD... : the best of three runs (the machine is shared; the minimum is the least noisy).
best() {
	local b="" t
	for _ in 1 2 3; do
		t=$(seconds "$@")
		if [ -z "$b" ] || [ "$(echo "$t < $b" | bc -l)" = 1 ]; then b=$t; fi
	done
	echo "$b"
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

printf '\n%-24s %8s %12s %10s %10s %12s %14s %12s\n' "input ($lines lines)" "MB" "sunset MB/s" "mawk MB/s" "grep MB/s" "sunset/mawk" "sunset/grep" "peak RSS MiB"
for pct in 2 30; do
	f="$dir/w3c-$lines-$pct.log"
	size=$(stat -c %s "$f")
	cat "$f" >/dev/null # warm the page cache
	t_scan=$(best "${scan[@]}" "$f")
	t_awk=$(best mawk "$awkprog" "$f")
	t_grep=$(best grep -cF -e imap.nhs.net -e pop.nhs.net -e smtp.nhs.net -e eas.nhs.net -e mail.nhs.net -e outlook.nhs.net "$f")
	rss=$(peak_rss_mib "${scan[@]}" "$f")
	printf '%-24s %8s %12s %10s %10s %11sx %13s%% %12s\n' "w3c $pct% legacy" "$(mb "$size")" "$(rate "$size" "$t_scan")" \
		"$(rate "$size" "$t_awk")" "$(rate "$size" "$t_grep")" "$(ratio "$t_scan" "$t_awk")" \
		"$(awk -v a="$t_scan" -v b="$t_grep" 'BEGIN {printf "%.0f", 100*b/a}')" "$rss"
done

printf '\n%-24s %8s %14s %12s %16s %12s\n' "gzip input" "MB (gz)" "sunset MB/s*" "zcat MB/s*" "sunset vs zcat" "peak RSS MiB"
for pct in 2 30; do
	f="$dir/w3c-$lines-$pct.log"
	size=$(stat -c %s "$f")
	cat "$f.gz" >/dev/null
	t_scan=$(best "${scan[@]}" "$f.gz")
	t_zcat=$(best zcat "$f.gz")
	rss=$(peak_rss_mib "${scan[@]}" "$f.gz")
	printf '%-24s %8s %14s %12s %15sx %12s\n' "w3c $pct% legacy .gz" "$(mb "$(stat -c %s "$f.gz")")" "$(rate "$size" "$t_scan")" \
		"$(rate "$size" "$t_zcat")" "$(ratio "$t_scan" "$t_zcat")" "$rss"
done
echo "* MB/s of uncompressed log. Ratios above 1 mean sunset is faster. Best of 3 runs; $(nproc) cores." 
echo "Targets: >= 2x mawk, >= 40% of grep -cF, gzip no slower than zcat (>= 1x), peak RSS < 64 MiB."
