//! A quality inspection of a scheme (or one of its components).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_inspection")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scheme_id: i64,
    pub component_id: Option<i64>,
    pub organisation_id: i64,
    pub inspected_on: Date,
    pub stage: InspectionStage,
    pub verdict: InspectionVerdict,
    pub evidence_url: Option<String>,
    pub rectification_task_id: Option<i64>,
    pub recorded_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
