//! Nested pages must cost a constant number of SQL statements, whatever the page size.

use serde_json::json;
use tests::{TestApp, each_backend};

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
    let before = app.t.statement_count();
    let data = app.data(query, json!({ "n": n })).await;
    assert!(!data.is_null());
    app.t.statement_count() - before
}

#[tokio::test]
async fn nested_pages_cost_the_same_for_10_and_100_rows() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        for query in [NESTED, DISTRICT_WALK] {
            let small = statements_for(&app, query, 10).await;
            let large = statements_for(&app, query, 100).await;
            assert_eq!(small, large, "[{}] statements grew with page size", app.t.backend.name());
            assert!(small < 25, "[{}] {small} statements for one page", app.t.backend.name());
        }
    })
    .await;
}
