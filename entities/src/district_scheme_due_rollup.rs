//! How many of a district's schemes still being built are due to complete on each date.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "district_scheme_due_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub district_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub due_on: Date,
    pub schemes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
