//! Filters of the `schemes` list on their works: physical progress, overdue, open findings.

use chrono::NaiveDate;
use entities::{scheme, works::FindingSeverity};
use sea_orm::{ColumnTrait, Condition};

use super::rollup::BUILDING;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Default)]
pub struct WorksFilter {
    /// Physical progress at least this many percent (schemes without components never match).
    pub progress_at_least: Option<f64>,
    /// Physical progress below this many percent.
    pub progress_below: Option<f64>,
    /// Past the target completion date and not yet completed (true), or not (false).
    pub overdue: Option<bool>,
    /// With at least one open inspection finding (true), or none (false).
    pub has_open_findings: Option<bool>,
    /// With an open finding of one of these severities.
    pub open_finding_severity: Vec<FindingSeverity>,
}

/// Percent to basis points, naming `argument` when out of 0–100.
fn bp(argument: &str, percent: f64) -> ApiResult<i32> {
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        return Err(ApiError::bad_input(
            argument,
            format!("`{argument}` is a percentage from 0 to 100"),
        ));
    }
    Ok((percent * 100.0).round() as i32)
}

impl WorksFilter {
    pub fn condition(&self, today: NaiveDate) -> ApiResult<Condition> {
        let mut c = Condition::all();
        if let Some(p) = self.progress_at_least {
            c = c.add(
                scheme::Column::PhysicalProgressBp.gte(bp("filter.physicalProgressAtLeast", p)?),
            );
        }
        if let Some(p) = self.progress_below {
            c = c
                .add(scheme::Column::PhysicalProgressBp.lt(bp("filter.physicalProgressBelow", p)?));
        }
        if let Some(o) = self.overdue {
            // Spelled out both ways: a negation would drop schemes without a target date
            // (a comparison with NULL is neither true nor false).
            c = c.add(if o {
                Condition::all()
                    .add(scheme::Column::Status.is_in(BUILDING))
                    .add(scheme::Column::TargetCompletionOn.lt(today))
            } else {
                Condition::any()
                    .add(scheme::Column::Status.is_not_in(BUILDING))
                    .add(scheme::Column::TargetCompletionOn.is_null())
                    .add(scheme::Column::TargetCompletionOn.gte(today))
            });
        }
        let any_open = Condition::any()
            .add(scheme::Column::OpenFindingsMinor.gt(0))
            .add(scheme::Column::OpenFindingsMajor.gt(0))
            .add(scheme::Column::OpenFindingsCritical.gt(0));
        match self.has_open_findings {
            Some(true) => c = c.add(any_open),
            Some(false) => c = c.add(any_open.not()),
            None => {}
        }
        if !self.open_finding_severity.is_empty() {
            let mut any = Condition::any();
            for s in &self.open_finding_severity {
                any = any.add(match s {
                    FindingSeverity::Minor => scheme::Column::OpenFindingsMinor.gt(0),
                    FindingSeverity::Major => scheme::Column::OpenFindingsMajor.gt(0),
                    FindingSeverity::Critical => scheme::Column::OpenFindingsCritical.gt(0),
                });
            }
            c = c.add(any);
        }
        Ok(c)
    }
}
