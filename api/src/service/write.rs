//! The one write path every mutation takes ([`Service::write`]): the idempotency key is looked
//! up first, so a retry of a committed write gets its first result back whatever has happened
//! since; then, in one transaction, the mutation's own body (preconditions, the versioned update,
//! history, audit, events), the idempotency record, the event log, and the commit.

use chrono::Utc;
use entities::{audit_log, idempotency_record};
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    Set, SqlErr, TransactionTrait,
};
use serde::{Serialize, de::DeserializeOwned};

use super::{Scoped, Service};
use crate::{
    error::{ApiError, ApiResult},
    events::log::{self, NewEvent},
};

/// Longest idempotency key accepted.
const MAX_KEY: usize = 255;

/// A write in progress.
pub struct Tx<'s> {
    svc: &'s Service,
    txn: Txn<'s>,
    operation: &'static str,
    key: Option<String>,
    changes: Vec<NewEvent>,
    /// Set by [`Tx::discard`]: the body's result is returned, but nothing is written.
    discard: bool,
}

/// The transaction a write runs in: its own, or one an import holds (see [`Service::within`]).
enum Txn<'s> {
    Own(DatabaseTransaction),
    Within(&'s DatabaseTransaction),
}

/// How a write starts: afresh, or as a retry whose first result is returned as it was.
enum Begun<'s, T> {
    Fresh(Tx<'s>),
    Replay(T),
}

impl Service {
    /// Runs the write `operation` through the one write path. With an idempotency `key` this
    /// principal already used for `operation`, the first result comes back and `body` does not
    /// run: no check can fail a retry of a write that succeeded. Otherwise `body` runs in one
    /// transaction; it makes its checks there (against rows read through `tx`), writes, and
    /// records history, audit ([`Tx::audit`]) and events ([`Tx::emit`]); if it fails, nothing
    /// is written.
    ///
    /// ```ignore
    /// svc.write("commentOnTask", key, move |tx| Box::pin(async move {
    ///     let before = tx.visible::<task::Entity>(id, "task").await?;
    ///     …
    ///     Ok(after)
    /// })).await
    /// ```
    pub async fn write<'s, T, F>(
        &'s self,
        operation: &'static str,
        key: Option<&str>,
        body: F,
    ) -> ApiResult<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: for<'t> FnOnce(&'t mut Tx<'s>) -> BoxFuture<'t, ApiResult<T>> + Send,
    {
        let mut tx = match self.begin::<T>(operation, key).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        match body(&mut tx).await {
            Ok(out) if tx.discard => {
                if let Txn::Own(txn) = tx.txn {
                    txn.rollback().await?;
                }
                Ok(out)
            }
            Ok(out) => {
                tx.commit(&out).await?;
                Ok(out)
            }
            Err(e) => {
                if let Txn::Own(txn) = tx.txn {
                    txn.rollback().await.ok();
                }
                Err(e)
            }
        }
    }

    /// Starts the write `operation`. With an idempotency `key` already used by this principal
    /// for the same operation, the first result comes back and nothing is written again.
    async fn begin<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: Option<&str>,
    ) -> ApiResult<Begun<'_, T>> {
        if let Some(k) = key {
            check_key(k)?;
            if let Some(done) = self.replay(self.db(), operation, k).await? {
                // The first attempt committed before its result was stored and read here, so
                // the position now is past its commit: a retry's token is as good as the first.
                self.note_wal_position().await;
                return Ok(Begun::Replay(done));
            }
        }
        // On SQLite the write lock is taken at BEGIN: a deferred transaction that reads first
        // and then writes fails at once ("database is locked", no busy wait) when another
        // connection (the webhook workers, another request) committed since its read. With the
        // lock taken first it waits its turn (the busy timeout) instead. PostgreSQL ignores it.
        let txn = self
            .db()
            .begin_with_options(sea_orm::TransactionOptions {
                sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        if let Some(k) = key {
            let claim = idempotency_record::ActiveModel {
                principal: Set(self.principal().sub.clone()),
                idempotency_key: Set(k.to_owned()),
                operation: Set(operation.to_owned()),
                response: Set(None),
                created_at: Set(Utc::now()),
                ..Default::default()
            };
            // A concurrent first attempt holds the key: wait for it (the insert blocks on
            // PostgreSQL until it commits), then return its result.
            if let Err(e) = claim.insert(&txn).await {
                txn.rollback().await.ok();
                if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                    return match self.replay(self.db(), operation, k).await? {
                        Some(done) => {
                            self.note_wal_position().await;
                            Ok(Begun::Replay(done))
                        }
                        None => Err(ApiError::Conflict {
                            message: "a request with this idempotency key is still in progress"
                                .into(),
                            current_version: None,
                        }),
                    };
                }
                return Err(e.into());
            }
        }
        Ok(Begun::Fresh(Tx {
            svc: self,
            txn: Txn::Own(txn),
            operation,
            key: key.map(str::to_owned),
            changes: Vec::new(),
            discard: false,
        }))
    }

    /// Records the primary's WAL position for the response's consistency token (only when
    /// reads may go to a replica). Called after a commit, or when a retry returns a committed
    /// result. The write stands whatever happens here; without a token the caller's next reads
    /// are as fresh as the lag bound, the same as if the response itself had been lost.
    async fn note_wal_position(&self) {
        if let Some(written) = self.written()
            && self.db().get_database_backend() == sea_orm::DbBackend::Postgres
        {
            match crate::replica::wal_position(self.db()).await {
                Ok(lsn) => written.record(lsn),
                Err(e) => tracing::warn!(error = %e, "no consistency token for a committed write"),
            }
        }
    }

    /// The stored result of this principal's `operation` under `key`, read on `conn`.
    async fn replay<T: DeserializeOwned>(
        &self,
        conn: &impl ConnectionTrait,
        operation: &str,
        key: &str,
    ) -> ApiResult<Option<T>> {
        let found = idempotency_record::Entity::find()
            .filter(idempotency_record::Column::Principal.eq(self.principal().sub.as_str()))
            .filter(idempotency_record::Column::IdempotencyKey.eq(key))
            .one(conn)
            .await?;
        let Some(found) = found else { return Ok(None) };
        if found.operation != operation {
            return Err(ApiError::bad_input(
                "clientMutationId",
                format!("this idempotency key was used for {}", found.operation),
            ));
        }
        match found.response {
            Some(json) => Ok(Some(
                serde_json::from_str(&json).map_err(ApiError::internal)?,
            )),
            None => Ok(None),
        }
    }
}

/// BAD_USER_INPUT unless `key` is a usable idempotency key.
fn check_key(key: &str) -> ApiResult<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(ApiError::bad_input(
            "clientMutationId",
            format!("an idempotency key has 1 to {MAX_KEY} characters"),
        ));
    }
    Ok(())
}

impl<'s> Tx<'s> {
    /// Runs one item of a batch inside this write, as `operation` with its own idempotency
    /// `key`: a key this principal already used for `operation` returns that first result
    /// (`true`: replayed) and `body` does not run. Otherwise `body` runs in a savepoint; if it
    /// fails, what it wrote and the events it emitted are undone and the rest of the write goes
    /// on. The item's audit records name `operation`. Its key is recorded with the write: if
    /// the write is discarded or fails, the key stays unused.
    pub async fn item<T, F>(
        &mut self,
        operation: &'static str,
        key: Option<&str>,
        body: F,
    ) -> ApiResult<(T, bool)>
    where
        T: Serialize + DeserializeOwned + Send,
        F: for<'t> FnOnce(&'t mut Tx<'s>) -> BoxFuture<'t, ApiResult<T>> + Send,
    {
        if let Some(k) = key {
            check_key(k)?;
            if let Some(done) = self.svc.replay(self.conn(), operation, k).await? {
                return Ok((done, true));
            }
        }
        let savepoint = self.conn().begin().await?;
        let outer = std::mem::replace(&mut self.txn, Txn::Own(savepoint));
        let outer_operation = std::mem::replace(&mut self.operation, operation);
        let mark = self.changes.len();
        let ran = self.run_item(operation, key, body).await;
        let Txn::Own(savepoint) = std::mem::replace(&mut self.txn, outer) else {
            unreachable!("the item's own savepoint was put in place above")
        };
        self.operation = outer_operation;
        match ran {
            Ok(out) => {
                savepoint.commit().await?;
                Ok((out, false))
            }
            Err(e) => {
                savepoint.rollback().await?;
                self.changes.truncate(mark);
                // A concurrent request holding the key may have committed meanwhile.
                if let Some(k) = key
                    && let Some(done) = self.svc.replay(self.conn(), operation, k).await?
                {
                    return Ok((done, true));
                }
                Err(e)
            }
        }
    }

    /// The body of [`Tx::item`], inside its savepoint.
    async fn run_item<T, F>(
        &mut self,
        operation: &'static str,
        key: Option<&str>,
        body: F,
    ) -> ApiResult<T>
    where
        T: Serialize + DeserializeOwned + Send,
        F: for<'t> FnOnce(&'t mut Tx<'s>) -> BoxFuture<'t, ApiResult<T>> + Send,
    {
        let principal = self.svc.principal().sub.clone();
        if let Some(k) = key {
            let claim = idempotency_record::ActiveModel {
                principal: Set(principal.clone()),
                idempotency_key: Set(k.to_owned()),
                operation: Set(operation.to_owned()),
                response: Set(None),
                created_at: Set(Utc::now()),
                ..Default::default()
            };
            if let Err(e) = claim.insert(self.conn()).await {
                return Err(
                    if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
                        ApiError::Conflict {
                            message: "a request with this idempotency key is still in progress"
                                .into(),
                            current_version: None,
                        }
                    } else {
                        e.into()
                    },
                );
            }
        }
        let out = body(self).await?;
        if let Some(k) = key {
            let json = serde_json::to_string(&out).map_err(ApiError::internal)?;
            idempotency_record::Entity::update_many()
                .col_expr(
                    idempotency_record::Column::Response,
                    sea_orm::sea_query::Expr::value(json),
                )
                .filter(idempotency_record::Column::Principal.eq(principal.as_str()))
                .filter(idempotency_record::Column::IdempotencyKey.eq(k))
                .exec(self.conn())
                .await?;
        }
        Ok(out)
    }

    /// Ends the write without writing anything: the body's result is still returned (not
    /// recorded for its idempotency key), and no event is appended.
    pub fn discard(&mut self) {
        self.discard = true;
    }
}

impl Service {
    /// A write inside a transaction someone else holds and commits: an import's, which checks
    /// every row of a file and writes them in one transaction. The write's body runs as it does
    /// in [`Service::write`] (checks, rows, audit records); it has no idempotency key (an import
    /// is made idempotent by its rows' natural keys), and its events are handed back by
    /// [`Tx::into_events`] for the holder to append to the log before it commits.
    pub(crate) fn within<'s>(
        &'s self,
        operation: &'static str,
        txn: &'s DatabaseTransaction,
    ) -> Tx<'s> {
        Tx {
            svc: self,
            txn: Txn::Within(txn),
            operation,
            key: None,
            changes: Vec::new(),
            discard: false,
        }
    }
}

impl Tx<'_> {
    pub fn conn(&self) -> &DatabaseTransaction {
        match &self.txn {
            Txn::Own(txn) => txn,
            Txn::Within(txn) => txn,
        }
    }

    /// The events of a write made [`Service::within`] another transaction, for its holder.
    pub(crate) fn into_events(self) -> Vec<NewEvent> {
        self.changes
    }

    pub fn svc(&self) -> &Service {
        self.svc
    }

    /// Row `id` of `E` as this principal may see it, read in this transaction; NOT_FOUND (as
    /// `what`) when it is absent or out of reach.
    pub async fn visible<E: Scoped>(&self, id: i64, what: &'static str) -> ApiResult<E::Model> {
        self.svc
            .scoped::<E>()?
            .filter(E::id_column().eq(id))
            .one(self.conn())
            .await?
            .ok_or(ApiError::NotFound(what))
    }

    /// Appends the audit record of one change, in this transaction.
    pub async fn audit(
        &self,
        entity: &str,
        entity_id: i64,
        district_id: Option<i64>,
        before: Option<&impl Serialize>,
        after: Option<&impl Serialize>,
    ) -> ApiResult<()> {
        let who = self.svc.principal();
        fn json(v: Option<&impl Serialize>) -> ApiResult<Option<String>> {
            v.map(|v| serde_json::to_string(v).map_err(ApiError::internal))
                .transpose()
        }
        audit_log::ActiveModel {
            at: Set(Utc::now()),
            actor_sub: Set(who.sub.clone()),
            actor_client: Set(who.client_id.clone()),
            actor_organisation_id: Set(who.organisation_id),
            actor_role: Set(who.role.as_str().to_owned()),
            district_id: Set(district_id),
            operation: Set(self.operation.to_owned()),
            entity: Set(entity.to_owned()),
            entity_id: Set(entity_id.to_string()),
            before: Set(json(before)?),
            after: Set(json(after)?),
            request_id: Set(self.svc.request_id().map(str::to_owned)),
            ..Default::default()
        }
        .insert(self.conn())
        .await?;
        Ok(())
    }

    /// Records `change` in the durable event log, in this transaction (appended at commit).
    /// Subscribers and webhooks hear of the change from the log once it has committed.
    pub fn emit(&mut self, change: NewEvent) {
        self.changes.push(change);
    }

    /// Records the result for the idempotency key, appends the events, and commits.
    async fn commit<T: Serialize>(self, result: &T) -> ApiResult<()> {
        let Txn::Own(txn) = self.txn else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "a write within another transaction is committed by its holder"
            )));
        };
        if let Some(k) = &self.key {
            let json = serde_json::to_string(result).map_err(ApiError::internal)?;
            idempotency_record::Entity::update_many()
                .col_expr(
                    idempotency_record::Column::Response,
                    sea_orm::sea_query::Expr::value(json),
                )
                .filter(idempotency_record::Column::Principal.eq(self.svc.principal().sub.as_str()))
                .filter(idempotency_record::Column::IdempotencyKey.eq(k.as_str()))
                .exec(&txn)
                .await?;
        }
        // Last, so appenders hold the log's lock as briefly as they can (see `events::log`).
        // One statement for one event (the common case), wake-up included on PostgreSQL; one
        // more for the lock before a multi-row insert of many.
        log::append_many(&txn, &self.svc.principal().sub, &self.changes).await?;
        txn.commit().await?;
        if let Some(bus) = self.svc.bus().filter(|_| !self.changes.is_empty()) {
            bus.committed();
        }
        self.svc.note_wal_position().await;
        Ok(())
    }
}
