//! Reads that bring a village's children with the village, for the query shapes the GraphQL
//! layer recognises by look-ahead (`graphql/lookahead.rs`): one statement where the loaders
//! would spend one per level. Each table's rows are limited exactly as the loaders limit them:
//! the villages enter through [`Service::scoped`], their children through
//! [`Service::reach_beneath_village`] (what each child's scope adds to the village's, stated in
//! `scope.rs`), and what is returned is what the loaders would have returned, in the same order.
//! Rows are read by column position (`read_at.rs`).

use std::collections::HashMap;

use entities::{
    enums::TaskStatus, scheme, scheme_village, task, village, water_quality_result,
    water_quality_test,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, IdenStatic, Iterable, JoinType, Order,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Value,
    sea_query::{Condition, Expr, ExprTrait, Query, UnionType},
};

use super::{
    Service,
    read_at::{ReadAt, width},
};
use crate::error::ApiResult;

/// A village's latest water-quality test and, when they were asked for, its results.
pub struct LatestTest {
    pub test: water_quality_test::Model,
    pub results: Option<Vec<water_quality_result::Model>>,
}

/// Which tasks of a page's villages to read.
#[derive(Clone, Copy)]
pub enum PageTasks<'a> {
    None,
    All,
    /// Those in one of these statuses (what every `tasks(status:)` of the query asks for).
    In(&'a [TaskStatus]),
}

/// The schemes and tasks of a page of villages, by village, each in id order (what the
/// `VillageSchemes` and `Children<task>` loaders return); `None` for what was not asked for.
#[derive(Default)]
pub struct VillageChildren {
    pub schemes: Option<HashMap<i64, Vec<scheme::Model>>>,
    pub tasks: Option<HashMap<i64, Vec<task::Model>>>,
}

/// Adds every column of `E` to `q`, in `Column::iter()` order (what [`ReadAt`] reads).
fn with_columns<E: EntityTrait, Q: QuerySelect>(mut q: Q, prefix: &str) -> Q {
    for col in E::Column::iter() {
        let alias = format!("{prefix}{}", col.as_str());
        q = q.expr_as(col.select_as(col.into_expr()), alias);
    }
    q
}

/// Adds a NULL for every column of `E`: the other side of a `UNION ALL` whose branches read
/// different tables.
fn without_columns<E: EntityTrait, Q: QuerySelect>(mut q: Q, prefix: &str) -> Q {
    for col in E::Column::iter() {
        let alias = format!("{prefix}{}", col.as_str());
        q = q.expr_as(Expr::cust("NULL"), alias);
    }
    q
}

/// `cond` and `more`, leaving out `more` when it is no condition at all.
fn and(cond: Condition, more: Condition) -> Condition {
    if more.is_empty() {
        cond
    } else {
        cond.add(more)
    }
}

/// `task.status` is one of `statuses`. The page's village keys are the selective part of the
/// read: without statistics SQLite would instead walk `ix_task_status_due_on` for a status list
/// (most of the table: S1 took 2.5 s at national scale), so there the filter carries a unary
/// `+`, which keeps it off any index (`?`: the SQLite builder's placeholder for the column).
fn statuses_in(statuses: &[TaskStatus], backend: DbBackend) -> Condition {
    let mut status = Expr::col((task::Entity, task::Column::Status));
    if backend == DbBackend::Sqlite {
        status = Expr::cust_with_expr("+?", status);
    }
    Condition::all().add(status.is_in(statuses.iter().map(|&v| Value::from(v))))
}

const TEST: &str = "t_";
const RESULT: &str = "r_";
const SCHEME: &str = "s_";
const TASK: &str = "k_";
const PARENT: &str = "parent";

impl Service {
    /// The reachable village matching `filter` (a natural key: one village at most) with its
    /// latest water-quality test, by sample date and then id as the `LatestTest` loader picks
    /// it, and, when `with_results`, that test's results in id order. One statement: the
    /// village, under its row scope, left-joined to the test a correlated subquery picks
    /// (`ORDER BY sampled_on DESC, id DESC LIMIT 1`, an index walk on `(village_id,
    /// sampled_on)`), left-joined to its results; the test and the results are limited by
    /// what their scope adds to the village's ([`super::scope::BeneathVillage`]). FORBIDDEN
    /// when the principal may not read tests (or results, when asked for): callers check
    /// that first and read through the loaders instead, which refuse field by field.
    pub async fn village_with_latest_test(
        &self,
        filter: Condition,
        with_results: bool,
    ) -> ApiResult<Option<(village::Model, Option<LatestTest>)>> {
        use water_quality_result as r;
        use water_quality_test as t;
        let latest = Query::select()
            .column((t::Entity, t::Column::Id))
            .from(t::Entity)
            .cond_where(and(
                Condition::all().add(
                    Expr::col((t::Entity, t::Column::VillageId))
                        .equals((village::Entity, village::Column::Id)),
                ),
                self.reach_beneath_village::<t::Entity>()?,
            ))
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
                and(
                    Condition::all().add(
                        Expr::col((r::Entity, r::Column::TestId))
                            .equals((t::Entity, t::Column::Id)),
                    ),
                    self.reach_beneath_village::<r::Entity>()?,
                ),
            );
            q = q.order_by_asc(r::Column::Id);
        }
        let db = self.db();
        let rows = db
            .query_all_raw(db.get_database_backend().build(QueryTrait::query(&mut q)))
            .await?;
        // Columns: the village's, the test's, then the result's.
        let test_at = width::<village::Model>();
        let result_at = test_at + width::<t::Model>();
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let row = village::Model::read_at(first, 0)?;
        let Some(test) = t::Model::optional_at(first, test_at)? else {
            return Ok(Some((row, None)));
        };
        let results = if with_results {
            let mut results = Vec::with_capacity(rows.len());
            for r in &rows {
                results.extend(r::Model::optional_at(r, result_at)?);
            }
            Some(results)
        } else {
            None
        };
        Ok(Some((row, Some(LatestTest { test, results }))))
    }

    /// The schemes (when `schemes`) and the tasks (as `tasks` says) of a page of `villages`,
    /// in one statement: a `UNION ALL` of the villages' scheme links joined to their schemes
    /// and of the villages' tasks. `villages` are rows this service has just read under their
    /// row scope (a page of [`Service::list`]), so each branch adds only what its table's
    /// scope adds to the village's ([`super::scope::BeneathVillage`]). FORBIDDEN when the
    /// principal may not read what it asks for: callers check that first.
    pub async fn schemes_and_tasks_of_villages(
        &self,
        villages: &[village::Model],
        schemes: bool,
        tasks: PageTasks<'_>,
    ) -> ApiResult<VillageChildren> {
        let ids = || villages.iter().map(|v| v.id);
        let mut branches = Vec::new();
        if schemes {
            let scheme_reach = self.reach_beneath_village::<scheme::Entity>()?;
            let mut link = scheme_village::Entity::belongs_to(scheme::Entity)
                .from(scheme_village::Column::SchemeId)
                .to(scheme::Column::Id);
            if !scheme_reach.is_empty() {
                link = link.on_condition(move |_, _| scheme_reach.clone());
            }
            let link = link.into();
            let links = and(
                Condition::all().add(scheme_village::Column::VillageId.is_in(ids())),
                self.reach_beneath_village::<scheme_village::Entity>()?,
            );
            let q = scheme_village::Entity::find()
                .join(JoinType::LeftJoin, link)
                .filter(links)
                .select_only()
                .column_as(scheme_village::Column::VillageId, PARENT);
            let q = with_columns::<scheme::Entity, _>(q, SCHEME);
            branches.push(without_columns::<task::Entity, _>(q, TASK).into_query());
        }
        let statuses = match tasks {
            PageTasks::None => None,
            PageTasks::All => Some(Condition::all()),
            PageTasks::In(s) => Some(statuses_in(s, self.db().get_database_backend())),
        };
        if let Some(statuses) = statuses {
            let cond = and(
                Condition::all().add(task::Column::VillageId.is_in(ids())),
                self.reach_beneath_village::<task::Entity>()?,
            );
            let q = task::Entity::find()
                .filter(and(cond, statuses))
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
        let db = self.db();
        let rows = db
            .query_all_raw(db.get_database_backend().build(&statement))
            .await?;
        let mut out = VillageChildren {
            schemes: schemes.then(HashMap::new),
            tasks: (!matches!(tasks, PageTasks::None)).then(HashMap::new),
        };
        // Columns: the village's id, the scheme's, then the task's.
        let (scheme_at, task_at) = (1, 1 + width::<scheme::Model>());
        for row in &rows {
            let Some(parent) = row.try_get_by_index::<Option<i64>>(0)? else {
                continue;
            };
            if let Some(all) = &mut out.schemes
                && let Some(s) = scheme::Model::optional_at(row, scheme_at)?
            {
                all.entry(parent).or_default().push(s);
            }
            if let Some(all) = &mut out.tasks
                && let Some(t) = task::Model::optional_at(row, task_at)?
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

#[cfg(test)]
mod tests {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryTrait, Statement};

    use super::*;

    /// SQLite's plan for a page's tasks in some statuses walks the village key, not the status
    /// index (which the migrations create, and SQLite prefers when the filter can use it).
    #[tokio::test]
    async fn on_sqlite_a_pages_tasks_are_found_by_village_not_by_status() {
        let db = crate::db::connect("sqlite::memory:", 1).await.expect("db");
        Migrator::up(&db, None).await.expect("migrate");
        let query = task::Entity::find()
            .filter(task::Column::VillageId.is_in([1_i64, 2, 3]))
            .filter(statuses_in(
                &[TaskStatus::Open, TaskStatus::Blocked],
                DbBackend::Sqlite,
            ))
            .build(DbBackend::Sqlite);
        let plan = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {}", query.sql),
                query.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .expect("plan");
        let steps: Vec<String> = plan
            .iter()
            .map(|row| row.try_get::<String>("", "detail").expect("detail"))
            .collect();
        assert!(
            steps.iter().any(|s| s.contains("ix_task_village_id"))
                && !steps.iter().any(|s| s.contains("ix_task_status")),
            "{steps:?}"
        );
    }
}
