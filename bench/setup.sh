#!/usr/bin/env bash
# Installs what the benchmarks need: wrk (Debian) as the load generator and PostGraphile 4
# (npm) as the peer. Idempotent; run by bench/run.sh.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v wrk >/dev/null; then
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
if [ ! -x node_modules/.bin/postgraphile ] || [ ! -d node_modules/ws ]; then
  npm install --silent --no-audit --no-fund --prefix . postgraphile@4 ws@8 >/dev/null
fi
wrk --version 2>&1 | head -n 1 || true
node_modules/.bin/postgraphile --version
