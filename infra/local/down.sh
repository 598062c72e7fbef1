#!/usr/bin/env bash
# Stops exactly the processes `make local-up` (and `make demo`, the console) started, by pid
# file: `make local-down`.
set -uo pipefail
run="$(cd "$(dirname "$0")" && pwd)/.run"
for name in console dynalite ses s3; do
  pidfile="$run/$name.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    echo "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile"
done
