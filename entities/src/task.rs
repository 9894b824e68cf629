//! A convergence task on a village or a scheme; `district_id` and `state_id` locate it for filters and row scope.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "task")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: TaskKind,
    pub title: String,
    pub description: String,
    pub village_id: Option<i64>,
    pub scheme_id: Option<i64>,
    pub district_id: i64,
    pub state_id: i64,
    pub assignee_organisation_id: i64,
    pub raised_by_organisation_id: Option<i64>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub due_on: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
