//! One parameter measured in a sample, judged against its BIS 10500 limit when recorded.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "water_quality_result")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub test_id: i64,
    pub parameter: WqParameter,
    pub value: f64,
    pub unit: String,
    pub exceeds: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
