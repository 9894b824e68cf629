#!/usr/bin/env bash
# The request cost of `--otlp-endpoint`: the same binary and database, one server without the
# flag and one exporting to a local OTLP/HTTP sink, measured alternately (off, on, off, on…) so
# that the shared machine's noise falls on both alike.
#
#   bench/otlp.sh                      # target/release/sangam when present, else target/debug
#   BIN=target/debug/sangam ROUNDS=3 DURATION=10 CONNECTIONS=8 bench/otlp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$( [ -x target/release/sangam ] && echo target/release/sangam || echo target/debug/sangam )}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
QUERY=${QUERY:-'query OtlpStates { states { totalCount nodes { name districts { name } } } }'}
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# The sink: answers every export 200 and counts the spans it was sent.
cat >"$WORK/sink.py" <<'PY'
import http.server, sys
spans = 0
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global spans
        body = self.rfile.read(int(self.headers["content-length"]))
        spans += body.count(b'"spanId"')
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def do_GET(self):
        text = str(spans).encode()
        self.send_response(200); self.send_header("content-length", str(len(text)))
        self.end_headers(); self.wfile.write(text)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/sink.py" 18399 & PIDS+=($!)

DB="sqlite://$WORK/otlp.db?mode=rwc"
start() { # name port extra-args…
  local name=$1 port=$2; shift 2
  # One issuer for both, so one token serves both.
  NO_COLOR=1 "$BIN" serve --demo --listen "127.0.0.1:$port" --database-url "$DB" \
    --issuer http://sangam.bench "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.log" & PIDS+=($!)
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return
    sleep 0.5
  done
  echo "$name did not start" >&2; cat "$WORK/$name.log" >&2; exit 1
}
token() { # port log
  local secret
  secret=$(grep -o 'demo-state-admin:[^ ]*' "$2" | tail -n 1 | cut -d: -f2)
  curl -s -u "demo-state-admin:$secret" -d grant_type=client_credentials \
    "http://127.0.0.1:$1/oauth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
start off 18301
start on 18302 --otlp-endpoint http://127.0.0.1:18399
# Each start gives the demo clients new secrets: the second server's are the valid ones.
TOKEN_OFF=$(token 18302 "$WORK/on.log")
TOKEN_ON=$TOKEN_OFF
BODY=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$QUERY")
export BODY

run() { # name port token
  TOKEN=$3 wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s post.lua \
    "http://127.0.0.1:$2/graphql" >"$WORK/wrk.txt" 2>&1 || true
  printf '%-4s %10s req/s  p50 %8s  p99 %8s  failed %s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt")" \
    "$(awk '$1=="50%" {print $2}' "$WORK/wrk.txt")" \
    "$(awk '$1=="99%" {print $2}' "$WORK/wrk.txt")" \
    "$(awk '/failed responses/ {print $3}' "$WORK/wrk.txt")"
}
echo "$BIN, $CONNECTIONS connections, ${DURATION} s each, query: $QUERY"
cd bench
# Warm both (document caches, pools).
TOKEN=$TOKEN_OFF wrk -t1 -c1 -d2s -s post.lua http://127.0.0.1:18301/graphql >/dev/null 2>&1 || true
TOKEN=$TOKEN_ON wrk -t1 -c1 -d2s -s post.lua http://127.0.0.1:18302/graphql >/dev/null 2>&1 || true
for _ in $(seq 1 "$ROUNDS"); do
  run off 18301 "$TOKEN_OFF"
  run on 18302 "$TOKEN_ON"
done
sleep 2
echo "spans received by the sink: $(curl -s http://127.0.0.1:18399/)"
curl -s http://127.0.0.1:18302/metrics | grep -E '^sangam_otlp_' || true
