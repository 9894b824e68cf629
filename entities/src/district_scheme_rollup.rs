//! How many of a district's schemes are in each status.

use sea_orm::entity::prelude::*;

use crate::enums::SchemeStatus;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "district_scheme_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub district_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub status: SchemeStatus,
    pub schemes: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
