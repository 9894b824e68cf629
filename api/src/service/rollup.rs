//! Keeps the per-district rollups exact: every write that changes what they count adjusts them
//! in its own transaction, so a progress report read after a write already includes it. The
//! full recount lives with the migration that created them (`migration::rollups::rebuild`); a
//! test checks that the two agree after every kind of write.
//!
//! Overdue counts depend on the day as well as on the rows. Each district's count says which
//! day it is for (`overdue_as_of`); a write adjusts it against that day, and the first report
//! of a new day recounts ([`refresh_overdue`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use entities::{
    district, district_rollup as r, district_scheme_rollup as s,
    enums::{HgjStatus, SchemeStatus},
    task, village,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QueryResult, QuerySelect, TransactionTrait,
    sea_query::{
        Expr, ExprTrait, Func, JoinType, Query, QueryStatementBuilder, SelectStatement, SimpleExpr,
    },
};

use super::{
    area::AreaLevel,
    filters::OPEN_STATUSES,
    totals::{Parts, Totals, count_where, get_i64, slot},
};
use crate::error::ApiResult;

/// What one task adds to its district's counts.
#[derive(Clone, Copy, PartialEq)]
struct TaskPart {
    district: i64,
    open: bool,
    due: Option<NaiveDate>,
}

impl TaskPart {
    fn of(t: &task::Model) -> Self {
        Self {
            district: t.district_id,
            open: OPEN_STATUSES.contains(&t.status),
            due: t.due_on,
        }
    }

    /// 1 when the task counts as overdue on the row's own `overdue_as_of`, else 0.
    fn overdue(&self) -> SimpleExpr {
        match (self.open, self.due) {
            (true, Some(due)) => {
                Expr::case(Condition::all().add(r::Column::OverdueAsOf.gt(due)), 1)
                    .finally(0)
                    .into()
            }
            _ => Expr::val(0),
        }
    }
}

fn add(column: r::Column, delta: SimpleExpr) -> (r::Column, SimpleExpr) {
    (column, Expr::col(column).add(delta))
}

async fn adjust<C: ConnectionTrait>(
    conn: &C,
    district: i64,
    set: Vec<(r::Column, SimpleExpr)>,
) -> ApiResult<()> {
    let mut q = r::Entity::update_many().filter(r::Column::DistrictId.eq(district));
    for (col, value) in set {
        q = q.col_expr(col, value);
    }
    q.exec(conn).await?;
    Ok(())
}

/// A task was created (`before` is `None`) or changed.
pub async fn task_changed<C: ConnectionTrait>(
    conn: &C,
    before: Option<&task::Model>,
    after: &task::Model,
) -> ApiResult<()> {
    let new = TaskPart::of(after);
    let old = before.map(TaskPart::of);
    // Comments, evidence and reassignments change no count: they leave the district row (the
    // one row every writer in a district shares) unlocked.
    if old == Some(new) || (!new.open && old.is_none_or(|o| !o.open)) {
        return Ok(());
    }
    // One task's counts, added (`sign` 1) or taken away (-1).
    let counts = |p: &TaskPart, sign: i64| {
        vec![
            add(r::Column::TasksOpen, Expr::val(sign * i64::from(p.open))),
            add(r::Column::TasksOverdue, p.overdue().mul(sign)),
        ]
    };
    match old {
        Some(o) if o.district == new.district => {
            let open = i64::from(new.open) - i64::from(o.open);
            let set = vec![
                add(r::Column::TasksOpen, Expr::val(open)),
                add(r::Column::TasksOverdue, new.overdue().sub(o.overdue())),
            ];
            adjust(conn, new.district, set).await
        }
        other => {
            if let Some(o) = other {
                adjust(conn, o.district, counts(&o, -1)).await?;
            }
            adjust(conn, new.district, counts(&new, 1)).await
        }
    }
}

/// What one village adds to its district's counts.
fn village_parts(v: &village::Model) -> [i64; 5] {
    let reported = matches!(v.hgj_status, HgjStatus::Reported | HgjStatus::Certified);
    [
        1,
        i64::from(v.households),
        i64::from(v.tap_connections),
        i64::from(reported),
        i64::from(v.hgj_status == HgjStatus::Certified),
    ]
}

const VILLAGE_COLUMNS: [r::Column; 5] = [
    r::Column::Villages,
    r::Column::Households,
    r::Column::TapConnections,
    r::Column::VillagesReported,
    r::Column::VillagesCertified,
];

/// A village's coverage or Har Ghar Jal status changed.
pub async fn village_changed<C: ConnectionTrait>(
    conn: &C,
    before: &village::Model,
    after: &village::Model,
) -> ApiResult<()> {
    let (old, new) = (village_parts(before), village_parts(after));
    let changes = |district_moved: bool| {
        VILLAGE_COLUMNS
            .iter()
            .zip(old.iter().zip(new.iter()))
            .filter_map(|(col, (o, n))| {
                let delta = if district_moved { *n } else { n - o };
                (delta != 0).then(|| add(*col, Expr::val(delta)))
            })
            .collect::<Vec<_>>()
    };
    if before.district_id != after.district_id {
        let removed = VILLAGE_COLUMNS
            .iter()
            .zip(old.iter())
            .map(|(col, o)| add(*col, Expr::val(-o)))
            .collect();
        adjust(conn, before.district_id, removed).await?;
        return adjust(conn, after.district_id, changes(true)).await;
    }
    let set = changes(false);
    if set.is_empty() {
        return Ok(());
    }
    adjust(conn, after.district_id, set).await
}

/// Recounts overdue tasks in every district whose count is for a day before `today`.
pub async fn refresh_overdue(db: &DatabaseConnection, today: NaiveDate) -> ApiResult<()> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DbBackend::Postgres {
        // Lock the stale rows first. A writer that adjusted one has committed by the time the
        // lock is ours, so the recount (a new statement, a new snapshot) sees its task; a writer
        // that comes later waits, then adjusts against the new day.
        r::Entity::find()
            .select_only()
            .column(r::Column::DistrictId)
            .filter(r::Column::OverdueAsOf.lt(today))
            .order_by_asc(r::Column::DistrictId)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(&txn)
            .await?;
    }
    let recount = Query::select()
        .expr(Func::count(Expr::col((task::Entity, task::Column::Id))))
        .from(task::Entity)
        .and_where(
            Expr::col((task::Entity, task::Column::DistrictId))
                .equals((r::Entity, r::Column::DistrictId)),
        )
        .and_where(task::Column::Status.is_in(OPEN_STATUSES))
        .and_where(task::Column::DueOn.lt(today))
        .to_owned();
    r::Entity::update_many()
        .col_expr(
            r::Column::TasksOverdue,
            Expr::expr(SimpleExpr::SubQuery(
                None,
                Box::new(recount.into_sub_query_statement()),
            )),
        )
        .col_expr(r::Column::OverdueAsOf, Expr::value(today))
        .filter(r::Column::OverdueAsOf.lt(today))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// What a district row is grouped by for a report at `level`; `None` below the district,
/// where rollups do not reach.
pub fn group_column(level: AreaLevel) -> Option<district::Column> {
    match level {
        AreaLevel::State => Some(district::Column::StateId),
        AreaLevel::Division => Some(district::Column::DivisionId),
        AreaLevel::District => Some(district::Column::Id),
        AreaLevel::Block | AreaLevel::GramPanchayat => None,
    }
}

fn sum(column: impl ColumnTrait) -> Expr {
    // PostgreSQL sums BIGINT into NUMERIC; the cast keeps it an integer on both backends.
    Expr::from(Func::coalesce([
        Func::sum(Expr::col(column.as_column_ref())).into(),
        Expr::val(0),
    ]))
    .cast_as("BIGINT")
}

fn over_districts<T: ColumnTrait>(
    table: impl sea_orm::Iden + 'static,
    district_id: T,
    districts: &Condition,
    by: Option<district::Column>,
) -> SelectStatement {
    let mut q = Query::select();
    q.from(table)
        .join(
            JoinType::InnerJoin,
            district::Entity,
            Expr::col(district::Column::Id.as_column_ref()).equals(district_id.as_column_ref()),
        )
        .cond_where(districts.clone());
    if let Some(c) = by {
        let key = Expr::col(c.as_column_ref());
        q.expr_as(key.clone(), "area_id").add_group_by([key]);
    }
    q
}

/// Progress totals of the `districts` (a condition on `district`), grouped by `by`, read from
/// the rollups. Task counts are included when `parts.tasks`; the flag returned is false when
/// some district's overdue count is for a later day than `today` (another server's clock ran
/// ahead), and the caller must count tasks itself.
pub(super) async fn totals(
    db: &DatabaseConnection,
    districts: Condition,
    by: Option<district::Column>,
    today: NaiveDate,
    parts: Parts,
) -> ApiResult<(HashMap<i64, Totals>, bool)> {
    let group = by.map(|_| AreaLevel::District);
    let mut out: HashMap<i64, Totals> = HashMap::new();
    let mut tasks_counted = parts.tasks;
    if parts.villages || parts.tasks {
        let mut q = over_districts(r::Entity, r::Column::DistrictId, &districts, by);
        q.expr_as(sum(r::Column::Villages), "villages")
            .expr_as(sum(r::Column::Households), "households")
            .expr_as(sum(r::Column::TapConnections), "taps")
            .expr_as(sum(r::Column::VillagesReported), "reported")
            .expr_as(sum(r::Column::VillagesCertified), "certified")
            .expr_as(sum(r::Column::TasksOpen), "open")
            .expr_as(sum(r::Column::TasksOverdue), "overdue")
            .expr_as(
                count_where(Condition::all().add(r::Column::OverdueAsOf.lt(today))),
                "behind",
            )
            .expr_as(
                count_where(Condition::all().add(r::Column::OverdueAsOf.gt(today))),
                "ahead",
            );
        let mut rows = db.query_all(&q).await?;
        if parts.tasks && count(&rows, "behind")? > 0 {
            refresh_overdue(db, today).await?;
            rows = db.query_all(&q).await?;
        }
        if parts.tasks && count(&rows, "ahead")? > 0 {
            tasks_counted = false;
        }
        for row in &rows {
            if let Some(t) = slot(&mut out, row, group)? {
                if parts.villages {
                    t.villages += get_i64(row, "villages")?;
                    t.households += get_i64(row, "households")?;
                    t.tap_connections += get_i64(row, "taps")?;
                    t.villages_reported += get_i64(row, "reported")?;
                    t.villages_certified += get_i64(row, "certified")?;
                }
                if tasks_counted {
                    t.tasks_open += get_i64(row, "open")?;
                    t.tasks_overdue += get_i64(row, "overdue")?;
                }
            }
        }
    }
    if parts.schemes {
        let mut q = over_districts(s::Entity, s::Column::DistrictId, &districts, by);
        let status = Expr::col(s::Column::Status.as_column_ref());
        q.expr_as(status.clone(), "status")
            .expr_as(sum(s::Column::Schemes), "schemes")
            .add_group_by([status]);
        for row in db.query_all(&q).await? {
            if let Some(t) = slot(&mut out, &row, group)? {
                let status: String = row.try_get("", "status")?;
                let status = SchemeStatus::try_from_value(&status)?;
                *t.schemes_by_status.entry(status).or_default() += get_i64(&row, "schemes")?;
            }
        }
    }
    Ok((out, tasks_counted))
}

fn count(rows: &[QueryResult], column: &str) -> ApiResult<i64> {
    rows.iter().map(|row| get_i64(row, column)).sum()
}

/// Recounts overdue tasks when the server starts and just after each midnight in India, so
/// the first report of a day does not pay for the recount (at national scale, half a second).
/// Reports recount by themselves when this has not run yet, so it only moves the cost.
pub async fn keep_overdue_current(db: DatabaseConnection) {
    loop {
        let today = super::today_ist();
        if let Err(e) = refresh_overdue(&db, today).await {
            if crate::db::closed(&db) {
                return;
            }
            tracing::warn!(error = ?e, "recounting overdue tasks failed; reports will recount");
        }
        let now = chrono::Utc::now() + chrono::TimeDelta::seconds(super::IST_OFFSET_SECS);
        let next = today
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 1))
            .map(|midnight| midnight - now.naive_utc())
            .and_then(|left| left.to_std().ok())
            .unwrap_or(std::time::Duration::from_secs(3600));
        tokio::time::sleep(next).await;
    }
}
