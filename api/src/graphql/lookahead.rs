//! Look-ahead for the hot query shapes (issue 14): before the village resolvers return, they
//! look at what the query selects below them and, where it is one of the shapes below, read
//! those children in the same statement as the villages (or in one more), handing them to the
//! child resolvers inside the [`Village`] objects, so the children run no statement of their
//! own.
//!
//! - `village(lgdCode:)` selecting `latestWaterQualityTest` (and its `results`): one statement,
//!   the bench's S4 (`Service::village_with_latest_test`).
//! - `villages` selecting `schemes` and/or `tasks` on its nodes: the page, then one statement
//!   for both children of the whole page, the bench's S1
//!   (`Service::schemes_and_tasks_of_villages`). When every `tasks` field filters on
//!   `status`, only the tasks in those statuses (all the fields' together) are read; a field
//!   whose filter those rows would not cover goes to its loader, as a safeguard.
//!
//! Everything else, and every child a shape leaves out (a village's `district`, a test's
//! `village`), goes through the loaders as before. What is read ahead is what the loaders would
//! read, through the same row scope (`service/scope.rs`, via the service); nothing outlives the
//! request. Where the principal may not read a child's table (a role or token without
//! `quality:read` asking for tests), nothing is read ahead for it: the child resolver goes to its
//! loader, which refuses that field as it always has.

use std::sync::Arc;

use async_graphql::{Context, InputType, Lookahead, SelectionField};
use entities::{
    enums::TaskStatus, scheme, scheme_village, task, village, water_quality_result,
    water_quality_test,
};
use sea_orm::Condition;

use super::{
    connection::{Conn, PageArgs, connection},
    context::CtxExt,
    types::{
        WaterQualityTest,
        village::{Preloaded, PreloadedTasks, Village},
    },
};
use crate::{
    error::ApiResult,
    service::{Scoped, page::Ordering, preload::PageTasks, scope::may_read},
};

/// Whether the principal may read `E` at all; when it may not, the child is left to its
/// loader, which answers with the field's FORBIDDEN error.
fn readable<E: Scoped>(ctx: &Context<'_>) -> bool {
    ctx.svc()
        .is_ok_and(|svc| may_read::<E>(svc.principal()).is_ok())
}

/// The one village matching `filter` (a natural key), with its latest water-quality test and
/// that test's results read in the same statement when the query selects them.
pub async fn village(ctx: &Context<'_>, filter: Condition) -> ApiResult<Option<Village>> {
    let svc = ctx.svc()?;
    let test = ctx.look_ahead().field("latestWaterQualityTest");
    if !test.exists() || !readable::<water_quality_test::Entity>(ctx) {
        return Ok(svc
            .find_one::<village::Entity>(filter)
            .await?
            .map(Village::from));
    }
    let with_results =
        test.field("results").exists() && readable::<water_quality_result::Entity>(ctx);
    let Some((row, latest)) = svc.village_with_latest_test(filter, with_results).await? else {
        return Ok(None);
    };
    let latest = latest.map(|l| WaterQualityTest::preloaded(l.test, l.results));
    Ok(Some(Village::preloaded(
        row,
        Preloaded {
            latest_test: Some(latest),
            ..Preloaded::default()
        },
    )))
}

/// Whether the query selects `field` on the villages of a connection (`edges.node` or `nodes`).
fn on_nodes(connection: &Lookahead<'_>, field: &str) -> bool {
    connection
        .field("edges")
        .field("node")
        .field(field)
        .exists()
        || connection.field("nodes").field(field).exists()
}

/// The `tasks` fields the query selects on the villages of a connection.
fn task_fields<'a>(connection: &Lookahead<'a>) -> Vec<SelectionField<'a>> {
    let mut fields = connection
        .field("edges")
        .field("node")
        .field("tasks")
        .selection_fields();
    fields.extend(connection.field("nodes").field("tasks").selection_fields());
    fields
}

/// The statuses every `tasks` field of the query filters on, together (`None`: some field
/// takes every task, or an argument does not parse; its resolver reports that).
fn task_statuses(fields: &[SelectionField<'_>]) -> Option<Vec<TaskStatus>> {
    let mut all = Vec::new();
    for field in fields {
        let args = field.arguments().ok()?;
        let (_, value) = args
            .into_iter()
            .find(|(name, _)| name.as_str() == "status")?;
        let statuses = <Option<Vec<TaskStatus>> as InputType>::parse(Some(value)).ok()??;
        for s in statuses {
            if !all.contains(&s) {
                all.push(s);
            }
        }
    }
    Some(all)
}

/// One page of the reachable villages matching `filter`, with the schemes and tasks of the
/// whole page read in one more statement when the query selects either (only the tasks in
/// the statuses the query filters on, when every `tasks` field filters).
pub async fn villages(
    ctx: &Context<'_>,
    filter: Condition,
    args: PageArgs,
    order: Ordering,
) -> ApiResult<Conn<Village>> {
    let svc = ctx.svc()?;
    let req = args.request(ctx.limits())?;
    let page = svc.list::<village::Entity>(filter, req, &order).await?;
    let selection = ctx.look_ahead();
    let schemes = on_nodes(&selection, "schemes")
        && readable::<scheme_village::Entity>(ctx)
        && readable::<scheme::Entity>(ctx);
    let task_fields = task_fields(&selection);
    let tasks = !task_fields.is_empty() && readable::<task::Entity>(ctx);
    if page.rows.is_empty() || !(schemes || tasks) {
        return Ok(connection(page, Village::from));
    }
    let statuses: Option<Arc<[TaskStatus]>> = task_statuses(&task_fields).map(Arc::from);
    let read = match (&statuses, tasks) {
        (_, false) => PageTasks::None,
        (None, true) => PageTasks::All,
        (Some(s), true) => PageTasks::In(s),
    };
    let mut children = svc
        .schemes_and_tasks_of_villages(&page.rows, schemes, read)
        .await?;
    Ok(connection(page, |row| {
        // A village without any is absent from the maps: it has none.
        let preloaded = Preloaded {
            latest_test: None,
            schemes: children
                .schemes
                .as_mut()
                .map(|m| m.remove(&row.id).unwrap_or_default()),
            tasks: children.tasks.as_mut().map(|m| PreloadedTasks {
                statuses: statuses.clone(),
                rows: m.remove(&row.id).unwrap_or_default(),
            }),
        };
        Village::preloaded(row, preloaded)
    }))
}
