//! DataLoaders, built per request from that request's [`Service`], so a cache can never hand
//! one principal's rows to another, and every batch passes through row scope.
//!
//! A request gets one [`Loaders`] and each loader is made the first time the request uses it:
//! making all forty kinds up front (an allocation or three each, and a map insertion) cost
//! every request, a dashboard's aggregate that uses none of them included.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    hash::Hash,
    marker::PhantomData,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

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

/// A request's (or a WebSocket connection's) loaders, for one principal, made on first use.
pub struct Loaders {
    svc: Service,
    batches: Batches,
    made: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl Loaders {
    /// The loader of type `DataLoader<T>`, made from the service by `make` on first use. Its
    /// batches go to the request's [`Batches`], which decide when they run (the loader's own
    /// timer is off).
    fn get<T: Send + Sync + 'static>(&self, make: impl FnOnce(Service) -> T) -> Arc<DataLoader<T>> {
        let key = TypeId::of::<DataLoader<T>>();
        // Only loaders behind the lock; a panic elsewhere cannot leave the map half-changed.
        let mut made = self.made.lock().unwrap_or_else(PoisonError::into_inner);
        let any = made
            .entry(key)
            .or_insert_with(|| {
                let batches = self.batches.clone();
                let loader =
                    DataLoader::new(make(self.svc.clone()), move |batch| batches.start(batch))
                        .delay(Duration::ZERO);
                Arc::new(loader)
            })
            .clone();
        drop(made);
        // The entry under `TypeId::of::<DataLoader<T>>()` is always a `DataLoader<T>`.
        any.downcast::<DataLoader<T>>()
            .unwrap_or_else(|_| unreachable!("a loader stored under another type's id"))
    }
}

/// Adds the service and an empty set of loaders to a request's (or a WebSocket connection's)
/// data: everything they load is for that one principal.
pub fn attach(data: &mut Data, svc: Service, batches: &Batches) {
    data.insert(Loaders {
        svc: svc.clone(),
        batches: batches.clone(),
        made: Mutex::new(HashMap::new()),
    });
    data.insert(svc);
}

/// Loaders come with the request's service; a request without one has no principal.
fn loaders<'c>(ctx: &'c Context<'_>) -> ApiResult<&'c Loaders> {
    match ctx.data_opt::<Loaders>() {
        Some(l) => Ok(l),
        None => match ctx.svc() {
            Ok(_) => Err(ApiError::internal(anyhow::anyhow!(
                "no loaders attached to the request"
            ))),
            Err(e) => Err(e),
        },
    }
}

/// One row of `E` by id, batched with every other lookup of `E` in the request.
pub async fn one<E: Scoped>(ctx: &Context<'_>, id: i64) -> ApiResult<Option<E::Model>> {
    let loader = loaders(ctx)?.get(|svc| ById::<E>(svc, PhantomData));
    loader.load_one(id).await
}

/// Several rows of `E` by id, in the order given, skipping those out of reach.
pub async fn many<E: Scoped>(
    ctx: &Context<'_>,
    ids: impl IntoIterator<Item = i64>,
) -> ApiResult<Vec<E::Model>> {
    let ids: Vec<i64> = ids.into_iter().collect();
    let loader = loaders(ctx)?.get(|svc| ById::<E>(svc, PhantomData));
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
    let loader = loaders(ctx)?.get(|svc| Children::<E>(svc, PhantomData));
    Ok(loader
        .load_one(Child(column, parent))
        .await?
        .unwrap_or_default())
}

pub async fn schemes_of_village(ctx: &Context<'_>, village: i64) -> ApiResult<Vec<scheme::Model>> {
    let loader = loaders(ctx)?.get(VillageSchemes);
    Ok(loader.load_one(village).await?.unwrap_or_default())
}

pub async fn latest_test(
    ctx: &Context<'_>,
    village: i64,
) -> ApiResult<Option<water_quality_test::Model>> {
    let loader = loaders(ctx)?.get(LatestTest);
    loader.load_one(village).await
}
