//! The one error type of the API: resolvers and services return it, and every refusal a client
//! can receive (a field error, a request over a limit, a bad HTTP request, a refused token) is
//! one of its variants, rendered in one shape.
//!
//! async-graphql is built with `custom-error-conversion`, so nothing reaches a client without
//! passing through `From<ApiError> for async_graphql::Error` below: every error carries a stable
//! `extensions.code`, and an internal cause is logged once here and never shown. Requests refused
//! before GraphQL runs get the same body through `IntoResponse`, with the HTTP status of
//! [`ApiError::status`].

use std::sync::Arc;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

/// Stable values of `extensions.code`: every code a client can receive (the README's error
/// table lists the same).
pub mod code {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const CONFLICT: &str = "CONFLICT";
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    pub const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const LAGGED: &str = "SUBSCRIPTION_LAGGED";
    /// The document does not parse.
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document is not valid against the schema (or its variables are not).
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    pub const BATCH_TOO_LARGE: &str = "BATCH_TOO_LARGE";
    pub const TIMEOUT: &str = "TIMEOUT";
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    pub const OPERATION_NOT_ALLOWED: &str = "OPERATION_NOT_ALLOWED";
    /// Not a GraphQL request (malformed body or query string).
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UNSUPPORTED_MEDIA_TYPE";
    pub const EXPIRED: &str = "EVENTS_EXPIRED";
    /// An item of an atomic batch (`createTasks`, `transitionTasks`) that was valid but not
    /// written, because another item of the batch failed.
    pub const ROLLED_BACK: &str = "ROLLED_BACK";
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The client sent something unusable; `argument` names the argument or input field at fault.
    #[error("{message}")]
    BadInput { argument: String, message: String },
    #[error("authentication required")]
    Unauthenticated,
    /// `needs` names the missing scope or right; never a row.
    #[error("not permitted: {needs}")]
    Forbidden { needs: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A stale `expectedVersion` (or a competing write); `current_version` lets the client
    /// reload and retry.
    #[error("{message}")]
    Conflict {
        message: String,
        current_version: Option<i32>,
    },
    /// The database cannot be reached; the client may retry.
    #[error("the database is unavailable, try again shortly")]
    Unavailable(Arc<anyhow::Error>),
    #[error("internal error")]
    Internal(Arc<anyhow::Error>),
    /// A subscriber fell this many events behind and was disconnected; it may resubscribe.
    #[error("the subscription fell {0} events behind and was closed; subscribe again")]
    Lagged(u64),
    /// A bearer token was sent but is not acceptable; `error` is the RFC 6750 error code
    /// (`invalid_token`, `invalid_request`), `why` is safe to show.
    #[error("{why}")]
    InvalidToken { error: &'static str, why: String },
    /// A request over one of the server's limits; `code` names the limit.
    #[error("{message}")]
    Limit {
        code: &'static str,
        message: String,
        limit: usize,
        value: usize,
    },
    /// A request refused before it ran (not a GraphQL request, the wrong method or media type,
    /// an unknown persisted query, …); `code` says which.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// A subscription asked to resume after events the log no longer keeps (older than its
    /// retention): the client must refetch what it shows, then subscribe afresh.
    #[error(
        "the events after this cursor are no longer kept; refetch, then subscribe without `after`"
    )]
    Expired,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_input(argument: impl Into<String>, message: impl Into<String>) -> Self {
        Self::BadInput {
            argument: argument.into(),
            message: message.into(),
        }
    }

    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(Arc::new(cause.into()))
    }

    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn limit(code: &'static str, what: &str, limit: usize, value: usize) -> Self {
        Self::Limit {
            code,
            message: format!("the {what} is {value}, over the limit of {limit}"),
            limit,
            value,
        }
    }

    /// The HTTP status of a response made of this error alone.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadInput { .. } | Self::Limit { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Lagged(_) | Self::Expired => StatusCode::OK,
            Self::Refused { code, .. } => match *code {
                code::METHOD_NOT_ALLOWED => StatusCode::METHOD_NOT_ALLOWED,
                code::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                code::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code::FORBIDDEN => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// The error as a GraphQL error of the whole request: no location, no path.
    pub fn into_server_error(self) -> async_graphql::ServerError {
        let err = async_graphql::Error::from(self);
        let mut server = async_graphql::ServerError::new(err.message, None);
        server.extensions = err.extensions;
        server
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput { .. } => code::BAD_USER_INPUT,
            Self::Unauthenticated => code::UNAUTHENTICATED,
            Self::Forbidden { .. } => code::FORBIDDEN,
            Self::NotFound(_) => code::NOT_FOUND,
            Self::Conflict { .. } => code::CONFLICT,
            Self::Unavailable(_) => code::UNAVAILABLE,
            Self::Internal(_) => code::INTERNAL,
            Self::Lagged(_) => code::LAGGED,
            Self::InvalidToken { .. } => code::UNAUTHENTICATED,
            Self::Limit { code, .. } | Self::Refused { code, .. } => code,
            Self::Expired => code::EXPIRED,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        let unavailable = is_unavailable(&e);
        let cause = Arc::new(anyhow::Error::new(e));
        if unavailable {
            Self::Unavailable(cause)
        } else {
            Self::Internal(cause)
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::InvalidToken(why) => Self::InvalidToken {
                error: "invalid_token",
                why,
            },
            AuthError::Unavailable(cause) => Self::Unavailable(Arc::new(cause)),
        }
    }
}

impl From<async_graphql::ParseRequestError> for ApiError {
    fn from(e: async_graphql::ParseRequestError) -> Self {
        use async_graphql::ParseRequestError as P;
        match e {
            P::PayloadTooLarge => Self::refused(code::PAYLOAD_TOO_LARGE, "request body too large"),
            // A body streamed past the limit (no Content-Length) surfaces as a read error from
            // tower-http's limit; it is still "too large", not "malformed".
            P::Io(e) if e.to_string().contains("length limit exceeded") => {
                Self::refused(code::PAYLOAD_TOO_LARGE, "request body too large")
            }
            // serde's own text names Rust types ("untagged enum BatchRequest"): say instead
            // what a GraphQL request is.
            P::InvalidRequest(_) => Self::refused(
                code::BAD_REQUEST,
                "malformed GraphQL request: the body must be a JSON object with a string `query` \
                 (and optional `operationName`, `variables`, `extensions` objects), or a \
                 non-empty array of such objects",
            ),
            P::Io(_) => Self::refused(code::BAD_REQUEST, "the request body could not be read"),
            other => Self::refused(
                code::BAD_REQUEST,
                format!("malformed GraphQL request: {other}"),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let challenge = match &self {
            Self::Unauthenticated => Some("Bearer realm=\"sangam\"".to_owned()),
            Self::InvalidToken { error, why } => Some(format!(
                "Bearer realm=\"sangam\", error=\"{error}\", error_description=\"{}\"",
                why.replace(['"', '\\'], "'")
            )),
            _ => None,
        };
        // A request error: `errors` only, no `data` entry (GraphQL over HTTP).
        #[derive(serde::Serialize)]
        struct Errors {
            errors: [async_graphql::ServerError; 1],
        }
        let body = Errors {
            errors: [self.into_server_error()],
        };
        let mut res = (status, Json(body)).into_response();
        let headers = res.headers_mut();
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, v);
        }
        match status {
            StatusCode::METHOD_NOT_ALLOWED => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            _ => {}
        }
        res
    }
}

/// A pool that cannot hand out a connection, a connection that broke, or a server that is
/// stopping, restarting or refusing connections means the database is down or saturated: the
/// client should retry rather than report a bug.
fn is_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            is_unavailable_sqlx(inner)
        }
        _ => false,
    }
}

fn is_unavailable_sqlx(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match e {
        Sqlx::Io(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::Protocol(_)
        | Sqlx::Tls(_) => true,
        Sqlx::Database(db) => db.code().is_some_and(|c| is_unavailable_sqlstate(&c)),
        _ => false,
    }
}

/// SQLSTATEs of a server going away or not taking connections: class 08 (connection
/// exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 53300 too
/// many connections; 25006 a write reaching a server that has just become a replica in a
/// failover or switchover, before the proxy notices.
pub fn is_unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "25006")
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(Arc::new(e))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        match &e {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(error = %cause, "database unavailable"),
            _ => {}
        }
        let code = e.code();
        use async_graphql::ErrorExtensions;
        let mut err = async_graphql::Error::new(e.to_string());
        err = err.extend_with(|_, ext| {
            ext.set("code", code);
            match &e {
                ApiError::BadInput { argument, .. } => ext.set("argument", argument.as_str()),
                ApiError::Forbidden { needs } => ext.set("needs", needs.as_str()),
                ApiError::Conflict {
                    current_version: Some(v),
                    ..
                } => ext.set("currentVersion", *v),
                ApiError::Limit { limit, value, .. } => {
                    ext.set("limit", *limit);
                    ext.set("value", *value);
                }
                _ => {}
            }
        });
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(e: ApiError) -> serde_json::Value {
        let err: async_graphql::Error = e.into();
        let server = err.into_server_error(async_graphql::Pos::default());
        serde_json::to_value(&server).expect("serialise error")
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let db = sea_orm::DbErr::Custom("relation \"village\" does not exist".into());
        let v = convert(db.into());
        let text = v.to_string();
        assert!(!text.contains("village"), "leaked: {text}");
        assert!(text.contains("internal error"), "{text}");
        assert!(text.contains(code::INTERNAL), "{text}");
    }

    #[test]
    fn bad_input_names_the_argument() {
        let v = convert(ApiError::bad_input("first", "must be at most 100"));
        let text = v.to_string();
        assert!(text.contains(code::BAD_USER_INPUT), "{text}");
        assert!(text.contains("\"argument\":\"first\""), "{text}");
    }

    #[test]
    fn failover_states_are_retryable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08001", "25006"] {
            assert!(is_unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "22001"] {
            assert!(!is_unavailable_sqlstate(code), "{code}");
        }
    }

    #[test]
    fn every_variant_has_its_code() {
        let cases = [
            (ApiError::Unauthenticated, code::UNAUTHENTICATED),
            (
                ApiError::Forbidden {
                    needs: "tasks:write".into(),
                },
                code::FORBIDDEN,
            ),
            (ApiError::NotFound("task"), code::NOT_FOUND),
            (
                ApiError::Unavailable(Arc::new(anyhow::anyhow!("pool timed out"))),
                code::UNAVAILABLE,
            ),
        ];
        for (e, expected) in cases {
            assert_eq!(e.code(), expected);
            let text = convert(e).to_string();
            assert!(text.contains(expected), "{text}");
        }
    }
}
