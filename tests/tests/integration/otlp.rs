//! `--otlp-endpoint`: the real binary sends the spans of a request, its GraphQL operation, its
//! resolvers and its SQL statements to an OTLP/HTTP collector (here, one in the test) as JSON,
//! continuing the caller's W3C `traceparent`; and the JSON is checked independently, by the
//! protobuf message it must parse into (Python's `opentelemetry-proto`).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde_json::{Value, json};
use tests::process::{self, Server};

/// What the collector was sent: each export's headers and body, and whether it was refused.
#[derive(Clone, Default)]
struct Collector {
    exports: Arc<Mutex<Vec<(HeaderMap, Value, bool)>>>,
}

impl Collector {
    /// Listens on a free port; refuses the first `refuse` exports with 503 (the exporter
    /// retries those).
    async fn start(refuse: usize) -> (Self, String) {
        let c = Self::default();
        let seen = c.exports.clone();
        let app = Router::new().route(
            "/v1/traces",
            post(move |headers: HeaderMap, body: Bytes| async move {
                let body: Value = serde_json::from_slice(&body).expect("the export is JSON");
                let mut all = seen.lock().expect("exports");
                let refused = all.len() < refuse;
                all.push((headers, body, refused));
                if refused {
                    (StatusCode::SERVICE_UNAVAILABLE, "{}")
                } else {
                    (StatusCode::OK, "{}")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (c, base)
    }

    /// Every span accepted so far, with its resource's attributes.
    fn spans(&self) -> Vec<(Value, Value)> {
        let all = self.exports.lock().expect("exports");
        let mut out = Vec::new();
        for (_, body, refused) in all.iter() {
            if *refused {
                continue;
            }
            for rs in body["resourceSpans"].as_array().into_iter().flatten() {
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for s in ss["spans"].as_array().into_iter().flatten() {
                        out.push((s.clone(), rs["resource"].clone()));
                    }
                }
            }
        }
        out
    }

    /// The spans of trace `trace`, once its request span (`POST /graphql`) is in.
    async fn trace(&self, trace: &str) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let spans: Vec<Value> = self
                .spans()
                .into_iter()
                .map(|(s, _)| s)
                .filter(|s| s["traceId"] == trace)
                .collect();
            if spans.iter().any(|s| s["name"] == "POST /graphql") {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "no request span for trace {trace} reached the collector: {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An attribute's value (its `AnyValue`).
fn attr<'a>(span: &'a Value, key: &str) -> &'a Value {
    span["attributes"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .map_or(&Value::Null, |kv| &kv["value"])
}

fn nanos(span: &Value, field: &str) -> u128 {
    span[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{field} is a string of digits: {span}"))
}

/// Parses each export with protobuf's strict JSON parser into `ExportTraceServiceRequest`
/// (unknown fields refused), after turning the ids from OTLP/JSON's hex into the base64 that
/// protobuf's JSON mapping has for bytes. `None`: python3 or the packages are missing.
fn python_parses(exports: &[Value]) -> Option<Result<String, String>> {
    let script = r#"
import base64, json, sys
try:
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
except ImportError:
    sys.exit(3)
n = 0
for body in json.load(sys.stdin):
    for rs in body["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                for key, size in (("traceId", 16), ("spanId", 8), ("parentSpanId", 8)):
                    if key in s:
                        raw = bytes.fromhex(s[key])
                        assert len(raw) == size and s[key] == s[key].lower(), (key, s[key])
                        s[key] = base64.b64encode(raw).decode()
    msg = json_format.Parse(json.dumps(body), ExportTraceServiceRequest(), ignore_unknown_fields=False)
    for rs in msg.resource_spans:
        for ss in rs.scope_spans:
            for s in ss.spans:
                assert s.start_time_unix_nano > 0 and s.end_time_unix_nano >= s.start_time_unix_nano
                assert s.kind != 0 and len(s.trace_id) == 16 and len(s.span_id) == 8
                n += 1
print(f"{n} spans parsed")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(Value::from(exports.to_vec()).to_string().as_bytes())
            .expect("write to python");
    }
    let out = child.wait_with_output().expect("python runs");
    match out.status.code() {
        Some(0) => Some(Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())),
        Some(3) => None,
        _ => Some(Err(String::from_utf8_lossy(&out.stderr).into_owned())),
    }
}

async fn graphql(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    query: &str,
    traceparent: Option<&str>,
) {
    let mut req = client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(token)
        .json(&json!({ "query": query }));
    if let Some(tp) = traceparent {
        req = req.header("traceparent", tp);
    }
    let res: Value = req
        .send()
        .await
        .expect("graphql")
        .json()
        .await
        .expect("json");
    assert!(res.get("errors").is_none(), "{res:#}");
}

// Multi-threaded: the in-test collector must go on answering while the test thread waits,
// blocking, for the server to stop (it flushes its spans then).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_of_a_request_its_resolvers_and_statements_are_exported_over_otlp() {
    let sqlite = std::env::temp_dir().join(format!("sangam-{}-otlp.db", std::process::id()));
    let _ = std::fs::remove_file(&sqlite);
    let url = format!("sqlite://{}?mode=rwc", sqlite.display());
    exported_on(&url, "sqlite").await;
    let _ = std::fs::remove_file(&sqlite);
    if let Ok(admin) = std::env::var("TEST_DATABASE_URL") {
        let db = tests::PgDatabase::create(&admin).await.expect("database");
        exported_on(&db.url, "postgresql").await;
    }
}

async fn exported_on(database_url: &str, system: &str) {
    // The first export is refused with 503: its spans arrive on the retry.
    let (collector, endpoint) = Collector::start(1).await;
    let mut server = process::serve(
        &[
            "--demo",
            "--otlp-endpoint",
            &endpoint,
            "--otlp-header",
            "x-collector-key=k1",
        ],
        &[("DATABASE_URL", database_url)],
    );
    let client = reqwest::Client::new();
    let token = crate::binary::admin_token(&client, &server).await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let query = "query OtlpStates { states { totalCount nodes { name districts { name } } } }";
    graphql(
        &client,
        &server,
        &token,
        query,
        Some(&format!("00-{trace}-{caller}-01")),
    )
    .await;
    // The caller did not sample this one: nothing of it is exported.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    graphql(
        &client,
        &server,
        &token,
        "{ states { totalCount } }",
        Some(&format!("00-{unsampled}-b7ad6b7169203331-00")),
    )
    .await;

    let spans = collector.trace(trace).await;
    let by_id: HashMap<&str, &Value> = spans
        .iter()
        .map(|s| (s["spanId"].as_str().expect("spanId"), s))
        .collect();
    let one = |name: &str| -> &Value {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no span {name}: {spans:#?}"))
    };
    let parent_of = |s: &Value| -> Option<&Value> {
        s["parentSpanId"]
            .as_str()
            .and_then(|p| by_id.get(p).copied())
    };

    // The request continues the caller's trace, under the caller's span.
    let request = one("POST /graphql");
    assert_eq!(request["parentSpanId"], caller, "{request:#}");
    assert_eq!(request["kind"], 2, "a server span");
    assert_eq!(request["flags"], 0x301, "sampled, with a remote parent");
    assert_eq!(attr(request, "http.request.method")["stringValue"], "POST");
    assert_eq!(attr(request, "http.route")["stringValue"], "/graphql");
    assert_eq!(
        attr(request, "http.response.status_code")["intValue"],
        "200"
    );
    assert_eq!(
        attr(request, "graphql.operation.name")["stringValue"],
        "OtlpStates"
    );
    let request_id = attr(request, "request_id")["stringValue"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(request_id.len(), 36, "the request id (a UUID): {request:#}");
    assert!(request.get("status").is_none(), "a 200 is not an error");

    let operation = one("GraphQL OtlpStates");
    assert_eq!(parent_of(operation), Some(request));
    let states = one("Query.states");
    assert_eq!(parent_of(states), Some(operation));
    assert_eq!(attr(states, "graphql.field.path")["stringValue"], "states");
    assert_eq!(
        attr(states, "graphql.field.type")["stringValue"],
        "StateConnection!"
    );
    let districts = spans
        .iter()
        .filter(|s| s["name"] == "State.districts")
        .collect::<Vec<_>>();
    assert!(!districts.is_empty(), "nested resolvers: {spans:#?}");
    assert!(
        !spans.iter().any(|s| s["name"] == "State.name"),
        "scalar fields have no span of their own"
    );

    // Statements: client spans named by their kind, under the resolver that ran them (or, for
    // a DataLoader batch, the resolver that asked first).
    let statements: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 3).collect();
    assert!(!statements.is_empty(), "statement spans: {spans:#?}");
    for s in &statements {
        assert_eq!(attr(s, "db.system.name")["stringValue"], system, "{s:#}");
        let kind = attr(s, "db.operation.name")["stringValue"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(s["name"], kind.to_uppercase(), "{s:#}");
        assert!(nanos(s, "startTimeUnixNano") <= nanos(s, "endTimeUnixNano"));
        assert!(
            parent_of(s).is_some(),
            "every statement of the trace has a parent in it: {s:#}"
        );
    }
    let under = |resolver: &Value| {
        statements.iter().any(|s| {
            parent_of(s) == Some(resolver)
                && attr(s, "db.operation.name")["stringValue"] == "select"
        })
    };
    assert!(
        under(states),
        "a statement under Query.states: {statements:#?}"
    );
    assert!(
        districts.iter().any(|d| under(d)),
        "the districts' DataLoader batch under a State.districts resolver: {statements:#?}"
    );
    // Names and attributes say what kind of statement ran, never its text.
    let text = Value::from(spans.clone()).to_string();
    assert!(!text.contains("FROM"), "SQL text exported: {text}");

    // Children lie within their parents (a statement's start is put back by its duration).
    for s in &spans {
        if let Some(p) = parent_of(s) {
            assert!(
                nanos(s, "startTimeUnixNano") >= nanos(p, "startTimeUnixNano")
                    && nanos(s, "endTimeUnixNano") <= nanos(p, "endTimeUnixNano"),
                "{s:#} outside its parent {p:#}"
            );
        }
    }

    // A request without `traceparent` starts a trace of its own; then the server stops, and
    // what is still queued is sent before it exits.
    graphql(
        &client,
        &server,
        &token,
        "query Fresh { states { totalCount } }",
        None,
    )
    .await;
    crate::binary::stops_on_sigterm(&mut server, Duration::from_secs(20), "exporting");
    let fresh: Vec<Value> = collector
        .spans()
        .into_iter()
        .map(|(s, _)| s)
        .filter(|s| attr(s, "graphql.operation.name")["stringValue"] == "Fresh" && s["kind"] == 2)
        .collect();
    assert_eq!(fresh.len(), 1, "sent at shutdown: {fresh:#?}");
    assert!(fresh[0].get("parentSpanId").is_none(), "a root span");
    assert_ne!(fresh[0]["traceId"], trace);
    assert!(
        !collector
            .spans()
            .iter()
            .any(|(s, _)| s["traceId"] == unsampled),
        "an unsampled trace is not exported"
    );

    // The exports themselves: JSON to /v1/traces, with the configured header, the resource
    // naming the service; one refused with 503 and sent again.
    let exports = collector.exports.lock().expect("exports").clone();
    assert!(exports[0].2, "the first export was refused");
    for (headers, _, _) in &exports {
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-collector-key"], "k1");
    }
    assert!(
        !collector
            .spans()
            .iter()
            .any(|(s, _)| s["name"] == "[District!].districts"),
        "a list's items have no span each"
    );
    let (_, resource) = &collector.spans()[0];
    let resource_attr = |k: &str| attr(resource, k)["stringValue"].clone();
    assert_eq!(resource_attr("service.name"), "sangam");
    assert_eq!(resource_attr("service.version"), env!("CARGO_PKG_VERSION"));

    let bodies: Vec<Value> = exports.into_iter().map(|(_, b, _)| b).collect();
    match python_parses(&bodies) {
        Some(Ok(said)) => eprintln!("opentelemetry-proto: {said}"),
        Some(Err(e)) => panic!("not a valid ExportTraceServiceRequest: {e}"),
        None if std::env::var_os("SANGAM_REQUIRE_OTLP_PROTO").is_some() => panic!(
            "python3 with opentelemetry-proto and protobuf is required \
             (pip install opentelemetry-proto protobuf; .ci/run does)"
        ),
        None => eprintln!(
            "skipped the protobuf check: python3 with opentelemetry-proto and protobuf is missing"
        ),
    }
}
