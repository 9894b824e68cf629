//! GraphQL over HTTP and graphql-transport-ws to the letter: status codes by media type, 415,
//! GET with `operationName`, request errors without `data`, one error shape with a code, and
//! the protocol's WebSocket close codes.

use std::time::Duration;

use api::{
    auth::AuthSettings,
    graphql::Limits,
    http::HttpOptions,
    ws::{INIT_TIMEOUT, Shutdown},
};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tests::{Backend, HttpReply, ISSUER, TestApp, TestDb};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

const MODERN: &str = "application/graphql-response+json";

async fn app() -> TestApp {
    TestApp::demo(Backend::Sqlite).await
}

fn post(app: &TestApp, content_type: Option<&str>, accept: &str, body: String) -> Request<Body> {
    let mut req = Request::post("/graphql")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
        .header(header::ACCEPT, accept);
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    req.body(Body::from(body)).expect("request")
}

async fn modern(app: &TestApp, query: &str) -> HttpReply {
    let body = json!({ "query": query }).to_string();
    app.send(post(app, Some("application/json"), MODERN, body))
        .await
}

fn code(reply: &HttpReply) -> Value {
    reply.json()["errors"][0]["extensions"]["code"].clone()
}

#[tokio::test]
async fn status_codes_say_whether_execution_began() {
    let app = app().await;
    // A nullable field error: 200, the field null.
    let r = modern(&app, r#"{ node(id: "garbage") { id } }"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["data"], json!({ "node": null }));
    assert_eq!(code(&r), "BAD_USER_INPUT");
    // Execution began and a non-null root field failed: 200, `data` null and present.
    let r = modern(&app, "{ villages(first: 100000) { totalCount } }").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.json().as_object().expect("obj").contains_key("data"));
    assert_eq!(r.json()["data"], Value::Null);
    // Request errors: 400, and no `data` entry at all.
    for query in [
        "{ villages {",
        "{ nope }",
        "query($x: Int!) { villages(first: $x) { totalCount } }",
    ] {
        let r = modern(&app, query).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert!(r.json().get("data").is_none(), "{query}: {}", r.body);
        assert!(
            code(&r).is_string(),
            "{query}: every error has a code: {}",
            r.body
        );
        assert!(
            r.headers[header::CONTENT_TYPE]
                .to_str()
                .expect("ct")
                .starts_with(MODERN)
        );
    }
    // With application/json request errors are 200, still without `data`.
    let body = json!({ "query": "{ nope }" }).to_string();
    let r = app
        .send(post(
            &app,
            Some("application/json"),
            "application/json",
            body,
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json().get("data").is_none(), "{}", r.body);
    assert_eq!(code(&r), "GRAPHQL_VALIDATION_FAILED");
}

#[tokio::test]
async fn only_json_bodies_are_read() {
    let app = app().await;
    let body = || json!({ "query": "{ viewer { role } }" }).to_string();
    for ct in [Some("text/plain"), Some("application/xml"), None] {
        let r = app.send(post(&app, ct, "application/json", body())).await;
        assert_eq!(
            r.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{ct:?}: {}",
            r.body
        );
        assert_eq!(code(&r), "UNSUPPORTED_MEDIA_TYPE");
    }
    let r = app
        .send(post(
            &app,
            Some("application/json; charset=utf-8"),
            "application/json",
            body(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn malformed_bodies_get_a_clear_message() {
    let app = app().await;
    for body in ["\"hello\"", "42", "[1,2,3]", "{\"query\": 5}", "[]"] {
        let r = app
            .send(post(&app, Some("application/json"), MODERN, body.into()))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(code(&r), "BAD_REQUEST", "{body}");
        let message = r.json()["errors"][0]["message"]
            .as_str()
            .expect("msg")
            .to_owned();
        assert!(
            !message.contains("enum") && !message.contains("BatchRequest"),
            "{body}: {message}"
        );
        if body == "[]" {
            assert!(message.contains("empty"), "{message}");
        }
    }
}

#[tokio::test]
async fn get_honours_operation_name_and_never_runs_mutations() {
    let app = app().await;
    let doc =
        "query A { viewer { role } } query B { states { totalCount } } mutation M { __typename }";
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let r = app
        .get_authed(&format!("/graphql?query={}&operationName=B", enc(doc)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["data"]["states"]["totalCount"], 2, "{}", r.body);
    for _ in 0..8 {
        let r = app
            .get_authed(&format!("/graphql?query={}&operationName=M", enc(doc)))
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
        assert_eq!(r.headers[header::ALLOW], "POST");
        assert_eq!(code(&r), "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn refusals_carry_codes_limits_and_real_locations() {
    let app = app().await;
    // Nested past the parser's limit: a code, a limit and a value.
    let deep = format!("{{ viewer {}{} }}", "{ a ".repeat(40), "}".repeat(40));
    let r = modern(&app, &deep).await;
    assert_eq!(code(&r), "QUERY_TOO_DEEP", "{}", r.body);
    let e = &r.json()["errors"][0];
    assert_eq!(e["extensions"]["limit"], 32);
    assert!(
        e["extensions"]["value"].as_u64().is_some_and(|v| v > 32),
        "{e}"
    );

    // Unknown persisted query: no location at line 0.
    let body = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "0".repeat(64) } } });
    let r = app
        .send(post(
            &app,
            Some("application/json"),
            "application/json",
            body.to_string(),
        ))
        .await;
    assert_eq!(code(&r), "PERSISTED_QUERY_NOT_FOUND", "{}", r.body);
    assert!(!r.body.contains("\"line\":0"), "{}", r.body);

    let batch: Vec<Value> = (0..11)
        .map(|_| json!({ "query": "{ __typename }" }))
        .collect();
    let r = app
        .send(post(
            &app,
            Some("application/json"),
            "application/json",
            json!(batch).to_string(),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(code(&r), "BATCH_TOO_LARGE");
    assert_eq!(r.json()["errors"][0]["extensions"]["limit"], 10);
    assert!(!r.body.contains("\"line\":0"), "{}", r.body);
}

#[tokio::test]
async fn authentication_errors_have_the_one_shape() {
    let app = app().await;
    for (auth, oauth_error) in [
        (None, None),
        (Some("Bearer not-a-token"), Some("invalid_token")),
        (Some("Bearer"), Some("invalid_request")),
    ] {
        let mut req = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let r = app
            .send(
                req.body(Body::from(
                    json!({ "query": "{ viewer { role } }" }).to_string(),
                ))
                .expect("req"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}: {}", r.body);
        assert_eq!(code(&r), "UNAUTHENTICATED");
        let challenge = r.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("challenge");
        match oauth_error {
            Some(e) => assert!(challenge.contains(&format!("error=\"{e}\"")), "{challenge}"),
            None => assert_eq!(challenge, "Bearer realm=\"sangam\""),
        }
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws(base: &str) -> Ws {
    let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
    let mut req = url.into_client_request().expect("ws request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    connect_async(req).await.expect("ws connect").0
}

async fn send(ws: &mut Ws, msg: Value) {
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .expect("send");
}

/// The close code the server ends with (skipping other messages).
async fn close_code(ws: &mut Ws, within: Duration) -> Option<u16> {
    let wait = async {
        while let Some(msg) = ws.next().await {
            match msg {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    };
    tokio::time::timeout(within, wait)
        .await
        .expect("no close frame in time")
}

#[tokio::test]
async fn websocket_close_codes_follow_graphql_transport_ws() {
    let app = app().await;
    let base = app.serve().await;
    let init = |token: &str| json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { taskEvents { change } }" } });

    // A refused connection_init: 4403 Forbidden.
    let mut s = ws(&base).await;
    send(&mut s, init("not-a-token")).await;
    assert_eq!(
        close_code(&mut s, Duration::from_secs(10)).await,
        Some(4403)
    );

    // Subscribing before the acknowledgement: 4401 Unauthorized.
    let mut s = ws(&base).await;
    send(&mut s, sub.clone()).await;
    assert_eq!(
        close_code(&mut s, Duration::from_secs(10)).await,
        Some(4401)
    );

    // A message that is not the protocol's: 4400.
    let mut s = ws(&base).await;
    send(&mut s, json!({ "type": "nonsense" })).await;
    assert_eq!(
        close_code(&mut s, Duration::from_secs(10)).await,
        Some(4400)
    );

    // Two connection_init: 4429.
    let mut s = ws(&base).await;
    send(&mut s, init(&app.admin_token)).await;
    send(&mut s, init(&app.admin_token)).await;
    assert_eq!(
        close_code(&mut s, Duration::from_secs(10)).await,
        Some(4429)
    );

    // No connection_init at all: 4408 once the wait is over.
    let mut s = ws(&base).await;
    assert_eq!(
        close_code(&mut s, INIT_TIMEOUT + Duration::from_secs(5)).await,
        Some(4408)
    );
}

#[tokio::test]
async fn graceful_shutdown_closes_websockets_with_1001() {
    let (trigger, shutdown) = Shutdown::new();
    let options = HttpOptions {
        shutdown,
        ..HttpOptions::default()
    };
    let app = TestApp::with(
        TestDb::demo(Backend::Sqlite).await,
        Limits::default(),
        options,
        AuthSettings::embedded(ISSUER),
    )
    .await;
    let base = app.serve().await;
    let mut s = ws(&base).await;
    send(
        &mut s,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", app.admin_token) } }),
    )
    .await;
    let ack = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .expect("ack in time");
    assert!(matches!(ack, Some(Ok(Message::Text(t))) if t.contains("connection_ack")));
    trigger.start();
    assert_eq!(close_code(&mut s, Duration::from_secs(5)).await, Some(1001));
}

/// With `--public-schema`, an anonymous document that does not parse or validate gets its
/// request error by media type (graphql-http's audits 572B, FDE2, 556A, 74FF); a valid one still
/// needs a token, and nothing but introspection runs to tell the two apart.
#[tokio::test]
async fn anonymous_request_errors_follow_the_media_type_when_the_schema_is_public() {
    let t = TestDb::demo(Backend::Sqlite).await;
    let options = HttpOptions {
        public_schema: true,
        ..HttpOptions::default()
    };
    let app = TestApp::with(
        t,
        Limits::default(),
        options,
        AuthSettings::embedded(ISSUER),
    )
    .await;
    let anonymous = |accept: &str, query: &str| {
        Request::post("/graphql")
            .header(header::ACCEPT, accept)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(json!({ "query": query }).to_string()))
            .expect("request")
    };
    for (query, code) in [
        ("{", "GRAPHQL_PARSE_FAILED"),
        ("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let modern = app.send(anonymous(MODERN, query)).await;
        assert_eq!(
            modern.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            modern.body
        );
        let body = modern.json();
        assert!(
            body.get("data").is_none(),
            "{query}: no data entry: {body:#}"
        );
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body:#}");
        let legacy = app.send(anonymous("application/json", query)).await;
        assert_eq!(legacy.status, StatusCode::OK, "{query}: {}", legacy.body);
    }
    let valid = app
        .send(anonymous(MODERN, "{ villages { totalCount } }"))
        .await;
    assert_eq!(valid.status, StatusCode::UNAUTHORIZED, "{}", valid.body);
    assert!(!valid.body.contains("totalCount\":"), "{}", valid.body);
}
