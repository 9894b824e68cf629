//! Helpers for the token tests: getting and forging tokens, checking refusals, and a fake
//! external identity provider (a Keycloak realm's JWKS endpoint).

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use api::{
    auth::{AuthSettings, ClaimNames, ExternalSettings},
    graphql::Limits,
    http::HttpOptions,
};
use axum::{
    Json, Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use chrono::Utc;
use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey};
use entities::signing_key;
use jsonwebtoken::{Algorithm, EncodingKey, Header, dangerous::insecure_decode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Map, Value, json};

use crate::{Backend, HttpReply, ISSUER, TestApp, TestDb};

/// RFC 4648 §5 base64url without padding, as JOSE uses it.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RFC 7617 `Authorization: Basic` value.
pub fn basic_auth(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A SQLite app with the embedded authorization server only.
pub async fn app() -> TestApp {
    TestApp::over(TestDb::new(Backend::Sqlite).await).await
}

/// Who a token stands for.
pub const VIEWER: &str = "{ viewer { sub role scopes } }";

/// The external provider of these tests (a Keycloak realm).
pub const IDP: &str = "https://idp.example/realms/jjm";

/// The strings of a JSON list, as a set.
pub fn strings(list: &Value) -> BTreeSet<String> {
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

pub fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// An HTTP client that, as the oauth2 crate advises, follows no redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

/// A form POSTed to a served app, with `client_secret_basic` credentials when given.
pub async fn post_form(
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
pub async fn fetch_token(base: &str, id: &str, secret: &str, scope: Option<&str>) -> String {
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
pub async fn with_token(app: &TestApp, token: &str, query: &str) -> HttpReply {
    app.send(app.graphql_request(Some(token), query, json!({})))
        .await
}

/// The viewer a token stands for; the token must be accepted.
pub async fn viewer(app: &TestApp, token: &str, what: &str) -> Value {
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

pub fn challenge(reply: &HttpReply) -> String {
    reply
        .headers
        .get(header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// RFC 6750 §3.1: 401, a Bearer challenge with `error="invalid_token"`, and no data at all.
pub fn assert_invalid_token(reply: &HttpReply, what: &str) {
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

pub async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let reply = with_token(app, token, VIEWER).await;
    assert_invalid_token(&reply, what);
}

/// Whether `app` refuses `token` within `limit` (asking every 20 ms); returns how long it took.
/// Revocations and disabled clients reach every instance's in-memory sets within a second.
pub async fn refused_within(
    app: &TestApp,
    token: &str,
    limit: std::time::Duration,
) -> Option<std::time::Duration> {
    let start = std::time::Instant::now();
    loop {
        let reply = with_token(app, token, VIEWER).await;
        if reply.status == StatusCode::UNAUTHORIZED {
            assert_invalid_token(&reply, "a refused token");
            return Some(start.elapsed());
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A fresh Ed25519 key as jsonwebtoken signs with it, and its public half.
pub fn ed25519_key() -> (EncodingKey, [u8; 32]) {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let der = key.to_pkcs8_der().expect("encode the key as PKCS#8");
    (
        EncodingKey::from_ed_der(der.as_bytes()),
        key.verifying_key().to_bytes(),
    )
}

/// Signs `claims` as an access token (RFC 9068 header) with `kid`.
pub fn sign(claims: &Value, kid: &str, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("sign the token")
}

/// A change to a token's claims: set `name` to `value`.
pub fn with_claim(name: &'static str, value: Value) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.insert(name.to_owned(), value);
    }
}

/// A change to a token's claims: remove `name`.
pub fn without_claim(name: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |claims| {
        claims.remove(name);
    }
}

pub fn claims_of(token: &str) -> Map<String, Value> {
    insecure_decode::<Map<String, Value>>(token)
        .expect("the token decodes")
        .claims
}

pub fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("the token has a JWT header")
        .kid
        .expect("the token names its key")
}

/// A token like `template` with its claims changed by `change`, signed by the server's current
/// signing key: valid in every respect but the change.
pub async fn forge(
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

/// Sets a signing key's end of grace to the past, as if the grace period had run out.
pub async fn expire_key(app: &TestApp, kid: &str) {
    let past = Utc::now() - chrono::Duration::minutes(1);
    let done = signing_key::Entity::update_many()
        .col_expr(signing_key::Column::ExpiresAt, Expr::value(past))
        .filter(signing_key::Column::Kid.eq(kid))
        .exec(&app.t.db)
        .await
        .expect("expire the old key");
    assert_eq!(done.rows_affected, 1, "the key {kid} is stored");
}

pub async fn published_kids(app: &TestApp) -> BTreeSet<String> {
    let jwks = app.get("/.well-known/jwks.json").await.json();
    jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect()
}

/// A signing key of the fake identity provider, and its JWK.
pub struct IdpKey {
    pub kid: String,
    pub key: EncodingKey,
    pub jwk: Value,
}

pub fn idp_key(kid: &str) -> IdpKey {
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

/// The provider's JWKS endpoint: serves whatever keys are in `keys`, counting fetches; while
/// `down`, it answers 503 as a provider in an outage does (those answers count as fetches too).
pub struct Jwks {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl Jwks {
    pub async fn serve(keys: Vec<Value>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let (k, f, d) = (keys.clone(), fetches.clone(), down.clone());
        let router = Router::new().route(
            "/realms/jjm/protocol/openid-connect/certs",
            get(move || {
                let (k, f, d) = (k.clone(), f.clone(), d.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if d.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({}))).into_response();
                    }
                    let keys = k.lock().expect("JWKS lock").clone();
                    Json(json!({ "keys": keys })).into_response()
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
            down,
        }
    }

    pub fn publish(&self, jwk: Value) {
        self.keys.lock().expect("JWKS lock").push(jwk);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Starts or ends an outage.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

/// Embedded tokens plus the provider's JWTs, with Keycloak's `realm_access.roles` as the role.
pub async fn app_trusting(jwks: &Jwks) -> TestApp {
    app_trusting_over(jwks, TestDb::new(Backend::Sqlite).await).await
}

/// [`app_trusting`] over the database `t`.
pub async fn app_trusting_over(jwks: &Jwks, t: TestDb) -> TestApp {
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
    TestApp::with(t, Limits::default(), HttpOptions::default(), settings).await
}

/// What Keycloak puts in an access token for a dashboard user.
pub fn idp_claims() -> Map<String, Value> {
    let now = Utc::now().timestamp();
    let claims = json!({
        "iss": IDP, "aud": "sangam", "sub": "8d0c5e1a-officer", "azp": "jjm-dashboard",
        "iat": now, "exp": now + 300, "typ": "Bearer",
        "scope": "villages:read progress:read openid",
        "realm_access": { "roles": ["offline_access", "dashboard"] },
    });
    claims.as_object().cloned().expect("a JSON object")
}

pub fn idp_token(key: &IdpKey, change: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = idp_claims();
    change(&mut claims);
    sign(&Value::Object(claims), &key.kid, &key.key)
}

/// An HEALTH department organisation of Chhattisgarh, by code.
pub async fn health_department(app: &TestApp) -> String {
    department_organisation(app, "HEALTH").await
}

/// The organisation of department `department` (e.g. `PHED`) in Chhattisgarh, by code.
pub async fn department_organisation(app: &TestApp, department: &str) -> String {
    let query = format!(
        "{{ organisations(filter: {{ kind: DEPARTMENT, department: {department} }}, first: 100) {{
            edges {{ node {{ code state {{ lgdCode }} }} }} }} }}"
    );
    let data = app.data(&query, json!({})).await;
    data["organisations"]["edges"]
        .as_array()
        .expect("organisations")
        .iter()
        .map(|e| &e["node"])
        .find(|o| o["state"]["lgdCode"] == 22)
        .and_then(|o| o["code"].as_str())
        .unwrap_or_else(|| {
            panic!("the demo data has no {department} department in Chhattisgarh: {data:#}")
        })
        .to_owned()
}

pub async fn anonymous(app: &TestApp, query: &str) -> HttpReply {
    app.send(app.graphql_request(None, query, json!({}))).await
}

pub async fn public_schema_app() -> TestApp {
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
