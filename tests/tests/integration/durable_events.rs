//! Subscriptions fed from the durable event log: no acknowledged write is lost to a subscriber
//! when the database connection under the listener breaks, events arrive in commit order and
//! once, and a subscription resumes from a cursor (EVENTS_EXPIRED once the log has pruned it).

use std::time::Duration;

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
        let res = b.post(COMMENT, json!({ "id": task["id"] })).await;
        if let Some(v) = res["data"]["commentOnTask"]["task"]["version"].as_i64() {
            acknowledged.push(v);
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
        assert_eq!(msg["type"], "error", "{msg:#}");
        assert_eq!(
            msg["payload"][0]["extensions"]["code"], "EVENTS_EXPIRED",
            "{msg:#}"
        );
    })
    .await;
}
