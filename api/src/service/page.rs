//! Keyset pagination: stable under inserts, and as fast on page 1,000 as on page 1.
//!
//! A list is read in the order of a sort key with the row id breaking ties, and a cursor carries
//! both (and the ordering's name, so a cursor from one ordering is refused by another). The
//! next page is `(key, id) > (cursor key, cursor id)`: a row-value comparison that both
//! databases answer with one seek into the `(key, id)` index, however deep the page. No
//! statement ever has an OFFSET.

use std::{marker::PhantomData, sync::Arc};

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, FromQueryResult, Order, PaginatorTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, Select,
    sea_query::{Expr, ExprTrait},
};

use super::Scoped;
use crate::error::{ApiError, ApiResult};

/// The value of a sort key for one row, as a cursor carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    Int(i64),
    Float(f64),
    Text(String),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

impl KeyValue {
    fn to_value(&self) -> sea_orm::Value {
        match self {
            Self::Int(n) => (*n).into(),
            Self::Float(x) => (*x).into(),
            Self::Text(s) => s.clone().into(),
            Self::Date(d) => (*d).into(),
            Self::Time(t) => (*t).into(),
        }
    }

    /// A tag and the value, lossless (`f64`'s `Display` round-trips).
    fn encode(&self) -> String {
        match self {
            Self::Int(n) => format!("i{n}"),
            Self::Float(x) => format!("f{x}"),
            Self::Text(s) => format!("s{s}"),
            Self::Date(d) => format!("d{d}"),
            Self::Time(t) => format!("t{}", t.to_rfc3339()),
        }
    }

    fn decode(s: &str) -> Option<Self> {
        let mut chars = s.chars();
        let tag = chars.next()?;
        let rest = chars.as_str();
        Some(match tag {
            'i' => Self::Int(rest.parse().ok()?),
            'f' => Self::Float(rest.parse().ok().filter(|x: &f64| x.is_finite())?),
            's' => Self::Text(rest.to_owned()),
            'd' => Self::Date(rest.parse().ok()?),
            't' => Self::Time(DateTime::parse_from_rfc3339(rest).ok()?.to_utc()),
            _ => return None,
        })
    }

    fn kind(&self) -> KeyKind {
        match self {
            Self::Int(_) => KeyKind::Int,
            Self::Float(_) => KeyKind::Float,
            Self::Text(_) => KeyKind::Text,
            Self::Date(_) => KeyKind::Date,
            Self::Time(_) => KeyKind::Time,
        }
    }
}

/// The kind of value a sort key holds; a cursor holding another kind is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Int,
    Float,
    Text,
    Date,
    Time,
}

/// A sort key: the expression the database orders by. Its value for each row is read in the
/// same statement as the row, so a cursor holds exactly what the database compares.
pub struct SortKey {
    pub expr: Expr,
    pub kind: KeyKind,
}

/// The alias under which a page's statement returns each row's sort key.
const KEY_ALIAS: &str = "page_sort_key";

/// Reads a sort key of one kind from a result row.
trait ReadKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr>;
}

struct IntKey;
struct FloatKey;
struct TextKey;
struct DateKey;
struct TimeKey;

impl ReadKey for IntKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr> {
        // PostgreSQL returns INTEGER columns as 4-byte integers.
        res.try_get::<i64>(pre, KEY_ALIAS)
            .or_else(|_| res.try_get::<i32>(pre, KEY_ALIAS).map(i64::from))
            .map(KeyValue::Int)
    }
}

impl ReadKey for FloatKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr> {
        // SQLite hands back a whole-number REAL (a coverage of 100) as an INTEGER.
        res.try_get::<f64>(pre, KEY_ALIAS)
            .or_else(|_| res.try_get::<i64>(pre, KEY_ALIAS).map(|n| n as f64))
            .map(KeyValue::Float)
    }
}

impl ReadKey for TextKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr> {
        res.try_get(pre, KEY_ALIAS).map(KeyValue::Text)
    }
}

impl ReadKey for DateKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr> {
        res.try_get(pre, KEY_ALIAS).map(KeyValue::Date)
    }
}

impl ReadKey for TimeKey {
    fn read(res: &QueryResult, pre: &str) -> Result<KeyValue, DbErr> {
        res.try_get(pre, KEY_ALIAS).map(KeyValue::Time)
    }
}

/// A row with its sort-key value.
struct Keyed<M, K> {
    row: M,
    key: KeyValue,
    kind: PhantomData<K>,
}

impl<M: FromQueryResult, K: ReadKey> FromQueryResult for Keyed<M, K> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(Self {
            row: M::from_query_result(res, pre)?,
            key: K::read(res, pre)?,
            kind: PhantomData,
        })
    }
}

async fn keyed<E: Scoped, K: ReadKey + Send + Sync>(
    db: &DatabaseConnection,
    q: Select<E>,
) -> ApiResult<Vec<(E::Model, Option<KeyValue>)>>
where
    E::Model: FromQueryResult,
{
    Ok(q.into_model::<Keyed<E::Model, K>>()
        .all(db)
        .await?
        .into_iter()
        .map(|k| (k.row, Some(k.key)))
        .collect())
}

/// A position in a list: a row's id and, under an ordering by a key, the ordering's name and the
/// row's key value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub id: i64,
    pub key: Option<(String, KeyValue)>,
}

impl Cursor {
    /// The text inside the opaque cursor: `{id}` in id order, `{ordering}:{id}:{value}` otherwise.
    pub fn to_text(&self) -> String {
        match &self.key {
            None => self.id.to_string(),
            Some((name, v)) => format!("{name}:{}:{}", self.id, v.encode()),
        }
    }

    pub fn from_text(text: &str) -> Option<Self> {
        if let Ok(id) = text.parse() {
            return Some(Self { id, key: None });
        }
        let mut parts = text.splitn(3, ':');
        let name = parts.next()?;
        let id = parts.next()?.parse().ok()?;
        let value = KeyValue::decode(parts.next()?)?;
        Some(Self {
            id,
            key: Some((name.to_owned(), value)),
        })
    }
}

/// How a list is ordered: by a key (ties broken by id, in the same direction), or by id alone.
pub struct Ordering {
    /// Carried in cursors, e.g. `COVERAGE_DESC`.
    pub name: String,
    /// `None` orders by id alone.
    pub key: Option<SortKey>,
    pub descending: bool,
}

impl Ordering {
    /// Id order, oldest first: the default of every list.
    pub fn by_id() -> Self {
        Self {
            name: "ID_ASC".into(),
            key: None,
            descending: false,
        }
    }

    /// A key ordering named `{name}_{ASC|DESC}`.
    pub fn by(name: &str, expr: Expr, kind: KeyKind, descending: bool) -> Self {
        let dir = if descending { "DESC" } else { "ASC" };
        Self {
            name: format!("{name}_{dir}"),
            key: Some(SortKey { expr, kind }),
            descending,
        }
    }

    /// The cursor's key, checked to belong to this ordering.
    fn key_of(&self, argument: &str, c: &Cursor) -> ApiResult<Option<KeyValue>> {
        let wrong = || {
            ApiError::bad_input(
                argument,
                format!(
                    "`{argument}` is a cursor of another ordering than {}",
                    self.name
                ),
            )
        };
        match (&self.key, &c.key) {
            (None, None) => Ok(None),
            (Some(k), Some((name, v))) if *name == self.name => {
                if v.kind() != k.kind {
                    return Err(ApiError::bad_input(
                        argument,
                        format!("`{argument}` is not a valid cursor"),
                    ));
                }
                Ok(Some(v.clone()))
            }
            _ => Err(wrong()),
        }
    }
}

/// Validated Relay arguments, with cursors already decoded.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
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
    /// One per row, in the same order.
    pub cursors: Vec<Cursor>,
    pub has_previous: bool,
    pub has_next: bool,
    pub total: TotalCount,
}

/// Default page size when a client gives neither `first` nor `last`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// `(key, id)` strictly beyond `c` in direction `forward` of `order` (before it otherwise).
fn beyond<E: Scoped>(
    order: &Ordering,
    argument: &str,
    c: &Cursor,
    forward: bool,
) -> ApiResult<sea_orm::Condition> {
    let id = Expr::col(E::id_column().as_column_ref());
    let up = forward != order.descending;
    let key = order.key_of(argument, c)?;
    let (left, right) = match (&order.key, key) {
        (Some(k), Some(v)) => (
            Expr::tuple([k.expr.clone(), id]),
            Expr::tuple([Expr::val(v.to_value()), Expr::val(c.id)]),
        ),
        _ => (id, Expr::val(c.id)),
    };
    let cond = if up { left.gt(right) } else { left.lt(right) };
    Ok(sea_orm::Condition::all().add(cond))
}

/// The query for one page, without running it: `LIMIT` one past the page to learn whether
/// another follows. Public so tests can inspect the statement and its plan.
pub fn page_query<E: Scoped>(
    query: Select<E>,
    req: &PageRequest,
    order: &Ordering,
) -> ApiResult<(Select<E>, bool, u64)> {
    let mut q = query;
    if let Some(after) = &req.after {
        q = q.filter(beyond::<E>(order, "after", after, true)?);
    }
    if let Some(before) = &req.before {
        q = q.filter(beyond::<E>(order, "before", before, false)?);
    }
    // `last` without `first` pages backwards from `before` (or from the end).
    let backwards = matches!((req.last, req.first), (Some(_), None));
    let size = if backwards {
        req.last.unwrap_or(DEFAULT_PAGE_SIZE)
    } else {
        req.first.unwrap_or(DEFAULT_PAGE_SIZE)
    };
    let dir = if backwards == order.descending {
        Order::Asc
    } else {
        Order::Desc
    };
    if let Some(k) = &order.key {
        q = q.order_by(k.expr.clone(), dir.clone());
    }
    q = q.order_by(E::id_column(), dir).limit(size + 1);
    if let Some(k) = &order.key {
        q = q.column_as(k.expr.clone(), KEY_ALIAS);
    }
    Ok((q, backwards, size))
}

pub async fn fetch<E: Scoped>(
    db: &DatabaseConnection,
    query: Select<E>,
    req: PageRequest,
    order: &Ordering,
) -> ApiResult<Page<E::Model>> {
    let total = {
        let (db, query) = (db.clone(), query.clone());
        TotalCount(Arc::new(move || {
            let (db, query) = (db.clone(), query.clone());
            Box::pin(async move { Ok(query.count(&db).await?) })
        }))
    };
    let (q, backwards, size) = page_query::<E>(query, &req, order)?;
    let mut rows = match order.key.as_ref().map(|k| k.kind) {
        None => q.all(db).await?.into_iter().map(|m| (m, None)).collect(),
        Some(KeyKind::Int) => keyed::<E, IntKey>(db, q).await?,
        Some(KeyKind::Float) => keyed::<E, FloatKey>(db, q).await?,
        Some(KeyKind::Text) => keyed::<E, TextKey>(db, q).await?,
        Some(KeyKind::Date) => keyed::<E, DateKey>(db, q).await?,
        Some(KeyKind::Time) => keyed::<E, TimeKey>(db, q).await?,
    };
    let more = rows.len() as u64 > size;
    rows.truncate(size as usize);
    let (has_previous, has_next) = if backwards {
        rows.reverse();
        (more, req.before.is_some())
    } else {
        let mut has_previous = req.after.is_some();
        // Relay: with both `first` and `last`, keep the last `last` of the first `first`.
        if let Some(last) = req.last
            && (rows.len() as u64) > last
        {
            rows.drain(..rows.len() - last as usize);
            has_previous = true;
        }
        // Rows at or after `before` exist by construction of the cursor.
        (has_previous, more || req.before.is_some())
    };
    let (rows, cursors) = rows
        .into_iter()
        .map(|(m, key)| {
            let cursor = Cursor {
                id: E::row_id(&m),
                key: key.map(|k| (order.name.clone(), k)),
            };
            (m, cursor)
        })
        .unzip();
    Ok(Page {
        rows,
        cursors,
        has_previous,
        has_next,
        total,
    })
}
