//! Subscriptions fed from the durable event log: no acknowledged write is lost to a subscriber
//! when the database connection under the listener breaks, events arrive in commit order and
//! once, and a subscription resumes from a cursor (EVENTS_EXPIRED once the log has pruned it).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tests::{Backend, TestApp, TestDb, backends, each_backend};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const COMMENT: &str =
    "mutation($id: ID!) { commentOnTask(id: $id, text: \"Checked on site\") { task { version } } }";
const EVENTS: &str = "subscription($id: ID!, $after: String) { taskEvents(filter: { task: $id }, after: $after) { cursor kind version task { id } } }";

async fn subscribe(base: &str, token: &str, task: &Value, after: Option<&str>) -> Ws {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("ws request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let mut ws = connect_async(req).await.expect("ws connect").0;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    ws.send(Message::Text(init.to_string().into()))
        .await
        .expect("send");
    assert_eq!(next(&mut ws).await.expect("ack")["type"], "connection_ack");
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": EVENTS, "variables": { "id": task, "after": after } } });
    ws.send(Message::Text(sub.to_string().into()))
        .await
        .expect("send");
    // Let the server register the subscription before the test writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    ws
}

/// The next JSON message, skipping keep-alives; `None` when the socket closed.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("no message within 20 s")?;
        match msg.ok()? {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if matches!(v["type"].as_str(), Some("ka" | "ping" | "pong")) {
                    continue;
                }
                return Some(v);
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

async fn a_task(app: &TestApp) -> Value {
    app.data(
        "{ tasks(first: 1) { edges { node { id version } } } }",
        json!({}),
    )
    .await["tasks"]["edges"][0]["node"]
        .clone()
}

/// Terminates the backends of the test database that `filter` selects, as an operator or a
/// failing network would.
async fn terminate(t: &TestDb, filter: &str) -> i64 {
    let sql = format!(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND {filter}"
    );
    let row =
        t.db.query_one_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .expect("terminate")
            .expect("row");
    row.try_get("", "n").expect("n")
}

/// Test (a) of the durable-events issue: a subscriber on instance A, writes on instance B; the
/// listeners' connections are terminated twice, then every connection to the database (what a
/// PostgreSQL restart does to Sangam). Every acknowledged write reaches the subscriber, in
/// order, none twice.
#[tokio::test]
async fn no_acknowledged_write_is_lost_when_the_listeners_connection_breaks() {
    let Some(Backend::Postgres(admin)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("TEST_DATABASE_URL not set: this test runs in the PostgreSQL suite");
        return;
    };
    let a = TestApp::demo(Backend::Postgres(admin)).await;
    let b = TestApp::over(TestDb::new_at(&a.t.url).await).await;
    let base_a = a.serve().await;
    let task = a_task(&a).await;
    let mut ws = subscribe(&base_a, &a.admin_token, &task["id"], None).await;

    let mut acknowledged = Vec::new();
    for n in 0..90 {
        match n {
            20 | 45 => {
                let killed = terminate(&a.t, "query ILIKE 'LISTEN%'").await;
                assert!(killed >= 1, "the listeners' backends were found");
            }
            // Every connection, as a restart would: pools and listeners alike.
            70 => {
                terminate(&a.t, "true").await;
            }
            _ => {}
        }
        // Right after every connection is terminated, each of B's pooled connections that was
        // in use moments ago fails one request (503 SERVICE_UNAVAILABLE: busy connections are
        // not pinged, `db.rs`); such a write was not acknowledged and the client retries it.
        let reply = b
            .send(b.graphql_request(Some(&b.admin_token), COMMENT, json!({ "id": task["id"] })))
            .await;
        let res = reply.json();
        if let Some(v) = res["data"]["commentOnTask"]["task"]["version"].as_i64() {
            acknowledged.push(v);
        } else {
            assert_eq!(
                res["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
                "{}",
                reply.body
            );
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    assert!(
        acknowledged.len() >= 80,
        "most writes succeed: {}",
        acknowledged.len()
    );
    let last = *acknowledged.last().expect("writes");
    let mut received: Vec<i64> = Vec::new();
    let mut cursors: Vec<i64> = Vec::new();
    while received.last().is_none_or(|v| *v < last) {
        let msg = next(&mut ws).await.expect("the subscription stays open");
        let e = &msg["payload"]["data"]["taskEvents"];
        assert_eq!(msg["type"], "next", "{msg:#}");
        assert_eq!(e["kind"], "task.commented");
        received.push(e["version"].as_i64().expect("version"));
        cursors.push(
            e["cursor"]
                .as_str()
                .expect("cursor")
                .parse()
                .expect("numeric"),
        );
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in commit order, none twice: {received:?}"
    );
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "cursors grow: {cursors:?}"
    );
    let missing: Vec<i64> = acknowledged
        .iter()
        .filter(|v| !received.contains(v))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes never delivered: {missing:?}"
    );
}

#[tokio::test]
async fn a_subscription_resumes_after_a_cursor_and_an_expired_one_is_refused() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let base = app.serve().await;
        let task = a_task(&app).await;
        let mut ws = subscribe(&base, &app.admin_token, &task["id"], None).await;
        for _ in 0..3 {
            app.data(COMMENT, json!({ "id": task["id"] })).await;
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            let msg = next(&mut ws).await.expect("event");
            seen.push(msg["payload"]["data"]["taskEvents"].clone());
        }
        drop(ws);
        // Offline after the first event: resuming gets the second and third, then live ones.
        let first = seen[0]["cursor"].as_str().expect("cursor");
        let mut resumed = subscribe(&base, &app.admin_token, &task["id"], Some(first)).await;
        for want in &seen[1..] {
            let got = next(&mut resumed).await.expect("replayed");
            assert_eq!(&got["payload"]["data"]["taskEvents"], want, "{got:#}");
        }
        app.data(COMMENT, json!({ "id": task["id"] })).await;
        let live = next(&mut resumed).await.expect("live");
        assert_eq!(
            live["payload"]["data"]["taskEvents"]["version"],
            seen[2]["version"].as_i64().expect("v") + 1,
            "then live, with nothing twice"
        );

        // Past the retention window: everything but the newest event is pruned.
        let pruned =
            api::events::log::prune(&app.t.db, chrono::Utc::now() + chrono::TimeDelta::days(1))
                .await
                .expect("prune");
        assert!(pruned >= 3);
        let mut expired = subscribe(&base, &app.admin_token, &task["id"], Some(first)).await;
        let msg = next(&mut expired).await.expect("an answer");
        // The field's error, as async-graphql reports a subscription that fails to start.
        assert_eq!(msg["type"], "next", "{msg:#}");
        assert_eq!(
            msg["payload"]["errors"][0]["extensions"]["code"], "EVENTS_EXPIRED",
            "{msg:#}"
        );
    })
    .await;
}

/// A PostgreSQL server of the test's own (initdb into a temporary directory, on a free port),
/// so the test can restart it; the shared server is never restarted. As root the server runs as
/// the `postgres` user (initdb refuses root), as `deploy/ha/cluster.sh` does with its own user.
struct OwnPostgres {
    dir: std::path::PathBuf,
    port: u16,
    bin: std::path::PathBuf,
    as_postgres: bool,
}

impl OwnPostgres {
    /// Starts it, or panics saying why it could not: the suite must not pass without it.
    fn start() -> Self {
        let bin = std::env::var_os("SANGAM_PG_BIN")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
        assert!(
            bin.join("initdb").exists() && bin.join("pg_ctl").exists(),
            "PostgreSQL's server programs are not in {} (set SANGAM_PG_BIN); the restart test \
             needs a server of its own",
            bin.display()
        );
        let uid = std::process::Command::new("id")
            .arg("-u")
            .output()
            .expect("run id -u");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .subsec_nanos();
        let dir =
            std::env::temp_dir().join(format!("sangam-pg-restart-{}-{nanos}", std::process::id()));
        let pg = Self {
            dir,
            port,
            bin,
            as_postgres,
        };
        let data = pg.dir.display().to_string();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.ctl(&["start"]);
        pg
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one of the server programs (as `postgres` when we are root); panics on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pg_ctl ACTION` on this server (`start` waits until it accepts connections).
    fn ctl(&self, action: &[&str]) {
        let data = self.dir.display().to_string();
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c max_connections=60",
            self.port
        );
        let log = self.dir.join("server.log").display().to_string();
        let mut args = vec!["-D", &data, "-w", "-t", "60", "-o", &options, "-l", &log];
        args.extend_from_slice(action);
        self.run("pg_ctl", &args);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.display().to_string();
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            std::process::Command::new(&exe)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends a comment through `base` with `Idempotency-Key: key` until it is acknowledged, as a
/// field app would; returns the version it was acknowledged with, and how many tries it took.
async fn comment_until_acknowledged(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    task: &Value,
    key: &str,
) -> (i64, usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut tries = 0;
    loop {
        tries += 1;
        let res = http
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&json!({ "query": COMMENT, "variables": { "id": task } }))
            .send()
            .await;
        if let Ok(res) = res
            && let Ok(body) = res.json::<Value>().await
            && let Some(v) = body["data"]["commentOnTask"]["task"]["version"].as_i64()
        {
            return (v, tries);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "write {key} not acknowledged within 90 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Test (a) with a real restart: PostgreSQL of the test's own, two Sangam instances on it (each
/// its own pool, listener and event bus), a subscriber on A and writes with idempotency keys on
/// B while the server stops (`pg_ctl stop -m fast`), stays down two seconds and starts again.
/// Every acknowledged write reaches the subscriber, in commit order, none twice. Runs with the
/// PostgreSQL suite (`TEST_DATABASE_URL`); there it fails, never skips, when it cannot start its
/// server.
#[tokio::test]
async fn no_acknowledged_write_is_lost_when_postgresql_restarts() {
    if !std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        eprintln!("TEST_DATABASE_URL not set: this test runs in the PostgreSQL suite");
        return;
    }
    let pg = std::sync::Arc::new(OwnPostgres::start());
    let a = TestApp::demo(Backend::Postgres(pg.url())).await;
    let b = TestApp::over(TestDb::new_at(&a.t.url).await).await;
    let (base_a, base_b) = (a.serve().await, b.serve().await);
    let task = a_task(&a).await;
    let mut ws = subscribe(&base_a, &a.admin_token, &task["id"], None).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");

    // Writes go on, one after another, until the restart has finished and 20 more were
    // acknowledged: so some write meets the outage however slow the machine is.
    const BEFORE: usize = 25;
    const AFTER: usize = 20;
    let mut acknowledged = Vec::new();
    let mut restart: Option<tokio::task::JoinHandle<(Instant, Instant)>> = None;
    // When each write was sent and acknowledged: Sangam waits for its database rather than
    // failing at once, so a write can span the outage in one attempt.
    let mut spans = Vec::new();
    let mut after = 0;
    for n in 0.. {
        if restart.as_ref().is_some_and(|r| r.is_finished()) {
            after += 1;
            if after > AFTER {
                break;
            }
        }
        assert!(n < 5_000, "the restart did not finish");
        if n == BEFORE {
            let pg = pg.clone();
            restart = Some(tokio::task::spawn_blocking(move || {
                pg.ctl(&["-m", "fast", "stop"]);
                let down = Instant::now();
                std::thread::sleep(Duration::from_secs(2));
                let up = Instant::now();
                pg.ctl(&["start"]);
                (down, up)
            }));
        }
        let sent = Instant::now();
        let (v, _tries) = comment_until_acknowledged(
            &http,
            &base_b,
            &b.admin_token,
            &task["id"],
            &format!("restart-{n}"),
        )
        .await;
        spans.push((sent, Instant::now()));
        acknowledged.push(v);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (down, up) = restart
        .expect("restarted")
        .await
        .expect("the restart finished");
    assert!(
        spans
            .iter()
            .any(|(sent, done)| *sent <= up && *done >= down),
        "some write was under way while the server was down (else the test proved nothing)"
    );
    assert!(
        acknowledged.windows(2).all(|w| w[0] < w[1]),
        "one version per acknowledged write: {acknowledged:?}"
    );
    let last = *acknowledged.last().expect("writes");
    let mut received: Vec<i64> = Vec::new();
    while received.last().is_none_or(|v| *v < last) {
        let msg = next(&mut ws).await.expect("the subscription stays open");
        assert_eq!(msg["type"], "next", "{msg:#}");
        let e = &msg["payload"]["data"]["taskEvents"];
        assert_eq!(e["kind"], "task.commented", "{msg:#}");
        received.push(e["version"].as_i64().expect("version"));
    }
    assert!(
        received.windows(2).all(|w| w[0] < w[1]),
        "in commit order, none twice: {received:?}"
    );
    let missing: Vec<i64> = acknowledged
        .iter()
        .filter(|v| !received.contains(v))
        .copied()
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged writes never delivered: {missing:?}"
    );
    drop(ws);
    drop((a, b));
}

/// The follower reads the log only while this instance has a subscriber (`api::events`). After
/// a time with none, during which writes went on, a new subscriber gets only what is written
/// after it came, and one resuming from a cursor gets everything after that cursor, once and
/// in order: the follower went on from the right place.
#[tokio::test]
async fn after_a_time_with_no_subscriber_new_ones_get_what_follows_and_nothing_older() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        let base = app.serve().await;
        let task = a_task(&app).await;
        let version = |msg: &Value| {
            assert_eq!(msg["type"], "next", "[{db}] {msg:#}");
            msg["payload"]["data"]["taskEvents"]["version"]
                .as_i64()
                .unwrap_or_else(|| panic!("[{db}] a version: {msg:#}"))
        };
        let (on, id) = (&app, &task["id"]);
        let comment = move || async move {
            on.data(COMMENT, json!({ "id": id })).await["commentOnTask"]["task"]["version"]
                .as_i64()
                .expect("version")
        };

        let mut first = subscribe(&base, &app.admin_token, &task["id"], None).await;
        let v1 = comment().await;
        let msg = next(&mut first).await.expect("event");
        assert_eq!(version(&msg), v1, "[{db}]");
        let cursor = msg["payload"]["data"]["taskEvents"]["cursor"]
            .as_str()
            .expect("cursor")
            .to_owned();
        drop(first);
        tokio::time::sleep(Duration::from_millis(300)).await;

        // Nobody subscribes: these are logged, and nobody reads them live.
        let mut unheard = Vec::new();
        for _ in 0..3 {
            unheard.push(comment().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let mut fresh = subscribe(&base, &app.admin_token, &task["id"], None).await;
        let mut resumed = subscribe(&base, &app.admin_token, &task["id"], Some(&cursor)).await;
        let v5 = comment().await;
        assert_eq!(
            version(&next(&mut fresh).await.expect("event")),
            v5,
            "[{db}] a new subscriber's first event is the first write after it came"
        );
        let mut replayed = Vec::new();
        for _ in 0..4 {
            replayed.push(version(&next(&mut resumed).await.expect("event")));
        }
        let mut want = unheard.clone();
        want.push(v5);
        assert_eq!(
            replayed, want,
            "[{db}] resuming after {cursor}: every later event, once, in order"
        );
        let v6 = comment().await;
        assert_eq!(
            version(&next(&mut fresh).await.expect("event")),
            v6,
            "[{db}]"
        );
        assert_eq!(
            version(&next(&mut resumed).await.expect("event")),
            v6,
            "[{db}]"
        );
    })
    .await;
}
