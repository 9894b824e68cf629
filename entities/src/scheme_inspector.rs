//! An inspection agency assigned to inspect a scheme, from `starts_on` to `ends_on` inclusive.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[allow(unused_imports)]
use crate::works::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_inspector")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scheme_id: i64,
    pub organisation_id: i64,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
