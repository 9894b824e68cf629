//! Change events for subscriptions, fanned out across instances.
//!
//! Writes queue their events in the transaction. On PostgreSQL they are sent with `pg_notify`
//! inside that transaction, so only committed writes are announced, and every instance (this one
//! included) hears them through `LISTEN`. On SQLite there is one process, so events go straight to
//! the in-process broadcast after commit.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use self::shared_reads::{Name, SharedReads};

pub mod change;
pub mod log;
mod shared_reads;

/// The PostgreSQL channel Sangam instances talk on.
pub const CHANNEL: &str = "sangam_events";

/// Events a slow subscriber may fall behind by before it is told and disconnected.
pub const BUFFER: usize = 1024;

/// What changed. Events carry ids only: a subscriber reads the row through its own row scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Task {
        task_id: i64,
        version: i32,
        change: String,
    },
    Village {
        village_id: i64,
        version: i32,
        change: String,
    },
}

/// An event as this instance received it. `seq` numbers deliveries in the order this bus sent
/// them, so every subscriber names the same event by the same number and their re-reads of it
/// can be shared (see [`SharedReads`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub seq: u64,
    pub event: Event,
}

#[derive(Clone)]
pub struct EventBus {
    out: Outbox,
    /// Whether events travel through PostgreSQL (and so must not also be sent locally).
    via_postgres: bool,
    reads: Arc<SharedReads>,
}

/// The sending side: numbers each event and broadcasts it.
#[derive(Clone)]
struct Outbox {
    tx: broadcast::Sender<Delivery>,
    next: Arc<AtomicU64>,
}

impl Outbox {
    fn send(&self, event: Event) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        // No subscriber is not an error.
        let _ = self.tx.send(Delivery { seq, event });
    }
}

impl EventBus {
    /// A bus for `db`; on PostgreSQL it also starts the listener that feeds it.
    pub fn start(db: &DatabaseConnection, url: &str) -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        let out = Outbox {
            tx,
            next: Arc::new(AtomicU64::new(0)),
        };
        let via_postgres = db.get_database_backend() == DbBackend::Postgres;
        if via_postgres {
            tokio::spawn(listen(url.to_owned(), out.clone()));
        }
        Self {
            out,
            via_postgres,
            reads: Arc::new(SharedReads::default()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Delivery> {
        self.out.tx.subscribe()
    }

    /// Re-reads of delivered events, shared by subscribers whose reads are the same.
    pub fn reads(&self) -> &SharedReads {
        &self.reads
    }

    /// Queues `events` in the write's transaction (PostgreSQL).
    pub async fn queue<C: ConnectionTrait>(
        &self,
        conn: &C,
        events: &[Event],
    ) -> Result<(), sea_orm::DbErr> {
        if !self.via_postgres {
            return Ok(());
        }
        for e in events {
            let payload =
                serde_json::to_string(e).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            conn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [CHANNEL.into(), payload.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Announces `events` after their transaction committed (SQLite).
    pub fn committed(&self, events: Vec<Event>) {
        if self.via_postgres {
            return;
        }
        for e in events {
            self.out.send(e);
        }
    }
}

/// Listens for other instances' (and this one's) committed events, reconnecting after failures.
async fn listen(url: String, out: Outbox) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    loop {
                        match listener.recv().await {
                            Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                                Ok(e) => out.send(e),
                                Err(e) => tracing::warn!(error = %e, "ignoring a malformed event"),
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "event listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "event listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
