//! Live changes over WebSocket (`/graphql/ws`). Events come from the durable event log, through
//! this instance's follower (`events::EventBus`), so a write on any instance reaches every
//! subscriber, in commit order, once; each one is re-read through the subscriber's own row scope
//! before it is sent. Subscribers whose re-read is the same statement share one read per event
//! (`events::SharedReads`). Every event carries its cursor: a subscription given `after:` first
//! replays what the log holds after it, then goes on live.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use async_graphql::{Context, ID, InputObject, SimpleObject, Subscription};
use entities::{enums::TaskStatus, task, village};
use futures_util::{FutureExt, Stream, stream};
use sea_orm::{ColumnTrait, Condition, QueryFilter, QueryTrait};
use tokio::sync::broadcast::error::RecvError;

use super::{
    context::CtxExt,
    ids::{Kind, decode_one},
    inputs::area,
    types::{Task, Village},
};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        Delivery, EventBus, Name,
        change::change_name,
        log::{self, LoggedEvent},
    },
    service::{Scoped, Service, scope::may_read},
};

#[derive(InputObject, Default)]
pub struct TaskEventFilter {
    /// Only this task.
    pub task: Option<ID>,
    /// Only tasks within this area.
    pub within: Option<ID>,
    /// Only tasks now in one of these statuses.
    pub status: Option<Vec<TaskStatus>>,
}

#[derive(InputObject, Default)]
pub struct VillageEventFilter {
    /// Only this village.
    pub village: Option<ID>,
    /// Only villages within this area.
    pub within: Option<ID>,
}

/// A task changed.
#[derive(SimpleObject)]
pub struct TaskChange {
    /// Where this event sits in the log: pass it as `after` to resume from here.
    pub cursor: String,
    /// What happened, as a dotted event kind: `task.created`, `task.transitioned`…
    pub kind: String,
    /// What happened: created, status, reassigned, commented, evidence, updated.
    pub change: String,
    pub version: i32,
    /// The task as it is now (as the subscriber may see it).
    pub task: Task,
}

/// A village changed.
#[derive(SimpleObject)]
pub struct VillageChange {
    /// Where this event sits in the log: pass it as `after` to resume from here.
    pub cursor: String,
    /// What happened, as a dotted event kind: `village.coverage_updated`, `assignment.created`…
    pub kind: String,
    /// What happened: coverage, reported, certified, assigned, water quality tested…
    pub change: String,
    pub village: Village,
}

pub struct Subscription;

/// The stream's state: the bus receiver, the replay from the log when resuming, the last event
/// sent, and when the subscriber's token runs out.
struct Feed {
    rx: tokio::sync::broadcast::Receiver<Delivery>,
    /// Events read from the log and not yet sent.
    backlog: VecDeque<Delivery>,
    /// Still replaying from the log (a resumed subscription).
    replaying: bool,
    /// The last event sent or skipped: nothing at or below it is sent again.
    cursor: i64,
    deadline: Option<tokio::time::Instant>,
    done: bool,
}

fn deadline(svc: &Service) -> Option<tokio::time::Instant> {
    let exp = svc.principal().expires_at?;
    let left = (exp - chrono::Utc::now().timestamp()).max(0) as u64;
    Some(tokio::time::Instant::now() + Duration::from_secs(left))
}

/// Most events one replay read takes from the log.
const REPLAY_PAGE: u64 = 200;

fn delivery(e: LoggedEvent) -> Delivery {
    Delivery {
        seq: u64::try_from(e.id).unwrap_or_default(),
        event: Arc::new(e),
    }
}

/// The cursor a client passed as `after`.
fn cursor(after: &str) -> ApiResult<i64> {
    after
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::bad_input("after", "not a cursor this API gave out"))
}

impl Feed {
    /// The next event for this subscriber: from the log while replaying, then live.
    async fn next(&mut self, svc: &Service) -> Result<Delivery, ApiError> {
        loop {
            if let Some(d) = self.backlog.pop_front() {
                return Ok(d);
            }
            if self.replaying {
                let page = log::read_after(svc.db(), self.cursor, REPLAY_PAGE).await?;
                if page.is_empty() {
                    self.replaying = false;
                } else {
                    self.backlog.extend(page.into_iter().map(delivery));
                }
                continue;
            }
            match self.rx.recv().await {
                // Already replayed from the log.
                Ok(d) if i64::try_from(d.seq).unwrap_or(i64::MAX) <= self.cursor => continue,
                Ok(d) => return Ok(d),
                Err(RecvError::Lagged(n)) => return Err(ApiError::Lagged(n)),
                Err(RecvError::Closed) => {
                    return Err(ApiError::Unavailable(Arc::new(anyhow::anyhow!(
                        "the event bus stopped"
                    ))));
                }
            }
        }
    }
}

/// Turns logged events into items for one subscriber: `pick` decides (through row scope)
/// whether and what to send. With `after`, the events the log holds after that cursor come
/// first (EVENTS_EXPIRED when they have been pruned). A subscriber too slow to keep up is told,
/// and its stream ends; so does one whose token expires.
async fn feed<T, F, Fut>(
    svc: Service,
    after: Option<String>,
    pick: F,
) -> ApiResult<impl Stream<Item = ApiResult<T>>>
where
    T: Send + 'static,
    F: Fn(Service, Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Option<T>>> + Send,
{
    let bus = bus(&svc)?;
    // Subscribe before reading the log, so nothing falls between the replay and live events.
    let rx = bus.subscribe(svc.db()).await?;
    let after = after.as_deref().map(cursor).transpose()?;
    if let Some(after) = after {
        let oldest = log::oldest(svc.db()).await?;
        // Events between the cursor and the oldest one kept have been pruned.
        if oldest.is_some_and(|o| after < o - 1) {
            return Err(ApiError::Expired);
        }
    }
    let state = Feed {
        rx,
        backlog: VecDeque::new(),
        replaying: after.is_some(),
        cursor: after.unwrap_or(0),
        deadline: deadline(&svc),
        done: false,
    };
    Ok(stream::unfold(
        (state, svc, pick),
        |(mut st, svc, pick)| async move {
            loop {
                if st.done {
                    return None;
                }
                let deadline = st.deadline;
                let expiry = async move {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let got = tokio::select! {
                    got = st.next(&svc) => got,
                    () = expiry => {
                        st.done = true;
                        return Some((Err(ApiError::Unauthenticated), (st, svc, pick)));
                    }
                };
                match got {
                    Ok(event) => {
                        st.cursor = st.cursor.max(i64::try_from(event.seq).unwrap_or(i64::MAX));
                        match pick_patiently(&pick, &svc, event).await {
                            Ok(Some(item)) => return Some((Ok(item), (st, svc, pick))),
                            Ok(None) => continue,
                            Err(e) => return Some((Err(e), (st, svc, pick))),
                        }
                    }
                    Err(e) => {
                        st.done = true;
                        return Some((Err(e), (st, svc, pick)));
                    }
                }
            }
        },
    ))
}

/// How long a subscriber waits for the database to come back before an event's re-read fails.
const REREAD_PATIENCE: Duration = Duration::from_secs(60);

/// `pick` for one event, tried again while the database is unavailable (a restart, a
/// failover): the event is committed and logged, so giving up on its re-read at once would
/// hand the subscriber an error in place of a change it must see. After
/// [`REREAD_PATIENCE`] the error goes to the subscriber.
async fn pick_patiently<T, F, Fut>(pick: &F, svc: &Service, event: Delivery) -> ApiResult<Option<T>>
where
    F: Fn(Service, Delivery) -> Fut,
    Fut: Future<Output = ApiResult<Option<T>>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match pick(svc.clone(), event.clone()).await {
            Err(ApiError::Unavailable(_)) if started.elapsed() < REREAD_PATIENCE => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            done => return done,
        }
    }
}

fn bus(svc: &Service) -> ApiResult<&EventBus> {
    svc.bus()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no event bus")))
}

/// How a subscriber re-reads changed rows of `E`: its row scope and filter, and the name under
/// which subscribers with the same statement share each read.
struct Reread<E: Scoped> {
    cond: Condition,
    name: std::sync::Arc<Name>,
    _rows: std::marker::PhantomData<E>,
}

impl<E: Scoped> Reread<E>
where
    E::Model: Clone + Send + Sync + 'static,
{
    fn new(svc: &Service, cond: Condition) -> ApiResult<Self> {
        // The statement without the changed row's id names everything the read depends on.
        let statement = svc
            .scoped::<E>()?
            .filter(cond.clone())
            .build(svc.db().get_database_backend());
        let name = bus(svc)?.reads().name::<E>(format!("{statement:?}"));
        Ok(Self {
            cond,
            name,
            _rows: std::marker::PhantomData,
        })
    }

    /// Row `id`, as `svc` may see it, when delivery `seq` says it changed.
    async fn row(&self, svc: &Service, seq: u64, id: i64) -> ApiResult<Option<E::Model>> {
        let cond = self.cond.clone().add(E::id_column().eq(id));
        let reader = svc.clone();
        let load = move || async move { reader.find_one::<E>(cond).await }.boxed();
        bus(svc)?.reads().read(seq, &self.name, load).await
    }
}

#[Subscription]
impl Subscription {
    /// Changes to tasks the caller may see, in commit order.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskEventFilter>,
        #[graphql(
            desc = "Resume after this event's `cursor`: the changes since then come first. A cursor older than the retention window is EVENTS_EXPIRED."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ApiResult<TaskChange>>> {
        let svc = ctx.svc()?.clone();
        may_read::<task::Entity>(svc.principal())?;
        let f = filter.unwrap_or_default();
        let mut cond = Condition::all();
        if let Some(id) = &f.task {
            cond = cond.add(task::Column::Id.eq(decode_one("filter.task", id, Kind::Task)?));
        }
        if let Some(w) = &f.within {
            cond = cond.add(area("filter.within", w)?.tasks());
        }
        if let Some(s) = f.status {
            cond = cond.add(task::Column::Status.is_in(s));
        }
        let reread = std::sync::Arc::new(Reread::<task::Entity>::new(&svc, cond)?);
        let stream = feed(svc, after, move |svc, delivery| {
            let reread = reread.clone();
            async move {
                let e = &delivery.event;
                if e.entity != "task" {
                    return Ok(None);
                }
                let found = reread.row(&svc, delivery.seq, e.entity_id).await?;
                Ok(found.map(|t| TaskChange {
                    cursor: e.id.to_string(),
                    kind: e.kind.clone(),
                    change: change_name(&e.kind).to_owned(),
                    version: e.version,
                    task: Task(t),
                }))
            }
        })
        .await?;
        Ok(stream)
    }

    /// Changes to villages the caller may see (coverage, Har Ghar Jal, assignments, water
    /// quality), in commit order.
    async fn village_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<VillageEventFilter>,
        #[graphql(
            desc = "Resume after this event's `cursor`: the changes since then come first. A cursor older than the retention window is EVENTS_EXPIRED."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = ApiResult<VillageChange>>> {
        let svc = ctx.svc()?.clone();
        may_read::<village::Entity>(svc.principal())?;
        let f = filter.unwrap_or_default();
        let mut cond = Condition::all();
        if let Some(id) = &f.village {
            cond =
                cond.add(village::Column::Id.eq(decode_one("filter.village", id, Kind::Village)?));
        }
        if let Some(w) = &f.within {
            cond = cond.add(area("filter.within", w)?.villages());
        }
        let reread = std::sync::Arc::new(Reread::<village::Entity>::new(&svc, cond)?);
        let stream = feed(svc, after, move |svc, delivery| {
            let reread = reread.clone();
            async move {
                let e = &delivery.event;
                if e.entity == "task" {
                    return Ok(None);
                }
                let Some(village_id) = e.village_id else {
                    return Ok(None);
                };
                let found = reread.row(&svc, delivery.seq, village_id).await?;
                Ok(found.map(|v| VillageChange {
                    cursor: e.id.to_string(),
                    kind: e.kind.clone(),
                    change: change_name(&e.kind).to_owned(),
                    village: Village::from(v),
                }))
            }
        })
        .await?;
        Ok(stream)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use migration::{Migrator, MigratorTrait};

    use super::*;
    use crate::{events::EventBus, principal::Principal};

    async fn service(expires_in: Option<i64>) -> Service {
        let db = crate::db::connect("sqlite::memory:", 1).await.expect("db");
        Migrator::up(&db, None).await.expect("migrate");
        let mut who = Principal::all_access();
        who.expires_at = expires_in.map(|s| chrono::Utc::now().timestamp() + s);
        Service::new(db, who).with_bus(EventBus::manual())
    }

    fn event(n: i64) -> LoggedEvent {
        LoggedEvent {
            id: n,
            kind: "task.commented".into(),
            entity: "task".into(),
            entity_id: n,
            version: 1,
            state_id: 1,
            district_id: None,
            village_id: None,
            actor_sub: "test".into(),
            at: chrono::Utc::now(),
            payload: serde_json::json!({}),
        }
    }

    async fn all(svc: Service) -> impl Stream<Item = ApiResult<Delivery>> {
        feed(svc, None, |_, e| async move { Ok(Some(e)) })
            .await
            .expect("feed")
    }

    #[tokio::test]
    async fn a_reread_waits_out_an_unavailable_database_instead_of_failing_the_event() {
        let svc = service(None).await;
        let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = tries.clone();
        let pick = move |_: Service, e: Delivery| {
            let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move {
                if n < 2 {
                    Err(ApiError::Unavailable(Arc::new(anyhow::anyhow!(
                        "restarting"
                    ))))
                } else {
                    Ok(Some(e.seq))
                }
            }
        };
        let got = pick_patiently(&pick, &svc, delivery(event(7))).await;
        assert_eq!(got.expect("the third try reads the row"), Some(7));
        assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 3);
        // Other errors are not retried: they are the subscriber's to see.
        let refused =
            |_: Service, _: Delivery| async { Err::<Option<u64>, _>(ApiError::Unauthenticated) };
        assert!(matches!(
            pick_patiently(&refused, &svc, delivery(event(8))).await,
            Err(ApiError::Unauthenticated)
        ));
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_closed_without_holding_up_writers() {
        let svc = service(None).await;
        let bus = svc.bus().cloned().expect("bus");
        let stream = all(svc).await;
        futures_util::pin_mut!(stream);
        // Writers publish past the buffer while the subscriber reads nothing: they never wait.
        bus.inject((1..=crate::events::BUFFER as i64 + 10).map(event).collect());
        let first = stream.next().await.expect("an item");
        assert!(
            matches!(first, Err(ApiError::Lagged(n)) if n >= 10),
            "{first:?}"
        );
        assert!(
            stream.next().await.is_none(),
            "the stream ends after the lag notice"
        );
    }

    #[tokio::test]
    async fn a_subscription_ends_when_its_token_expires() {
        let svc = service(Some(1)).await;
        let stream = all(svc).await;
        futures_util::pin_mut!(stream);
        let started = std::time::Instant::now();
        let item = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("ends in time");
        assert!(
            matches!(item, Some(Err(ApiError::Unauthenticated))),
            "{item:?}"
        );
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(stream.next().await.is_none());
    }

    #[tokio::test]
    async fn events_are_delivered_in_order() {
        let svc = service(None).await;
        let bus = svc.bus().cloned().expect("bus");
        let stream = all(svc).await;
        futures_util::pin_mut!(stream);
        bus.inject((1..=3).map(event).collect());
        for n in 1..=3 {
            let got = stream.next().await.expect("item").expect("ok");
            assert_eq!(got.event.id, n);
        }
    }
}
