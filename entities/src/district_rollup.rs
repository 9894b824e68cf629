//! A district's totals for progress reports, kept exact by every write that changes them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "district_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub district_id: i64,
    pub villages: i64,
    pub households: i64,
    pub tap_connections: i64,
    pub villages_reported: i64,
    pub villages_certified: i64,
    pub tasks_open: i64,
    /// Open tasks due before `overdue_as_of`.
    pub tasks_overdue: i64,
    pub overdue_as_of: Date,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
