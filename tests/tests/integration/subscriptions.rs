//! Live changes over WebSocket: the bearer token in `connection_init`, row scope on every event,
//! both protocols, and fan-out from one instance's write to another instance's subscribers.

use std::time::Duration;

use api::principal::Role;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, TestDb, backends};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(base: &str, protocol: &'static str) -> Ws {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("ws request");
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
    connect_async(req).await.expect("ws connect").0
}

async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .expect("ws send");
}

/// The next JSON message, skipping keep-alives; `None` when the server closed the socket.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("no message within 15 s")?;
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

/// Opens a `taskEvents` subscription with `token` (graphql-transport-ws).
async fn subscribe_tasks(base: &str, token: &str, filter: Value) -> Ws {
    let ws = open_task_subscription(base, token, filter).await;
    // Give the server a moment to register the subscription before the test writes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws
}

/// Sends a `taskEvents` subscription, without waiting for the server to register it.
async fn open_task_subscription(base: &str, token: &str, filter: Value) -> Ws {
    let mut ws = connect(base, "graphql-transport-ws").await;
    send(&mut ws, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })).await;
    assert_eq!(next(&mut ws).await.expect("ack")["type"], "connection_ack");
    let query = "subscription($f: TaskEventFilter) { taskEvents(filter: $f) { change version task { id status } } }";
    send(&mut ws, json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": { "f": filter } } })).await;
    ws
}

async fn any_task(app: &TestApp, filter: Value) -> Value {
    let data = app
        .data("query($f: TaskFilter) { tasks(first: 1, filter: $f) { edges { node { id version status } } } }", json!({ "f": filter }))
        .await;
    data["tasks"]["edges"][0]["node"].clone()
}

async fn comment(app: &TestApp, task: &Value) {
    app.data(
        "mutation($id: ID!) { commentOnTask(id: $id, text: \"checked on site\") { task { version } } }",
        json!({ "id": task["id"] }),
    )
    .await;
}

#[tokio::test]
async fn a_subscriber_sees_writes_within_its_reach_only() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let base = app.serve().await;
        let partner_org = app.data("{ organisations(filter: { kind: SECTOR_PARTNER }, first: 1) { edges { node { code } } } }", json!({})).await;
        let code = partner_org["organisations"]["edges"][0]["node"]["code"]
            .as_str()
            .expect("code")
            .to_owned();
        let partner = app.token(ClientSpec::new(Role::Partner).org(&code)).await;
        let mine = app
            .post_as(
                &partner,
                "{ tasks(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let mine = mine["data"]["tasks"]["edges"][0]["node"].clone();
        assert!(mine["id"].is_string(), "the partner sees some task: {mine}");
        let all = app
            .data("{ tasks(first: 100) { edges { node { id } } } }", json!({}))
            .await;
        let seen = app
            .post_as(
                &partner,
                "{ tasks(first: 100) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let seen: Vec<Value> = seen["data"]["tasks"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        let other = all["tasks"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .find(|t| !seen.contains(&t["id"]))
            .expect("a task outside the partner's reach");

        let mut admin_ws = subscribe_tasks(&base, &app.admin_token, json!(null)).await;
        let mut partner_ws = subscribe_tasks(&base, &partner, json!(null)).await;
        comment(&app, &other).await;
        comment(&app, &mine).await;

        let first = next(&mut admin_ws).await.expect("admin event");
        assert_eq!(first["type"], "next");
        assert_eq!(
            first["payload"]["data"]["taskEvents"]["task"]["id"],
            other["id"]
        );
        assert_eq!(
            first["payload"]["data"]["taskEvents"]["change"],
            "commented"
        );
        let got = next(&mut partner_ws).await.expect("partner event");
        assert_eq!(
            got["payload"]["data"]["taskEvents"]["task"]["id"], mine["id"],
            "the partner's first event is its own task's, never the other: {got:#}"
        );
    }
}

#[tokio::test]
async fn connection_init_needs_a_valid_token_and_legacy_protocol_works() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let base = app.serve().await;
    let mut ws = connect(&base, "graphql-transport-ws").await;
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } }),
    )
    .await;
    let reply = next(&mut ws).await;
    assert!(
        reply.is_none()
            || reply
                .as_ref()
                .is_some_and(|r| r["type"] != "connection_ack"),
        "refused: {reply:?}"
    );

    // The legacy graphql-ws (subscriptions-transport-ws) protocol.
    let mut ws = connect(&base, "graphql-ws").await;
    send(&mut ws, json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.admin_token) } })).await;
    assert_eq!(next(&mut ws).await.expect("ack")["type"], "connection_ack");
    let task = any_task(&app, json!(null)).await;
    let query =
        "subscription($f: TaskEventFilter) { taskEvents(filter: $f) { change task { id } } }";
    send(&mut ws, json!({ "id": "a", "type": "start", "payload": { "query": query, "variables": { "f": { "task": task["id"] } } } })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    comment(&app, &task).await;
    let data = next(&mut ws).await.expect("data");
    assert_eq!(data["type"], "data");
    assert_eq!(
        data["payload"]["data"]["taskEvents"]["task"]["id"],
        task["id"]
    );
}

/// Two instances on one PostgreSQL: a write on B reaches a subscriber on A (LISTEN/NOTIFY).
#[tokio::test]
async fn a_write_on_one_instance_reaches_subscribers_on_another() {
    let Some(Backend::Postgres(admin)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!(
            "TEST_DATABASE_URL not set: the cross-instance test runs in the PostgreSQL suite"
        );
        return;
    };
    let a = TestApp::demo(Backend::Postgres(admin)).await;
    // Instance B: its own pool and its own listener, on the same database.
    let b = TestApp::over(TestDb::new_at(&a.t.url).await).await;
    let base_a = a.serve().await;
    let task = any_task(&a, json!(null)).await;
    let mut ws = subscribe_tasks(&base_a, &a.admin_token, json!({ "task": task["id"] })).await;
    comment(&b, &task).await;
    let got = next(&mut ws).await.expect("event from the other instance");
    assert_eq!(
        got["payload"]["data"]["taskEvents"]["task"]["id"], task["id"],
        "{got:#}"
    );
}

#[tokio::test]
async fn subscribers_with_the_same_statement_share_one_read_per_event() {
    for backend in backends() {
        let app = TestApp::demo(backend).await;
        let base = app.serve().await;
        let task = any_task(&app, json!(null)).await;
        let mut same = Vec::new();
        for _ in 0..20 {
            same.push(open_task_subscription(&base, &app.admin_token, json!(null)).await);
        }
        // A narrower filter is another statement, so its subscriber reads for itself.
        let mut narrow =
            open_task_subscription(&base, &app.admin_token, json!({ "task": task["id"] })).await;
        // Generous: registering takes milliseconds, but CI machines are busy.
        tokio::time::sleep(Duration::from_secs(2)).await;

        for round in 1..=2 {
            let before = app.bus.reads().started();
            comment(&app, &task).await;
            for ws in same.iter_mut().chain([&mut narrow]) {
                let got = next(ws).await.expect("event");
                assert_eq!(
                    got["payload"]["data"]["taskEvents"]["task"]["id"], task["id"],
                    "{got:#}"
                );
            }
            assert_eq!(
                app.bus.reads().started() - before,
                2,
                "round {round}: one read for the 20 alike, one for the narrow subscriber"
            );
        }
    }
}
