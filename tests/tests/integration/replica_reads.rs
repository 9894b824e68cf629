//! Reads from a replica: a caller's consistency token keeps it from reading older data than it
//! wrote, and a replica too far behind is not read from. The "replica" here is a second database
//! whose probe the test sets, so which database answered shows in the data.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use api::replica::{Lsn, Probe, Reads, ReplicaState};
use axum::http::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::json;
use tests::{TestApp, TestDb, each_backend};

const STATE: &str = "{ state(lgdCode: 22) { name } }";
const ON_REPLICA: &str = "Chhattisgarh as the replica has it";

/// The app over a demo primary, reading from a demo "replica" whose Chhattisgarh is renamed;
/// the returned handle sets what the replica's probe reports, and the replica's database lives
/// as long as the last element is kept.
async fn app(backend: tests::Backend) -> (TestApp, Arc<Mutex<ReplicaState>>, TestDb) {
    let replica = TestDb::demo(backend.clone()).await;
    replica
        .db
        .execute_unprepared(&format!(
            "UPDATE state SET name = '{ON_REPLICA}' WHERE lgd_code = 22"
        ))
        .await
        .expect("rename on the replica");
    let state = Arc::new(Mutex::new(ReplicaState {
        replayed: Some(Lsn(100)),
        lag: Some(Duration::ZERO),
    }));
    let seen = state.clone();
    let probe: Probe = Arc::new(move || {
        let now = *seen.lock().expect("probe state");
        Box::pin(async move { Ok(now) })
    });
    let reads = Reads::with_probe(replica.db.clone(), Duration::from_secs(5), probe)
        .probe_every(Duration::ZERO);
    let app = TestApp::with_reads(TestDb::demo(backend).await, reads).await;
    (app, state, replica)
}

/// Which database answered a read sent with `token`.
async fn answered_by(app: &TestApp, token: Option<&str>) -> &'static str {
    let mut req = app.graphql_request(Some(&app.admin_token), STATE, json!({}));
    if let Some(t) = token {
        req.headers_mut()
            .insert("sangam-consistency", t.parse().expect("header"));
    }
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let name = reply.json()["data"]["state"]["name"].clone();
    if name == ON_REPLICA {
        "replica"
    } else {
        assert_eq!(name, "Chhattisgarh", "{}", reply.body);
        "primary"
    }
}

#[tokio::test]
async fn a_token_ahead_of_the_replica_reads_from_the_primary() {
    each_backend(|backend| async move {
        let (app, _, _replica) = app(backend).await;
        // The replica has replayed 0/64 (100).
        assert_eq!(answered_by(&app, Some("0/C8")).await, "primary");
        assert_eq!(answered_by(&app, Some("1/0")).await, "primary");
    })
    .await;
}

#[tokio::test]
async fn a_replica_that_caught_up_serves_reads() {
    each_backend(|backend| async move {
        let (app, state, _replica) = app(backend).await;
        assert_eq!(answered_by(&app, Some("0/64")).await, "replica");
        assert_eq!(answered_by(&app, Some("0/1")).await, "replica");
        assert_eq!(answered_by(&app, None).await, "replica");
        state.lock().expect("state").replayed = Some(Lsn(0x1_0000_0000));
        assert_eq!(answered_by(&app, Some("1/0")).await, "replica");
    })
    .await;
}

#[tokio::test]
async fn a_replica_lagging_past_the_bound_is_not_read_from() {
    each_backend(|backend| async move {
        let (app, state, _replica) = app(backend).await;
        state.lock().expect("state").lag = Some(Duration::from_secs(6));
        assert_eq!(answered_by(&app, None).await, "primary");
        assert_eq!(answered_by(&app, Some("0/1")).await, "primary");
        state.lock().expect("state").lag = None;
        assert_eq!(answered_by(&app, None).await, "primary", "unknown lag");
        state.lock().expect("state").lag = Some(Duration::from_secs(4));
        assert_eq!(answered_by(&app, None).await, "replica");
        let metrics = app.get("/metrics").await.body;
        assert!(
            metrics.contains("sangam_replica_lag_seconds 4.000"),
            "{metrics}"
        );
        assert!(
            metrics.contains("sangam_reads_total{on=\"primary\",why=\"lagging\"}"),
            "{metrics}"
        );
    })
    .await;
}

#[tokio::test]
async fn writes_run_on_the_primary_and_hand_back_a_token() {
    each_backend(|backend| async move {
        let (app, _, _replica) = app(backend).await;
        let rename = "mutation($id: ID!, $v: Int!) { updateVillageCoverage(input: { village: $id, expectedVersion: $v, households: 10, tapConnections: 5 }) { village { version } } }";
        let v = app
            .data(
                "{ villages(first: 1) { edges { node { id version } } } }",
                json!({}),
            )
            .await["villages"]["edges"][0]["node"]
            .clone();
        let req = app.graphql_request(
            Some(&app.admin_token),
            rename,
            json!({ "id": v["id"], "v": v["version"] }),
        );
        let reply = app.send(req).await;
        let body = reply.json();
        assert!(body.get("errors").is_none(), "{body:#}");
        let token = reply.headers.get("sangam-consistency");
        if app.t.backend.name() == "postgres" {
            let token = token.expect("a write on PostgreSQL hands back a token");
            let lsn: Lsn = token.to_str().expect("text").parse().expect("an LSN");
            assert!(lsn > Lsn(0));
        } else {
            assert!(token.is_none(), "SQLite has no WAL positions to hand back");
        }
    })
    .await;
}

#[tokio::test]
async fn a_malformed_token_is_refused() {
    each_backend(|backend| async move {
        let (app, _, _replica) = app(backend).await;
        let mut req = app.graphql_request(Some(&app.admin_token), STATE, json!({}));
        req.headers_mut()
            .insert("sangam-consistency", "yesterday".parse().expect("header"));
        let reply = app.send(req).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains("Sangam-Consistency"), "{}", reply.body);
    })
    .await;
}
