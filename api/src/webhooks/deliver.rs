//! The delivery worker every instance runs.
//!
//! A delivery is claimed by setting its lease (and counting the attempt) in one statement that
//! takes many due deliveries at once; on PostgreSQL the candidates are locked with `FOR UPDATE
//! SKIP LOCKED`, so two instances never claim the same attempt, and a claimed row is not due
//! again until its lease runs out. On SQLite the claim is one `UPDATE … RETURNING`, which SQLite
//! runs under its single write lock, so two processes on one file cannot claim the same row
//! either. An instance that stops mid-delivery leaves its lease to expire: the delivery is then
//! due again and another instance (or the same one, restarted) sends it. Receivers see the same
//! `webhook-id` and drop the repeat.
//!
//! The worker is a pipeline, so that one slow receiver does not hold up the others:
//! - the claimer takes as many due deliveries as it has free sending slots (`concurrency`), but
//!   of each webhook no more than its room under the per-webhook cap (`per_webhook`, less what
//!   this instance already holds of it, counted by [`super::in_flight`]), so that one receiver
//!   never gets more than the cap at once and one webhook's backlog does not crowd out the
//!   others; it checks their owners' reach once per owner and kind of row, and starts each send
//!   as its own task on one shared HTTP client (connections kept alive and reused);
//! - each finished send hands its outcome to the recorder, which writes every outcome waiting
//!   in one go: the attempts in one multi-row insert, the delivered ones in one update per
//!   status code, the failures in one update (each with its own next time, from a `VALUES`
//!   list), and each webhook's failure run once.
//!
//! Outcomes are written back only while the claim is still ours (the attempt count is the
//! fencing token): an attempt that outlived its lease is recorded but does not overwrite the
//! newer claim's result. A delivery is leased until its outcome is written, so however far the
//! recorder falls behind, the same attempt is not claimed again before the lease runs out. A
//! claimed delivery that waited in the queue until less than the send timeout (or half the
//! lease) is left is handed back unsent rather than risk a send that outlives its lease. That is
//! also why the per-webhook cap is kept where deliveries are claimed, not where they are sent: a
//! claim made to wait for its webhook's turn would wait past its lease.
//!
//! Stopping ([`super::Workers::stop`]): the claimer claims nothing more, the senders take
//! nothing more from the queue and hand back what waits there (lease lifted, attempt
//! uncounted), sends in flight finish and the recorder writes every outcome before the server
//! closes its database pool.

use std::{
    collections::{BTreeMap, HashMap, HashSet, hash_map::Entry},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, TimeDelta, Utc};
use entities::{
    assignment, scheme, task, village, water_quality_test, webhook, webhook_attempt,
    webhook_delivery::{self, WebhookDeliveryStatus as Status},
};
use futures_util::{StreamExt, stream};
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Set, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};
use tokio::{
    sync::{Semaphore, mpsc},
    task::JoinSet,
};

use super::{
    Entity, Settings, Stop, Webhooks,
    in_flight::{InFlight, Rooms, Slot},
    owner::{Acting, acting},
    signing, ssrf,
};
use crate::service::Service;

/// Most deliveries claimed by one statement.
const BATCH: usize = 500;
/// Most outcomes written by one round of the recorder.
const RECORD_BATCH: usize = 1000;
/// Most rows one statement writes (keeps under both databases' parameter limits).
const ROWS_PER_STATEMENT: usize = 500;
/// Most of a response body kept with an attempt.
pub const MAX_RESPONSE: usize = 1024;

/// A delivery ready to send, with its webhook and its place in the webhook's count of
/// deliveries in flight (given back when the delivery's outcome is recorded or the claim
/// handed back: whenever this, or the [`Done`] made from it, is dropped).
struct Ready {
    delivery: webhook_delivery::Model,
    hook: webhook::Model,
    slot: Slot,
}

/// One finished attempt, waiting to be recorded.
#[derive(Debug)]
pub struct Done {
    pub delivery: webhook_delivery::Model,
    pub hook: webhook::Model,
    pub started: DateTime<Utc>,
    pub took: Duration,
    pub outcome: Outcome,
    /// Held until the outcome is written (or the recorder gives up on it).
    pub slot: Slot,
}

pub async fn run(db: DatabaseConnection, hooks: Webhooks, instance: String, mut stop: Stop) {
    let settings = hooks.settings.clone();
    let client = match ssrf::client(settings.reach, settings.timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery cannot start its HTTP client");
            return;
        }
    };
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Done>();
    // Claimed deliveries wait here for a sending slot: the claimer fetches the next batch while
    // the last one is being sent, so claims are large and their statements off the send path.
    // Twice what is sent at once: enough that claims are large, few enough that a claimed
    // delivery is sent well within its lease even when receivers are slow.
    let queue = (settings.concurrency * 2).clamp(8, BATCH);
    let in_flight = InFlight::new(settings.per_webhook);
    let (ready_tx, ready_rx) = mpsc::channel::<Ready>(queue);
    // The recorder and the senders live in this set: if `run` is dropped (a stop that outlived
    // its limit), they and every send in flight go with it.
    let mut parts = JoinSet::new();
    parts.spawn(recorder(
        db.clone(),
        settings.clone(),
        instance.clone(),
        done_rx,
    ));
    parts.spawn(senders(
        db.clone(),
        client,
        settings.clone(),
        ready_rx,
        done_tx,
        stop.clone(),
    ));
    claimer(
        &db, &hooks, &settings, &in_flight, queue, ready_tx, &mut stop,
    )
    .await;
    // The claimer has stopped; the senders finish what they have started, and the recorder
    // writes every outcome before it ends.
    while parts.join_next().await.is_some() {}
}

/// Claims due deliveries into the queue until the worker stops.
async fn claimer(
    db: &DatabaseConnection,
    hooks: &Webhooks,
    settings: &Settings,
    in_flight: &Arc<InFlight>,
    queue: usize,
    ready_tx: mpsc::Sender<Ready>,
    stop: &mut Stop,
) {
    while !stop.is_requested() {
        // Claim only what the queue can take; wait for a quarter of it to be free (or all of it,
        // when sending outpaces claiming) rather than claiming one at a time.
        let first = tokio::select! {
            first = ready_tx.reserve() => first,
            () = stop.requested() => return,
        };
        let Ok(first) = first else {
            return;
        };
        drop(first);
        for _ in 0..20 {
            let room = ready_tx.capacity();
            if room >= queue / 4 || room == queue {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let limit = ready_tx.capacity().clamp(1, BATCH);
        match claim_ready(db, settings, in_flight, limit).await {
            Ok((claimed, sends)) => {
                let mut sends = sends.into_iter();
                while let Some(ready) = sends.next() {
                    if let Err(mpsc::error::SendError(back)) = ready_tx.send(ready).await {
                        // The senders have stopped: this claim and the rest of the batch go
                        // back unsent.
                        let unsent: Vec<Ready> = std::iter::once(back).chain(sends).collect();
                        let n = hand_back(db, &unsent).await;
                        tracing::info!(
                            deliveries = n,
                            "stopping: handed back webhook deliveries claimed but not sent"
                        );
                        return;
                    }
                }
                // A full claim: there may be more due right now.
                if claimed >= limit {
                    continue;
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming webhook deliveries failed"),
        }
        // A claim short of its limit may have stopped at webhooks' caps: they have room again
        // once their outcomes are written, which must not wait for the next poll.
        tokio::select! {
            () = hooks.wake.notified() => {}
            () = in_flight.freed.notified() => {}
            () = tokio::time::sleep(settings.poll) => {}
            () = stop.requested() => {}
        }
    }
}

/// Sends queued deliveries, at most `concurrency` at once, handing each outcome to the
/// recorder. On a stop it takes nothing more from the queue, hands back what waits there, and
/// waits for the sends in flight (each ends within the webhook timeout).
async fn senders(
    db: DatabaseConnection,
    client: reqwest::Client,
    settings: Arc<Settings>,
    mut ready_rx: mpsc::Receiver<Ready>,
    done: mpsc::UnboundedSender<Done>,
    mut stop: Stop,
) {
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let mut sending = JoinSet::new();
    let mut unsent = Vec::new();
    let mut stale = Vec::new();
    let min_lease_left = TimeDelta::from_std(settings.timeout.min(settings.lease / 2))
        .unwrap_or(TimeDelta::seconds(10));
    loop {
        let next = tokio::select! {
            biased;
            () = stop.requested() => break,
            next = ready_rx.recv() => next,
        };
        let Some(ready) = next else { break };
        let permit = tokio::select! {
            biased;
            () = stop.requested() => {
                unsent.push(ready);
                break;
            }
            permit = slots.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        // A delivery that waited in the queue until little of its lease is left is not sent:
        // the lease could run out mid-send and another claim (here or on another instance)
        // would send it a second time. It goes back, due again at once.
        if ready
            .delivery
            .lease_until
            .is_none_or(|until| until - Utc::now() < min_lease_left)
        {
            stale.push(ready);
            if stale.len() >= ROWS_PER_STATEMENT || ready_rx.is_empty() {
                hand_back(&db, &stale).await;
                stale.clear();
            }
            continue;
        }
        let (client, settings, done) = (client.clone(), settings.clone(), done.clone());
        sending.spawn(async move {
            let Ready {
                delivery,
                hook,
                slot,
            } = ready;
            let started = Utc::now();
            let clock = std::time::Instant::now();
            let outcome = send(&client, &settings, &hook, &delivery).await;
            // The recorder ends only after every sender: the outcome is written.
            let _ = done.send(Done {
                delivery,
                hook,
                started,
                took: clock.elapsed(),
                outcome,
                slot,
            });
            drop(permit);
        });
        while sending.try_join_next().is_some() {}
    }
    // Whatever still waits in the queue was claimed and never sent: hand it back so it is due
    // again now rather than when its lease runs out.
    ready_rx.close();
    while let Some(ready) = ready_rx.recv().await {
        unsent.push(ready);
    }
    unsent.append(&mut stale);
    let n = hand_back(&db, &unsent).await;
    drop(unsent);
    if n > 0 {
        tracing::info!(
            deliveries = n,
            "stopping: handed back webhook deliveries claimed but not sent"
        );
    }
    while sending.join_next().await.is_some() {}
}

/// Lifts the lease of claims that were never sent and uncounts their attempt, while the claim
/// is still ours (the attempt count is the fencing token). If that fails, the leases run out
/// by themselves: the deliveries are only later, not lost. Either way they are no longer in
/// flight here: the caller drops them, which gives their webhooks' slots back.
async fn hand_back(db: &DatabaseConnection, unsent: &[Ready]) -> u64 {
    let backend = db.get_database_backend();
    let mut n = 0;
    for chunk in unsent.chunks(ROWS_PER_STATEMENT) {
        let (ids, pairs) =
            ids_and_pairs(chunk.iter().map(|r| (r.delivery.id, r.delivery.attempts)));
        let sql = format!(
            "UPDATE webhook_delivery SET lease_until = NULL, attempts = attempts - 1 \
             WHERE id IN ({ids}) AND status = 'PENDING' AND (id, attempts) IN (VALUES {pairs})"
        );
        match db.execute_raw(Statement::from_string(backend, sql)).await {
            Ok(r) => n += r.rows_affected(),
            Err(e) => {
                tracing::warn!(error = %e, deliveries = unsent.len(), "cannot hand back unsent webhook deliveries; they are sent once their lease runs out");
                break;
            }
        }
    }
    n
}

/// `(id, attempts)` claims as SQL: the plain id list (lets the database find the rows by
/// primary key) and the pairs (keep only the rows still on the attempt we made). Both are
/// integers read from the database, so they are written as literals.
fn ids_and_pairs(claims: impl Iterator<Item = (i64, i32)>) -> (String, String) {
    let (mut ids, mut pairs) = (String::new(), String::new());
    for (id, attempts) in claims {
        if !ids.is_empty() {
            ids.push_str(", ");
            pairs.push_str(", ");
        }
        ids.push_str(&id.to_string());
        pairs.push_str(&format!("({id}, {attempts})"));
    }
    (ids, pairs)
}

/// Writes outcomes as they come, as many at a time as are waiting.
async fn recorder(
    db: DatabaseConnection,
    settings: Arc<Settings>,
    instance: String,
    mut rx: mpsc::UnboundedReceiver<Done>,
) {
    let mut buf = Vec::new();
    while rx.recv_many(&mut buf, RECORD_BATCH).await > 0 {
        // A database that is away for a moment (a restart) should not cost the outcomes: they
        // would be sent again once their leases run out. Try a few times, then let the leases
        // do their work (at least once, never lost).
        let mut tries = 0;
        while let Err(e) = record(&db, &settings, &instance, &buf).await {
            tries += 1;
            if tries >= 5 {
                tracing::warn!(error = %e, outcomes = buf.len(), "recording webhook attempts failed; their deliveries will be retried");
                break;
            }
            tokio::time::sleep(Duration::from_millis(200 * tries)).await;
        }
        buf.clear();
    }
}

/// Claims due deliveries for `lease`, counting the attempt: the oldest due first, at most
/// `limit` in all and, for each webhook, at most its room in `rooms`.
///
/// Fairness comes from taking each webhook's share before the oldest-first limit: with the
/// limit alone, a webhook with 10,000 deliveries waiting would fill every claim and starve the
/// others. Each enabled webhook that has room contributes its oldest due deliveries (at most the
/// cap, found through `ix_webhook_delivery_pending`); they are numbered per webhook, cut to its
/// room, and the oldest `limit` of what is left are claimed. The cost follows the number of
/// webhooks times the cap, not the backlog: numbering every due delivery instead took 200 ms per
/// claim on PostgreSQL with 100,000 waiting, this about 3 ms.
///
/// Picking a webhook's oldest deliveries is the one part written for each database: PostgreSQL
/// has `LATERAL` (a correlated `IN` with `LIMIT` would be planned there as a filter over every
/// delivery); SQLite has no `LATERAL` and does not allow an outer column in `LIMIT`, but runs
/// the correlated `IN` once per webhook and looks the rows up by id.
pub async fn claim(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
    rooms: &Rooms,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    let backend = db.get_database_backend();
    let pg = backend == DbBackend::Postgres;
    let until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::seconds(60));
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let mut param = |v: sea_orm::Value| {
        values.push(v);
        if pg {
            format!("${}", values.len())
        } else {
            "?".to_owned()
        }
    };
    // Placeholders are made in the order they appear in the statement (SQLite's `?` are
    // positional).
    let set_until = param(until.into());
    let due = |t: &str, param: &mut dyn FnMut(sea_orm::Value) -> String| {
        format!(
            "{t}.status = 'PENDING' AND {t}.next_attempt_at <= {} \
             AND ({t}.lease_until IS NULL OR {t}.lease_until <= {})",
            param(now.into()),
            param(now.into())
        )
    };
    let due_x = due("x", &mut param);
    let limit = param((limit as i64).into());
    let due_d = due("d", &mut param);
    // No webhook can use more than one claim's worth.
    let cap = rooms.cap.clamp(1, BATCH);
    let oldest = format!(
        "FROM webhook_delivery x WHERE x.webhook_id = w.id AND {due_x} \
         ORDER BY x.next_attempt_at, x.id LIMIT {cap}"
    );
    let pick = if pg {
        format!("CROSS JOIN LATERAL (SELECT x.id, x.webhook_id, x.next_attempt_at {oldest}) p")
    } else {
        format!("JOIN webhook_delivery p ON p.id IN (SELECT x.id {oldest})")
    };
    // Webhook ids and rooms are integers from the database and from here: literals.
    let (full, some): (Vec<_>, Vec<_>) = rooms.busy.iter().partition(|(_, room)| *room == 0);
    let skip_full = if full.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = full.iter().map(|(id, _)| id.to_string()).collect();
        format!(" AND w.id NOT IN ({})", ids.join(", "))
    };
    let room = if some.is_empty() {
        cap.to_string()
    } else {
        let arms: String = some
            .iter()
            .map(|(id, room)| format!(" WHEN {id} THEN {}", room.min(&cap)))
            .collect();
        format!("CASE c.webhook_id{arms} ELSE {cap} END")
    };
    // PostgreSQL refuses `FOR UPDATE` beside a window function, so the rows are locked one level
    // out, where the due conditions are repeated: a row another instance claimed after our
    // snapshot is re-read when we lock it, and is then no longer due.
    let lock = if pg {
        "FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let text = format!(
        "UPDATE webhook_delivery SET lease_until = {set_until}, attempts = attempts + 1 \
         WHERE id IN (SELECT d.id FROM webhook_delivery d WHERE d.id IN ( \
           SELECT c.id FROM ( \
             SELECT p.id AS id, p.webhook_id AS webhook_id, p.next_attempt_at AS at, \
               row_number() OVER (PARTITION BY p.webhook_id \
                 ORDER BY p.next_attempt_at, p.id) AS rn \
             FROM webhook w {pick} WHERE w.enabled{skip_full}) c \
           WHERE c.rn <= {room} ORDER BY c.at, c.id LIMIT {limit}) \
         AND {due_d} {lock}) \
         RETURNING *"
    );
    let stmt = Statement::from_sql_and_values(backend, text, values);
    webhook_delivery::Entity::find()
        .from_raw_sql(stmt)
        .all(db)
        .await
}

/// Claims up to `limit` due deliveries (within each webhook's room in `in_flight`) and keeps
/// those whose owner may still act and still reaches the row; the rest are ended (owner stopped)
/// or dropped (row out of reach). Returns how many were claimed and what to send.
async fn claim_ready(
    db: &DatabaseConnection,
    settings: &Settings,
    in_flight: &Arc<InFlight>,
    limit: usize,
) -> anyhow::Result<(usize, Vec<Ready>)> {
    let claimed = claim(
        db,
        Utc::now(),
        settings.lease,
        limit as u64,
        &in_flight.rooms(),
    )
    .await?;
    // Counted at once: whatever happens to a claim from here on (sent, ended, dropped, an
    // error) gives its place back when its slot is dropped.
    let claimed: Vec<(webhook_delivery::Model, Slot)> = claimed
        .into_iter()
        .map(|d| {
            let slot = in_flight.take(d.webhook_id);
            (d, slot)
        })
        .collect();
    let n = claimed.len();
    if claimed.is_empty() {
        return Ok((0, Vec::new()));
    }
    let hook_ids: HashSet<i64> = claimed.iter().map(|(d, _)| d.webhook_id).collect();
    let hooks: HashMap<i64, webhook::Model> = webhook::Entity::find()
        .filter(webhook::Column::Id.is_in(hook_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();

    // Who each owner acts as, and which of the claimed rows that principal still reaches: one
    // statement per owner, and one per owner and kind of row (webhooks of one owner share them).
    let mut owners: HashMap<&str, Acting> = HashMap::new();
    for hook in hooks.values() {
        if let Entry::Vacant(e) = owners.entry(hook.owner.as_str()) {
            e.insert(acting(db, &hook.owner).await?);
        }
    }
    let mut wanted: HashMap<(&str, Entity), Vec<i64>> = HashMap::new();
    for (d, _) in &claimed {
        if let (Some(hook), Some(e)) = (hooks.get(&d.webhook_id), Entity::parse(&d.entity)) {
            wanted
                .entry((hook.owner.as_str(), e))
                .or_default()
                .push(d.entity_id);
        }
    }
    let mut visible: HashMap<(&str, Entity), HashSet<i64>> = HashMap::new();
    for ((owner, entity), mut ids) in wanted {
        let Some(Acting::As(who)) = owners.get(owner) else {
            continue;
        };
        ids.sort_unstable();
        ids.dedup();
        let svc = Service::new(db.clone(), who.clone());
        let seen = reachable(&svc, entity, &ids).await?;
        visible.insert((owner, entity), seen.into_iter().collect());
    }

    let mut sends = Vec::with_capacity(n);
    let mut out_of_reach = Vec::new();
    // A claim not sent drops its slot here: it is no longer in flight.
    for (d, slot) in claimed {
        let Some(hook) = hooks.get(&d.webhook_id) else {
            // Deleted since the claim: its deliveries go with it.
            continue;
        };
        match owners.get(hook.owner.as_str()) {
            Some(Acting::As(_)) => {}
            Some(Acting::Stopped(why)) => {
                give_up(db, &d, why).await?;
                continue;
            }
            None => continue,
        }
        let Some(entity) = Entity::parse(&d.entity) else {
            give_up(db, &d, "the event names an unknown kind of row").await?;
            continue;
        };
        let in_reach = visible
            .get(&(hook.owner.as_str(), entity))
            .is_some_and(|ids| ids.contains(&d.entity_id));
        if !in_reach {
            // The owner can no longer read the row: the event is not theirs to receive.
            out_of_reach.push(d.id);
            continue;
        }
        sends.push(Ready {
            delivery: d,
            hook: hook.clone(),
            slot,
        });
    }
    for chunk in out_of_reach.chunks(ROWS_PER_STATEMENT) {
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok((n, sends))
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
        Entity::Scheme => svc
            .by_ids::<scheme::Entity>(ids)
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

/// Writes finished attempts: every attempt row, then each delivery's new state while the claim
/// is still ours, then each webhook's run of failures.
/// One transaction, so that a failed batch can be written again whole.
pub async fn record(
    db: &DatabaseConnection,
    settings: &Settings,
    instance: &str,
    done: &[Done],
) -> Result<(), DbErr> {
    if done.is_empty() {
        return Ok(());
    }
    let txn = db.begin().await?;
    record_in(&txn, settings, instance, done).await?;
    txn.commit().await
}

async fn record_in(
    db: &impl ConnectionTrait,
    settings: &Settings,
    instance: &str,
    done: &[Done],
) -> Result<(), DbErr> {
    let now = Utc::now();
    for chunk in done.chunks(ROWS_PER_STATEMENT) {
        webhook_attempt::Entity::insert_many(chunk.iter().map(|x| webhook_attempt::ActiveModel {
            delivery_id: Set(x.delivery.id),
            attempt: Set(x.delivery.attempts),
            instance: Set(instance.to_owned()),
            started_at: Set(x.started),
            duration_ms: Set(x.took.as_millis().min(i32::MAX as u128) as i32),
            status_code: Set(x.outcome.status.map(i32::from)),
            error: Set(x.outcome.error.clone()),
            response: Set(x.outcome.response.clone()),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await?;
    }

    // Delivered: one statement per status code (nearly always one: 200).
    let mut delivered: BTreeMap<u16, Vec<(i64, i32)>> = BTreeMap::new();
    // Per webhook: whether any attempt succeeded, else the last error.
    let mut hooks: HashMap<i64, (&webhook::Model, bool, Option<&str>)> = HashMap::new();
    let mut failed: Vec<&Done> = Vec::new();
    for x in done {
        let ok = x.outcome.ok();
        let entry = hooks.entry(x.hook.id).or_insert((&x.hook, false, None));
        if ok {
            entry.1 = true;
            if let Some(code) = x.outcome.status {
                delivered
                    .entry(code)
                    .or_default()
                    .push((x.delivery.id, x.delivery.attempts));
            }
            continue;
        }
        entry.2 = x.outcome.error.as_deref().or(entry.2);
        failed.push(x);
    }
    for chunk in failed.chunks(ROWS_PER_STATEMENT) {
        note_failed_attempts(db, settings, now, chunk).await?;
    }
    let backend = db.get_database_backend();
    let param = |n: usize| match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    for (code, rows) in delivered {
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let (ids, pairs) = ids_and_pairs(chunk.iter().copied());
            let sql = format!(
                "UPDATE webhook_delivery SET status = 'DELIVERED', finished_at = {}, \
                 lease_until = NULL, last_status_code = {code}, last_error = NULL \
                 WHERE id IN ({ids}) AND status = 'PENDING' \
                   AND (id, attempts) IN (VALUES {pairs})",
                param(1)
            );
            db.execute_raw(Statement::from_sql_and_values(backend, sql, [now.into()]))
                .await?;
        }
    }
    for (hook, succeeded, error) in hooks.into_values() {
        if succeeded {
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
        } else {
            note_failure(db, settings, hook, now, error).await?;
        }
    }
    Ok(())
}

/// Failed attempts, in one statement: each delivery gets its next time (backoff with its own
/// jitter) or, past its retry window, fails (dead letter); only while the claim is still ours.
/// A receiver that is down fails every delivery it is sent, so this must not cost a statement
/// per delivery.
async fn note_failed_attempts(
    db: &impl ConnectionTrait,
    settings: &Settings,
    now: DateTime<Utc>,
    failed: &[&Done],
) -> Result<(), DbErr> {
    if failed.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let mut n = 0;
    let mut param = || {
        n += 1;
        match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        }
    };
    let mut rows = Vec::with_capacity(failed.len());
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(failed.len() * 3);
    for x in failed {
        let d = &x.delivery;
        let next =
            now + TimeDelta::from_std(backoff(settings, d.attempts)).unwrap_or(TimeDelta::hours(1));
        // Past the window: failed now, and `next_attempt_at` stays as it was.
        let (status, next) = if next > d.retry_until {
            ("FAILED", None)
        } else {
            ("PENDING", Some(next))
        };
        // Integers and the status are literals (from the database and from here); the rest
        // are parameters.
        rows.push(format!(
            "({}, {}, '{status}', {}, {}, {})",
            d.id,
            d.attempts,
            param(),
            param(),
            param()
        ));
        values.push(x.outcome.status.map(i32::from).into());
        values.push(x.outcome.error.clone().into());
        values.push(next.into());
    }
    let finished = param();
    values.push(now.into());
    let sql = format!(
        "WITH v(id, attempts, status, code, error, next_at) AS (VALUES {}) \
         UPDATE webhook_delivery SET lease_until = NULL, last_status_code = v.code, \
           last_error = v.error, status = v.status, \
           next_attempt_at = COALESCE(v.next_at, webhook_delivery.next_attempt_at), \
           finished_at = CASE WHEN v.status = 'FAILED' THEN {finished} \
             ELSE webhook_delivery.finished_at END \
         FROM v WHERE webhook_delivery.id = v.id AND webhook_delivery.attempts = v.attempts \
           AND webhook_delivery.status = 'PENDING'",
        rows.join(", ")
    );
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// Starts or extends the webhook's run of failures, and disables it once the run is longer than
/// `disable_after`, saying why.
async fn note_failure(
    db: &impl ConnectionTrait,
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

/// Sends every due delivery once, now (up to the per-webhook cap of each webhook), and records
/// the outcomes (tests drive rounds themselves).
pub async fn drain(
    db: &DatabaseConnection,
    settings: &Settings,
    instance: &str,
) -> anyhow::Result<usize> {
    let client = ssrf::client(settings.reach, settings.timeout)?;
    // A round of its own: nothing else is in flight, so each webhook gets up to its cap.
    let in_flight = InFlight::new(settings.per_webhook);
    let (claimed, sends) = claim_ready(db, settings, &in_flight, BATCH).await?;
    let done: Vec<Done> = stream::iter(sends)
        .map(|r| {
            let client = &client;
            async move {
                let started = Utc::now();
                let clock = std::time::Instant::now();
                let outcome = send(client, settings, &r.hook, &r.delivery).await;
                Done {
                    delivery: r.delivery,
                    hook: r.hook,
                    started,
                    took: clock.elapsed(),
                    outcome,
                    slot: r.slot,
                }
            }
        })
        .buffer_unordered(settings.concurrency.max(1))
        .collect()
        .await;
    record(db, settings, instance, &done).await?;
    Ok(claimed)
}
