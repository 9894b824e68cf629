//! Progress aggregates for reviews: coverage, Har Ghar Jal, schemes and tasks per area, and each
//! area's difference from its parent. Three grouped statements per level, whatever the size:
//! over the per-district rollups where the report is at district level or above and the
//! principal reaches whole districts, over the villages, schemes and tasks themselves otherwise.

use std::collections::HashMap;

use entities::{enums::*, *};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait,
    sea_query::{Expr, ExprTrait, Func, JoinType, Query, SelectStatement},
};

pub use super::totals::{Parts, Totals};
use super::{
    Scoped, Service,
    area::{Area, AreaLevel},
    filters::{OPEN_STATUSES, overdue},
    rollup,
    totals::{count_where, get_i64, slot},
};
use crate::error::{ApiError, ApiResult};

pub struct ProgressReport {
    pub level: AreaLevel,
    pub parent: Totals,
    pub rows: Vec<Totals>,
}

/// What a village-based row is grouped by at `level`, and whether that needs the district.
fn village_group(level: AreaLevel) -> (Expr, bool) {
    match level {
        AreaLevel::State => (Expr::col(village::Column::StateId.as_column_ref()), false),
        AreaLevel::Division => (
            Expr::col(district::Column::DivisionId.as_column_ref()),
            true,
        ),
        AreaLevel::District => (
            Expr::col(village::Column::DistrictId.as_column_ref()),
            false,
        ),
        AreaLevel::Block => (Expr::col(village::Column::BlockId.as_column_ref()), false),
        AreaLevel::GramPanchayat => (
            Expr::col(village::Column::GramPanchayatId.as_column_ref()),
            false,
        ),
    }
}

fn join_district_on(q: &mut SelectStatement, district_id: impl ColumnTrait) {
    q.join(
        JoinType::InnerJoin,
        district::Entity,
        Expr::col(district::Column::Id.as_column_ref()).equals(district_id.as_column_ref()),
    );
}

impl Service {
    /// Progress of every area at `level` within `within` (or everywhere the principal reaches),
    /// counting only `parts` (the others are left at zero). Returns `None` when `within` is
    /// outside the principal's reach.
    pub async fn progress(
        &self,
        level: AreaLevel,
        within: Option<Area>,
        parts: Parts,
    ) -> ApiResult<Option<ProgressReport>> {
        self.require(crate::principal::Scope::ProgressRead)?;
        if let Some(w) = within
            && w.level >= level
        {
            return Err(ApiError::bad_input(
                "within",
                format!("`within` must be an area above {level:?} level"),
            ));
        }
        let areas = self.area_ids(level, within).await?;
        // A reachable row means its parent is reachable; only an empty report needs to ask.
        if let Some(w) = within
            && areas.is_empty()
            && !self.area_visible(w).await?
        {
            return Ok(None);
        }
        let mut grouped = self.totals(Some(level), within, parts).await?;
        let rows: Vec<Totals> = areas
            .into_iter()
            .map(|id| Totals {
                area: Some(Area::new(level, id)),
                ..grouped.remove(&id).unwrap_or_default()
            })
            .collect();
        // Rows partition their parent's villages. At district level and above, for principals
        // that reach whole districts, they partition its tasks and schemes (counted by
        // implementing district) too, so those totals are sums. Otherwise the parent needs its
        // own statement: below the district a multi-village scheme may span rows and a task
        // without a village is in none, and a partner's tasks and schemes may lie outside the
        // districts of its villages.
        let partitioned = level <= AreaLevel::District && self.reach().whole_districts();
        let mut parent = Totals {
            area: within,
            ..Totals::default()
        };
        for r in &rows {
            parent.villages += r.villages;
            parent.households += r.households;
            parent.tap_connections += r.tap_connections;
            parent.villages_reported += r.villages_reported;
            parent.villages_certified += r.villages_certified;
            if partitioned {
                parent.tasks_open += r.tasks_open;
                parent.tasks_overdue += r.tasks_overdue;
                for (status, n) in &r.schemes_by_status {
                    *parent.schemes_by_status.entry(*status).or_default() += n;
                }
            }
        }
        if !partitioned && (parts.schemes || parts.tasks) {
            let parts = Parts {
                villages: false,
                ..parts
            };
            let own = self
                .totals(within.map(|w| w.level), within, parts)
                .await?
                .into_values()
                .next()
                .unwrap_or_default();
            parent.schemes_by_status = own.schemes_by_status;
            parent.tasks_open = own.tasks_open;
            parent.tasks_overdue = own.tasks_overdue;
        }
        let mut rows = rows;
        if parts.works {
            super::schemes::progress::fill(self, level, within, &mut rows, &mut parent).await?;
        }
        Ok(Some(ProgressReport {
            level,
            parent,
            rows,
        }))
    }

    async fn area_visible(&self, area: Area) -> ApiResult<bool> {
        Ok(match area.level {
            AreaLevel::State => self.by_id::<state::Entity>(area.id).await?.is_some(),
            AreaLevel::Division => self.by_id::<division::Entity>(area.id).await?.is_some(),
            AreaLevel::District => self.by_id::<district::Entity>(area.id).await?.is_some(),
            AreaLevel::Block => self.by_id::<block::Entity>(area.id).await?.is_some(),
            AreaLevel::GramPanchayat => self
                .by_id::<gram_panchayat::Entity>(area.id)
                .await?
                .is_some(),
        })
    }

    /// Ids of the reachable areas at `level` within `within`, in id order.
    async fn area_ids(&self, level: AreaLevel, within: Option<Area>) -> ApiResult<Vec<i64>> {
        async fn ids<E: Scoped>(svc: &Service, cond: Condition) -> ApiResult<Vec<i64>> {
            use sea_orm::{QueryFilter, QueryOrder, QuerySelect};
            // Only the ids: a report has no use for the areas' names and codes.
            Ok(svc
                .scoped::<E>()?
                .filter(cond)
                .select_only()
                .column(E::id_column())
                .order_by_asc(E::id_column())
                .into_tuple::<i64>()
                .all(svc.db())
                .await?)
        }
        let w = |f: fn(&Area) -> Condition| within.as_ref().map(f).unwrap_or_else(Condition::all);
        match level {
            AreaLevel::State => ids::<state::Entity>(self, w(Area::states)).await,
            AreaLevel::Division => ids::<division::Entity>(self, w(Area::divisions)).await,
            AreaLevel::District => ids::<district::Entity>(self, w(Area::districts)).await,
            AreaLevel::Block => ids::<block::Entity>(self, w(Area::blocks)).await,
            AreaLevel::GramPanchayat => {
                ids::<gram_panchayat::Entity>(self, w(Area::gram_panchayats)).await
            }
        }
    }

    /// Runs the three grouped statements, keyed by the id of the area at `group` level
    /// (`None`: one group, keyed 0). Rows outside any area (null group) are left out.
    async fn totals(
        &self,
        group: Option<AreaLevel>,
        within: Option<Area>,
        parts: Parts,
    ) -> ApiResult<HashMap<i64, Totals>> {
        let reach = self.reach();
        let by = match group {
            None => Some(None),
            Some(level) => rollup::group_column(level).map(Some),
        };
        let Some(by) = by.filter(|_| {
            reach.whole_districts() && within.is_none_or(|w| w.level <= AreaLevel::District)
        }) else {
            return self.live_totals(group, within, parts).await;
        };
        let mut districts = district::Entity::reach(&reach);
        if let Some(w) = within {
            districts = districts.add(w.districts());
        }
        let from_rollups = Parts {
            tasks: parts.tasks && reach.all_tasks_of_districts(),
            ..parts
        };
        let (mut out, tasks_counted) =
            rollup::totals(self.db(), districts, by, self.today(), from_rollups).await?;
        if parts.tasks && !tasks_counted {
            let tasks_only = Parts {
                villages: false,
                schemes: false,
                tasks: true,
                works: false,
            };
            for (key, t) in self.live_totals(group, within, tasks_only).await? {
                let slot = out.entry(key).or_default();
                slot.tasks_open = t.tasks_open;
                slot.tasks_overdue = t.tasks_overdue;
            }
        }
        Ok(out)
    }

    /// [`Self::totals`] counted from the rows themselves.
    async fn live_totals(
        &self,
        group: Option<AreaLevel>,
        within: Option<Area>,
        parts: Parts,
    ) -> ApiResult<HashMap<i64, Totals>> {
        let mut out: HashMap<i64, Totals> = HashMap::new();
        let reach = self.reach();
        let villages_in = {
            let mut c = village::Entity::reach(&reach);
            if let Some(w) = within {
                c = c.add(w.villages());
            }
            c
        };

        // Villages: households, taps, Har Ghar Jal.
        if parts.villages {
            let mut q = Query::select();
            q.from(village::Entity)
                .expr_as(
                    Func::count(Expr::col(village::Column::Id.as_column_ref())),
                    "villages",
                )
                .expr_as(
                    Func::coalesce([
                        Func::sum(Expr::col(village::Column::Households.as_column_ref())).into(),
                        Expr::val(0),
                    ]),
                    "households",
                )
                .expr_as(
                    Func::coalesce([
                        Func::sum(Expr::col(village::Column::TapConnections.as_column_ref()))
                            .into(),
                        Expr::val(0),
                    ]),
                    "taps",
                )
                .expr_as(
                    count_where(
                        Condition::all().add(
                            village::Column::HgjStatus
                                .is_in([HgjStatus::Reported, HgjStatus::Certified]),
                        ),
                    ),
                    "reported",
                )
                .expr_as(
                    count_where(
                        Condition::all().add(village::Column::HgjStatus.eq(HgjStatus::Certified)),
                    ),
                    "certified",
                )
                .cond_where(villages_in.clone());
            self.group(&mut q, group.map(village_group));
            for row in self.db().query_all(&q).await? {
                if let Some(t) = slot(&mut out, &row, group)? {
                    t.villages += get_i64(&row, "villages")?;
                    t.households += get_i64(&row, "households")?;
                    t.tap_connections += get_i64(&row, "taps")?;
                    t.villages_reported += get_i64(&row, "reported")?;
                    t.villages_certified += get_i64(&row, "certified")?;
                }
            }
        }

        // Schemes serving those villages, by status; a multi-village scheme counts once per area.
        if parts.schemes {
            let mut q = Query::select();
            // At district level and above a scheme belongs to the district that implements it
            // (as `schemes(filter: {within})` lists them): one indexed pass over schemes. Below
            // that, a scheme belongs to each block or GP whose villages it serves.
            let by_district = group.is_none_or(|l| l <= AreaLevel::District)
                && within.is_none_or(|w| w.level <= AreaLevel::District);
            if by_district {
                let mut schemes_in = scheme::Entity::reach(&reach);
                if let Some(w) = within {
                    schemes_in = schemes_in.add(w.schemes());
                }
                q.from(scheme::Entity)
                    .expr_as(Expr::col(scheme::Column::Status.as_column_ref()), "status")
                    .expr_as(
                        Func::count(Expr::col(scheme::Column::Id.as_column_ref())),
                        "schemes",
                    )
                    .cond_where(schemes_in)
                    .add_group_by([Expr::col(scheme::Column::Status.as_column_ref())]);
                if let Some(level) = group {
                    let expr = match level {
                        AreaLevel::State => Expr::col(district::Column::StateId.as_column_ref()),
                        AreaLevel::Division => {
                            Expr::col(district::Column::DivisionId.as_column_ref())
                        }
                        _ => Expr::col(scheme::Column::DistrictId.as_column_ref()),
                    };
                    if level != AreaLevel::District {
                        join_district_on(&mut q, scheme::Column::DistrictId);
                    }
                    q.expr_as(expr.clone(), "area_id").add_group_by([expr]);
                }
            } else {
                q.from(scheme_village::Entity)
                    .join(
                        JoinType::InnerJoin,
                        village::Entity,
                        Expr::col(village::Column::Id.as_column_ref())
                            .equals(scheme_village::Column::VillageId.as_column_ref()),
                    )
                    .join(
                        JoinType::InnerJoin,
                        scheme::Entity,
                        Expr::col(scheme::Column::Id.as_column_ref())
                            .equals(scheme_village::Column::SchemeId.as_column_ref()),
                    )
                    .expr_as(Expr::col(scheme::Column::Status.as_column_ref()), "status")
                    .expr_as(
                        Func::count_distinct(Expr::col(scheme::Column::Id.as_column_ref())),
                        "schemes",
                    )
                    .cond_where(villages_in)
                    .cond_where(scheme::Entity::reach(&reach))
                    .add_group_by([Expr::col(scheme::Column::Status.as_column_ref())]);
                self.group(&mut q, group.map(village_group));
            }
            for row in self.db().query_all(&q).await? {
                if let Some(t) = slot(&mut out, &row, group)? {
                    let status: String = row.try_get("", "status")?;
                    let status = SchemeStatus::try_from_value(&status)?;
                    *t.schemes_by_status.entry(status).or_default() += get_i64(&row, "schemes")?;
                }
            }
        }

        // Tasks located in the area, open and overdue.
        if !parts.tasks {
            return Ok(out);
        }
        let mut q = Query::select();
        let mut tasks_in = task::Entity::reach(&reach);
        if let Some(w) = within {
            tasks_in = tasks_in.add(w.tasks());
        }
        q.from(task::Entity)
            .expr_as(
                count_where(Condition::all().add(task::Column::Status.is_in(OPEN_STATUSES))),
                "open",
            )
            .expr_as(count_where(overdue(self.today())), "overdue")
            .cond_where(tasks_in);
        let task_group = group.map(|level| match level {
            AreaLevel::State => (Expr::col(task::Column::StateId.as_column_ref()), None),
            AreaLevel::Division => (
                Expr::col(district::Column::DivisionId.as_column_ref()),
                Some(true),
            ),
            AreaLevel::District => (Expr::col(task::Column::DistrictId.as_column_ref()), None),
            // Below the district a task is placed by its village; scheme-wide tasks have none.
            AreaLevel::Block => (
                Expr::col(village::Column::BlockId.as_column_ref()),
                Some(false),
            ),
            AreaLevel::GramPanchayat => (
                Expr::col(village::Column::GramPanchayatId.as_column_ref()),
                Some(false),
            ),
        });
        if let Some((expr, join)) = task_group {
            match join {
                Some(true) => join_district_on(&mut q, task::Column::DistrictId),
                Some(false) => {
                    q.join(
                        JoinType::InnerJoin,
                        village::Entity,
                        Expr::col(village::Column::Id.as_column_ref())
                            .equals(task::Column::VillageId.as_column_ref()),
                    );
                }
                None => {}
            }
            q.expr_as(expr.clone(), "area_id").add_group_by([expr]);
        }
        for row in self.db().query_all(&q).await? {
            if let Some(t) = slot(&mut out, &row, group)? {
                t.tasks_open += get_i64(&row, "open")?;
                t.tasks_overdue += get_i64(&row, "overdue")?;
            }
        }
        Ok(out)
    }

    fn group(&self, q: &mut SelectStatement, group: Option<(Expr, bool)>) {
        if let Some((expr, needs_district)) = group {
            if needs_district {
                join_district_on(q, village::Column::DistrictId);
            }
            q.expr_as(expr.clone(), "area_id").add_group_by([expr]);
        }
    }
}
