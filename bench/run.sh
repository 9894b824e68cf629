#!/usr/bin/env bash
# Side-by-side benchmarks: Sangam, PostGraphile 4 on the same PostgreSQL and data, an HTTP
# floor (a constant axum handler: Sangam's /healthz) and a database floor (pgbench running the
# same SQL); then Sangam again over SQLite holding the same dataset (SQLITE=0 skips it).
# Usage: bench/run.sh [state|national|district]   (results in bench/results/)
#   SCENARIOS (default "S1 S2 S3 S4"): the read cells to run; READS_ONLY=1 stops after them
#   (no database floors, writes, fan-out, hostile query or SQLite), for repeated side-by-side runs.
set -euo pipefail
cd "$(dirname "$0")"
SCALE="${1:-state}"
DURATION="${DURATION:-10}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="sangam_bench_${SCALE}"
PGURL="${PGURL_ADMIN%/*}/${DB}"
OUT="results/${SCALE}-$(date -u +%Y%m%dT%H%M%SZ).md"
mkdir -p results
bash setup.sh >/dev/null
( cd .. && cargo build --release -q -p api )
SANGAM=../target/release/sangam

if ! psql "$PGURL" -qAtc 'select 1 from village limit 1' >/dev/null 2>&1; then
  psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS ${DB}" -c "CREATE DATABASE ${DB}"
  echo "loading the ${SCALE} dataset into PostgreSQL"
  /usr/bin/time -f "load: %e s, max RSS %M KB" "$SANGAM" seed synthetic --scale "$SCALE" --database-url "$PGURL" >/dev/null
fi
psql "$PGURL" -q -f peer.sql
psql "$PGURL" -qc "VACUUM ANALYZE"

client() { # role, extra args -> "id secret"
  "$SANGAM" client add --database-url "$PGURL" --name "bench $1" --role "$1" "${@:2}" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}'
}
read -r PID_ PSEC < <(client partner --org SP-0001 --scopes "villages:read tasks:read progress:read quality:read")
read -r AID ASEC < <(client state_admin --states 1 --scopes "villages:read tasks:read tasks:write progress:read quality:read")
read -r DID DSEC < <(client dashboard --scopes "villages:read progress:read quality:read")

PORT=18100; PEER=18200
SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$PGURL" SANGAM_ISSUER=http://bench "$SANGAM" serve --listen 127.0.0.1:$PORT --db-max-connections 16 &
SPID=$!
node_modules/.bin/postgraphile -c "$PGURL" --host 127.0.0.1 --port $PEER --disable-default-mutations --disable-query-log >/dev/null 2>&1 &
PPID_=$!
trap 'kill $SPID $PPID_ 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -sf -o /dev/null -X POST -H 'content-type: application/json' \
    -d '{"query":"{__typename}"}' "http://127.0.0.1:$PEER/graphql" && break
  sleep 1
done
token() { curl -s -u "$1:$2" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'; }
PARTNER=$(token "$PID_" "$PSEC"); ADMIN=$(token "$AID" "$ASEC"); DASH=$(token "$DID" "$DSEC")

LGD=$(psql "$PGURL" -qAtc "select v.lgd_code from village v join water_quality_test t on t.village_id = v.id order by v.id limit 1")
PARTNER_ORG=$(psql "$PGURL" -qAtc "select id from organisation where code = 'SP-0001'")
STATE=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"State:1").decode().rstrip("="))')

q() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1"; }
S1_OURS=$(q '{ villages(first: 50) { edges { node { name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }')
S1_PEER=$(q "{ allAssignments(condition: {organisationId: \"$PARTNER_ORG\"}, first: 50, orderBy: VILLAGE_ID_ASC) { nodes { villageByVillageId { name households tapConnections schemeVillagesByVillageId { nodes { schemeBySchemeId { code status } } } tasksByVillageId { nodes { title status dueOn } } } } } }")
S2_OURS=$(q "{ progress(level: DISTRICT, within: \"$STATE\") { parent { coveragePercent } rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } }")
S2_PEER=$(q '{ allBenchDistrictProgresses(condition: {stateId: "1"}) { nodes { districtId villages households tapConnections reported certified } } }')
S3_OURS=$(q '{ progress(level: STATE) { rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified } } }')
S3_PEER=$(q '{ allBenchStateProgresses { nodes { stateId villages households tapConnections reported certified } } }')
S4_OURS=$(q "{ village(lgdCode: $LGD) { name households latestWaterQualityTest { sampledOn contaminated results { parameter value exceeds } } } }")
S4_PEER=$(q "{ villageByLgdCode(lgdCode: $LGD) { name households waterQualityTestsByVillageId(orderBy: SAMPLED_ON_DESC, first: 1) { nodes { sampledOn contaminated waterQualityResultsByTestId { nodes { parameter value exceeds } } } } } }")

check() { # name url token body: one request must return data without errors
  local res; res=$(curl -s -X POST -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} -d "$4" "$2")
  python3 -c 'import json,sys; r=json.loads(sys.argv[2]); assert "errors" not in r and r.get("data"), sys.argv[1]+": "+sys.argv[2][:400]' "$1" "$res"
}
threads() { if [ "$1" -lt 2 ]; then echo 1; else echo 2; fi; }
rss() { awk '/VmRSS/ {print int($2/1024)}' "/proc/$1/status"; }
peak_rss() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }
counters() { # sangam base url -> "operations statements"
  curl -s "$1/metrics" | awk '$1=="sangam_graphql_operations_total" {o=$2} $1=="sangam_sql_statements_total" {s=$2} END {print o, s}'
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system CPU of a process, in 1/100 s
pg_ticks() { # all of PostgreSQL: live processes, plus the postmaster's reaped children (parallel workers, closed sessions)
  local t=0 p pm; pm=$(pgrep -x -o postgres)
  for p in $(pgrep -x postgres); do t=$((t + $(ticks "$p" 2>/dev/null || echo 0))); done
  echo $((t + $(awk '{print $16 + $17}' "/proc/$pm/stat")))
}
settle() { # let queries a finished cell left running in PostgreSQL end before the next cell starts
  for _ in $(seq 1 40); do
    [ "$(psql "$PGURL" -qAtc "select count(*) from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and datname = current_database()")" = 0 ] && return
    sleep 0.5
  done
}
run() { # label url token body conns server-pid [sangam base url, for statements per request] -> markdown row
  local before after out per="–" t0 p0 n
  [ -n "${NOSETTLE:-}" ] || settle
  [ -n "${7:-}" ] && before=$(counters "$7")
  t0=$(ticks "$6"); p0=$(pg_ticks)
  out=$(TOKEN="$3" BODY="$4" wrk -t"$(threads "$5")" -c"$5" -d"${DURATION}s" --latency -s post.lua "$2" 2>&1)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  local cpu; cpu=$(python3 -c 'import sys; s,p,n=map(float,sys.argv[1:]); print(f"{s*10/max(n,1):.2f} | {p*10/max(n,1):.2f}")' "$(( $(ticks "$6") - t0 ))" "$(( $(pg_ticks) - p0 ))" "${n:-0}")
  if [ -n "${7:-}" ]; then
    after=$(counters "$7")
    per=$(python3 -c 'import sys; o0,s0,o1,s1=map(float,sys.argv[1:]); print(f"{(s1-s0)/max(o1-o0,1):.1f}")' $before $after)
  fi
  echo "| $1 | $5 | $(cell "$out") | $per | $cpu |"
}
cell() { # wrk output -> "requests/s | p50 | p99", flagging responses that were errors
  local rps failed
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$1"); failed=$(awk '/failed responses:/ {print $3}' <<<"$1")
  [ "${failed:-0}" != 0 ] && rps="$rps ($failed failed)"
  echo "$rps | $(awk '$1=="50%" {print $2}' <<<"$1") | $(awk '$1=="99%" {print $2}' <<<"$1")"
}
table_head() {
  echo "| scenario | connections | requests/s | p50 | p99 | SQL statements per request | server CPU ms per request | PostgreSQL CPU ms per request |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
}
floor_http() { local out; settle; out=$(wrk -t"$(threads "$1")" -c"$1" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/healthz" 2>&1)
  echo "| HTTP floor (/healthz) | $1 | $(cell "$out") | 0 | | |"; }
floor_db() { # label sqlfile conns
  local out; settle; out=$(pgbench -n -T "$DURATION" -c "$3" -j 2 -f "$2" "$PGURL" 2>&1)
  echo "| $1 | $3 | $(awk '/^tps/ {print $3}' <<<"$out") | $(awk '/latency average/ {print $4" ms (avg)"}' <<<"$out") | | 1 | | |"; }

cat > /tmp/s2.sql <<SQL
SELECT district_id, count(*), sum(households), sum(tap_connections), sum(CASE WHEN hgj_status IN ('REPORTED','CERTIFIED') THEN 1 ELSE 0 END) FROM village WHERE state_id = 1 GROUP BY district_id;
SQL
cat > /tmp/s3.sql <<SQL
SELECT state_id, count(*), sum(households), sum(tap_connections) FROM village GROUP BY state_id;
SQL
cat > /tmp/s4.sql <<SQL
SELECT t.id, t.sampled_on, r.parameter, r.value FROM village v JOIN water_quality_test t ON t.village_id = v.id JOIN water_quality_result r ON r.test_id = t.id WHERE v.lgd_code = ${LGD} ORDER BY t.sampled_on DESC LIMIT 8;
SQL

for s in S1 S2 S3 S4; do
  ours="${s}_OURS"; peer="${s}_PEER"
  tok=$ADMIN; [ "$s" = S1 ] && tok=$PARTNER; [ "$s" = S3 ] && tok=$DASH
  check "sangam $s" "http://127.0.0.1:$PORT/graphql" "$tok" "${!ours}"
  check "postgraphile $s" "http://127.0.0.1:$PEER/graphql" "" "${!peer}"
done

{
  echo "# Benchmarks: ${SCALE} scale, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "\`bench/run.sh ${SCALE}\` (DURATION=${DURATION}s per cell, wrk with 2 threads (1 for one connection), PostgreSQL $(psql "$PGURL" -qAtc 'show server_version'), $(nproc) cores)."
  echo
  echo "Rows: $(psql "$PGURL" -qAtc "select 'villages ' || (select count(*) from village) || ', households ' || (select sum(households) from village) || ', tasks ' || (select count(*) from task) || ', task events ' || (select count(*) from task_event)")"
  echo
  table_head
  for c in 1 32; do
    floor_http $c
    for s in ${SCENARIOS:-S1 S2 S3 S4}; do
      ours="${s}_OURS"; peer="${s}_PEER"
      tok=$ADMIN; [ "$s" = S1 ] && tok=$PARTNER; [ "$s" = S3 ] && tok=$DASH
      run "$s Sangam" "http://127.0.0.1:$PORT/graphql" "$tok" "${!ours}" $c $SPID "http://127.0.0.1:$PORT"
      run "$s PostGraphile" "http://127.0.0.1:$PEER/graphql" "" "${!peer}" $c $PPID_
    done
    [ -n "${READS_ONLY:-}" ] && continue
    floor_db "S2 database floor (pgbench)" /tmp/s2.sql $c
    floor_db "S3 database floor (pgbench)" /tmp/s3.sql $c
    floor_db "S4 database floor (pgbench)" /tmp/s4.sql $c
  done
  [ -n "${READS_ONLY:-}" ] && exit 0
  echo
  echo "S5 writes: \`commentOnTask\` on random tasks (one transaction: versioned update, history, audit), PostgreSQL:"
  echo
  echo "| scenario | connections | requests/s | p50 | p99 |"
  echo "| --- | --- | --- | --- | --- |"
  # Tasks the state-1 administrator may write (not numbered contiguously: the seed interleaves
  # states' tasks), as a file of ids.
  psql "$PGURL" -qAtc "select id from task where state_id = 1" >/tmp/sangam-bench-tasks.txt
  TASKS=@/tmp/sangam-bench-tasks.txt
  FIRST=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(b"Task:1").decode().rstrip("="))')
  check "sangam S5" "http://127.0.0.1:$PORT/graphql" "$ADMIN" "$(python3 -c 'import json,sys; print(json.dumps({"query": "mutation($id: ID!) { commentOnTask(id: $id, text: \"bench\") { task { version } } }", "variables": {"id": sys.argv[1]}}))' "$FIRST")"
  for c in 1 32; do
    out=$(TOKEN="$ADMIN" TASKS="$TASKS" wrk -t"$(threads $c)" -c"$c" -d"${DURATION}s" --latency -s write.lua "http://127.0.0.1:$PORT" 2>&1)
    echo "| S5 Sangam writes | $c | $(cell "$out") |"
  done
  echo
  echo "S6 fan-out: 1,000 taskEvents subscribers, 100 writes/s for 10 s (\`node fanout.js\`):"
  echo
  echo '```'
  node fanout.js "http://127.0.0.1:$PORT" "$ADMIN" "$TASKS" 1000 100 10
  echo '```'
  echo
  echo "Server RSS after the load: Sangam $(rss $SPID) MB (peak $(peak_rss $SPID) MB), PostGraphile $(rss $PPID_) MB (peak $(peak_rss $PPID_) MB)."
  echo
  echo "A hostile query (depth 19, refused before any resolver runs), 32 connections:"
  HOSTILE=$(q '{ villages(first: 1) { edges { node { district { state { districts { blocks { villages { district { state { districts { blocks { villages { name } } } } } } } } } } } } } }')
  echo
  table_head
  run "refused hostile query" "http://127.0.0.1:$PORT/graphql" "$ADMIN" "$HOSTILE" 32 $SPID "http://127.0.0.1:$PORT"
  # Responsiveness under attack: one honest client's S4 while 32 connections keep sending it.
  TOKEN="$ADMIN" BODY="$HOSTILE" wrk -t1 -c32 -d"$((DURATION + 2))s" -s post.lua "http://127.0.0.1:$PORT/graphql" >/dev/null 2>&1 &
  HPID=$!
  sleep 1
  NOSETTLE=1 run "S4 Sangam, during the hostile load" "http://127.0.0.1:$PORT/graphql" "$ADMIN" "$S4_OURS" 1 $SPID
  wait $HPID

  [ "${SQLITE:-1}" = 0 ] && exit 0
  # The same dataset in SQLite (the seed is deterministic: same ids, codes and rows), served
  # alone: PostgreSQL and PostGraphile stay up but idle.
  SQLITE_DB="$PWD/data/${SCALE}.db"
  if [ ! -s "$SQLITE_DB" ]; then
    mkdir -p data; rm -f "$SQLITE_DB"*
    /usr/bin/time -f "sqlite load: %e s, max RSS %M KB" "$SANGAM" seed synthetic --scale "$SCALE" --database-url "sqlite://$SQLITE_DB?mode=rwc" >/dev/null
  fi
  LURL="sqlite://$SQLITE_DB"
  lclient() { "$SANGAM" client add --database-url "$LURL" --name "bench $1" --role "$1" "${@:2}" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}'; }
  read -r LPID LPSEC < <(lclient partner --org SP-0001 --scopes "villages:read tasks:read progress:read quality:read")
  read -r LAID LASEC < <(lclient state_admin --states 1 --scopes "villages:read tasks:read tasks:write progress:read quality:read")
  read -r LDID LDSEC < <(lclient dashboard --scopes "villages:read progress:read quality:read")
  LPORT=18300
  SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$LURL" SANGAM_ISSUER=http://bench-sqlite "$SANGAM" serve --listen 127.0.0.1:$LPORT --db-max-connections 16 &
  LPID_=$!
  trap 'kill $SPID $PPID_ $LPID_ 2>/dev/null || true' EXIT
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$LPORT/readyz" >/dev/null && break; sleep 1; done
  ltoken() { curl -s -u "$1:$2" -d grant_type=client_credentials "http://127.0.0.1:$LPORT/oauth/token" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'; }
  LPARTNER=$(ltoken "$LPID" "$LPSEC"); LADMIN=$(ltoken "$LAID" "$LASEC"); LDASH=$(ltoken "$LDID" "$LDSEC")
  echo
  echo "The same scenarios with Sangam over SQLite (\`$SCALE\` dataset in one file, WAL, 16 connections):"
  echo
  table_head
  for c in 1 32; do
    for s in S1 S2 S3 S4; do
      ours="${s}_OURS"
      tok=$LADMIN; [ "$s" = S1 ] && tok=$LPARTNER; [ "$s" = S3 ] && tok=$LDASH
      check "sangam sqlite $s" "http://127.0.0.1:$LPORT/graphql" "$tok" "${!ours}"
      run "$s Sangam (SQLite)" "http://127.0.0.1:$LPORT/graphql" "$tok" "${!ours}" $c $LPID_ "http://127.0.0.1:$LPORT"
    done
  done
  echo
  echo "Sangam over SQLite, RSS after the load: $(rss $LPID_) MB (peak $(peak_rss $LPID_) MB)."
} | tee "$OUT"
echo "written to bench/$OUT"
