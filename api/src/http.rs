//! HTTP surface: GraphQL over HTTP, GraphiQL, the SDL, health and readiness.

use std::{sync::Arc, time::Duration};

use async_graphql::{
    BatchRequest, Data, ParseRequestError,
    http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource},
    parser::{parse_query, types::OperationType},
};
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLWebSocket};
use axum::{
    Json, Router,
    extract::{FromRef, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Request, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::{get, post},
};
use sea_orm::DatabaseConnection;
use serde_json::json;
use tower_http::{
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    trace::TraceLayer,
};

use crate::{
    auth::{AuthError, Authenticator, endpoints},
    error::code,
    events::EventBus,
    graphql::{self, AppSchema, batches::Batches, mutation::IdempotencyHeader},
    principal::Principal,
    service::Service,
};

/// Largest request body accepted by default, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub schema: AppSchema,
    pub auth: Arc<Authenticator>,
    pub options: HttpOptions,
    pub bus: EventBus,
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
    /// Longest a request may run.
    pub request_timeout: Duration,
    /// Run only registered persisted queries.
    pub allow_list: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            public_schema: false,
            graphiql_client: None,
            batch_window: Duration::ZERO,
            max_batch: 10,
            max_body_bytes: MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(30),
            allow_list: false,
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
    let x_request_id = header::HeaderName::from_static("x-request-id");
    let mut app = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/schema.graphql", get(sdl))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(|| async { crate::metrics::render() }))
        .route("/readyz", get(readyz))
        .route("/export/{file}", get(crate::export::download));
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
    app.with_state(state)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
            let id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// A request that is not a GraphQL request at all (RFC: GraphQL over HTTP, 400/405/413).
pub struct HttpRejection(StatusCode, String);

impl From<ParseRequestError> for HttpRejection {
    fn from(e: ParseRequestError) -> Self {
        match e {
            ParseRequestError::PayloadTooLarge => Self(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large".to_owned(),
            ),
            // A body streamed past the limit (no Content-Length) surfaces as a read error from
            // tower-http's limit; it is still "too large", not "malformed".
            other if other.to_string().contains("length limit exceeded") => Self(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large".to_owned(),
            ),
            other => Self(
                StatusCode::BAD_REQUEST,
                format!("malformed GraphQL request: {other}"),
            ),
        }
    }
}

impl IntoResponse for HttpRejection {
    fn into_response(self) -> Response {
        let code = match self.0 {
            StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            _ => "BAD_REQUEST",
        };
        let body = json!({ "errors": [{ "message": self.1, "extensions": { "code": code } }] });
        let mut res = (self.0, Json(body)).into_response();
        if self.0 == StatusCode::METHOD_NOT_ALLOWED {
            res.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        res
    }
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A 401 with an RFC 6750 challenge; `error` is set when a token was sent but refused.
pub(crate) fn unauthorized(error: Option<(&str, &str)>) -> Response {
    let (challenge, message) = match error {
        Some((code, why)) => (
            format!(
                "Bearer realm=\"sangam\", error=\"{code}\", error_description=\"{}\"",
                why.replace('"', "'")
            ),
            why.to_owned(),
        ),
        None => (
            "Bearer realm=\"sangam\"".to_owned(),
            "a bearer token is required".to_owned(),
        ),
    };
    let body = json!({ "errors": [{ "message": message, "extensions": { "code": code::UNAUTHENTICATED } }] });
    let mut res = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

/// The caller, from its bearer token: `Ok(None)` when it sent none.
pub(crate) async fn caller(
    st: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(unauthorized(Some((
            "invalid_request",
            "malformed Authorization header",
        ))));
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(unauthorized(None));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(unauthorized(Some((
            "invalid_request",
            "empty bearer token",
        ))));
    }
    match st.auth.authenticate(token).await {
        Ok(p) => Ok(Some(p)),
        Err(AuthError::InvalidToken(why)) => Err(unauthorized(Some(("invalid_token", &why)))),
        Err(AuthError::Unavailable(e)) => {
            tracing::warn!(error = %e, "cannot authenticate: a dependency is down");
            Err(unavailable())
        }
    }
}

/// A GraphQL error response with a code and, for limits, the limit and the value.
fn refusal(code: &str, message: String, limit: Option<(usize, usize)>) -> async_graphql::Response {
    use async_graphql::ErrorExtensions;
    let err = async_graphql::Error::new(message).extend_with(|_, e| {
        e.set("code", code);
        if let Some((limit, value)) = limit {
            e.set("limit", limit);
            e.set("value", value);
        }
    });
    async_graphql::Response::from_errors(vec![err.into_server_error(Default::default())])
}

/// Runs a (possibly batched) GraphQL request for its caller: one authentication, then each
/// operation with its own loaders, within the request timeout.
async fn execute(
    st: &AppState,
    headers: &HeaderMap,
    batch: BatchRequest,
    via_get: bool,
) -> Response {
    let who = match caller(st, headers).await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let svc = who.map(|who| {
        Service::new(st.db.clone(), who)
            .with_bus(st.bus.clone())
            .with_request_id(request_id(headers))
    });
    let idempotency = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let run = async {
        let mut out = Vec::new();
        let (single, requests) = match batch {
            BatchRequest::Single(r) => (true, vec![r]),
            BatchRequest::Batch(all) => (false, all),
        };
        for mut req in requests {
            // Persisted queries (which may store a query) are for authenticated callers only.
            let resolved = match &svc {
                Some(_) => {
                    graphql::persisted::resolve(&st.db, &mut req, st.options.allow_list).await
                }
                None => Ok(()),
            };
            if let Err((code, message)) = resolved {
                out.push(refusal(code, message, None));
                continue;
            }
            if via_get && !selects_query(&req) {
                return Err(HttpRejection(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "only queries may be sent with GET; use POST".to_owned(),
                ));
            }
            let (mut req, batches) = match &svc {
                Some(svc) => graphql::prepare(req, svc.clone(), st.options.batch_window),
                // Without a token only the schema itself may be read, and only when it is public.
                None if st.options.public_schema && reads_only_the_schema(&req) => {
                    (req.only_introspection(), Batches::when_idle())
                }
                None => return Err(HttpRejection(StatusCode::UNAUTHORIZED, String::new())),
            };
            if let Some(k) = &idempotency {
                req = req.data(IdempotencyHeader(k.clone()));
            }
            crate::metrics::operation();
            out.push(batches.drive(st.schema.execute(req)).await);
        }
        Ok(if single && out.len() == 1 {
            async_graphql::BatchResponse::Single(out.remove(0))
        } else {
            async_graphql::BatchResponse::Batch(out)
        })
    };
    let limit = st.options.request_timeout;
    match tokio::time::timeout(limit, run).await {
        Ok(Ok(res)) => graphql_response(headers, res),
        Ok(Err(HttpRejection(StatusCode::UNAUTHORIZED, _))) => unauthorized(None),
        Ok(Err(rejection)) => rejection.into_response(),
        Err(_) => {
            let ms = limit.as_millis() as usize;
            let res = refusal(
                "TIMEOUT",
                format!("the request took longer than {ms} ms"),
                Some((ms, ms)),
            );
            graphql_response(headers, res.into())
        }
    }
}

/// Encodes a GraphQL response as the client asked (GraphQL over HTTP): the
/// `application/graphql-response+json` media type uses status codes for request errors, plain
/// `application/json` always answers 200.
fn graphql_response(headers: &HeaderMap, res: async_graphql::BatchResponse) -> Response {
    let accepts = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let modern = accepts.contains("application/graphql-response+json");
    let request_error = matches!(&res, async_graphql::BatchResponse::Single(r)
        if r.data == async_graphql::Value::Null && !r.errors.is_empty());
    let status = if modern && request_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if modern {
        "application/graphql-response+json"
    } else {
        "application/json"
    };
    let body = match serde_json::to_vec(&res) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot encode response");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
        }
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn graphql_post(
    State(st): State<AppState>,
    headers: HeaderMap,
    req: GraphQLBatchRequest<HttpRejection>,
) -> Response {
    let batch = req.into_inner();
    let n = match &batch {
        BatchRequest::Single(_) => 1,
        BatchRequest::Batch(all) => all.len(),
    };
    if n > st.options.max_batch {
        let res = refusal(
            "BATCH_TOO_LARGE",
            format!(
                "a batch may hold at most {} operations; this one has {n}",
                st.options.max_batch
            ),
            Some((st.options.max_batch, n)),
        );
        let mut reply = graphql_response(&headers, res.into());
        *reply.status_mut() = StatusCode::BAD_REQUEST;
        return reply;
    }
    let empty = batch
        .iter()
        .any(|r| r.query.trim().is_empty() && !r.extensions.contains_key("persistedQuery"));
    if n == 0 || empty {
        return HttpRejection(StatusCode::BAD_REQUEST, "missing `query`".to_owned())
            .into_response();
    }
    execute(&st, &headers, batch, false).await
}

/// GET runs queries (never mutations); a browser without a query gets GraphiQL.
async fn graphql_get(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let Some(raw) = uri.query().filter(|q| !q.is_empty()) else {
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        if wants_html {
            return graphiql(&st, &headers).await;
        }
        return HttpRejection(
            StatusCode::BAD_REQUEST,
            "missing `query` parameter".to_owned(),
        )
        .into_response();
    };
    let req = match async_graphql::http::parse_query_string(raw) {
        Ok(r) => r,
        Err(e) => return HttpRejection::from(e).into_response(),
    };
    execute(&st, &headers, BatchRequest::Single(req), true).await
}

/// Whether the request's operation asks only for the schema (`__schema`, `__type`,
/// `__typename`) at its root: what an anonymous caller may do with `--public-schema`.
fn reads_only_the_schema(req: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::Selection;
    let Ok(doc) = parse_query(&req.query) else {
        return false;
    };
    let op = match &req.operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => doc.operations.iter().next(),
    };
    op.is_some_and(|(_, op)| {
        op.node.ty == OperationType::Query
            && op.node.selection_set.node.items.iter().all(|item| {
                matches!(&item.node, Selection::Field(f) if f.node.name.node.starts_with("__"))
            })
    })
}

/// Whether the operation a request would run is a query. Unparsable documents pass, so that
/// the executor reports the syntax error in the usual GraphQL shape.
fn selects_query(req: &async_graphql::Request) -> bool {
    let Ok(doc) = parse_query(&req.query) else {
        return true;
    };
    let ty = match &req.operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => doc.operations.iter().next(),
    }
    .map(|(_, op)| op.node.ty);
    !matches!(
        ty,
        Some(OperationType::Mutation | OperationType::Subscription)
    )
}

/// GraphiQL for a browser: public with `--public-schema`, else only for a token holder.
async fn graphiql(st: &AppState, headers: &HeaderMap) -> Response {
    if !st.options.public_schema {
        match caller(st, headers).await {
            Ok(Some(_)) => {}
            Ok(None) => return unauthorized(None),
            Err(res) => return res,
        }
    }
    let demo_header = match &st.options.graphiql_client {
        Some(client_id) => demo_token(st, client_id)
            .await
            .map(|t| format!("Bearer {t}")),
        None => None,
    };
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql/ws")
        .title("Sangam GraphiQL");
    if let Some(h) = &demo_header {
        page = page.header("Authorization", h);
    }
    Html(page.finish()).into_response()
}

/// A fresh token of the demo client GraphiQL opens with.
async fn demo_token(st: &AppState, client_id: &str) -> Option<String> {
    let client = crate::auth::clients::find(&st.db, client_id)
        .await
        .ok()
        .flatten()?;
    let scopes = crate::principal::Scope::parse_list(&client.scopes).ok()?;
    st.auth.issue(&client, &scopes).await.ok().map(|(t, _)| t)
}

/// Subscriptions over WebSocket, in the graphql-transport-ws protocol or the legacy graphql-ws
/// one. The bearer token comes in `connection_init` (`{"Authorization": "Bearer …"}`); without
/// a valid one the connection is refused.
async fn graphql_ws(
    State(st): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = st.schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .on_connection_init(move |payload| ws_init(st, payload))
                .serve()
        })
}

async fn ws_init(st: AppState, payload: serde_json::Value) -> async_graphql::Result<Data> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(|v| v.as_str()))
        .map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .unwrap_or(v)
        });
    let token = header
        .or_else(|| payload.get("token").and_then(|v| v.as_str()))
        .ok_or_else(|| async_graphql::Error::new("connection_init must carry a bearer token"))?;
    let who = st
        .auth
        .authenticate(token)
        .await
        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
    let svc = Service::new(st.db.clone(), who).with_bus(st.bus.clone());
    let mut data = Data::default();
    let window = st
        .options
        .batch_window
        .max(graphql::loaders::SUBSCRIPTION_BATCH_WINDOW);
    graphql::loaders::attach(&mut data, svc, &Batches::after(window));
    Ok(data)
}

async fn sdl(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if !st.options.public_schema {
        match caller(&st, &headers).await {
            Ok(Some(_)) => {}
            Ok(None) => return unauthorized(None),
            Err(res) => return res,
        }
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
