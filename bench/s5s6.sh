#!/usr/bin/env bash
# S5 (writes) and S6 (1,000-subscriber fan-out) side by side for two builds of Sangam on the
# same PostgreSQL, alternating build by build and round by round so that load from elsewhere on
# the machine falls on both; prints every cell, then medians and B/A ratios.
# Usage: bench/s5s6.sh NAME_A BIN_A [NAME_B BIN_B] [ROUNDS=3]   (one build alone: no ratios)
#   SCALE (district), DURATION (10 s per S5 cell), S6_ROUNDS (2); needs wrk and node with `ws`
#   (bench/setup.sh installs both; NODE_PATH may point at another node_modules).
set -euo pipefail
cd "$(dirname "$0")"
SCALE="${SCALE:-district}"
DURATION="${DURATION:-10}"
ROUNDS="${5:-3}"
if [ $# -eq 2 ]; then set -- "$1" "$2" "" ""; fi
S6_ROUNDS="${S6_ROUNDS:-2}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
NAMES=("$1")
BINS=("$2")
if [ -n "$3" ]; then NAMES+=("$3"); BINS+=("$4"); fi
IDX=$(seq 0 $((${#BINS[@]} - 1)))
PIDS=()
OUT=$(mktemp)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for i in 0 1; do psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS sangam_s5s6_$i WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
threads() { if [ "$1" -lt 2 ]; then echo 1; else echo 2; fi; }
declare -a URLS TOKENS TASKS
for i in $IDX; do
  db="sangam_s5s6_$i"
  url="${PGURL_ADMIN%/*}/$db"
  psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  "${BINS[$i]}" seed synthetic --scale "$SCALE" --database-url "$url" >/dev/null
  psql "$url" -qc "VACUUM ANALYZE"
  read -r id secret < <("${BINS[$i]}" client add --database-url "$url" --name "bench admin" --role state_admin --states 1 \
    --scopes "villages:read tasks:read tasks:write progress:read quality:read" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
  port=$((18400 + i))
  SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$url" SANGAM_ISSUER=http://bench "${BINS[$i]}" serve \
    --listen 127.0.0.1:$port --db-max-connections 16 >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 1; done
  URLS[$i]="http://127.0.0.1:$port"
  TOKENS[$i]=$(curl -s -u "$id:$secret" -d grant_type=client_credentials "${URLS[$i]}/oauth/token" |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
  TASKS[$i]=$(psql "$url" -qAtc "select max(id) from task where state_id = 1")
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); scale $SCALE; tasks ${TASKS[*]}"
echo "| round | build | connections | requests/s | p50 | p99 |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$ROUNDS"); do
  for c in 1 32; do
    for i in $IDX; do
      out=$(TOKEN="${TOKENS[$i]}" TASKS="${TASKS[$i]}" wrk -t"$(threads $c)" -c"$c" -d"${DURATION}s" --latency -s write.lua "${URLS[$i]}" 2>&1)
      rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); failed=$(awk '/failed responses:/ {print $3}' <<<"$out")
      [ "${failed:-0}" != 0 ] && rps="$rps ($failed failed)"
      row="| $r | ${NAMES[$i]} | $c | $rps | $(awk '$1=="50%" {print $2}' <<<"$out") | $(awk '$1=="99%" {print $2}' <<<"$out") |"
      echo "$row"; echo "S5 ${NAMES[$i]} $c $rps" >>"$OUT"
    done
  done
done
echo
echo "S6: 1,000 taskEvents subscribers, 100 writes/s for 10 s (\`node fanout.js\`):"
for r in $(seq 1 "$S6_ROUNDS"); do
  for i in $IDX; do
    line=$(node fanout.js "${URLS[$i]}" "${TOKENS[$i]}" "${TASKS[$i]}" 1000 100 10)
    echo "round $r ${NAMES[$i]}: $line"
    echo "S6 ${NAMES[$i]} $line" >>"$OUT"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ ${#BINS[@]} -eq 2 ] || exit 0
python3 - "$OUT" "${NAMES[0]}" "${NAMES[1]}" <<'PY'
import json, statistics, sys
rows = open(sys.argv[1]).read().splitlines()
a, b = sys.argv[2], sys.argv[3]
s5 = {}
s6 = {}
for line in rows:
    kind, name, rest = line.split(" ", 2)
    if kind == "S5":
        c, rps = rest.split(" ", 1)
        s5.setdefault((name, int(c)), []).append(float(rps.split()[0]))
    else:
        s6.setdefault(name, []).append(json.loads(rest))
print()
print("| median | connections | " + a + " req/s | " + b + " req/s | " + b + " / " + a + " |")
print("| --- | --- | --- | --- | --- |")
for c in (1, 32):
    ma, mb = statistics.median(s5[(a, c)]), statistics.median(s5[(b, c)])
    print(f"| S5 | {c} | {ma:.1f} | {mb:.1f} | {mb / ma:.3f} |")
if not s6:  # S6_ROUNDS=0
    sys.exit(0)
for k in ("p50_ms", "p99_ms"):
    ma = statistics.median(x[k] for x in s6[a]); mb = statistics.median(x[k] for x in s6[b])
    print(f"| S6 {k} | 1000 subscribers | {ma:.0f} | {mb:.0f} | {mb / ma:.3f} |")
for n in (a, b):
    print(f"S6 {n}: deliveries " + ", ".join(f"{x['deliveries']}/{x['expected']}" for x in s6[n]) +
          "; lagged " + ", ".join(str(x["lagged"]) for x in s6[n]))
PY
