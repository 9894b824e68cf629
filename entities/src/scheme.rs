//! A rural piped water supply scheme. Money is integer paise.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub name_hi: String,
    pub scheme_type: SchemeType,
    pub status: SchemeStatus,
    pub district_id: i64,
    pub implementing_agency: ImplementingAgency,
    pub estimated_cost_paise: i64,
    pub expenditure_paise: i64,
    pub sanctioned_on: Option<Date>,
    pub target_completion_on: Option<Date>,
    pub completed_on: Option<Date>,
    pub fhtc_target: i32,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
