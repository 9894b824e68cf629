//! One finding of an inspection; open until a passing re-inspection closes it.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "inspection_finding")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub inspection_id: i64,
    pub scheme_id: i64,
    pub component_id: Option<i64>,
    pub parameter: String,
    pub observation: String,
    pub severity: FindingSeverity,
    pub open: bool,
    pub closed_by_inspection_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
