//! One committed change in the durable event log. `id` is the log's sequence: the order
//! subscribers and webhooks receive events in, and the cursor they resume from.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "event_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// A dotted name such as `task.transitioned`.
    pub kind: String,
    /// `task`, `assignment`, `water_quality_test` or `village`.
    pub entity: String,
    pub entity_id: i64,
    pub version: i32,
    /// The keys row scope needs to decide who may hear of the change.
    pub state_id: i64,
    pub district_id: Option<i64>,
    pub village_id: Option<i64>,
    pub actor_sub: String,
    pub at: DateTimeUtc,
    /// A JSON object of the changed fields.
    pub payload: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
