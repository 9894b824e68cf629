#!/usr/bin/env python3
"""Measures Sangam through PgBouncer (Debian's 1.18) in session and transaction mode against a
direct connection: errors and throughput of reads and writes under concurrency.

    pgbouncer.py [SECONDS]      (default 15 per cell)

Uses the PostgreSQL on 127.0.0.1:5432 (a scratch database, dropped at the end), PgBouncer on
127.0.0.1:6439 run as the `postgres` OS user, and Sangam on 127.0.0.1:18190. Prints one line per
cell; docs/HA.md has the results.
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drills  # noqa: E402

SERVER = "postgres://postgres@127.0.0.1:5432"
DB = "sangam_pgbouncer"
PGB_PORT = 6439
PORT = 18190
THREADS = 16
POOL = 10

READ = "{ villages(first: 20) { edges { node { id name households gramPanchayat { name } } } } }"


def pgbouncer(mode, workdir):
    ini = os.path.join(workdir, f"pgbouncer-{mode}.ini")
    with open(ini, "w") as f:
        f.write(f"""[databases]
{DB} = host=127.0.0.1 port=5432 dbname={DB}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {PGB_PORT}
unix_socket_dir =
auth_type = trust
auth_file = {workdir}/users.txt
pool_mode = {mode}
; sqlx sets extra_float_digits at connection start; PgBouncer refuses unknown startup
; parameters unless told to ignore them ("unsupported startup parameter: extra_float_digits").
ignore_startup_parameters = extra_float_digits
default_pool_size = {POOL}
max_client_conn = 200
logfile = {workdir}/pgbouncer-{mode}.log
pidfile = {workdir}/pgbouncer.pid
""")
    with open(os.path.join(workdir, "users.txt"), "w") as f:
        f.write('"postgres" ""\n')
    subprocess.run(["chown", "-R", "postgres", workdir], check=True)
    proc = subprocess.Popen(["runuser", "-u", "postgres", "--", "pgbouncer", ini],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    return proc


def cell(name, url, seconds, cid, secret):
    drills.PRIMARY = url
    s = drills.Sangam(PORT, extra=("--db-max-connections", str(POOL)))
    try:
        tok = drills.token(s.base, cid, secret)
        tasks = drills.task_ids(s.base, tok, THREADS)
        counts = collections.Counter()
        samples = collections.defaultdict(list)
        stop = time.time() + seconds
        lock = threading.Lock()

        def worker(i):
            n = 0
            while time.time() < stop:
                write = n % 4 == 0
                q, v = (drills.COMMENT, {"id": tasks[i], "text": f"pgb-{name}-{i}-{n}"}) if write else (READ, {})
                status, _, parsed, body = drills.graphql(s.base, tok, q, v)
                code = drills.error_code(status, parsed, body) or "ok"
                with lock:
                    counts[("write" if write else "read", code)] += 1
                    if code != "ok" and len(samples[code]) < 2:
                        samples[code].append(body[:200])
                n += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = sum(counts.values())
        ok = sum(c for (kind, code), c in counts.items() if code == "ok")
        line = (f"PGBOUNCER {name}: {total / seconds:.0f} req/s, ok {ok}/{total}, "
                f"{json.dumps({f'{k}:{c}': n for (k, c), n in sorted(counts.items())})}")
        print(line, flush=True)
        for code, bodies in samples.items():
            print(f"  {code}: {bodies[0]}", flush=True)
        return line
    finally:
        s.stop()


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    drills.ADMIN = f"{SERVER}/postgres"
    drills.DB = DB
    drills.PRIMARY = f"{SERVER}/{DB}"
    cid, secret = drills.fresh_database()
    workdir = tempfile.mkdtemp(prefix="sangam-pgb-")
    try:
        cell("direct", f"{SERVER}/{DB}", seconds, cid, secret)
        for mode in ("session", "transaction"):
            proc = pgbouncer(mode, workdir)
            try:
                cell(mode, f"postgres://postgres@127.0.0.1:{PGB_PORT}/{DB}", seconds, cid, secret)
            finally:
                proc.terminate()
                proc.wait()
    finally:
        drills.psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"{SERVER}/postgres")
        subprocess.run(["rm", "-rf", workdir])


if __name__ == "__main__":
    main()
