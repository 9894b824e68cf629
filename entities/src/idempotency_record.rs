//! The first result of a mutation sent with an idempotency key, so a retry gets it back
//! instead of writing twice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The token subject that sent it: keys are per principal.
    pub principal: String,
    pub idempotency_key: String,
    pub operation: String,
    /// The result as JSON; null while the first attempt is still in flight.
    pub response: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
