//! Keeps the scheme rollups exact on every write that changes a scheme row: schemes by status
//! (`district_scheme_rollup`), physical progress and open findings (`district_works_rollup`),
//! and schemes still being built by target date (`district_scheme_due_rollup`, from which a
//! report counts overdue schemes for any day without a recount). The full recount is
//! `migration::works_rollups`; `tests/tests/integration/scheme_works.rs` compares the two.

use chrono::NaiveDate;
use entities::{
    district_scheme_due_rollup as due, district_scheme_rollup as by_status,
    district_works_rollup as works, enums::SchemeStatus, scheme,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::error::ApiResult;

/// Statuses whose works are not yet complete: a scheme in one past its target date is overdue.
pub const BUILDING: [SchemeStatus; 8] = [
    SchemeStatus::Proposed,
    SchemeStatus::DprPrepared,
    SchemeStatus::TechSanctioned,
    SchemeStatus::AdminApproved,
    SchemeStatus::Tendered,
    SchemeStatus::WorkOrderIssued,
    SchemeStatus::InProgress,
    SchemeStatus::OnHold,
];

/// Physical progress of a scheme counts when it has components and is not cancelled.
pub fn measured(s: &scheme::Model) -> Option<i32> {
    s.physical_progress_bp
        .filter(|_| s.status != SchemeStatus::Cancelled)
}

/// What one scheme adds to its district's works row, in `WORKS` order.
fn works_parts(s: &scheme::Model) -> [i64; 7] {
    let bp = measured(s);
    [
        i64::from(bp.is_some()),
        i64::from(bp.unwrap_or(0)),
        i64::from(bp.is_some_and(|b| b < 5000)),
        i64::from(bp.is_some_and(|b| b >= 10000)),
        i64::from(s.open_findings_minor),
        i64::from(s.open_findings_major),
        i64::from(s.open_findings_critical),
    ]
}

const WORKS: [works::Column; 7] = [
    works::Column::SchemesMeasured,
    works::Column::ProgressBpSum,
    works::Column::BelowHalf,
    works::Column::Complete,
    works::Column::FindingsMinor,
    works::Column::FindingsMajor,
    works::Column::FindingsCritical,
];

/// The target date a scheme is counted under while it is still being built.
fn due_on(s: &scheme::Model) -> Option<NaiveDate> {
    s.target_completion_on
        .filter(|_| BUILDING.contains(&s.status))
}

/// A scheme changed (`before` is the row the version-checked update replaced).
pub async fn scheme_changed<C: ConnectionTrait>(
    conn: &C,
    before: &scheme::Model,
    after: &scheme::Model,
) -> ApiResult<()> {
    if before.status != after.status || before.district_id != after.district_id {
        count_status(conn, before.district_id, before.status, -1).await?;
        count_status(conn, after.district_id, after.status, 1).await?;
    }
    let (old, new) = (works_parts(before), works_parts(after));
    if old != new || before.district_id != after.district_id {
        add_works(conn, before.district_id, old, -1).await?;
        add_works(conn, after.district_id, new, 1).await?;
    }
    let (old_due, new_due) = (due_on(before), due_on(after));
    if old_due != new_due || before.district_id != after.district_id {
        if let Some(d) = old_due {
            count_due(conn, before.district_id, d, -1).await?;
        }
        if let Some(d) = new_due {
            count_due(conn, after.district_id, d, 1).await?;
        }
    }
    Ok(())
}

async fn count_status<C: ConnectionTrait>(
    conn: &C,
    district: i64,
    status: SchemeStatus,
    delta: i64,
) -> ApiResult<()> {
    by_status::Entity::insert(by_status::ActiveModel {
        district_id: Set(district),
        status: Set(status),
        schemes: Set(delta),
    })
    .on_conflict(
        OnConflict::columns([by_status::Column::DistrictId, by_status::Column::Status])
            .value(
                by_status::Column::Schemes,
                Expr::col((by_status::Entity, by_status::Column::Schemes)).add(delta),
            )
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    // A recount has no row for a status with no schemes.
    by_status::Entity::delete_many()
        .filter(by_status::Column::DistrictId.eq(district))
        .filter(by_status::Column::Status.eq(status))
        .filter(by_status::Column::Schemes.lte(0))
        .exec(conn)
        .await?;
    Ok(())
}

async fn count_due<C: ConnectionTrait>(
    conn: &C,
    district: i64,
    on: NaiveDate,
    delta: i64,
) -> ApiResult<()> {
    due::Entity::insert(due::ActiveModel {
        district_id: Set(district),
        due_on: Set(on),
        schemes: Set(delta),
    })
    .on_conflict(
        OnConflict::columns([due::Column::DistrictId, due::Column::DueOn])
            .value(
                due::Column::Schemes,
                Expr::col((due::Entity, due::Column::Schemes)).add(delta),
            )
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    due::Entity::delete_many()
        .filter(due::Column::DistrictId.eq(district))
        .filter(due::Column::DueOn.eq(on))
        .filter(due::Column::Schemes.lte(0))
        .exec(conn)
        .await?;
    Ok(())
}

async fn add_works<C: ConnectionTrait>(
    conn: &C,
    district: i64,
    parts: [i64; 7],
    sign: i64,
) -> ApiResult<()> {
    let v = |i: usize| Set(parts[i] * sign);
    let mut conflict = OnConflict::column(works::Column::DistrictId);
    for (i, col) in WORKS.iter().enumerate() {
        conflict.value(*col, Expr::col((works::Entity, *col)).add(parts[i] * sign));
    }
    works::Entity::insert(works::ActiveModel {
        district_id: Set(district),
        schemes_measured: v(0),
        progress_bp_sum: v(1),
        below_half: v(2),
        complete: v(3),
        findings_minor: v(4),
        findings_major: v(5),
        findings_critical: v(6),
    })
    .on_conflict(conflict.to_owned())
    .exec_without_returning(conn)
    .await?;
    Ok(())
}
