#!/usr/bin/env bash
# Webhook delivery bench: the real `sangam serve` binary (BENCH_INSTANCES, default 1), writes at
# BENCH_RATE/s (default 100) for BENCH_SECS (default 10) to BENCH_WEBHOOKS (default 50) webhooks
# on one receiver; prints p50/p90/p99 from commit (the event's time) to receipt.
# BENCH_DATABASE=postgres runs it on TEST_DATABASE_URL's server (a database of its own);
# BENCH_CONCURRENCY sets --webhook-concurrency (default 256), BENCH_PER_WEBHOOK
# --webhook-concurrency-per-webhook (default 8; each of the 50 webhooks gets 100 deliveries a
# second, so this cap, not the total, may be what limits the bench).
# SANGAM_BIN=target/release/sangam runs a release server from the (debug) test build: the
# receiver and writers stay in the test process.
#   bench/webhooks.sh                      # SQLite (a file)
#   BENCH_DATABASE=postgres TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bench/webhooks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# BENCH_PROFILE=release for optimised numbers (a long build); the default reuses the test build.
profile=()
[ "${BENCH_PROFILE:-dev}" = release ] && profile=(--release)
cargo test "${profile[@]}" -p tests --test integration -- --ignored --exact \
  webhooks::instances::webhook_delivery_bench --nocapture 2>&1 | grep -E "webhook bench|panicked|FAILED|error" || true
