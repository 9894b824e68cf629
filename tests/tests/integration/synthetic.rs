//! The synthetic load-test dataset: deterministic, consistent, and served like any other data.

use api::principal::Role;
use api::seed::synthetic::{Scale, synthetic};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use tests::{ClientSpec, TestApp, TestDb, each_backend};

async fn scalar(t: &TestDb, sql: &str) -> i64 {
    let row =
        t.db.query_one_raw(Statement::from_string(
            t.db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("integer")
}

#[tokio::test]
async fn the_district_scale_loads_consistently_on_both_databases() {
    each_backend(|backend| async move {
        let t = TestDb::new(backend).await;
        let today = api::service::today_ist();
        let summary = synthetic(&t.db, Scale::District, 7, today).await.expect("load");
        assert!(summary.villages > 300, "{summary:?}");
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM village").await, summary.villages as i64);
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM village WHERE tap_connections > households OR households < 20 OR households > 2000").await, 0);
        assert_eq!(
            scalar(&t, "SELECT COUNT(*) FROM task t WHERE t.version <> (SELECT COUNT(*) FROM task_event e WHERE e.task_id = t.id)").await,
            0,
            "each task's version counts its history"
        );
        assert_eq!(scalar(&t, "SELECT COUNT(*) FROM scheme_village").await, summary.villages as i64, "every village has a scheme");
        let again = TestDb::new(t.backend.clone()).await;
        let second = synthetic(&again.db, Scale::District, 7, today).await.expect("load");
        assert_eq!(format!("{summary:?}"), format!("{second:?}"), "the same seed gives the same data");

        let app = TestApp::over(t).await;
        let national = app.token(ClientSpec::new(Role::Dashboard)).await;
        let res = app.post_as(&national, "{ progress(level: STATE) { parent { villages } } }", json!({})).await;
        assert_eq!(res["data"]["progress"]["parent"]["villages"], summary.villages, "{res:#}");
    })
    .await;
}
