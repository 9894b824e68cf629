//! Hostile or careless queries are refused before any resolver runs, with a code naming the
//! limit; batches, persisted queries and the allow-list behave as the Apollo protocol says.

use std::time::Duration;

use api::{auth::AuthSettings, graphql::Limits, http::HttpOptions};
use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use tests::{Backend, ISSUER, TestApp, TestDb};

async fn app_with(options: HttpOptions) -> TestApp {
    TestApp::with(
        TestDb::demo(Backend::Sqlite).await,
        Limits::default(),
        options,
        AuthSettings::embedded(ISSUER),
    )
    .await
}

fn assert_limit(res: &Value, code: &str) {
    let err = &res["errors"][0];
    assert_eq!(err["extensions"]["code"], code, "{res:#}");
    assert!(
        err["extensions"]["limit"].is_number() && err["extensions"]["value"].is_number(),
        "{res:#}"
    );
    assert!(res["data"].is_null(), "nothing runs: {res:#}");
}

#[tokio::test]
async fn deep_complex_and_aliased_queries_are_refused_with_the_limit_named() {
    let app = app_with(HttpOptions::default()).await;
    let before = app.t.statement_count();

    // Depth: a walk that goes round the hierarchy again and again.
    let mut deep = String::from("name");
    for _ in 0..3 {
        deep = format!(
            "district {{ state {{ districts {{ blocks {{ villages {{ {deep} }} }} }} }} }}"
        );
    }
    let res = app
        .post(
            &format!("{{ villages(first: 1) {{ edges {{ node {{ {deep} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_limit(&res, "QUERY_TOO_DEEP");

    // Complexity: nested lists under full pages multiply.
    let wide = "{ villages(first: 100) { edges { node { schemes { villages { schemes { villages { tasks { history { kind } } } } } } } } } }";
    assert_limit(&app.post(wide, json!({})).await, "QUERY_TOO_COMPLEX");

    // Aliases: the same expensive field under many names.
    let aliased: Vec<String> = (0..60)
        .map(|i| format!("a{i}: villages {{ totalCount }}"))
        .collect();
    assert_limit(
        &app.post(&format!("{{ {} }}", aliased.join(" ")), json!({}))
            .await,
        "TOO_MANY_ALIASES",
    );

    // Only the token checks touched the database (two lookups per request).
    let spent = app.t.statement_count() - before;
    assert!(spent <= 3 * 3, "refused queries ran {spent} statements");

    // An ordinary dashboard query is well inside the defaults.
    app.data(
        "{ villages(first: 100) { edges { node { name schemes { code } tasks { status } } } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn batches_run_each_operation_and_are_capped() {
    let app = app_with(HttpOptions {
        max_batch: 3,
        ..HttpOptions::default()
    })
    .await;
    let send = |n: usize| {
        let ops: Vec<Value> = (0..n)
            .map(|_| json!({ "query": "{ states { totalCount } }" }))
            .collect();
        let mut req = app.graphql_request(Some(&app.admin_token), "", json!(null));
        *req.body_mut() = axum::body::Body::from(Value::Array(ops).to_string());
        req
    };
    let ok = app.send(send(3)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let all = ok.json();
    assert_eq!(all.as_array().expect("a batch answers a list").len(), 3);
    assert!(
        all.as_array()
            .expect("list")
            .iter()
            .all(|r| r["data"]["states"]["totalCount"] == 2)
    );
    let too_many = app.send(send(4)).await;
    assert_eq!(too_many.status, StatusCode::BAD_REQUEST);
    assert_limit(&too_many.json(), "BATCH_TOO_LARGE");
}

#[tokio::test]
async fn automatic_persisted_queries_follow_the_apollo_protocol() {
    let app = app_with(HttpOptions::default()).await;
    let query = "{ states { totalCount } }";
    let hash = api::graphql::persisted::sha256_hex(query);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let send = |body: Value| {
        let mut req = app.graphql_request(Some(&app.admin_token), "", json!(null));
        *req.body_mut() = axum::body::Body::from(body.to_string());
        req
    };
    let miss = app.send(send(json!({ "extensions": ext }))).await.json();
    assert_eq!(
        miss["errors"][0]["message"], "PersistedQueryNotFound",
        "{miss:#}"
    );
    assert_eq!(
        miss["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let registered = app
        .send(send(json!({ "query": query, "extensions": ext })))
        .await
        .json();
    assert_eq!(
        registered["data"]["states"]["totalCount"], 2,
        "{registered:#}"
    );
    let hit = app.send(send(json!({ "extensions": ext }))).await.json();
    assert_eq!(
        hit["data"]["states"]["totalCount"], 2,
        "the hash alone now runs the query: {hit:#}"
    );
    let wrong = app
        .send(send(
            json!({ "query": "{ villages { totalCount } }", "extensions": ext }),
        ))
        .await
        .json();
    assert_eq!(
        wrong["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "a hash must match its query"
    );
    // GET with the hash, as CDN-friendly clients send it.
    let uri = format!(
        "/graphql?extensions={}",
        serde_urlencoded_value(&ext.to_string())
    );
    let get = app
        .send(
            axum::http::Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(
        get.json()["data"]["states"]["totalCount"],
        2,
        "{}",
        get.body
    );
}

fn serde_urlencoded_value(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn the_allow_list_runs_only_registered_operations() {
    let app = app_with(HttpOptions {
        allow_list: true,
        ..HttpOptions::default()
    })
    .await;
    let known = "query Dashboard { states { totalCount } }";
    api::graphql::persisted::register(&app.t.db, known)
        .await
        .expect("register");
    assert_eq!(app.data(known, json!({})).await["states"]["totalCount"], 2);
    let other = app.post("{ villages { totalCount } }", json!({})).await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "OPERATION_NOT_ALLOWED",
        "{other:#}"
    );
}

#[tokio::test]
async fn a_request_over_its_time_is_stopped_with_a_timeout_error() {
    let app = app_with(HttpOptions {
        request_timeout: Duration::from_millis(1),
        batch_window: Duration::from_millis(50),
        ..HttpOptions::default()
    })
    .await;
    // The panchayats come through a DataLoader, which waits out its 50 ms window: the request
    // cannot finish within 1 ms. (A village page's schemes ride with the page since the
    // look-ahead, in two statements that can.)
    let res = app
        .post(
            "{ villages(first: 50) { edges { node { gramPanchayat { name } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "TIMEOUT", "{res:#}");
}

#[tokio::test]
async fn anonymous_callers_cannot_store_persisted_queries() {
    let app = app_with(HttpOptions {
        public_schema: true,
        ..HttpOptions::default()
    })
    .await;
    let query = "{ villages { totalCount } }";
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": api::graphql::persisted::sha256_hex(query) } });
    let mut req = app.graphql_request(None, "", json!(null));
    *req.body_mut() =
        axum::body::Body::from(json!({ "query": query, "extensions": ext }).to_string());
    assert_eq!(app.send(req).await.status, StatusCode::UNAUTHORIZED);
    let stored = <entities::persisted_query::Entity as sea_orm::EntityTrait>::find()
        .all(&app.t.db)
        .await
        .expect("query");
    assert!(
        stored.is_empty(),
        "nothing was stored for an anonymous caller"
    );
}
