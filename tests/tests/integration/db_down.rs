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
    let Some(Backend::Postgres(admin)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!(
            "TEST_DATABASE_URL not set: the PostgreSQL outage test runs in the PostgreSQL suite"
        );
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
    assert!(reply.body.contains("SERVICE_UNAVAILABLE"), "{}", reply.body);
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
