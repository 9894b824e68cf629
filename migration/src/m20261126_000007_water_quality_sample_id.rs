//! A water-quality test's sample id as the laboratory or WQMIS numbers it, so an imported file of
//! results can be imported again without recording any test twice. Tests recorded through the
//! API have none; a sample id is unique where given (both databases allow many NULLs in a
//! unique index).

use sea_orm_migration::prelude::*;

use crate::columns::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(a("water_quality_test"))
                    .add_column(ColumnDef::new(a("sample_id")).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_water_quality_test_sample_id")
                    .table(a("water_quality_test"))
                    .col(a("sample_id"))
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_water_quality_test_sample_id")
                    .table(a("water_quality_test"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(a("water_quality_test"))
                    .drop_column(a("sample_id"))
                    .to_owned(),
            )
            .await
    }
}
