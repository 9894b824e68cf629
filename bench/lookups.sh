#!/usr/bin/env bash
# Builds of Sangam side by side on one query of bench/run.sh (S1 partner page, S2 state
# dashboard, S4 village lookup): one server at a time on the same PostgreSQL and data, the
# builds taking turns for ROUNDS rounds so that load from elsewhere on the machine falls on
# each; per cell the throughput, p50, p99 and the server's CPU per request (from /proc).
# Usage: bench/lookups.sh S1|S2|S4 CONNS ROUNDS BIN...
#   SCALE (national), DURATION (6 s per cell, after 2 s of warm-up). The dataset is
#   bench/run.sh's (`sangam_bench_$SCALE`): run that first. Every build must accept the
#   database's migrations (an older build refuses a newer schema).
set -euo pipefail
QUERY=$1; CONNS=$2; ROUNDS=$3; shift 3
BINS=(); for b in "$@"; do BINS+=("$(realpath "$b")"); done
cd "$(dirname "$0")"
SCALE="${SCALE:-national}"; DURATION="${DURATION:-6}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PGURL="${PGURL_ADMIN%/*}/sangam_bench_${SCALE}"
PORT=18300
psql "$PGURL" -qAtc 'select 1 from village limit 1' >/dev/null ||
  { echo "no dataset in $PGURL: run bench/run.sh $SCALE first" >&2; exit 1; }
client() { # role, extra args -> "id secret"
  "${BINS[0]}" client add --database-url "$PGURL" --name "lookups $1" --role "$1" "${@:2}" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}'
}
case $QUERY in
  S1) read -r CID CSEC < <(client partner --org SP-0001 --scopes "villages:read tasks:read progress:read quality:read") ;;
  S2 | S4) read -r CID CSEC < <(client state_admin --states 1 --scopes "villages:read tasks:read progress:read quality:read") ;;
  *) echo "unknown query $QUERY" >&2; exit 2 ;;
esac
q() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
LGD=$(psql "$PGURL" -qAtc "select v.lgd_code from village v join water_quality_test t on t.village_id = v.id order by v.id limit 1")
STATE=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"State:1").decode().rstrip("="))')
case $QUERY in
  S1) BODY=$(q '{ villages(first: 50) { edges { node { name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }') ;;
  S2) BODY=$(q "{ progress(level: DISTRICT, within: \"$STATE\") { parent { coveragePercent } rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } }") ;;
  S4) BODY=$(q "{ village(lgdCode: $LGD) { name households latestWaterQualityTest { sampledOn contaminated results { parameter value exceeds } } } }") ;;
esac
THREADS=2; [ "$CONNS" -lt 2 ] && THREADS=1
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true' EXIT
echo "| round | build | $QUERY, $CONNS connection(s): requests/s | p50 | p99 | server CPU ms per request |"
echo "| --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$PGURL" SANGAM_ISSUER=http://bench \
      "$bin" serve --listen 127.0.0.1:$PORT --db-max-connections 16 >/dev/null 2>&1 &
    SPID=$!
    for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
    TOKEN=$(curl -s -u "$CID:$CSEC" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" |
      python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
    TOKEN="$TOKEN" BODY="$BODY" wrk -t"$THREADS" -c"$CONNS" -d2s -s post.lua "http://127.0.0.1:$PORT/graphql" >/dev/null 2>&1
    t0=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    out=$(TOKEN="$TOKEN" BODY="$BODY" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s post.lua "http://127.0.0.1:$PORT/graphql" 2>&1)
    t1=$(awk '{print $14 + $15}' "/proc/$SPID/stat")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    failed=$(awk '/failed responses:/ {print $3}' <<<"$out")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); [ "${failed:-0}" != 0 ] && rps="$rps ($failed failed)"
    cpu=$(python3 -c 'import sys; t,n=map(float,sys.argv[1:]); print(f"{t*10/max(n,1):.2f}")' "$((t1 - t0))" "${n:-0}")
    echo "| $round | $bin | $rps | $(awk '$1=="50%" {print $2}' <<<"$out") | $(awk '$1=="99%" {print $2}' <<<"$out") | $cpu |"
    kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
  done
done
