//! The delivery worker every instance runs.
//!
//! A delivery is claimed by setting its lease (and counting the attempt) in one statement; on
//! PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`, so two instances never
//! claim the same attempt, and a claimed row is not due again until its lease runs out. SQLite
//! serves one process, whose single worker claims alone. An instance that stops mid-delivery
//! leaves its lease to expire: the delivery is then due again and another instance (or the same
//! one, restarted) sends it. Receivers see the same `webhook-id` and drop the repeat.
//!
//! Outcomes are written back only while the claim is still ours (the attempt count is the
//! fencing token): an attempt that outlived its lease is recorded but does not overwrite the
//! newer claim's result.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, TimeDelta, Utc};
use entities::{
    assignment, task, village, water_quality_test, webhook, webhook_attempt,
    webhook_delivery::{self, WebhookDeliveryStatus as Status},
};
use futures_util::{StreamExt, stream};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Set, Statement,
    sea_query::{Expr, ExprTrait},
};

use super::{
    Entity, Settings, Webhooks,
    owner::{Acting, acting},
    signing, ssrf,
};
use crate::service::Service;

/// Most deliveries claimed at once.
const BATCH: u64 = 64;
/// Most of a response body kept with an attempt.
pub const MAX_RESPONSE: usize = 1024;

pub async fn run(db: DatabaseConnection, hooks: Webhooks, instance: String) {
    let settings = hooks.settings.clone();
    let client = match ssrf::client(settings.reach, settings.timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery cannot start its HTTP client");
            return;
        }
    };
    loop {
        match round(&db, &settings, &client, &instance).await {
            // A full batch: there may be more due right now.
            Ok(n) if n as u64 >= BATCH => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook delivery round failed"),
        }
        tokio::select! {
            () = hooks.wake.notified() => {}
            () = tokio::time::sleep(settings.poll) => {}
        }
    }
}

/// Claims due deliveries for `lease`, counting the attempt.
pub async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    let backend = db.get_database_backend();
    let until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::seconds(60));
    let (sql, lock) = match backend {
        DbBackend::Postgres => ("$1", "FOR UPDATE OF d SKIP LOCKED"),
        _ => ("?", ""),
    };
    let p = |n: usize| {
        if sql == "?" {
            "?".to_owned()
        } else {
            format!("${n}")
        }
    };
    let text = format!(
        "UPDATE webhook_delivery SET lease_until = {}, attempts = attempts + 1 \
         WHERE id IN (SELECT d.id FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id \
           WHERE d.status = 'PENDING' AND w.enabled AND d.next_attempt_at <= {} \
             AND (d.lease_until IS NULL OR d.lease_until <= {}) \
           ORDER BY d.next_attempt_at LIMIT {} {lock}) \
         RETURNING *",
        p(1),
        p(2),
        p(3),
        p(4),
    );
    let stmt = Statement::from_sql_and_values(
        backend,
        text,
        [until.into(), now.into(), now.into(), (limit as i64).into()],
    );
    webhook_delivery::Entity::find()
        .from_raw_sql(stmt)
        .all(db)
        .await
}

/// One round: claim, check, send, record. Returns how many deliveries it claimed.
async fn round(
    db: &DatabaseConnection,
    settings: &Settings,
    client: &reqwest::Client,
    instance: &str,
) -> anyhow::Result<usize> {
    let claimed = claim(db, Utc::now(), settings.lease, BATCH).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let n = claimed.len();
    let hook_ids: Vec<i64> = claimed.iter().map(|d| d.webhook_id).collect();
    let hooks: HashMap<i64, webhook::Model> = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(hook_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();

    // Who each webhook acts as, and which of its rows that principal still reaches: one
    // statement per webhook and kind of row.
    let mut owners: HashMap<i64, Acting> = HashMap::new();
    let mut visible: HashMap<(i64, Entity), Vec<i64>> = HashMap::new();
    let mut wanted: HashMap<(i64, Entity), Vec<i64>> = HashMap::new();
    for d in &claimed {
        if let Some(e) = Entity::parse(&d.entity) {
            wanted
                .entry((d.webhook_id, e))
                .or_default()
                .push(d.entity_id);
        }
    }
    for ((hook_id, entity), ids) in wanted {
        let Some(hook) = hooks.get(&hook_id) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(e) = owners.entry(hook_id) {
            e.insert(acting(db, &hook.owner).await?);
        }
        let Some(Acting::As(who)) = owners.get(&hook_id) else {
            continue;
        };
        let svc = Service::new(db.clone(), who.clone());
        let seen = reachable(&svc, entity, &ids).await?;
        visible.insert((hook_id, entity), seen);
    }

    let mut sends = Vec::new();
    for d in claimed {
        let Some(hook) = hooks.get(&d.webhook_id) else {
            continue;
        };
        match owners.get(&d.webhook_id) {
            Some(Acting::As(_)) => {}
            Some(Acting::Stopped(why)) => {
                give_up(db, &d, why).await?;
                continue;
            }
            None => {
                give_up(db, &d, "the event names an unknown kind of row").await?;
                continue;
            }
        }
        let in_reach = Entity::parse(&d.entity)
            .and_then(|e| visible.get(&(d.webhook_id, e)))
            .is_some_and(|ids| ids.contains(&d.entity_id));
        if !in_reach {
            // The owner can no longer read the row: the event is not theirs to receive.
            webhook_delivery::Entity::delete_by_id(d.id)
                .exec(db)
                .await?;
            continue;
        }
        sends.push((d, hook.clone()));
    }

    let results: Vec<_> = stream::iter(sends)
        .map(|(d, hook)| async move {
            let started = Utc::now();
            let clock = std::time::Instant::now();
            let outcome = send(client, settings, &hook, &d).await;
            (d, hook, started, clock.elapsed(), outcome)
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    for (d, hook, started, took, outcome) in results {
        record(db, settings, instance, &hook, &d, started, took, outcome).await?;
    }
    Ok(n)
}

/// Which of `ids` the service's principal reaches (row scope, `service::scope`).
async fn reachable(svc: &Service, entity: Entity, ids: &[i64]) -> anyhow::Result<Vec<i64>> {
    Ok(match entity {
        Entity::Task => svc.by_ids::<task::Entity>(ids).await?.into_keys().collect(),
        Entity::Assignment => svc
            .by_ids::<assignment::Entity>(ids)
            .await?
            .into_keys()
            .collect(),
        Entity::WaterQualityTest => svc
            .by_ids::<water_quality_test::Entity>(ids)
            .await?
            .into_keys()
            .collect(),
        Entity::Village => svc
            .by_ids::<village::Entity>(ids)
            .await?
            .into_keys()
            .collect(),
    })
}

/// What one attempt came to.
#[derive(Debug)]
pub struct Outcome {
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response: Option<String>,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

fn failed(error: String) -> Outcome {
    Outcome {
        status: None,
        error: Some(error),
        response: None,
    }
}

/// The error and its causes, which is where reqwest says what went wrong.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

async fn send(
    client: &reqwest::Client,
    settings: &Settings,
    hook: &webhook::Model,
    d: &webhook_delivery::Model,
) -> Outcome {
    let url = match ssrf::check_url(&hook.url, settings.reach) {
        Ok(u) => u,
        Err(e) => return failed(e.0),
    };
    let now = Utc::now();
    let mut secrets = vec![hook.secret.as_str()];
    if let (Some(prev), Some(until)) = (&hook.previous_secret, hook.previous_secret_until)
        && until > now
    {
        secrets.push(prev.as_str());
    }
    let timestamp = now.timestamp();
    let Some(signature) = signing::header(&secrets, &d.message_id, timestamp, d.payload.as_bytes())
    else {
        return failed("the webhook's secret cannot be used; rotate it".into());
    };
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.message_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(d.payload.clone())
        .send()
        .await;
    let mut res = match res {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            return failed(format!(
                "no answer within {} s",
                settings.timeout.as_secs_f32()
            ));
        }
        Err(e) => return failed(chain(&e)),
    };
    let status = res.status();
    // Keep the start of the body only: a receiver may answer with anything.
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE {
        match res.chunk().await {
            Ok(Some(c)) => body.extend_from_slice(&c),
            _ => break,
        }
    }
    body.truncate(MAX_RESPONSE);
    let response = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
    let error = if status.is_redirection() {
        Some(format!(
            "the receiver answered {status}; redirects are not followed"
        ))
    } else if !status.is_success() {
        Some(format!("the receiver answered {status}"))
    } else {
        None
    };
    Outcome {
        status: Some(status.as_u16()),
        error,
        response,
    }
}

/// The delay before retry `attempt` (1 after the first failure): exponential, capped, with
/// jitter so that many deliveries failing together do not all come back at once.
pub fn backoff(settings: &Settings, attempt: i32) -> Duration {
    let exp = attempt.clamp(1, 30) as u32 - 1;
    let full = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(exp))
        .min(settings.max_delay);
    let half = full / 2;
    half + half.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
}

/// Ends a delivery without sending it (its owner may not act).
async fn give_up(
    db: &DatabaseConnection,
    d: &webhook_delivery::Model,
    why: &str,
) -> Result<(), DbErr> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(Status::Failed),
        )
        .col_expr(
            webhook_delivery::Column::FinishedAt,
            Expr::value(Utc::now()),
        )
        .col_expr(
            webhook_delivery::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(why))
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::Attempts.eq(d.attempts))
        .exec(db)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn record(
    db: &DatabaseConnection,
    settings: &Settings,
    instance: &str,
    hook: &webhook::Model,
    d: &webhook_delivery::Model,
    started: DateTime<Utc>,
    took: Duration,
    outcome: Outcome,
) -> Result<(), DbErr> {
    let now = Utc::now();
    webhook_attempt::ActiveModel {
        delivery_id: Set(d.id),
        attempt: Set(d.attempts),
        instance: Set(instance.to_owned()),
        started_at: Set(started),
        duration_ms: Set(took.as_millis().min(i32::MAX as u128) as i32),
        status_code: Set(outcome.status.map(i32::from)),
        error: Set(outcome.error.clone()),
        response: Set(outcome.response.clone()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    let ours = || {
        webhook_delivery::Entity::update_many()
            .filter(webhook_delivery::Column::Id.eq(d.id))
            .filter(webhook_delivery::Column::Attempts.eq(d.attempts))
            .filter(webhook_delivery::Column::Status.eq(Status::Pending))
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(
                webhook_delivery::Column::LastStatusCode,
                Expr::value(outcome.status.map(i32::from)),
            )
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(outcome.error.clone()),
            )
    };
    if outcome.ok() {
        ours()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(Status::Delivered),
            )
            .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now))
            .exec(db)
            .await?;
        if hook.failing_since.is_some() {
            webhook::Entity::update_many()
                .col_expr(
                    webhook::Column::FailingSince,
                    Expr::value(None::<DateTime<Utc>>),
                )
                .filter(webhook::Column::Id.eq(hook.id))
                .exec(db)
                .await?;
        }
        return Ok(());
    }
    let next =
        now + TimeDelta::from_std(backoff(settings, d.attempts)).unwrap_or(TimeDelta::hours(1));
    if next > d.retry_until {
        ours()
            .col_expr(
                webhook_delivery::Column::Status,
                Expr::value(Status::Failed),
            )
            .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now))
            .exec(db)
            .await?;
    } else {
        ours()
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .exec(db)
            .await?;
    }
    note_failure(db, settings, hook, now, outcome.error.as_deref()).await
}

/// Starts or extends the webhook's run of failures, and disables it once the run is longer than
/// `disable_after`, saying why.
async fn note_failure(
    db: &DatabaseConnection,
    settings: &Settings,
    hook: &webhook::Model,
    now: DateTime<Utc>,
    error: Option<&str>,
) -> Result<(), DbErr> {
    let Some(since) = hook.failing_since else {
        webhook::Entity::update_many()
            .col_expr(webhook::Column::FailingSince, Expr::value(now))
            .filter(webhook::Column::Id.eq(hook.id))
            .filter(webhook::Column::FailingSince.is_null())
            .exec(db)
            .await?;
        return Ok(());
    };
    let limit = TimeDelta::from_std(settings.disable_after).unwrap_or(TimeDelta::days(3));
    if now - since < limit {
        return Ok(());
    }
    let reason = format!(
        "every delivery failed from {} to {}; last error: {}",
        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        error.unwrap_or("unknown"),
    );
    tracing::warn!(webhook.id = hook.id, %reason, "webhook disabled");
    webhook::Entity::update_many()
        .col_expr(webhook::Column::Enabled, Expr::value(false))
        .col_expr(webhook::Column::DisabledReason, Expr::value(reason))
        .col_expr(webhook::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            webhook::Column::Version,
            Expr::col(webhook::Column::Version).add(1),
        )
        .filter(webhook::Column::Id.eq(hook.id))
        .filter(webhook::Column::Enabled.eq(true))
        .exec(db)
        .await?;
    Ok(())
}

/// Sends every due delivery once, now (tests and the bench drive rounds themselves).
pub async fn drain(
    db: &DatabaseConnection,
    settings: &Settings,
    instance: &str,
) -> anyhow::Result<usize> {
    let client = ssrf::client(settings.reach, settings.timeout)?;
    round(db, settings, &client, instance).await
}
