//! From the event log to deliveries.
//!
//! The dispatcher reads the log after its cursor (`events::log::read_after`, which returns only
//! events safe to consume in order) and creates one delivery per (webhook, event) whose owner
//! may see the row, with the body fixed then, as the owner reads it. The work is per batch of
//! events, not per webhook: each owner's bodies are read together (one GraphQL request per
//! forty events), and the deliveries are created by one `INSERT … SELECT` that sends each body
//! once and joins it with the webhooks that get it. Reads happen before the short write
//! transaction (in-memory SQLite has a single connection). Instances may dispatch
//! the same events at the same time: a delivery is unique per (webhook, event), so the second
//! insert is a no-op, and the cursor only moves forward.
//!
//! While no webhook is enabled the dispatcher reads no events and ignores wake-ups: each poll
//! it moves the cursor to the log's head (`skip_to_head`): one statement to see there is no
//! webhook, and when something was committed since, the head and one update, however many
//! writes there were. Otherwise every write would cost it a read of the cursor, of the log and
//! of the webhooks and a transaction to move the cursor, on connections of its own, competing
//! with the writers.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{DateTime, TimeDelta, Utc};
use entities::{assignment, scheme, task, village, water_quality_test, webhook, webhook_cursor};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Statement, TransactionTrait, sea_query::Expr,
};

use super::{
    Entity, EventKind, Filter, Settings, Stop, Webhooks, cursor,
    owner::{Acting, acting},
    payload::{self, EventRef},
};
use crate::{
    events::{EventBus, log::read_after},
    graphql::{self, AppSchema, Limits},
    service::Service,
};

/// Events read per step.
const STEP: u64 = 500;

pub async fn run(db: DatabaseConnection, hooks: Webhooks, bus: EventBus, mut stop: Stop) {
    let schema = graphql::schema(Limits::default());
    let mut wake = bus.wake_ups();
    // Whether something may have been committed since the last step that succeeded.
    let mut behind = true;
    // A step under way when the stop comes is finished (it is one short transaction); events
    // not yet dispatched are in the log, after the cursor, for the next start.
    while !stop.is_requested() {
        // Seen before the step reads: the step reads every event committed so far, so the
        // wake-ups already queued need no step of their own, and one arriving during the step
        // asks for one more.
        behind |= wake.has_changed().unwrap_or(true);
        wake.borrow_and_update();
        let stepped = step(&db, &schema, &hooks.settings, behind).await;
        behind &= stepped.is_err();
        let heed_wake_ups = match stepped {
            Ok(Stepped::Dispatched { read, created }) => {
                if created > 0 {
                    hooks.wake.notify_one();
                }
                if read as u64 >= STEP {
                    continue;
                }
                true
            }
            // Nothing to dispatch to: a write is no reason to look, the poll is soon enough
            // to move the cursor on and to notice a webhook registered meanwhile.
            Ok(Stepped::NoWebhooks) => false,
            Err(e) => {
                tracing::warn!(error = %e, "webhook dispatch failed");
                true
            }
        };
        // Any committed event (on any instance) is a reason to look; the poll covers events
        // whose wake-up was missed.
        tokio::select! {
            changed = wake.changed(), if heed_wake_ups => {
                if changed.is_err() {
                    tokio::time::sleep(hooks.settings.poll).await;
                }
            }
            () = tokio::time::sleep(hooks.settings.poll) => {}
            () = stop.requested() => {}
        }
    }
}

/// What a [`step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stepped {
    /// No webhook is enabled: no event was read, the cursor moved to the log's head.
    NoWebhooks,
    /// Read this many events and created this many deliveries.
    Dispatched { read: usize, created: usize },
}

/// Dispatches the next events. `behind`: whether anything may have been committed since the
/// last step that succeeded (a wake-up came, or this is the first); without it, and with no
/// webhook enabled, the cursor is already at the head and only the webhooks are looked at.
pub async fn step(
    db: &DatabaseConnection,
    schema: &AppSchema,
    settings: &Settings,
    behind: bool,
) -> anyhow::Result<Stepped> {
    // A hint only (a webhook may be registered the next moment): what makes skipping sound is
    // the order `skip_to_head` reads and writes in, and, on the path below, reading the events
    // before the webhooks.
    let any = webhook::Entity::find()
        .filter(webhook::Column::Enabled.eq(true))
        .one(db)
        .await?
        .is_some();
    if !any {
        if behind {
            skip_to_head(db).await?;
        }
        return Ok(Stepped::NoWebhooks);
    }
    let after = cursor(db).await?;
    let events = read_after(db, after, STEP).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(Stepped::Dispatched {
            read: 0,
            created: 0,
        });
    };
    let read = events.len();
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Enabled.eq(true))
        .all(db)
        .await?;
    let now = Utc::now();
    let until = now + TimeDelta::from_std(settings.retry_window).unwrap_or(TimeDelta::days(1));
    let events: Vec<EventRef> = events
        .iter()
        .filter_map(|logged| {
            Some(EventRef {
                id: logged.id,
                kind: EventKind::parse(&logged.kind)?,
                entity: Entity::parse(&logged.entity)?,
                entity_id: logged.entity_id,
                version: logged.version,
                at: logged.at,
                changes: logged.payload.clone(),
            })
        })
        .collect();
    let wants = |hook: &webhook::Model, event: &EventRef| {
        hook.after_event < event.id && EventKind::split(&hook.event_kinds).contains(&event.kind)
    };

    // Who each owner acts as, and the events some webhook of theirs wants.
    let mut owners: HashMap<&str, Acting> = HashMap::new();
    let mut wanted: HashMap<&str, Vec<usize>> = HashMap::new();
    for hook in &hooks {
        if let Entry::Vacant(e) = owners.entry(hook.owner.as_str()) {
            e.insert(acting(db, &hook.owner).await?);
        }
    }
    for (i, event) in events.iter().enumerate() {
        let mut owners_of_event: Vec<&str> = hooks
            .iter()
            .filter(|h| wants(h, event))
            .map(|h| h.owner.as_str())
            .collect();
        owners_of_event.sort_unstable();
        owners_of_event.dedup();
        for owner in owners_of_event {
            wanted.entry(owner).or_default().push(i);
        }
    }

    // Each body once per (event, owner), read together per owner; then the (webhook, body)
    // pairs that fan them out.
    let mut bodies: Vec<Body> = Vec::new();
    let mut body_of: HashMap<(&str, usize), usize> = HashMap::new();
    for (owner, indexes) in &wanted {
        let Some(Acting::As(who)) = owners.get(owner) else {
            continue;
        };
        let svc = Service::new(db.clone(), who.clone());
        let refs: Vec<&EventRef> = indexes.iter().map(|&i| &events[i]).collect();
        let read = payload::bodies(schema, svc, &refs).await?;
        for (&i, body) in indexes.iter().zip(read) {
            let Some(body) = body else { continue };
            let event = &events[i];
            body_of.insert((*owner, i), bodies.len());
            bodies.push(Body {
                event_id: event.id,
                kind: event.kind.as_str(),
                entity: event.entity.as_str(),
                entity_id: event.entity_id,
                body,
            });
        }
    }
    let mut pairs: Vec<(i64, usize)> = Vec::new();
    // The filter checked once per owner, filter and event.
    let mut passes: HashMap<(&str, &str, usize), bool> = HashMap::new();
    for (i, event) in events.iter().enumerate() {
        for hook in &hooks {
            if !wants(hook, event) {
                continue;
            }
            let owner = hook.owner.as_str();
            let Some(&body) = body_of.get(&(owner, i)) else {
                continue;
            };
            if let Some(filter) = hook.filter.as_deref() {
                let key = (owner, filter, i);
                if let Entry::Vacant(e) = passes.entry(key) {
                    let Some(Acting::As(who)) = owners.get(owner) else {
                        continue;
                    };
                    let svc = Service::new(db.clone(), who.clone());
                    e.insert(matches(&svc, filter, event).await?);
                }
                if passes.get(&key) != Some(&true) {
                    continue;
                }
            }
            pairs.push((hook.id, body));
        }
    }
    let created = pairs.len();
    let txn = db.begin().await?;
    fan_out(&txn, &bodies, &pairs, now, until).await?;
    webhook_cursor::Entity::update_many()
        .col_expr(webhook_cursor::Column::LastEventId, Expr::value(last))
        .col_expr(webhook_cursor::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_cursor::Column::Id.eq(1))
        .filter(webhook_cursor::Column::LastEventId.lt(last))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(Stepped::Dispatched { read, created })
}

/// With no webhook enabled, moves the cursor to the log's head without reading the events: no
/// webhook wants them (a webhook registered later starts after the head of its time), so the
/// dispatcher need never read them, now or once a webhook is registered.
///
/// The cursor must not pass an event an enabled webhook wants. The head is final when it is
/// read (`log::head`: nothing at or below it commits later), and the cursor moves only if, in
/// the same statement, there is still no enabled webhook. So a webhook that statement did not
/// see was enabled after it, and so after every event it skips; one it would have seen keeps
/// the cursor where it is, for the next step to dispatch from.
async fn skip_to_head(db: &DatabaseConnection) -> Result<(), DbErr> {
    let head = crate::events::log::head(db).await?;
    let backend = db.get_database_backend();
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let sql = format!(
        "UPDATE webhook_cursor SET last_event_id = {p1}, updated_at = {p2} \
         WHERE id = 1 AND last_event_id < {p1} \
         AND NOT EXISTS (SELECT 1 FROM webhook WHERE enabled)"
    );
    let values: Vec<sea_orm::Value> = match backend {
        DbBackend::Postgres => vec![head.into(), Utc::now().into()],
        _ => vec![head.into(), Utc::now().into(), head.into()],
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// One message body: an event as one owner reads it.
struct Body {
    event_id: i64,
    kind: &'static str,
    entity: &'static str,
    entity_id: i64,
    body: String,
}

/// Bodies per fan-out statement (three parameters each, well under both databases' limits).
const BODIES_PER_STATEMENT: usize = 300;

/// Creates the deliveries: one `INSERT … SELECT` per batch of bodies, joining the bodies (sent
/// once each) with the webhooks that get them (pairs of integers), so a body shared by fifty
/// webhooks crosses to the database once. A delivery that already exists (another instance
/// dispatched the same event) is left alone.
async fn fan_out(
    txn: &impl ConnectionTrait,
    bodies: &[Body],
    pairs: &[(i64, usize)],
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for (chunk_no, chunk) in bodies.chunks(BODIES_PER_STATEMENT).enumerate() {
        let first = chunk_no * BODIES_PER_STATEMENT;
        let range = first..first + chunk.len();
        let hooks: Vec<String> = pairs
            .iter()
            .filter(|(_, b)| range.contains(b))
            .map(|(hook, b)| format!("({hook}, {b})"))
            .collect();
        if hooks.is_empty() {
            continue;
        }
        let mut n = 0;
        let mut param = || {
            n += 1;
            match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_owned(),
            }
        };
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 3 + 2);
        let mut rows = Vec::with_capacity(chunk.len());
        for (i, b) in chunk.iter().enumerate() {
            // Integers inline (they come from the database); text as parameters.
            rows.push(format!(
                "({}, {}, {}, {}, {}, {})",
                first + i,
                b.event_id,
                param(),
                param(),
                b.entity_id,
                param(),
            ));
            values.push(b.kind.into());
            values.push(b.entity.into());
            values.push(b.body.clone().into());
        }
        // One parameter per placeholder: SQLite's `?` are positional.
        let (at, due, created) = (param(), param(), param());
        values.push(now.into());
        values.push(until.into());
        values.push(now.into());
        // `WHERE true` keeps SQLite from reading `ON CONFLICT` as part of the join.
        let sql = format!(
            "WITH b(slot, event_id, kind, entity, entity_id, body) AS (VALUES {}), \
                  p(hook, slot) AS (VALUES {}) \
             INSERT INTO webhook_delivery (webhook_id, event_id, event_kind, message_id, entity, \
               entity_id, payload, status, attempts, next_attempt_at, retry_until, created_at) \
             SELECT p.hook, b.event_id, b.kind, 'msg_' || b.event_id || '_' || p.hook, b.entity, \
               b.entity_id, b.body, 'PENDING', 0, {at}, {due}, {created} \
             FROM p JOIN b ON b.slot = p.slot WHERE true \
             ON CONFLICT (webhook_id, event_id) DO NOTHING",
            rows.join(", "),
            hooks.join(", "),
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Whether the event's row meets the webhook's filter, read through the owner's row scope.
async fn matches(svc: &Service, filter: &str, event: &EventRef) -> anyhow::Result<bool> {
    let Ok(filter) = serde_json::from_str::<Filter>(filter) else {
        return Ok(false);
    };
    let id = event.entity_id;
    let cond = filter.condition(event.entity)?;
    Ok(match event.entity {
        Entity::Task => svc
            .find_one::<task::Entity>(cond.add(task::Column::Id.eq(id)))
            .await?
            .is_some(),
        Entity::Assignment => svc
            .find_one::<assignment::Entity>(cond.add(assignment::Column::Id.eq(id)))
            .await?
            .is_some(),
        Entity::WaterQualityTest => svc
            .find_one::<water_quality_test::Entity>(cond.add(water_quality_test::Column::Id.eq(id)))
            .await?
            .is_some(),
        Entity::Village => svc
            .find_one::<village::Entity>(cond.add(village::Column::Id.eq(id)))
            .await?
            .is_some(),
        Entity::Scheme => svc
            .find_one::<scheme::Entity>(cond.add(scheme::Column::Id.eq(id)))
            .await?
            .is_some(),
    })
}
