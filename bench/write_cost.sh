#!/usr/bin/env bash
# What one lone writer's commentOnTask costs PostgreSQL, counted rather than timed: a build of
# Sangam on a database of its own (SCALE, district), N writes one after another on one
# kept-alive connection (as S5 at 1 connection), every statement of that database logged
# (`ALTER DATABASE … SET log_statement = 'all'`, which needs no restart and touches no other
# database) and the per-database counters read before and after. Prints statements per write by
# kind (the request's own, and what the instance's background readers sent meanwhile) and the
# counter deltas per write.
# Usage: bench/write_cost.sh NAME BIN [N=1000]   (PGLOG: the server's log file)
set -euo pipefail
cd "$(dirname "$0")"
NAME="$1"
BIN="$2"
N="${3:-1000}"
SCALE="${SCALE:-district}"
PGURL_ADMIN="${PGURL_ADMIN:-postgres://postgres@127.0.0.1:5432/postgres}"
PGLOG="${PGLOG:-/var/log/postgresql/postgresql-15-main.log}"
PORT="${PORT:-18470}"
db="sangam_cost_${NAME//[^a-z0-9]/_}"
url="${PGURL_ADMIN%/*}/$db"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  sleep 1
  psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql "$PGURL_ADMIN" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
"$BIN" seed synthetic --scale "$SCALE" --database-url "$url" >/dev/null
psql "$url" -qc "VACUUM ANALYZE"
read -r id secret < <("$BIN" client add --database-url "$url" --name "cost admin" --role state_admin --states 1 \
  --scopes "villages:read tasks:read tasks:write" |
  awk '/client_id:/ {id=$2} /client_secret:/ {s=$2} END {print id, s}')
tasks=$(psql "$url" -qAtc "select max(id) from task where state_id = 1")
# Only sessions opened from now on log their statements: the server's, started next.
psql "$PGURL_ADMIN" -qc "ALTER DATABASE $db SET log_statement = 'all'"
SANGAM_LOG_FORMAT=json RUST_LOG=warn DATABASE_URL="$url" SANGAM_ISSUER=http://bench "$BIN" serve \
  --listen 127.0.0.1:$PORT --db-max-connections 16 >/dev/null 2>&1 &
PID=$!
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 1; done
token=$(curl -s -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth/token" |
  python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
stats() {
  psql "$url" -qAt -F' ' -c "select xact_commit, tup_inserted, tup_fetched, tup_returned, blks_hit from pg_stat_database where datname = current_database()" \
    -c "select coalesce(sum(seq_scan),0), coalesce(sum(idx_scan),0), coalesce(sum(n_tup_ins),0) from pg_stat_user_tables" | tr '\n' ' '
}
writes() {
  python3 - "$PORT" "$token" "$tasks" "$1" <<'PY'
import base64, http.client, json, random, sys
port, token, tasks, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)
q = 'mutation($id: ID!) { commentOnTask(id: $id, text: "checked on site") { task { version } } }'
for _ in range(n):
    gid = base64.urlsafe_b64encode(f"Task:{random.randint(1, tasks)}".encode()).rstrip(b"=").decode()
    conn.request("POST", "/graphql", json.dumps({"query": q, "variables": {"id": gid}}),
                 {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    body = json.loads(conn.getresponse().read())
    if body.get("errors"):
        sys.exit(f"write failed: {body['errors']}")
PY
}
writes 50  # warm the pool, the caches and the prepared statements
sleep 2
mark="cost-$db-$$"
sleep 11  # idle backends flush their counters after 10 s (PGSTAT_IDLE_INTERVAL)
before=$(stats)
start=$(date +%s.%N)
psql "$url" -qAtc "select '$mark-start'" >/dev/null
writes "$N"
took=$(echo "$(date +%s.%N) - $start" | bc)
sleep 2  # the background readers catch up
psql "$url" -qAtc "select '$mark-end'" >/dev/null
window=$(echo "$(date +%s.%N) - $start" | bc)
sleep 11
after=$(stats)
python3 - "$PGLOG" "$db" "$mark" "$N" "$took" "$before" "$after" "$window" <<'PY'
import collections, re, sys
log, db, mark, n, took = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
window = float(sys.argv[8])
before, after = [list(map(int, s.split())) for s in sys.argv[6:8]]
line_re = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] \S*@(\S+) LOG:  (?:statement|execute \S+): (.*)$")
# A statement is the write's when its backend is inside a transaction (BEGIN … COMMIT); the
# readers in the background (and the revocation heartbeat) send single statements.
inside, stmts, in_tx = False, [], {}
for line in open(log, errors="replace"):
    m = line_re.match(line.rstrip("\n"))
    if not m or m.group(2) != db:
        continue
    pid, sql = m.group(1), m.group(3)
    if f"{mark}-start" in sql:
        inside = True
        continue
    if f"{mark}-end" in sql:
        break
    if "pg_stat_" in sql:
        continue
    head = sql.strip().upper()
    was = in_tx.get(pid, False)
    if head.startswith("BEGIN"):
        in_tx[pid] = True
    elif head.startswith(("COMMIT", "ROLLBACK")):
        in_tx[pid] = False
    if inside:
        stmts.append((was or in_tx.get(pid, False), sql))
def kind(tx, sql):
    s = re.sub(r"\s+", " ", sql)
    if "pg_notify" in s and "event_log" not in s:
        return "write: pg_notify" if tx else "background: revocation heartbeat (pg_notify, timed)"
    if re.search(r'FROM "?event_log"? WHERE "?event_log"?\."?id"? >', s): return "background: log read after a cursor"
    if "pg_locks" in s: return "background: appenders in flight (pg_locks)"
    if re.search(r'ORDER BY "?event_log"?\."?id"? DESC', s): return "background: log head"
    if "webhook" in s: return "background: webhook dispatcher"
    if s.startswith("LISTEN"): return "background: LISTEN"
    if "event_log" in s: return "write: event log append"
    if "pg_notify" in s: return "write: pg_notify"
    return "write: " + (s[:70] + "…" if len(s) > 70 else s)
counts = collections.Counter(kind(tx, s) for tx, s in stmts)
print(f"{n} writes in {took:.1f} s ({n / took:.0f}/s); {len(stmts)} statements, {len(stmts) / n:.2f} per write")
print(f"  per write  per second (of the {window:.1f} s logged)  statement")
for k, c in sorted(counts.items(), key=lambda kv: (not kv[0].startswith("write"), -kv[1])):
    print(f"  {c / n:9.3f}  {c / window:10.1f}  {k}")
print("  counters (the write's and the background's, from the before/after snapshots):")
for name, b, a in zip("xact_commit tup_inserted tup_fetched tup_returned blks_hit seq_scan idx_scan n_tup_ins".split(), before, after):
    print(f"  per write: {name} {(a - b) / n:.2f}")
PY
psql "$PGURL_ADMIN" -qc "ALTER DATABASE $db RESET log_statement"
