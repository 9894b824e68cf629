//! The write path every mutation shares: one transaction, an optional idempotency key, an audit
//! record per change, and events announced only once committed.

use chrono::Utc;
use entities::{audit_log, idempotency_record};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set, SqlErr,
    TransactionTrait,
};
use serde::{Serialize, de::DeserializeOwned};

use super::Service;
use crate::{
    error::{ApiError, ApiResult},
    events::{
        Event,
        log::{self, NewEvent},
    },
};

/// Longest idempotency key accepted.
const MAX_KEY: usize = 255;

/// A write in progress.
pub struct Tx<'s> {
    svc: &'s Service,
    txn: DatabaseTransaction,
    operation: &'static str,
    key: Option<String>,
    events: Vec<Event>,
    changes: Vec<NewEvent>,
}

/// How a write starts: afresh, or as a retry whose first result is returned as it was.
pub enum Begun<'s, T> {
    Fresh(Tx<'s>),
    Replay(T),
}

impl Service {
    /// Starts the write `operation`. With an idempotency `key` already used by this principal
    /// for the same operation, the first result comes back and nothing is written again.
    pub async fn begin<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        key: Option<&str>,
    ) -> ApiResult<Begun<'_, T>> {
        if let Some(k) = key {
            if k.is_empty() || k.len() > MAX_KEY {
                return Err(ApiError::bad_input(
                    "clientMutationId",
                    format!("an idempotency key has 1 to {MAX_KEY} characters"),
                ));
            }
            if let Some(done) = self.replay(operation, k).await? {
                return Ok(Begun::Replay(done));
            }
        }
        let txn = self.db().begin().await?;
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
                    return match self.replay(operation, k).await? {
                        Some(done) => Ok(Begun::Replay(done)),
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
            txn,
            operation,
            key: key.map(str::to_owned),
            events: Vec::new(),
            changes: Vec::new(),
        }))
    }

    async fn replay<T: DeserializeOwned>(
        &self,
        operation: &str,
        key: &str,
    ) -> ApiResult<Option<T>> {
        let found = idempotency_record::Entity::find()
            .filter(idempotency_record::Column::Principal.eq(self.principal().sub.as_str()))
            .filter(idempotency_record::Column::IdempotencyKey.eq(key))
            .one(self.db())
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

impl Tx<'_> {
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn svc(&self) -> &Service {
        self.svc
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
        .insert(&self.txn)
        .await?;
        Ok(())
    }

    /// Announces `event` once the transaction commits.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Appends `change` to the durable event log when the write commits (in its transaction).
    pub fn record(&mut self, change: NewEvent) {
        self.changes.push(change);
    }

    /// Records the result for the idempotency key, commits, and announces the events.
    pub async fn commit<T: Serialize>(self, result: &T) -> ApiResult<()> {
        if let Some(k) = &self.key {
            let json = serde_json::to_string(result).map_err(ApiError::internal)?;
            idempotency_record::Entity::update_many()
                .col_expr(
                    idempotency_record::Column::Response,
                    sea_orm::sea_query::Expr::value(json),
                )
                .filter(idempotency_record::Column::Principal.eq(self.svc.principal().sub.as_str()))
                .filter(idempotency_record::Column::IdempotencyKey.eq(k.as_str()))
                .exec(&self.txn)
                .await?;
        }
        // Last, so appenders hold the log's lock as briefly as they can (see `events::log`).
        for change in &self.changes {
            log::append(&self.txn, &self.svc.principal().sub, change).await?;
        }
        if let Some(bus) = self.svc.bus() {
            bus.queue(&self.txn, &self.events).await?;
        }
        self.txn.commit().await?;
        if let Some(bus) = self.svc.bus() {
            bus.committed(self.events);
        }
        Ok(())
    }
}
