#!/usr/bin/env bash
# The dashboard's queries (S2: a state's districts; S3: every state), the refused hostile query,
# and the server's memory with 1,000 subscribers, for two builds of Sangam side by side on the
# same PostgreSQL and data: both servers up, cells alternating between the builds (the order
# flipping each round) so that load from elsewhere on the machine falls on both; medians of the
# rounds and B/A ratios at the end.
# Usage: bench/dashboard.sh NAME_A BIN_A NAME_B BIN_B [ROUNDS=3]
#   SCALE (state), DURATION (10 s per cell), FANOUT_SECONDS (10: writes while 1,000 are subscribed); needs wrk and node with `ws` (bench/setup.sh).
#   The dataset is bench/run.sh's (`sangam_bench_$SCALE`), loaded by BIN_A if absent.
set -euo pipefail
BIN_A=$(realpath "$2"); BIN_B=$(realpath "$4")
cd "$(dirname "$0")"
SCALE="${SCALE:-state}"
DURATION="${DURATION:-10}"
ROUNDS="${5:-3}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="sangam_bench_${SCALE}"
PGURL="${PGURL_ADMIN%/*}/${DB}"
NAMES=("$1" "$3")
BINS=("$BIN_A" "$BIN_B")
OUT=$(mktemp)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if ! psql "$PGURL" -qAtc 'select 1 from village limit 1' >/dev/null 2>&1; then
  psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS ${DB}" -c "CREATE DATABASE ${DB}"
  "${BINS[0]}" seed synthetic --scale "$SCALE" --database-url "$PGURL" >/dev/null
  psql "$PGURL" -qc "VACUUM ANALYZE"
fi
client() { # role, extra args -> "id secret"
  "${BINS[0]}" client add --database-url "$PGURL" --name "dashboard bench $1" --role "$1" "${@:2}" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}'
}
read -r AID ASEC < <(client state_admin --states 1 --scopes "villages:read tasks:read tasks:write progress:read quality:read")
read -r DID DSEC < <(client dashboard --scopes "villages:read progress:read quality:read")
TASKS=$(psql "$PGURL" -qAtc "select max(id) from task where state_id = 1")

declare -a URLS ADMIN DASH SPIDS
for i in 0 1; do
  port=$((18500 + i))
  SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$PGURL" SANGAM_ISSUER=http://bench "${BINS[$i]}" serve \
    --listen 127.0.0.1:$port --db-max-connections 16 >/dev/null 2>&1 &
  SPIDS[$i]=$!; PIDS+=($!)
  URLS[$i]="http://127.0.0.1:$port"
  for _ in $(seq 1 120); do curl -sf "${URLS[$i]}/readyz" >/dev/null && break; sleep 1; done
  token() { curl -s -u "$1:$2" -d grant_type=client_credentials "${URLS[$i]}/oauth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'; }
  ADMIN[$i]=$(token "$AID" "$ASEC"); DASH[$i]=$(token "$DID" "$DSEC")
done

STATE=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"State:1").decode().rstrip("="))')
q() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
S2=$(q "{ progress(level: DISTRICT, within: \"$STATE\") { parent { coveragePercent } rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } }")
S3=$(q '{ progress(level: STATE) { rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified } } }')
HOSTILE=$(q '{ villages(first: 1) { edges { node { district { state { districts { blocks { villages { district { state { districts { blocks { villages { name } } } } } } } } } } } } } }')
for i in 0 1; do # both builds answer S2 and S3 alike
  for body in "$S2" "$S3"; do
    tok=${ADMIN[$i]}; [ "$body" = "$S3" ] && tok=${DASH[$i]}
    curl -s -X POST -H 'content-type: application/json' -H "authorization: Bearer $tok" -d "$body" "${URLS[$i]}/graphql" |
      python3 -c 'import json,sys; r=json.load(sys.stdin); assert "errors" not in r and r["data"]["progress"]["rows"], r' 
  done
done
[ "$(curl -s -X POST -H 'content-type: application/json' -H "authorization: Bearer ${ADMIN[0]}" -d "$S2" "${URLS[0]}/graphql" | python3 -m json.tool --sort-keys)" = \
  "$(curl -s -X POST -H 'content-type: application/json' -H "authorization: Bearer ${ADMIN[1]}" -d "$S2" "${URLS[1]}/graphql" | python3 -m json.tool --sort-keys)" ]

threads() { if [ "$1" -lt 2 ]; then echo 1; else echo 2; fi; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cell() { # name build conns body token -> one row; also appended to $OUT
  local i=$2 out t0 n rps failed p50 p99 cpu
  t0=$(ticks "${SPIDS[$i]}")
  out=$(TOKEN="$5" BODY="$4" wrk -t"$(threads "$3")" -c"$3" -d"${DURATION}s" --latency -s post.lua "${URLS[$i]}/graphql" 2>&1)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  cpu=$(python3 -c 'import sys; t,n=map(float,sys.argv[1:]); print(f"{t*10/max(n,1):.3f}")' "$(( $(ticks "${SPIDS[$i]}") - t0 ))" "${n:-0}")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); failed=$(awk '/failed responses:/ {print $3}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  local shown=$rps; [ "${failed:-0}" != 0 ] && shown="$rps ($failed failed)"
  echo "| $r | $1 | ${NAMES[$i]} | $3 | $shown | $p50 | $p99 | $cpu | $(cut -d' ' -f1 /proc/loadavg) |"
  echo "$1 ${NAMES[$i]} $3 $rps $p50 $p99 $cpu" >>"$OUT"
}
rss_with_subscribers() { # build -> one row: RSS while 1,000 subscribers are connected
  local i=$1 pid=${SPIDS[$1]} before peak=0 now line
  before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo 5 >"/proc/$pid/clear_refs" # VmHWM from here on
  node fanout.js "${URLS[$i]}" "${ADMIN[$i]}" "$TASKS" 1000 100 "${FANOUT_SECONDS:-10}" >/tmp/dashboard-fanout.$$ &
  local npid=$!
  while kill -0 $npid 2>/dev/null; do
    now=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status"); [ "$now" -gt "$peak" ] && peak=$now
    sleep 0.2
  done
  wait $npid || true
  line=$(cat /tmp/dashboard-fanout.$$); rm -f /tmp/dashboard-fanout.$$
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  echo "| $r | ${NAMES[$i]} | $((before / 1024)) | $((peak / 1024)) | $((hwm / 1024)) | $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["connected"], d["deliveries"], "/", d["expected"], "p99", d["p99_ms"], "ms")' "$line") |"
  echo "RSS ${NAMES[$i]} $((peak / 1024)) $((hwm / 1024))" >>"$OUT"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $SCALE scale; DURATION=${DURATION}s per cell; $(nproc) cores"
echo
echo "| round | scenario | build | connections | requests/s | p50 | p99 | server CPU ms per request | load (1 min) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$ROUNDS"); do
  order="0 1"; [ $((r % 2)) = 0 ] && order="1 0"
  for c in 1 32; do
    for i in $order; do cell S2 "$i" "$c" "$S2" "${ADMIN[$i]}"; done
    for i in $order; do cell S3 "$i" "$c" "$S3" "${DASH[$i]}"; done
  done
  for i in $order; do cell hostile "$i" 32 "$HOSTILE" "${ADMIN[$i]}"; done
done
echo
echo "Server memory with 1,000 taskEvents subscribers connected (\`node fanout.js URL TOKEN TASKS 1000 100 ${FANOUT_SECONDS:-10}\`), MB:"
echo
echo "| round | build | RSS before | VmRSS peak while connected (sampled every 0.2 s) | VmHWM since the subscribers came | subscribers, deliveries, delivery p99 |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq 1 "$ROUNDS"); do
  order="0 1"; [ $((r % 2)) = 0 ] && order="1 0"
  for i in $order; do rss_with_subscribers "$i"; done
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "${NAMES[0]}" "${NAMES[1]}" <<'PY'
import statistics, sys
a, b = sys.argv[2], sys.argv[3]
cells, rss = {}, {}
def ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * f
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] == "RSS":
        rss.setdefault(p[1], []).append((int(p[2]), int(p[3])))
    else:
        cells.setdefault((p[0], int(p[2]), p[1]), []).append((float(p[3]), ms(p[4]), ms(p[5]), float(p[6])))
print()
print(f"Medians of the rounds ({a} → {b}):")
print()
print("| scenario | connections | requests/s | p50 ms | p99 ms | server CPU ms per request |")
print("| --- | --- | --- | --- | --- | --- |")
for s, c in (("S2", 1), ("S3", 1), ("S2", 32), ("S3", 32), ("hostile", 32)):
    med = {n: [statistics.median(x[k] for x in cells[(s, c, n)]) for k in range(4)] for n in (a, b)}
    row = [f"{med[a][k]:.{d}f} → {med[b][k]:.{d}f}" for k, d in ((0, 0), (1, 2), (2, 2), (3, 3))]
    print(f"| {s} | {c} | " + " | ".join(row) + " |")
for n in (a, b):
    print(f"RSS with 1,000 subscribers, {n}: sampled peak median {statistics.median(x[0] for x in rss[n])} MB, "
          f"VmHWM median {statistics.median(x[1] for x in rss[n])} MB")
PY
