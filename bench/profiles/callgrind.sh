#!/usr/bin/env bash
# Instructions Sangam's process executes per request of one query, counted by callgrind. Unlike
# wall-clock or perf samples, an instruction count barely moves with the machine's other load,
# so two builds can be compared on a shared machine.
# Usage: bench/profiles/callgrind.sh NAME BIN [QUERY=S2|S2-fragment|S3|hostile]
#   S2-fragment is S2 with each row's selection inside `... on ProgressRow { }`: the same answer,
#   made by the field resolvers rather than the plain-values pass (graphql/types/progress.rs).
#   N (200) requests are counted; the same wall time with no request is counted too and
#   subtracted, so what the idle server does (pool upkeep, the event follower) is not charged to
#   the requests. Writes NAME-callgrind.txt beside this script (the totals, then
#   callgrind_annotate's top functions, inclusive and self).
# Needs the state-scale dataset of bench/run.sh in PostgreSQL (sangam_bench_state).
set -euo pipefail
cd "$(dirname "$0")"
NAME=$1; BIN=$(realpath "$2"); QUERY=${3:-S2}
SCALE="${SCALE:-state}"; N="${N:-200}"; TOP="${TOP:-20}"; SELF_TOP="${SELF_TOP:-40}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PGURL="${PGURL_ADMIN%/*}/sangam_bench_${SCALE}"
PORT="${PORT:-18750}"
psql "$PGURL" -qAtc 'select 1 from village limit 1' >/dev/null ||
  { echo "no dataset in $PGURL: see bench/run.sh" >&2; exit 1; }
OUT=$(mktemp -d /tmp/callgrind-XXXXXX)
client() { # role, extra args -> "id secret"
  "$BIN" client add --database-url "$PGURL" --name "callgrind $1" --role "$1" "${@:2}" |
    awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}'
}
case $QUERY in
  S2 | S2-fragment | hostile) read -r CID CSEC < <(client state_admin --states 1 --scopes "villages:read tasks:read progress:read") ;;
  S3) read -r CID CSEC < <(client dashboard --scopes "villages:read progress:read") ;;
  *) echo "unknown query $QUERY" >&2; exit 2 ;;
esac
# Instrumentation starts off: start-up (migrations check, pool) runs at near native speed.
SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$PGURL" SANGAM_ISSUER=http://bench \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/cg.%p" \
  "$BIN" serve --listen 127.0.0.1:$PORT --db-max-connections 4 >"$OUT/server.log" 2>&1 &
VPID=$!
trap 'kill $VPID 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
callgrind_control -i on "$VPID" >/dev/null
# One keep-alive connection, requests one after another: what is counted is the work of a
# request, not of connection set-up or of contention.
python3 - "$PORT" "$CID" "$CSEC" "$QUERY" "$N" "$VPID" "$OUT" <<'PY'
import base64, http.client, json, subprocess, sys, time
port, cid, csec, query, n, vpid, out = sys.argv[1:8]
n = int(n)
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=600)
def post(path, body, headers):
    conn.request("POST", path, body, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"{path}: HTTP {r.status}: {data[:300]!r}")
    return data
basic = base64.b64encode(f"{cid}:{csec}".encode()).decode()
token = json.loads(post("/oauth/token", "grant_type=client_credentials",
    {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"}))["access_token"]
state = base64.urlsafe_b64encode(b"State:1").decode().rstrip("=")
queries = {
    "S2": '{ progress(level: DISTRICT, within: "%s") { parent { coveragePercent } rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } }' % state,
    "S2-fragment": '{ progress(level: DISTRICT, within: "%s") { parent { ... on ProgressRow { coveragePercent } } rows { ... on ProgressRow { areaId villages households tapConnections coveragePercent villagesReported villagesCertified coverageDifference tasksOpen tasksOverdue } } } }' % state,
    "S3": "{ progress(level: STATE) { rows { areaId villages households tapConnections coveragePercent villagesReported villagesCertified } } }",
    "hostile": "{ villages(first: 1) { edges { node { district { state { districts { blocks { villages { district { state { districts { blocks { villages { name } } } } } } } } } } } } } }",
}
body = json.dumps({"query": queries[query]})
headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
def ctl(*args):
    subprocess.run(["callgrind_control", *args, vpid], check=True, stdout=subprocess.DEVNULL)
# Warm: the token's verification and the document cached, the pool's connections open, the
# statements prepared.
for _ in range(20):
    answer = json.loads(post("/graphql", body, headers))
    if answer.get("errors"):
        sys.exit(f"the query failed: {answer['errors']}")
with open(f"{out}/answer.json", "w") as f:
    json.dump(answer, f)
ctl("-z")
start = time.monotonic()
for _ in range(n):
    post("/graphql", body, headers)
took = time.monotonic() - start
ctl("-d", "requests")
time.sleep(took)
ctl("-d", "idle")
print(f"{n} requests in {took:.1f} s under callgrind")
PY
callgrind_control -k "$VPID" >/dev/null 2>&1 || true
wait "$VPID" 2>/dev/null || true
trap - EXIT
total() { grep -h '^summary:\|^totals:' "$1" | head -1 | awk '{print $2}'; }
dump() { grep -l "^desc: Trigger: .*$1" "$OUT"/cg.* | head -1; }
REQ=$(dump requests); IDLE=$(dump idle)
REQ_IR=$(total "$REQ"); IDLE_IR=$(total "$IDLE")
PER=$(( (REQ_IR - IDLE_IR) / N ))
{
  echo "# $NAME: $QUERY, $N requests on one keep-alive connection, $(basename "$BIN") $(sha256sum "$BIN" | cut -c1-12)"
  echo "# instructions: requests window $REQ_IR, idle window (same wall time) $IDLE_IR"
  echo "# per request: $PER instructions"
  echo "# answer: $(wc -c <"$OUT/answer.json") bytes of JSON"
  echo
  # Async code polls through itself: callgrind's inclusive count of such a frame is over 100 %
  # of the total and says nothing; those lines are left out.
  echo "## inclusive (top $TOP, recursive frames left out)"
  callgrind_annotate --inclusive=yes --threshold=100 "$REQ" 2>/dev/null | grep -E '^ *[0-9,]+ ' |
    grep -vE '\(([1-9][0-9]{2,}|100)\.[0-9]+%\)' | head -"$TOP" | cut -c1-220 || true
  echo
  echo "## self (top $SELF_TOP)"
  callgrind_annotate --inclusive=no --threshold=100 "$REQ" 2>/dev/null | grep -E '^ *[0-9,]+ ' |
    head -"$SELF_TOP" | cut -c1-220 || true
} >"$NAME-callgrind.txt"
echo "$NAME: $PER instructions per $QUERY request (reports in bench/profiles/$NAME-callgrind.txt; raw in $OUT)"
