//! Recounts the scheme-works rollups (physical progress, open inspection findings, and schemes
//! still being built by target date) from the schemes they summarise. Called with the other
//! rollups (`rollups::rebuild`, `rollups::recount`); the incremental rules that keep them exact
//! between rebuilds are in `api/src/service/schemes/rollup.rs`, and a test compares the two.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend, Statement},
};

/// Scheme statuses whose works are not yet complete, as stored: a scheme in one of them past
/// its target completion date is overdue.
pub const BUILDING: &str = "'PROPOSED', 'DPR_PREPARED', 'TECH_SANCTIONED', 'ADMIN_APPROVED', \
    'TENDERED', 'WORK_ORDER_ISSUED', 'IN_PROGRESS', 'ON_HOLD'";

/// Whether the works rollups exist yet (the rollups' own migration rebuilds before this one ran).
async fn present<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_name = 'district_works_rollup' AND table_schema = current_schema()"
        }
        _ => {
            "SELECT COUNT(*) AS n FROM sqlite_master \
             WHERE type = 'table' AND name = 'district_works_rollup'"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .is_some_and(|n| n > 0))
}

/// Recounts the works rollups of the districts whose id satisfies `ids` (SQL after
/// `district_id`; empty for all), when they exist.
pub async fn recount_where<C: ConnectionTrait>(db: &C, ids: &str) -> Result<(), DbErr> {
    if !present(db).await? {
        return Ok(());
    }
    let only = |col: &str| {
        if ids.is_empty() {
            String::new()
        } else {
            format!(" WHERE {col}{ids}")
        }
    };
    let and = |col: &str| {
        if ids.is_empty() {
            String::new()
        } else {
            format!(" AND {col}{ids}")
        }
    };
    let statements = [
        format!("DELETE FROM district_works_rollup{}", only("district_id")),
        format!(
            "DELETE FROM district_scheme_due_rollup{}",
            only("district_id")
        ),
        // Cancelled schemes are left out of physical progress; their findings still count
        // until a re-inspection closes them.
        format!(
            "INSERT INTO district_works_rollup (district_id, schemes_measured, progress_bp_sum, \
             below_half, complete, findings_minor, findings_major, findings_critical) \
             SELECT district_id, \
             SUM(CASE WHEN physical_progress_bp IS NOT NULL AND status <> 'CANCELLED' THEN 1 ELSE 0 END), \
             SUM(CASE WHEN physical_progress_bp IS NOT NULL AND status <> 'CANCELLED' THEN physical_progress_bp ELSE 0 END), \
             SUM(CASE WHEN physical_progress_bp < 5000 AND status <> 'CANCELLED' THEN 1 ELSE 0 END), \
             SUM(CASE WHEN physical_progress_bp >= 10000 AND status <> 'CANCELLED' THEN 1 ELSE 0 END), \
             SUM(open_findings_minor), SUM(open_findings_major), SUM(open_findings_critical) \
             FROM scheme{} GROUP BY district_id",
            only("district_id")
        ),
        format!(
            "INSERT INTO district_scheme_due_rollup (district_id, due_on, schemes) \
             SELECT district_id, target_completion_on, COUNT(*) FROM scheme \
             WHERE target_completion_on IS NOT NULL AND status IN ({BUILDING}){} \
             GROUP BY district_id, target_completion_on",
            and("district_id")
        ),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}
