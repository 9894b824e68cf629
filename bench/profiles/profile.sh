#!/usr/bin/env bash
# Profiles one build of Sangam serving S2 (the state dashboard: a state's districts) to wrk at 32
# connections, on bench/run.sh's dataset, and writes the reports beside this script:
#   NAME-self.txt      perf report --no-children (where the CPU is spent, by function)
#   NAME-children.txt  perf report --children (what each function costs with its callees)
#   NAME.folded        folded stacks (one line per stack, its sample count), for a flame graph
#   NAME-wrk.txt       wrk's output during the recording
# Usage: bench/profiles/profile.sh NAME BIN [QUERY=S2|S3|S1|S4|hostile]
#   SCALE (state), SECONDS_ (10), FREQ (250 Hz), CONNS (32; S1 and S4's goal is also at 1).
#   S1 is bench/run.sh's partner page (the SP-0001 partner's first 50 villages with schemes and
#   open tasks), S4 its village lookup (the first tested village, with its latest test). perf has no hardware counters here (a VM): the
#   samples are of the cpu-clock software event, with DWARF call graphs (Rust without frame
#   pointers).
set -euo pipefail
cd "$(dirname "$0")"
NAME=$1; BIN=$(realpath "$2"); QUERY=${3:-S2}
SCALE="${SCALE:-state}"; SECS="${SECONDS_:-10}"; FREQ="${FREQ:-250}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PGURL="${PGURL_ADMIN%/*}/sangam_bench_${SCALE}"
PORT=18700
read -r AID ASEC < <("$BIN" client add --database-url "$PGURL" --name "profile admin" --role state_admin --states 1 \
  --scopes "villages:read tasks:read tasks:write progress:read quality:read" |
  awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
read -r PID_ PSEC < <("$BIN" client add --database-url "$PGURL" --name "profile partner" --role partner --org SP-0001 \
  --scopes "villages:read tasks:read progress:read quality:read" |
  awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
read -r DID DSEC < <("$BIN" client add --database-url "$PGURL" --name "profile dashboard" --role dashboard \
  --scopes "villages:read progress:read quality:read" |
  awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$PGURL" SANGAM_ISSUER=http://bench "$BIN" serve \
  --listen 127.0.0.1:$PORT --db-max-connections 16 >/dev/null 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
token() { curl -s -u "$1:$2" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'; }
STATE=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"State:1").decode().rstrip("="))')
q() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
case $QUERY in
  S2) TOKEN=$(token "$AID" "$ASEC"); BODY=$(q "{ progress(level: DISTRICT, within: \"$STATE\") { parent { coveragePercent } rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } }") ;;
  S3) TOKEN=$(token "$DID" "$DSEC"); BODY=$(q '{ progress(level: STATE) { rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified } } }') ;;
  S1) TOKEN=$(token "$PID_" "$PSEC"); BODY=$(q '{ villages(first: 50) { edges { node { name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }') ;;
  S4) TOKEN=$(token "$AID" "$ASEC")
    LGD=$(psql "$PGURL" -qAtc "select v.lgd_code from village v join water_quality_test t on t.village_id = v.id order by v.id limit 1")
    BODY=$(q "{ village(lgdCode: $LGD) { name households latestWaterQualityTest { sampledOn contaminated results { parameter value exceeds } } } }") ;;
  hostile) TOKEN=$(token "$AID" "$ASEC"); BODY=$(q '{ villages(first: 1) { edges { node { district { state { districts { blocks { villages { district { state { districts { blocks { villages { name } } } } } } } } } } } } } }') ;;
esac
# Warm: connections open, documents cached.
# wrk runs from bench/: post.lua loads failures.lua from the working directory.
(cd .. && TOKEN="$TOKEN" BODY="$BODY" wrk -t2 -c32 -d3s -s post.lua "http://127.0.0.1:$PORT/graphql" >/dev/null 2>&1)
DATA=$(mktemp /tmp/perf-XXXXXX.data)
perf record -e cpu-clock -F "$FREQ" --call-graph dwarf,16384 -p "$SPID" -o "$DATA" -- sleep "$SECS" 2>/dev/null &
PERF=$!
sleep 0.5
CONNS="${CONNS:-32}"; THREADS=2; [ "$CONNS" -lt 2 ] && THREADS=1
(cd .. && TOKEN="$TOKEN" BODY="$BODY" wrk -t"$THREADS" -c"$CONNS" -d"$((SECS - 1))s" --latency -s post.lua \
  "http://127.0.0.1:$PORT/graphql") >"$NAME-wrk.txt" 2>&1
wait $PERF
perf report -i "$DATA" --stdio --no-children --no-inline --percent-limit 0.4 2>/dev/null | grep -v '^$' | awk 'NR <= 400' >"$NAME-self.txt"
perf report -i "$DATA" --stdio --children --no-inline -g none --percent-limit 1 2>/dev/null | grep -v '^$' | awk 'NR <= 300' >"$NAME-children.txt"
perf script -i "$DATA" --no-inline -F comm,tid,ip,sym,dso 2>/dev/null | python3 "$PWD/fold.py" >"$NAME.folded"
rm -f "$DATA"
echo "$NAME: $(awk '/Requests\/sec/ {print $2}' "$NAME-wrk.txt") req/s; reports in bench/profiles/$NAME-*"
