//! Webhooks: endpoints registered by clients, one delivery per (webhook, event) with every
//! attempt recorded, and the dispatcher's position in the event log.

use sea_orm_migration::prelude::*;

use crate::columns::{a, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn at_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().not_null().to_owned()
}

fn text_null(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).text().null().to_owned()
}

fn index(name: &str, table: &str, cols: &[&str]) -> IndexCreateStatement {
    let mut ix = Index::create();
    ix.name(name).table(a(table));
    for c in cols {
        ix.col(a(c));
    }
    ix.to_owned()
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("webhook"))
                .col(id())
                .col(text("owner_sub"))
                .col(text_null("owner_client_id"))
                .col(text("owner"))
                .col(text("url"))
                .col(text("event_kinds"))
                .col(text_null("filter"))
                .col(text("secret"))
                .col(text_null("previous_secret"))
                .col(at_null("previous_secret_until"))
                .col(ColumnDef::new(a("enabled")).boolean().not_null())
                .col(text_null("disabled_reason"))
                .col(at_null("failing_since"))
                .col(ColumnDef::new(a("after_event")).big_integer().not_null())
                .col(at("created_at"))
                .col(at("updated_at"))
                .col(ColumnDef::new(a("version")).integer().not_null())
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_webhook_owner_sub", "webhook", &["owner_sub"]))
            .await?;

        m.create_table(
            Table::create()
                .table(a("webhook_delivery"))
                .col(id())
                .col(ColumnDef::new(a("webhook_id")).big_integer().not_null())
                .col(ColumnDef::new(a("event_id")).big_integer().not_null())
                .col(text("event_kind"))
                .col(text("message_id"))
                .col(text("entity"))
                .col(ColumnDef::new(a("entity_id")).big_integer().not_null())
                .col(text("payload"))
                .col(ColumnDef::new(a("status")).string_len(16).not_null())
                .col(ColumnDef::new(a("attempts")).integer().not_null())
                .col(at("next_attempt_at"))
                .col(at("retry_until"))
                .col(at_null("lease_until"))
                .col(at("created_at"))
                .col(at_null("finished_at"))
                .col(ColumnDef::new(a("last_status_code")).integer().null())
                .col(text_null("last_error"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_delivery_webhook_id")
                        .from(a("webhook_delivery"), a("webhook_id"))
                        .to(a("webhook"), a("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            index(
                "ux_webhook_delivery_webhook_event",
                "webhook_delivery",
                &["webhook_id", "event_id"],
            )
            .unique()
            .to_owned(),
        )
        .await?;
        // What the workers scan for: due attempts, oldest first.
        m.create_index(index(
            "ix_webhook_delivery_due",
            "webhook_delivery",
            &["status", "next_attempt_at"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(a("webhook_attempt"))
                .col(id())
                .col(ColumnDef::new(a("delivery_id")).big_integer().not_null())
                .col(ColumnDef::new(a("attempt")).integer().not_null())
                .col(text("instance"))
                .col(at("started_at"))
                .col(ColumnDef::new(a("duration_ms")).integer().not_null())
                .col(ColumnDef::new(a("status_code")).integer().null())
                .col(text_null("error"))
                .col(text_null("response"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_webhook_attempt_delivery_id")
                        .from(a("webhook_attempt"), a("delivery_id"))
                        .to(a("webhook_delivery"), a("id"))
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "ix_webhook_attempt_delivery_id",
            "webhook_attempt",
            &["delivery_id"],
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(a("webhook_cursor"))
                .col(ColumnDef::new(a("id")).integer().not_null().primary_key())
                .col(ColumnDef::new(a("last_event_id")).big_integer().not_null())
                .col(at("updated_at"))
                .to_owned(),
        )
        .await?;
        let mut start = Query::insert();
        start
            .into_table(a("webhook_cursor"))
            .columns([a("id"), a("last_event_id"), a("updated_at")])
            .values([1.into(), 0i64.into(), Expr::current_timestamp()])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        m.exec_stmt(start).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            "webhook_cursor",
            "webhook_attempt",
            "webhook_delivery",
            "webhook",
        ] {
            m.drop_table(Table::drop().table(a(t)).to_owned()).await?;
        }
        Ok(())
    }
}
