//! Persisted queries: Apollo's automatic persisted queries, and the allow-list of registered
//! operations. Kept in the database so every instance knows every hash.

use sea_orm_migration::prelude::*;

use crate::columns::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("persisted_query"))
                .col(
                    ColumnDef::new(a("sha256"))
                        .string_len(64)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(a("query")).text().not_null())
                .col(
                    ColumnDef::new(a("allowed"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(
                    ColumnDef::new(a("created_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("persisted_query")).to_owned())
            .await
    }
}
