//! What browsers and slow links need: CORS for dashboards on other origins (and the same origin
//! list for WebSocket upgrades, which CORS does not cover), compressed responses, and gzip
//! request bodies.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use tower_http::{
    compression::{CompressionLayer, DefaultPredicate, Predicate, predicate::SizeAbove},
    cors::{AllowOrigin, CorsLayer},
    decompression::RequestDecompressionLayer,
};

/// Browser origins allowed to call the API (`--cors-allow-origins`).
#[derive(Debug, Clone, Default)]
pub enum AllowedOrigins {
    /// Only the server's own origin (no CORS headers).
    #[default]
    None,
    /// Any origin (`*`; the demo).
    Any,
    /// These origins, as `scheme://host[:port]`, lower-case.
    List(Vec<String>),
}

/// Request headers browsers may send cross-origin (the ones GraphQL clients use).
const ALLOWED_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "accept",
    "x-request-id",
    "idempotency-key",
    "apollo-require-preflight",
    "graphql-require-preflight",
];

/// Responses smaller than this are sent as they are: compressing them saves nothing.
pub const COMPRESS_ABOVE_BYTES: u64 = 1024;

impl AllowedOrigins {
    /// From the flag's values: `*`, or origins such as `https://dashboard.example.in`.
    pub fn parse(values: &[String]) -> anyhow::Result<Self> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Ok(Self::None);
        }
        if values.contains(&"*") {
            return Ok(Self::Any);
        }
        let mut list = Vec::new();
        for v in values {
            let (scheme, rest) = v.split_once("://").unwrap_or_default();
            let valid = matches!(scheme, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', ' ', '*']);
            if !valid {
                anyhow::bail!(
                    "--cors-allow-origins: {v:?} is not an origin (scheme://host[:port], no path)"
                );
            }
            list.push(v.to_ascii_lowercase());
        }
        Ok(Self::List(list))
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            Self::None => false,
            Self::Any => true,
            Self::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }

    /// The CORS layer: preflights answered for the allowed origins with the headers GraphQL
    /// clients send; other origins get no `Access-Control-*` header, so browsers refuse them.
    pub fn cors_layer(&self) -> CorsLayer {
        let origins = match self {
            Self::Any => AllowOrigin::any(),
            _ => {
                let me = self.clone();
                AllowOrigin::predicate(move |origin: &HeaderValue, _| {
                    origin.to_str().is_ok_and(|o| me.allows(o))
                })
            }
        };
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
            .allow_headers(ALLOWED_HEADERS.map(HeaderName::from_static))
            .expose_headers([
                HeaderName::from_static("x-request-id"),
                header::WWW_AUTHENTICATE,
                header::RETRY_AFTER,
            ])
            .max_age(Duration::from_secs(600))
    }

    /// Whether a WebSocket upgrade may proceed: clients that send no `Origin` (not browsers),
    /// the server's own origin (GraphiQL), and the allowed ones.
    pub fn allows_socket(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .zip(origin.split_once("://"))
            .is_some_and(|(host, (_, rest))| rest.eq_ignore_ascii_case(host));
        own || self.allows(origin)
    }
}

/// gzip, brotli or zstd by `Accept-Encoding`, for responses above [`COMPRESS_ABOVE_BYTES`].
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES)))
}

/// Accepts request bodies sent with `Content-Encoding: gzip`.
pub fn decompression() -> RequestDecompressionLayer {
    RequestDecompressionLayer::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let none = AllowedOrigins::parse(&[]).expect("empty");
        assert!(matches!(none, AllowedOrigins::None));
        let any = AllowedOrigins::parse(&["*".into()]).expect("any");
        assert!(any.allows("https://x.example"));
        let list = AllowedOrigins::parse(&[
            "https://Dash.example.in".into(),
            "http://localhost:3000".into(),
        ])
        .expect("list");
        assert!(list.allows("https://dash.example.in"));
        assert!(!list.allows("https://evil.example"));
        assert!(AllowedOrigins::parse(&["dash.example.in".into()]).is_err());
        assert!(AllowedOrigins::parse(&["https://x.in/path".into()]).is_err());
    }
}
