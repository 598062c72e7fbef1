#!/usr/bin/env bash
# `make demo`: the main job end to end on the local stack. The stack stays up afterwards
# (`make local-down` stops it) so the emails can be read in the SES viewer.
set -euo pipefail
cd "$(dirname "$0")/../.."
infra/local/up.sh
echo
echo "== Local stack health"
go run ./infra/local/stack health
