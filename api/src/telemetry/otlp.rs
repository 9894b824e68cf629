//! Tracing spans exported over OTLP/HTTP with the JSON encoding
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>): a `tracing_subscriber` layer that
//! turns closed spans into OTLP spans, and a batching exporter task that POSTs them to
//! `{endpoint}/v1/traces`.
//!
//! Written here rather than taken from the `opentelemetry`, `opentelemetry-otlp` and
//! `tracing-opentelemetry` crates: those cost 359 s of extra build on the project's 2-core
//! machines, for what is a few hundred lines on crates already built (`reqwest`, `serde_json`).
//!
//! The request path never waits for the exporter: a closed span goes into a bounded queue with
//! `try_send`, and when the queue is full (the collector is slow or down) the span is dropped
//! and counted (`sangam_otlp_spans_dropped_total`). The task sends a batch every second, or as
//! soon as [`BATCH`] spans are in, retries a failed batch with backoff, and sends what is left
//! when the server stops.
//!
//! Span fields with meaning here (the names `tracing-opentelemetry` uses):
//! `otel.name` (the span's name), `otel.kind` (`server`, `client`, …), `otel.status_code`
//! (`ERROR`, `OK`) and `otel.status_message`; `traceparent` (W3C Trace Context, on the request
//! span only: the trace continues the caller's); `sangam.elapsed_ns` (a span made after the
//! fact, for a statement that has finished: it started that long before it was made). Every
//! other field is an attribute.
//!
//! Only a request span (target `sangam::http`) starts a trace: a span with no exported parent
//! (a background worker's statement, a subscription's resolver) is not exported.

use std::{
    borrow::Cow,
    fmt,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use metrics::counter;
use reqwest::{
    StatusCode, Url,
    header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER},
};
use serde_json::{Value as Json, json};
use tokio::sync::{mpsc, oneshot};
use tracing::{
    Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

/// The target of the spans that may start a trace: the HTTP request's.
pub const ROOT_TARGET: &str = "sangam::http";

/// Closed spans waiting for the exporter; past this, spans are dropped (and counted).
pub const QUEUE: usize = 8192;
/// Most spans in one export request; a full batch is sent at once.
pub const BATCH: usize = 512;
/// A batch that is not full is sent after at most this long.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Longest one export request may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts at sending one batch (the first and the retries), and the first retry's delay,
/// doubled each time: 0.5, 1, 2, 4 s.
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// Longest wait a collector's `Retry-After` gets.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// At most one warning a minute about failed exports or dropped spans.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Spans dropped because the queue was full, since the start.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Where spans go: `--otlp-endpoint` and `--otlp-header`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The traces URL: the endpoint with `/v1/traces`.
    pub url: Url,
    pub headers: HeaderMap,
}

/// `--otlp-endpoint`: the collector's base URL (as `OTEL_EXPORTER_OTLP_ENDPOINT` is), to which
/// `/v1/traces` is added; a URL already ending in `/v1/traces` is taken as it is.
pub fn parse_endpoint(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("an OTLP/HTTP endpoint is an http:// or https:// URL".into());
    }
    if url.path().ends_with("/v1/traces") {
        return Ok(url);
    }
    let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
    let mut url = url;
    url.set_path(&path);
    Ok(url)
}

/// `--otlp-header NAME=VALUE`: a header sent with every export (a collector's API key, say).
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or("a header is given as NAME=VALUE")?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{name}` is not a valid header value"))?;
    Ok((name, value))
}

/// The layer and the exporter it feeds (started later, on the runtime).
pub fn pipeline(settings: Settings) -> (OtlpLayer, Exporter) {
    let (queue, spans) = mpsc::channel(QUEUE);
    (OtlpLayer { queue }, Exporter { spans, settings })
}

/// A W3C `traceparent` (<https://www.w3.org/TR/trace-context/#traceparent-header>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl TraceParent {
    /// Parses the header; anything malformed is `None` (the request then starts a new trace,
    /// as the specification asks).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let mut parts = text.split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        };
        if !(hex(version, 2) && hex(trace, 32) && hex(span, 16) && hex(flags, 2)) {
            return None;
        }
        // Version 00 has exactly these four parts; a later version may append more.
        if version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|&t| t != 0)?;
        let span_id = u64::from_str_radix(span, 16).ok().filter(|&s| s != 0)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

/// An OTLP span kind (the `SpanKind` enum's numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Unset,
    Ok,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// A finished span, as it is exported.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub trace_id: u128,
    pub span_id: u64,
    /// 0: a root span.
    pub parent_span_id: u64,
    /// The parent is the caller's (from `traceparent`).
    pub remote_parent: bool,
    pub name: Cow<'static, str>,
    pub kind: Kind,
    /// Unix time, nanoseconds.
    pub start: u64,
    pub end: u64,
    pub attributes: Vec<(&'static str, AttrValue)>,
    pub status: Status,
    pub status_message: Option<String>,
}

/// What a span's fields say, gathered as they are recorded.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    kind: Option<Kind>,
    status: Option<Status>,
    status_message: Option<String>,
    traceparent: Option<TraceParent>,
    elapsed: Option<Duration>,
    attributes: Vec<(&'static str, AttrValue)>,
}

impl Fields {
    fn attribute(&mut self, key: &'static str, value: AttrValue) {
        // A field declared `Empty` and recorded later is set once; recorded again, replaced.
        match self.attributes.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.attributes.push((key, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "otel.name" => self.name = Some(value.to_owned()),
            "otel.kind" => {
                self.kind = Some(match value.to_ascii_lowercase().as_str() {
                    "server" => Kind::Server,
                    "client" => Kind::Client,
                    "producer" => Kind::Producer,
                    "consumer" => Kind::Consumer,
                    _ => Kind::Internal,
                });
            }
            "otel.status_code" => {
                self.status = match value.to_ascii_lowercase().as_str() {
                    "error" => Some(Status::Error),
                    "ok" => Some(Status::Ok),
                    _ => None,
                };
            }
            "otel.status_message" => self.status_message = Some(value.to_owned()),
            "traceparent" => self.traceparent = TraceParent::parse(value),
            name => self.attribute(name, AttrValue::Str(value.to_owned())),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` fields arrive here too, their `Display` in `Debug`'s clothes.
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.attribute(field.name(), AttrValue::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "sangam.elapsed_ns" {
            self.elapsed = Some(Duration::from_nanos(value));
            return;
        }
        let value =
            i64::try_from(value).map_or_else(|_| AttrValue::Str(value.to_string()), AttrValue::Int);
        self.attribute(field.name(), value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.attribute(field.name(), AttrValue::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.attribute(field.name(), AttrValue::Float(value));
    }
}

/// An open span's identity and fields, kept in the registry's span extensions.
struct Live {
    trace_id: u128,
    span_id: u64,
    parent_span_id: u64,
    remote_parent: bool,
    sampled: bool,
    /// Unix time, nanoseconds ([`now`]).
    start: u64,
    fields: Fields,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The time, in Unix nanoseconds: the wall clock read once, then the monotonic clock. So a
/// clock step cannot make a span end before it starts, and a child, timed by the same clock,
/// lies within its parent.
fn now() -> u64 {
    static ANCHOR: OnceLock<(u64, Instant)> = OnceLock::new();
    let (wall, at) = ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        (nanos(wall), Instant::now())
    });
    wall.saturating_add(nanos(at.elapsed()))
}

/// A random id that is not all zeroes (which OTLP and W3C treat as invalid).
fn new_trace_id() -> u128 {
    loop {
        let id = rand::random::<u128>();
        if id != 0 {
            return id;
        }
    }
}

fn new_span_id() -> u64 {
    loop {
        let id = rand::random::<u64>();
        if id != 0 {
            return id;
        }
    }
}

/// Turns closed spans into [`SpanRecord`]s on the exporter's queue.
pub struct OtlpLayer {
    queue: mpsc::Sender<SpanRecord>,
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        // The nearest enclosing span this layer sees (its filter skips the others).
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Live>()
                .map(|l| (l.trace_id, l.span_id, l.sampled))
        });
        let (trace_id, parent_span_id, remote_parent, sampled) = match parent {
            Some((trace, parent, sampled)) => (trace, parent, false, sampled),
            None if attrs.metadata().target() == ROOT_TARGET => match fields.traceparent.take() {
                // The caller's sampling decision stands (parent-based sampling, as the
                // OpenTelemetry SDKs default to): an unsampled trace is not exported.
                Some(tp) => (tp.trace_id, tp.span_id, true, tp.sampled),
                None => (new_trace_id(), 0, false, true),
            },
            None => return,
        };
        let live = Live {
            trace_id,
            span_id: new_span_id(),
            parent_span_id,
            remote_parent,
            sampled,
            start: now(),
            fields,
        };
        span.extensions_mut().insert(live);
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(live) = span.extensions_mut().get_mut::<Live>()
        {
            values.record(&mut live.fields);
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(live) = span.extensions_mut().remove::<Live>() else {
            return;
        };
        if !live.sampled {
            return;
        }
        let end = now();
        let start = match live.fields.elapsed {
            Some(took) => end.saturating_sub(nanos(took)),
            None => live.start,
        };
        let f = live.fields;
        let record = SpanRecord {
            trace_id: live.trace_id,
            span_id: live.span_id,
            parent_span_id: live.parent_span_id,
            remote_parent: live.remote_parent,
            name: f
                .name
                .map_or(Cow::Borrowed(span.metadata().name()), Cow::Owned),
            kind: f.kind.unwrap_or(Kind::Internal),
            start,
            end,
            attributes: f.attributes,
            status: f.status.unwrap_or(Status::Unset),
            status_message: f.status_message,
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = self.queue.try_send(record) {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            counter!("sangam_otlp_spans_dropped_total").increment(1);
        }
    }
}

/// The exporter, before it is started on the runtime.
pub struct Exporter {
    spans: mpsc::Receiver<SpanRecord>,
    settings: Settings,
}

/// The running exporter task.
pub struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Exporter {
    /// Starts the exporter task (on the current runtime).
    pub fn start(self) -> anyhow::Result<Running> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .default_headers(self.settings.headers.clone())
            .build()?;
        // The recorder first: counters registered before it would be lost.
        crate::metrics::install();
        counter!("sangam_otlp_spans_exported_total").absolute(0);
        counter!("sangam_otlp_spans_dropped_total").absolute(DROPPED.load(Ordering::Relaxed));
        counter!("sangam_otlp_export_failures_total").absolute(0);
        tracing::info!(url = %self.settings.url, "exporting traces over OTLP/HTTP (JSON)");
        let (stop, stopped) = oneshot::channel();
        let sender = Sender {
            client,
            url: self.settings.url,
            warned: None,
            dropped_seen: 0,
        };
        let task = tokio::spawn(run(self.spans, sender, stopped));
        Ok(Running { stop, task })
    }
}

impl Running {
    /// Sends what is queued and stops, waiting at most `within`.
    pub async fn shutdown(self, within: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(within, self.task).await.is_err() {
            tracing::warn!(after = ?within, "OTLP exporter still sending at shutdown; stopping anyway");
        }
    }
}

async fn run(
    mut spans: mpsc::Receiver<SpanRecord>,
    mut sender: Sender,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = spans.recv() => match got {
                Some(span) => {
                    batch.push(span);
                    if batch.len() >= BATCH {
                        sender.send(&mut batch, ATTEMPTS).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => {
                if !batch.is_empty() {
                    sender.send(&mut batch, ATTEMPTS).await;
                }
                sender.report_dropped();
            }
            _ = &mut stopped => break,
        }
    }
    // Stopping: what is queued goes out now, with one retry at most (the server is waiting).
    spans.close();
    while let Ok(span) = spans.try_recv() {
        batch.push(span);
        if batch.len() >= BATCH {
            sender.send(&mut batch, 2).await;
        }
    }
    if !batch.is_empty() {
        sender.send(&mut batch, 2).await;
    }
    sender.report_dropped();
}

/// Why an export failed, and whether to try again (and when).
enum Failure {
    Retry(String, Option<Duration>),
    Final(String),
}

struct Sender {
    client: reqwest::Client,
    url: Url,
    warned: Option<Instant>,
    dropped_seen: u64,
}

impl Sender {
    /// Sends `batch` (and empties it), trying up to `attempts` times.
    async fn send(&mut self, batch: &mut Vec<SpanRecord>, attempts: u32) {
        let n = batch.len() as u64;
        let body = encode(batch);
        batch.clear();
        let mut delay = FIRST_RETRY;
        for attempt in 1..=attempts {
            let failure = match self.post(body.clone()).await {
                Ok(()) => {
                    counter!("sangam_otlp_spans_exported_total").increment(n);
                    return;
                }
                Err(failure) => failure,
            };
            match failure {
                Failure::Retry(_, after) if attempt < attempts => {
                    tokio::time::sleep(after.unwrap_or(delay).min(MAX_RETRY_AFTER)).await;
                    delay *= 2;
                }
                Failure::Retry(why, _) | Failure::Final(why) => {
                    counter!("sangam_otlp_export_failures_total").increment(1);
                    if self.may_warn() {
                        tracing::warn!(
                            url = %self.url,
                            spans = n,
                            attempts = attempt,
                            error = %why,
                            "OTLP export failed; these spans are dropped"
                        );
                    }
                    return;
                }
            }
        }
    }

    async fn post(&self, body: Vec<u8>) -> Result<(), Failure> {
        let res = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            // The collector unreachable, the connection reset, the request timed out: worth
            // another try.
            .map_err(|e| Failure::Retry(e.to_string(), None))?;
        let status = res.status();
        if status.is_success() {
            // A collector may accept part of a batch (`partialSuccess`); it says why.
            if let Ok(reply) = res.json::<Json>().await
                && let Some(rejected) = reply["partialSuccess"]["rejectedSpans"]
                    .as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .or_else(|| reply["partialSuccess"]["rejectedSpans"].as_u64())
                && rejected > 0
            {
                tracing::warn!(
                    rejected,
                    message = reply["partialSuccess"]["errorMessage"]
                        .as_str()
                        .unwrap_or_default(),
                    "the OTLP collector rejected some spans"
                );
            }
            return Ok(());
        }
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = res.text().await.unwrap_or_default();
        let why = format!("{status}: {}", text.chars().take(200).collect::<String>());
        // The retryable statuses of the OTLP/HTTP specification; any other is final.
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Failure::Retry(why, retry_after),
            _ => Failure::Final(why),
        })
    }

    fn may_warn(&mut self) -> bool {
        let now = Instant::now();
        if self
            .warned
            .is_some_and(|w| now.duration_since(w) < WARN_EVERY)
        {
            return false;
        }
        self.warned = Some(now);
        true
    }

    fn report_dropped(&mut self) {
        let dropped = DROPPED.load(Ordering::Relaxed);
        if dropped > self.dropped_seen && self.may_warn() {
            tracing::warn!(
                dropped = dropped - self.dropped_seen,
                queue = QUEUE,
                "OTLP export queue full; spans dropped (sangam_otlp_spans_dropped_total)"
            );
            self.dropped_seen = dropped;
        }
    }
}

fn key_value(key: &str, value: &AttrValue) -> Json {
    // OTLP/JSON follows protobuf's JSON mapping: 64-bit integers are strings.
    let value = match value {
        AttrValue::Str(s) => json!({ "stringValue": s }),
        AttrValue::Int(i) => json!({ "intValue": i.to_string() }),
        AttrValue::Float(f) if f.is_finite() => json!({ "doubleValue": f }),
        AttrValue::Float(f) => json!({
            "doubleValue": if f.is_nan() { "NaN" } else if *f > 0.0 { "Infinity" } else { "-Infinity" }
        }),
        AttrValue::Bool(b) => json!({ "boolValue": b }),
    };
    json!({ "key": key, "value": value })
}

/// `Span.flags`: the W3C trace flags (sampled) in bits 0–7, and bits 8–9 saying whether the
/// parent is remote (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`, `…_IS_REMOTE_MASK`).
fn flags(span: &SpanRecord) -> u32 {
    0x01 | 0x100 | if span.remote_parent { 0x200 } else { 0 }
}

fn span_json(span: &SpanRecord) -> Json {
    // Unlike protobuf's JSON mapping (base64), OTLP/JSON writes ids as hex.
    let mut out = json!({
        "traceId": format!("{:032x}", span.trace_id),
        "spanId": format!("{:016x}", span.span_id),
        "flags": flags(span),
        "name": span.name,
        "kind": span.kind as i32,
        "startTimeUnixNano": span.start.to_string(),
        "endTimeUnixNano": span.end.to_string(),
        "attributes": span.attributes.iter().map(|(k, v)| key_value(k, v)).collect::<Vec<_>>(),
    });
    if span.parent_span_id != 0 {
        out["parentSpanId"] = json!(format!("{:016x}", span.parent_span_id));
    }
    let status = match span.status {
        Status::Unset => None,
        Status::Ok => Some(json!({ "code": 1 })),
        Status::Error => Some(json!({
            "code": 2,
            "message": span.status_message.as_deref().unwrap_or_default(),
        })),
    };
    if let Some(status) = status {
        out["status"] = status;
    }
    out
}

/// An `ExportTraceServiceRequest` holding `spans`, as JSON.
pub fn encode(spans: &[SpanRecord]) -> Vec<u8> {
    let version = env!("CARGO_PKG_VERSION");
    let resource = [
        ("service.name", AttrValue::Str("sangam".into())),
        ("service.version", AttrValue::Str(version.into())),
        ("telemetry.sdk.language", AttrValue::Str("rust".into())),
    ];
    let body = json!({
        "resourceSpans": [{
            "resource": {
                "attributes": resource.iter().map(|(k, v)| key_value(k, v)).collect::<Vec<_>>(),
            },
            "scopeSpans": [{
                "scope": { "name": "sangam", "version": version },
                "spans": spans.iter().map(span_json).collect::<Vec<_>>(),
            }],
        }],
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_is_parsed_as_w3c_trace_context_says() {
        let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            .expect("valid");
        assert_eq!(tp.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(tp.span_id, 0x00f067aa0ba902b7);
        assert!(tp.sampled);
        let unsampled =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
        assert!(!unsampled.expect("valid").sampled);
        // A later version may carry more after the four parts; version 00 may not.
        assert!(
            TraceParent::parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz")
                .is_some()
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_endpoint_gets_the_traces_path() {
        let url = |s| parse_endpoint(s).map(|u| u.to_string());
        assert_eq!(
            url("http://collector:4318").as_deref(),
            Ok("http://collector:4318/v1/traces")
        );
        assert_eq!(
            url("https://c.example/otlp/").as_deref(),
            Ok("https://c.example/otlp/v1/traces")
        );
        assert_eq!(
            url("http://c:4318/v1/traces").as_deref(),
            Ok("http://c:4318/v1/traces")
        );
        assert!(parse_endpoint("grpc://c:4317").is_err());
        assert!(parse_header("x-api-key=abc").is_ok());
        assert!(parse_header("no value").is_err());
    }

    #[test]
    fn spans_are_encoded_as_otlp_json() {
        let span = SpanRecord {
            trace_id: 0x4bf92f3577b34da6a3ce929d0e0e4736,
            span_id: 1,
            parent_span_id: 0x00f067aa0ba902b7,
            remote_parent: true,
            name: "POST /graphql".into(),
            kind: Kind::Server,
            start: 1_700_000_000_000_000_000,
            end: 1_700_000_000_000_000_001,
            attributes: vec![
                ("http.response.status_code", AttrValue::Int(200)),
                ("ratio", AttrValue::Float(f64::NAN)),
            ],
            status: Status::Error,
            status_message: Some("boom".into()),
        };
        let body: Json = serde_json::from_slice(&encode(&[span])).expect("json");
        let s = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s["spanId"], "0000000000000001");
        assert_eq!(s["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(s["kind"], 2);
        assert_eq!(s["flags"], 0x301);
        assert_eq!(s["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(
            s["attributes"][0],
            json!({ "key": "http.response.status_code", "value": { "intValue": "200" } })
        );
        assert_eq!(s["attributes"][1]["value"]["doubleValue"], "NaN");
        assert_eq!(s["status"], json!({ "code": 2, "message": "boom" }));
        let resource = &body["resourceSpans"][0]["resource"]["attributes"];
        assert_eq!(
            resource[0],
            json!({ "key": "service.name", "value": { "stringValue": "sangam" } })
        );
    }
}
