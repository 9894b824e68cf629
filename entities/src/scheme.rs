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
    pub work_order_on: Option<Date>,
    pub commissioned_on: Option<Date>,
    pub handed_over_on: Option<Date>,
    /// Why the scheme is on hold or cancelled.
    pub status_reason: Option<String>,
    /// Physical progress in basis points (10000 = complete); null without components.
    pub physical_progress_bp: Option<i32>,
    pub open_findings_minor: i32,
    pub open_findings_major: i32,
    pub open_findings_critical: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
