//! The durable event log: every committed change, in commit order, for subscribers (which resume
//! from a cursor) and webhooks. `id` is the sequence and the cursor; `at` is indexed for pruning.

use sea_orm_migration::prelude::*;

use crate::columns::{a, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("event_log"))
                // On SQLite this is AUTOINCREMENT, so an id is never handed out twice even after
                // pruning has emptied the table: cursors stay meaningful.
                .col(id())
                .col(ColumnDef::new(a("kind")).text().not_null())
                .col(ColumnDef::new(a("entity")).text().not_null())
                .col(ColumnDef::new(a("entity_id")).big_integer().not_null())
                .col(ColumnDef::new(a("version")).integer().not_null())
                .col(ColumnDef::new(a("state_id")).big_integer().not_null())
                .col(ColumnDef::new(a("district_id")).big_integer().null())
                .col(ColumnDef::new(a("village_id")).big_integer().null())
                .col(ColumnDef::new(a("actor_sub")).text().not_null())
                .col(
                    ColumnDef::new(a("at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(a("payload")).text().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_event_log_at")
                .table(a("event_log"))
                .col(a("at"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("event_log")).to_owned())
            .await
    }
}
