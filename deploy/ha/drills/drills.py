#!/usr/bin/env python3
"""High-availability drills for Sangam on the local Patroni cluster (deploy/ha/cluster.sh).

    drills.py failover     20 writers through two Sangam instances; the primary node is killed
    drills.py replica      read-your-writes with the consistency token while replicas lag
    drills.py switchover   `patronictl switchover` under the same write load
    drills.py subscribers  a subscriber through the failover receives every acknowledged write once

Each drill starts its own Sangam instances on a fresh database, checks the database afterwards,
prints one `DRILL <name> PASS|FAIL ...` line and exits non-zero on failure. Standard library only.
The cluster itself is started and removed by .ci/ha-drills.
"""

import base64
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CLUSTER = os.path.join(ROOT, "deploy", "ha", "cluster.sh")
SANGAM = os.environ.get("SANGAM_BIN", os.path.join(ROOT, "target", "debug", "sangam"))
PRIMARY_PORT = os.environ.get("SANGAM_HA_PRIMARY_PORT", "5000")
REPLICA_PORT = os.environ.get("SANGAM_HA_REPLICA_PORT", "5001")
DB = "sangam_drill"
PRIMARY = f"postgres://postgres@127.0.0.1:{PRIMARY_PORT}/{DB}"
REPLICA = f"postgres://postgres@127.0.0.1:{REPLICA_PORT}/{DB}"
ADMIN = f"postgres://postgres@127.0.0.1:{PRIMARY_PORT}/postgres"
ISSUER = "http://sangam.drill"
PORTS = [int(p) for p in os.environ.get("SANGAM_DRILL_PORTS", "18181,18182").split(",")]
LOGS = os.environ.get("SANGAM_DRILL_LOGS", "/tmp/sangam-drills")
WRITERS = 20

COMMENT = 'mutation($id: ID!, $text: String!) { commentOnTask(id: $id, text: $text) { task { id version } } }'
RETRYABLE = {"SERVICE_UNAVAILABLE", "TIMEOUT"}


def log(msg):
    print(f"[drill {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(*args, check=True, timeout=120):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout)


def psql(sql, url=PRIMARY):
    return run("psql", url, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout.strip()


def cluster(*args, timeout=180):
    return run("bash", CLUSTER, *args, timeout=timeout).stdout.strip()


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body text); status 0 when the server could not be reached."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, dict(res.headers), res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, {}, str(e)


class Sangam:
    """One `sangam serve` process."""

    def __init__(self, port, read_url=None, extra=()):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        os.makedirs(LOGS, exist_ok=True)
        self.log = open(os.path.join(LOGS, f"sangam-{port}.log"), "a")
        args = [SANGAM, "serve", "--listen", f"127.0.0.1:{port}", "--database-url", PRIMARY,
                "--issuer", ISSUER, "--log-format", "json", "--request-timeout-secs", "10", *extra]
        if read_url:
            args += ["--database-read-url", read_url]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        # .ci/ha-drills kills what is listed here if this script dies before stopping it.
        self.pidfile = os.path.join(LOGS, f"sangam-{port}.pid")
        with open(self.pidfile, "w") as f:
            f.write(str(self.proc.pid))
        deadline = time.time() + 60
        while time.time() < deadline:
            if http("GET", self.base + "/healthz", timeout=1)[0] == 200:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"sangam on {port} exited; see {self.log.name}")
            time.sleep(0.2)
        raise RuntimeError(f"sangam on {port} did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)

    def metrics(self):
        return http("GET", self.base + "/metrics")[2]


def fresh_database():
    """A new database with the demo data and a state administrator client; its credentials."""
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", ADMIN)
    psql(f"CREATE DATABASE {DB}", ADMIN)
    env = {**os.environ, "DATABASE_URL": PRIMARY}
    subprocess.run([SANGAM, "seed", "demo"], env=env, check=True, capture_output=True, timeout=300)
    out = subprocess.run(
        [SANGAM, "client", "add", "--name", "drill", "--role", "state_admin", "--states", "22,23",
         "--scopes", "villages:read tasks:read tasks:write progress:read audit:read"],
        env=env, check=True, capture_output=True, text=True, timeout=60).stdout
    cid = re.search(r"client_id:\s+(\S+)", out).group(1)
    secret = re.search(r"client_secret:\s+(\S+)", out).group(1)
    return cid, secret


def token(base, cid, secret):
    import base64
    auth = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    for _ in range(50):
        status, _, body = http("POST", base + "/oauth/token", "grant_type=client_credentials",
                               {"authorization": f"Basic {auth}",
                                "content-type": "application/x-www-form-urlencoded"})
        if status == 200:
            return json.loads(body)["access_token"]
        time.sleep(0.2)
    raise RuntimeError(f"no token from {base}: {status} {body}")


def graphql(base, tok, query, variables, headers=None, timeout=15):
    h = {"authorization": f"Bearer {tok}", "content-type": "application/json", **(headers or {})}
    status, rh, body = http("POST", base + "/graphql", json.dumps({"query": query, "variables": variables}),
                            h, timeout=timeout)
    try:
        parsed = json.loads(body) if status else None
    except ValueError:
        parsed = None
    return status, rh, parsed, body


def error_code(status, parsed, body):
    """None for success; else what went wrong, as a stable label."""
    if status == 0:
        return "CONNECTION"
    if status == 503 and parsed:
        # Refused before GraphQL ran (the token could not be checked without the database): the
        # same error shape as every other, with a 503.
        errs = parsed.get("errors") or [{}]
        if (errs[0].get("extensions") or {}).get("code") == "SERVICE_UNAVAILABLE":
            return "SERVICE_UNAVAILABLE"
    if status != 200 or parsed is None:
        return f"HTTP_{status}"
    errs = parsed.get("errors") or []
    if not errs:
        return None
    return (errs[0].get("extensions") or {}).get("code", "NO_CODE")


def task_ids(base, tok, n):
    _, _, parsed, body = graphql(base, tok, "query($n: Int!) { tasks(first: $n) { edges { node { id } } } }", {"n": n})
    ids = [e["node"]["id"] for e in parsed["data"]["tasks"]["edges"]]
    if len(ids) < n:
        raise RuntimeError(f"need {n} tasks, found {len(ids)}: {body[:300]}")
    return ids


class Writers:
    """WRITERS threads, each commenting on its own task with a fresh idempotency key per comment
    and retrying that key (alternating instances) until it is acknowledged."""

    def __init__(self, bases, tok, tasks, tag):
        self.bases, self.tok, self.tasks, self.tag = bases, tok, tasks, tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = []  # (key, when the acknowledged attempt was sent, when it was acknowledged)
        self.versions = []  # (task id, version) each acknowledged write produced
        self.errors = {}  # code -> count
        self.unexpected = []  # (key, code, body)
        self.threads = [threading.Thread(target=self.writer, args=(i,), daemon=True) for i in range(WRITERS)]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def writer(self, i):
        n = 0
        while not self.stop.is_set():
            key = f"{self.tag}-w{i}-{n}"
            attempt = 0
            while True:
                base = self.bases[(i + attempt) % len(self.bases)]
                sent = time.time()
                status, _, parsed, body = graphql(
                    base, self.tok, COMMENT, {"id": self.tasks[i], "text": key},
                    {"idempotency-key": key, "x-request-id": key})
                code = error_code(status, parsed, body)
                if code is None:
                    with self.lock:
                        self.acked.append((key, sent, time.time()))
                        task = parsed["data"]["commentOnTask"]["task"]
                        self.versions.append((task["id"], task["version"]))
                    break
                with self.lock:
                    self.errors[code] = self.errors.get(code, 0) + 1
                    # An instance that cannot reach the database answers SERVICE_UNAVAILABLE (or
                    # its own request TIMEOUT); a key still held by a first attempt is CONFLICT.
                    if code not in RETRYABLE and not (code == "CONFLICT" and "in progress" in body):
                        self.unexpected.append((key, code, body[:300]))
                attempt += 1
                if self.stop.is_set() and attempt > 200:
                    break
                time.sleep(0.2)
            n += 1

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def check_exactly_once(acked, tag):
    """Every acknowledged comment is in the history and the audit log exactly once, and nothing
    was written twice."""
    history = dict(
        line.split("|") for line in psql(
            f"SELECT note, count(*) FROM task_event WHERE note LIKE '{tag}-%' GROUP BY note").splitlines() if line)
    audit = dict(
        line.split("|") for line in psql(
            f"SELECT request_id, count(*) FROM audit_log WHERE request_id LIKE '{tag}-%' "
            "AND operation = 'commentOnTask' GROUP BY request_id").splitlines() if line)
    problems = []
    for key, _, _ in acked:
        if history.get(key) != "1":
            problems.append(f"{key}: {history.get(key, 0)} history rows")
        if audit.get(key) != "1":
            problems.append(f"{key}: {audit.get(key, 0)} audit rows")
    twice = [k for k, c in history.items() if c != "1"] + [k for k, c in audit.items() if c != "1"]
    problems += [f"{k}: written more than once" for k in twice]
    return problems, len(history)


class WebSocket:
    """Just enough of RFC 6455 for a graphql-transport-ws client: text frames, ping/pong."""

    def __init__(self, base, path, protocol):
        host, port = base.split("//")[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        return chunk

    def _read(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, opcode, data):
        head = bytearray([0x80 | opcode])
        n = len(data)
        if n < 126:
            head.append(0x80 | n)
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        self.sock.sendall(bytes(head) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def send(self, message):
        self._frame(0x1, json.dumps(message).encode())

    def recv(self):
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("closed by the server")
            if opcode == 0x9:
                self._frame(0xA, data)
                continue
            if opcode in (0x0, 0x1):
                return json.loads(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Subscriber:
    """`taskEvents` over graphql-transport-ws; on a broken connection it resubscribes after the
    last cursor it received."""

    QUERY = "subscription($after: String) { taskEvents(after: $after) { cursor change version task { id } } }"

    def __init__(self, base, tok):
        self.base, self.tok = base, tok
        self.events = []  # (task id, version, change)
        self.errors = []
        self.reconnects = 0
        self.unavailable = 0
        self.cursor = None
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.ws = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            try:
                self.ws = WebSocket(self.base, "/graphql/ws", "graphql-transport-ws")
                self.ws.send({"type": "connection_init", "payload": {"Authorization": f"Bearer {self.tok}"}})
                if self.ws.recv().get("type") != "connection_ack":
                    raise ConnectionError("no connection_ack")
                self.ws.send({"id": "1", "type": "subscribe",
                              "payload": {"query": self.QUERY, "variables": {"after": self.cursor}}})
                self.ready.set()
                while not self.stop.is_set():
                    m = self.ws.recv()
                    if m.get("type") == "ping":
                        self.ws.send({"type": "pong"})
                    elif m.get("type") == "next":
                        payload = m["payload"]
                        if payload.get("errors"):
                            code = (payload["errors"][0].get("extensions") or {}).get("code")
                            if code != "SERVICE_UNAVAILABLE":
                                with self.lock:
                                    self.errors.append(json.dumps(payload["errors"])[:300])
                            # What a client does with a retryable error: resubscribe after the
                            # last event it has, so the failed one comes again.
                            self.unavailable += 1
                            break
                        e = payload["data"]["taskEvents"]
                        with self.lock:
                            self.events.append((e["task"]["id"], e["version"], e["change"]))
                            self.cursor = e["cursor"]
                    elif m.get("type") in ("error", "complete"):
                        with self.lock:
                            self.errors.append(json.dumps(m)[:300])
                        break
            except (OSError, ConnectionError, ValueError, KeyError, TypeError):
                pass
            finally:
                if self.ws:
                    self.ws.close()
            if not self.stop.is_set():
                self.reconnects += 1
                time.sleep(0.5)

    def received(self):
        with self.lock:
            return list(self.events)

    def finish(self):
        self.stop.set()
        if self.ws:
            self.ws.close()
        self.thread.join(10)


def wait_writes(w, n, limit):
    deadline = time.time() + limit
    while w.acked_count() < n and time.time() < deadline:
        time.sleep(0.1)


def load_drill(name, disrupt, settle, subscribe=False):
    """Shared by failover and switchover: load, disrupt, wait for recovery, verify. With
    `subscribe`, a subscriber on the first instance must receive every acknowledged write once."""
    started = time.time()
    cid, secret = fresh_database()
    a, b = Sangam(PORTS[0]), Sangam(PORTS[1])
    try:
        tok = token(a.base, cid, secret)
        tasks = task_ids(a.base, tok, WRITERS)
        sub = None
        if subscribe:
            sub = Subscriber(a.base, tok)
            if not sub.ready.wait(30):
                raise RuntimeError("the subscriber could not subscribe")
            time.sleep(2)  # the subscription registers on the server before the first write
        w = Writers([a.base, b.base], tok, tasks, name)
        w.start()
        wait_writes(w, 200, 60)
        before = w.acked_count()
        detail, t0 = disrupt()
        # Recovery: the first acknowledgement of a write sent after the disruption (one sent
        # before may have committed on the old primary).
        recovered = None
        deadline = t0 + settle
        while time.time() < deadline:
            with w.lock:
                after = [done for _, sent, done in w.acked if sent > t0]
            if after:
                recovered = min(after) - t0
                break
            time.sleep(0.1)
        # Keep writing a little past recovery, so every writer has retried through it.
        time.sleep(3)
        w.finish()
        problems, rows = check_exactly_once(w.acked, name)
        if sub:
            wanted = set(w.versions)
            deadline = time.time() + 30
            while time.time() < deadline and not wanted <= {(t, v) for t, v, _ in sub.received()}:
                time.sleep(0.5)
            sub.finish()
            got = [(t, v) for t, v, _ in sub.received()]
            seen = {}
            for pair in got:
                seen[pair] = seen.get(pair, 0) + 1
            missing = wanted - set(seen)
            twice = [p for p, c in seen.items() if c > 1]
            problems += [f"subscriber never received {p}" for p in sorted(missing)[:5]]
            problems += [f"subscriber received {p} {seen[p]} times" for p in twice[:5]]
            problems += [f"subscriber error: {e}" for e in sub.errors[:3]]
            detail += (f" events={len(got)} missing={len(missing)} duplicates={len(twice)} "
                       f"event_errors_unavailable={sub.unavailable} resubscribed={sub.reconnects}")
        if w.unexpected:
            problems += [f"{k}: {c} {b}" for k, c, b in w.unexpected[:5]]
        if recovered is None:
            problems.append(f"no write succeeded within {settle} s of the disruption")
        ok = not problems
        summary = (f"DRILL {name} {'PASS' if ok else 'FAIL'} acknowledged={len(w.acked)} "
                   f"(before={before}) rows={rows} recovery_s={recovered if recovered is None else round(recovered, 1)} "
                   f"errors={json.dumps(w.errors, sort_keys=True)} {detail} took_s={round(time.time() - started)}")
        for p in problems[:10]:
            log(f"{name}: {p}")
        return ok, summary
    finally:
        a.stop()
        b.stop()


def failover():
    def disrupt():
        leader = cluster("leader")
        log(f"kill -9 of {leader} (Patroni and postmaster)")
        cluster("kill-node", leader)
        return f"killed={leader}", time.time()

    try:
        return load_drill("failover", disrupt, 60)
    finally:
        # Bring the killed node back so the next drill has three nodes again.
        for n in ("node1", "node2", "node3"):
            cluster("start-node", n)
        cluster("wait-primary", "120")
        wait_replicas()


def subscribers():
    """The failover drill with a subscriber on one instance through the failover."""

    def disrupt():
        leader = cluster("leader")
        log(f"kill -9 of {leader} (Patroni and postmaster), a subscriber listening")
        cluster("kill-node", leader)
        return f"killed={leader}", time.time()

    try:
        return load_drill("subscribers", disrupt, 60, subscribe=True)
    finally:
        for n in ("node1", "node2", "node3"):
            cluster("start-node", n)
        cluster("wait-primary", "120")
        wait_replicas()


def switchover():
    def disrupt():
        leader = cluster("leader")
        t0 = time.time()
        out = cluster("patronictl", "switchover", "--leader", leader, "--force", timeout=120)
        log(out.splitlines()[-1] if out else "switchover requested")
        return f"from={leader}", t0

    return load_drill("switchover", disrupt, 60)


def wait_replicas(limit=120):
    """Until both replicas stream from the current primary."""
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            n = int(psql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", ADMIN))
        except subprocess.CalledProcessError:
            n = 0
        if n >= 2:
            return
        time.sleep(1)
    raise RuntimeError("replicas did not come back")


def replica():
    """While the replicas apply WAL late, a client that writes and then reads with its token
    always sees its write; a client without a token reads data within the lag bound."""
    started = time.time()
    cid, secret = fresh_database()
    problems = []
    delay_s, bound_s = 2, 5
    cluster("patronictl", "edit-config", "--force", "-p", f"recovery_min_apply_delay={delay_s}s")
    s = Sangam(PORTS[0], read_url=REPLICA, extra=("--replica-max-lag-secs", str(bound_s)))
    try:
        tok = token(s.base, cid, secret)
        task = task_ids(s.base, tok, 1)[0]
        read = 'query($id: ID!) { node(id: $id) { ... on Task { version } } }'
        own, stale_tokenless, tokenless = 0, 0, 0
        last_write = (0, 0.0)  # (version, acknowledged at)
        deadline = time.time() + 40
        while time.time() < deadline:
            status, rh, parsed, body = graphql(s.base, tok, COMMENT, {"id": task, "text": f"replica-{own}"})
            if error_code(status, parsed, body):
                problems.append(f"write failed: {body[:200]}")
                break
            version = parsed["data"]["commentOnTask"]["task"]["version"]
            tok_header = {k.lower(): v for k, v in rh.items()}.get("sangam-consistency")
            if not tok_header:
                problems.append("a write returned no Sangam-Consistency header")
                break
            last_write = (version, time.time())
            status, _, parsed, body = graphql(s.base, tok, read, {"id": task}, {"sangam-consistency": tok_header})
            seen = parsed["data"]["node"]["version"] if parsed and parsed.get("data") else None
            if seen is None or seen < version:
                problems.append(f"read with token saw version {seen} after writing {version}")
            own += 1
            # Without a token: what is read may be older, but never older than the bound allows.
            status, _, parsed, body = graphql(s.base, tok, read, {"id": task})
            seen = parsed["data"]["node"]["version"] if parsed and parsed.get("data") else None
            tokenless += 1
            if seen is not None and seen < version:
                stale_tokenless += 1
            time.sleep(0.05)
        # A version acknowledged more than the bound ago must be visible without a token.
        time.sleep(bound_s + 1)
        status, _, parsed, body = graphql(s.base, tok, read, {"id": task})
        seen = parsed["data"]["node"]["version"]
        if seen < last_write[0]:
            problems.append(f"{bound_s + 1} s after the last write a token-less read saw {seen} < {last_write[0]}")
        m = s.metrics()
        on_replica = re.search(r'sangam_reads_total\{on="replica",why="fresh"\} (\d+)', m)
        behind = re.search(r'sangam_reads_total\{on="primary",why="behind"\} (\d+)', m)
        lag = re.search(r"^sangam_replica_lag_seconds (\S+)$", m, re.M)
        on_replica = int(on_replica.group(1)) if on_replica else 0
        behind = int(behind.group(1)) if behind else 0
        if on_replica == 0:
            problems.append("no read ran on the replica")
        ok = not problems
        for p in problems[:10]:
            log(f"replica: {p}")
        return ok, (f"DRILL replica {'PASS' if ok else 'FAIL'} writes={own} read_own_write_ok={own - sum('token saw' in p for p in problems)} "
                    f"tokenless_reads={tokenless} tokenless_older={stale_tokenless} reads_on_replica={on_replica} "
                    f"token_sent_to_primary={behind} last_lag_s={lag.group(1) if lag else '?'} "
                    f"apply_delay_s={delay_s} bound_s={bound_s} took_s={round(time.time() - started)}")
    finally:
        s.stop()
        cluster("patronictl", "edit-config", "--force", "-p", "recovery_min_apply_delay=0")


DRILLS = {"failover": failover, "subscribers": subscribers, "replica": replica, "switchover": switchover}

if __name__ == "__main__":
    names = sys.argv[1:] or list(DRILLS)
    failed = False
    for name in names:
        try:
            ok, line = DRILLS[name]()
        except Exception as e:  # a drill that cannot run is a failed drill, with its reason
            ok, line = False, f"DRILL {name} FAIL error={type(e).__name__}: {e}"
        print(line, flush=True)
        failed |= not ok
    sys.exit(1 if failed else 0)
