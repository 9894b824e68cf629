//! Accepting a known token costs no statement (`auth/gate.rs`), and still revocations and
//! disabled clients take effect on every instance within a second, including one whose listener
//! lost its connection while a change committed.

use std::time::Duration;

use api::{auth::clients, principal::Role};
use chrono::Utc;
use entities::revoked_token;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set, Statement};
use serde_json::json;
use tests::{Backend, ClientSpec, TestApp, TestDb, backends, each_backend, tokens::*};

const SECOND: Duration = Duration::from_secs(1);

/// Waits until `app`'s in-memory sets are loaded (a freshly started instance checks tokens
/// against the database until then).
async fn settled(app: &TestApp) {
    for _ in 0..200 {
        if app.auth.gate.is_current() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the revocation sets never became current");
}

#[tokio::test]
async fn a_known_token_costs_no_statement() {
    each_backend(|backend| async move {
        let app = TestApp::over(TestDb::new(backend).await).await;
        let db = app.t.backend.name();
        settled(&app).await;
        let token = app
            .token(ClientSpec::new(Role::StateAdmin).states(&[22]))
            .await;
        // The signing keys are loaded on first use; and the new client reaches the in-memory
        // sets by its announcement (PostgreSQL) or the next reload (SQLite).
        viewer(&app, &app.admin_token, "warm-up").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        // `viewer` reads nothing: what a request costs here is authentication alone.
        let before = app.t.statement_count();
        viewer(&app, &token, "first use").await;
        let first = app.t.statement_count() - before;
        let before = app.t.statement_count();
        for _ in 0..5 {
            viewer(&app, &token, "again").await;
        }
        let again = app.t.statement_count() - before;
        assert_eq!(
            again, 0,
            "[{db}] a known token is accepted without a statement"
        );
        assert_eq!(
            first, 0,
            "[{db}] a new token of a known client needs no statement either"
        );
        assert!(app.auth.gate.remembered_tokens() >= 1, "[{db}]");
    })
    .await;
}

/// Terminates the revocation listeners' backends of `t`'s database.
async fn cut_listeners(t: &TestDb) -> i64 {
    let sql = "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
               WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND query ILIKE '%sangam_auth%'";
    let row =
        t.db.query_one_raw(Statement::from_string(t.db.get_database_backend(), sql))
            .await
            .expect("terminate")
            .expect("row");
    row.try_get("", "n").expect("n")
}

#[tokio::test]
async fn revocation_and_disabling_reach_every_instance_within_a_second() {
    let Some(Backend::Postgres(admin)) = backends()
        .into_iter()
        .find(|b| matches!(b, Backend::Postgres(_)))
    else {
        eprintln!("TEST_DATABASE_URL not set: this test runs in the PostgreSQL suite");
        return;
    };
    let a = TestApp::over(TestDb::new(Backend::Postgres(admin)).await).await;
    let b = TestApp::over(TestDb::new_at(&a.t.url).await).await;
    let base_a = a.serve().await;
    settled(&a).await;
    settled(&b).await;
    let (id, secret) = a
        .client(ClientSpec::new(Role::StateAdmin).states(&[22]))
        .await;
    let first = fetch_token(&base_a, &id, &secret, None).await;
    let second = fetch_token(&base_a, &id, &secret, None).await;
    for (app, name) in [(&a, "A"), (&b, "B")] {
        for token in [&first, &second] {
            viewer(app, token, &format!("{name} before any change")).await;
        }
    }
    // Both instances remember both tokens now: no statement when they are used again.
    let before = b.t.statement_count();
    viewer(&b, &first, "B, remembered").await;
    assert_eq!(b.t.statement_count() - before, 0);

    // Revoked through instance A: refused on A at once, on B within a second.
    let res = post_form(
        &base_a,
        "/oauth/revoke",
        Some((&id, &secret)),
        &[("token", &first)],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_refused(&a, &first, "A, the token it revoked").await;
    let took = refused_within(&b, &first, SECOND).await;
    assert!(
        took.is_some(),
        "B refuses the revoked token within a second"
    );
    viewer(&b, &second, "B, the client's other token").await;

    // The client disabled (as `sangam client disable` does): refused on both within a second.
    clients::set_disabled(&a.t.db, &id, true)
        .await
        .expect("disable");
    for (app, name) in [(&a, "A"), (&b, "B")] {
        let took = refused_within(app, &second, SECOND).await;
        assert!(took.is_some(), "{name} refuses a disabled client's token");
    }
    clients::set_disabled(&a.t.db, &id, false)
        .await
        .expect("enable");
    tokio::time::sleep(SECOND).await;
    for (app, name) in [(&a, "A"), (&b, "B")] {
        viewer(app, &second, &format!("{name}, the client enabled again")).await;
    }

    // A revocation committed without an announcement stands for one B's listener missed while
    // its connection was down. B does not know it yet...
    let third = fetch_token(&base_a, &id, &secret, None).await;
    viewer(&b, &third, "B before the silent revocation").await;
    revoked_token::ActiveModel {
        jti: Set(claims_of(&third)["jti"].as_str().expect("jti").to_owned()),
        client_id: Set(id.clone()),
        expires_at: Set(Utc::now() + chrono::Duration::minutes(15)),
        revoked_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&a.t.db)
    .await
    .expect("revoke silently");
    viewer(&b, &third, "B, the silent revocation not announced").await;
    // ...until its listener reconnects: it reloads the sets before it trusts them again, and
    // checks tokens against the database meanwhile.
    assert!(cut_listeners(&b.t).await >= 1, "the listeners were found");
    let took = refused_within(&b, &third, Duration::from_secs(3)).await;
    assert!(
        took.is_some(),
        "B refuses the token once its listener has reconnected"
    );
    settled(&b).await;
    assert_refused(&b, &third, "B, sets current again").await;
    viewer(
        &b,
        &second,
        "B, the client's other token after the reconnect",
    )
    .await;
}

/// The benchmark's S1 and S4 shapes (`bench/run.sh`), counted: with a known token none of their
/// statements is the token check (it was one statement of every request before).
#[tokio::test]
async fn the_bench_lookups_spend_no_statement_on_authentication() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        settled(&app).await;
        let partners = app
            .data(
                "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 1) { edges { node { code } } } }",
                json!({}),
            )
            .await;
        let code = partners["organisations"]["edges"][0]["node"]["code"]
            .as_str()
            .expect("a sector partner in the demo data")
            .to_owned();
        let partner = app.token(ClientSpec::new(Role::Partner).org(&code)).await;
        let village = app
            .data(
                "{ villages(first: 1) { edges { node { lgdCode } } } }",
                json!({}),
            )
            .await;
        let lgd = village["villages"]["edges"][0]["node"]["lgdCode"].clone();
        let s4 = format!(
            "{{ village(lgdCode: {lgd}) {{ name households latestWaterQualityTest {{ sampledOn contaminated results {{ parameter value exceeds }} }} }} }}"
        );
        let s1 = "{ villages(first: 50) { edges { node { name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }";
        // Let the partner's new client reach the in-memory sets.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut counts = Vec::new();
        for (name, token, query) in [("S4", &app.admin_token, s4.as_str()), ("S1", &partner, s1)] {
            // First use: the token is verified and remembered.
            let reply = with_token(&app, token, query).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let before = app.t.statement_count();
            let reply = with_token(&app, token, query).await;
            assert!(reply.json().get("errors").is_none(), "{}", reply.body);
            let spent = app.t.statement_count() - before;
            // Once more: the count is the query's own, not a warm-up's.
            let again = {
                let svc_count = app.t.statement_count();
                let reply = with_token(&app, token, query).await;
                assert_eq!(reply.status, 200);
                app.t.statement_count() - svc_count
            };
            assert_eq!(spent, again, "[{db}] {name}: steady");
            counts.push((name, spent));
        }
        eprintln!("[{db}] statements per request with a known token: {counts:?}");
        let s4 = counts[0].1;
        let s1 = counts[1].1;
        // Read ahead (`graphql/lookahead.rs`): the village with its latest test and results in
        // one statement; the page, then its schemes and tasks in one more.
        assert_eq!(s4, 1, "[{db}] S4: village, latest test, results: {s4}");
        assert!(s1 <= 2, "[{db}] S1: villages, then schemes and tasks: {s1}");
    })
    .await;
}
