//! Recounts the per-district rollups from the rows they summarise. Run by the migration that
//! creates them, after bulk loads (`sangam seed`), and by `sangam rollup rebuild` after data
//! arrives by any other way than the API. The incremental rules that keep them exact between
//! rebuilds are in `api/src/service/rollup.rs`; a test compares the two.

use sea_orm_migration::{prelude::*, sea_orm::ConnectionTrait};

/// Open task statuses and Har Ghar Jal statuses that count as reported, as stored.
const OPEN: &str = "'OPEN', 'IN_PROGRESS', 'BLOCKED'";
const REPORTED: &str = "'REPORTED', 'CERTIFIED'";

/// The day an overdue count is never valid for: a rebuild leaves overdue counts for the first
/// read to make, since only the server knows which day it is in India.
pub const NEVER: &str = "1970-01-01";

/// Replaces every rollup row with a fresh count (plain SQL both backends run as written).
pub async fn rebuild<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    recount_where(db, "").await
}

/// Recounts the rollups of the districts with these ids (an import's, in its transaction).
pub async fn recount<C: ConnectionTrait>(db: &C, districts: &[i64]) -> Result<(), DbErr> {
    for chunk in districts.chunks(1_000) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        recount_where(db, &format!(" IN ({list})")).await?;
    }
    Ok(())
}

/// Recounts the districts whose id satisfies `ids` (SQL after `district_id`; empty for all).
async fn recount_where<C: ConnectionTrait>(db: &C, ids: &str) -> Result<(), DbErr> {
    let only = |col: &str| {
        if ids.is_empty() {
            String::new()
        } else {
            format!(" WHERE {col}{ids}")
        }
    };
    let statements = [
        format!("DELETE FROM district_scheme_rollup{}", only("district_id")),
        format!("DELETE FROM district_rollup{}", only("district_id")),
        format!(
            "INSERT INTO district_rollup (district_id, villages, households, tap_connections, \
             villages_reported, villages_certified, tasks_open, tasks_overdue, overdue_as_of) \
             SELECT d.id, COALESCE(v.villages, 0), COALESCE(v.households, 0), \
             COALESCE(v.taps, 0), COALESCE(v.reported, 0), COALESCE(v.certified, 0), \
             COALESCE(t.open, 0), 0, '{NEVER}' \
             FROM district d \
             LEFT JOIN (SELECT district_id, COUNT(*) AS villages, SUM(households) AS households, \
               SUM(tap_connections) AS taps, \
               SUM(CASE WHEN hgj_status IN ({REPORTED}) THEN 1 ELSE 0 END) AS reported, \
               SUM(CASE WHEN hgj_status = 'CERTIFIED' THEN 1 ELSE 0 END) AS certified \
               FROM village{} GROUP BY district_id) v ON v.district_id = d.id \
             LEFT JOIN (SELECT district_id, COUNT(*) AS open FROM task \
               WHERE status IN ({OPEN}){} GROUP BY district_id) t ON t.district_id = d.id{}",
            only("district_id"),
            if ids.is_empty() {
                String::new()
            } else {
                format!(" AND district_id{ids}")
            },
            only("d.id"),
        ),
        format!(
            "INSERT INTO district_scheme_rollup (district_id, status, schemes) \
             SELECT district_id, status, COUNT(*) FROM scheme{} GROUP BY district_id, status",
            only("district_id")
        ),
    ];
    for sql in statements {
        db.execute_unprepared(&sql).await?;
    }
    crate::works_rollups::recount_where(db, ids).await
}
