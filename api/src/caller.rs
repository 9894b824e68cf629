//! Who sent a request: the one place a bearer token is read, for HTTP (the `Authorization`
//! header) and WebSocket (the `Authorization` entry of `connection_init`) alike, with the rules
//! of RFC 6750 §2.1.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use crate::{auth::Authenticator, error::ApiError, http::AppState, principal::Principal};

/// The authenticated caller, or `None` when the request carried no credentials at all.
pub struct Caller(pub Option<Principal>);

fn invalid_request(why: &str) -> ApiError {
    ApiError::InvalidToken {
        error: "invalid_request",
        why: why.to_owned(),
    }
}

/// The token of an `Authorization` value: `Bearer` (any case), then the token (RFC 6750's
/// `b64token` characters). Another scheme is answered with a bare challenge, as RFC 6750 asks.
pub fn bearer(value: &str) -> Result<&str, ApiError> {
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| invalid_request("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated);
    }
    let token = token.trim_start();
    if token.is_empty() {
        return Err(invalid_request("empty bearer token"));
    }
    let b64token = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
    if !token.bytes().all(b64token) {
        return Err(invalid_request("malformed bearer token"));
    }
    Ok(token)
}

impl Caller {
    /// The caller an `Authorization` value (if any) stands for.
    pub async fn from_authorization(
        auth: &Authenticator,
        value: Option<&str>,
    ) -> Result<Self, ApiError> {
        let Some(value) = value else {
            return Ok(Self(None));
        };
        let token = bearer(value)?;
        match auth.authenticate(token).await {
            Ok(who) => Ok(Self(Some(who))),
            Err(e) => {
                let e = ApiError::from(e);
                if let ApiError::Unavailable(cause) = &e {
                    tracing::warn!(error = %cause, "cannot authenticate: a dependency is down");
                }
                Err(e)
            }
        }
    }

    /// The caller of a WebSocket, from `connection_init`'s payload: the same `Authorization`
    /// value as over HTTP (the entry's name in any case). A connection must authenticate.
    pub async fn from_connection_init(
        auth: &Authenticator,
        payload: &serde_json::Value,
    ) -> Result<Principal, ApiError> {
        let value = payload.as_object().and_then(|entries| {
            entries
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v)
        });
        let value = match value {
            None => None,
            Some(serde_json::Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(invalid_request("Authorization must be a string")),
        };
        Self::from_authorization(auth, value)
            .await?
            .0
            .ok_or(ApiError::Unauthenticated)
    }
}

/// The `Authorization` header's value, if one was sent.
pub fn authorization(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| {
            v.to_str()
                .map_err(|_| invalid_request("malformed Authorization header"))
        })
        .transpose()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        Self::from_authorization(&st.auth, authorization(&parts.headers)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values() {
        assert_eq!(bearer("Bearer abc.def-_").ok(), Some("abc.def-_"));
        assert_eq!(bearer("bearer   abc").ok(), Some("abc"));
        assert!(matches!(
            bearer("Basic abc"),
            Err(ApiError::Unauthenticated)
        ));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Bearer \"x\""] {
            assert!(
                matches!(bearer(bad), Err(ApiError::InvalidToken { .. })),
                "{bad}"
            );
        }
    }
}
