//! The Gram Sabha's certification of a reported village.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "hgj_certification")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub village_id: i64,
    pub gram_sabha_resolution_date: Date,
    pub resolution_url: Option<String>,
    pub video_url: Option<String>,
    pub certified_on: Date,
    pub certified_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
