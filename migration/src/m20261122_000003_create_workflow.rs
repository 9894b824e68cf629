//! The convergence workflow: task evidence and idempotency records.

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
                .table(a("task_evidence"))
                .col(id())
                .col(ColumnDef::new(a("task_id")).big_integer().not_null())
                .col(ColumnDef::new(a("url")).string().not_null())
                .col(ColumnDef::new(a("sha256")).string_len(64).not_null())
                .col(ColumnDef::new(a("caption")).string().null())
                .col(ColumnDef::new(a("attached_by")).string().not_null())
                .col(
                    ColumnDef::new(a("at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_evidence_task_id")
                        .from(a("task_evidence"), a("task_id"))
                        .to(a("task"), a("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_task_evidence_task_id")
                .table(a("task_evidence"))
                .col(a("task_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(a("idempotency_record"))
                .col(id())
                .col(ColumnDef::new(a("principal")).string_len(255).not_null())
                .col(
                    ColumnDef::new(a("idempotency_key"))
                        .string_len(255)
                        .not_null(),
                )
                .col(ColumnDef::new(a("operation")).string_len(64).not_null())
                .col(ColumnDef::new(a("response")).text().null())
                .col(
                    ColumnDef::new(a("created_at"))
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_idempotency_record_principal_key")
                .table(a("idempotency_record"))
                .col(a("principal"))
                .col(a("idempotency_key"))
                .unique()
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["idempotency_record", "task_evidence"] {
            m.drop_table(Table::drop().table(a(t)).to_owned()).await?;
        }
        Ok(())
    }
}
