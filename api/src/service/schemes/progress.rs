//! Scheme works in progress reports: physical progress (average, below half, complete),
//! overdue schemes, open inspection findings by severity, and schemes handed over against
//! those commissioned. Read from the per-district rollups where the report is at district
//! level or above and the principal reaches whole districts (as the other progress counts
//! are), from the schemes themselves otherwise.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use entities::{
    district, district_scheme_due_rollup as due, district_scheme_rollup as by_status,
    district_works_rollup as works, enums::SchemeStatus, scheme, scheme_village, village,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func, JoinType, Query, SelectStatement},
};

use super::rollup::{BUILDING, measured};
use crate::{
    error::ApiResult,
    service::{
        Scoped, Service,
        area::{Area, AreaLevel},
    },
};

/// Scheme works of one area.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorksTotals {
    /// Schemes with components (physical progress measured), cancelled ones left out.
    pub measured: i64,
    pub progress_bp_sum: i64,
    pub below_half: i64,
    pub complete: i64,
    /// Schemes still being built past their target completion date.
    pub overdue: i64,
    pub findings_minor: i64,
    pub findings_major: i64,
    pub findings_critical: i64,
    /// Schemes commissioned, including those since handed over.
    pub commissioned: i64,
    pub handed_over: i64,
}

impl WorksTotals {
    /// Average physical progress of the measured schemes, in percent.
    pub fn average_percent(&self) -> Option<f64> {
        (self.measured > 0).then(|| self.progress_bp_sum as f64 / 100.0 / self.measured as f64)
    }

    fn add(&mut self, s: &scheme::Model, today: NaiveDate) {
        if let Some(bp) = measured(s) {
            self.measured += 1;
            self.progress_bp_sum += i64::from(bp);
            self.below_half += i64::from(bp < 5_000);
            self.complete += i64::from(bp >= 10_000);
        }
        if BUILDING.contains(&s.status) && s.target_completion_on.is_some_and(|t| t < today) {
            self.overdue += 1;
        }
        self.findings_minor += i64::from(s.open_findings_minor);
        self.findings_major += i64::from(s.open_findings_major);
        self.findings_critical += i64::from(s.open_findings_critical);
        self.commissioned += i64::from(matches!(
            s.status,
            SchemeStatus::Commissioned | SchemeStatus::HandedOverToGp
        ));
        self.handed_over += i64::from(s.status == SchemeStatus::HandedOverToGp);
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

fn district_group(level: AreaLevel) -> Option<district::Column> {
    match level {
        AreaLevel::State => Some(district::Column::StateId),
        AreaLevel::Division => Some(district::Column::DivisionId),
        AreaLevel::District => Some(district::Column::Id),
        AreaLevel::Block | AreaLevel::GramPanchayat => None,
    }
}

/// `SELECT … FROM table JOIN district … WHERE districts [GROUP BY by]`.
fn over_districts(
    table: impl sea_orm::Iden + 'static,
    district_id: impl ColumnTrait,
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
    match by {
        Some(c) => {
            let key = Expr::col(c.as_column_ref());
            q.expr_as(key.clone(), "area_id").add_group_by([key]);
        }
        None => {
            q.expr_as(Expr::val(0_i64), "area_id");
        }
    }
    q
}

fn get(row: &sea_orm::QueryResult, col: &str) -> ApiResult<i64> {
    Ok(row.try_get::<Option<i64>>("", col)?.unwrap_or(0))
}

impl Service {
    /// Scheme works per area at `group` level (`None`: one group keyed 0) within `within`.
    pub(crate) async fn works_totals(
        &self,
        group: Option<AreaLevel>,
        within: Option<Area>,
    ) -> ApiResult<HashMap<i64, WorksTotals>> {
        let reach = self.reach();
        let by = match group {
            None => Some(None),
            Some(level) => district_group(level).map(Some),
        };
        match by.filter(|_| {
            reach.whole_districts() && within.is_none_or(|w| w.level <= AreaLevel::District)
        }) {
            Some(by) => {
                let mut districts = district::Entity::reach(&reach);
                if let Some(w) = within {
                    districts = districts.add(w.districts());
                }
                self.works_from_rollups(&districts, by).await
            }
            None => self.works_live(group, within).await,
        }
    }

    async fn works_from_rollups(
        &self,
        districts: &Condition,
        by: Option<district::Column>,
    ) -> ApiResult<HashMap<i64, WorksTotals>> {
        let db = self.db();
        let mut out: HashMap<i64, WorksTotals> = HashMap::new();
        let mut q = over_districts(works::Entity, works::Column::DistrictId, districts, by);
        q.expr_as(sum(works::Column::SchemesMeasured), "measured")
            .expr_as(sum(works::Column::ProgressBpSum), "bp")
            .expr_as(sum(works::Column::BelowHalf), "below")
            .expr_as(sum(works::Column::Complete), "complete")
            .expr_as(sum(works::Column::FindingsMinor), "minor")
            .expr_as(sum(works::Column::FindingsMajor), "major")
            .expr_as(sum(works::Column::FindingsCritical), "critical");
        for row in db.query_all(&q).await? {
            let t = out.entry(get(&row, "area_id")?).or_default();
            t.measured += get(&row, "measured")?;
            t.progress_bp_sum += get(&row, "bp")?;
            t.below_half += get(&row, "below")?;
            t.complete += get(&row, "complete")?;
            t.findings_minor += get(&row, "minor")?;
            t.findings_major += get(&row, "major")?;
            t.findings_critical += get(&row, "critical")?;
        }
        let mut q = over_districts(due::Entity, due::Column::DistrictId, districts, by);
        q.expr_as(sum(due::Column::Schemes), "overdue")
            .and_where(due::Column::DueOn.lt(self.today()));
        for row in db.query_all(&q).await? {
            out.entry(get(&row, "area_id")?).or_default().overdue += get(&row, "overdue")?;
        }
        for (status, handed_over) in [
            (SchemeStatus::Commissioned, false),
            (SchemeStatus::HandedOverToGp, true),
        ] {
            let mut q = over_districts(
                by_status::Entity,
                by_status::Column::DistrictId,
                districts,
                by,
            );
            q.expr_as(sum(by_status::Column::Schemes), "schemes")
                .and_where(by_status::Column::Status.eq(status));
            for row in db.query_all(&q).await? {
                let n = get(&row, "schemes")?;
                let t = out.entry(get(&row, "area_id")?).or_default();
                t.commissioned += n;
                if handed_over {
                    t.handed_over += n;
                }
            }
        }
        Ok(out)
    }

    /// Counted from the schemes in reach: by implementing district at district level and
    /// above, by the villages each serves below it (a scheme counts once per area).
    async fn works_live(
        &self,
        group: Option<AreaLevel>,
        within: Option<Area>,
    ) -> ApiResult<HashMap<i64, WorksTotals>> {
        let today = self.today();
        let reach = self.reach();
        let mut out: HashMap<i64, WorksTotals> = HashMap::new();
        let mut schemes_in = Condition::all();
        if let Some(w) = within {
            schemes_in = schemes_in.add(w.schemes());
        }
        let below = group.filter(|l| *l > AreaLevel::District);
        let Some(level) = below else {
            // Aggregates only: what reaches the caller is row scope's answer, read without
            // the row-read check, as the other progress counts are (the public reader reads
            // counts of schemes it may not list).
            let schemes = scheme::Entity::find()
                .filter(scheme::Entity::reach(&reach))
                .filter(schemes_in)
                .all(self.db())
                .await?;
            let key_of: HashMap<i64, i64> = match group {
                None | Some(AreaLevel::District) => HashMap::new(),
                Some(_) => {
                    let ids: HashSet<i64> = schemes.iter().map(|s| s.district_id).collect();
                    district::Entity::find()
                        .filter(district::Column::Id.is_in(ids))
                        .all(self.db())
                        .await?
                        .into_iter()
                        .filter_map(|d| {
                            let key = if group == Some(AreaLevel::State) {
                                Some(d.state_id)
                            } else {
                                d.division_id
                            };
                            key.map(|k| (d.id, k))
                        })
                        .collect()
                }
            };
            for s in &schemes {
                let key = match group {
                    None => 0,
                    Some(AreaLevel::District) => s.district_id,
                    Some(_) => match key_of.get(&s.district_id) {
                        Some(k) => *k,
                        None => continue,
                    },
                };
                out.entry(key).or_default().add(s, today);
            }
            return Ok(out);
        };
        let area_col = if level == AreaLevel::Block {
            village::Column::BlockId
        } else {
            village::Column::GramPanchayatId
        };
        let mut villages_in = village::Entity::reach(&reach);
        if let Some(w) = within {
            villages_in = villages_in.add(w.villages());
        }
        let mut q = Query::select();
        q.distinct()
            .expr_as(
                Expr::col(scheme_village::Column::SchemeId.as_column_ref()),
                "scheme_id",
            )
            .expr_as(Expr::col(area_col.as_column_ref()), "area_id")
            .from(scheme_village::Entity)
            .join(
                JoinType::InnerJoin,
                village::Entity,
                Expr::col(village::Column::Id.as_column_ref())
                    .equals(scheme_village::Column::VillageId.as_column_ref()),
            )
            .cond_where(villages_in);
        let mut pairs = Vec::new();
        for row in self.db().query_all(&q).await? {
            pairs.push((get(&row, "scheme_id")?, get(&row, "area_id")?));
        }
        let ids: HashSet<i64> = pairs.iter().map(|p| p.0).collect();
        let schemes: HashMap<i64, scheme::Model> = scheme::Entity::find()
            .filter(scheme::Entity::reach(&reach))
            .filter(scheme::Column::Id.is_in(ids))
            .all(self.db())
            .await?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        for (scheme_id, area) in pairs {
            if let Some(s) = schemes.get(&scheme_id) {
                out.entry(area).or_default().add(s, today);
            }
        }
        Ok(out)
    }
}

/// Fills the works of a progress report's rows (areas at `level`) and of its parent.
pub(crate) async fn fill(
    svc: &Service,
    level: AreaLevel,
    within: Option<Area>,
    rows: &mut [crate::service::progress::Totals],
    parent: &mut crate::service::progress::Totals,
) -> ApiResult<()> {
    let mut grouped = svc.works_totals(Some(level), within).await?;
    for r in rows.iter_mut() {
        if let Some(a) = r.area {
            r.works = grouped.remove(&a.id).unwrap_or_default();
        }
    }
    parent.works = svc
        .works_totals(None, within)
        .await?
        .remove(&0)
        .unwrap_or_default();
    Ok(())
}
