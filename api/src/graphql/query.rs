//! The root query.

use async_graphql::{Context, ID, Object, OutputType};
use entities::*;
use sea_orm::{ColumnTrait, Condition};

use super::{
    connection::{Conn, PageArgs, connection},
    context::CtxExt,
    ids::{self, Kind},
    inputs::*,
    limits, loaders, lookahead,
    types::{
        Assignment, Block, District, Division, GramPanchayat, Node, Organisation, Scheme, State,
        Task, TaskEvent, Village, WaterQualityTest,
        audit::AuditRecord,
        progress::{ProgressOrder, ProgressReport},
        viewer::Viewer,
    },
};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        Scoped,
        area::{Area, AreaLevel},
        filters::name_search,
        page::Ordering,
    },
};

pub struct Query;

/// One page of the reachable rows of `E` matching `filter`, as a connection of `N`.
async fn list<E: Scoped, N: OutputType>(
    ctx: &Context<'_>,
    filter: Condition,
    args: PageArgs,
    order: Ordering,
    wrap: impl Fn(E::Model) -> N,
) -> ApiResult<Conn<N>> {
    let req = args.request(ctx.limits())?;
    let page = ctx.svc()?.list::<E>(filter, req, &order).await?;
    Ok(connection(page, wrap))
}

/// The geography-list condition: within an area, and a name search.
fn area_condition<C: ColumnTrait>(
    filter: Option<AreaFilterInput>,
    within: fn(&Area) -> Condition,
    name: C,
    name_hi: C,
) -> ApiResult<Condition> {
    let f = filter.unwrap_or_default().into_filter()?;
    let mut c = Condition::all();
    if let Some(a) = f.within {
        c = c.add(within(&a));
    }
    if let Some(text) = &f.search {
        c = c.add(name_search(name, Some(name_hi), text));
    }
    Ok(c)
}

async fn by_code<E: Scoped, N>(
    ctx: &Context<'_>,
    cond: Condition,
    wrap: fn(E::Model) -> N,
) -> ApiResult<Option<N>> {
    Ok(ctx.svc()?.find_one::<E>(cond).await?.map(wrap))
}

fn eq<C: ColumnTrait>(column: C, value: impl Into<sea_orm::Value>) -> Condition {
    Condition::all().add(column.eq(value))
}

// The list resolvers take filter, ordering and four Relay arguments.
#[allow(clippy::too_many_arguments)]
#[Object(name = "DomainQuery")]
impl Query {
    /// Any object by its global id; null when it does not exist or is outside the caller's reach.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Option<Node>> {
        let (kind, n) = ids::decode("id", &id)?;
        node(ctx, kind, n).await
    }

    /// Several objects by global id (at most 100), in the order given.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> ApiResult<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ApiError::bad_input("ids", "`ids` may hold at most 100 ids"));
        }
        let decoded = ids
            .iter()
            .map(|id| ids::decode("ids", id))
            .collect::<ApiResult<Vec<_>>>()?;
        let lookups = decoded.into_iter().map(|(kind, n)| node(ctx, kind, n));
        futures_util::future::try_join_all(lookups).await
    }

    /// The caller: identity, role, organisation, jurisdiction, token expiry, and what its
    /// scopes allow.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Viewer> {
        Ok(Viewer(ctx.svc()?.principal().clone()))
    }

    /// A state by its LGD code.
    async fn state(&self, ctx: &Context<'_>, lgd_code: i32) -> ApiResult<Option<State>> {
        by_code::<state::Entity, _>(ctx, eq(state::Column::LgdCode, lgd_code), State).await
    }
    /// A division by its Sangam code (divisions have no LGD code).
    async fn division(&self, ctx: &Context<'_>, code: String) -> ApiResult<Option<Division>> {
        by_code::<division::Entity, _>(ctx, eq(division::Column::Code, code), Division).await
    }
    /// A district by its LGD code.
    async fn district(&self, ctx: &Context<'_>, lgd_code: i32) -> ApiResult<Option<District>> {
        by_code::<district::Entity, _>(ctx, eq(district::Column::LgdCode, lgd_code), District).await
    }
    /// A block by its LGD code.
    async fn block(&self, ctx: &Context<'_>, lgd_code: i32) -> ApiResult<Option<Block>> {
        by_code::<block::Entity, _>(ctx, eq(block::Column::LgdCode, lgd_code), Block).await
    }
    /// A gram panchayat by its LGD local-body code.
    async fn gram_panchayat(
        &self,
        ctx: &Context<'_>,
        lgd_code: i32,
    ) -> ApiResult<Option<GramPanchayat>> {
        by_code::<gram_panchayat::Entity, _>(
            ctx,
            eq(gram_panchayat::Column::LgdCode, lgd_code),
            GramPanchayat,
        )
        .await
    }
    /// A village by its LGD code.
    async fn village(&self, ctx: &Context<'_>, lgd_code: i32) -> ApiResult<Option<Village>> {
        lookahead::village(ctx, eq(village::Column::LgdCode, lgd_code)).await
    }
    /// A scheme by its code.
    async fn scheme(&self, ctx: &Context<'_>, code: String) -> ApiResult<Option<Scheme>> {
        by_code::<scheme::Entity, _>(ctx, eq(scheme::Column::Code, code), Scheme).await
    }
    /// An organisation by its code.
    async fn organisation(
        &self,
        ctx: &Context<'_>,
        code: String,
    ) -> ApiResult<Option<Organisation>> {
        by_code::<organisation::Entity, _>(ctx, eq(organisation::Column::Code, code), Organisation)
            .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn states(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<State>> {
        let c = area_condition(
            filter,
            Area::states,
            state::Column::Name,
            state::Column::NameHi,
        )?;
        list::<state::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            State,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn divisions(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Division>> {
        let c = area_condition(
            filter,
            Area::divisions,
            division::Column::Name,
            division::Column::NameHi,
        )?;
        list::<division::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            Division,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn districts(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<District>> {
        let c = area_condition(
            filter,
            Area::districts,
            district::Column::Name,
            district::Column::NameHi,
        )?;
        list::<district::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            District,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn blocks(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Block>> {
        let c = area_condition(
            filter,
            Area::blocks,
            block::Column::Name,
            block::Column::NameHi,
        )?;
        list::<block::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            Block,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn gram_panchayats(
        &self,
        ctx: &Context<'_>,
        filter: Option<AreaFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<GramPanchayat>> {
        let c = area_condition(
            filter,
            Area::gram_panchayats,
            gram_panchayat::Column::Name,
            gram_panchayat::Column::NameHi,
        )?;
        list::<gram_panchayat::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            GramPanchayat,
        )
        .await
    }

    /// Villages, in id order (grouped geographically) unless `orderBy` says otherwise.
    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn villages(
        &self,
        ctx: &Context<'_>,
        filter: Option<VillageFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            VillageOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Village>> {
        let c = filter
            .unwrap_or_default()
            .into_filter()?
            .condition(ctx.svc()?)?;
        lookahead::villages(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            VillageOrderInput::ordering(order_by),
        )
        .await
    }

    /// Schemes, in id order unless `orderBy` says otherwise.
    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn schemes(
        &self,
        ctx: &Context<'_>,
        filter: Option<SchemeFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            crate::graphql::inputs::SchemeOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Scheme>> {
        let today = ctx.svc()?.today();
        let c = filter.unwrap_or_default().into_filter()?.condition(today)?;
        list::<scheme::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            crate::graphql::inputs::SchemeOrderInput::ordering(order_by),
            Scheme,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrganisationFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            OrganisationOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Organisation>> {
        let c = filter.unwrap_or_default().into_filter()?.condition();
        list::<organisation::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            OrganisationOrderInput::ordering(order_by),
            Organisation,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn assignments(
        &self,
        ctx: &Context<'_>,
        filter: Option<AssignmentFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            AssignmentOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Assignment>> {
        let today = ctx.svc()?.today();
        let c = filter.unwrap_or_default().into_filter()?.condition(today);
        list::<assignment::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            AssignmentOrderInput::ordering(order_by),
            Assignment,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        filter: Option<TaskFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            TaskOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<Task>> {
        let today = ctx.svc()?.today();
        let c = filter.unwrap_or_default().into_filter()?.condition(today);
        list::<task::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            TaskOrderInput::ordering(order_by),
            Task,
        )
        .await
    }

    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn water_quality_tests(
        &self,
        ctx: &Context<'_>,
        filter: Option<WaterQualityFilterInput>,
        #[graphql(desc = "Order of the rows (id order when omitted).")] order_by: Option<
            WaterQualityTestOrderInput,
        >,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<WaterQualityTest>> {
        let c = filter.unwrap_or_default().into_filter()?.condition();
        list::<water_quality_test::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            WaterQualityTestOrderInput::ordering(order_by),
            WaterQualityTest::from,
        )
        .await
    }

    /// The audit trail (needs `audit:read`): administrators and coordinators see their
    /// jurisdiction's, others their own actions. Oldest first.
    #[graphql(complexity = "limits::page(first, last, child_complexity)")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditFilterInput>,
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
    ) -> ApiResult<Conn<AuditRecord>> {
        let c = filter.unwrap_or_default().condition()?;
        list::<audit_log::Entity, _>(
            ctx,
            c,
            PageArgs::new(after, before, first, last),
            Ordering::by_id(),
            AuditRecord,
        )
        .await
    }

    /// Progress of every area at `level` within `within` (everywhere the caller reaches when
    /// omitted), each compared with the parent. Null when `within` is unknown or out of reach.
    async fn progress(
        &self,
        ctx: &Context<'_>,
        level: AreaLevel,
        within: Option<ID>,
        #[graphql(desc = "Order of the rows (area id order when omitted).")] order_by: Option<
            ProgressOrder,
        >,
        #[graphql(desc = "Keep only the first this many rows, after ordering.")] first: Option<i32>,
    ) -> ApiResult<Option<ProgressReport>> {
        let within = within.map(|id| area("within", &id)).transpose()?;
        let first = match first {
            Some(n) if n < 0 => {
                return Err(ApiError::bad_input("first", "`first` must not be negative"));
            }
            other => other.map(|n| n as usize),
        };
        let mut parts = super::types::progress::parts_selected(ctx);
        parts.tasks |= ProgressOrder::needs_tasks(order_by);
        let Some(mut report) = ctx.svc()?.progress(level, within, parts).await? else {
            return Ok(None);
        };
        ProgressOrder::apply(order_by, &mut report.rows, first);
        Ok(Some(ProgressReport(std::sync::Arc::new(report))))
    }
}

/// Resolves a decoded global id through the loaders (and so through row scope).
async fn node(ctx: &Context<'_>, kind: Kind, id: i64) -> ApiResult<Option<Node>> {
    Ok(match kind {
        Kind::State => loaders::one::<state::Entity>(ctx, id)
            .await?
            .map(|m| Node::State(State(m))),
        Kind::Division => loaders::one::<division::Entity>(ctx, id)
            .await?
            .map(|m| Node::Division(Division(m))),
        Kind::District => loaders::one::<district::Entity>(ctx, id)
            .await?
            .map(|m| Node::District(District(m))),
        Kind::Block => loaders::one::<block::Entity>(ctx, id)
            .await?
            .map(|m| Node::Block(Block(m))),
        Kind::GramPanchayat => loaders::one::<gram_panchayat::Entity>(ctx, id)
            .await?
            .map(|m| Node::GramPanchayat(GramPanchayat(m))),
        Kind::Village => loaders::one::<village::Entity>(ctx, id)
            .await?
            .map(|m| Node::Village(Village::from(m))),
        Kind::Scheme => loaders::one::<scheme::Entity>(ctx, id)
            .await?
            .map(|m| Node::Scheme(Scheme(m))),
        Kind::Organisation => loaders::one::<organisation::Entity>(ctx, id)
            .await?
            .map(|m| Node::Organisation(Organisation(m))),
        Kind::Assignment => loaders::one::<assignment::Entity>(ctx, id)
            .await?
            .map(|m| Node::Assignment(Assignment(m))),
        Kind::Task => loaders::one::<task::Entity>(ctx, id)
            .await?
            .map(|m| Node::Task(Task(m))),
        Kind::TaskEvent => loaders::one::<task_event::Entity>(ctx, id)
            .await?
            .map(|m| Node::TaskEvent(TaskEvent(m))),
        Kind::WaterQualityTest => loaders::one::<water_quality_test::Entity>(ctx, id)
            .await?
            .map(|m| Node::WaterQualityTest(WaterQualityTest::from(m))),
        // Webhooks are read through `webhooks` and `webhookDeliveries`, not as nodes.
        Kind::Webhook | Kind::WebhookDelivery => None,
        Kind::SchemeComponent | Kind::SchemeInspection => None,
    })
}
