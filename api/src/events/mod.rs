//! Change events for subscriptions, fed from the durable event log (`log`).
//!
//! Every committed write has appended its events to the log in its own transaction. Each
//! instance runs one follower that reads the log in commit order from the last id it has seen
//! and hands each event to this instance's subscribers. Nothing else carries events: on
//! PostgreSQL the append's `pg_notify` (sent only on commit) and on SQLite an in-process signal
//! only wake readers up. When the listener loses its connection, readers are woken once it is
//! back and read everything committed since their last id, so a lost notification delays
//! events but never loses them; ids only grow, so no subscriber gets an event twice.
//!
//! # Reading only for someone
//!
//! A write's wake-up costs the follower a read of the log, on another connection, competing
//! with the writers for the database. While this instance has no subscriber nobody needs that
//! read, so the follower makes none and its cursor goes stale. The first subscriber after such
//! a period must not be handed what was committed before it came (all of it, from the stale
//! cursor on), nor miss what is committed after: [`EventBus::subscribe`] reads the log's head
//! once its receiver exists and the follower goes on from there. A subscription that resumes
//! from a cursor (`after:`) reads the log up to the live stream by its own path, after
//! subscribing, so it is served the same way.
//!
//! Wake-ups coalesce: a read takes everything committed so far, so the wake-ups that arrive
//! while a reader reads ask for one more read, not one each.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr};
use tokio::sync::{broadcast, watch};

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

/// Whether the follower's cursor is current, as the follower and arriving subscribers agree it
/// under one lock (see the module's notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Following {
    /// No subscriber since the last wake-up: the follower reads nothing, its cursor is stale.
    Idle,
    /// A subscriber came while idle: the follower goes on after this id, a head of the log read
    /// once that subscriber's receiver existed.
    Resume(i64),
    /// The follower reads on every wake-up; its cursor is current.
    Live,
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Delivery>,
    /// Counts wake-ups: a commit here (SQLite) or on any instance (PostgreSQL), or the listener
    /// back after a break. Readers watch it; a count they have not seen is a reason to read.
    wake: Arc<watch::Sender<u64>>,
    /// Whether writers wake readers through PostgreSQL (every instance's) or in-process.
    via_postgres: bool,
    following: Arc<Mutex<Following>>,
    reads: Arc<SharedReads>,
}

impl EventBus {
    /// A bus for `db`, with the follower that feeds it; on PostgreSQL also the listener that
    /// wakes readers when any instance commits.
    pub fn start(db: &DatabaseConnection, url: &str) -> Self {
        let bus = Self::idle(
            db.get_database_backend() == DbBackend::Postgres,
            Following::Idle,
        );
        tokio::spawn(follow(db.clone(), bus.clone()));
        if bus.via_postgres {
            tokio::spawn(listen(url.to_owned(), bus.clone()));
        }
        bus
    }

    fn idle(via_postgres: bool, following: Following) -> Self {
        let (tx, _) = broadcast::channel(BUFFER);
        Self {
            tx,
            wake: Arc::new(watch::Sender::new(0)),
            via_postgres,
            following: Arc::new(Mutex::new(following)),
            reads: Arc::new(SharedReads::default()),
        }
    }

    /// A receiver of every event committed after this returns (and perhaps a few just before).
    /// When the follower has been idle, this reads the log's head on `db` (the database the bus
    /// was started on) for it to go on from: see the module's notes. On PostgreSQL that read
    /// waits for the appends in flight (`log::head`), as any reader that meets a gap does.
    pub async fn subscribe(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<broadcast::Receiver<Delivery>, DbErr> {
        let rx = self.tx.subscribe();
        if *self.state() != Following::Idle {
            // The follower read for a subscriber at its last wake-up and, with this receiver
            // counted, will at its next: it cannot turn idle under us.
            return Ok(rx);
        }
        // Read after the receiver exists, so the follower (which sees it counted from now on
        // and, while idle, waits for the resume point) starts no later than this head.
        let head = log::head(db).await?;
        {
            let mut state = self.state();
            // Another subscriber's head, read earlier, is as good: everything up to this one
            // was committed before this call returns.
            if *state == Following::Idle {
                *state = Following::Resume(head);
            }
        }
        // What committed since the head was read may have woken the follower while it waited
        // for the resume point: wake it again.
        self.ring();
        Ok(rx)
    }

    /// A receiver of wake-ups, for readers of the log other than the follower (the webhook
    /// dispatcher). Wake-ups that arrive while it reads show as one change.
    pub fn wake_ups(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }

    /// Re-reads of delivered events, shared by subscribers whose reads are the same.
    pub fn reads(&self) -> &SharedReads {
        &self.reads
    }

    /// After a write committed: wakes this instance's readers (SQLite has no other instance;
    /// on PostgreSQL the append's `pg_notify` wakes every instance's, this one's included).
    pub fn committed(&self) {
        if !self.via_postgres {
            self.ring();
        }
    }

    fn ring(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Following> {
        self.following
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the follower reads from at this wake-up, given its `cursor`: `None` when it should
    /// not read (nobody subscribes, or a subscriber is still finding where to start).
    fn read_from(&self, cursor: i64) -> Option<i64> {
        let mut state = self.state();
        if self.tx.receiver_count() == 0 {
            *state = Following::Idle;
            return None;
        }
        match *state {
            Following::Idle => None,
            Following::Resume(head) => {
                *state = Following::Live;
                Some(cursor.max(head))
            }
            Following::Live => Some(cursor),
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

/// Reads the log in order for this instance's subscribers, delivering each event once. It reads
/// only when woken (a commit, or the listener back after a break) and only while someone
/// subscribes, so an idle instance, or one with no subscriber, sends the database nothing;
/// after a failed read it retries every second until one succeeds.
async fn follow(db: DatabaseConnection, bus: EventBus) {
    let mut wake = bus.wake_ups();
    let mut cursor = 0;
    loop {
        // Marked seen before reading: a wake-up during the read asks for one more.
        wake.borrow_and_update();
        if let Some(from) = bus.read_from(cursor) {
            cursor = from;
            match drain(&db, &bus, &mut cursor).await {
                Ok(()) => {}
                Err(_) if crate::db::closed(&db) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the event log; retrying");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            }
        }
        if wake.changed().await.is_err() {
            return;
        }
    }
}

/// Delivers every event after `cursor` that is final now, moving `cursor` on.
async fn drain(db: &DatabaseConnection, bus: &EventBus, cursor: &mut i64) -> Result<(), DbErr> {
    loop {
        let events = log::read_after(db, *cursor, PAGE).await?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(());
        };
        *cursor = last;
        bus.deliver(events);
    }
}

/// Wakes readers on every instance's commits; after (re)connecting it wakes them too, so
/// whatever was committed while the connection was down is read at once.
async fn listen(url: String, bus: EventBus) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        match PgListener::connect(&url).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    bus.ring();
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(_)) => bus.ring(),
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
        // Nothing follows the log, so nothing needs a place to start from.
        Self::idle(false, Following::Live)
    }

    pub(crate) fn inject(&self, events: Vec<LoggedEvent>) {
        self.deliver(events);
    }
}

#[cfg(test)]
mod tests {
    use migration::{Migrator, MigratorTrait};

    use super::{EventBus, Following, log};

    fn comment(id: i64) -> log::NewEvent {
        log::NewEvent {
            kind: "task.commented",
            entity: "task",
            entity_id: id,
            version: 2,
            state_id: 1,
            district_id: None,
            village_id: None,
            payload: serde_json::json!({}),
        }
    }

    /// The follower's side of the protocol in the module's notes, step by step (no follower
    /// task runs: the test makes its moves).
    #[tokio::test]
    async fn the_follower_reads_only_for_subscribers_and_resumes_at_the_head_a_new_one_read() {
        let db = crate::db::connect("sqlite::memory:", 1).await.expect("db");
        Migrator::up(&db, None).await.expect("migrate");
        let bus = EventBus::idle(false, Following::Idle);
        assert_eq!(bus.read_from(0), None, "nobody subscribes: no read");
        for id in 1..=3 {
            log::append(&db, "test", &comment(id))
                .await
                .expect("append");
        }
        let rx = bus.subscribe(&db).await.expect("subscribe");
        assert_eq!(*bus.state(), Following::Resume(3));
        assert_eq!(
            bus.read_from(1),
            Some(3),
            "a stale cursor goes on from the head read when the subscriber came"
        );
        assert_eq!(bus.read_from(7), Some(7), "then from where it got to");
        // A second subscriber while the follower is live leaves its cursor alone.
        log::append(&db, "test", &comment(4)).await.expect("append");
        let second = bus.subscribe(&db).await.expect("subscribe");
        assert_eq!(bus.read_from(7), Some(7));
        drop((rx, second));
        assert_eq!(bus.read_from(7), None, "the last subscriber left: no read");
        assert_eq!(*bus.state(), Following::Idle);
        let again = bus.subscribe(&db).await.expect("subscribe");
        assert_eq!(
            bus.read_from(7),
            Some(7),
            "the head (4) is behind the cursor"
        );
        drop(again);
    }

    /// A subscriber that comes while the follower turned idle but before its head is read
    /// keeps the follower from reading from its stale cursor: it waits for the resume point.
    #[tokio::test]
    async fn a_subscriber_finding_its_start_holds_the_follower_back() {
        let bus = EventBus::idle(false, Following::Idle);
        let rx = bus.tx.subscribe();
        assert_eq!(bus.read_from(0), None, "no resume point yet: no read");
        *bus.state() = Following::Resume(9);
        assert_eq!(bus.read_from(0), Some(9));
        drop(rx);
    }
}
