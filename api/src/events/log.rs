//! The durable event log: every committed change, appended in the write's own transaction, read
//! back in commit order by subscribers and webhooks.
//!
//! # Reading in commit order
//!
//! `id` is the cursor, so a reader that has handed out event `n` must never later find an event
//! below `n` committed. On SQLite that holds by construction: a write transaction holds the
//! database's write lock from its first write to its commit, so ids are taken in commit order.
//!
//! On PostgreSQL it does not: ids come from a sequence when the row is inserted, and two
//! writers may commit in the other order, so a reader can see 100 while 99 is still in flight.
//! Of the sound ways to handle that we chose a shared advisory lock held by appenders:
//!
//! - every append takes `pg_advisory_xact_lock_shared(LOCK)` *before* its id is drawn (in the same
//!   statement, from a materialised CTE that the insert reads first), and holds it until its
//!   transaction ends. Appenders share the lock, so they never wait for each other.
//! - a reader reads the committed rows after its cursor. When their ids run on from the cursor
//!   without a gap, nothing can later appear between them and they are final: the common case,
//!   one statement. When there is a gap, an id below the highest one read may belong to a
//!   writer still in flight. Such a writer drew its id before the highest row's writer
//!   committed, so it held the lock before the reader looked; the reader therefore lists the
//!   transactions holding the lock *after* reading, waits until each of them has ended, and
//!   reads the same id range again. Writers that take the lock later draw higher ids, so the
//!   reader never waits for them and is never starved by a steady stream of writes.
//!
//! Why not the others: re-scanning a trailing window by time guesses how long a transaction
//! may take (a slow one is skipped for ever); filtering rows by their transaction id against
//! `pg_snapshot_xmin` is sound only with an `(xid, id)` cursor, because a transaction with an
//! older xid may draw a higher id than a younger one; and serialising appenders with an
//! exclusive lock would queue every write behind the slowest commit. The price of this choice:
//! a reader that meets a gap waits for the transactions appending at that moment, so one slow
//! write (a large import in one transaction) delays delivery, never loses it.
//!
//! # Waking readers
//!
//! On PostgreSQL an append also queues `pg_notify` on [`CHANNEL`], in the statement that takes
//! the lock, so every instance's readers hear of the commit without a round trip of its own and
//! whoever appends (a request, an import, the CLI) wakes them. SQLite has one process: the
//! writer wakes its readers after commit (`EventBus::committed`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use entities::event_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, Value,
};

use super::CHANNEL;

/// The advisory lock appenders share on PostgreSQL: `('Sang', 1)` in its two-key form.
const LOCK: (i32, i32) = (0x5361_6e67, 1);

/// One committed change as the log holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedEvent {
    pub id: i64,
    pub kind: String,
    pub entity: String,
    pub entity_id: i64,
    pub version: i32,
    pub state_id: i64,
    pub district_id: Option<i64>,
    pub village_id: Option<i64>,
    pub actor_sub: String,
    pub at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// A change to append: everything but its id, actor and time, which the log assigns.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// A dotted name: `task.transitioned`, `village.hgj_certified`…
    pub kind: &'static str,
    /// `task`, `assignment`, `water_quality_test` or `village`.
    pub entity: &'static str,
    pub entity_id: i64,
    pub version: i32,
    pub state_id: i64,
    pub district_id: Option<i64>,
    pub village_id: Option<i64>,
    /// A JSON object of the changed fields.
    pub payload: serde_json::Value,
}

impl From<event_log::Model> for LoggedEvent {
    fn from(m: event_log::Model) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            entity: m.entity,
            entity_id: m.entity_id,
            version: m.version,
            state_id: m.state_id,
            district_id: m.district_id,
            village_id: m.village_id,
            actor_sub: m.actor_sub,
            at: m.at,
            // The log only holds what `append` wrote; a row edited by hand reads as no fields.
            payload: serde_json::from_str(&m.payload).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// Appends `event` by `actor_sub` and returns its id. Call it inside the write's transaction
/// (`Tx` does, at commit), so the event exists exactly when the change does.
pub async fn append(
    conn: &impl ConnectionTrait,
    actor_sub: &str,
    event: &NewEvent,
) -> Result<i64, DbErr> {
    let payload = event.payload.to_string();
    let at = Utc::now();
    if conn.get_database_backend() != DbBackend::Postgres {
        let row = event_log::ActiveModel {
            kind: Set(event.kind.to_owned()),
            entity: Set(event.entity.to_owned()),
            entity_id: Set(event.entity_id),
            version: Set(event.version),
            state_id: Set(event.state_id),
            district_id: Set(event.district_id),
            village_id: Set(event.village_id),
            actor_sub: Set(actor_sub.to_owned()),
            at: Set(at),
            payload: Set(payload),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        return Ok(row.id);
    }
    // The lock is taken by the CTE, which the insert must read before it computes the row (and
    // so draws the id): see the module's notes. The wake-up rides in the same CTE, so a write of
    // one event makes one round trip for the log, as it made one for its `pg_notify` before the
    // log existed; a notification is sent only when the transaction commits, so where in the
    // transaction it is queued does not matter.
    let sql = "WITH appending AS MATERIALIZED \
               (SELECT pg_advisory_xact_lock_shared($1, $2), pg_notify($13, '')) \
               INSERT INTO event_log \
               (kind, entity, entity_id, version, state_id, district_id, village_id, actor_sub, at, payload) \
               SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM appending RETURNING id";
    let values: Vec<Value> = vec![
        LOCK.0.into(),
        LOCK.1.into(),
        event.kind.into(),
        event.entity.into(),
        event.entity_id.into(),
        event.version.into(),
        event.state_id.into(),
        event.district_id.into(),
        event.village_id.into(),
        actor_sub.into(),
        at.into(),
        payload.into(),
        CHANNEL.into(),
    ];
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("appending an event returned no id".into()))?;
    row.try_get::<i64>("", "id")
}

/// Columns an appended event binds: every column but `id`.
const COLUMNS: usize = 10;

/// Events per multi-row insert in [`append_many`]: 3,000 × 10 = 30,000 bind parameters, under
/// both SQLite's limit (32,766) and PostgreSQL's (65,535).
pub const EVENTS_PER_STATEMENT: usize = 3_000;

/// Appends `events` by `actor_sub`, in order, in multi-row inserts of at most
/// [`EVENTS_PER_STATEMENT`]; returns how many. Their ids rise in the order given. Call it inside
/// the write's transaction, as [`append`]; one event goes through [`append`] (one statement).
///
/// On PostgreSQL the appenders' shared lock is taken once, in its own statement (with the
/// wake-up), before the first insert draws an id, and is held until the transaction ends (an
/// `xact` lock), so every id drawn by every chunk is drawn under it: the guarantee of the
/// module's notes is kept (a reader that finds a gap waits for this transaction). Taking it in
/// the same statement as the insert, as [`append`] does, only saves that round trip. Within one
/// multi-row `VALUES` insert
/// the rows (and so their sequence values) are produced in the listed order, on both databases;
/// chunks run one after the other.
pub async fn append_many(
    conn: &impl ConnectionTrait,
    actor_sub: &str,
    events: &[NewEvent],
) -> Result<usize, DbErr> {
    match events {
        [] => return Ok(0),
        [one] => {
            append(conn, actor_sub, one).await?;
            return Ok(1);
        }
        _ => {}
    }
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres {
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_advisory_xact_lock_shared($1, $2), pg_notify($3, '')",
            [LOCK.0.into(), LOCK.1.into(), CHANNEL.into()],
        ))
        .await?;
    }
    let at = Utc::now();
    let placeholder = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let mut sql = String::with_capacity(160 + chunk.len() * COLUMNS * 7);
        sql.push_str(
            "INSERT INTO event_log \
             (kind, entity, entity_id, version, state_id, district_id, village_id, actor_sub, at, payload) \
             VALUES ",
        );
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * COLUMNS);
        for (i, event) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..COLUMNS {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&placeholder(i * COLUMNS + c + 1));
            }
            sql.push(')');
            values.extend([
                event.kind.into(),
                event.entity.into(),
                event.entity_id.into(),
                event.version.into(),
                event.state_id.into(),
                event.district_id.into(),
                event.village_id.into(),
                actor_sub.into(),
                at.into(),
                event.payload.to_string().into(),
            ]);
        }
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(events.len())
}

async fn rows(
    db: &impl ConnectionTrait,
    after: i64,
    upto: Option<i64>,
    limit: u64,
) -> Result<Vec<event_log::Model>, DbErr> {
    let mut q = event_log::Entity::find().filter(event_log::Column::Id.gt(after));
    if let Some(upto) = upto {
        q = q.filter(event_log::Column::Id.lte(upto));
    }
    q.order_by_asc(event_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Events after `after`, oldest first, at most `limit`: only events that are final, so a
/// reader that continues from the last id returned never misses one that commits later.
///
/// On PostgreSQL this may wait for writes in flight (see the module's notes). Pass a connection
/// or the pool, not a transaction with a fixed snapshot: it must see commits as they happen.
pub async fn read_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<LoggedEvent>, DbErr> {
    let found = rows(db, after, None, limit).await?;
    let Some(last) = found.last().map(|e| e.id) else {
        return Ok(Vec::new());
    };
    let gapless = i64::try_from(found.len()).is_ok_and(|n| last - after == n);
    if gapless || db.get_database_backend() != DbBackend::Postgres {
        return Ok(found.into_iter().map(LoggedEvent::from).collect());
    }
    wait_for_appenders(db).await?;
    let found = rows(db, after, Some(last), limit).await?;
    Ok(found.into_iter().map(LoggedEvent::from).collect())
}

/// The id up to which the log is final now: where a reader that wants only what comes next
/// starts. `0` for an empty log.
pub async fn head(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let last = event_log::Entity::find()
        .order_by_desc(event_log::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map_or(0, |e| e.id);
    if db.get_database_backend() == DbBackend::Postgres {
        wait_for_appenders(db).await?;
    }
    Ok(last)
}

/// Waits until every transaction that holds the appenders' lock now has ended.
async fn wait_for_appenders(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    const HOLDERS: &str = "SELECT virtualtransaction FROM pg_locks \
        WHERE locktype = 'advisory' AND classid = $1::int4::oid AND objid = $2::int4::oid \
        AND objsubid = 2 \
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    let lock: Vec<Value> = vec![LOCK.0.into(), LOCK.1.into()];
    let holders: Vec<String> = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            HOLDERS,
            lock.clone(),
        ))
        .await?
        .iter()
        .map(|r| r.try_get::<String>("", "virtualtransaction"))
        .collect::<Result<_, _>>()?;
    if holders.is_empty() {
        return Ok(());
    }
    let still =
        format!("SELECT count(*) AS n FROM ({HOLDERS}) h WHERE virtualtransaction = ANY($3)");
    let mut pause = Duration::from_millis(1);
    loop {
        let mut values = lock.clone();
        values.push(holders.clone().into());
        let left = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                &still,
                values,
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if left == 0 {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// The oldest id still in the log, if any: a cursor below it asks for pruned events.
pub async fn oldest(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    Ok(event_log::Entity::find()
        .order_by_asc(event_log::Column::Id)
        .limit(1)
        .one(db)
        .await?
        .map(|e| e.id))
}

/// Deletes the events older than `before`; returns how many. The newest event always stays, so
/// a cursor below the oldest one kept can be told from a cursor into a log with no new events.
pub async fn prune(db: &impl ConnectionTrait, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let Some(newest) = event_log::Entity::find()
        .order_by_desc(event_log::Column::Id)
        .limit(1)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    Ok(event_log::Entity::delete_many()
        .filter(event_log::Column::At.lt(before))
        .filter(event_log::Column::Id.lt(newest.id))
        .exec(db)
        .await?
        .rows_affected)
}
