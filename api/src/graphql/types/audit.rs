//! The audit trail.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use entities::{audit_log, organisation};

use super::Organisation;
use crate::{error::ApiResult, graphql::loaders};

/// One write, as it happened: who, what, and the row before and after.
pub struct AuditRecord(pub audit_log::Model);

#[Object]
impl AuditRecord {
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
    /// Subject of the actor's token.
    async fn actor(&self) -> &str {
        &self.0.actor_sub
    }
    /// The OAuth client the actor used.
    async fn actor_client(&self) -> Option<&str> {
        self.0.actor_client.as_deref()
    }
    async fn actor_role(&self) -> &str {
        &self.0.actor_role
    }
    async fn actor_organisation(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        let Some(id) = self.0.actor_organisation_id else {
            return Ok(None);
        };
        Ok(loaders::one::<organisation::Entity>(ctx, id)
            .await?
            .map(Organisation))
    }
    /// The mutation, e.g. `transitionTask`.
    async fn operation(&self) -> &str {
        &self.0.operation
    }
    /// The table changed, e.g. `task`.
    async fn entity(&self) -> &str {
        &self.0.entity
    }
    async fn entity_id(&self) -> &str {
        &self.0.entity_id
    }
    /// The row before the write, as JSON (null for a creation).
    async fn before(&self) -> Option<&str> {
        self.0.before.as_deref()
    }
    /// The row after the write, as JSON.
    async fn after(&self) -> Option<&str> {
        self.0.after.as_deref()
    }
    /// The HTTP request that made the write.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }
}
