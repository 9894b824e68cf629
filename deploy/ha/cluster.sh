#!/usr/bin/env bash
# A local high-availability PostgreSQL cluster for Sangam, on 127.0.0.1 only:
# one etcd, three PostgreSQL 15 nodes under Patroni (synchronous replication), and HAProxy with a
# primary port and a replica port. Never touches the system server on 5432.
#
#   deploy/ha/cluster.sh up        install the packages (apt), start everything, create the database
#   deploy/ha/cluster.sh status    nodes, roles, lag
#   deploy/ha/cluster.sh down      stop everything and remove its data
#
# For the drills: `leader` prints the primary's node name, `kill-node NAME` kill -9's that node's
# Patroni and postmaster, `start-node NAME` starts its Patroni again, `wait-primary [SECS]` waits
# for a primary that accepts writes through HAProxy.
#
# Every port can be moved with the environment (SANGAM_HA_*); the defaults are below.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
DIR="${SANGAM_HA_DIR:-/var/tmp/sangam-ha}"
OS_USER="${SANGAM_HA_USER:-sangam-ha}"
ETCD_PORT="${SANGAM_HA_ETCD_PORT:-2379}"
ETCD_PEER_PORT="${SANGAM_HA_ETCD_PEER_PORT:-2380}"
PRIMARY_PORT="${SANGAM_HA_PRIMARY_PORT:-5000}"
REPLICA_PORT="${SANGAM_HA_REPLICA_PORT:-5001}"
STATS_PORT="${SANGAM_HA_STATS_PORT:-7000}"
PG_BASE="${SANGAM_HA_PG_BASE:-5440}"     # node N listens on PG_BASE + N
REST_BASE="${SANGAM_HA_REST_BASE:-8007}" # node N's Patroni REST API on REST_BASE + N
DB_NAME="${SANGAM_HA_DB:-sangam}"
NODES=(node1 node2 node3)

log() { printf '[ha] %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

node_num() { echo "${1#node}"; }
pg_port() { echo $((PG_BASE + $(node_num "$1"))); }
rest_port() { echo $((REST_BASE + $(node_num "$1"))); }
as_user() { runuser -u "$OS_USER" -- "$@"; }
# Starts a long-running process as OS_USER in its own session; the process itself writes its pid
# (runuser and setsid may fork, so $! would not be it).
spawn() { # pidfile logfile command...
  local pidfile="$1" logfile="$2"
  shift 2
  setsid runuser -u "$OS_USER" -- sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$logfile" 2>&1 </dev/null &
  for _ in $(seq 1 50); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start $1"
}

install_packages() {
  local missing=()
  command -v patroni >/dev/null || missing+=(patroni)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v curl >/dev/null || missing+=(curl)
  [ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    # The packages try to start their own services (there is no systemd here); we run them as
    # plain processes with our own configuration, so their init scripts must not start.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod +x "$policy"
      created=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    [ "$created" = 1 ] && rm -f "$policy"
  fi
  # Patroni and initdb refuse to run as root.
  id "$OS_USER" >/dev/null 2>&1 || useradd --system --home-dir "$DIR" --shell /usr/sbin/nologin "$OS_USER"
}

render() { # template output node
  local name="${3:-}"
  sed -e "s|@DIR@|$DIR${name:+/$name}|g" \
    -e "s|@NAME@|$name|g" \
    -e "s|@PG_PORT@|${name:+$(pg_port "$name")}|g" \
    -e "s|@REST_PORT@|${name:+$(rest_port "$name")}|g" \
    -e "s|@ETCD_PORT@|$ETCD_PORT|g" \
    -e "s|@PRIMARY_PORT@|$PRIMARY_PORT|g" \
    -e "s|@REPLICA_PORT@|$REPLICA_PORT|g" \
    -e "s|@STATS_PORT@|$STATS_PORT|g" \
    -e "s|@PG1@|$(pg_port node1)|g;s|@PG2@|$(pg_port node2)|g;s|@PG3@|$(pg_port node3)|g" \
    -e "s|@REST1@|$(rest_port node1)|g;s|@REST2@|$(rest_port node2)|g;s|@REST3@|$(rest_port node3)|g" \
    "$1" >"$2"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  pid_alive "$DIR/etcd.pid" && return
  mkdir -p "$DIR/etcd"
  chown "$OS_USER" "$DIR" "$DIR/etcd"
  # One member: the drills are about PostgreSQL failing, not the consensus store. A real
  # deployment runs three etcd members on three machines (see docs/HA.md).
  spawn "$DIR/etcd.pid" "$DIR/etcd/etcd.log" etcd --name sangam-ha --data-dir "$DIR/etcd/data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "sangam-ha=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls ""
  for _ in $(seq 1 50); do
    curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && return
    sleep 0.2
  done
  die "etcd did not start; see $DIR/etcd/etcd.log"
}

start_node() {
  local name="$1" d="$DIR/$1"
  pid_alive "$d/patroni.pid" && return
  mkdir -p "$d/log" "$d/socket" "$d/pglog"
  [ -d "$d/data" ] || install -d -m 700 "$d/data"
  render "$HERE/patroni.yml.in" "$d/patroni.yml" "$name"
  chown -R "$OS_USER" "$d"
  rm -f "$d/patroni.pid"
  spawn "$d/patroni.pid" "$d/log/patroni.out" patroni "$d/patroni.yml"
}

start_haproxy() {
  pid_alive "$DIR/haproxy.pid" && return
  render "$HERE/haproxy.cfg.in" "$DIR/haproxy.cfg"
  haproxy -q -D -f "$DIR/haproxy.cfg"
}

# The node Patroni holds the leader key for, by asking each REST API.
leader() {
  local n
  for n in "${NODES[@]}"; do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$(rest_port "$n")/primary" 2>/dev/null; then
      echo "$n"
      return 0
    fi
  done
  return 1
}

primary_url() { echo "postgres://postgres@127.0.0.1:$PRIMARY_PORT/${1:-postgres}"; }

# Waits until a logged write commits through HAProxy's primary port: synchronous, so a standby
# has it (a temporary table would not do: its commit waits for no standby).
wait_primary() {
  local limit="${1:-120}" start=$SECONDS
  while [ $((SECONDS - start)) -lt "$limit" ]; do
    if timeout 5 psql "$(primary_url)" -qAtX -c 'select not pg_is_in_recovery()' 2>/dev/null | grep -qx t &&
      timeout 5 psql "$(primary_url)" -qAtX -c 'create table if not exists ha_probe(at timestamptz); insert into ha_probe values (now())' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}

patronictl_() { as_user patronictl -c "$DIR/node1/patroni.yml" "$@"; }

up() {
  install_packages
  mkdir -p "$DIR"
  chown "$OS_USER" "$DIR"
  start_etcd
  local n
  for n in "${NODES[@]}"; do start_node "$n"; done
  start_haproxy
  log "waiting for a primary and a synchronous standby"
  wait_primary 180 || die "no writable primary after 180 s; see $DIR/node*/log"
  # Both replicas streaming, so the cluster can lose a node from the start.
  local start=$SECONDS
  until [ "$(patronictl_ list -f json 2>/dev/null | python3 -c 'import json,sys; print(sum(1 for m in json.load(sys.stdin) if m.get("State") in ("streaming","running") and m["Role"]!="Leader"))' 2>/dev/null)" = 2 ]; do
    [ $((SECONDS - start)) -lt 120 ] || die "replicas did not start streaming; see $DIR/node*/log"
    sleep 1
  done
  if [ "$(psql "$(primary_url)" -qAtX -c "select 1 from pg_database where datname = '$DB_NAME'")" != 1 ]; then
    psql "$(primary_url)" -qX -c "create database $DB_NAME" >/dev/null
  fi
  status
  log "primary: $(primary_url "$DB_NAME")"
  log "replica: postgres://postgres@127.0.0.1:$REPLICA_PORT/$DB_NAME"
}

stop_pidfile() { # pidfile [signal]
  local f="$1" sig="${2:-TERM}"
  if pid_alive "$f"; then
    local pid
    pid="$(cat "$f")"
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

postmaster_pid() { # node
  local f="$DIR/$1/data/postmaster.pid"
  [ -f "$f" ] && head -n 1 "$f"
}

stop_postgres() { # node: after Patroni is gone, its postmaster may still run
  local pid
  pid="$(postmaster_pid "$1" || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

down() {
  [ -d "$DIR" ] || {
    log "nothing to stop"
    return 0
  }
  stop_pidfile "$DIR/haproxy.pid"
  local n
  for n in "${NODES[@]}"; do
    stop_pidfile "$DIR/$n/patroni.pid"
    stop_postgres "$n"
  done
  stop_pidfile "$DIR/etcd.pid"
  rm -rf "$DIR"
  if id "$OS_USER" >/dev/null 2>&1; then userdel "$OS_USER" 2>/dev/null || true; fi
  log "stopped and removed"
}

status() {
  [ -f "$DIR/node1/patroni.yml" ] || die "not running (no $DIR)"
  patronictl_ list || true
  local n
  for n in "${NODES[@]}"; do
    printf '%s patroni=%s postmaster=%s\n' "$n" \
      "$(pid_alive "$DIR/$n/patroni.pid" && cat "$DIR/$n/patroni.pid" || echo down)" \
      "$(postmaster_pid "$n" 2>/dev/null || echo none)"
  done
  printf 'haproxy primary=127.0.0.1:%s replica=127.0.0.1:%s stats=http://127.0.0.1:%s/\n' \
    "$PRIMARY_PORT" "$REPLICA_PORT" "$STATS_PORT"
}

kill_node() { # node: the whole node at once, as a machine that loses power
  local name="$1" ppid pm
  ppid="$(cat "$DIR/$name/patroni.pid" 2>/dev/null || true)"
  pm="$(postmaster_pid "$name" || true)"
  kill -KILL ${ppid:+"$ppid"} ${pm:+"$pm"} 2>/dev/null || true
  rm -f "$DIR/$name/patroni.pid"
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
leader) leader ;;
kill-node) kill_node "${2:?node name}" ;;
start-node) start_node "${2:?node name}" ;;
wait-primary) wait_primary "${2:-120}" ;;
patronictl)
  shift
  patronictl_ "$@"
  ;;
*)
  echo "usage: $0 up|down|status|leader|kill-node NAME|start-node NAME|wait-primary [SECS]|patronictl ARGS" >&2
  exit 2
  ;;
esac
