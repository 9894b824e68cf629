//! Progress reports for review meetings and dashboards.

use std::{borrow::Cow, sync::Arc};

use async_graphql::{
    Context, ContextSelectionSet, ID, Object, OutputType, Positioned, ScalarType, ServerResult,
    SimpleObject, Value, parser::types::Field, registry::Registry,
};
use entities::{enums::SchemeStatus, *};

use super::{
    Area, Block, District, Division, GramPanchayat, State,
    plain::{Plain, PlainList},
};
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

/// Progress of every area at one level, with the parent they are compared against. Shared by
/// the rows, which read their totals (and the parent's) in place.
pub struct ProgressReport(pub Arc<Report>);

#[Object]
impl ProgressReport {
    async fn level(&self) -> AreaLevel {
        self.0.level
    }
    /// The area the rows are within (the whole reach when no `within` was given).
    async fn parent(&self) -> ProgressRow {
        ProgressRow(Row {
            report: self.0.clone(),
            index: None,
        })
    }
    /// One row per area at `level`, in id order unless the query's `orderBy` says otherwise.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn rows(&self) -> PlainList<ProgressRow> {
        PlainList(
            (0..self.0.rows.len())
                .map(|i| {
                    ProgressRow(Row {
                        report: self.0.clone(),
                        index: Some(i),
                    })
                })
                .collect(),
        )
    }
}

/// The `ProgressRow` type as served: [`Row`]'s resolvers, except for a selection of plain
/// values only (a dashboard's), which is answered in one pass ([`Plain`]).
pub struct ProgressRow(Row);

impl OutputType for ProgressRow {
    fn type_name() -> Cow<'static, str> {
        <Row as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Row as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        match self.plain_values(&ctx.item.node) {
            Some(value) => Ok(value),
            None => OutputType::resolve(&self.0, ctx, field).await,
        }
    }
}

impl Plain for ProgressRow {
    fn plain(&self, name: &str) -> Option<Value> {
        let row = &self.0;
        let t = row.totals();
        Some(match name {
            "areaId" => opt(row.area_id()),
            "villages" => t.villages.to_value(),
            "households" => t.households.to_value(),
            "tapConnections" => t.tap_connections.to_value(),
            "coveragePercent" => opt(t.coverage_percent()),
            "villagesReported" => t.villages_reported.to_value(),
            "villagesCertified" => t.villages_certified.to_value(),
            "reportedPercent" => opt(t.reported_percent()),
            "schemes" => t.schemes_total().to_value(),
            "tasksOpen" => t.tasks_open.to_value(),
            "tasksOverdue" => t.tasks_overdue.to_value(),
            "coverageDifference" => opt(row.coverage_difference()),
            "reportedDifference" => opt(row.reported_difference()),
            _ => return None,
        })
    }
}

/// One area's totals: `index` into the report's rows, or the parent's where `None`.
struct Row {
    report: Arc<Report>,
    index: Option<usize>,
}

impl Row {
    fn totals(&self) -> &Totals {
        match self.index {
            Some(i) => &self.report.rows[i],
            None => &self.report.parent,
        }
    }

    /// The parent's totals, for the differences; `None` on the parent row itself.
    fn parent(&self) -> Option<&Totals> {
        self.index.map(|_| &self.report.parent)
    }

    fn area_id(&self) -> Option<ID> {
        let a = self.totals().area?;
        let kind = match a.level {
            AreaLevel::State => ids::Kind::State,
            AreaLevel::Division => ids::Kind::Division,
            AreaLevel::District => ids::Kind::District,
            AreaLevel::Block => ids::Kind::Block,
            AreaLevel::GramPanchayat => ids::Kind::GramPanchayat,
        };
        Some(ids::encode(kind, a.id))
    }

    fn coverage_difference(&self) -> Option<f64> {
        difference(
            self.totals().coverage_percent(),
            self.parent()?.coverage_percent(),
        )
    }

    fn reported_difference(&self) -> Option<f64> {
        difference(
            self.totals().reported_percent(),
            self.parent()?.reported_percent(),
        )
    }
}

/// A nullable scalar's value, as `Option<T>`'s resolver makes it.
fn opt<T: ScalarType>(value: Option<T>) -> Value {
    value.map_or(Value::Null, |v| v.to_value())
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

#[Object(name = "ProgressRow")]
impl Row {
    /// Global id of the area; null for the whole reach.
    #[graphql(name = "areaId")]
    async fn resolve_area_id(&self) -> Option<ID> {
        self.area_id()
    }
    /// The area itself; null for the whole reach.
    async fn area(&self, ctx: &Context<'_>) -> ApiResult<Option<Area>> {
        let Some(area::Area { level, id }) = self.totals().area else {
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
        self.totals().villages
    }
    async fn households(&self) -> i64 {
        self.totals().households
    }
    async fn tap_connections(&self) -> i64 {
        self.totals().tap_connections
    }
    /// Households with a tap, in percent.
    async fn coverage_percent(&self) -> Option<f64> {
        self.totals().coverage_percent()
    }
    /// Villages reported Har Ghar Jal (including those since certified).
    async fn villages_reported(&self) -> i64 {
        self.totals().villages_reported
    }
    async fn villages_certified(&self) -> i64 {
        self.totals().villages_certified
    }
    /// Villages reported Har Ghar Jal, in percent of villages.
    async fn reported_percent(&self) -> Option<f64> {
        self.totals().reported_percent()
    }
    /// Schemes serving the area's villages (a multi-village scheme counts once).
    async fn schemes(&self) -> i64 {
        self.totals().schemes_total()
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn schemes_by_status(&self) -> Vec<SchemeStatusCount> {
        self.totals()
            .schemes()
            .map(|(status, count)| SchemeStatusCount { status, count })
            .collect()
    }
    /// Tasks not yet done or cancelled.
    async fn tasks_open(&self) -> i64 {
        self.totals().tasks_open
    }
    /// Open tasks past their due date.
    async fn tasks_overdue(&self) -> i64 {
        self.totals().tasks_overdue
    }
    /// Scheme works: physical progress, overdue schemes, open inspection findings, handovers.
    async fn works(&self) -> super::works::SchemeWorksProgress {
        super::works::SchemeWorksProgress(self.totals().works.clone())
    }
    /// Coverage minus the parent's coverage, in percentage points: negative means below the
    /// parent's average. Null on the parent row itself.
    #[graphql(name = "coverageDifference")]
    async fn resolve_coverage_difference(&self) -> Option<f64> {
        self.coverage_difference()
    }
    /// Reported share minus the parent's, in percentage points.
    #[graphql(name = "reportedDifference")]
    async fn resolve_reported_difference(&self) -> Option<f64> {
        self.reported_difference()
    }
}
