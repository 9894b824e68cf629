//! A query known by its SHA-256: stored by Apollo's automatic persisted queries, or registered
//! (`allowed`) for the allow-list mode.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_query")]
pub struct Model {
    /// Lower-case hex SHA-256 of `query`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub sha256: String,
    pub query: String,
    /// Registered by an operator: may run in allow-list mode.
    pub allowed: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
