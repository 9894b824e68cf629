//! DataLoaders, built per request from that request's [`Service`], so a cache can never hand
//! one principal's rows to another, and every batch passes through row scope.

use std::{collections::HashMap, hash::Hash, marker::PhantomData, time::Duration};

use async_graphql::{
    Context, Data,
    dataloader::{DataLoader, Loader},
};
use entities::*;
use sea_orm::{EntityTrait, IdenStatic};

use super::{batches::Batches, context::CtxExt};
use crate::{
    error::{ApiError, ApiResult},
    service::{Scoped, Service},
};

/// Rows of `E` by id.
pub struct ById<E>(Service, PhantomData<E>);

impl<E: Scoped> Loader<i64> for ById<E> {
    type Value = E::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, E::Model>, ApiError> {
        self.0.by_ids::<E>(keys).await
    }
}

/// "Rows of `E` whose `column` is `parent`": one key per parent and relationship.
pub struct Child<E: EntityTrait>(pub E::Column, pub i64);

impl<E: EntityTrait> Clone for Child<E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<E: EntityTrait> Copy for Child<E> {}
impl<E: EntityTrait> PartialEq for Child<E> {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1 && self.0.as_str() == other.0.as_str()
    }
}
impl<E: EntityTrait> Eq for Child<E> {}
impl<E: EntityTrait> Hash for Child<E> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
        self.1.hash(state);
    }
}

pub struct Children<E>(Service, PhantomData<E>);

impl<E: Scoped> Loader<Child<E>> for Children<E>
where
    E::Column: Send + Sync,
{
    type Value = Vec<E::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[Child<E>]) -> Result<HashMap<Child<E>, Vec<E::Model>>, ApiError> {
        // One statement per relationship in the batch, whatever the number of parents.
        let mut by_column: HashMap<&'static str, (E::Column, Vec<i64>)> = HashMap::new();
        for k in keys {
            by_column
                .entry(k.0.as_str())
                .or_insert_with(|| (k.0, Vec::new()))
                .1
                .push(k.1);
        }
        let mut out = HashMap::new();
        for (column, parents) in by_column.into_values() {
            for (parent, rows) in self.0.children::<E>(column, &parents).await? {
                out.insert(Child(column, parent), rows);
            }
        }
        Ok(out)
    }
}

/// The most recent water-quality test of each village.
pub struct LatestTest(Service);

impl Loader<i64> for LatestTest {
    type Value = water_quality_test::Model;
    type Error = ApiError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, ApiError> {
        let mut latest: HashMap<i64, Self::Value> = HashMap::new();
        let all = self
            .0
            .children::<water_quality_test::Entity>(water_quality_test::Column::VillageId, keys)
            .await?;
        for (village, tests) in all {
            if let Some(t) = tests.into_iter().max_by_key(|t| (t.sampled_on, t.id)) {
                latest.insert(village, t);
            }
        }
        Ok(latest)
    }
}

/// The schemes serving each village (links and schemes in one statement).
pub struct VillageSchemes(Service);

impl Loader<i64> for VillageSchemes {
    type Value = Vec<scheme::Model>;
    type Error = ApiError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, ApiError> {
        self.0.schemes_of_villages(keys).await
    }
}

/// How long a subscription's loaders collect keys before they query (HTTP requests query as
/// soon as they are idle: see [`Batches`]).
pub const SUBSCRIPTION_BATCH_WINDOW: Duration = Duration::from_millis(1);

/// A loader whose batches go to `batches`, which decides when they run (the loader's own
/// timer is off).
fn loader<T>(batches: &Batches, inner: T) -> DataLoader<T> {
    let batches = batches.clone();
    DataLoader::new(inner, move |batch| batches.start(batch)).delay(Duration::ZERO)
}

macro_rules! attach_all {
    ($data:ident, $svc:ident, $batches:ident; by_id: $($e:ident),*; children: $($c:ident),*) => {{
        $($data.insert(loader($batches, ById::<$e::Entity>($svc.clone(), PhantomData)));)*
        $($data.insert(loader($batches, Children::<$c::Entity>($svc.clone(), PhantomData)));)*
    }};
}

/// Adds the service and a fresh set of loaders to a request's (or a WebSocket connection's)
/// data: everything they load is for that one principal.
pub fn attach(data: &mut Data, svc: Service, batches: &Batches) {
    attach_all!(data, svc, batches;
        by_id: state, division, district, block, gram_panchayat, village, scheme, organisation,
            assignment, task, task_event, task_test_link, water_quality_test, scheme_component;
        children: district, division, block, gram_panchayat, village, scheme_village,
            organisation_theme, assignment, task, task_event, task_evidence, water_quality_test,
            water_quality_result, hgj_report, hgj_certification, scheme_component,
            scheme_progress, scheme_inspection, inspection_finding, scheme_handover,
            scheme_inspector);
    data.insert(loader(batches, LatestTest(svc.clone())));
    data.insert(loader(batches, VillageSchemes(svc.clone())));
    data.insert(svc);
}

/// Loaders come with the request's service; a request without one has no principal.
fn missing(ctx: &Context<'_>, what: &str) -> ApiError {
    match ctx.svc() {
        Ok(_) => ApiError::internal(anyhow::anyhow!("no {what} loader attached to the request")),
        Err(e) => e,
    }
}

/// One row of `E` by id, batched with every other lookup of `E` in the request.
pub async fn one<E: Scoped>(ctx: &Context<'_>, id: i64) -> ApiResult<Option<E::Model>> {
    let loader = ctx
        .data_opt::<DataLoader<ById<E>>>()
        .ok_or_else(|| missing(ctx, "by-id"))?;
    loader.load_one(id).await
}

/// Several rows of `E` by id, in the order given, skipping those out of reach.
pub async fn many<E: Scoped>(
    ctx: &Context<'_>,
    ids: impl IntoIterator<Item = i64>,
) -> ApiResult<Vec<E::Model>> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let loader = ctx
        .data_opt::<DataLoader<ById<E>>>()
        .ok_or_else(|| missing(ctx, "by-id"))?;
    let mut found = loader.load_many(ids.iter().copied()).await?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// The rows of `E` whose `column` equals `parent`, in id order.
pub async fn children<E: Scoped>(
    ctx: &Context<'_>,
    column: E::Column,
    parent: i64,
) -> ApiResult<Vec<E::Model>>
where
    E::Column: Send + Sync,
{
    let loader = ctx
        .data_opt::<DataLoader<Children<E>>>()
        .ok_or_else(|| missing(ctx, "children"))?;
    Ok(loader
        .load_one(Child(column, parent))
        .await?
        .unwrap_or_default())
}

pub async fn schemes_of_village(ctx: &Context<'_>, village: i64) -> ApiResult<Vec<scheme::Model>> {
    let loader = ctx
        .data_opt::<DataLoader<VillageSchemes>>()
        .ok_or_else(|| missing(ctx, "village schemes"))?;
    Ok(loader.load_one(village).await?.unwrap_or_default())
}

pub async fn latest_test(
    ctx: &Context<'_>,
    village: i64,
) -> ApiResult<Option<water_quality_test::Model>> {
    let loader = ctx
        .data_opt::<DataLoader<LatestTest>>()
        .ok_or_else(|| missing(ctx, "latest test"))?;
    loader.load_one(village).await
}
