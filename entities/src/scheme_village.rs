//! Which villages a scheme serves (a multi-village scheme serves many).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "scheme_village")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scheme_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub village_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
