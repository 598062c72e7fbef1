#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests when it is missing (`make test` runs this;
# CI machines start without it). Needs apt and root, as CI has; elsewhere it says what to do.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and cannot be installed here: apt-get install -y chromium (the browser tests need it)" >&2
  exit 1
fi
echo "installing chromium for the browser tests (apt-get install -y chromium)..."
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
chromium --version
