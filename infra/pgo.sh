#!/usr/bin/env bash
# pgo.sh: writes the CPU profile that Go builds `sunset` and the ingest Lambda with
# (profile-guided optimisation: the go command uses a main package's default.pgo by itself, so `go
# build` and `make build` do, and sam build, which runs go build in the function's folder). It scans generated logs of the bench's two shapes
# (infra/bench/genw3c: narrow and wide, 3M lines each at 30% legacy, and 1M wide lines
# gzip-compressed) with `sunset scan --cpuprofile`, merges the profiles and writes
# cmd/sunset/default.pgo (functions/ingest/default.pgo is a link to it). Rerun it (`make pgo`)
# after a change to the scanner, and commit the file. Takes about a minute; the logs (1.5 GB) go
# to a temporary directory, removed at the end.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$root"
go build -o "$dir/sunset" ./cmd/sunset
go build -o "$dir/genw3c" ./infra/bench/genw3c
"$dir/genw3c" -lines 3000000 -legacy 0.30 >"$dir/narrow.log"
"$dir/genw3c" -lines 3000000 -legacy 0.30 -wide >"$dir/wide.log"
"$dir/genw3c" -lines 1000000 -legacy 0.30 -wide -seed 2 | gzip -6 >"$dir/wide-gz.log.gz"
# Three scans of each: a profile is a sample, and the compiler's choices follow its hottest calls.
for f in narrow.log wide.log wide-gz.log.gz; do
	for i in 1 2 3; do
		"$dir/sunset" scan --quiet --campaign infra/bench/campaign-bench.yaml --cpuprofile "$dir/$f.$i.pprof" "$dir/$f" >/dev/null
	done
done
go tool pprof -proto "$dir"/*.pprof >"$dir/merged.pgo"
cp "$dir/merged.pgo" cmd/sunset/default.pgo
echo "wrote cmd/sunset/default.pgo ($(stat -c %s cmd/sunset/default.pgo) bytes), which functions/ingest/default.pgo links to"
