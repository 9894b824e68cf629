//! Nested pages must cost a constant number of SQL statements, whatever the page size.

use std::time::Duration;

use api::{auth::AuthSettings, graphql::Limits, http::HttpOptions};
use serde_json::json;
use tests::{ISSUER, TestApp, TestDb, each_backend};

const NESTED: &str = r#"
query($n: Int!) {
  villages(first: $n) {
    edges { node {
      name
      gramPanchayat { name block { name district { name state { name } } } }
      schemes { code status villages { lgdCode } }
      assignments { theme organisation { name themes } }
      tasks { status assignee { name } history { kind } }
      latestWaterQualityTest { sampledOn results { parameter exceeds } }
      hgjReport { reportedOn }
    } }
  }
}"#;

const DISTRICT_WALK: &str = r#"
query($n: Int!) {
  districts(first: $n) {
    edges { node { name blocks { name villages { name schemes { code } } } } }
  }
}"#;

async fn statements_for(app: &TestApp, query: &str, n: i64) -> usize {
    // Tokens are checked against the database only until the in-memory revocation sets are
    // current (`auth/gate.rs`); what is counted here is the query's own statements.
    for _ in 0..200 {
        if app.auth.gate.is_current() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = app.t.statement_count();
    let data = app.data(query, json!({ "n": n })).await;
    assert!(!data.is_null());
    app.t.statement_count() - before
}

#[tokio::test]
async fn nested_pages_cost_the_same_whatever_the_page_size() {
    each_backend(|backend| async move {
        // Zero: loaders query when the request is idle (the default). A window is what
        // subscriptions use; sibling batches finish at different moments and a debug build on a
        // busy machine is slow, so it is wide here, to make the count depend only on the query
        // (40 ms stopped being enough once `cargo test` ran the suite's tests side by side in
        // one process, with the spec-completion extension on every field). Since the villages
        // page reads its schemes and tasks ahead (`graphql/lookahead.rs`), their children's keys
        // arrive in the same round as the villages' other children: one longer pass over the
        // page, which at a load of 10+ on two cores outlasted 200 ms (18 to 36 statements for
        // 100 villages against 16 for 10, varying run to run), so 1 s.
        for window in [Duration::ZERO, Duration::from_secs(1)] {
            let options = HttpOptions {
                batch_window: window,
                ..HttpOptions::default()
            };
            let t = TestDb::demo(backend.clone()).await;
            let app = TestApp::with(
                t,
                Limits::default(),
                options,
                AuthSettings::embedded(ISSUER),
            )
            .await;
            let name = app.t.backend.name();
            // A district walk returns every village of its districts; six districts stay under
            // the loaders' 1,000-key batch limit, past which a batch is split on purpose.
            for (query, small, large) in [(NESTED, 10, 100), (DISTRICT_WALK, 2, 6)] {
                // The first request also loads the signing keys; measure the steady state.
                statements_for(&app, query, 1).await;
                let small = statements_for(&app, query, small).await;
                let large = statements_for(&app, query, large).await;
                assert_eq!(
                    small, large,
                    "[{name}, window {window:?}] statements grew with page size"
                );
                assert!(
                    small < 25,
                    "[{name}, window {window:?}] {small} statements for one page"
                );
            }
        }
    })
    .await;
}
