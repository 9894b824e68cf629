//! Reads that bring a village's children with the village, for the query shapes the GraphQL
//! layer recognises by look-ahead (`graphql/lookahead.rs`): one statement where the loaders
//! would spend one per level. Each table's rows are limited exactly as the loaders limit them:
//! every table enters through [`Service::scoped`] or [`Service::reach_of`] (`scope.rs`), and what
//! is returned is what the loaders would have returned, in the same order.

use std::collections::HashMap;

use entities::{scheme, task, village, water_quality_result, water_quality_test};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable,
    JoinType, Order, QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait,
    sea_query::{Condition, Expr, ExprTrait, Query, UnionType},
};

use super::Service;
use crate::error::ApiResult;

/// A village's latest water-quality test and, when they were asked for, its results.
pub struct LatestTest {
    pub test: water_quality_test::Model,
    pub results: Option<Vec<water_quality_result::Model>>,
}

/// The schemes and tasks of a page of villages, by village, each in id order (what the
/// `VillageSchemes` and `Children<task>` loaders return); `None` for what was not asked for.
#[derive(Default)]
pub struct VillageChildren {
    pub schemes: Option<HashMap<i64, Vec<scheme::Model>>>,
    pub tasks: Option<HashMap<i64, Vec<task::Model>>>,
}

/// Adds every column of `E` to `q`, named `{prefix}{column}`, so rows of several tables can be
/// read from one result row with `FromQueryResult::from_query_result(row, prefix)`.
fn with_columns<E: EntityTrait, Q: QuerySelect>(mut q: Q, prefix: &str) -> Q {
    for col in E::Column::iter() {
        let alias = format!("{prefix}{}", col.as_str());
        q = q.expr_as(col.select_as(col.into_expr()), alias);
    }
    q
}

/// Adds a NULL for every column of `E`, named as [`with_columns`] names them: the other side of
/// a `UNION ALL` whose branches read different tables.
fn without_columns<E: EntityTrait, Q: QuerySelect>(mut q: Q, prefix: &str) -> Q {
    for col in E::Column::iter() {
        let alias = format!("{prefix}{}", col.as_str());
        q = q.expr_as(Expr::cust("NULL"), alias);
    }
    q
}

/// The row of `E` read under `prefix` in `row`, or `None` when the row holds none (an outer
/// join that found nothing, or the other branch of a union). A row that is there but does not
/// decode is an error, never `None`.
fn optional<M: FromQueryResult>(row: &QueryResult, prefix: &str) -> Result<Option<M>, DbErr> {
    match row.try_get::<Option<i64>>(prefix, "id")? {
        Some(_) => M::from_query_result(row, prefix).map(Some),
        None => Ok(None),
    }
}

const TEST: &str = "t_";
const RESULT: &str = "r_";
const SCHEME: &str = "s_";
const TASK: &str = "k_";
const PARENT: &str = "parent";

/// One row of [`Service::village_with_latest_test`]: the village, and the test and result
/// joined to it (if any).
struct VillageTestRow {
    village: village::Model,
    test: Option<water_quality_test::Model>,
    result: Option<water_quality_result::Model>,
}

impl FromQueryResult for VillageTestRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            village: village::Model::from_query_result(row, pre)?,
            test: optional(row, TEST)?,
            result: optional(row, RESULT)?,
        })
    }
}

impl Service {
    /// The reachable village matching `filter` (a natural key: one village at most) with its
    /// latest reachable water-quality test, by sample date and then id as the `LatestTest`
    /// loader picks it, and, when `with_results`, that test's reachable results in id order.
    /// One statement: the village, left-joined to the test a correlated subquery picks
    /// (`ORDER BY sampled_on DESC, id DESC LIMIT 1`, an index walk on `(village_id,
    /// sampled_on)`), left-joined to its results. FORBIDDEN when the principal may not read
    /// tests (or results, when asked for): callers check that first and read through the
    /// loaders instead, which refuse field by field.
    pub async fn village_with_latest_test(
        &self,
        filter: Condition,
        with_results: bool,
    ) -> ApiResult<Option<(village::Model, Option<LatestTest>)>> {
        use water_quality_result as r;
        use water_quality_test as t;
        // Inside the subquery `water_quality_test` names the subquery's own table (the nearest
        // one in scope), so the scope condition applies to the tests it chooses from.
        let latest = Query::select()
            .column((t::Entity, t::Column::Id))
            .from(t::Entity)
            .cond_where(
                Condition::all()
                    .add(
                        Expr::col((t::Entity, t::Column::VillageId))
                            .equals((village::Entity, village::Column::Id)),
                    )
                    .add(self.reach_of::<t::Entity>()?),
            )
            .order_by((t::Entity, t::Column::SampledOn), Order::Desc)
            .order_by((t::Entity, t::Column::Id), Order::Desc)
            .limit(1)
            .to_owned();
        let mut q =
            with_columns::<t::Entity, _>(self.scoped::<village::Entity>()?, TEST).filter(filter);
        QueryTrait::query(&mut q).join(
            JoinType::LeftJoin,
            t::Entity,
            Condition::all()
                .add(
                    Expr::col((t::Entity, t::Column::VillageId))
                        .equals((village::Entity, village::Column::Id)),
                )
                .add(
                    Expr::col((t::Entity, t::Column::Id))
                        .eq(Expr::SubQuery(None, Box::new(latest.into()))),
                ),
        );
        if with_results {
            q = with_columns::<r::Entity, _>(q, RESULT);
            QueryTrait::query(&mut q).join(
                JoinType::LeftJoin,
                r::Entity,
                Condition::all()
                    .add(
                        Expr::col((r::Entity, r::Column::TestId))
                            .equals((t::Entity, t::Column::Id)),
                    )
                    .add(self.reach_of::<r::Entity>()?),
            );
            q = q.order_by_asc(r::Column::Id);
        }
        let rows = q.into_model::<VillageTestRow>().all(self.db()).await?;
        let mut rows = rows.into_iter();
        let Some(first) = rows.next() else {
            return Ok(None);
        };
        let latest = first.test.map(|test| LatestTest {
            test,
            results: with_results.then(|| {
                std::iter::once(first.result)
                    .chain(rows.map(|row| row.result))
                    .flatten()
                    .collect()
            }),
        });
        Ok(Some((first.village, latest)))
    }

    /// The schemes (when `schemes`) and the tasks (when `tasks`) of `villages`, in one
    /// statement: a `UNION ALL` of the scheme links joined to their schemes, exactly as
    /// [`Service::schemes_of_villages`] reads them, and the villages' tasks, each branch within
    /// its table's row scope. FORBIDDEN when the principal may not read what it asks for:
    /// callers check that first.
    pub async fn schemes_and_tasks_of_villages(
        &self,
        villages: &[i64],
        schemes: bool,
        tasks: bool,
    ) -> ApiResult<VillageChildren> {
        let mut branches = Vec::new();
        if schemes {
            let q = self
                .scheme_links(villages)?
                .select_only()
                .column_as(entities::scheme_village::Column::VillageId, PARENT);
            let q = with_columns::<scheme::Entity, _>(q, SCHEME);
            branches.push(without_columns::<task::Entity, _>(q, TASK).into_query());
        }
        if tasks {
            let q = self
                .scoped::<task::Entity>()?
                .filter(task::Column::VillageId.is_in(villages.iter().copied()))
                .select_only()
                .column_as(task::Column::VillageId, PARENT);
            let q = without_columns::<scheme::Entity, _>(q, SCHEME);
            branches.push(with_columns::<task::Entity, _>(q, TASK).into_query());
        }
        let mut branches = branches.into_iter();
        let Some(mut statement) = branches.next() else {
            return Ok(VillageChildren::default());
        };
        for other in branches {
            statement.union(UnionType::All, other);
        }
        let rows = self
            .db()
            .query_all_raw(self.db().get_database_backend().build(&statement))
            .await?;
        let mut out = VillageChildren {
            schemes: schemes.then(HashMap::new),
            tasks: tasks.then(HashMap::new),
        };
        for row in &rows {
            let Some(parent) = row.try_get::<Option<i64>>("", PARENT)? else {
                continue;
            };
            if let Some(all) = &mut out.schemes
                && let Some(s) = optional::<scheme::Model>(row, SCHEME)?
            {
                all.entry(parent).or_default().push(s);
            }
            if let Some(all) = &mut out.tasks
                && let Some(t) = optional::<task::Model>(row, TASK)?
            {
                all.entry(parent).or_default().push(t);
            }
        }
        // A union has no order of its own; the loaders return both in id order.
        for list in out.schemes.iter_mut().flat_map(|m| m.values_mut()) {
            list.sort_by_key(|s| s.id);
        }
        for list in out.tasks.iter_mut().flat_map(|m| m.values_mut()) {
            list.sort_by_key(|t| t.id);
        }
        Ok(out)
    }
}
