//! The totals a progress report adds up, shared by the live aggregates (`progress.rs`) and the
//! per-district rollups (`rollup.rs`): what one area counts, which parts a report asks for, and
//! the helpers both use to build and read their grouped statements.

use std::collections::HashMap;

use entities::enums::SchemeStatus;
use sea_orm::{
    Condition, QueryResult,
    sea_query::{Expr, Func},
};

use super::area::{Area, AreaLevel};
use crate::error::ApiResult;

/// Totals for one area (or the whole reach, when `area` is `None`).
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub area: Option<Area>,
    pub villages: i64,
    pub households: i64,
    pub tap_connections: i64,
    pub villages_reported: i64,
    pub villages_certified: i64,
    pub schemes_by_status: HashMap<SchemeStatus, i64>,
    pub tasks_open: i64,
    pub tasks_overdue: i64,
    /// Scheme works (`schemes::progress`), counted when `Parts::works`.
    pub works: super::schemes::progress::WorksTotals,
}

impl Totals {
    /// Share of households with a tap, in percent; `None` where there are no households.
    pub fn coverage_percent(&self) -> Option<f64> {
        (self.households > 0).then(|| self.tap_connections as f64 * 100.0 / self.households as f64)
    }

    pub fn reported_percent(&self) -> Option<f64> {
        (self.villages > 0).then(|| self.villages_reported as f64 * 100.0 / self.villages as f64)
    }

    /// Scheme counts in lifecycle order, statuses with none left out.
    pub fn schemes(&self) -> impl Iterator<Item = (SchemeStatus, i64)> + '_ {
        use sea_orm::Iterable;
        SchemeStatus::iter().filter_map(|s| self.schemes_by_status.get(&s).map(|n| (s, *n)))
    }

    pub fn schemes_total(&self) -> i64 {
        self.schemes_by_status.values().sum()
    }
}

/// Which of the three grouped statements to run: a report's caller asks only for what its
/// query selects, so a coverage dashboard does not pay for scheme and task counts.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub villages: bool,
    pub schemes: bool,
    pub tasks: bool,
    /// Scheme works: physical progress, overdue schemes, open findings, handovers.
    pub works: bool,
}

/// `SUM(CASE WHEN cond THEN 1 ELSE 0 END)`, 0 over no rows.
pub(super) fn count_where(cond: Condition) -> Expr {
    Func::coalesce([
        Func::sum(Expr::case(cond, 1).finally(0)).into(),
        Expr::val(0),
    ])
    .into()
}

pub(super) fn get_i64(row: &QueryResult, col: &str) -> ApiResult<i64> {
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

/// The totals a result row adds to: its group's, created on first sight.
pub(super) fn slot<'m>(
    out: &'m mut HashMap<i64, Totals>,
    row: &QueryResult,
    group: Option<AreaLevel>,
) -> ApiResult<Option<&'m mut Totals>> {
    let key = match group {
        None => Some(0),
        Some(_) => row.try_get::<Option<i64>>("", "area_id")?,
    };
    Ok(key.map(|k| out.entry(k).or_default()))
}
