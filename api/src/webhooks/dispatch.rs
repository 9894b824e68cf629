//! From the event log to deliveries.
//!
//! The dispatcher reads the log after its cursor (`events::log::read_after`, which returns only
//! events safe to consume in order) and creates one delivery per (webhook, event) whose owner
//! may see the row, with the body fixed then, as the owner reads it. Reads happen before the
//! short write transaction (in-memory SQLite has a single connection). Instances may dispatch
//! the same events at the same time: a delivery is unique per (webhook, event), so the second
//! insert is a no-op, and the cursor only moves forward.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{TimeDelta, Utc};
use entities::{
    assignment, task, village, water_quality_test, webhook, webhook_cursor,
    webhook_delivery::{self, WebhookDeliveryStatus as Status},
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait,
    sea_query::{Expr, OnConflict},
};
use tokio::sync::broadcast::error::RecvError;

use super::{
    Entity, EventKind, Filter, Settings, Webhooks, cursor,
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

pub async fn run(db: DatabaseConnection, hooks: Webhooks, bus: EventBus) {
    let schema = graphql::schema(Limits::default());
    let mut rx = bus.subscribe();
    loop {
        match step(&db, &schema, &hooks.settings).await {
            Ok((read, created)) => {
                if created > 0 {
                    hooks.wake.notify_one();
                }
                if read as u64 >= STEP {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "webhook dispatch failed"),
        }
        // Any committed event (on any instance) is a reason to look; the poll covers events
        // whose wake-up was missed.
        tokio::select! {
            got = rx.recv() => if let Err(RecvError::Closed) = got {
                tokio::time::sleep(hooks.settings.poll).await;
            },
            () = tokio::time::sleep(hooks.settings.poll) => {}
        }
    }
}

/// Dispatches the next events; returns how many it read and how many deliveries it created.
pub async fn step(
    db: &DatabaseConnection,
    schema: &AppSchema,
    settings: &Settings,
) -> anyhow::Result<(usize, usize)> {
    let after = cursor(db).await?;
    let events = read_after(db, after, STEP).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok((0, 0));
    };
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Enabled.eq(true))
        .all(db)
        .await?;
    let now = Utc::now();
    let until = now + TimeDelta::from_std(settings.retry_window).unwrap_or(TimeDelta::days(1));
    let mut owners: HashMap<&str, Acting> = HashMap::new();
    let mut rows = Vec::new();
    for logged in &events {
        let (Some(kind), Some(entity)) = (
            EventKind::parse(&logged.kind),
            Entity::parse(&logged.entity),
        ) else {
            continue;
        };
        let event = EventRef {
            id: logged.id,
            kind,
            entity,
            entity_id: logged.entity_id,
            version: logged.version,
            at: logged.at,
            changes: logged.payload.clone(),
        };
        // The body is read once per owner, the filter checked once per owner and filter.
        let mut bodies: HashMap<&str, Option<String>> = HashMap::new();
        let mut passes: HashMap<(&str, &str), bool> = HashMap::new();
        for hook in &hooks {
            if hook.after_event >= event.id || !EventKind::split(&hook.event_kinds).contains(&kind)
            {
                continue;
            }
            if let Entry::Vacant(e) = owners.entry(hook.owner.as_str()) {
                e.insert(acting(db, &hook.owner).await?);
            }
            let Some(Acting::As(who)) = owners.get(hook.owner.as_str()) else {
                continue;
            };
            let svc = Service::new(db.clone(), who.clone());
            if let Entry::Vacant(e) = bodies.entry(hook.owner.as_str()) {
                e.insert(payload::body(schema, svc.clone(), &event).await?);
            }
            let Some(Some(body)) = bodies.get(hook.owner.as_str()) else {
                continue;
            };
            if let Some(filter) = hook.filter.as_deref() {
                let key = (hook.owner.as_str(), filter);
                if let Entry::Vacant(e) = passes.entry(key) {
                    e.insert(matches(&svc, filter, &event).await?);
                }
                if passes.get(&key) != Some(&true) {
                    continue;
                }
            }
            rows.push(webhook_delivery::ActiveModel {
                webhook_id: Set(hook.id),
                event_id: Set(event.id),
                event_kind: Set(kind.as_str().to_owned()),
                message_id: Set(format!("msg_{}_{}", event.id, hook.id)),
                entity: Set(entity.as_str().to_owned()),
                entity_id: Set(event.entity_id),
                payload: Set(body.clone()),
                status: Set(Status::Pending),
                attempts: Set(0),
                next_attempt_at: Set(now),
                retry_until: Set(until),
                lease_until: Set(None),
                created_at: Set(now),
                finished_at: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                ..Default::default()
            });
        }
    }
    let created = rows.len();
    let txn = db.begin().await?;
    for chunk in rows.chunks(200) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    webhook_delivery::Column::WebhookId,
                    webhook_delivery::Column::EventId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    webhook_cursor::Entity::update_many()
        .col_expr(webhook_cursor::Column::LastEventId, Expr::value(last))
        .col_expr(webhook_cursor::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_cursor::Column::Id.eq(1))
        .filter(webhook_cursor::Column::LastEventId.lt(last))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok((events.len(), created))
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
    })
}
