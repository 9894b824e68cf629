//! The embedded authorization server's HTTP endpoints: token (RFC 6749 §4.4), revocation
//! (RFC 7009), introspection (RFC 7662), metadata (RFC 8414) and the JWK Set.

use std::{
    collections::BTreeSet,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use axum::{
    Extension, Json,
    body::Bytes,
    extract::{ConnectInfo, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{TimeZone, Utc};
use entities::{oauth_client, revoked_token};
use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
use serde_json::{Value, json};

use super::{AuthError, Authenticator, clients, gate, throttle};
use crate::principal::{Role, Scope};

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// An RFC 6749 §5.2 error response.
fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    basic_challenge: bool,
) -> Response {
    let mut res = (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if basic_challenge {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"sangam\""),
        );
    }
    no_store(res)
}

fn invalid_request(description: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description,
        false,
    )
}

fn server_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "authorization server failure");
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal error",
        false,
    )
}

/// Too many failed authentications for this client id or from this address.
fn too_many(wait: Duration) -> Response {
    let secs = throttle::retry_after_secs(wait);
    let mut res = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "temporarily_unavailable",
        &format!("too many failed client authentications; retry after {secs} s"),
        false,
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

/// The source address of a request, when the server was started with connection info.
pub type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

fn peer_ip(peer: &Peer) -> Option<IpAddr> {
    peer.as_ref().map(|Extension(ConnectInfo(a))| a.ip())
}

/// Form parameters, refusing repeated ones (RFC 6749 §3.1).
fn form(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, String)>, Box<Response>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(Box::new(invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| Box::new(invalid_request("malformed form body")))?;
    let mut seen = BTreeSet::new();
    if let Some((dup, _)) = params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(Box::new(invalid_request(&format!(
            "parameter {dup} is repeated"
        ))));
    }
    Ok(params)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `client_secret_basic` or `client_secret_post` (never both).
async fn client(
    auth: &Authenticator,
    addr: Option<IpAddr>,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Result<oauth_client::Model, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let posted = (param(params, "client_id"), param(params, "client_secret"));
    let (id, secret, used_basic) = match (basic, posted) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some(b), _) => {
            let bad = || {
                oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "malformed Basic credentials",
                    true,
                )
            };
            let decoded = STANDARD.decode(b.trim()).map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
            let dec = |s: &str| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                    .ok()?
                    .pop()
                    .map(|(_, v)| v)
            };
            (dec(id).ok_or_else(bad)?, dec(secret).ok_or_else(bad)?, true)
        }
        (None, (Some(id), Some(secret))) => (id.to_owned(), secret.to_owned(), false),
        (None, _) => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication required",
                true,
            ));
        }
    };
    if let Some(wait) = auth.throttle.blocked(&id, addr) {
        return Err(too_many(wait));
    }
    match clients::authenticate(auth.db(), &id, &secret).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(match auth.throttle.failed(&id, addr) {
            Some(wait) => too_many(wait),
            None => oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "unknown client, wrong secret or disabled client",
                used_basic,
            ),
        }),
        Err(e) => Err(server_error(e)),
    }
}

pub async fn token(
    State(auth): State<Arc<Authenticator>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match form(&headers, &body) {
        Ok(p) => p,
        Err(res) => return *res,
    };
    match param(&params, "grant_type") {
        None => return invalid_request("grant_type is required"),
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only client_credentials is supported",
                false,
            );
        }
    }
    let client = match client(&auth, peer_ip(&peer), &headers, &params).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let allowed = Scope::parse_list(&client.scopes).unwrap_or_default();
    let granted = match param(&params, "scope") {
        None => allowed,
        Some(requested) => match Scope::parse_list(requested) {
            Err(unknown) => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!("unknown scope {unknown}"),
                    false,
                );
            }
            Ok(asked) if asked.is_empty() => allowed,
            Ok(asked) => match asked.iter().find(|s| !allowed.contains(s)) {
                Some(s) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        &format!("the client may not ask for {}", s.as_str()),
                        false,
                    );
                }
                None => asked,
            },
        },
    };
    match auth.issue(&client, &granted).await {
        Ok((token, ttl)) => no_store(
            Json(json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "scope": Scope::join(&granted),
            }))
            .into_response(),
        ),
        Err(e) => server_error(e),
    }
}

/// A revocation or introspection request: the authenticated client and the `token` it names.
async fn token_request(
    auth: &Authenticator,
    peer: &Peer,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(oauth_client::Model, String), Box<Response>> {
    let params = form(headers, body)?;
    let client = client(auth, peer_ip(peer), headers, &params)
        .await
        .map_err(Box::new)?;
    let token =
        param(&params, "token").ok_or_else(|| Box::new(invalid_request("token is required")))?;
    Ok((client, token.to_owned()))
}

/// RFC 7009: a client revokes its own tokens; the answer is 200 whatever the token was.
pub async fn revoke(
    State(auth): State<Arc<Authenticator>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match token_request(&auth, &peer, &headers, &body).await {
        Ok(found) => found,
        Err(res) => return *res,
    };
    match auth.verify_own(&token, false).await {
        Ok(claims)
            if claims.get("client_id").and_then(Value::as_str)
                == Some(client.client_id.as_str()) =>
        {
            let jti = claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let exp = claims
                .get("exp")
                .and_then(Value::as_i64)
                .unwrap_or_default();
            let row = revoked_token::ActiveModel {
                jti: Set(jti.clone()),
                client_id: Set(client.client_id),
                expires_at: Set(Utc.timestamp_opt(exp, 0).single().unwrap_or_else(Utc::now)),
                revoked_at: Set(Utc::now()),
                ..Default::default()
            };
            // The row and its announcement to every instance commit together (`auth/gate.rs`).
            let revoked = async {
                let tx = auth.db().begin().await?;
                row.insert(&tx).await?;
                gate::announce(&tx, gate::Change::Revoked { jti: &jti, exp }).await?;
                tx.commit().await
            };
            match revoked.await {
                Ok(()) => auth.gate.revoked_here(&jti, exp),
                // Revoking twice is not an error.
                Err(e)
                    if matches!(
                        e.sql_err(),
                        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                    ) => {}
                Err(e) => return server_error(e),
            }
        }
        Err(AuthError::Unavailable(e)) => return server_error(e),
        _ => {}
    }
    no_store(StatusCode::OK.into_response())
}

/// RFC 7662: the token's own client, or a state administrator's client, may introspect.
pub async fn introspect(
    State(auth): State<Arc<Authenticator>>,
    peer: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (caller, token) = match token_request(&auth, &peer, &headers, &body).await {
        Ok(found) => found,
        Err(res) => return *res,
    };
    let inactive = || no_store(Json(json!({ "active": false })).into_response());
    match auth.verify_own(&token, true).await {
        Ok(mut claims) => {
            let owner =
                claims.get("client_id").and_then(Value::as_str) == Some(caller.client_id.as_str());
            if !owner && Role::parse(&caller.role) != Some(Role::StateAdmin) {
                return inactive();
            }
            claims.insert("active".into(), Value::Bool(true));
            claims.insert("token_type".into(), Value::String("Bearer".into()));
            no_store(Json(Value::Object(claims)).into_response())
        }
        Err(AuthError::Unavailable(e)) => server_error(e),
        Err(AuthError::InvalidToken(_)) => inactive(),
    }
}

/// RFC 8414 metadata.
pub async fn metadata(State(auth): State<Arc<Authenticator>>) -> Response {
    let iss = auth.settings.issuer.trim_end_matches('/');
    let scopes: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    Json(json!({
        "issuer": auth.settings.issuer,
        "token_endpoint": format!("{iss}/oauth/token"),
        "jwks_uri": format!("{iss}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{iss}/oauth/revoke"),
        "introspection_endpoint": format!("{iss}/oauth/introspect"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
    }))
    .into_response()
}

pub async fn jwks(State(auth): State<Arc<Authenticator>>) -> Response {
    match auth.keys.jwks().await {
        Ok(set) => Json(set).into_response(),
        Err(e) => server_error(e),
    }
}
