//! Filter inputs. Each converts into a service filter, naming the field at fault when invalid.

use async_graphql::{ID, InputObject};
use chrono::NaiveDate;
use entities::enums::*;

use super::ids::{Kind, decode_as, decode_one};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        area::{Area, AreaLevel},
        filters, order,
    },
};

const MAX_SEARCH: usize = 100;

/// Decodes an id that must name an area (state, division, district, block or GP).
pub fn area(argument: &str, id: &ID) -> ApiResult<Area> {
    let (kind, n) = decode_as(
        argument,
        id,
        &[
            Kind::State,
            Kind::Division,
            Kind::District,
            Kind::Block,
            Kind::GramPanchayat,
        ],
    )?;
    let level = match kind {
        Kind::State => AreaLevel::State,
        Kind::Division => AreaLevel::Division,
        Kind::District => AreaLevel::District,
        Kind::Block => AreaLevel::Block,
        _ => AreaLevel::GramPanchayat,
    };
    Ok(Area::new(level, n))
}

fn within(id: Option<ID>) -> ApiResult<Option<Area>> {
    id.map(|id| area("filter.within", &id)).transpose()
}

fn search(text: Option<String>) -> ApiResult<Option<String>> {
    match text {
        Some(t) if t.trim().is_empty() => Err(ApiError::bad_input(
            "filter.search",
            "`filter.search` must not be empty",
        )),
        Some(t) if t.chars().count() > MAX_SEARCH => Err(ApiError::bad_input(
            "filter.search",
            format!("`filter.search` must be at most {MAX_SEARCH} characters"),
        )),
        other => Ok(other),
    }
}

fn one(field: &str, id: Option<ID>, kind: Kind) -> ApiResult<Option<i64>> {
    id.map(|id| decode_one(field, &id, kind)).transpose()
}

/// Filter for geography lists.
#[derive(InputObject, Default)]
#[graphql(name = "AreaFilter")]
pub struct AreaFilterInput {
    /// Only areas within this state, division, district, block or gram panchayat.
    pub within: Option<ID>,
    /// Part of the name, in English (any case) or Hindi.
    pub search: Option<String>,
}

impl AreaFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::AreaFilter> {
        Ok(filters::AreaFilter {
            within: within(self.within)?,
            search: search(self.search)?,
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "VillageFilter")]
pub struct VillageFilterInput {
    /// Only villages within this state, division, district, block or gram panchayat.
    pub within: Option<ID>,
    pub hgj_status: Option<Vec<HgjStatus>>,
    /// Lowest tap coverage, in percent (inclusive).
    pub coverage_min: Option<f64>,
    /// Highest tap coverage, in percent (inclusive).
    pub coverage_max: Option<f64>,
    /// Part of the village name, in English (any case) or Hindi.
    pub search: Option<String>,
    /// Only villages served by a scheme in one of these statuses.
    pub scheme_status: Option<Vec<SchemeStatus>>,
    /// Only villages with at least one open task like this (among the tasks the caller may
    /// read; needs `tasks:read`).
    pub with_open_tasks: Option<VillageTasksInput>,
    /// Only villages whose latest water-quality test was contaminated (true) or clean (false);
    /// villages never tested match neither. Needs `quality:read`.
    pub latest_test_contaminated: Option<bool>,
    /// Reported Har Ghar Jal on or after this date.
    pub reported_from: Option<NaiveDate>,
    /// Reported Har Ghar Jal on or before this date.
    pub reported_to: Option<NaiveDate>,
    /// Certified by the Gram Sabha on or after this date.
    pub certified_from: Option<NaiveDate>,
    /// Certified by the Gram Sabha on or before this date.
    pub certified_to: Option<NaiveDate>,
    /// Only villages this partner organisation is assigned to today (needs `assignments:read`).
    pub assigned_partner: Option<ID>,
}

/// Open tasks a village must have to match: all the given conditions hold for one task.
#[derive(InputObject, Default)]
#[graphql(name = "VillageTasksFilter")]
pub struct VillageTasksInput {
    /// Only tasks past their due date.
    #[graphql(default)]
    pub overdue: bool,
    /// Of one of these kinds.
    pub kind: Option<Vec<TaskKind>>,
    /// Assigned to this line department.
    pub department: Option<Department>,
    /// Assigned to this organisation.
    pub assignee: Option<ID>,
}

/// `from` must not be after `to`; the error names `from`.
fn range(
    from_field: &str,
    from: Option<NaiveDate>,
    to_field: &str,
    to: Option<NaiveDate>,
) -> ApiResult<()> {
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_input(
            from_field,
            format!("`{from_field}` must not be after `{to_field}`"),
        ));
    }
    Ok(())
}

impl VillageFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::VillageFilter> {
        let pct = |field: &str, v: Option<f64>| -> ApiResult<Option<f64>> {
            match v {
                Some(x) if !(0.0..=100.0).contains(&x) => Err(ApiError::bad_input(
                    field,
                    format!("`{field}` must be between 0 and 100"),
                )),
                other => Ok(other),
            }
        };
        let coverage_min = pct("filter.coverageMin", self.coverage_min)?;
        let coverage_max = pct("filter.coverageMax", self.coverage_max)?;
        if let (Some(min), Some(max)) = (coverage_min, coverage_max)
            && min > max
        {
            return Err(ApiError::bad_input(
                "filter.coverageMin",
                "`filter.coverageMin` must not be above `filter.coverageMax`",
            ));
        }
        range(
            "filter.reportedFrom",
            self.reported_from,
            "filter.reportedTo",
            self.reported_to,
        )?;
        range(
            "filter.certifiedFrom",
            self.certified_from,
            "filter.certifiedTo",
            self.certified_to,
        )?;
        let tasks = self
            .with_open_tasks
            .map(|t| -> ApiResult<filters::VillageTasks> {
                Ok(filters::VillageTasks {
                    overdue: t.overdue,
                    kind: t.kind.unwrap_or_default(),
                    department: t.department,
                    assignee: one(
                        "filter.withOpenTasks.assignee",
                        t.assignee,
                        Kind::Organisation,
                    )?,
                })
            })
            .transpose()?;
        Ok(filters::VillageFilter {
            within: within(self.within)?,
            tasks,
            latest_test_contaminated: self.latest_test_contaminated,
            reported_from: self.reported_from,
            reported_to: self.reported_to,
            certified_from: self.certified_from,
            certified_to: self.certified_to,
            assigned_partner: one(
                "filter.assignedPartner",
                self.assigned_partner,
                Kind::Organisation,
            )?,
            hgj_status: self.hgj_status.unwrap_or_default(),
            coverage_min,
            coverage_max,
            search: search(self.search)?,
            scheme_status: self.scheme_status.unwrap_or_default(),
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "SchemeFilter")]
pub struct SchemeFilterInput {
    pub within: Option<ID>,
    pub status: Option<Vec<SchemeStatus>>,
    #[graphql(name = "type")]
    pub scheme_type: Option<Vec<SchemeType>>,
    /// Part of the scheme name (English or Hindi) or code.
    pub search: Option<String>,
    /// Physical progress at least this many percent.
    pub physical_progress_at_least: Option<f64>,
    /// Physical progress below this many percent.
    pub physical_progress_below: Option<f64>,
    /// Only schemes past their target completion date and not yet completed (true), or only
    /// those that are not (false).
    pub overdue: Option<bool>,
    /// Only schemes with an open inspection finding (true), or with none (false).
    pub has_open_findings: Option<bool>,
    /// Only schemes with an open finding of one of these severities.
    pub open_finding_severity: Option<Vec<entities::works::FindingSeverity>>,
}

impl SchemeFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::SchemeFilter> {
        Ok(filters::SchemeFilter {
            within: within(self.within)?,
            status: self.status.unwrap_or_default(),
            scheme_type: self.scheme_type.unwrap_or_default(),
            search: search(self.search)?,
            works: crate::service::schemes::filter::WorksFilter {
                progress_at_least: self.physical_progress_at_least,
                progress_below: self.physical_progress_below,
                overdue: self.overdue,
                has_open_findings: self.has_open_findings,
                open_finding_severity: self.open_finding_severity.unwrap_or_default(),
            },
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "TaskFilter")]
pub struct TaskFilterInput {
    pub within: Option<ID>,
    pub status: Option<Vec<TaskStatus>>,
    pub kind: Option<Vec<TaskKind>>,
    pub priority: Option<Vec<TaskPriority>>,
    /// Tasks assigned to this line department.
    pub department: Option<Department>,
    /// Tasks assigned to this organisation.
    pub assignee: Option<ID>,
    pub village: Option<ID>,
    pub scheme: Option<ID>,
    /// Only overdue tasks (true) or only tasks that are not overdue (false).
    pub overdue: Option<bool>,
    /// Due on or after this date (tasks without a due date never match a due-date bound).
    pub due_from: Option<NaiveDate>,
    /// Due on or before this date.
    pub due_to: Option<NaiveDate>,
    /// Text in the title or the description (any case).
    pub search: Option<String>,
    /// Raised by this organisation.
    pub raised_by: Option<ID>,
}

impl TaskFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::TaskFilter> {
        range("filter.dueFrom", self.due_from, "filter.dueTo", self.due_to)?;
        Ok(filters::TaskFilter {
            within: within(self.within)?,
            status: self.status.unwrap_or_default(),
            kind: self.kind.unwrap_or_default(),
            priority: self.priority.unwrap_or_default(),
            department: self.department,
            assignee: one("filter.assignee", self.assignee, Kind::Organisation)?,
            village: one("filter.village", self.village, Kind::Village)?,
            scheme: one("filter.scheme", self.scheme, Kind::Scheme)?,
            overdue: self.overdue,
            due_from: self.due_from,
            due_to: self.due_to,
            search: search(self.search)?,
            raised_by: one("filter.raisedBy", self.raised_by, Kind::Organisation)?,
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "OrganisationFilter")]
pub struct OrganisationFilterInput {
    pub kind: Option<OrganisationKind>,
    pub department: Option<Department>,
    pub theme: Option<Theme>,
    /// Part of the name or code.
    pub search: Option<String>,
}

impl OrganisationFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::OrganisationFilter> {
        Ok(filters::OrganisationFilter {
            kind: self.kind,
            department: self.department,
            theme: self.theme,
            search: search(self.search)?,
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "AssignmentFilter")]
pub struct AssignmentFilterInput {
    pub within: Option<ID>,
    pub organisation: Option<ID>,
    pub village: Option<ID>,
    pub theme: Option<Theme>,
    /// Any of these themes.
    pub themes: Option<Vec<Theme>>,
    /// Only assignments in force today (true) or not in force (false).
    pub active: Option<bool>,
    /// Any of these statuses, as of today.
    pub status: Option<Vec<filters::AssignmentStatus>>,
}

impl AssignmentFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::AssignmentFilter> {
        Ok(filters::AssignmentFilter {
            within: within(self.within)?,
            organisation: one("filter.organisation", self.organisation, Kind::Organisation)?,
            village: one("filter.village", self.village, Kind::Village)?,
            theme: self.theme,
            themes: self.themes.unwrap_or_default(),
            active: self.active,
            status: self.status.unwrap_or_default(),
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "WaterQualityTestFilter")]
pub struct WaterQualityFilterInput {
    pub within: Option<ID>,
    pub village: Option<ID>,
    pub contaminated: Option<bool>,
    pub method: Option<WqMethod>,
    /// Sampled on or after this date.
    pub sampled_from: Option<NaiveDate>,
    /// Sampled on or before this date.
    pub sampled_to: Option<NaiveDate>,
    /// Only tests in which one of these parameters exceeded its BIS 10500 limit.
    pub exceeding: Option<Vec<WqParameter>>,
}

impl WaterQualityFilterInput {
    pub fn into_filter(self) -> ApiResult<filters::WaterQualityFilter> {
        if let (Some(from), Some(to)) = (self.sampled_from, self.sampled_to)
            && from > to
        {
            return Err(ApiError::bad_input(
                "filter.sampledFrom",
                "`filter.sampledFrom` must not be after `filter.sampledTo`",
            ));
        }
        Ok(filters::WaterQualityFilter {
            within: within(self.within)?,
            village: one("filter.village", self.village, Kind::Village)?,
            contaminated: self.contaminated,
            method: self.method,
            sampled_from: self.sampled_from,
            sampled_to: self.sampled_to,
            exceeding: self.exceeding.unwrap_or_default(),
        })
    }
}

#[derive(InputObject, Default)]
#[graphql(name = "AuditFilter")]
pub struct AuditFilterInput {
    /// The table, e.g. `task`.
    pub entity: Option<String>,
    /// The row's database id within `entity`, or its global id.
    pub entity_id: Option<String>,
    /// Subject of the actor's token.
    pub actor: Option<String>,
    pub operation: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl AuditFilterInput {
    pub fn condition(self) -> ApiResult<sea_orm::Condition> {
        use entities::audit_log;
        use sea_orm::{ColumnTrait, Condition};
        let mut c = Condition::all();
        if let Some(e) = self.entity {
            c = c.add(audit_log::Column::Entity.eq(e));
        }
        if let Some(id) = self.entity_id {
            // A global id is accepted too, for convenience.
            let raw = match super::ids::decode("filter.entityId", &ID(id.clone())) {
                Ok((_, n)) => n.to_string(),
                Err(_) if id.parse::<i64>().is_ok() => id,
                Err(e) => return Err(e),
            };
            c = c.add(audit_log::Column::EntityId.eq(raw));
        }
        if let Some(a) = self.actor {
            c = c.add(audit_log::Column::ActorSub.eq(a));
        }
        if let Some(o) = self.operation {
            c = c.add(audit_log::Column::Operation.eq(o));
        }
        if let Some(f) = self.from {
            c = c.add(audit_log::Column::At.gte(f));
        }
        if let Some(t) = self.to {
            c = c.add(audit_log::Column::At.lte(t));
        }
        Ok(c)
    }
}

macro_rules! order_input {
    ($($input:ident, $name:literal, $field:ident, $what:literal;)*) => {$(
        #[doc = concat!("How to order ", $what, ": a field and a direction; ties are broken by id.")]
        #[derive(InputObject, Clone, Copy)]
        #[graphql(name = $name)]
        pub struct $input {
            /// What to order by.
            pub field: order::$field,
            /// Ascending unless given.
            #[graphql(default)]
            pub direction: order::OrderDirection,
        }

        impl $input {
            /// The ordering asked for, or id order when none was.
            pub fn ordering(order: Option<Self>) -> crate::service::page::Ordering {
                match order {
                    Some(o) => o.field.ordering(o.direction),
                    None => crate::service::page::Ordering::by_id(),
                }
            }
        }
    )*};
}

order_input! {
    VillageOrderInput, "VillageOrder", VillageOrderField, "villages";
    TaskOrderInput, "TaskOrder", TaskOrderField, "tasks";
    AssignmentOrderInput, "AssignmentOrder", AssignmentOrderField, "assignments";
    WaterQualityTestOrderInput, "WaterQualityTestOrder", WaterQualityTestOrderField, "water-quality tests";
    OrganisationOrderInput, "OrganisationOrder", OrganisationOrderField, "organisations";
    SchemeOrderInput, "SchemeOrder", SchemeOrderField, "schemes";
}
