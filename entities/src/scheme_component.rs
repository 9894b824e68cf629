//! A physical component of a scheme with its planned quantity and cost; `quantity_done` is the latest progress record.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_component")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scheme_id: i64,
    pub kind: ComponentKind,
    pub planned_quantity: f64,
    pub unit: ComponentUnit,
    pub cost_paise: i64,
    pub quantity_done: f64,
    pub progress_as_of: Option<Date>,
    pub created_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
