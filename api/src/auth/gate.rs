//! Revoked tokens and disabled clients, held in memory on every instance, so that accepting a
//! token costs no statement; and Sangam's own verified tokens, remembered until they expire.
//!
//! # Keeping the sets current
//!
//! The durable state stays where it was: `revoked_token` and `oauth_client.disabled`. Every
//! write to them also announces the change (`announce`): on PostgreSQL a `pg_notify` on
//! [`CHANNEL`] sent in the write's own transaction, so it goes out exactly when the change
//! commits. Each instance's watcher LISTENs on that channel, then loads both sets, then applies
//! the announcements in the order they arrive (PostgreSQL delivers them in commit order).
//!
//! We chose NOTIFY over the durable event log (`events/log.rs`) because the announcement needs no
//! durability of its own: the tables are the durable record, and an instance that may have
//! missed announcements (its listener reconnected) simply loads the tables again. Events in the
//! log would be read by every subscription follower and webhook dispatcher, which would have to
//! skip them, and they carry a state and village that these changes do not have.
//!
//! # Within one second, or not at all
//!
//! A notification can be lost without the listener noticing at once (a connection that hangs
//! rather than breaks). So the watcher also sends itself a heartbeat on the same channel every
//! [`BEAT`], stamped with the moment it was sent. Notifications reach a listener in commit order,
//! so when a heartbeat sent at `t` arrives, every change committed before `t` has arrived and has
//! been applied: the sets are *current as of `t`*. The sets are used only while they are current
//! as of less than [`WINDOW`] ago; otherwise (no heartbeat for a while, a reconnect, the sets
//! not yet loaded) every token is checked against the database, exactly as before, with one
//! statement. A change committed at `c` is therefore in force everywhere from `c + WINDOW`
//! (900 ms) on, and at once on the instance that made it (revocation through `/oauth/revoke`).
//! Nine heartbeats fit in the window, so a busy instance rarely falls back to the statement.
//! Right after LISTEN and a load that began at `t`, the sets are current as of `t` too.
//!
//! On SQLite (one server, but `sangam client disable` may run in another process) the watcher
//! reloads both sets every [`BEAT`]; a reload that started at `t` makes them current as of `t`.
//!
//! Both watchers read through a connection without the statement counter, so `/metrics` and
//! the tests' statement counts show what requests cost.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::Utc;
use entities::{oauth_client, revoked_token};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};

use crate::principal::Principal;

/// The PostgreSQL channel revocations, client changes and heartbeats travel on.
pub const CHANNEL: &str = "sangam_auth";

/// How often a watcher sends its heartbeat (PostgreSQL) or reloads the sets (SQLite).
pub const BEAT: Duration = Duration::from_millis(100);

/// How old the sets may be (since the moment they were last known current) and still be used.
pub const WINDOW: Duration = Duration::from_millis(900);

/// Most tokens remembered; past it, expired ones go, and if none had, all of them.
const MAX_TOKENS: usize = 50_000;

/// A change to announce to every instance.
#[derive(Debug, Clone)]
pub enum Change<'a> {
    /// A token was revoked; it expires at `exp` (unix seconds).
    Revoked { jti: &'a str, exp: i64 },
    /// A client was added, disabled or enabled.
    Client { client_id: &'a str, disabled: bool },
}

impl Change<'_> {
    fn payload(&self) -> String {
        match self {
            Self::Revoked { jti, exp } => format!("r:{exp}:{jti}"),
            Self::Client {
                client_id,
                disabled,
            } => format!("c:{}:{client_id}", u8::from(*disabled)),
        }
    }
}

/// Announces `change` to every instance's watcher. Call it inside the transaction that makes
/// the change (PostgreSQL sends the notification when, and only if, it commits). On SQLite it
/// does nothing: the watcher reloads.
pub async fn announce(conn: &impl ConnectionTrait, change: Change<'_>) -> Result<(), DbErr> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), change.payload().into()],
        ))
        .await?;
    }
    Ok(())
}

#[derive(Default)]
struct Sets {
    /// Revoked jtis and when each token expires (unix seconds).
    revoked: HashMap<String, i64>,
    /// Every client, and whether it is disabled.
    clients: HashMap<String, bool>,
}

/// What the gate says about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Revoked,
    Disabled,
    /// The sets are not current (or do not know the client): ask the database.
    Unknown,
}

pub struct Gate {
    sets: Mutex<Sets>,
    /// Microseconds after `epoch` as of which the sets are current; 0: not current.
    current_as_of: AtomicU64,
    epoch: Instant,
    tokens: Mutex<HashMap<[u8; 32], Remembered>>,
}

#[derive(Clone)]
struct Remembered {
    principal: Principal,
    /// The signing key's id: the token stands only while its key is live.
    kid: String,
    jti: String,
    client_id: String,
    exp: i64,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            sets: Mutex::default(),
            current_as_of: AtomicU64::new(0),
            epoch: Instant::now(),
            tokens: Mutex::default(),
        }
    }
}

fn token_key(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl Gate {
    fn now_micros(&self) -> u64 {
        // Never 0, which means "not current".
        u64::try_from(self.epoch.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn sets(&self) -> std::sync::MutexGuard<'_, Sets> {
        // Only plain maps behind the lock: a panic elsewhere cannot leave them half-changed.
        self.sets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the sets may be used now.
    pub fn is_current(&self) -> bool {
        let as_of = self.current_as_of.load(Ordering::Acquire);
        as_of != 0
            && self.now_micros().saturating_sub(as_of)
                < u64::try_from(WINDOW.as_micros()).unwrap_or(u64::MAX)
    }

    /// Whether a token with `jti` of `client_id` may be accepted, by the sets alone.
    pub fn check(&self, jti: &str, client_id: &str) -> Verdict {
        if !self.is_current() {
            return Verdict::Unknown;
        }
        let sets = self.sets();
        if sets.revoked.contains_key(jti) {
            return Verdict::Revoked;
        }
        match sets.clients.get(client_id) {
            Some(false) => Verdict::Allowed,
            Some(true) => Verdict::Disabled,
            None => Verdict::Unknown,
        }
    }

    /// The principal of a token verified earlier and not expired, and its signing key's id, if
    /// the sets still allow it.
    pub fn remembered(&self, token: &str) -> Option<Result<(Principal, String), Verdict>> {
        let found = self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&token_key(token))
            .cloned()?;
        if found.exp <= Utc::now().timestamp() {
            return None;
        }
        match self.check(&found.jti, &found.client_id) {
            Verdict::Allowed => Some(Ok((found.principal, found.kid))),
            Verdict::Unknown => None,
            refused => Some(Err(refused)),
        }
    }

    /// Remembers a token that was just verified and allowed, until it expires.
    pub fn remember(
        &self,
        token: &str,
        principal: &Principal,
        kid: &str,
        jti: &str,
        client_id: &str,
    ) {
        let Some(exp) = principal.expires_at else {
            return;
        };
        let now = Utc::now().timestamp();
        if exp <= now {
            return;
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= MAX_TOKENS {
            tokens.retain(|_, t| t.exp > now);
            if tokens.len() >= MAX_TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            token_key(token),
            Remembered {
                principal: principal.clone(),
                kid: kid.to_owned(),
                jti: jti.to_owned(),
                client_id: client_id.to_owned(),
                exp,
            },
        );
    }

    /// How many tokens are remembered (for tests).
    pub fn remembered_tokens(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Applies a revocation this instance just committed, before any announcement arrives.
    pub fn revoked_here(&self, jti: &str, exp: i64) {
        self.sets().revoked.insert(jti.to_owned(), exp);
    }

    fn apply(&self, payload: &str) {
        let mut parts = payload.splitn(3, ':');
        let (Some(kind), Some(value), Some(name)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let mut sets = self.sets();
        match kind {
            "r" => {
                if let Ok(exp) = value.parse() {
                    sets.revoked.insert(name.to_owned(), exp);
                }
            }
            "c" => {
                sets.clients.insert(name.to_owned(), value == "1");
            }
            _ => {}
        }
    }

    fn replace(&self, fresh: Sets) {
        *self.sets() = fresh;
    }

    /// Forgets revocations of tokens that have expired anyway.
    fn prune(&self) {
        // The verifier allows this much clock skew on `exp`; keep revocations that long.
        let until = Utc::now().timestamp() - 300;
        self.sets().revoked.retain(|_, exp| *exp > until);
    }

    fn mark_current(&self, as_of_micros: u64) {
        self.current_as_of.fetch_max(as_of_micros, Ordering::AcqRel);
    }

    fn mark_stale(&self) {
        self.current_as_of.store(0, Ordering::Release);
    }

    /// Starts the watcher that keeps the sets current (see the module's notes).
    pub fn start(self: &Arc<Self>, db: &DatabaseConnection) {
        // A connection over the same pool without the statement counter.
        let quiet = match db.get_database_backend() {
            DbBackend::Postgres => sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
                db.get_postgres_connection_pool().clone(),
            ),
            _ => sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(
                db.get_sqlite_connection_pool().clone(),
            ),
        };
        let gate = self.clone();
        if quiet.get_database_backend() == DbBackend::Postgres {
            tokio::spawn(async move { watch_postgres(gate, quiet).await });
        } else {
            tokio::spawn(async move { watch_sqlite(gate, quiet).await });
        }
    }
}

/// Both sets as the database holds them now.
async fn load(db: &DatabaseConnection) -> Result<Sets, DbErr> {
    let since = Utc::now() - chrono::Duration::seconds(300);
    let revoked: Vec<(String, chrono::DateTime<Utc>)> = revoked_token::Entity::find()
        .filter(revoked_token::Column::ExpiresAt.gt(since))
        .select_only()
        .column(revoked_token::Column::Jti)
        .column(revoked_token::Column::ExpiresAt)
        .into_tuple()
        .all(db)
        .await?;
    let clients: Vec<(String, bool)> = oauth_client::Entity::find()
        .select_only()
        .column(oauth_client::Column::ClientId)
        .column(oauth_client::Column::Disabled)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Sets {
        revoked: revoked
            .into_iter()
            .map(|(jti, exp)| (jti, exp.timestamp()))
            .collect(),
        clients: clients.into_iter().collect(),
    })
}

async fn watch_sqlite(gate: Arc<Gate>, db: DatabaseConnection) {
    let mut every = tokio::time::interval(BEAT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let started = gate.now_micros();
        match load(&db).await {
            Ok(sets) => {
                gate.replace(sets);
                gate.mark_current(started);
            }
            Err(_) if crate::db::closed(&db) => return,
            // The sets go stale on their own after WINDOW; tokens are then checked exactly.
            Err(e) => tracing::warn!(error = %e, "cannot load revocations"),
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn watch_postgres(gate: Arc<Gate>, db: DatabaseConnection) {
    use sea_orm::sqlx::postgres::PgPoolOptions;
    let instance = uuid::Uuid::new_v4().simple().to_string();
    let beat_prefix = format!("h:{instance}:");
    let options = (*db.get_postgres_connection_pool().connect_options()).clone();
    loop {
        gate.mark_stale();
        // Two connections of their own: one listens, one sends heartbeats.
        let pool = match PgPoolOptions::new()
            .max_connections(2)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await
        {
            Ok(pool) => pool,
            Err(e) => {
                tracing::warn!(error = %e, "revocation listener cannot connect");
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
        };
        if let Err(e) = listen(&gate, &db, &pool, &beat_prefix).await {
            if crate::db::closed(&db) {
                pool.close().await;
                return;
            }
            tracing::warn!(error = %e, "revocation listener lost its connection");
        }
        gate.mark_stale();
        pool.close().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One connection's life: LISTEN, load, then apply announcements until the connection breaks.
async fn listen(
    gate: &Arc<Gate>,
    db: &DatabaseConnection,
    pool: &sea_orm::sqlx::PgPool,
    beat_prefix: &str,
) -> anyhow::Result<()> {
    use sea_orm::sqlx::postgres::PgListener;
    let mut listener = PgListener::connect_with(pool).await?;
    listener.ignore_pool_close_event(true);
    listener.listen(CHANNEL).await?;
    // Loaded after LISTEN: whatever commits from here on is also announced, and is applied
    // after the load. So the sets are current as of the moment the load began.
    let started = gate.now_micros();
    gate.replace(load(db).await?);
    gate.mark_current(started);
    let beats = {
        let (gate, pool, prefix) = (gate.clone(), pool.clone(), beat_prefix.to_owned());
        AbortOnDrop(tokio::spawn(async move {
            let mut every = tokio::time::interval(BEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let beat = format!("{prefix}{}", gate.now_micros());
                if let Err(e) = sea_orm::sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(beat)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "cannot send the revocation heartbeat");
                }
                gate.prune();
            }
        }))
    };
    loop {
        // Heartbeats stop arriving if the connection hangs; then the sets go stale on their
        // own, and after a few missed beats the connection is given up and made anew.
        let next = tokio::time::timeout(BEAT * 20, listener.try_recv()).await;
        let Ok(next) = next else {
            drop(beats);
            anyhow::bail!("no heartbeat for {:?}", BEAT * 20);
        };
        let Some(note) = next? else {
            drop(beats);
            anyhow::bail!("connection closed");
        };
        let payload = note.payload();
        if let Some(sent) = payload.strip_prefix(beat_prefix) {
            if let Ok(sent) = sent.parse() {
                gate.mark_current(sent);
            }
        } else if !payload.starts_with("h:") {
            gate.apply(payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_change_the_sets_and_stale_sets_decide_nothing() {
        let gate = Gate::default();
        gate.replace(Sets {
            revoked: HashMap::new(),
            clients: [("a".to_owned(), false)].into_iter().collect(),
        });
        assert_eq!(gate.check("j1", "a"), Verdict::Unknown, "never current");
        gate.mark_current(gate.now_micros());
        assert_eq!(gate.check("j1", "a"), Verdict::Allowed);
        assert_eq!(gate.check("j1", "b"), Verdict::Unknown, "unknown client");
        gate.apply(&Change::Revoked { jti: "j1", exp: 1 }.payload());
        assert_eq!(gate.check("j1", "a"), Verdict::Revoked);
        gate.apply(
            &Change::Client {
                client_id: "a",
                disabled: true,
            }
            .payload(),
        );
        assert_eq!(gate.check("j2", "a"), Verdict::Disabled);
        gate.apply("c:0:a:with:colons");
        assert_eq!(gate.check("j2", "a:with:colons"), Verdict::Allowed);
        gate.mark_stale();
        assert_eq!(gate.check("j2", "a:with:colons"), Verdict::Unknown);
    }
}
