//! Source 1, Sangam's embedded authorization server: the client-credentials grant (RFC 6749
//! §4.4, driven here by the `oauth2` crate), its errors (§5.2), revocation (RFC 7009),
//! introspection (RFC 7662), metadata (RFC 8414), the JWK Set, and the rate limit on failed
//! client authentication.

use std::{collections::BTreeSet, time::Duration};

use api::{
    auth::clients,
    principal::{Role, Scope},
};
use axum::http::{StatusCode, header};
use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use oauth2::{AuthType, ClientId, ClientSecret, TokenResponse, TokenUrl, basic::BasicClient};
use serde_json::{Map, Value, json};
use tests::{ClientSpec, ISSUER, TestApp, TestDb, each_backend, tokens::*};

#[tokio::test]
async fn the_oauth2_crate_gets_tokens_by_basic_and_by_post_and_they_work_on_graphql() {
    let app = app().await;
    let base = app.serve().await;
    let (id, secret) = app
        .client(ClientSpec::new(Role::StateAdmin).states(&[22, 23]))
        .await;
    let http = http();
    let graphql = |token: String, query: &'static str| {
        let http = http.clone();
        let url = format!("{base}/graphql");
        async move {
            let res = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("POST /graphql");
            assert_eq!(res.status(), StatusCode::OK, "a granted token is accepted");
            res.json::<Value>().await.expect("GraphQL answers JSON")
        }
    };
    let client = |auth: AuthType| {
        BasicClient::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone()))
            .set_token_uri(TokenUrl::new(format!("{base}/oauth/token")).expect("token URL"))
            .set_auth_type(auth)
    };
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let how = format!("{auth:?}");
        let granted = client(auth)
            .exchange_client_credentials()
            .add_scope(oauth2::Scope::new("villages:read".into()))
            .add_scope(oauth2::Scope::new("progress:read".into()))
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{how}: the token request failed: {e:?}"));
        let scopes: BTreeSet<String> = granted
            .scopes()
            .unwrap_or_else(|| panic!("{how}: the response should name the granted scope"))
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        assert_eq!(
            scopes,
            set(["villages:read", "progress:read"]),
            "{how}: the narrowed scope is granted"
        );
        assert_eq!(
            granted.expires_in(),
            Some(Duration::from_secs(900)),
            "{how}: tokens live 15 minutes"
        );

        let body = graphql(granted.access_token().secret().clone(), VIEWER).await;
        assert!(body.get("errors").is_none(), "{how}: {body:#}");
        let viewer = &body["data"]["viewer"];
        assert_eq!(
            viewer["role"], "state_admin",
            "{how}: the token carries the client's role: {body:#}"
        );
        assert_eq!(
            viewer["sub"].as_str(),
            Some(id.as_str()),
            "{how}: the subject is the client"
        );
        assert_eq!(
            strings(&viewer["scopes"]),
            set(["villages:read", "progress:read"]),
            "{how}: the viewer holds exactly the requested scopes"
        );
    }

    let narrow = client(AuthType::BasicAuth)
        .exchange_client_credentials()
        .add_scope(oauth2::Scope::new("villages:read".into()))
        .request_async(&http)
        .await
        .expect("a token for villages:read alone");
    let token = narrow.access_token().secret().clone();
    let villages = graphql(token.clone(), "{ villages { totalCount } }").await;
    assert_eq!(
        villages["data"]["villages"]["totalCount"], 0,
        "villages:read reads villages: {villages:#}"
    );
    let body = graphql(token, "{ villages { totalCount } tasks { totalCount } }").await;
    // `tasks` is non-null, so its error nulls `data` (GraphQL spec: Errors and Non-Null Fields).
    assert!(body["data"].is_null(), "{body:#}");
    let errors = body["errors"]
        .as_array()
        .expect("reading tasks without tasks:read is an error");
    assert_eq!(errors.len(), 1, "only the tasks field fails: {body:#}");
    assert_eq!(errors[0]["path"], json!(["tasks"]), "{body:#}");
    assert_eq!(errors[0]["extensions"]["code"], "FORBIDDEN", "{body:#}");
    assert_eq!(
        errors[0]["extensions"]["needs"], "tasks:read",
        "the error names the missing scope: {body:#}"
    );
}

#[tokio::test]
async fn the_token_endpoint_answers_errors_as_rfc_6749_says() {
    let app = app().await;
    let base = app.serve().await;
    let (id, secret) = app
        .client(
            ClientSpec::new(Role::DistrictCoordinator)
                .districts(&[387])
                .scopes(&[Scope::VillagesRead, Scope::TasksRead]),
        )
        .await;
    let grant = [("grant_type", "client_credentials")];

    struct Case<'a> {
        what: &'a str,
        basic: Option<(&'a str, &'a str)>,
        form: Vec<(&'a str, &'a str)>,
        status: StatusCode,
        error: &'a str,
    }
    let cases = [
        Case {
            what: "a wrong secret by Basic",
            basic: Some((id.as_str(), "not-the-secret")),
            form: grant.to_vec(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            what: "a wrong secret in the body",
            basic: None,
            form: vec![
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", "nope"),
            ],
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            what: "an unknown client",
            basic: Some(("sangam-nobody", secret.as_str())),
            form: grant.to_vec(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            what: "no client authentication",
            basic: None,
            form: grant.to_vec(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            what: "a missing grant_type",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![("scope", "villages:read")],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            what: "the password grant",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
        },
        Case {
            what: "a scope the client was not registered for",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![
                ("grant_type", "client_credentials"),
                ("scope", "villages:read tasks:write"),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
        },
        Case {
            what: "a scope that does not exist",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![
                ("grant_type", "client_credentials"),
                ("scope", "villages:write"),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
        },
        Case {
            what: "Basic credentials and a client_secret in the body",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", secret.as_str()),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            what: "a repeated parameter",
            basic: Some((id.as_str(), secret.as_str())),
            form: vec![
                ("grant_type", "client_credentials"),
                ("scope", "villages:read"),
                ("scope", "tasks:read"),
            ],
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
    ];
    for case in cases {
        let res = post_form(&base, "/oauth/token", case.basic, &case.form).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body: Value = res
            .json()
            .await
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", case.what));
        assert_eq!(status, case.status, "{}: wrong status: {body:#}", case.what);
        assert_eq!(
            body["error"], case.error,
            "{}: wrong error code: {body:#}",
            case.what
        );
        assert!(
            body["error_description"].is_string(),
            "{}: errors are described: {body:#}",
            case.what
        );
        assert!(
            body.get("access_token").is_none(),
            "{}: no token on an error: {body:#}",
            case.what
        );
        assert_eq!(
            headers
                .get(header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{}: token endpoint answers are never cached",
            case.what
        );
        let challenge = headers
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok());
        if case.error == "invalid_client" && case.basic.is_some() {
            assert!(
                challenge.is_some_and(|c| c.starts_with("Basic ")),
                "{}: a failed Basic authentication is challenged with Basic (RFC 6749 §5.2),
                    got {challenge:?}",
                case.what
            );
        }
    }

    let json_body = http()
        .post(format!("{base}/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .expect("POST /oauth/token");
    assert_eq!(
        json_body.status(),
        StatusCode::BAD_REQUEST,
        "a JSON body is refused"
    );
    let body: Value = json_body.json().await.expect("JSON error");
    assert_eq!(
        body["error"], "invalid_request",
        "the body must be a form: {body:#}"
    );

    let ok = post_form(&base, "/oauth/token", Some((&id, &secret)), &grant).await;
    assert_eq!(ok.status(), StatusCode::OK, "the right secret gets a token");
    let headers = ok.headers().clone();
    let body: Value = ok.json().await.expect("JSON token response");
    assert_eq!(
        headers
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a token response must not be cached (RFC 6749 §5.1)"
    );
    assert_eq!(body["token_type"], "Bearer", "{body:#}");
    assert_eq!(body["expires_in"], 900, "{body:#}");
    assert_eq!(
        body["scope"], "villages:read tasks:read",
        "without `scope` the client's whole scope is granted: {body:#}"
    );
    assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3),
        "{body:#}"
    );
}

#[tokio::test]
async fn metadata_and_the_jwk_set_describe_the_tokens_issued() {
    let app = app().await;
    let meta = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        meta.status,
        StatusCode::OK,
        "metadata is public: {}",
        meta.body
    );
    let meta = meta.json();
    assert_eq!(meta["issuer"], ISSUER, "{meta:#}");
    assert_eq!(
        meta["token_endpoint"],
        format!("{ISSUER}/oauth/token"),
        "{meta:#}"
    );
    assert_eq!(
        meta["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json"),
        "{meta:#}"
    );
    assert_eq!(
        meta["revocation_endpoint"],
        format!("{ISSUER}/oauth/revoke"),
        "{meta:#}"
    );
    assert_eq!(
        meta["introspection_endpoint"],
        format!("{ISSUER}/oauth/introspect"),
        "{meta:#}"
    );
    assert_eq!(
        meta["grant_types_supported"],
        json!(["client_credentials"]),
        "{meta:#}"
    );
    assert_eq!(
        strings(&meta["token_endpoint_auth_methods_supported"]),
        set(["client_secret_basic", "client_secret_post"]),
        "{meta:#}"
    );
    let all: BTreeSet<String> = Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(
        strings(&meta["scopes_supported"]),
        all,
        "every scope is advertised: {meta:#}"
    );

    let (id, _) = app
        .client(ClientSpec::new(Role::StateAdmin).states(&[22, 23]))
        .await;
    let client = clients::find(&app.t.db, &id)
        .await
        .expect("db")
        .expect("client");
    let scopes: BTreeSet<Scope> = [Scope::VillagesRead, Scope::ProgressRead]
        .into_iter()
        .collect();
    let (token, ttl) = app
        .auth
        .issue(&client, &scopes)
        .await
        .expect("issue a token");
    assert_eq!(ttl, 900);

    let head = jsonwebtoken::decode_header(&token).expect("a JWT header");
    assert_eq!(
        head.typ.as_deref(),
        Some("at+jwt"),
        "RFC 9068 access tokens are typed at+jwt"
    );
    assert_eq!(head.alg, Algorithm::EdDSA);
    let kid = head.kid.expect("the header names the signing key");

    let claims = claims_of(&token);
    for name in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "scope",
        "exp",
        "iat",
        "jti",
        "role",
    ] {
        assert!(
            claims.contains_key(name),
            "claim {name} is missing: {claims:#?}"
        );
    }
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "sangam");
    assert_eq!(claims["sub"].as_str(), Some(id.as_str()));
    assert_eq!(claims["client_id"].as_str(), Some(id.as_str()));
    assert_eq!(claims["scope"], "villages:read progress:read");
    assert_eq!(claims["role"], "state_admin");
    assert_eq!(claims["states"], json!([22, 23]));
    let (iat, exp) = (
        claims["iat"].as_i64().expect("iat"),
        claims["exp"].as_i64().expect("exp"),
    );
    assert_eq!(exp - iat, 900, "exp is iat plus the token lifetime");
    assert!((iat - Utc::now().timestamp()).abs() < 60, "iat is now");

    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(jwks.status, StatusCode::OK, "the JWK Set is public");
    let jwks = jwks.json();
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("the JWK Set lacks the token's kid {kid}: {jwks:#}"))
        .clone();
    assert_eq!(jwk["kty"], "OKP", "{jwk:#}");
    assert_eq!(jwk["crv"], "Ed25519", "{jwk:#}");
    assert_eq!(jwk["alg"], "EdDSA", "{jwk:#}");
    assert!(
        jwk.get("d").is_none(),
        "the private key is never published: {jwk:#}"
    );

    // A resource server that knows only the JWK Set can verify the token.
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("a valid JWK Set");
    let published = set.find(&kid).expect("the key by kid");
    let key = DecodingKey::from_jwk(published).expect("a usable public key");
    let mut check = Validation::new(Algorithm::EdDSA);
    check.set_issuer(&[ISSUER]);
    check.set_audience(&["sangam"]);
    jsonwebtoken::decode::<Map<String, Value>>(&token, &key, &check)
        .expect("the published key verifies the token");
}

#[tokio::test]
async fn revocation_and_introspection_follow_rfc_7009_and_7662() {
    each_backend(|backend| async move {
        let app = TestApp::over(TestDb::new(backend).await).await;
        let db = app.t.backend.name();
        let base = app.serve().await;
        let (owner, owner_secret) = app
            .client(ClientSpec::new(Role::DistrictCoordinator).districts(&[387]))
            .await;
        let (other, other_secret) = app.client(ClientSpec::new(Role::Dashboard)).await;
        let (admin, admin_secret) = app
            .client(ClientSpec::new(Role::StateAdmin).states(&[22]))
            .await;
        let token = fetch_token(
            &base,
            &owner,
            &owner_secret,
            Some("villages:read tasks:read"),
        )
        .await;

        let introspect = |who: &'static str, id: String, secret: String| {
            let (base, token) = (base.clone(), token.clone());
            async move {
                let res = post_form(
                    &base,
                    "/oauth/introspect",
                    Some((&id, &secret)),
                    &[("token", &token)],
                )
                .await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "[{db}] introspection by {who} answers 200"
                );
                res.json::<Value>()
                    .await
                    .expect("introspection answers JSON")
            }
        };
        let by_owner = introspect("the owner", owner.clone(), owner_secret.clone()).await;
        assert_eq!(
            by_owner["active"], true,
            "[{db}] a fresh token is active: {by_owner:#}"
        );
        assert_eq!(
            by_owner["scope"], "villages:read tasks:read",
            "[{db}] {by_owner:#}"
        );
        assert_eq!(
            by_owner["client_id"].as_str(),
            Some(owner.as_str()),
            "[{db}] {by_owner:#}"
        );
        assert!(by_owner["exp"].is_i64(), "[{db}] {by_owner:#}");
        let by_admin =
            introspect("a state administrator", admin.clone(), admin_secret.clone()).await;
        assert_eq!(
            by_admin["active"], true,
            "[{db}] a state administrator may introspect any token: {by_admin:#}"
        );
        let by_other = introspect("another client", other.clone(), other_secret.clone()).await;
        assert_eq!(
            by_other,
            json!({ "active": false }),
            "[{db}] a stranger learns nothing about the token"
        );

        // Someone else's revocation has no effect (RFC 7009 §2.1: the token was not issued to it).
        let res = post_form(
            &base,
            "/oauth/revoke",
            Some((&other, &other_secret)),
            &[("token", &token)],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "[{db}] revocation answers 200 whatever the token"
        );
        viewer(
            &app,
            &token,
            &format!("[{db}] after a stranger's revocation"),
        )
        .await;
        let still = introspect("the owner", owner.clone(), owner_secret.clone()).await;
        assert_eq!(
            still["active"], true,
            "[{db}] a stranger cannot revoke the token: {still:#}"
        );

        let res = post_form(
            &base,
            "/oauth/revoke",
            Some((&owner, &owner_secret)),
            &[("token", &token)],
        )
        .await;
        assert_eq!(
            res.status(),
            StatusCode::OK,
            "[{db}] the owner revokes its token"
        );
        assert_refused(&app, &token, &format!("[{db}] a revoked token")).await;
        let gone = introspect("the owner", owner.clone(), owner_secret.clone()).await;
        assert_eq!(
            gone,
            json!({ "active": false }),
            "[{db}] a revoked token is inactive"
        );
        let again = post_form(
            &base,
            "/oauth/revoke",
            Some((&owner, &owner_secret)),
            &[("token", &token)],
        )
        .await;
        assert_eq!(
            again.status(),
            StatusCode::OK,
            "[{db}] revoking twice is not an error"
        );
        let junk = post_form(
            &base,
            "/oauth/revoke",
            Some((&owner, &owner_secret)),
            &[("token", "junk")],
        )
        .await;
        assert_eq!(
            junk.status(),
            StatusCode::OK,
            "[{db}] revoking an unknown token is not an error"
        );
        let unauthenticated = post_form(&base, "/oauth/revoke", None, &[("token", &token)]).await;
        assert_eq!(
            unauthenticated.status(),
            StatusCode::UNAUTHORIZED,
            "[{db}] revocation needs client authentication"
        );

        // Revocation is per token: the owner's next token works.
        let fresh = fetch_token(&base, &owner, &owner_secret, None).await;
        viewer(
            &app,
            &fresh,
            &format!("[{db}] a new token after the revocation"),
        )
        .await;
    })
    .await;
}

/// A client-credentials request with these Basic credentials: the status, `Retry-After` and
/// the OAuth error code.
async fn try_token(base: &str, id: &str, secret: &str) -> (StatusCode, Option<u64>, Value) {
    let res = post_form(
        base,
        "/oauth/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let status = res.status();
    let retry_after = res.headers().get(header::RETRY_AFTER).map(|v| {
        v.to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("Retry-After must be delay-seconds: {v:?}"))
    });
    let body: Value = res.json().await.expect("the token endpoint answers JSON");
    (status, retry_after, body)
}

fn assert_throttled((status, retry_after, body): &(StatusCode, Option<u64>, Value), what: &str) {
    assert_eq!(
        *status,
        StatusCode::TOO_MANY_REQUESTS,
        "{what}: expected 429: {body:#}"
    );
    let secs = retry_after.unwrap_or_else(|| panic!("{what}: a 429 carries Retry-After"));
    assert!((1..=60).contains(&secs), "{what}: Retry-After {secs}");
    assert!(
        body["error"].is_string() && body.get("access_token").is_none(),
        "{what}: an OAuth error and no token: {body:#}"
    );
}

#[tokio::test]
async fn failed_client_authentication_is_rate_limited_per_client_id() {
    let app = app().await;
    let base = app.serve().await;
    let (id, secret) = app.client(ClientSpec::new(Role::Dashboard)).await;

    // Successes cost nothing: a client may get many tokens.
    for _ in 0..8 {
        let (status, _, body) = try_token(&base, &id, &secret).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
    }
    for i in 0..5 {
        let (status, retry, body) = try_token(&base, &id, "a-guess").await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "wrong secret {i}, within the budget: {body:#}"
        );
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(retry, None);
    }
    assert_throttled(
        &try_token(&base, &id, "another-guess").await,
        "the sixth wrong secret in a row",
    );
    assert_throttled(
        &try_token(&base, &id, &secret).await,
        "even the right secret while the client id is throttled (a guess gains nothing)",
    );
    // Another client from the same address is not held up by this one's failures.
    let (other, other_secret) = app.client(ClientSpec::new(Role::Dashboard)).await;
    let (status, _, body) = try_token(&base, &other, &other_secret).await;
    assert_eq!(status, StatusCode::OK, "another client: {body:#}");
}

#[tokio::test]
async fn failed_client_authentication_is_rate_limited_per_source_address() {
    let app = app().await;
    let base = app.serve().await;
    let (id, secret) = app.client(ClientSpec::new(Role::Dashboard)).await;
    // One guess each for many client ids: no client id reaches its own limit.
    let mut throttled = None;
    for i in 0..30 {
        let reply = try_token(&base, &format!("sangam-guess-{i}"), "a-guess").await;
        if reply.0 == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some((i, reply));
            break;
        }
        assert_eq!(reply.0, StatusCode::UNAUTHORIZED, "{:#}", reply.2);
    }
    let (after, reply) =
        throttled.expect("30 failures from one address in a row must be throttled");
    // 20 in a burst, plus one for every 3 s the Argon2 checks of the first ones took.
    assert!(
        (20..=23).contains(&after),
        "the address may fail 20 times in a burst, throttled after {after}"
    );
    assert_throttled(&reply, "a guess from a throttled address");
    assert_throttled(
        &try_token(&base, &id, &secret).await,
        "a real client's right secret from the throttled address",
    );
}
