//! Per-district rollups, so state and national progress reads a few hundred rows instead of
//! every village and task. They are kept exact by the write transactions that change what they
//! count (`api/src/service/rollup.rs`); this migration creates and fills them.

use sea_orm_migration::prelude::*;

use crate::{columns::a, rollups};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn count(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn district_fk(table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_district_id"))
        .from(a(table), a("district_id"))
        .to(a("district"), a("id"))
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("district_rollup"))
                .col(
                    ColumnDef::new(a("district_id"))
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(count("villages"))
                .col(count("households"))
                .col(count("tap_connections"))
                .col(count("villages_reported"))
                .col(count("villages_certified"))
                .col(count("tasks_open"))
                .col(count("tasks_overdue"))
                // The day `tasks_overdue` was counted for: overdue-ness changes at midnight
                // without any write, so the first read of a new day recounts.
                .col(ColumnDef::new(a("overdue_as_of")).date().not_null())
                .foreign_key(&mut district_fk("district_rollup"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(a("district_scheme_rollup"))
                .col(ColumnDef::new(a("district_id")).big_integer().not_null())
                .col(ColumnDef::new(a("status")).string_len(48).not_null())
                .col(count("schemes"))
                .primary_key(Index::create().col(a("district_id")).col(a("status")))
                .foreign_key(&mut district_fk("district_scheme_rollup"))
                .to_owned(),
        )
        .await?;
        rollups::rebuild(m.get_connection()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("district_scheme_rollup")).to_owned())
            .await?;
        m.drop_table(Table::drop().table(a("district_rollup")).to_owned())
            .await
    }
}
