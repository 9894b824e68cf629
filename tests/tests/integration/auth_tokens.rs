//! Where bearer tokens come from and how they are checked.
//!
//! Source 1 is Sangam's embedded authorization server: the client-credentials grant (RFC 6749
//! §4.4, driven here by the `oauth2` crate), its errors (§5.2), revocation (RFC 7009),
//! introspection (RFC 7662), metadata (RFC 8414), the JWK Set, and signing-key rotation.
//! Source 2 is an external provider's JWTs checked against its JWKS; source 3 is opaque tokens
//! introspected at the provider. Whatever the source, a missing or bad token is a 401 with an
//! RFC 6750 challenge and never any data.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use api::{
    auth::{AuthSettings, ClaimNames, ExternalSettings, IntrospectionSettings, clients, keys},
    graphql::Limits,
    http::HttpOptions,
    principal::{Role, Scope},
};
use axum::{
    Json, Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
    routing::{get, post},
};
use chrono::Utc;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use entities::signing_key;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, dangerous::insecure_decode,
    jwk::JwkSet,
};
use oauth2::{AuthType, ClientId, ClientSecret, TokenResponse, TokenUrl, basic::BasicClient};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Map, Value, json};
use tests::{Backend, ClientSpec, HttpReply, ISSUER, TestApp, TestDb, each_backend};

const VIEWER: &str = "{ viewer { sub role scopes } }";

/// The external provider of these tests (a Keycloak realm).
const IDP: &str = "https://idp.example/realms/jjm";

async fn app() -> TestApp {
    TestApp::over(TestDb::new(Backend::Sqlite).await).await
}

/// RFC 4648 base64: the URL-safe alphabet without padding when `url_safe`, else the standard
/// alphabet with padding.
fn base64(bytes: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if !url_safe {
            out.extend(std::iter::repeat_n('=', 3 - chunk.len()));
        }
    }
    out
}

fn b64url(bytes: &[u8]) -> String {
    base64(bytes, true)
}

fn strings(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a list of strings, got {list}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_owned()
        })
        .collect()
}

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// An HTTP client that, as the oauth2 crate advises, follows no redirects.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

/// A form POSTed to a served app, with `client_secret_basic` credentials when given.
async fn post_form(
    base: &str,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = http().post(format!("{base}{path}")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.expect("POST reaches the test server")
}

/// A token from the token endpoint, which must grant it.
async fn fetch_token(base: &str, id: &str, secret: &str, scope: Option<&str>) -> String {
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let res = post_form(base, "/oauth/token", Some((id, secret)), &form).await;
    let status = res.status();
    let body: Value = res.json().await.expect("the token endpoint answers JSON");
    assert_eq!(
        status,
        StatusCode::OK,
        "the token endpoint refused {id}: {body:#}"
    );
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token in {body:#}"))
        .to_owned()
}

/// Runs `query` with `token` through the real router.
async fn with_token(app: &TestApp, token: &str, query: &str) -> HttpReply {
    app.send(app.graphql_request(Some(token), query, json!({})))
        .await
}

/// The viewer a token stands for; the token must be accepted.
async fn viewer(app: &TestApp, token: &str, what: &str) -> Value {
    let reply = with_token(app, token, VIEWER).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{what}: the token should be accepted: {}",
        reply.body
    );
    let body = reply.json();
    assert!(
        body.get("errors").is_none(),
        "{what}: unexpected errors: {body:#}"
    );
    body["data"]["viewer"].clone()
}

fn challenge(reply: &HttpReply) -> String {
    reply
        .headers
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// RFC 6750 §3.1: 401, a Bearer challenge with `error="invalid_token"`, and no data at all.
fn assert_invalid_token(reply: &HttpReply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::UNAUTHORIZED,
        "{what}: the token must be refused with 401, got: {}",
        reply.body
    );
    let challenge = challenge(reply);
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
        "{what}: expected a Bearer challenge with error=\"invalid_token\", got {challenge:?}"
    );
    let body = reply.json();
    assert!(
        body.get("data").is_none(),
        "{what}: a refused request must carry no data: {body:#}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{what}: the body should be an UNAUTHENTICATED GraphQL error: {body:#}"
    );
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let reply = with_token(app, token, VIEWER).await;
    assert_invalid_token(&reply, what);
}

/// A fresh Ed25519 key as jsonwebtoken signs with it, and its public half.
fn ed25519_key() -> (EncodingKey, [u8; 32]) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = key.to_pkcs8_der().expect("encode the key as PKCS#8");
    (
        EncodingKey::from_ed_der(der.as_bytes()),
        key.verifying_key().to_bytes(),
    )
}

/// Signs `claims` as an access token (RFC 9068 header) with `kid`.
fn sign(claims: &Value, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign the token")
}

/// A change to a token's claims: set `name` to `value`.
fn with_claim(name: &'static str, value: Value) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.insert(name.to_owned(), value);
    }
}

/// A change to a token's claims: remove `name`.
fn without_claim(name: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.remove(name);
    }
}

fn claims_of(token: &str) -> Map<String, Value> {
    insecure_decode::<Map<String, Value>>(token)
        .expect("the token decodes")
        .claims
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("the token has a JWT header")
        .kid
        .expect("the token names its key")
}

/// A token like `template` with its claims changed by `change`, signed by the server's current
/// signing key: valid in every respect but the change.
async fn forge(
    app: &TestApp,
    template: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let mut claims = claims_of(template);
    change(&mut claims);
    let (kid, key) = app
        .auth
        .keys
        .signer()
        .await
        .expect("the server has a signing key");
    sign(&Value::Object(claims), &kid, &key)
}

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

        // Revoked, and then the client disabled: tokens stop working at once.
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
        assert_refused(&app, &real, &format!("[{db}] a token of a disabled client")).await;
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
            .header(
                header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64(format!("{id}:{secret}").as_bytes(), false)
                ),
            )
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

/// Sets a signing key's end of grace to the past, as if the grace period had run out.
async fn expire_key(app: &TestApp, kid: &str) {
    let past = Utc::now() - chrono::Duration::minutes(1);
    let done = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::ExpiresAt, Expr::value(past))
        .filter(signing_key::Column::Kid.eq(kid))
        .exec(&app.t.db)
        .await
        .expect("expire the old key");
    assert_eq!(done.rows_affected, 1, "the key {kid} is stored");
}

async fn published_kids(app: &TestApp) -> BTreeSet<String> {
    let jwks = app.get("/.well-known/jwks.json").await.json();
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

#[tokio::test]
async fn signing_keys_rotate_without_downtime() {
    each_backend(|backend| async move {
        let app = TestApp::over(TestDb::new(backend).await).await;
        let db = app.t.backend.name();
        let spec = || ClientSpec::new(Role::Dashboard);
        let a = app.token(spec()).await;
        keys::rotate(&app.t.db, Duration::from_secs(600))
            .await
            .expect("rotate the signing key");
        let b = app.token(spec()).await;
        let (kid_a, kid_b) = (kid_of(&a), kid_of(&b));
        assert_ne!(
            kid_a, kid_b,
            "[{db}] tokens after the rotation are signed by the new key"
        );

        viewer(&app, &b, &format!("[{db}] token B, signed by the new key")).await;
        viewer(
            &app,
            &a,
            &format!("[{db}] token A, signed by the retired key within its grace"),
        )
        .await;
        let kids = published_kids(&app).await;
        assert!(
            kids.contains(&kid_a) && kids.contains(&kid_b),
            "[{db}] the JWK Set lists both keys: {kids:?}"
        );

        expire_key(&app, &kid_a).await;
        app.auth.keys.forget().await;
        assert_refused(
            &app,
            &a,
            &format!("[{db}] token A once its key's grace is over"),
        )
        .await;
        viewer(
            &app,
            &b,
            &format!("[{db}] token B after the old key expired"),
        )
        .await;
        let kids = published_kids(&app).await;
        assert!(
            !kids.contains(&kid_a),
            "[{db}] an expired key leaves the JWK Set: {kids:?}"
        );
        assert!(kids.contains(&kid_b), "[{db}] {kids:?}");
    })
    .await;
}

#[tokio::test]
async fn a_token_of_a_freshly_rotated_key_is_accepted_at_once() {
    let app = app().await;
    let a = app.token(ClientSpec::new(Role::Dashboard)).await;
    // Verifying A loads the verifier's key cache, as any busy server has it loaded.
    viewer(&app, &a, "token A before the rotation").await;
    keys::rotate(&app.t.db, Duration::from_secs(600))
        .await
        .expect("rotate the signing key");
    let b = app.token(ClientSpec::new(Role::Dashboard)).await;
    assert_ne!(kid_of(&a), kid_of(&b), "B is signed by the new key");
    viewer(
        &app,
        &b,
        "token B, issued and used right after the rotation (no downtime)",
    )
    .await;
    viewer(&app, &a, "token A within its grace period").await;
}

/// A signing key of the fake identity provider, and its JWK.
struct IdpKey {
    kid: String,
    key: EncodingKey,
    jwk: Value,
}

fn idp_key(kid: &str) -> IdpKey {
    let (key, public) = ed25519_key();
    let jwk = json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(&public),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    });
    IdpKey {
        kid: kid.to_owned(),
        key,
        jwk,
    }
}

/// The provider's JWKS endpoint: serves whatever keys are in `keys`, counting fetches.
struct Jwks {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
}

impl Jwks {
    async fn serve(keys: Vec<Value>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (k, f) = (keys.clone(), fetches.clone());
        let router = Router::new().route(
            "/realms/jjm/protocol/openid-connect/certs",
            get(move || {
                let (k, f) = (k.clone(), f.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    let keys = k.lock().expect("JWKS lock").clone();
                    Json(json!({ "keys": keys }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the JWKS server");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{addr}/realms/jjm/protocol/openid-connect/certs"),
            keys,
            fetches,
        }
    }

    fn publish(&self, jwk: Value) {
        self.keys.lock().expect("JWKS lock").push(jwk);
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// Embedded tokens plus the provider's JWTs, with Keycloak's `realm_access.roles` as the role.
async fn app_trusting(jwks: &Jwks) -> TestApp {
    let mut settings = AuthSettings::embedded(ISSUER);
    settings.external = Some(ExternalSettings {
        issuer: IDP.into(),
        jwks_url: jwks.url.clone(),
        audience: "sangam".into(),
        claims: ClaimNames {
            role: "realm_access.roles".into(),
            ..ClaimNames::default()
        },
    });
    TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions::default(),
        settings,
    )
    .await
}

/// What Keycloak puts in an access token for a dashboard user.
fn idp_claims() -> Map<String, Value> {
    let now = Utc::now().timestamp();
    let claims = json!({
        "iss": IDP, "aud": "sangam", "sub": "8d0c5e1a-officer", "azp": "jjm-dashboard",
        "iat": now, "exp": now + 300, "typ": "Bearer",
        "scope": "villages:read progress:read openid",
        "realm_access": { "roles": ["offline_access", "dashboard"] },
    });
    claims.as_object().cloned().expect("a JSON object")
}

fn idp_token(key: &IdpKey, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = idp_claims();
    change(&mut claims);
    sign(&Value::Object(claims), &key.kid, &key.key)
}

#[tokio::test]
async fn an_external_providers_tokens_are_checked_against_its_jwks() {
    let first = idp_key("idp-2025-a");
    let jwks = Jwks::serve(vec![first.jwk.clone()]).await;
    let app = app_trusting(&jwks).await;

    let good = idp_token(&first, |_| {});
    let v = viewer(&app, &good, "a provider token").await;
    assert_eq!(
        v["role"], "dashboard",
        "the role comes from realm_access.roles: {v:#}"
    );
    assert_eq!(v["sub"], "8d0c5e1a-officer", "{v:#}");
    assert_eq!(
        strings(&v["scopes"]),
        set(["villages:read", "progress:read"]),
        "scopes of other applications (openid) are dropped: {v:#}"
    );
    assert_eq!(jwks.fetches(), 1, "the JWKS is fetched on first use");
    viewer(&app, &good, "the same token again").await;
    assert_eq!(jwks.fetches(), 1, "the JWKS is cached");
    viewer(
        &app,
        &app.admin_token,
        "an embedded token beside the provider's",
    )
    .await;

    let now = Utc::now().timestamp();
    let stranger = idp_key(&first.kid);
    let bad = [
        (
            "expired",
            idp_token(&first, with_claim("exp", json!(now - 300))),
        ),
        (
            "for another audience",
            idp_token(&first, with_claim("aud", json!("account"))),
        ),
        (
            "from another issuer",
            idp_token(
                &first,
                with_claim("iss", json!("https://idp.example/realms/other")),
            ),
        ),
        (
            "signed by a key the provider never published",
            idp_token(&stranger, |_| {}),
        ),
        (
            "without a Sangam role",
            idp_token(
                &first,
                with_claim("realm_access", json!({ "roles": ["offline_access"] })),
            ),
        ),
    ];
    for (what, token) in &bad {
        assert_refused(&app, token, &format!("a provider token {what}")).await;
    }
    let unknown = idp_key("idp-unknown");
    assert_refused(
        &app,
        &idp_token(&unknown, |_| {}),
        "a provider token with an unknown kid",
    )
    .await;
    assert_eq!(
        jwks.fetches(),
        1,
        "an unknown kid right after a fetch does not hammer the provider"
    );
}

#[tokio::test]
async fn a_provider_key_rotation_is_picked_up_by_refetching_the_jwks() {
    // The provider publishes its next key before it signs with it: no refetch is needed.
    let (current, next) = (idp_key("idp-2025-a"), idp_key("idp-2025-b"));
    let jwks = Jwks::serve(vec![current.jwk.clone(), next.jwk.clone()]).await;
    let app = app_trusting(&jwks).await;
    viewer(
        &app,
        &idp_token(&current, |_| {}),
        "a token of the current key",
    )
    .await;
    viewer(
        &app,
        &idp_token(&next, |_| {}),
        "a token of the pre-published next key",
    )
    .await;
    assert_eq!(jwks.fetches(), 1, "both keys came in one fetch");

    // The provider rotates to a key it had not published: an unknown kid refetches the JWKS,
    // at most once per cool-down (10 s), so wait for the cool-down with a bounded poll.
    let rotated = idp_key("idp-2025-c");
    jwks.publish(rotated.jwk.clone());
    let token = idp_token(&rotated, |_| {});
    let started = Instant::now();
    let accepted = loop {
        let reply = with_token(&app, &token, VIEWER).await;
        if reply.status == StatusCode::OK {
            break true;
        }
        assert_invalid_token(&reply, "a token of the new key, before the refetch");
        if started.elapsed() > Duration::from_secs(15) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        accepted,
        "a token of the rotated key is accepted once the JWKS is refetched"
    );
    assert_eq!(
        jwks.fetches(),
        2,
        "one refetch, however many requests came during the cool-down"
    );
    viewer(
        &app,
        &idp_token(&current, |_| {}),
        "the previous key still verifies",
    )
    .await;
}

/// An HEALTH department organisation of Chhattisgarh, by code.
async fn health_department(app: &TestApp) -> String {
    let data = app
        .data(
            "{ organisations(filter: { kind: DEPARTMENT, department: HEALTH }, first: 100) {
                edges { node { code state { lgdCode } } } } }",
            json!({}),
        )
        .await;
    data["organisations"]["edges"]
        .as_array()
        .expect("organisations")
        .iter()
        .map(|e| &e["node"])
        .find(|o| o["state"]["lgdCode"] == 22)
        .and_then(|o| o["code"].as_str())
        .unwrap_or_else(|| {
            panic!("the demo data has no HEALTH department in Chhattisgarh: {data:#}")
        })
        .to_owned()
}

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
    let expected_auth = format!("Basic {}", base64(b"sangam-gateway:gateway-secret", false));
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
                        "active": true, "sub": "officer-7", "client_id": "keycloak-gw",
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

async fn anonymous(app: &TestApp, query: &str) -> HttpReply {
    app.send(app.graphql_request(None, query, json!({}))).await
}

async fn public_schema_app() -> TestApp {
    TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions {
            public_schema: true,
            ..HttpOptions::default()
        },
        AuthSettings::embedded(ISSUER),
    )
    .await
}

#[tokio::test]
async fn the_schema_is_readable_without_a_token_only_with_public_schema() {
    let html = || {
        Request::get("/graphql")
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .expect("request")
    };

    let public = public_schema_app().await;
    let intro = anonymous(&public, "{ __schema { queryType { name } } }").await;
    assert_eq!(
        intro.status,
        StatusCode::OK,
        "anonymous introspection is allowed: {}",
        intro.body
    );
    assert_eq!(
        intro.json()["data"]["__schema"]["queryType"]["name"],
        "Query",
        "{}",
        intro.body
    );
    let sdl = public.get("/schema.graphql").await;
    assert_eq!(sdl.status, StatusCode::OK, "the SDL is public");
    assert!(
        sdl.body.contains("type Query"),
        "{}",
        &sdl.body[..sdl.body.len().min(200)]
    );
    assert_eq!(
        public.send(html()).await.status,
        StatusCode::OK,
        "GraphiQL is public"
    );

    let private = app().await;
    let sdl = private.get("/schema.graphql").await;
    assert_eq!(
        sdl.status,
        StatusCode::UNAUTHORIZED,
        "the SDL needs a token by default: {}",
        sdl.body
    );
    assert_eq!(challenge(&sdl), "Bearer realm=\"sangam\"");
    let page = private.send(html()).await;
    assert_eq!(
        page.status,
        StatusCode::UNAUTHORIZED,
        "GraphiQL needs a token by default"
    );
    let intro = anonymous(&private, "{ __schema { queryType { name } } }").await;
    assert_eq!(
        intro.status,
        StatusCode::UNAUTHORIZED,
        "introspection needs a token by default: {}",
        intro.body
    );
    assert_eq!(
        private.get_authed("/schema.graphql").await.status,
        StatusCode::OK,
        "a token holder reads the SDL"
    );
}

#[tokio::test]
async fn with_a_public_schema_an_anonymous_data_query_is_told_it_needs_a_token() {
    let public = public_schema_app().await;
    let reply = anonymous(&public, "{ villages { totalCount } }").await;
    let body = reply.json();
    assert!(
        body["data"]["villages"].is_null() && body["data"]["villages"]["totalCount"].is_null(),
        "an anonymous caller reads no data even with a public schema: {body:#}"
    );
    // ACCESS.md: a missing token is answered 401 with a Bearer challenge. At the least the caller
    // must be told why it got nothing (`villages` is non-null, so a bare null breaks the schema).
    let told = reply.status == StatusCode::UNAUTHORIZED
        || body["errors"].as_array().is_some_and(|errors| {
            errors
                .iter()
                .any(|e| e["extensions"]["code"] == "UNAUTHENTICATED")
        });
    assert!(
        told,
        "an anonymous data query must get a 401 or an UNAUTHENTICATED error, got {}: {body:#}",
        reply.status
    );
}
