//! GraphQL over HTTP, GraphiQL, health and readiness, through the real router.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::json;
use tests::{Backend, TestApp, TestDb};

async fn app() -> TestApp {
    TestApp::over(TestDb::new(Backend::Sqlite).await).await
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations() {
    let app = app().await;
    let ok = app
        .get_authed("/graphql?query=%7B%20states%20%7B%20totalCount%20%7D%20%7D")
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["data"]["states"]["totalCount"], 0);

    let mutation = app
        .get_authed("/graphql?query=mutation%20%7B%20x%20%7D")
        .await;
    assert_eq!(
        mutation.status,
        StatusCode::METHOD_NOT_ALLOWED,
        "{}",
        mutation.body
    );
    assert_eq!(mutation.headers[header::ALLOW], "POST");
    assert_eq!(
        mutation.json()["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn browsers_get_graphiql() {
    let app = app().await;
    let req = Request::get("/graphql")
        .header(header::ACCEPT, "text/html")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
        .body(Body::empty())
        .expect("req");
    let page = app.send(req).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("graphiql"),
        "{}",
        &page.body[..200.min(page.body.len())]
    );
    let bare = app.get("/graphql").await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_requests_are_400_with_a_graphql_error_body() {
    let app = app().await;
    for body in ["{not json", "[]", "{\"variables\": {}}"] {
        let req = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
            .body(Body::from(body))
            .expect("req");
        let reply = app.send(req).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert_eq!(
            reply.json()["errors"][0]["extensions"]["code"],
            "BAD_REQUEST"
        );
    }
    let huge = "x".repeat(api::http::MAX_BODY_BYTES + 1);
    let req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .expect("req");
    let reply = app.send(req).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn media_types_follow_the_accept_header() {
    let app = app().await;
    let bearer = format!("Bearer {}", app.admin_token);
    let post = |accept: &'static str, query: &'static str| {
        Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, bearer.as_str())
            .header(header::ACCEPT, accept)
            .body(Body::from(json!({ "query": query }).to_string()))
            .expect("req")
    };
    let modern = app
        .send(post(
            "application/graphql-response+json",
            "{ states { totalCount } }",
        ))
        .await;
    assert_eq!(
        modern.headers[header::CONTENT_TYPE],
        "application/graphql-response+json; charset=utf-8"
    );
    let syntax = app
        .send(post("application/graphql-response+json", "{ states {"))
        .await;
    assert_eq!(
        syntax.status,
        StatusCode::BAD_REQUEST,
        "request errors use status codes"
    );
    let legacy = app.send(post("application/json", "{ states {")).await;
    assert_eq!(legacy.status, StatusCode::OK);
    assert_eq!(
        legacy.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    assert!(legacy.json()["errors"][0]["message"].is_string());
}

#[tokio::test]
async fn health_readiness_and_request_ids() {
    let app = app().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["status"], "ready");
    assert!(
        health.headers.contains_key("x-request-id"),
        "a request id is assigned"
    );
    let req = Request::get("/healthz")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .expect("req");
    assert_eq!(
        app.send(req).await.headers["x-request-id"],
        "abc-123",
        "a client's id is kept"
    );
}

/// The counter in a `/metrics` body.
fn counter(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

#[tokio::test]
async fn metrics_count_operations_for_operators() {
    let app = app().await;
    let before = app.get("/metrics").await;
    assert_eq!(before.status, StatusCode::OK);
    let ops = counter(&before.body, "sangam_graphql_operations_total");
    counter(&before.body, "sangam_sql_statements_total");
    app.data("{ villages { totalCount } }", json!({})).await;
    let after = app.get("/metrics").await;
    // Other tests in this process count too, so at least one more.
    assert!(counter(&after.body, "sangam_graphql_operations_total") >= ops + 1.0);
}
