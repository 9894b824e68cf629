//! Live changes over WebSocket (`/graphql/ws`). Events come from the bus (in-process on SQLite,
//! LISTEN/NOTIFY on PostgreSQL, so a write on any instance reaches every subscriber); each one
//! is re-read through the subscriber's own row scope before it is sent. Subscribers whose
//! re-read is the same statement share one read per event (`events::SharedReads`).

use std::time::Duration;

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
    events::{Delivery, Event, EventBus, Name},
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
    /// What happened: created, status, reassigned, commented, evidence, updated.
    pub change: String,
    pub version: i32,
    /// The task as it is now (as the subscriber may see it).
    pub task: Task,
}

/// A village changed.
#[derive(SimpleObject)]
pub struct VillageChange {
    /// What happened: coverage, reported, certified, assigned, water quality tested…
    pub change: String,
    pub village: Village,
}

pub struct Subscription;

/// The stream's state: the bus receiver, and when the subscriber's token runs out.
struct Feed {
    rx: tokio::sync::broadcast::Receiver<Delivery>,
    deadline: Option<tokio::time::Instant>,
    done: bool,
}

fn deadline(svc: &Service) -> Option<tokio::time::Instant> {
    let exp = svc.principal().expires_at?;
    let left = (exp - chrono::Utc::now().timestamp()).max(0) as u64;
    Some(tokio::time::Instant::now() + Duration::from_secs(left))
}

/// Turns bus events into items for one subscriber: `pick` decides (through row scope) whether
/// and what to send. A subscriber too slow to keep up is told, and its stream ends; so does one
/// whose token expires.
fn feed<T, F, Fut>(svc: Service, pick: F) -> ApiResult<impl Stream<Item = ApiResult<T>>>
where
    T: Send + 'static,
    F: Fn(Service, Delivery) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Option<T>>> + Send,
{
    let bus = bus(&svc)?;
    let state = Feed {
        rx: bus.subscribe(),
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
                let expiry = async {
                    match st.deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                };
                let got = tokio::select! {
                    got = st.rx.recv() => got,
                    () = expiry => {
                        st.done = true;
                        return Some((Err(ApiError::Unauthenticated), (st, svc, pick)));
                    }
                };
                match got {
                    Ok(event) => match pick(svc.clone(), event).await {
                        Ok(Some(item)) => return Some((Ok(item), (st, svc, pick))),
                        Ok(None) => continue,
                        Err(e) => return Some((Err(e), (st, svc, pick))),
                    },
                    Err(RecvError::Lagged(n)) => {
                        st.done = true;
                        let e = ApiError::Lagged(n);
                        return Some((Err(e), (st, svc, pick)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    ))
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
    /// Changes to tasks the caller may see.
    async fn task_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskEventFilter>,
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
        let stream = feed(svc, move |svc, delivery| {
            let reread = reread.clone();
            async move {
                let Event::Task {
                    task_id,
                    version,
                    change,
                } = delivery.event
                else {
                    return Ok(None);
                };
                let found = reread.row(&svc, delivery.seq, task_id).await?;
                Ok(found.map(|t| TaskChange {
                    change,
                    version,
                    task: Task(t),
                }))
            }
        })?;
        Ok(stream)
    }

    /// Changes to villages the caller may see.
    async fn village_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<VillageEventFilter>,
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
        let stream = feed(svc, move |svc, delivery| {
            let reread = reread.clone();
            async move {
                let Event::Village {
                    village_id, change, ..
                } = delivery.event
                else {
                    return Ok(None);
                };
                let found = reread.row(&svc, delivery.seq, village_id).await?;
                Ok(found.map(|v| VillageChange {
                    change,
                    village: Village(v),
                }))
            }
        })?;
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
        let bus = EventBus::start(&db, "sqlite::memory:");
        let mut who = Principal::all_access();
        who.expires_at = expires_in.map(|s| chrono::Utc::now().timestamp() + s);
        Service::new(db, who).with_bus(bus)
    }

    fn event(n: i64) -> Event {
        Event::Task {
            task_id: n,
            version: 1,
            change: "commented".into(),
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_closed_without_holding_up_writers() {
        let svc = service(None).await;
        let bus = svc.bus().cloned().expect("bus");
        let stream = feed(svc, |_, e| async move { Ok(Some(e)) }).expect("feed");
        futures_util::pin_mut!(stream);
        // Writers publish past the buffer while the subscriber reads nothing: they never wait.
        bus.committed((0..crate::events::BUFFER as i64 + 10).map(event).collect());
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
        let stream = feed(svc, |_, e| async move { Ok(Some(e)) }).expect("feed");
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
        let stream = feed(svc, |_, e| async move { Ok(Some(e)) }).expect("feed");
        futures_util::pin_mut!(stream);
        bus.committed((1..=3).map(event).collect());
        for n in 1..=3 {
            let got = stream.next().await.expect("item").expect("ok");
            assert_eq!(got.event, event(n));
        }
    }
}
