//! List filters, as plain conditions on one table each. The GraphQL inputs convert into these.

use chrono::NaiveDate;
use entities::{enums::*, *};
use sea_orm::{
    ColumnTrait, Condition,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query},
};

use super::{Service, area::Area, search_key::query_key};
use crate::error::ApiResult;

/// `%text%` with LIKE's wildcards escaped, lower-cased for a case-insensitive English match.
fn contains_pattern(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

/// Name search in English (case-insensitive) or Hindi, portable across SQLite and PostgreSQL.
pub fn name_search<C: ColumnTrait>(name: C, name_hi: Option<C>, text: &str) -> Condition {
    let mut any = Condition::any()
        .add(Func::lower(Expr::col(name.as_column_ref())).like(contains_pattern(text)));
    if let Some(hi) = name_hi {
        any = any.add(Expr::col(hi.as_column_ref()).like(contains_pattern(text)));
    }
    any
}

fn any_of<C: ColumnTrait, V: Into<sea_orm::Value> + Clone>(
    column: C,
    values: &[V],
) -> Option<Condition> {
    (!values.is_empty()).then(|| Condition::all().add(column.is_in(values.iter().cloned())))
}

/// Filter for the geography lists (states, divisions, districts, blocks, gram panchayats).
#[derive(Debug, Clone, Default)]
pub struct AreaFilter {
    pub within: Option<Area>,
    pub search: Option<String>,
}

/// Villages with at least one open task (not done, verified or cancelled) matching this.
#[derive(Debug, Clone, Default)]
pub struct VillageTasks {
    /// Only tasks past their due date.
    pub overdue: bool,
    pub kind: Vec<TaskKind>,
    /// Assigned to this line department (any state's organisation for it).
    pub department: Option<Department>,
    /// Assigned to this organisation.
    pub assignee: Option<i64>,
}

/// A village column the entities leave out (kept by the database: see the migration
/// `m20261126_000004_orderings_and_search`).
fn village_col(name: &str) -> Expr {
    Expr::col((village::Entity, sea_orm::sea_query::Alias::new(name)))
}

/// `village.id IN (SELECT village_id FROM … WHERE cond)`.
fn villages_in<C: ColumnTrait>(village_id: C, cond: Condition) -> Condition {
    let ids = Query::select()
        .column(village_id)
        .from(village_id.entity_name())
        .cond_where(cond)
        .to_owned();
    Condition::all().add(village::Column::Id.in_subquery(ids))
}

/// Inclusive date bounds on `column`.
fn between<C: ColumnTrait>(column: C, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Condition {
    let mut c = Condition::all();
    if let Some(from) = from {
        c = c.add(column.gte(from));
    }
    if let Some(to) = to {
        c = c.add(column.lte(to));
    }
    c
}

#[derive(Debug, Clone, Default)]
pub struct VillageFilter {
    pub within: Option<Area>,
    /// Villages with open tasks like this.
    pub tasks: Option<VillageTasks>,
    /// Villages whose latest water-quality test was contaminated (true) or clean (false).
    pub latest_test_contaminated: Option<bool>,
    pub reported_from: Option<NaiveDate>,
    pub reported_to: Option<NaiveDate>,
    pub certified_from: Option<NaiveDate>,
    pub certified_to: Option<NaiveDate>,
    /// Villages this partner organisation is assigned to today.
    pub assigned_partner: Option<i64>,
    pub hgj_status: Vec<HgjStatus>,
    /// Inclusive bounds on tap coverage, in percent.
    pub coverage_min: Option<f64>,
    pub coverage_max: Option<f64>,
    pub search: Option<String>,
    /// Villages served by at least one scheme in one of these statuses.
    pub scheme_status: Vec<SchemeStatus>,
}

impl VillageFilter {
    /// The condition for `svc`'s principal: the tasks, tests and assignments a filter looks
    /// into are only those it may read (a filter must not reveal rows a list would hide).
    pub fn condition(&self, svc: &Service) -> ApiResult<Condition> {
        let mut c = self.own_condition();
        if let Some(t) = &self.tasks {
            let mut tasks = Condition::all()
                .add(svc.reach_of::<task::Entity>()?)
                .add(task::Column::VillageId.is_not_null())
                .add(task::Column::Status.is_in(OPEN_STATUSES));
            if t.overdue {
                tasks = tasks.add(overdue(svc.today()));
            }
            if let Some(k) = any_of(task::Column::Kind, &t.kind) {
                tasks = tasks.add(k);
            }
            if let Some(dept) = t.department {
                tasks = tasks.add(assigned_to_department(dept));
            }
            if let Some(org) = t.assignee {
                tasks = tasks.add(task::Column::AssigneeOrganisationId.eq(org));
            }
            c = c.add(villages_in(task::Column::VillageId, tasks));
        }
        if let Some(flag) = self.latest_test_contaminated {
            svc.reach_of::<water_quality_test::Entity>()?;
            c = c.add(village_col("latest_test_contaminated").eq(flag));
            if !flag {
                c = c.add(village_col("latest_test_id").is_not_null());
            }
        }
        if let Some(org) = self.assigned_partner {
            let assigned = Condition::all()
                .add(svc.reach_of::<assignment::Entity>()?)
                .add(assignment::Column::OrganisationId.eq(org))
                .add(active_assignment(svc.today()));
            c = c.add(villages_in(assignment::Column::VillageId, assigned));
        }
        Ok(c)
    }

    /// The parts that look at the village and its Har Ghar Jal records only.
    fn own_condition(&self) -> Condition {
        let mut c = Condition::all();
        if self.reported_from.is_some() || self.reported_to.is_some() {
            c = c.add(villages_in(
                hgj_report::Column::VillageId,
                between(
                    hgj_report::Column::ReportedOn,
                    self.reported_from,
                    self.reported_to,
                ),
            ));
        }
        if self.certified_from.is_some() || self.certified_to.is_some() {
            c = c.add(villages_in(
                hgj_certification::Column::VillageId,
                between(
                    hgj_certification::Column::CertifiedOn,
                    self.certified_from,
                    self.certified_to,
                ),
            ));
        }
        if let Some(area) = self.within {
            c = c.add(area.villages());
        }
        if let Some(h) = any_of(village::Column::HgjStatus, &self.hgj_status) {
            c = c.add(h);
        }
        // taps * 100 compared with households * bound: no division, so no zero-household trap.
        let taps = || Expr::col(village::Column::TapConnections.as_column_ref()).mul(100.0);
        let hh = || Expr::col(village::Column::Households.as_column_ref());
        if let Some(min) = self.coverage_min {
            c = c.add(taps().gte(hh().mul(min)));
        }
        if let Some(max) = self.coverage_max {
            c = c.add(taps().lte(hh().mul(max)));
        }
        if let Some(text) = &self.search {
            let mut any = name_search(village::Column::Name, Some(village::Column::NameHi), text);
            let key = query_key(text);
            if !key.is_empty() {
                any = any.add(village::Column::SearchKey.like(contains_pattern(&key)));
            }
            c = c.add(any);
        }
        if !self.scheme_status.is_empty() {
            let serving = Query::select()
                .column(scheme_village::Column::VillageId)
                .from(scheme_village::Entity)
                .and_where(
                    scheme_village::Column::SchemeId.in_subquery(
                        Query::select()
                            .column(scheme::Column::Id)
                            .from(scheme::Entity)
                            .and_where(
                                scheme::Column::Status.is_in(self.scheme_status.iter().copied()),
                            )
                            .to_owned(),
                    ),
                )
                .to_owned();
            c = c.add(village::Column::Id.in_subquery(serving));
        }
        c
    }
}

#[derive(Debug, Clone, Default)]
pub struct SchemeFilter {
    pub within: Option<Area>,
    pub status: Vec<SchemeStatus>,
    pub scheme_type: Vec<SchemeType>,
    pub search: Option<String>,
    /// Physical progress, overdue and open findings (`schemes::filter`).
    pub works: super::schemes::filter::WorksFilter,
}

impl SchemeFilter {
    pub fn condition(&self, today: NaiveDate) -> crate::error::ApiResult<Condition> {
        let mut c = self.works.condition(today)?;
        if let Some(area) = self.within {
            c = c.add(area.schemes());
        }
        if let Some(s) = any_of(scheme::Column::Status, &self.status) {
            c = c.add(s);
        }
        if let Some(t) = any_of(scheme::Column::SchemeType, &self.scheme_type) {
            c = c.add(t);
        }
        if let Some(text) = &self.search {
            let by_name = name_search(scheme::Column::Name, Some(scheme::Column::NameHi), text);
            let by_code = name_search(scheme::Column::Code, None, text);
            c = c.add(Condition::any().add(by_name).add(by_code));
        }
        Ok(c)
    }
}

/// Task statuses that still need work; a task in one of them past its due date is overdue.
pub const OPEN_STATUSES: [TaskStatus; 3] = [
    TaskStatus::Open,
    TaskStatus::InProgress,
    TaskStatus::Blocked,
];

/// Tasks past their due date and still open, on `today`.
pub fn overdue(today: NaiveDate) -> Condition {
    Condition::all()
        .add(task::Column::DueOn.lt(today))
        .add(task::Column::Status.is_in(OPEN_STATUSES))
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub within: Option<Area>,
    pub status: Vec<TaskStatus>,
    pub kind: Vec<TaskKind>,
    pub priority: Vec<TaskPriority>,
    /// Tasks assigned to this line department (any state's organisation for it).
    pub department: Option<Department>,
    pub assignee: Option<i64>,
    pub village: Option<i64>,
    pub scheme: Option<i64>,
    pub overdue: Option<bool>,
    /// Inclusive bounds on the due date (tasks without one never match).
    pub due_from: Option<NaiveDate>,
    pub due_to: Option<NaiveDate>,
    /// Text in the title or the description, any case.
    pub search: Option<String>,
    /// Raised by this organisation.
    pub raised_by: Option<i64>,
}

impl TaskFilter {
    pub fn condition(&self, today: NaiveDate) -> Condition {
        let mut c = Condition::all();
        if let Some(area) = self.within {
            c = c.add(area.tasks());
        }
        for extra in [
            any_of(task::Column::Status, &self.status),
            any_of(task::Column::Kind, &self.kind),
            any_of(task::Column::Priority, &self.priority),
        ]
        .into_iter()
        .flatten()
        {
            c = c.add(extra);
        }
        if let Some(dept) = self.department {
            c = c.add(assigned_to_department(dept));
        }
        if self.due_from.is_some() || self.due_to.is_some() {
            c = c.add(between(task::Column::DueOn, self.due_from, self.due_to));
        }
        if let Some(text) = &self.search {
            let title = name_search(task::Column::Title, None, text);
            let description = name_search(task::Column::Description, None, text);
            c = c.add(Condition::any().add(title).add(description));
        }
        if let Some(org) = self.raised_by {
            c = c.add(task::Column::RaisedByOrganisationId.eq(org));
        }
        if let Some(org) = self.assignee {
            c = c.add(task::Column::AssigneeOrganisationId.eq(org));
        }
        if let Some(v) = self.village {
            c = c.add(task::Column::VillageId.eq(v));
        }
        if let Some(s) = self.scheme {
            c = c.add(task::Column::SchemeId.eq(s));
        }
        match self.overdue {
            Some(true) => c = c.add(overdue(today)),
            Some(false) => c = c.add(not_overdue(today)),
            None => {}
        }
        c
    }
}

/// Tasks assigned to any state's organisation for `dept`.
fn assigned_to_department(dept: Department) -> Condition {
    let orgs = Query::select()
        .column(organisation::Column::Id)
        .from(organisation::Entity)
        .and_where(organisation::Column::Department.eq(dept))
        .to_owned();
    Condition::all().add(task::Column::AssigneeOrganisationId.in_subquery(orgs))
}

/// The complement of [`overdue`], spelled out because `NOT` over a null due date is null.
fn not_overdue(today: NaiveDate) -> Condition {
    Condition::any()
        .add(task::Column::DueOn.is_null())
        .add(task::Column::DueOn.gte(today))
        .add(task::Column::Status.is_not_in(OPEN_STATUSES))
}

#[derive(Debug, Clone, Default)]
pub struct OrganisationFilter {
    pub kind: Option<OrganisationKind>,
    pub department: Option<Department>,
    pub theme: Option<Theme>,
    pub search: Option<String>,
}

impl OrganisationFilter {
    pub fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(kind) = self.kind {
            c = c.add(organisation::Column::Kind.eq(kind));
        }
        if let Some(dept) = self.department {
            c = c.add(organisation::Column::Department.eq(dept));
        }
        if let Some(theme) = self.theme {
            let with_theme = Query::select()
                .column(organisation_theme::Column::OrganisationId)
                .from(organisation_theme::Entity)
                .and_where(organisation_theme::Column::Theme.eq(theme))
                .to_owned();
            c = c.add(organisation::Column::Id.in_subquery(with_theme));
        }
        if let Some(text) = &self.search {
            let by_name = name_search(organisation::Column::Name, None, text);
            let by_code = name_search(organisation::Column::Code, None, text);
            c = c.add(Condition::any().add(by_name).add(by_code));
        }
        c
    }
}

/// Assignments active on `today`: started, and not yet ended.
pub fn active_assignment(today: NaiveDate) -> Condition {
    Condition::all()
        .add(assignment::Column::StartsOn.lte(today))
        .add(
            Condition::any()
                .add(assignment::Column::EndsOn.is_null())
                .add(assignment::Column::EndsOn.gte(today)),
        )
}

/// Where an assignment stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AssignmentStatus {
    /// Starts after today.
    Upcoming,
    /// In force today.
    Active,
    /// Ended before today.
    Ended,
}

impl AssignmentStatus {
    fn condition(self, today: NaiveDate) -> Condition {
        match self {
            Self::Upcoming => Condition::all().add(assignment::Column::StartsOn.gt(today)),
            Self::Active => active_assignment(today),
            Self::Ended => Condition::all().add(assignment::Column::EndsOn.lt(today)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AssignmentFilter {
    pub within: Option<Area>,
    pub organisation: Option<i64>,
    pub village: Option<i64>,
    pub theme: Option<Theme>,
    /// Any of these themes.
    pub themes: Vec<Theme>,
    pub active: Option<bool>,
    /// Any of these statuses.
    pub status: Vec<AssignmentStatus>,
}

impl AssignmentFilter {
    pub fn condition(&self, today: NaiveDate) -> Condition {
        let mut c = Condition::all();
        if let Some(area) = self.within {
            let villages = Query::select()
                .column(village::Column::Id)
                .from(village::Entity)
                .cond_where(area.villages())
                .to_owned();
            c = c.add(assignment::Column::VillageId.in_subquery(villages));
        }
        if let Some(org) = self.organisation {
            c = c.add(assignment::Column::OrganisationId.eq(org));
        }
        if let Some(v) = self.village {
            c = c.add(assignment::Column::VillageId.eq(v));
        }
        if let Some(theme) = self.theme {
            c = c.add(assignment::Column::Theme.eq(theme));
        }
        if let Some(t) = any_of(assignment::Column::Theme, &self.themes) {
            c = c.add(t);
        }
        if !self.status.is_empty() {
            c = c.add(
                self.status
                    .iter()
                    .fold(Condition::any(), |any, s| any.add(s.condition(today))),
            );
        }
        match self.active {
            Some(true) => c = c.add(active_assignment(today)),
            Some(false) => c = c.add(active_assignment(today).not()),
            None => {}
        }
        c
    }
}

#[derive(Debug, Clone, Default)]
pub struct WaterQualityFilter {
    pub within: Option<Area>,
    pub village: Option<i64>,
    pub contaminated: Option<bool>,
    pub method: Option<WqMethod>,
    pub sampled_from: Option<NaiveDate>,
    pub sampled_to: Option<NaiveDate>,
    /// Tests in which one of these parameters exceeded its BIS 10500 limit.
    pub exceeding: Vec<WqParameter>,
}

impl WaterQualityFilter {
    pub fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(area) = self.within {
            let villages = Query::select()
                .column(village::Column::Id)
                .from(village::Entity)
                .cond_where(area.villages())
                .to_owned();
            c = c.add(water_quality_test::Column::VillageId.in_subquery(villages));
        }
        if let Some(v) = self.village {
            c = c.add(water_quality_test::Column::VillageId.eq(v));
        }
        if let Some(flag) = self.contaminated {
            c = c.add(water_quality_test::Column::Contaminated.eq(flag));
        }
        if let Some(m) = self.method {
            c = c.add(water_quality_test::Column::Method.eq(m));
        }
        if let Some(from) = self.sampled_from {
            c = c.add(water_quality_test::Column::SampledOn.gte(from));
        }
        if let Some(to) = self.sampled_to {
            c = c.add(water_quality_test::Column::SampledOn.lte(to));
        }
        if !self.exceeding.is_empty() {
            let failed = Query::select()
                .column(water_quality_result::Column::TestId)
                .from(water_quality_result::Entity)
                .and_where(water_quality_result::Column::Exceeds.eq(true))
                .and_where(
                    water_quality_result::Column::Parameter.is_in(self.exceeding.iter().copied()),
                )
                .to_owned();
            c = c.add(water_quality_test::Column::Id.in_subquery(failed));
        }
        c
    }
}

/// The same rule as [`active_assignment`], for a row already loaded.
pub fn active_assignment_on(a: &assignment::Model, today: NaiveDate) -> bool {
    a.starts_on <= today && a.ends_on.is_none_or(|end| end >= today)
}

/// The same rule as [`overdue`], for a row already loaded.
pub fn is_overdue(t: &task::Model, today: NaiveDate) -> bool {
    OPEN_STATUSES.contains(&t.status) && t.due_on.is_some_and(|due| due < today)
}
