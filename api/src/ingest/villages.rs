//! Every village an import inserts or changes goes through [`write`]: one place to keep the
//! derived columns (a future search key, say) right, bump versions, note the districts whose
//! rollups to recount, and queue one event per changed village.

use std::collections::HashMap;

use chrono::Utc;
use entities::enums::HgjStatus;
use sea_orm::{ActiveEnum, ConnectionTrait, Statement};

use super::{
    Ctx,
    bulk::{self, Cell},
};

/// The columns of a village an import reads or writes.
#[derive(Debug, Clone, PartialEq)]
pub struct VillageRow {
    pub id: i64,
    pub lgd_code: i32,
    pub gram_panchayat_id: i64,
    pub block_id: i64,
    pub district_id: i64,
    pub state_id: i64,
    pub name: String,
    pub name_hi: String,
    pub households: i32,
    pub tap_connections: i32,
    pub hgj_status: HgjStatus,
    pub version: i32,
}

impl VillageRow {
    /// A village new to Sangam: no households counted yet.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: i64,
        lgd_code: i32,
        gram_panchayat_id: i64,
        block_id: i64,
        district_id: i64,
        state_id: i64,
        name: String,
        name_hi: String,
    ) -> Self {
        Self {
            id,
            lgd_code,
            gram_panchayat_id,
            block_id,
            district_id,
            state_id,
            name,
            name_hi,
            households: 0,
            tap_connections: 0,
            hgj_status: HgjStatus::NotSaturated,
            version: 1,
        }
    }
}

/// Every village held, by LGD code.
pub async fn held<C: ConnectionTrait>(
    conn: &C,
    capacity: usize,
) -> anyhow::Result<HashMap<i32, VillageRow>> {
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT id, lgd_code, gram_panchayat_id, block_id, district_id, state_id, name, \
             name_hi, households, tap_connections, hgj_status, version FROM village",
        ))
        .await?;
    let mut out = HashMap::with_capacity(capacity.max(rows.len()));
    for r in rows {
        let status: String = r.try_get("", "hgj_status")?;
        let v = VillageRow {
            id: r.try_get("", "id")?,
            lgd_code: r.try_get("", "lgd_code")?,
            gram_panchayat_id: r.try_get("", "gram_panchayat_id")?,
            block_id: r.try_get("", "block_id")?,
            district_id: r.try_get("", "district_id")?,
            state_id: r.try_get("", "state_id")?,
            name: r.try_get("", "name")?,
            name_hi: r.try_get("", "name_hi")?,
            households: r.try_get("", "households")?,
            tap_connections: r.try_get("", "tap_connections")?,
            hgj_status: HgjStatus::try_from_value(&status)?,
            version: r.try_get("", "version")?,
        };
        out.insert(v.lgd_code, v);
    }
    Ok(out)
}

const INSERT: [&str; 14] = [
    "id",
    "lgd_code",
    "gram_panchayat_id",
    "block_id",
    "district_id",
    "state_id",
    "name",
    "name_hi",
    "households",
    "tap_connections",
    "hgj_status",
    "search_key",
    "version",
    "updated_at",
];

const UPDATE: [&str; 11] = [
    "gram_panchayat_id",
    "block_id",
    "district_id",
    "state_id",
    "name",
    "name_hi",
    "households",
    "tap_connections",
    "hgj_status",
    "search_key",
    "updated_at",
];

/// Inserts `new` villages and writes `changed` ones (each with the district it was in), in the
/// import's transaction.
pub async fn write(
    ctx: &mut Ctx<'_>,
    new: Vec<VillageRow>,
    changed: Vec<(i64, VillageRow)>,
    change: &str,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let cells = |v: &VillageRow| {
        vec![
            Cell::Int(i64::from(v.lgd_code)),
            Cell::Int(v.gram_panchayat_id),
            Cell::Int(v.block_id),
            Cell::Int(v.district_id),
            Cell::Int(v.state_id),
            Cell::Text(v.name.clone()),
            Cell::Text(v.name_hi.clone()),
            Cell::Int(i64::from(v.households)),
            Cell::Int(i64::from(v.tap_connections)),
            Cell::Text(v.hgj_status.to_value()),
            // The spelling-forgiving search key follows every name change.
            Cell::Text(crate::service::search_key::search_key(&v.name, &v.name_hi)),
        ]
    };
    ctx.progress
        .start("writing villages", Some((new.len() + changed.len()) as u64));
    for chunk in new.chunks(5_000) {
        let rows: Vec<Vec<Cell>> = chunk
            .iter()
            .map(|v| {
                let mut row = vec![Cell::Int(v.id)];
                row.extend(cells(v));
                row.extend([Cell::Int(1), Cell::Time(now)]);
                row
            })
            .collect();
        bulk::insert_rows(ctx.txn, "village", &INSERT, &rows).await?;
        ctx.progress.inc(chunk.len() as u64);
    }
    if !new.is_empty() {
        super::lgd::advance_sequence(ctx.txn, "village").await?;
    }
    for chunk in changed.chunks(2_000) {
        let rows: Vec<Vec<Cell>> = chunk
            .iter()
            .map(|(_, v)| {
                let mut row = vec![Cell::Int(v.id)];
                row.extend(cells(v).into_iter().skip(1));
                row.push(Cell::Time(now));
                row
            })
            .collect();
        bulk::update_rows(
            ctx.txn,
            "village",
            &UPDATE[..],
            &["version = version + 1"],
            &rows,
        )
        .await?;
        ctx.progress.inc(chunk.len() as u64);
    }
    ctx.progress.finish();
    for v in &new {
        ctx.districts.insert(v.district_id);
        ctx.changed(v.id, change);
    }
    for (was_in, v) in &changed {
        ctx.moved_villages |= *was_in != v.district_id;
        ctx.districts.insert(*was_in);
        ctx.districts.insert(v.district_id);
        ctx.changed(v.id, change);
    }
    Ok(())
}
