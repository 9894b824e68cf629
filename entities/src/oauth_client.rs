//! A machine client of the embedded authorization server. Only a hash of its secret is kept.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::Department;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "oauth_client")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub client_id: String,
    /// Argon2id PHC string.
    #[serde(skip_serializing)]
    pub secret_hash: String,
    pub name: String,
    /// One of ACCESS.md's roles, e.g. `partner`.
    pub role: String,
    pub organisation_id: Option<i64>,
    pub department: Option<Department>,
    /// State LGD codes, comma-separated (empty: none).
    pub states: String,
    /// District LGD codes, comma-separated (empty: none).
    pub districts: String,
    /// The scopes the client may ask for, space-separated.
    pub scopes: String,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub secret_rotated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
