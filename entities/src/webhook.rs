//! An endpoint a client registered to be told of events. It acts with its owner's reach: `owner`
//! is the registering principal (JSON), checked against the client's current state at delivery.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The token subject that registered it: the webhook belongs to it.
    pub owner_sub: String,
    /// The embedded server's client id, when the owner is one of its clients.
    pub owner_client_id: Option<String>,
    /// The owner's role, organisation, jurisdiction and scopes when it registered (JSON).
    pub owner: String,
    pub url: String,
    /// Dotted event kinds (`task.created`), space-separated.
    pub event_kinds: String,
    /// Which rows' events it wants (JSON of decoded ids), none: every row in reach.
    pub filter: Option<String>,
    /// `whsec_…`; kept readable because every delivery is signed with it.
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub enabled: bool,
    /// Why it is disabled (by its owner, or after failing for too long).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts; cleared by a success.
    pub failing_since: Option<DateTimeUtc>,
    /// Events up to this log position happened before it existed.
    pub after_event: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
