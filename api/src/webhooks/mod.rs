//! Webhooks: signed, at-least-once HTTP deliveries of logged events to systems that do not hold
//! a WebSocket open (an electricity company's consumer system, Health's laboratory system, an
//! NGO's MIS).
//!
//! - [`dispatch`] reads the event log after the dispatcher's cursor and creates one delivery per
//!   (webhook, event) the webhook's owner may see, its body built through the owner's own row
//!   scope and field rules (a GraphQL read as that principal), a batch of events at a time (one
//!   `INSERT … SELECT` fans a batch out to every webhook).
//! - [`deliver`] runs on every instance: it claims many due deliveries per statement (`FOR
//!   UPDATE SKIP LOCKED` on PostgreSQL) under a lease, re-checks each owner's reach, signs and
//!   sends them concurrently (a bounded number at once, and a smaller bound per webhook counted
//!   by [`in_flight`], one kept-alive HTTP client), records the
//!   attempts in batches, and schedules retries with exponential backoff and jitter until the
//!   retry window closes.
//! - [`signing`] is Standard Webhooks; [`ssrf`] keeps deliveries out of private networks.

pub mod deliver;
pub mod dispatch;
pub mod in_flight;
pub mod owner;
pub mod payload;
pub mod signing;
pub mod ssrf;

use std::{sync::Arc, time::Duration};

use entities::{task, village};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{Notify, watch},
    task::JoinHandle,
};

/// How webhooks are delivered (the `--webhook-*` flags).
#[derive(Debug, Clone)]
pub struct Settings {
    pub reach: ssrf::Reach,
    /// Longest one attempt may take.
    pub timeout: Duration,
    /// Delay before the first retry; each retry doubles it (with jitter) up to `max_delay`.
    pub retry_base: Duration,
    pub max_delay: Duration,
    /// How long a delivery is retried before it fails (dead letter).
    pub retry_window: Duration,
    /// A webhook failing for this long without a success is disabled.
    pub disable_after: Duration,
    /// How long an instance holds a claimed delivery; past it, the delivery is due again.
    pub lease: Duration,
    /// How often idle workers look for due deliveries and new events.
    pub poll: Duration,
    /// Most deliveries one worker sends at once.
    pub concurrency: usize,
    /// Most deliveries of one webhook one worker holds at once (claimed and not yet recorded).
    pub per_webhook: usize,
    /// How long a rotated-out secret keeps signing next to the new one.
    pub rotation_overlap: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reach: ssrf::Reach::default(),
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            max_delay: Duration::from_secs(2 * 3600),
            retry_window: Duration::from_secs(24 * 3600),
            disable_after: Duration::from_secs(3 * 24 * 3600),
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(500),
            concurrency: 256,
            per_webhook: 8,
            rotation_overlap: Duration::from_secs(24 * 3600),
        }
    }
}

impl Settings {
    /// What tests use: receivers on 127.0.0.1 over plain HTTP, quick retries.
    pub fn for_tests() -> Self {
        Self {
            reach: ssrf::Reach {
                allow_private: true,
                allow_http: true,
            },
            retry_base: Duration::from_millis(100),
            poll: Duration::from_millis(100),
            lease: Duration::from_secs(5),
            ..Self::default()
        }
    }
}

/// What the GraphQL layer and the workers share: the settings, and a bell rung when there may
/// be work (a committed event, a redelivery).
#[derive(Clone)]
pub struct Webhooks {
    pub settings: Arc<Settings>,
    pub wake: Arc<Notify>,
}

impl Webhooks {
    pub fn new(settings: Settings) -> Self {
        Self {
            settings: Arc::new(settings),
            wake: Arc::new(Notify::new()),
        }
    }

    /// Starts the dispatcher and the delivery worker for this instance. They run until
    /// [`Workers::stop`]; dropping the handle leaves them running (tests that never stop).
    pub fn start(&self, db: DatabaseConnection, bus: crate::events::EventBus) -> Workers {
        let instance = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let (tx, rx) = watch::channel(false);
        let stop = Stop(rx);
        let tasks = vec![
            tokio::spawn(dispatch::run(db.clone(), self.clone(), bus, stop.clone())),
            tokio::spawn(deliver::run(db, self.clone(), instance, stop)),
        ];
        Workers { stop: tx, tasks }
    }
}

/// What a worker watches to learn that the server is stopping.
#[derive(Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Resolves once a stop was asked for. A dropped [`Workers`] is not a stop: nobody can ask
    /// any more, so this never resolves.
    pub async fn requested(&mut self) {
        if self.0.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// The running dispatcher and delivery worker: the server stops them before it closes the
/// database pool, so that they neither fail on a closed pool nor lose outcomes already in hand.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Asks the workers to stop and waits (at most `limit`) until they have: the dispatcher
    /// finishes the step it is in; the delivery worker claims nothing more, hands back the
    /// claims it has not started sending, lets sends in flight finish (each is bounded by the
    /// webhook timeout) and records every outcome it has. Whatever still runs after `limit` is
    /// dropped: its deliveries stay leased and are sent again once the lease runs out (at
    /// least once).
    pub async fn stop(self, limit: Duration) {
        let _ = self.stop.send(true);
        let aborts: Vec<_> = self.tasks.iter().map(JoinHandle::abort_handle).collect();
        let all = futures_util::future::join_all(self.tasks);
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                after = ?limit,
                "webhook workers still busy at shutdown; stopping them (their deliveries are sent again after the lease)"
            );
            for a in aborts {
                a.abort();
            }
        }
    }
}

/// The dispatcher's position in the event log: every event up to it is dispatched (or was
/// skipped while no webhook was enabled).
pub async fn cursor(db: &impl sea_orm::ConnectionTrait) -> Result<i64, sea_orm::DbErr> {
    use sea_orm::EntityTrait;
    Ok(entities::webhook_cursor::Entity::find_by_id(1)
        .one(db)
        .await?
        .map_or(0, |c| c.last_event_id))
}

/// The kinds of events a webhook may ask for, named as in the event log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, async_graphql::Enum)]
#[graphql(name = "WebhookEventKind")]
pub enum EventKind {
    /// `task.created`
    TaskCreated,
    /// `task.updated`: title, description, priority or due date edited.
    TaskUpdated,
    /// `task.transitioned`: the task moved through its workflow.
    TaskTransitioned,
    /// `task.reassigned`
    TaskReassigned,
    /// `task.commented`
    TaskCommented,
    /// `task.evidence_attached`
    TaskEvidenceAttached,
    /// `assignment.created`: a sector partner was assigned to a village.
    AssignmentCreated,
    /// `assignment.ended`
    AssignmentEnded,
    /// `water_quality.recorded` (the payload says whether the sample was `contaminated`).
    WaterQualityRecorded,
    /// `village.coverage_updated`: households or tap connections changed.
    VillageCoverageUpdated,
    /// `village.hgj_reported`: the village was reported Har Ghar Jal.
    VillageHgjReported,
    /// `village.hgj_certified`: the Gram Sabha certified it.
    VillageHgjCertified,
    /// `scheme.transitioned`: the scheme moved through its lifecycle (sanctioned, work order,
    /// on hold, completed, commissioned, cancelled).
    SchemeTransitioned,
    /// `scheme.component_added`: a component was added to the scheme's plan (the payload
    /// carries it as `component`).
    SchemeComponentAdded,
    /// `scheme.progress_recorded`: a component's physical progress was recorded (the payload
    /// carries the component as `component`, and the scheme's new `physicalProgress`).
    SchemeProgressRecorded,
    /// `scheme.inspected`: a quality inspection was recorded (the payload carries it as
    /// `inspection`, with its verdict, and the scheme's `openFindings`).
    SchemeInspected,
    /// `scheme.handed_over`: the scheme was handed over to the Gram Panchayat (the payload
    /// carries the `handover`, without the operator's name).
    SchemeHandedOver,
}

/// The row an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    Task,
    Assignment,
    WaterQualityTest,
    Village,
    Scheme,
}

impl Entity {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "task" => Self::Task,
            "assignment" => Self::Assignment,
            "water_quality_test" => Self::WaterQualityTest,
            "village" => Self::Village,
            "scheme" => Self::Scheme,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Assignment => "assignment",
            Self::WaterQualityTest => "water_quality_test",
            Self::Village => "village",
            Self::Scheme => "scheme",
        }
    }
}

impl EventKind {
    pub const ALL: [EventKind; 17] = [
        Self::TaskCreated,
        Self::TaskUpdated,
        Self::TaskTransitioned,
        Self::TaskReassigned,
        Self::TaskCommented,
        Self::TaskEvidenceAttached,
        Self::AssignmentCreated,
        Self::AssignmentEnded,
        Self::WaterQualityRecorded,
        Self::VillageCoverageUpdated,
        Self::VillageHgjReported,
        Self::VillageHgjCertified,
        Self::SchemeTransitioned,
        Self::SchemeComponentAdded,
        Self::SchemeProgressRecorded,
        Self::SchemeInspected,
        Self::SchemeHandedOver,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::TaskCreated => "task.created",
            Self::TaskUpdated => "task.updated",
            Self::TaskTransitioned => "task.transitioned",
            Self::TaskReassigned => "task.reassigned",
            Self::TaskCommented => "task.commented",
            Self::TaskEvidenceAttached => "task.evidence_attached",
            Self::AssignmentCreated => "assignment.created",
            Self::AssignmentEnded => "assignment.ended",
            Self::WaterQualityRecorded => "water_quality.recorded",
            Self::VillageCoverageUpdated => "village.coverage_updated",
            Self::VillageHgjReported => "village.hgj_reported",
            Self::VillageHgjCertified => "village.hgj_certified",
            Self::SchemeTransitioned => "scheme.transitioned",
            Self::SchemeComponentAdded => "scheme.component_added",
            Self::SchemeProgressRecorded => "scheme.progress_recorded",
            Self::SchemeInspected => "scheme.inspected",
            Self::SchemeHandedOver => "scheme.handed_over",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn entity(self) -> Entity {
        match self {
            Self::TaskCreated
            | Self::TaskUpdated
            | Self::TaskTransitioned
            | Self::TaskReassigned
            | Self::TaskCommented
            | Self::TaskEvidenceAttached => Entity::Task,
            Self::AssignmentCreated | Self::AssignmentEnded => Entity::Assignment,
            Self::WaterQualityRecorded => Entity::WaterQualityTest,
            Self::VillageCoverageUpdated | Self::VillageHgjReported | Self::VillageHgjCertified => {
                Entity::Village
            }
            Self::SchemeTransitioned
            | Self::SchemeComponentAdded
            | Self::SchemeProgressRecorded
            | Self::SchemeInspected
            | Self::SchemeHandedOver => Entity::Scheme,
        }
    }

    /// Space-separated, as stored.
    pub fn join(kinds: &[EventKind]) -> String {
        kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn split(stored: &str) -> Vec<EventKind> {
        stored.split_whitespace().filter_map(Self::parse).collect()
    }
}

/// Which rows' events a webhook wants, with ids already decoded (as stored, JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Only rows within this area (a global id, kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<String>,
    /// Only this village, and tasks, assignments and tests on it, and schemes serving it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub village: Option<i64>,
    /// Task events only for this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<i64>,
    /// Task events only for tasks now in one of these statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<entities::enums::TaskStatus>>,
}

impl Filter {
    /// The condition on rows of `entity` (its own table): the same area and id conditions the
    /// subscriptions use.
    pub fn condition(&self, entity: Entity) -> crate::error::ApiResult<Condition> {
        use entities::{assignment, scheme, scheme_village, water_quality_test};
        let mut cond = Condition::all();
        let area = self
            .within
            .as_ref()
            .map(|w| crate::graphql::inputs::area("filter.within", &async_graphql::ID(w.clone())))
            .transpose()?;
        let villages_of = |area: &crate::service::area::Area| {
            sea_orm::sea_query::Query::select()
                .column(village::Column::Id)
                .from(village::Entity)
                .cond_where(area.villages())
                .to_owned()
        };
        match entity {
            Entity::Task => {
                if let Some(a) = &area {
                    cond = cond.add(a.tasks());
                }
                if let Some(v) = self.village {
                    cond = cond.add(task::Column::VillageId.eq(v));
                }
                if let Some(t) = self.task {
                    cond = cond.add(task::Column::Id.eq(t));
                }
                if let Some(s) = &self.status {
                    cond = cond.add(task::Column::Status.is_in(s.iter().copied()));
                }
            }
            Entity::Village => {
                if let Some(a) = &area {
                    cond = cond.add(a.villages());
                }
                if let Some(v) = self.village {
                    cond = cond.add(village::Column::Id.eq(v));
                }
            }
            Entity::Assignment => {
                if let Some(a) = &area {
                    cond = cond.add(assignment::Column::VillageId.in_subquery(villages_of(a)));
                }
                if let Some(v) = self.village {
                    cond = cond.add(assignment::Column::VillageId.eq(v));
                }
            }
            Entity::WaterQualityTest => {
                if let Some(a) = &area {
                    cond =
                        cond.add(water_quality_test::Column::VillageId.in_subquery(villages_of(a)));
                }
                if let Some(v) = self.village {
                    cond = cond.add(water_quality_test::Column::VillageId.eq(v));
                }
            }
            Entity::Scheme => {
                if let Some(a) = &area {
                    cond = cond.add(a.schemes());
                }
                if let Some(v) = self.village {
                    let serving = sea_orm::sea_query::Query::select()
                        .column(scheme_village::Column::SchemeId)
                        .from(scheme_village::Entity)
                        .and_where(scheme_village::Column::VillageId.eq(v))
                        .to_owned();
                    cond = cond.add(scheme::Column::Id.in_subquery(serving));
                }
            }
        }
        Ok(cond)
    }
}
