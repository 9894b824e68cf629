//! Source 2: an external provider's JWTs (a Keycloak realm here), checked against its JWKS.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use chrono::Utc;
use serde_json::json;
use tests::{Backend, TestApp, TestDb, tokens::*};

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
    let before = jwks.fetches();
    for attempt in ["", " again"] {
        assert_refused(
            &app,
            &idp_token(&unknown, |_| {}),
            &format!("a provider token with an unknown kid{attempt}"),
        )
        .await;
    }
    assert!(
        jwks.fetches() - before <= 1,
        "an unknown kid right after a fetch does not hammer the provider: {} fetches",
        jwks.fetches() - before
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
    // at most once a second, so poll (bounded) until the refetch.
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

/// Runs `query` with `token` until it is answered 200, for at most `within`; every other answer
/// on the way must be a 503 (the provider is unreachable), never a 401 that would log the user
/// out.
async fn accepted_after_only_503s(app: &TestApp, token: &str, within: Duration, what: &str) {
    let started = Instant::now();
    loop {
        let reply = with_token(app, token, VIEWER).await;
        if reply.status == StatusCode::OK {
            return;
        }
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: while the JWKS cannot be fetched the answer is 503, got: {}",
            reply.body
        );
        assert!(
            started.elapsed() < within,
            "{what}: still refused {within:?} after the provider came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_jwks_outage_is_a_503_and_the_provider_is_asked_again_once_it_is_back() {
    let first = idp_key("idp-2025-a");
    let jwks = Jwks::serve(vec![first.jwk.clone()]).await;
    jwks.set_down(true);
    let app = app_trusting(&jwks).await;
    let token = idp_token(&first, |_| {});

    let reply = with_token(&app, &token, VIEWER).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no key set yet and the provider is down: 503 (retry), not 401: {}",
        reply.body
    );
    let failed = jwks.fetches();
    assert!(failed >= 1, "the provider was asked");
    for _ in 0..5 {
        let reply = with_token(&app, &token, VIEWER).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            reply.body
        );
    }
    assert!(
        jwks.fetches() - failed <= 1,
        "retries back off: {} fetches for 5 requests in a row",
        jwks.fetches() - failed
    );

    // A failed fetch starts no cool-down: once the provider is back the next requests (after
    // a backoff of well under a second) fetch again and pass.
    jwks.set_down(false);
    accepted_after_only_503s(&app, &token, Duration::from_secs(3), "after the outage").await;

    // With keys cached, an outage spares tokens of known keys, and a token of a key the
    // provider published meanwhile is a 503 until the provider answers again, then accepted.
    let next = idp_key("idp-2025-b");
    jwks.publish(next.jwk.clone());
    jwks.set_down(true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    viewer(&app, &token, "a token of a cached key during an outage").await;
    let rotated = idp_token(&next, |_| {});
    let reply = with_token(&app, &rotated, VIEWER).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "an unknown kid while the provider is down cannot be judged: 503, got: {}",
        reply.body
    );
    jwks.set_down(false);
    accepted_after_only_503s(
        &app,
        &rotated,
        Duration::from_secs(3),
        "a new key after the outage",
    )
    .await;
}

#[tokio::test]
async fn a_key_the_provider_publishes_is_picked_up_at_once_even_after_random_kids() {
    let first = idp_key("idp-2025-a");
    let jwks = Jwks::serve(vec![first.jwk.clone()]).await;
    let app = app_trusting(&jwks).await;
    viewer(
        &app,
        &idp_token(&first, |_| {}),
        "a token of the current key",
    )
    .await;
    assert_eq!(jwks.fetches(), 1);

    // 50 tokens with made-up kids, all at once: refused, and the provider is not asked again.
    let random: Vec<String> = (0..50)
        .map(|i| {
            idp_token(
                &idp_key(&format!("random-{i}-{}", rand::random::<u64>())),
                |_| {},
            )
        })
        .collect();
    let replies =
        futures_util::future::join_all(random.iter().map(|t| with_token(&app, t, VIEWER))).await;
    for reply in &replies {
        assert_invalid_token(reply, "a token with a made-up kid");
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "50 made-up kids right after a fetch cost the provider no fetch"
    );

    // The provider then really rotates: its new key is accepted on the first try, a second
    // after the last fetch (not after a long cool-down), with one more fetch.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = idp_key("idp-2025-b");
    jwks.publish(rotated.jwk.clone());
    viewer(
        &app,
        &idp_token(&rotated, |_| {}),
        "a token of a key the provider just published",
    )
    .await;
    assert_eq!(jwks.fetches(), 2, "one refetch picked the new key up");
}

#[tokio::test]
async fn a_department_claim_must_agree_with_the_organisation() {
    let key = idp_key("idp-2025-a");
    let jwks = Jwks::serve(vec![key.jwk.clone()]).await;
    let app = app_trusting_over(&jwks, TestDb::demo(Backend::Sqlite).await).await;
    let phed = department_organisation(&app, "PHED").await;
    let officer = |org: &str, department: Option<&str>| {
        let (org, department) = (org.to_owned(), department.map(str::to_owned));
        idp_token(&key, move |claims| {
            claims.insert("realm_access".into(), json!({ "roles": ["department"] }));
            claims.insert("org".into(), json!(org));
            claims.insert("states".into(), json!([22]));
            if let Some(d) = department {
                claims.insert("department".into(), json!(d));
            }
        })
    };
    let v = viewer(&app, &officer(&phed, None), "a PHED officer").await;
    assert_eq!(v["role"], "department", "{v:#}");
    viewer(
        &app,
        &officer(&phed, Some("PHED")),
        "a PHED officer whose token repeats the department",
    )
    .await;
    assert_refused(
        &app,
        &officer(&phed, Some("HEALTH")),
        "a token of the PHED organisation claiming the HEALTH department",
    )
    .await;
}
