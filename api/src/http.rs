//! HTTP surface: GraphQL over HTTP, GraphiQL, the SDL, health and readiness.

use std::{sync::Arc, time::Duration};

use async_graphql::{
    BatchRequest,
    parser::{parse_query, types::OperationType},
};
use axum::{
    Json, Router,
    body::Body,
    extract::{FromRef, MatchedPath, State},
    http::{HeaderMap, HeaderValue, Request, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::{DefaultOnResponse, OnResponse, TraceLayer},
};
use tracing::Instrument;

use crate::{
    auth::{Authenticator, endpoints},
    browsers::AllowedOrigins,
    caller::Caller,
    error::{ApiError, code},
    events::EventBus,
    graphql::{self, AppSchema, batches::Batches, mutation::IdempotencyHeader},
    replica::{self, Lsn, Reads, Target, Written},
    service::Service,
    ws::{Shutdown, graphql_ws},
};

/// Largest request body accepted by default, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Largest upload (a GraphQL multipart request) accepted by default, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub auth: Arc<Authenticator>,
    pub options: HttpOptions,
    pub bus: EventBus,
    /// A read replica for queries (`--database-read-url`); `None`: everything on the primary.
    pub reads: Option<Reads>,
    /// Webhook settings for registration (the workers hold their own handle).
    pub webhooks: crate::webhooks::Webhooks,
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Serve the SDL, GraphiQL and introspection without a token.
    pub public_schema: bool,
    /// Demo only: GraphiQL opens with a fresh token of this client already in its headers.
    pub graphiql_client: Option<String>,
    /// How long DataLoaders collect keys before querying; zero (the default): until the
    /// request is idle (see `graphql::batches`).
    pub batch_window: Duration,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Largest upload: a GraphQL multipart request to `/graphql` (`importFile`).
    pub max_upload_bytes: usize,
    /// Longest a request may run.
    pub request_timeout: Duration,
    /// Operations slower than this are logged (name, request id, time) and counted.
    pub slow_request: Duration,
    /// Run only registered persisted queries.
    pub allow_list: bool,
    /// Browser origins allowed to call the API (CORS) and open `/graphql/ws`.
    pub allowed_origins: AllowedOrigins,
    /// Tells WebSocket connections the server is stopping (they close with 1001).
    pub shutdown: Shutdown,
    /// The progress page: public aggregates and how it signs in.
    pub dashboard: crate::dashboard::DashboardOptions,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            public_schema: false,
            graphiql_client: None,
            batch_window: Duration::ZERO,
            max_batch: 10,
            max_body_bytes: MAX_BODY_BYTES,
            max_upload_bytes: MAX_UPLOAD_BYTES,
            request_timeout: Duration::from_secs(30),
            slow_request: Duration::from_secs(1),
            allow_list: false,
            allowed_origins: AllowedOrigins::default(),
            shutdown: Shutdown::default(),
            dashboard: Default::default(),
        }
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(s: &AppState) -> Self {
        s.db.clone()
    }
}

impl FromRef<AppState> for Arc<Authenticator> {
    fn from_ref(s: &AppState) -> Self {
        s.auth.clone()
    }
}

pub fn router(state: AppState) -> Router {
    crate::metrics::install();
    let x_request_id = header::HeaderName::from_static("x-request-id");
    let mut app = Router::new()
        .route("/graphql/ws", get(graphql_ws))
        .route("/schema.graphql", get(sdl))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/readyz", get(readyz))
        .route("/export/{file}", get(crate::export::download))
        .merge(crate::graphiql::routes(&state))
        .merge(crate::dashboard::routes());
    if state.auth.settings.embedded {
        app = app
            .route("/oauth/token", post(endpoints::token))
            .route("/oauth/revoke", post(endpoints::revoke))
            .route("/oauth/introspect", post(endpoints::introspect))
            .route(
                "/.well-known/oauth-authorization-server",
                get(endpoints::metadata),
            )
            .route("/.well-known/jwks.json", get(endpoints::jwks));
    }
    let body_limit = state.options.max_body_bytes;
    let cors = state.options.allowed_origins.cors_layer();
    // `/graphql` limits its own bodies: `--max-body-bytes` for JSON, `--max-upload-bytes` for
    // an upload (`graphql_post`); every other route keeps the body limit here.
    let app = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .merge(app.layer(RequestBodyLimitLayer::new(body_limit)));
    // Requests are decompressed before the body limits count them, so a small gzip body
    // cannot expand past them.
    app.with_state(state)
        .layer(crate::browsers::decompression())
        .layer(crate::browsers::compression())
        .layer(cors)
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(|res: &Response, latency: Duration, span: &tracing::Span| {
                    // Recorded only when the span has these fields (while exporting).
                    span.record("http.response.status_code", res.status().as_u16());
                    if res.status().is_server_error() {
                        span.record("otel.status_code", "ERROR");
                    }
                    DefaultOnResponse::default().on_response(res, latency, span);
                }),
        )
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// The span of an HTTP request. While spans are exported it is the trace's root (or continues
/// the caller's `traceparent`), named as OpenTelemetry's HTTP conventions name a server span
/// (`POST /graphql`: the method and the matched route, never the raw path).
fn request_span(req: &Request<Body>) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    if !crate::telemetry::exporting() {
        return tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id);
    }
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let traceparent = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let name = match route {
        Some(route) => format!("{} {route}", req.method()),
        None => req.method().to_string(),
    };
    tracing::info_span!(
        target: "sangam::http",
        "http",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = route,
        traceparent,
        http.response.status_code = tracing::field::Empty,
        graphql.operation.name = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    )
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One operation's outcome, and whether its execution began (GraphQL over HTTP: a response
/// without execution has no `data` entry and, with `application/graphql-response+json`, a 4xx).
struct Outcome {
    res: async_graphql::Response,
    executed: bool,
}

impl Outcome {
    fn executed(res: async_graphql::Response) -> Self {
        // Errors raised before execution (parse, validation, variable coercion, our limits)
        // carry no path; once execution began `data` is present, even if null.
        let executed = !(res.data == async_graphql::Value::Null
            && !res.errors.is_empty()
            && res.errors.iter().all(|e| e.path.is_empty()));
        Self { res, executed }
    }

    fn refused(e: ApiError) -> Self {
        Self {
            res: async_graphql::Response::from_errors(vec![e.into_server_error()]),
            executed: false,
        }
    }

    /// The response as GraphQL over HTTP has it: keys in order, `data` only if execution began.
    fn body(&self) -> Envelope<'_> {
        Envelope {
            data: self.executed.then_some(&self.res.data),
            errors: &self.res.errors,
            extensions: &self.res.extensions,
        }
    }
}

#[derive(serde::Serialize)]
struct Envelope<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// Whether the client asked for `application/graphql-response+json` (GraphQL over HTTP), which
/// answers request errors with 4xx; `application/json` always answers 200.
fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|m| {
                let mut parts = m.split(';').map(str::trim);
                let ty = parts.next().unwrap_or_default();
                let refused = parts.any(|p| p.replace(' ', "") == "q=0");
                ty.eq_ignore_ascii_case("application/graphql-response+json") && !refused
            })
        })
}

fn media_type(modern: bool) -> &'static str {
    if modern {
        "application/graphql-response+json; charset=utf-8"
    } else {
        "application/json; charset=utf-8"
    }
}

/// A request refused before GraphQL ran, in the media type the client asked for.
fn reject(headers: &HeaderMap, e: ApiError) -> Response {
    let mut res = e.into_response();
    if let Ok(v) = media_type(wants_graphql_response(headers)).parse() {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    res
}

/// Runs a (possibly batched) GraphQL request for its caller: each operation with its own
/// loaders, within the request timeout.
async fn execute(
    st: &AppState,
    headers: &HeaderMap,
    caller: Caller,
    batch: BatchRequest,
    via_get: bool,
) -> Response {
    // Without a token, `--public-progress` reads as the public principal (aggregates only).
    let anonymous = caller.0.is_none();
    let who = caller
        .0
        .or_else(|| crate::dashboard::anonymous(&st.options.dashboard));
    let token = match consistency_token(headers) {
        Ok(token) => token,
        Err(e) => return reject(headers, e),
    };
    // Tokens are handed out only when reads may go to a replica: without one nothing needs them.
    let written = st.reads.as_ref().map(|_| Arc::new(Written::default()));
    let svc = who.map(|who| {
        let svc = Service::new(st.db.clone(), who)
            .with_bus(st.bus.clone())
            .with_request_id(request_id(headers));
        match &written {
            Some(w) => svc.with_written(w.clone()),
            None => svc,
        }
    });
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let single = matches!(batch, BatchRequest::Single(_));
    let done = std::sync::Mutex::new(Vec::new());
    let run = async {
        let requests = match batch {
            BatchRequest::Single(r) => vec![r],
            BatchRequest::Batch(all) => all,
        };
        for mut req in requests {
            // Persisted queries (which may store a query) are for authenticated callers only.
            // An anonymous reader stores nothing, but the allow-list binds it too.
            let resolved = match &svc {
                Some(_) if !anonymous || st.options.allow_list => {
                    graphql::persisted::resolve(&st.db, &mut req, st.options.allow_list).await
                }
                _ => Ok(()),
            };
            if let Err(e) = resolved {
                push(&done, Outcome::refused(e));
                continue;
            }
            if via_get && !selects_query(&req) {
                return Err(ApiError::refused(
                    code::METHOD_NOT_ALLOWED,
                    "only queries may be sent with GET; use POST",
                ));
            }
            let (mut req, batches) = match &svc {
                Some(svc) => {
                    let svc = match &st.reads {
                        Some(reads) if selects_query(&req) => match reads.target(token).await {
                            Target::Replica => svc.clone().reading_from(reads.replica().clone()),
                            Target::Primary(_) => svc.clone(),
                        },
                        _ => svc.clone(),
                    };
                    let req = if anonymous && !st.options.public_schema {
                        req.disable_introspection()
                    } else {
                        req
                    };
                    graphql::prepare(req, svc, st.options.batch_window)
                }
                // Without a token only the schema itself may be read, and only when it is public.
                None if st.options.public_schema && reads_only_the_schema(&req) => {
                    (req.only_introspection(), Batches::when_idle())
                }
                // With a public schema, a document that does not parse or validate gets its
                // request error (GraphQL over HTTP: 400, or 200 with `application/json`) rather
                // than a 401: it is checked against the public schema and, in introspection-only
                // mode, no resolver runs. A valid document still needs a token.
                None if st.options.public_schema => {
                    let checked =
                        Outcome::executed(st.schema.execute(req.only_introspection()).await);
                    if checked.executed {
                        return Err(ApiError::Unauthenticated);
                    }
                    push(&done, checked);
                    continue;
                }
                None => return Err(ApiError::Unauthenticated),
            };
            if let Some(k) = &idempotency {
                req = req.data(IdempotencyHeader(k.clone()));
            }
            req = req.data(st.webhooks.clone());
            let label = crate::metrics::operation_label(
                req.operation_name
                    .as_deref()
                    .or_else(|| operation_name(&req.query)),
            );
            let span = operation_span(&label);
            let started = std::time::Instant::now();
            let res = batches.drive(st.schema.execute(req)).instrument(span).await;
            let took = started.elapsed();
            crate::metrics::operation(&label, took);
            if took >= st.options.slow_request {
                crate::metrics::slow_request();
                tracing::warn!(
                    operation = %label,
                    request_id = request_id(headers).as_deref().unwrap_or("-"),
                    elapsed_ms = took.as_secs_f64() * 1000.0,
                    "slow request"
                );
            }
            push(&done, Outcome::executed(res));
        }
        Ok(())
    };
    let limit = st.options.request_timeout;
    let finished = match tokio::time::timeout(limit, run).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => return reject(headers, e),
        Err(_) => false,
    };
    let mut out = done.into_inner().unwrap_or_default();
    if !finished {
        // The operation that ran out of time had begun: `data` is null, the error says why.
        let ms = limit.as_millis() as usize;
        let e = ApiError::Limit {
            code: code::TIMEOUT,
            message: format!("the request took longer than {ms} ms"),
            limit: ms,
            value: ms,
        };
        let mut res = async_graphql::Response::new(async_graphql::Value::Null);
        res.errors.push(e.into_server_error());
        out.push(Outcome {
            res,
            executed: true,
        });
    }
    let mut reply = graphql_response(headers, single, out);
    // Also after a timeout: a write may have committed before it.
    if let Some(lsn) = written.and_then(|w| w.get())
        && let Ok(v) = HeaderValue::from_str(&lsn.to_string())
    {
        reply.headers_mut().insert(replica::HEADER, v);
    }
    reply
}

/// While spans are exported: a span for one GraphQL operation (a batch has several in one
/// request), whose resolvers' spans are its children; the request span takes its name too.
fn operation_span(label: &str) -> tracing::Span {
    if !crate::telemetry::exporting() {
        return tracing::Span::none();
    }
    tracing::Span::current().record("graphql.operation.name", label);
    tracing::debug_span!(
        target: "sangam::graphql",
        "operation",
        otel.name = %format_args!("GraphQL {label}"),
        graphql.operation.name = label,
    )
}

/// The caller's consistency token (`Sangam-Consistency`), if it sent one.
fn consistency_token(headers: &HeaderMap) -> Result<Option<Lsn>, ApiError> {
    let Some(value) = headers.get(replica::HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .map_err(|_| "not text".to_owned())
        .and_then(str::parse)
        .map(Some)
        .map_err(|why| {
            ApiError::refused(
                code::BAD_REQUEST,
                format!("malformed Sangam-Consistency header: {why}"),
            )
        })
}

/// Operation and statement counters, and replica routing when a replica is configured.
async fn metrics(State(st): State<AppState>) -> String {
    let mut text = crate::metrics::render();
    if let Some(reads) = &st.reads {
        text.push_str(&reads.render_metrics());
    }
    text
}

fn push(done: &std::sync::Mutex<Vec<Outcome>>, outcome: Outcome) {
    if let Ok(mut all) = done.lock() {
        all.push(outcome);
    }
}

/// Encodes GraphQL responses as the client asked (GraphQL over HTTP): with
/// `application/graphql-response+json` a request error is a 4xx and any response whose
/// execution began is a 200; plain `application/json` always answers 200.
fn graphql_response(headers: &HeaderMap, single: bool, out: Vec<Outcome>) -> Response {
    let modern = wants_graphql_response(headers);
    let status = match out.as_slice() {
        [only] if single && modern && !only.executed => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    // Serialised straight from async-graphql's ordered maps: through `serde_json::Value` the
    // keys would come out sorted instead of in selection-set order.
    let body = if single && out.len() == 1 {
        serde_json::to_vec(&out[0].body())
    } else {
        serde_json::to_vec(&out.iter().map(Outcome::body).collect::<Vec<_>>())
    };
    match body {
        Ok(body) => (status, [(header::CONTENT_TYPE, media_type(modern))], body).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Whether a POST body's media type is one this endpoint reads: `application/json` (GraphQL
/// over HTTP requires it; nothing else is accepted, so a form or text body is a 415).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Whether a POST body is a GraphQL multipart request (an upload).
fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Headers that make a browser send a CORS preflight, so a multipart request carrying one
/// cannot come from a plain HTML form on another site (CSRF): `Authorization` (every upload
/// needs a bearer token anyway), or a header GraphQL clients send for this
/// (`GraphQL-Require-Preflight`, or Apollo's `Apollo-Require-Preflight`).
fn preflighted(headers: &HeaderMap) -> bool {
    [
        header::AUTHORIZATION.as_str(),
        "graphql-require-preflight",
        "apollo-require-preflight",
    ]
    .iter()
    .any(|h| headers.get(*h).is_some_and(|v| !v.is_empty()))
}

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::refused(
        code::PAYLOAD_TOO_LARGE,
        format!("{what} may be at most {limit} bytes"),
    )
}

async fn graphql_post(State(st): State<AppState>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let upload = is_multipart(headers);
    if !is_json(headers) && !upload {
        return reject(
            headers,
            ApiError::refused(
                code::UNSUPPORTED_MEDIA_TYPE,
                "a GraphQL request is sent as `Content-Type: application/json` (or, to upload a \
                 file, as a GraphQL multipart request, `multipart/form-data`)",
            ),
        );
    }
    let (limit, what) = if upload {
        (st.options.max_upload_bytes, "an upload")
    } else {
        (st.options.max_body_bytes, "a request body")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared
        && n > limit as u64
    {
        return reject(headers, too_large(limit, what));
    }
    if upload && !preflighted(headers) {
        return reject(
            headers,
            ApiError::refused(
                code::BAD_REQUEST,
                "a multipart request needs an `Authorization` or `GraphQL-Require-Preflight` \
                 header (so that no HTML form on another site can send one)",
            ),
        );
    }
    let caller = match crate::caller::authorization(headers) {
        Ok(value) => Caller::from_authorization(&st.auth, value).await,
        Err(e) => Err(e),
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return reject(headers, e),
    };
    let batch = if upload {
        read_multipart(headers, body, limit).await
    } else {
        read_batch(body, limit).await
    };
    let batch = match batch {
        Ok(b) => b,
        Err(e) => return reject(headers, e),
    };
    let n = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(all) => all.len(),
    };
    if n > st.options.max_batch {
        let e = ApiError::Limit {
            code: code::BATCH_TOO_LARGE,
            message: format!(
                "a batch may hold at most {} operations; this one has {n}",
                st.options.max_batch
            ),
            limit: st.options.max_batch,
            value: n,
        };
        return reject(headers, e);
    }
    let empty = batch
        .iter()
        .any(|r| r.query.trim().is_empty() && !r.extensions.contains_key("persistedQuery"));
    if empty {
        return reject(
            headers,
            ApiError::refused(code::BAD_REQUEST, "missing `query`"),
        );
    }
    execute(&st, headers, caller, batch, false).await
}

/// Reads a GraphQL multipart request (<https://github.com/jaydenseric/graphql-multipart-request-spec>):
/// `operations` (the JSON request or batch), `map`, then the files, the whole at most `limit`
/// bytes; the files are held in memory (an upload is an import file, read whole anyway).
async fn read_multipart(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<BatchRequest, ApiError> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            if c.to_string().contains("length limit exceeded") {
                return too_large(limit, "an upload");
            }
            cause = c.source();
        }
        ApiError::refused(code::BAD_REQUEST, "the request body could not be read")
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(limit)
        .max_num_files(1);
    async_graphql::http::receive_batch_body(content_type, &bytes[..], options)
        .await
        .map_err(|e| match e {
            async_graphql::ParseRequestError::PayloadTooLarge => too_large(limit, "an upload"),
            async_graphql::ParseRequestError::InvalidMultipart(m) => ApiError::refused(
                code::BAD_REQUEST,
                format!("malformed GraphQL multipart request: {m}"),
            ),
            async_graphql::ParseRequestError::MissingOperatorsPart => ApiError::refused(
                code::BAD_REQUEST,
                "malformed GraphQL multipart request: no `operations` part",
            ),
            async_graphql::ParseRequestError::MissingMapPart => ApiError::refused(
                code::BAD_REQUEST,
                "malformed GraphQL multipart request: no `map` part",
            ),
            async_graphql::ParseRequestError::MissingFiles => ApiError::refused(
                code::BAD_REQUEST,
                "malformed GraphQL multipart request: `map` names a file that was not sent",
            ),
            other => ApiError::from(other),
        })
}

/// Reads a POST body as one GraphQL request (an object) or a batch (an array of objects),
/// saying what is wrong in the terms of GraphQL over HTTP rather than serde's.
async fn read_batch(body: axum::body::Body, limit: usize) -> Result<BatchRequest, ApiError> {
    let bad = |why: &str| ApiError::refused(code::BAD_REQUEST, why);
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cause {
            if c.to_string().contains("length limit exceeded") {
                return ApiError::refused(code::PAYLOAD_TOO_LARGE, "request body too large");
            }
            cause = c.source();
        }
        bad("the request body could not be read")
    })?;
    // One operation (a JSON object, the usual body) is read once, straight into the request.
    // Anything else, or an object that is not a request, is read as JSON first, to tell a batch
    // from a malformed body and say what is wrong with it.
    if bytes.trim_ascii_start().starts_with(b"{")
        && let Ok(req) = serde_json::from_slice::<async_graphql::Request>(&bytes)
    {
        return Ok(BatchRequest::Single(req));
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|_| bad("malformed GraphQL request: the body is not JSON"))?;
    let shape = "malformed GraphQL request: the body must be a JSON object with a string `query` \
                 (and optional `operationName`, `variables` and `extensions`), or a non-empty \
                 array of such objects";
    match &value {
        serde_json::Value::Array(items) if items.is_empty() => {
            return Err(bad(
                "the batch is empty: send one operation as an object, or an array of at least one",
            ));
        }
        serde_json::Value::Array(items) if items.iter().all(serde_json::Value::is_object) => {}
        serde_json::Value::Object(_) => {}
        _ => return Err(bad(shape)),
    }
    serde_json::from_value(value).map_err(|_| bad(shape))
}

/// The parameters of a GET request (GraphQL over HTTP: `query`, `operationName`, and
/// `variables` / `extensions` as JSON text).
fn parse_get(raw: &str) -> Result<async_graphql::Request, ApiError> {
    #[derive(serde::Deserialize)]
    struct Params {
        query: Option<String>,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
        variables: Option<String>,
        extensions: Option<String>,
    }
    let bad = |why: String| ApiError::refused(code::BAD_REQUEST, why);
    let p: Params =
        serde_urlencoded::from_str(raw).map_err(|e| bad(format!("malformed query string: {e}")))?;
    let json = |name: &str, text: Option<String>| -> Result<_, ApiError> {
        match text.filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(t) => serde_json::from_str::<serde_json::Value>(&t)
                .ok()
                .filter(serde_json::Value::is_object)
                .map(Some)
                .ok_or_else(|| bad(format!("`{name}` must be a JSON object"))),
        }
    };
    let variables = json("variables", p.variables)?;
    let extensions = json("extensions", p.extensions)?;
    let mut req = async_graphql::Request::new(p.query.unwrap_or_default());
    req.operation_name = p.operation_name.filter(|n| !n.is_empty());
    if let Some(v) = variables {
        req.variables = async_graphql::Variables::from_json(v);
    }
    if let Some(e) = extensions {
        req.extensions =
            serde_json::from_value(e).map_err(|_| bad("malformed `extensions`".into()))?;
    }
    if req.query.trim().is_empty() && !req.extensions.contains_key("persistedQuery") {
        return Err(bad("missing `query` parameter".into()));
    }
    Ok(req)
}

/// GET runs queries (never mutations); a browser without a query gets GraphiQL.
async fn graphql_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    caller: Result<Caller, ApiError>,
) -> Response {
    let Some(raw) = uri.query().filter(|q| !q.is_empty()) else {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        if wants_html {
            return graphiql(&st, &headers).await;
        }
        return reject(
            &headers,
            ApiError::refused(code::BAD_REQUEST, "missing `query` parameter"),
        );
    };
    let req = match parse_get(raw) {
        Ok(r) => r,
        Err(e) => return reject(&headers, e),
    };
    let caller = match caller {
        Ok(c) => c,
        Err(e) => return reject(&headers, e),
    };
    execute(&st, &headers, caller, BatchRequest::Single(req), true).await
}

/// The name a document gives its operation when it starts with one (`query Name …`): what an
/// operation is labelled with in `/metrics` when the request names none. Cheap (no parse).
fn operation_name(query: &str) -> Option<&str> {
    let mut rest = query.trim_start();
    while let Some(comment) = rest.strip_prefix('#') {
        rest = comment.split_once('\n').map_or("", |(_, r)| r).trim_start();
    }
    let rest = ["query", "mutation", "subscription"]
        .into_iter()
        .find_map(|k| rest.strip_prefix(k))?;
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// Whether the request's operation asks only for the schema (`__schema`, `__type`,
/// `__typename`) at its root: what an anonymous caller may do with `--public-schema`.
fn reads_only_the_schema(req: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::Selection;
    let Ok(doc) = parse_query(&req.query) else {
        return false;
    };
    selected(&doc, req).is_some_and(|op| {
        op.node.ty == OperationType::Query
            && op.node.selection_set.node.items.iter().all(|item| {
                matches!(&item.node, Selection::Field(f) if f.node.name.node.starts_with("__"))
            })
    })
}

/// The operation a request runs: the one `operationName` names, or the only one (several
/// without a name: none, and the executor says a name is required).
fn selected<'d>(
    doc: &'d async_graphql::parser::types::ExecutableDocument,
    req: &async_graphql::Request,
) -> Option<&'d async_graphql::Positioned<async_graphql::parser::types::OperationDefinition>> {
    match &req.operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => {
            let mut ops = doc.operations.iter();
            match (ops.next(), ops.next()) {
                (Some((_, op)), None) => Some(op),
                _ => None,
            }
        }
    }
}

/// Whether the operation a request would run is a query. Unparsable documents pass, so that
/// the executor reports the syntax error in the usual GraphQL shape.
fn selects_query(req: &async_graphql::Request) -> bool {
    let Ok(doc) = parse_query(&req.query) else {
        return true;
    };
    let ty = selected(&doc, req).map(|op| op.node.ty);
    !matches!(
        ty,
        Some(OperationType::Mutation | OperationType::Subscription)
    )
}

/// GraphiQL for a browser: public with `--public-schema`, else only for a token holder.
async fn graphiql(st: &AppState, headers: &HeaderMap) -> Response {
    if !st.options.public_schema
        && let Err(e) = signed_in(st, headers).await
    {
        return e.into_response();
    }
    crate::graphiql::page(st).await
}

/// Refuses a caller without a valid token.
async fn signed_in(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let value = crate::caller::authorization(headers)?;
    match Caller::from_authorization(&st.auth, value).await?.0 {
        Some(_) => Ok(()),
        None => Err(ApiError::Unauthenticated),
    }
}

async fn sdl(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if !st.options.public_schema
        && let Err(e) = signed_in(&st, &headers).await
    {
        return e.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        st.schema.sdl(),
    )
        .into_response()
}

/// Ready when the database answers within two seconds.
async fn readyz(State(db): State<DatabaseConnection>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), Service::ping(&db)).await {
        Ok(Ok(())) => (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            unavailable()
        }
    }
}

fn unavailable() -> Response {
    let body = json!({ "status": "unavailable", "code": code::UNAVAILABLE });
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}
