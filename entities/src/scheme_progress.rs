//! One progress record of a component (append-only; the latest is current).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_progress")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scheme_id: i64,
    pub component_id: i64,
    pub quantity_done: f64,
    pub previous_quantity: f64,
    pub as_of: Date,
    pub evidence_url: Option<String>,
    pub reason: Option<String>,
    pub recorded_by: String,
    pub recorded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
