//! The durable event log read in commit order: a reader that continues from the last id it got
//! never misses an event that commits later with a lower id.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use api::events::log::{self, NewEvent};
use sea_orm::{DatabaseConnection, TransactionTrait};
use tests::{Backend, TestDb, backends};

fn event(n: i64) -> NewEvent {
    NewEvent {
        kind: "task.commented",
        entity: "task",
        entity_id: n,
        version: 1,
        state_id: 1,
        district_id: Some(2),
        village_id: None,
        payload: serde_json::json!({ "comment": format!("note {n}") }),
    }
}

async fn append_committed(db: &DatabaseConnection, n: i64) -> i64 {
    let txn = db.begin().await.expect("begin");
    let id = log::append(&txn, "writer", &event(n))
        .await
        .expect("append");
    txn.commit().await.expect("commit");
    id
}

#[tokio::test]
async fn events_come_back_in_order_with_their_fields() {
    for backend in backends() {
        let t = TestDb::new(backend).await;
        let ids = [
            append_committed(&t.db, 1).await,
            append_committed(&t.db, 2).await,
        ];
        let got = log::read_after(&t.db, 0, 10).await.expect("read");
        assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
        assert_eq!(got[1].entity_id, 2);
        assert_eq!(got[1].kind, "task.commented");
        assert_eq!(got[1].actor_sub, "writer");
        assert_eq!(got[1].payload["comment"], "note 2");
        assert_eq!(got[0].district_id, Some(2));
        let rest = log::read_after(&t.db, ids[0], 10).await.expect("read");
        assert_eq!(rest.len(), 1);
        assert!(
            log::read_after(&t.db, ids[1], 10)
                .await
                .expect("read")
                .is_empty()
        );
        assert_eq!(log::head(&t.db).await.expect("head"), ids[1]);
    }
}

/// A slow transaction draws id `n`, faster ones commit `n + 1…` before it: a reader must not
/// move past `n` until it commits, and then gets it.
#[tokio::test]
async fn a_reader_waits_for_a_slow_writer_instead_of_skipping_its_event() {
    let Some(Backend::Postgres(admin)) = backends().pop() else {
        return;
    };
    let t = TestDb::new(Backend::Postgres(admin)).await;
    let before = append_committed(&t.db, 0).await;
    let slow = t.db.begin().await.expect("begin");
    let slow_id = log::append(&slow, "slow", &event(1)).await.expect("append");
    let mut fast = Vec::new();
    for n in 2..12 {
        fast.push(append_committed(&t.db, n).await);
    }
    assert!(fast[0] > slow_id);
    let db = t.db.clone();
    let reader = tokio::spawn(async move { log::read_after(&db, before, 100).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !reader.is_finished(),
        "the reader moved on while event {slow_id} was in flight"
    );
    slow.commit().await.expect("commit the slow writer");
    let got = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the reader finishes once the slow writer commits")
        .expect("join")
        .expect("read");
    let mut want = vec![slow_id];
    want.extend(&fast);
    assert_eq!(got.iter().map(|e| e.id).collect::<Vec<_>>(), want);
}

/// Many writers whose transactions stay open for random times after they append, and a reader
/// following the log with its cursor: it sees every committed event once, in id order, and
/// none of the rolled back ones.
#[tokio::test]
async fn a_following_reader_gets_every_committed_event_once_under_concurrent_writers() {
    let Some(Backend::Postgres(admin)) = backends().pop() else {
        return;
    };
    let t = TestDb::new(Backend::Postgres(admin)).await;
    let db = api::db::connect(&t.url, 16).await.expect("pool");
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (db, done) = (db.clone(), done.clone());
        tokio::spawn(async move {
            let mut cursor = 0;
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let got = log::read_after(&db, cursor, 50).await.expect("read");
                if got.is_empty() && finished {
                    return seen;
                }
                for e in got {
                    assert!(e.id > cursor, "event {} after cursor {cursor}", e.id);
                    cursor = e.id;
                    seen.push(e.id);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut writers = Vec::new();
    for w in 0..8i64 {
        let db = db.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            for i in 0..25i64 {
                let txn = db.begin().await.expect("begin");
                let id = log::append(&txn, "w", &event(w * 100 + i))
                    .await
                    .expect("append");
                // Hold the transaction open for a while so commits overtake each other.
                let hold = (w * 7 + i * 13) % 23;
                tokio::time::sleep(Duration::from_millis(hold as u64)).await;
                if (w + i) % 9 == 0 {
                    txn.rollback().await.expect("rollback");
                } else {
                    txn.commit().await.expect("commit");
                    committed.push(id);
                }
            }
            committed
        }));
    }
    let mut committed = Vec::new();
    for w in writers {
        committed.extend(w.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let seen = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("the reader catches up")
        .expect("reader");
    committed.sort_unstable();
    assert_eq!(
        seen, committed,
        "the reader saw exactly the committed events, in order"
    );
}

/// A batch larger than one multi-row insert holds: every event written, in the order given,
/// with its own fields, ids rising without a gap; single appends after it come after it.
#[tokio::test]
async fn a_batch_of_more_events_than_one_statement_holds_is_appended_whole_and_in_order() {
    for backend in backends() {
        let t = TestDb::new(backend).await;
        let before = append_committed(&t.db, 0).await;
        let n = log::EVENTS_PER_STATEMENT + 7;
        let batch: Vec<NewEvent> = (1..=n as i64)
            .map(|i| NewEvent {
                kind: if i % 2 == 0 {
                    "village.updated"
                } else {
                    "task.commented"
                },
                village_id: (i % 3 == 0).then_some(i * 10),
                district_id: (i % 5 != 0).then_some(i + 1),
                version: i32::try_from(i % 7).expect("small"),
                ..event(i)
            })
            .collect();
        let txn = t.db.begin().await.expect("begin");
        let written = log::append_many(&txn, "importer", &batch)
            .await
            .expect("append_many");
        txn.commit().await.expect("commit");
        assert_eq!(written, n);
        let after = append_committed(&t.db, -1).await;

        let got = log::read_after(&t.db, before, n as u64 + 10)
            .await
            .expect("read");
        assert_eq!(
            got.len(),
            n + 1,
            "every event of the batch, then the single one"
        );
        for (i, (e, want)) in got.iter().zip(&batch).enumerate() {
            assert_eq!(e.id, before + 1 + i as i64, "ids rise in the order given");
            assert_eq!(e.entity_id, want.entity_id);
            assert_eq!(e.kind, want.kind);
            assert_eq!(e.entity, want.entity);
            assert_eq!(e.version, want.version);
            assert_eq!(e.state_id, want.state_id);
            assert_eq!(e.district_id, want.district_id);
            assert_eq!(e.village_id, want.village_id);
            assert_eq!(e.payload, want.payload);
            assert_eq!(e.actor_sub, "importer");
        }
        assert_eq!(got[n].id, after);
        assert_eq!(got[n].entity_id, -1);
        assert_eq!(log::head(&t.db).await.expect("head"), after);
    }
}
