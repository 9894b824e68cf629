//! The orderings each list offers. Every key has an `(key, id)` index (migration
//! `m20261126_000004_orderings_and_search`), so any page of any ordering is one index seek.

use entities::*;
use sea_orm::{
    EntityName,
    sea_query::{Alias, Expr},
};

use super::page::{KeyKind, Ordering};

/// Which way a list runs. Ties are broken by id, in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, async_graphql::Enum)]
pub enum OrderDirection {
    /// Smallest (earliest, first in the workflow) first.
    #[default]
    Asc,
    /// Largest (latest, last in the workflow) first.
    Desc,
}

impl OrderDirection {
    fn desc(self) -> bool {
        self == Self::Desc
    }
}

/// A column of `E`'s table, by name: the generated sort keys are not in the entities.
fn col<E: EntityName + Default>(name: &str) -> Expr {
    Expr::col((Alias::new(E::default().table_name()), Alias::new(name)))
}

/// Orderings of villages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum VillageOrderField {
    /// Database id (the default; groups villages geographically).
    Id,
    /// English name.
    Name,
    Households,
    TapConnections,
    /// Share of households with a tap; a village with no households sorts as fully covered.
    Coverage,
    /// Har Ghar Jal status in its order: not saturated, reported, certified.
    HgjStatus,
    /// Date the latest water-quality test was sampled; villages never tested come first
    /// ascending.
    LatestTestDate,
}

impl VillageOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        let (name, column, kind) = match self {
            Self::Id => return id_order(dir),
            Self::Name => ("NAME", "name", KeyKind::Text),
            Self::Households => ("HOUSEHOLDS", "households", KeyKind::Int),
            Self::TapConnections => ("TAP_CONNECTIONS", "tap_connections", KeyKind::Int),
            Self::Coverage => ("COVERAGE", "coverage_key", KeyKind::Float),
            Self::HgjStatus => ("HGJ_STATUS", "hgj_rank", KeyKind::Int),
            Self::LatestTestDate => ("LATEST_TEST_DATE", "latest_test_on", KeyKind::Date),
        };
        Ordering::by(name, col::<village::Entity>(column), kind, dir.desc())
    }
}

/// Orderings of tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum TaskOrderField {
    /// Database id (the default: oldest first).
    Id,
    /// Due date; tasks with none sort after every dated task ascending.
    DueDate,
    /// Priority in its order: low, medium, high, critical.
    Priority,
    /// Status in workflow order: open, in progress, blocked, done, verified, cancelled.
    Status,
    /// Last change.
    UpdatedAt,
}

impl TaskOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        let (name, column, kind) = match self {
            Self::Id => return id_order(dir),
            Self::DueDate => ("DUE_DATE", "due_key", KeyKind::Date),
            Self::Priority => ("PRIORITY", "priority_rank", KeyKind::Int),
            Self::Status => ("STATUS", "status_rank", KeyKind::Int),
            Self::UpdatedAt => ("UPDATED_AT", "updated_at", KeyKind::Time),
        };
        Ordering::by(name, col::<task::Entity>(column), kind, dir.desc())
    }
}

/// Orderings of partner assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AssignmentOrderField {
    /// Database id (the default).
    Id,
    /// First day of the assignment.
    StartsOn,
    /// Last day; open-ended assignments sort after every dated one ascending.
    EndsOn,
}

impl AssignmentOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        let (name, column) = match self {
            Self::Id => return id_order(dir),
            Self::StartsOn => ("STARTS_ON", "starts_on"),
            Self::EndsOn => ("ENDS_ON", "ends_key"),
        };
        Ordering::by(
            name,
            col::<assignment::Entity>(column),
            KeyKind::Date,
            dir.desc(),
        )
    }
}

/// Orderings of water-quality tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum WaterQualityTestOrderField {
    /// Database id (the default: in the order recorded).
    Id,
    /// Date the sample was taken.
    SampledOn,
}

impl WaterQualityTestOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        match self {
            Self::Id => id_order(dir),
            Self::SampledOn => Ordering::by(
                "SAMPLED_ON",
                col::<water_quality_test::Entity>("sampled_on"),
                KeyKind::Date,
                dir.desc(),
            ),
        }
    }
}

/// Orderings of organisations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum OrganisationOrderField {
    /// Database id (the default).
    Id,
    Name,
}

impl OrganisationOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        match self {
            Self::Id => id_order(dir),
            Self::Name => Ordering::by(
                "NAME",
                col::<organisation::Entity>("name"),
                KeyKind::Text,
                dir.desc(),
            ),
        }
    }
}

/// Orderings of schemes by their works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum SchemeOrderField {
    /// Database id (the default).
    Id,
    /// Physical progress; schemes without components sort first ascending.
    PhysicalProgress,
    /// Target completion date; schemes without one sort after every dated scheme ascending
    /// (ascending, the most overdue come first).
    TargetDate,
    /// Number of open inspection findings.
    OpenFindings,
}

impl SchemeOrderField {
    pub fn ordering(self, dir: OrderDirection) -> Ordering {
        let (name, column, kind) = match self {
            Self::Id => return id_order(dir),
            Self::PhysicalProgress => ("PHYSICAL_PROGRESS", "progress_key", KeyKind::Int),
            Self::TargetDate => ("TARGET_DATE", "target_key", KeyKind::Date),
            Self::OpenFindings => ("OPEN_FINDINGS", "open_findings_key", KeyKind::Int),
        };
        Ordering::by(name, col::<scheme::Entity>(column), kind, dir.desc())
    }
}

fn id_order(dir: OrderDirection) -> Ordering {
    match dir {
        OrderDirection::Asc => Ordering::by_id(),
        OrderDirection::Desc => Ordering {
            name: "ID_DESC".into(),
            key: None,
            descending: true,
        },
    }
}
