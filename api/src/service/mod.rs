//! The service layer: every read and write goes through a [`Service`] built per request for one
//! principal. It owns row scope (`scope`), so resolvers, loaders and aggregates cannot forget it.

pub mod area;
pub mod assignments;
pub mod bis;
pub mod bulk;
pub mod filters;
pub mod order;
pub mod page;
pub mod preload;
pub mod progress;
pub mod quality;
pub mod read_at;
pub mod rollup;
pub mod schemes;
pub mod scope;
pub mod search_key;
pub mod tasks;
pub mod text;
pub mod totals;
pub mod villages;
pub mod webhooks;
pub mod workflow;
pub mod write;

use std::{collections::HashMap, sync::Arc};

use chrono::{NaiveDate, TimeDelta, Utc};
use entities::{scheme, scheme_village};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, JoinType, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect, Value,
};

use crate::{error::ApiResult, events::EventBus, principal::Principal};
pub use scope::Scoped;

/// Indian Standard Time: "today" and "overdue" follow the calendar of the people using Sangam.
pub(crate) const IST_OFFSET_SECS: i64 = 5 * 3600 + 30 * 60;

/// Today's date in India.
pub fn today_ist() -> NaiveDate {
    (Utc::now() + TimeDelta::seconds(IST_OFFSET_SECS)).date_naive()
}

#[derive(Clone)]
pub struct Service {
    db: DatabaseConnection,
    who: Arc<Principal>,
    today: NaiveDate,
    bus: Option<EventBus>,
    request_id: Option<Arc<str>>,
    /// Where commits record their WAL position for the response (with read replicas only).
    written: Option<Arc<crate::replica::Written>>,
}

impl Service {
    pub fn new(db: DatabaseConnection, who: Principal) -> Self {
        Self::on(db, who, today_ist())
    }

    /// A service whose "today" is fixed, so tests can pin dates.
    pub fn on(db: DatabaseConnection, who: Principal, today: NaiveDate) -> Self {
        Self {
            db,
            who: Arc::new(who),
            today,
            bus: None,
            request_id: None,
            written: None,
        }
    }

    /// The same caller reading from `db` (a replica the router chose for a query).
    pub fn reading_from(mut self, db: DatabaseConnection) -> Self {
        self.db = db;
        self
    }

    /// Records each commit's WAL position in `written`, for the consistency token.
    pub fn with_written(mut self, written: Arc<crate::replica::Written>) -> Self {
        self.written = Some(written);
        self
    }

    pub(crate) fn written(&self) -> Option<&crate::replica::Written> {
        self.written.as_deref()
    }

    /// Announces committed writes on `bus`.
    pub fn with_bus(mut self, bus: EventBus) -> Self {
        self.bus = Some(bus);
        self
    }

    /// Tags audit records with the HTTP request id.
    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.request_id = id.map(Arc::from);
        self
    }

    pub fn bus(&self) -> Option<&EventBus> {
        self.bus.as_ref()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    pub fn principal(&self) -> &Principal {
        &self.who
    }

    pub fn today(&self) -> NaiveDate {
        self.today
    }

    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The rows of `E` this principal may see; FORBIDDEN when its role or token may not read
    /// `E` at all.
    pub fn scoped<E: Scoped>(&self) -> ApiResult<sea_orm::Select<E>> {
        scope::may_read::<E>(&self.who)?;
        Ok(E::find().filter(E::reach(&self.reach())))
    }

    /// FORBIDDEN unless the token holds `scope`.
    pub fn require(&self, scope: crate::principal::Scope) -> ApiResult<()> {
        if self.who.has_scope(scope) {
            Ok(())
        } else {
            Err(crate::error::ApiError::Forbidden {
                needs: scope.as_str().to_owned(),
            })
        }
    }

    /// The condition keeping `E`'s rows within reach, for a filter on another table that looks
    /// into `E`; FORBIDDEN when the principal may not read `E` at all.
    pub fn reach_of<E: Scoped>(&self) -> ApiResult<Condition> {
        scope::may_read::<E>(&self.who)?;
        Ok(E::reach(&self.reach()))
    }

    /// What keeps `E`'s rows within reach when they are read with a village this principal
    /// has just been found to reach ([`scope::BeneathVillage`]); FORBIDDEN when the principal
    /// may not read `E` at all.
    pub fn reach_beneath_village<E: scope::BeneathVillage>(&self) -> ApiResult<Condition> {
        scope::may_read::<E>(&self.who)?;
        Ok(E::reach_beneath(&self.reach()))
    }

    pub(crate) fn reach(&self) -> scope::Reach<'_> {
        scope::Reach::new(&self.who, self.today, self.db.get_database_backend())
    }

    /// Rows of `E` by id, limited to the principal's reach: rows outside it are simply absent.
    pub async fn by_ids<E: Scoped>(&self, ids: &[i64]) -> ApiResult<HashMap<i64, E::Model>> {
        let rows = self
            .scoped::<E>()?
            .filter(E::id_column().is_in(ids.iter().copied()))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| (E::row_id(&m), m)).collect())
    }

    pub async fn by_id<E: Scoped>(&self, id: i64) -> ApiResult<Option<E::Model>> {
        Ok(self.by_ids::<E>(&[id]).await?.remove(&id))
    }

    /// Rows of `E` whose `column` is one of `parents`, grouped by that column, in id order.
    /// One statement for any number of parents: this is what the DataLoaders batch into.
    pub async fn children<E: Scoped>(
        &self,
        column: E::Column,
        parents: &[i64],
    ) -> ApiResult<HashMap<i64, Vec<E::Model>>> {
        let rows = self
            .scoped::<E>()?
            .filter(column.is_in(parents.iter().copied()))
            .order_by_asc(E::id_column())
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<i64, Vec<E::Model>> = HashMap::new();
        for row in rows {
            if let Some(parent) = as_i64(&row.get(column)) {
                grouped.entry(parent).or_default().push(row);
            }
        }
        Ok(grouped)
    }

    /// The schemes serving each of `villages`, in scheme id order: one statement over the links
    /// ([`Service::scheme_links`]).
    pub async fn schemes_of_villages(
        &self,
        villages: &[i64],
    ) -> ApiResult<HashMap<i64, Vec<scheme::Model>>> {
        let rows = self
            .scheme_links(villages)?
            .order_by_asc(scheme::Column::Id)
            .select_also(scheme::Entity)
            .all(&self.db)
            .await?;
        let mut grouped: HashMap<i64, Vec<scheme::Model>> = HashMap::new();
        for (link, scheme) in rows {
            if let Some(scheme) = scheme {
                grouped.entry(link.village_id).or_default().push(scheme);
            }
        }
        Ok(grouped)
    }

    /// The links of `villages` to their schemes (within the links' row scope) with each scheme
    /// left-joined when it is within its own; a link whose scheme is out of reach has no
    /// scheme. The scheme's scope sits in the join's condition, so the plan starts from the
    /// given villages (SQLite otherwise starts from every scheme the principal may see).
    pub(crate) fn scheme_links(
        &self,
        villages: &[i64],
    ) -> ApiResult<sea_orm::Select<scheme_village::Entity>> {
        scope::may_read::<scheme::Entity>(&self.who)?;
        let scheme_reach = <scheme::Entity as Scoped>::reach(&self.reach());
        let link = scheme_village::Entity::belongs_to(scheme::Entity)
            .from(scheme_village::Column::SchemeId)
            .to(scheme::Column::Id)
            .on_condition(move |_, _| scheme_reach.clone())
            .into();
        Ok(self
            .scoped::<scheme_village::Entity>()?
            .join(JoinType::LeftJoin, link)
            .filter(scheme_village::Column::VillageId.is_in(villages.iter().copied())))
    }

    /// One page of the reachable rows of `E` matching `filter`, in `order`.
    pub async fn list<E: Scoped>(
        &self,
        filter: Condition,
        page: page::PageRequest,
        order: &page::Ordering,
    ) -> ApiResult<page::Page<E::Model>> {
        page::fetch(&self.db, self.scoped::<E>()?.filter(filter), page, order).await
    }

    /// The one reachable row of `E` matching `filter` (a natural key such as an LGD code).
    pub async fn find_one<E: Scoped>(&self, filter: Condition) -> ApiResult<Option<E::Model>> {
        Ok(self.scoped::<E>()?.filter(filter).one(&self.db).await?)
    }

    /// Checks that the database answers and takes writes (for `/readyz`). On PostgreSQL the
    /// server must be a primary: behind a proxy in a failover, or after a switchover, it may be
    /// a replica for a moment, and then every write would fail.
    pub async fn ping(db: &DatabaseConnection) -> ApiResult<()> {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        if db.get_database_backend() != DbBackend::Postgres {
            db.ping().await?;
            return Ok(());
        }
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_is_in_recovery() AS recovering",
            ))
            .await?;
        let recovering = match row {
            Some(row) => row.try_get::<bool>("", "recovering")?,
            None => true,
        };
        if recovering {
            return Err(crate::error::ApiError::Unavailable(Arc::new(
                anyhow::anyhow!("the database is in recovery (not a primary)"),
            )));
        }
        Ok(())
    }
}

pub(crate) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::BigInt(Some(x)) => Some(*x),
        Value::Int(Some(x)) => Some(i64::from(*x)),
        _ => None,
    }
}
