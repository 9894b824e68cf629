//! Evidence of work on a task: a link to a file kept in the department's own storage, with its
//! SHA-256 so anyone can check the file is the one attached.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "task_evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub task_id: i64,
    pub url: String,
    /// Lower-case hex.
    pub sha256: String,
    pub caption: Option<String>,
    pub attached_by: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
