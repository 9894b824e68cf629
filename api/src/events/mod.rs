//! Change events for subscriptions, fed from the durable event log (`log`).
//!
//! Every committed write has appended its events to the log in its own transaction. Each
//! instance runs one follower that reads the log in commit order from the last id it has seen
//! and hands each event to this instance's subscribers. Nothing else carries events: on
//! PostgreSQL a write's `pg_notify` (sent in its transaction, so only on commit) and on SQLite an
//! in-process signal only wake the follower up. When the listener loses its connection, the
//! follower reads everything committed since its last id once it is back, so a lost
//! notification delays events but never loses them; ids only grow, so no subscriber gets an
//! event twice.

use std::{sync::Arc, time::Duration};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::{Notify, broadcast};

use self::log::LoggedEvent;
pub use self::shared_reads::{Name, SharedReads};

pub mod change;
pub mod log;
mod shared_reads;

/// The PostgreSQL channel Sangam instances talk on.
pub const CHANNEL: &str = "sangam_events";

/// Events a slow subscriber may fall behind by before it is told and disconnected.
pub const BUFFER: usize = 1024;

/// How soon a follower that could not read the log tries again.
const RETRY: Duration = Duration::from_secs(1);

/// Most events a follower reads at once.
const PAGE: u64 = 500;

/// An event as this instance delivers it. `seq` is its id in the log: subscribers name the same
/// event by the same number, so their re-reads of it can be shared (see [`SharedReads`]), and a
/// client resumes after it (`taskEvents(after:)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub seq: u64,
    pub event: Arc<LoggedEvent>,
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Delivery>,
    wake: Arc<Notify>,
    /// Whether writers wake followers through PostgreSQL (every instance's) or in-process.
    via_postgres: bool,
    reads: Arc<SharedReads>,
}

impl EventBus {
    /// A bus for `db`, with the follower that feeds it; on PostgreSQL also the listener that
    /// wakes the follower when any instance commits.
    pub fn start(db: &DatabaseConnection, url: &str) -> Self {
        let bus = Self::idle(db.get_database_backend() == DbBackend::Postgres);
        tokio::spawn(follow(db.clone(), bus.clone()));
        if bus.via_postgres {
            tokio::spawn(listen(url.to_owned(), bus.wake.clone()));
        }
        bus
    }

    /// A bus with no follower (events are delivered by hand).
    fn idle(via_postgres: bool) -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        Self {
            tx,
            wake: Arc::new(Notify::new()),
            via_postgres,
            reads: Arc::new(SharedReads::default()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Delivery> {
        self.tx.subscribe()
    }

    /// Re-reads of delivered events, shared by subscribers whose reads are the same.
    pub fn reads(&self) -> &SharedReads {
        &self.reads
    }

    /// In a write's transaction, before it commits: on PostgreSQL, wakes every instance's
    /// follower once the transaction commits (`pg_notify` is sent only on commit).
    pub async fn notify_in<C: ConnectionTrait>(&self, conn: &C) -> Result<(), sea_orm::DbErr> {
        if self.via_postgres {
            conn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, '')",
                [CHANNEL.into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// After a write committed: wakes this instance's follower (SQLite has no other instance).
    pub fn committed(&self) {
        if !self.via_postgres {
            self.wake.notify_one();
        }
    }

    /// Hands `events`, in log order, to this instance's subscribers.
    fn deliver(&self, events: impl IntoIterator<Item = LoggedEvent>) {
        for e in events {
            let seq = u64::try_from(e.id).unwrap_or_default();
            // No subscriber is not an error.
            let _ = self.tx.send(Delivery {
                seq,
                event: Arc::new(e),
            });
        }
    }
}

/// Prunes the event log every hour: events older than `retention` go (`log::prune`).
pub async fn keep_pruned(db: DatabaseConnection, retention: chrono::TimeDelta) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match log::prune(&db, chrono::Utc::now() - retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned the event log"),
            Err(_) if crate::db::closed(&db) => return,
            Err(e) => tracing::warn!(error = %e, "cannot prune the event log"),
        }
    }
}

/// Reads the log from where this instance started, delivering each event once, in order.
/// It reads only when woken (a commit, or the listener back after a break), so an idle instance
/// sends the database nothing; after a failed read it retries every second until one succeeds.
async fn follow(db: DatabaseConnection, bus: EventBus) {
    let mut cursor = loop {
        match log::head(&db).await {
            Ok(head) => break head,
            Err(_) if crate::db::closed(&db) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event log; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    loop {
        match drain(&db, &bus, &mut cursor).await {
            Ok(()) => bus.wake.notified().await,
            Err(_) if crate::db::closed(&db) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the event log; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Delivers every event after `cursor` that is final now, moving `cursor` on.
async fn drain(
    db: &DatabaseConnection,
    bus: &EventBus,
    cursor: &mut i64,
) -> Result<(), sea_orm::DbErr> {
    loop {
        let events = log::read_after(db, *cursor, PAGE).await?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(());
        };
        *cursor = last;
        bus.deliver(events);
    }
}

/// Wakes the follower on every instance's commits; after (re)connecting it wakes it too, so
/// whatever was committed while the connection was down is read at once.
async fn listen(url: String, wake: Arc<Notify>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    wake.notify_one();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => wake.notify_one(),
                            Ok(None) => {
                                tracing::warn!("event listener lost its connection");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "event listener lost its connection");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "LISTEN failed"),
            },
            Err(e) => tracing::warn!(error = %e, "event listener cannot connect"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
impl EventBus {
    /// A bus fed by hand, for tests of what subscribers do with deliveries.
    pub(crate) fn manual() -> Self {
        Self::idle(false)
    }

    pub(crate) fn inject(&self, events: Vec<LoggedEvent>) {
        self.deliver(events);
    }
}
