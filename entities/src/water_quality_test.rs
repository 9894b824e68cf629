//! A water sample from one source of a village and how it was tested. `tested_by` is personal data.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "water_quality_test")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub village_id: i64,
    pub source_name: String,
    pub source_type: WaterSourceType,
    pub sampled_on: Date,
    pub method: WqMethod,
    pub lab_name: Option<String>,
    pub tested_by: Option<String>,
    pub contaminated: bool,
    pub created_at: DateTimeUtc,
    /// The sample's id as the laboratory or WQMIS numbers it (imported tests); unique.
    pub sample_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
