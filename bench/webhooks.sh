#!/usr/bin/env bash
# Webhook delivery bench: writes at BENCH_RATE/s (default 100) for BENCH_SECS (default 10) to
# BENCH_WEBHOOKS (default 50) webhooks on one receiver; prints p50/p99 from commit (the event's
# time) to receipt. BENCH_DATABASE=postgres runs it on TEST_DATABASE_URL's server.
#   bench/webhooks.sh                      # SQLite (in memory)
#   BENCH_DATABASE=postgres TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_PROFILE=release for optimised numbers (a long build); the default reuses the test build.
profile=()
[ "${BENCH_PROFILE:-dev}" = release ] && profile=(--release)
cargo test "${profile[@]}" -p tests --test integration -- --ignored --exact \
  webhooks::webhook_delivery_bench --nocapture 2>&1 | grep -E "webhook bench|panicked|FAILED|error" || true
