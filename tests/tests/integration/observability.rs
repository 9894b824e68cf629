//! `/metrics` carries latency histograms per operation name and per kind of SQL statement, and
//! an operation slower than the threshold is logged with its name and request id.

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use api::{auth::AuthSettings, graphql::Limits, http::HttpOptions};
use axum::http::StatusCode;
use serde_json::json;
use tests::{Backend, ISSUER, TestApp, TestDb};

/// A log writer that keeps what it is given.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

async fn app(slow_request: Duration) -> TestApp {
    let mut t = TestDb::new(Backend::Sqlite).await;
    // The server's statement metrics, as `serve` installs them.
    api::metrics::count_statements(&mut t.db);
    TestApp::with(
        t,
        Limits::default(),
        HttpOptions {
            slow_request,
            ..HttpOptions::default()
        },
        AuthSettings::embedded(ISSUER),
    )
    .await
}

/// The value of the sample `line` starts with, if present.
fn sample(body: &str, line: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_have_latency_histograms_per_operation_and_statement_kind() {
    let app = app(Duration::from_secs(60)).await;
    let named = "query StatesForMetrics { states { totalCount } }";
    for _ in 0..3 {
        app.data(named, json!({})).await;
    }
    app.data("{ states { totalCount } }", json!({})).await;
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = &reply.body;
    // Other tests in this process record too, so "at least".
    let count = sample(
        body,
        "sangam_graphql_operation_seconds_count{operation=\"StatesForMetrics\"}",
    )
    .unwrap_or_else(|| panic!("no histogram for the named operation: {body}"));
    assert!(count >= 3.0, "{count}");
    assert!(
        body.contains(
            "sangam_graphql_operation_seconds_bucket{operation=\"StatesForMetrics\",le=\"0.005\"}"
        ),
        "buckets, not a summary: {body}"
    );
    assert!(
        sample(
            body,
            "sangam_graphql_operation_seconds_count{operation=\"anonymous\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{body}"
    );
    assert!(
        sample(body, "sangam_sql_statement_seconds_count{kind=\"select\"}")
            .is_some_and(|n| n >= 1.0),
        "statement latency by kind: {body}"
    );
    for counter in [
        "sangam_graphql_operations_total",
        "sangam_sql_statements_total",
        "sangam_slow_requests_total",
    ] {
        assert!(
            sample(body, counter).is_some(),
            "{counter} keeps its name: {body}"
        );
    }
}

#[tokio::test]
async fn a_slow_request_is_logged_with_its_operation_and_request_id() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // This test's runtime has one thread: the subscriber sees everything the request does.
    let _guard = tracing::subscriber::set_default(subscriber);

    let fast = app(Duration::from_secs(60)).await;
    let mut req = fast.graphql_request(
        Some(&fast.admin_token),
        "query FastOne { states { totalCount } }",
        json!({}),
    );
    req.headers_mut()
        .insert("x-request-id", "req-fast-1".parse().expect("header"));
    assert_eq!(fast.send(req).await.status, StatusCode::OK);
    assert!(
        !log.text().contains("slow request"),
        "under the threshold, nothing: {}",
        log.text()
    );

    // Every operation is over a zero threshold.
    let slow = app(Duration::ZERO).await;
    let mut req = slow.graphql_request(
        Some(&slow.admin_token),
        "query SlowOne { states { totalCount } }",
        json!({}),
    );
    req.headers_mut()
        .insert("x-request-id", "req-slow-42".parse().expect("header"));
    assert_eq!(slow.send(req).await.status, StatusCode::OK);
    let text = log.text();
    let line = text
        .lines()
        .find(|l| l.contains("slow request"))
        .unwrap_or_else(|| panic!("no slow-request line in {text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("operation=SlowOne"), "{line}");
    assert!(
        line.contains("request_id=\"req-slow-42\"") || line.contains("request_id=req-slow-42"),
        "{line}"
    );
    assert!(line.contains("elapsed_ms="), "{line}");
}
