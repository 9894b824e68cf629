//! The one error type resolvers and services return.
//!
//! async-graphql is built with `custom-error-conversion`, so nothing reaches a client without
//! passing through `From<ApiError> for async_graphql::Error` below: every error carries a stable
//! `extensions.code`, and an internal cause is logged once here and never shown.

use std::sync::Arc;

/// Stable values of `extensions.code`.
pub mod code {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const CONFLICT: &str = "CONFLICT";
    pub const INTERNAL: &str = "INTERNAL_SERVER_ERROR";
    pub const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub const LAGGED: &str = "SUBSCRIPTION_LAGGED";
    pub const EXPIRED: &str = "EVENTS_EXPIRED";
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

/// A pool that cannot hand out a connection, or a connection that broke, means the database is
/// down or saturated: the client should retry rather than report a bug.
fn is_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error as Sqlx};
    match e {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(inner)) | DbErr::Exec(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                Sqlx::Io(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed
                | Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => db.code().is_some_and(|c| failover_state(&c)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// SQLSTATEs a server sends while it goes away or changes role in a failover or switchover:
/// connection exceptions (08), the server shutting down or crashed (57P01-57P03: "terminating
/// connection due to unexpected postmaster exit" is 57P01), and a write reaching a server that
/// has just become a replica (25006) before the proxy notices.
fn failover_state(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code == "25006"
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
            assert!(failover_state(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "22001"] {
            assert!(!failover_state(code), "{code}");
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
