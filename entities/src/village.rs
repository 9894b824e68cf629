//! A revenue village. Its ancestors are copied down (they never change without a new LGD code) so every geography filter is one indexed column. Coverage is derived from the two counts, never stored.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::enums::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "village")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub lgd_code: i32,
    pub imis_id: Option<i64>,
    pub gram_panchayat_id: i64,
    pub block_id: i64,
    pub district_id: i64,
    pub state_id: i64,
    pub name: String,
    pub name_hi: String,
    /// Romanised, normalised spelling key of both names (`migration::search_key`), for search
    /// that forgives spelling.
    pub search_key: String,
    pub households: i32,
    pub tap_connections: i32,
    pub hgj_status: HgjStatus,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub version: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
