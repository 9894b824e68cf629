//! Whatever the source, a missing or bad token is a 401 with an RFC 6750 challenge and never
//! any data.

use api::{
    auth::clients,
    principal::{Role, Scope},
};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use chrono::Utc;
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, TestDb, each_backend, tokens::*};

#[tokio::test]
async fn bad_tokens_are_refused_with_invalid_token_and_no_data() {
    each_backend(|backend| async move {
        let app = TestApp::over(TestDb::new(backend).await).await;
        let db = app.t.backend.name();
        let base = app.serve().await;
        let (id, secret) = app
            .client(ClientSpec::new(Role::StateAdmin).states(&[22]))
            .await;
        let real = fetch_token(&base, &id, &secret, Some("villages:read")).await;
        let now = Utc::now().timestamp();

        // The forging itself is sound: an unchanged, re-signed copy is accepted.
        let control = forge(&app, &real, |_| {}).await;
        viewer(
            &app,
            &control,
            &format!("[{db}] a re-signed copy of a real token"),
        )
        .await;

        let mut bad: Vec<(&str, String)> = vec![
            (
                "expired beyond the leeway",
                forge(&app, &real, |c| {
                    c.insert("iat".into(), json!(now - 3600));
                    c.insert("nbf".into(), json!(now - 3600));
                    c.insert("exp".into(), json!(now - 300));
                })
                .await,
            ),
            (
                "not yet valid beyond the leeway",
                forge(&app, &real, |c| {
                    c.insert("nbf".into(), json!(now + 600));
                    c.insert("exp".into(), json!(now + 1500));
                })
                .await,
            ),
            (
                "from another issuer",
                forge(
                    &app,
                    &real,
                    with_claim("iss", json!("https://evil.example")),
                )
                .await,
            ),
            (
                "for another audience",
                forge(&app, &real, with_claim("aud", json!("another-api"))).await,
            ),
            (
                "without an audience",
                forge(&app, &real, without_claim("aud")).await,
            ),
            (
                "without a jti",
                forge(&app, &real, without_claim("jti")).await,
            ),
        ];

        let (stranger, _) = ed25519_key();
        let server_kid = kid_of(&real);
        bad.push((
            "signed by another key under the server's kid",
            sign(&Value::Object(claims_of(&real)), &server_kid, &stranger),
        ));
        let (signer_kid, signer) = app.auth.keys.signer().await.expect("signer");
        assert_eq!(
            signer_kid, server_kid,
            "the real token was signed by the current key"
        );
        bad.push((
            "naming an unknown kid",
            sign(&Value::Object(claims_of(&real)), "no-such-key", &signer),
        ));

        let none_header = json!({ "alg": "none", "typ": "at+jwt", "kid": server_kid });
        let payload = serde_json::to_vec(&claims_of(&real)).expect("claims");
        let unsigned = format!(
            "{}.{}.",
            b64url(none_header.to_string().as_bytes()),
            b64url(&payload)
        );
        bad.push(("unsigned (alg none)", unsigned));

        // Widening the scope claim of a real token breaks its signature.
        let mut wider = claims_of(&real);
        wider.insert(
            "scope".into(),
            json!(
                Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        );
        let parts: Vec<&str> = real.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64url(&serde_json::to_vec(&wider).expect("claims")),
            parts[2]
        );
        bad.push(("with a tampered scope claim", tampered));
        bad.push(("that is not a JWT", "definitely-not-a-token".to_owned()));

        for (what, token) in &bad {
            assert_refused(&app, token, &format!("[{db}] a token {what}")).await;
        }

        // Revoked (at once on the instance that revoked it), and then the client disabled
        // (within a second, on every instance: `auth/gate.rs`).
        let revoked = fetch_token(&base, &id, &secret, None).await;
        viewer(&app, &revoked, &format!("[{db}] before revocation")).await;
        let res = post_form(
            &base,
            "/oauth/revoke",
            Some((&id, &secret)),
            &[("token", &revoked)],
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_refused(&app, &revoked, &format!("[{db}] a revoked token")).await;

        viewer(
            &app,
            &real,
            &format!("[{db}] the real token before its client is disabled"),
        )
        .await;
        clients::set_disabled(&app.t.db, &id, true)
            .await
            .expect("disable the client");
        assert!(
            refused_within(&app, &real, std::time::Duration::from_secs(1))
                .await
                .is_some(),
            "[{db}] a token of a disabled client is refused within a second"
        );
        let res = post_form(
            &base,
            "/oauth/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "[{db}] a disabled client gets no new token"
        );

        // No token, or another scheme: a bare Bearer challenge without error (RFC 6750 §3.1).
        let anonymous = app.send(app.graphql_request(None, VIEWER, json!({}))).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "[{db}] no token: {}",
            anonymous.body
        );
        assert_eq!(
            challenge(&anonymous),
            "Bearer realm=\"sangam\"",
            "[{db}] no error code when no token was sent"
        );
        assert!(
            anonymous.json().get("data").is_none(),
            "[{db}] {}",
            anonymous.body
        );
        let basic = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, basic_auth(&id, &secret))
            .body(Body::from(json!({ "query": VIEWER }).to_string()))
            .expect("request");
        let basic = app.send(basic).await;
        assert_eq!(
            basic.status,
            StatusCode::UNAUTHORIZED,
            "[{db}] Basic credentials are no bearer token: {}",
            basic.body
        );
        assert!(
            challenge(&basic).starts_with("Bearer "),
            "[{db}] the challenge asks for a bearer token"
        );
        assert!(basic.json().get("data").is_none(), "[{db}] {}", basic.body);
    })
    .await;
}
