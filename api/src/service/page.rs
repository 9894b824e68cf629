//! Keyset pagination in id order: stable under inserts, and as fast on page 1,000 as on page 1.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::Scoped;
use crate::error::ApiResult;

/// Validated Relay arguments, with cursors already decoded to ids.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageRequest {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub first: Option<u64>,
    pub last: Option<u64>,
}

/// Counts the whole filtered list, only when a client asks for `totalCount`.
#[derive(Clone)]
pub struct TotalCount(Arc<dyn Fn() -> BoxFuture<'static, ApiResult<u64>> + Send + Sync>);

impl TotalCount {
    pub async fn get(&self) -> ApiResult<u64> {
        (self.0)().await
    }
}

pub struct Page<M> {
    pub rows: Vec<M>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: TotalCount,
}

/// Default page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

pub async fn fetch<E: Scoped>(
    db: &DatabaseConnection,
    query: Select<E>,
    req: PageRequest,
) -> ApiResult<Page<E::Model>> {
    let id = E::id_column();
    let total = {
        let (db, query) = (db.clone(), query.clone());
        TotalCount(Arc::new(move || {
            let (db, query) = (db.clone(), query.clone());
            Box::pin(async move { Ok(query.count(&db).await?) })
        }))
    };
    let mut q = query;
    if let Some(after) = req.after {
        q = q.filter(id.gt(after));
    }
    if let Some(before) = req.before {
        q = q.filter(id.lt(before));
    }
    // `last` without `first` pages backwards from `before` (or from the end).
    if let (Some(last), None) = (req.last, req.first) {
        let mut rows = q.order_by_desc(id).limit(last + 1).all(db).await?;
        let has_previous = rows.len() as u64 > last;
        rows.truncate(last as usize);
        rows.reverse();
        return Ok(Page {
            rows,
            has_previous,
            has_next: req.before.is_some(),
            total,
        });
    }
    let first = req.first.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut rows = q.order_by_asc(id).limit(first + 1).all(db).await?;
    let mut has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    // Relay: with both `first` and `last`, keep the last `last` of the first `first`.
    let mut has_previous = req.after.is_some();
    if let Some(last) = req.last
        && (rows.len() as u64) > last
    {
        rows.drain(..rows.len() - last as usize);
        has_previous = true;
    }
    // Rows at or after `before` exist by construction of the cursor.
    has_next = has_next || req.before.is_some();
    Ok(Page {
        rows,
        has_previous,
        has_next,
        total,
    })
}
