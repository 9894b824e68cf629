//! Source 3: opaque tokens, introspected at the provider (RFC 7662).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use api::{
    auth::{AuthSettings, ClaimNames, IntrospectionSettings},
    graphql::Limits,
    http::HttpOptions,
};
use axum::{
    Json, Router,
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use chrono::Utc;
use serde_json::json;
use tests::{Backend, ISSUER, TestApp, TestDb, tokens::*};

#[tokio::test]
async fn opaque_tokens_are_introspected_at_the_provider_and_cached() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the introspection server");
    let url = format!("http://{}/introspect", listener.local_addr().expect("addr"));
    let mut settings = AuthSettings::embedded(ISSUER);
    settings.introspection = Some(IntrospectionSettings {
        url,
        client_id: "sangam-gateway".into(),
        client_secret: "gateway-secret".into(),
        audience: "sangam".into(),
        allow_no_audience: false,
        claims: ClaimNames::default(),
    });
    let app = TestApp::with(
        TestDb::demo(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions::default(),
        settings,
    )
    .await;
    let health = health_department(&app).await;

    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let expected_auth = basic_auth("sangam-gateway", "gateway-secret");
    let provider = Router::new().route(
        "/introspect",
        post(move |headers: HeaderMap, body: String| {
            let (counter, expected_auth, health) =
                (counter.clone(), expected_auth.clone(), health.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let auth = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                if auth != Some(expected_auth.as_str()) {
                    return (
                        StatusCode::UNAUTHORIZED,
                        Json(json!({ "error": "invalid_client" })),
                    );
                }
                let token = body.split('&').find_map(|p| p.strip_prefix("token="));
                let answer = if token == Some("opaque-good") {
                    json!({
                        "active": true, "sub": "officer-7", "client_id": "keycloak-gw", "aud": "sangam",
                        "scope": "villages:read tasks:read", "exp": Utc::now().timestamp() + 600,
                        "role": "department", "org": health, "states": [22],
                    })
                } else {
                    json!({ "active": false })
                };
                (StatusCode::OK, Json(answer))
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, provider).await;
    });

    let v = viewer(&app, "opaque-good", "an active opaque token").await;
    assert_eq!(v["role"], "department", "{v:#}");
    assert_eq!(v["sub"], "officer-7", "{v:#}");
    assert_eq!(
        strings(&v["scopes"]),
        set(["villages:read", "tasks:read"]),
        "{v:#}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the provider was asked once"
    );

    let reply = with_token(
        &app,
        "opaque-good",
        "{ tasks { totalCount } villages { totalCount } }",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.json().get("errors").is_none(),
        "the department reads with its scopes: {}",
        reply.body
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the answer is cached: no second introspection call"
    );

    assert_refused(&app, "opaque-bad", "an inactive opaque token").await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "an unknown token is introspected"
    );
}

/// An introspection endpoint that answers every token as active for a Chhattisgarh dashboard,
/// with the `aud` the token's text names: `aud-NAME` for one audience, `auds-A.B` for a list (a bearer token has no commas, RFC 6750),
/// anything else for none.
async fn provider_of_audiences() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the introspection server");
    let url = format!("http://{}/introspect", listener.local_addr().expect("addr"));
    let provider = Router::new().route(
        "/introspect",
        post(|body: String| async move {
            let token = body
                .split('&')
                .find_map(|p| p.strip_prefix("token="))
                .unwrap_or_default()
                .to_owned();
            let mut answer = json!({
                "active": true, "sub": "officer-9", "client_id": "keycloak-gw",
                "scope": "villages:read", "exp": Utc::now().timestamp() + 600,
                "role": "dashboard", "states": [22],
            });
            if let Some(one) = token.strip_prefix("aud-") {
                answer["aud"] = json!(one);
            } else if let Some(many) = token.strip_prefix("auds-") {
                answer["aud"] = json!(many.split('.').collect::<Vec<_>>());
            }
            Json(answer)
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, provider).await;
    });
    url
}

async fn introspecting_app(url: String, allow_no_audience: bool) -> TestApp {
    let mut settings = AuthSettings::embedded(ISSUER);
    settings.introspection = Some(IntrospectionSettings {
        url,
        client_id: "sangam-gateway".into(),
        client_secret: "gateway-secret".into(),
        audience: "sangam".into(),
        allow_no_audience,
        claims: ClaimNames::default(),
    });
    TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions::default(),
        settings,
    )
    .await
}

#[tokio::test]
async fn an_introspected_token_must_name_sangams_audience() {
    let url = provider_of_audiences().await;
    let app = introspecting_app(url.clone(), false).await;
    viewer(&app, "aud-sangam", "an active token for Sangam").await;
    viewer(
        &app,
        "auds-account.sangam",
        "an active token whose audiences include Sangam",
    )
    .await;
    assert_refused(
        &app,
        "aud-some-other-api",
        "an active token issued for another API",
    )
    .await;
    assert_refused(
        &app,
        "no-audience",
        "an active token that names no audience, by default",
    )
    .await;

    let lenient = introspecting_app(url, true).await;
    viewer(
        &lenient,
        "no-audience",
        "a token without aud where the operator allows it",
    )
    .await;
    assert_refused(
        &lenient,
        "aud-some-other-api",
        "another API's token even where aud may be missing",
    )
    .await;
}
