//! When PostgreSQL goes away, `/readyz` says 503 and queries fail cleanly; when it returns, the
//! service recovers by itself. The outage is a TCP proxy that the test cuts and restores.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tests::{Backend, PgDatabase, TestApp, TestDb, backends, replace_db_name};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// Forwards TCP to `target` while up; when cut, drops every connection and refuses new ones.
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (flag, cuts) = (up.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees a closed connection
                }
                let mut on_cut = cuts.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = on_cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cut }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// The PostgreSQL server's admin URL; these tests need a server to break, so without
/// TEST_DATABASE_URL they say so and pass (the PostgreSQL suite runs them).
fn postgres_admin() -> Option<String> {
    let found = backends().into_iter().find_map(|b| match b {
        Backend::Postgres(url) => Some(url),
        _ => None,
    });
    if found.is_none() {
        eprintln!("TEST_DATABASE_URL not set: this test runs in the PostgreSQL suite");
    }
    found
}

fn host_port(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    let after = after.rsplit_once('@').map_or(after, |(_, r)| r);
    let host = after.split(['/', '?']).next().unwrap_or(after);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

#[tokio::test]
async fn readiness_and_queries_follow_the_database() {
    let Some(admin) = postgres_admin() else {
        return;
    };
    let pg = PgDatabase::create(&admin).await.expect("create database");
    {
        // Migrate directly, then serve through the proxy.
        let direct = TestDb::new_at(&pg.url).await;
        direct.db.clone().close().await.ok();
    }
    let proxy = Proxy::start(host_port(&admin)).await;
    let through = replace_db_name(
        &admin.replacen(&host_port(&admin), &proxy.addr, 1),
        &pg_name(&pg.url),
    );
    let app = TestApp::over(TestDb::new_at(&through).await).await;

    assert_eq!(app.get("/readyz").await.status, 200);
    proxy.set_up(false);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    // Authentication itself needs the database (revocations, disabled clients), so a request is
    // answered 503 with a retryable code, not a 500 and not a leak.
    let reply = app
        .send(app.graphql_request(
            Some(&app.admin_token),
            "{ states { totalCount } }",
            json!({}),
        ))
        .await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    // Shaped like every other GraphQL error.
    assert_eq!(
        reply.json()["errors"][0]["extensions"]["code"],
        "SERVICE_UNAVAILABLE",
        "{}",
        reply.body
    );
    assert!(
        !reply.body.contains("127.0.0.1") && !reply.body.contains("sangam_test"),
        "no connection details leak: {}",
        reply.body
    );

    proxy.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz").await.status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not recover after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app.data("{ states { totalCount } }", json!({})).await;
    assert_eq!(res["states"]["totalCount"], 0);
    drop(app);
    drop(pg);
}

fn pg_name(url: &str) -> String {
    let path = url.rsplit_once('/').map_or("", |(_, p)| p);
    path.split('?').next().unwrap_or(path).to_owned()
}

/// Every backend of `db` but the caller's, terminated as an operator or a restart would.
async fn terminate_backends(admin: &sea_orm::DatabaseConnection, db: &str) {
    use sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{db}' AND pid <> pg_backend_pid()"
        ))
        .await
        .expect("terminate backends");
}

/// The pool's liveness check (`--db-ping-after-idle-ms`): a connection whose backend went away
/// while it sat idle in the pool for longer than the threshold (a failover, a restart, an
/// operator) is pinged as it is handed out, found dead and replaced, so no statement meets it;
/// one used more recently than that is handed out unchecked (no round trip on the hot path),
/// and its statement fails as SERVICE_UNAVAILABLE.
#[tokio::test]
async fn idle_connections_are_checked_busy_ones_are_not() {
    use sea_orm::{ConnectionTrait, DatabaseConnection};
    let Some(admin_url) = postgres_admin() else {
        return;
    };
    let admin = api::db::connect(&admin_url, 1).await.expect("admin");
    let pg = PgDatabase::create(&admin_url)
        .await
        .expect("create database");
    let name = pg_name(&pg.url);
    // Two connections in the pool, both used just now.
    async fn use_both(db: &DatabaseConnection) {
        let (a, b) = tokio::join!(
            db.execute_unprepared("SELECT pg_sleep(0.05)"),
            db.execute_unprepared("SELECT pg_sleep(0.05)")
        );
        a.and(b).expect("both connections answer");
    }
    let pool = |ping_after_idle| api::db::Pool {
        max_connections: 2,
        ping_after_idle,
    };

    let checked = api::db::connect_pool(&pg.url, pool(Duration::from_millis(300)))
        .await
        .expect("pool");
    use_both(&checked).await;
    terminate_backends(&admin, &name).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    for i in 0..4 {
        checked
            .execute_unprepared("SELECT 1")
            .await
            .unwrap_or_else(|e| panic!("statement {i} met a connection that was gone: {e}"));
    }
    checked.close().await.ok();

    let unchecked = api::db::connect_pool(&pg.url, pool(Duration::from_secs(60)))
        .await
        .expect("pool");
    use_both(&unchecked).await;
    terminate_backends(&admin, &name).await;
    let err = unchecked
        .execute_unprepared("SELECT 1")
        .await
        .expect_err("a connection used just now is not pinged, and its backend is gone");
    assert_eq!(
        api::error::ApiError::from(err).code(),
        "SERVICE_UNAVAILABLE"
    );
    unchecked.close().await.ok();
    drop(pg);
}

#[tokio::test]
async fn terminated_backends_are_service_unavailable() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let Some(admin_url) = postgres_admin() else {
        return;
    };
    let admin = api::db::connect(&admin_url, 1).await.expect("admin");
    let app = TestApp::demo(Backend::Postgres(admin_url.clone())).await;
    let name = pg_name(&app.t.url);

    // A connection in use when its backend is terminated (SQLSTATE 57P01).
    let txn = app.t.db.begin().await.expect("begin");
    txn.execute_unprepared("SELECT 1").await.expect("select");
    terminate_backends(&admin, &name).await;
    let err = txn
        .execute_unprepared("SELECT 1")
        .await
        .expect_err("backend is gone");
    let api_err = api::error::ApiError::from(err);
    assert_eq!(api_err.code(), "SERVICE_UNAVAILABLE", "{api_err:?}");
    drop(txn);

    // Requests while backends keep being terminated: answers or SERVICE_UNAVAILABLE, never an
    // internal error.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        let name = name.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                terminate_backends(&admin, &name).await;
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    let mut unavailable = 0;
    for _ in 0..40 {
        let reply = app
            .send(app.graphql_request(
                Some(&app.admin_token),
                "{ villages(first: 50) { nodes { name gramPanchayat { name } } } }",
                json!({}),
            ))
            .await;
        assert!(
            !reply.body.contains("INTERNAL_SERVER_ERROR"),
            "a restart is not a bug: {}",
            reply.body
        );
        if reply.body.contains("SERVICE_UNAVAILABLE") {
            unavailable += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    killer.await.expect("killer");
    eprintln!("{unavailable} of 40 requests met a terminated backend");
}

#[tokio::test]
async fn startup_waits_for_the_database_and_says_what_failed() {
    // Nothing listens on port 1: the error names the cause and the address, after retrying.
    let started = Instant::now();
    let err = api::db::connect_patiently(
        "postgres://postgres@127.0.0.1:1/sangam",
        api::db::Pool::of(2),
        Duration::from_millis(1500),
    )
    .await
    .expect_err("nothing listens there");
    let text = format!("{err:#}");
    assert!(text.contains("connection refused at 127.0.0.1:1"), "{text}");
    assert!(!text.contains("pool timed out"), "{text}");
    assert!(
        started.elapsed() >= Duration::from_millis(1200),
        "it retried"
    );

    let Some(admin) = postgres_admin() else {
        return;
    };
    // The database comes up a little after Sangam: the start waits for it.
    let proxy = Proxy::start(host_port(&admin)).await;
    proxy.set_up(false);
    let through = admin.replacen(&host_port(&admin), &proxy.addr, 1);
    let opening = tokio::spawn(async move {
        api::db::connect_patiently(&through, api::db::Pool::of(2), Duration::from_secs(20)).await
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    proxy.set_up(true);
    let db = opening
        .await
        .expect("join")
        .expect("connected once the database was up");
    db.close().await.ok();
}
