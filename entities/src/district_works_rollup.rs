//! Scheme works of a district: physical progress and open inspection findings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "district_works_rollup")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub district_id: i64,
    pub schemes_measured: i64,
    pub progress_bp_sum: i64,
    pub below_half: i64,
    pub complete: i64,
    pub findings_minor: i64,
    pub findings_major: i64,
    pub findings_critical: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
