#!/usr/bin/env bash
# Starts the local AWS stand-ins in the background and creates the table: `make local-up`.
# Idempotent: a service already started by us (live pid file) is left running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
run="$here/.run"
mkdir -p "$run"
cd "$here"

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

running() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() { # name port command...
  local name=$1 port=$2; shift 2
  if running "$name"; then
    echo "$name already running (pid $(cat "$run/$name.pid"))"
    return
  fi
  if port_busy "$port"; then
    echo "local-up: port $port is taken by a process we did not start; stop it or run 'make local-down'" >&2
    exit 1
  fi
  nohup "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
  echo "started $name (pid $!, log infra/local/.run/$name.log)"
}

# dynalite keeps every table in memory: benchmarks seed millions of items, so give it room.
start dynalite 8000 node --max-old-space-size=12288 dynalite.js --host 127.0.0.1 --port 8000
AWS_SES_ACCOUNT=$(cat "$here/ses-account.json") \
  start ses 8005 node node_modules/aws-ses-v2-local/dist/cli.js --host 127.0.0.1 --port 8005

cd "$here/../.."
# The S3 API (gofakes3, in memory): built once, then run like the others.
go build -o "$run/s3" ./infra/local/s3
start s3 8006 "$run/s3" -addr 127.0.0.1:8006
go run ./infra/local/stack up
