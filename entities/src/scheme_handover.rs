//! A scheme's handover to the Gram Panchayat for operation and maintenance. The operator's name is personal data.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_handover")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub scheme_id: i64,
    pub handed_over_on: Date,
    pub resolution_date: Date,
    pub resolution_number: String,
    pub resolution_evidence_url: Option<String>,
    pub vwsc_members: i32,
    pub vwsc_women_members: i32,
    pub operator_trained: bool,
    pub operator_name: Option<String>,
    pub user_charge_paise: i64,
    pub om_funds_source: OmFundsSource,
    pub recorded_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
