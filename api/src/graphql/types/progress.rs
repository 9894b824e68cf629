//! Progress reports for review meetings and dashboards.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use entities::{enums::SchemeStatus, *};

use super::{Area, Block, District, Division, GramPanchayat, State};
use crate::{
    error::ApiResult,
    graphql::{ids, loaders},
    service::{
        area::{self, AreaLevel},
        order::OrderDirection,
        progress::{Parts, ProgressReport as Report, Totals},
    },
};

/// The `ProgressRow` fields counted by the scheme and the task statements. Village counts are
/// always made (most fields need them); these two statements run only when a field of theirs
/// is selected, on the rows or on the parent.
const SCHEME_FIELDS: [&str; 2] = ["schemes", "schemesByStatus"];
const TASK_FIELDS: [&str; 2] = ["tasksOpen", "tasksOverdue"];

/// What a `progress` selection needs counted.
pub fn parts_selected(ctx: &Context<'_>) -> Parts {
    let look = ctx.look_ahead();
    let asks = |fields: &[&str]| {
        ["rows", "parent"]
            .iter()
            .any(|side| fields.iter().any(|f| look.field(side).field(f).exists()))
    };
    Parts {
        villages: true,
        schemes: asks(&SCHEME_FIELDS),
        tasks: asks(&TASK_FIELDS),
        works: asks(&["works"]),
    }
}

/// Orderings of progress rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum ProgressOrderField {
    /// Database id of the area (the default).
    Area,
    /// Household tap coverage.
    Coverage,
    /// Coverage minus the parent's: the same order as coverage, named for dashboards.
    CoverageDifference,
    /// Share of villages reported Har Ghar Jal.
    Reported,
    /// Open tasks.
    OpenTasks,
    /// Open tasks past their due date.
    OverdueTasks,
}

/// How to order progress rows; ties (and areas with no households, which sort last) are
/// broken by area id.
#[derive(async_graphql::InputObject, Clone, Copy)]
#[graphql(name = "ProgressOrder")]
pub struct ProgressOrder {
    /// What to order by.
    pub field: ProgressOrderField,
    /// Ascending unless given.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl ProgressOrder {
    /// Whether the order needs the task counts, selected or not.
    pub fn needs_tasks(order: Option<Self>) -> bool {
        order.is_some_and(|o| {
            matches!(
                o.field,
                ProgressOrderField::OpenTasks | ProgressOrderField::OverdueTasks
            )
        })
    }

    /// Sorts `rows` and keeps the first `first` of them.
    pub fn apply(order: Option<Self>, rows: &mut Vec<Totals>, first: Option<usize>) {
        if let Some(o) = order {
            let key = |t: &Totals| -> Option<f64> {
                match o.field {
                    ProgressOrderField::Area => None,
                    ProgressOrderField::Coverage | ProgressOrderField::CoverageDifference => {
                        t.coverage_percent()
                    }
                    ProgressOrderField::Reported => t.reported_percent(),
                    ProgressOrderField::OpenTasks => Some(t.tasks_open as f64),
                    ProgressOrderField::OverdueTasks => Some(t.tasks_overdue as f64),
                }
            };
            let id = |t: &Totals| t.area.map_or(0, |a| a.id);
            rows.sort_by(|a, b| {
                let by_key = match (key(a), key(b)) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    // Rows without a value (no households) sort last either way.
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                };
                let ord = by_key.then_with(|| id(a).cmp(&id(b)));
                if o.direction == OrderDirection::Desc {
                    ord.reverse()
                } else {
                    ord
                }
            });
        }
        if let Some(n) = first {
            rows.truncate(n);
        }
    }
}

/// Progress of every area at one level, with the parent they are compared against.
pub struct ProgressReport(pub Report);

#[Object]
impl ProgressReport {
    async fn level(&self) -> AreaLevel {
        self.0.level
    }
    /// The area the rows are within (the whole reach when no `within` was given).
    async fn parent(&self) -> ProgressRow {
        ProgressRow {
            totals: self.0.parent.clone(),
            parent: None,
        }
    }
    /// One row per area at `level`, in id order unless the query's `orderBy` says otherwise.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn rows(&self) -> Vec<ProgressRow> {
        let parent = Arc::new(self.0.parent.clone());
        self.0
            .rows
            .iter()
            .map(|t| ProgressRow {
                totals: t.clone(),
                parent: Some(parent.clone()),
            })
            .collect()
    }
}

pub struct ProgressRow {
    totals: Totals,
    parent: Option<Arc<Totals>>,
}

/// How many schemes are in one status.
#[derive(SimpleObject)]
pub struct SchemeStatusCount {
    pub status: SchemeStatus,
    pub count: i64,
}

fn difference(row: Option<f64>, parent: Option<f64>) -> Option<f64> {
    Some(row? - parent?)
}

#[Object]
impl ProgressRow {
    /// Global id of the area; null for the whole reach.
    async fn area_id(&self) -> Option<ID> {
        let a = self.totals.area?;
        let kind = match a.level {
            AreaLevel::State => ids::Kind::State,
            AreaLevel::Division => ids::Kind::Division,
            AreaLevel::District => ids::Kind::District,
            AreaLevel::Block => ids::Kind::Block,
            AreaLevel::GramPanchayat => ids::Kind::GramPanchayat,
        };
        Some(ids::encode(kind, a.id))
    }
    /// The area itself; null for the whole reach.
    async fn area(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        let Some(area::Area { level, id }) = self.totals.area else {
            return Ok(None);
        };
        Ok(match level {
            AreaLevel::State => loaders::one::<state::Entity>(ctx, id)
                .await?
                .map(|m| Area::State(State(m))),
            AreaLevel::Division => loaders::one::<division::Entity>(ctx, id)
                .await?
                .map(|m| Area::Division(Division(m))),
            AreaLevel::District => loaders::one::<district::Entity>(ctx, id)
                .await?
                .map(|m| Area::District(District(m))),
            AreaLevel::Block => loaders::one::<block::Entity>(ctx, id)
                .await?
                .map(|m| Area::Block(Block(m))),
            AreaLevel::GramPanchayat => loaders::one::<gram_panchayat::Entity>(ctx, id)
                .await?
                .map(|m| Area::GramPanchayat(GramPanchayat(m))),
        })
    }
    async fn villages(&self) -> i64 {
        self.totals.villages
    }
    async fn households(&self) -> i64 {
        self.totals.households
    }
    async fn tap_connections(&self) -> i64 {
        self.totals.tap_connections
    }
    /// Households with a tap, in percent.
    async fn coverage_percent(&self) -> Option<f64> {
        self.totals.coverage_percent()
    }
    /// Villages reported Har Ghar Jal (including those since certified).
    async fn villages_reported(&self) -> i64 {
        self.totals.villages_reported
    }
    async fn villages_certified(&self) -> i64 {
        self.totals.villages_certified
    }
    /// Villages reported Har Ghar Jal, in percent of villages.
    async fn reported_percent(&self) -> Option<f64> {
        self.totals.reported_percent()
    }
    /// Schemes serving the area's villages (a multi-village scheme counts once).
    async fn schemes(&self) -> i64 {
        self.totals.schemes_total()
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn schemes_by_status(&self) -> Vec<SchemeStatusCount> {
        self.totals
            .schemes()
            .map(|(status, count)| SchemeStatusCount { status, count })
            .collect()
    }
    /// Tasks not yet done or cancelled.
    async fn tasks_open(&self) -> i64 {
        self.totals.tasks_open
    }
    /// Open tasks past their due date.
    async fn tasks_overdue(&self) -> i64 {
        self.totals.tasks_overdue
    }
    /// Scheme works: physical progress, overdue schemes, open inspection findings, handovers.
    async fn works(&self) -> super::works::SchemeWorksProgress {
        super::works::SchemeWorksProgress(self.totals.works.clone())
    }
    /// Coverage minus the parent's coverage, in percentage points: negative means below the
    /// parent's average. Null on the parent row itself.
    async fn coverage_difference(&self) -> Option<f64> {
        let parent = self.parent.as_ref()?;
        difference(self.totals.coverage_percent(), parent.coverage_percent())
    }
    /// Reported share minus the parent's, in percentage points.
    async fn reported_difference(&self) -> Option<f64> {
        let parent = self.parent.as_ref()?;
        difference(self.totals.reported_percent(), parent.reported_percent())
    }
}
