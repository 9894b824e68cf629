//! The embedded authorization server: registered clients, signing keys, revoked tokens.

use sea_orm_migration::prelude::*;

use crate::columns::{a, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn text(name: &str) -> ColumnDef {
    ColumnDef::new(a(name)).string().not_null().to_owned()
}

fn at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn maybe_at(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn unique(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
        .string_len(128)
        .not_null()
        .unique_key()
        .to_owned()
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("oauth_client"))
                .col(id())
                .col(unique("client_id"))
                .col(text("secret_hash"))
                .col(text("name"))
                .col(ColumnDef::new(a("role")).string_len(48).not_null())
                .col(ColumnDef::new(a("organisation_id")).big_integer().null())
                .col(ColumnDef::new(a("department")).string_len(48).null())
                .col(text("states"))
                .col(text("districts"))
                .col(text("scopes"))
                .col(
                    ColumnDef::new(a("disabled"))
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .col(at("created_at"))
                .col(at("secret_rotated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_oauth_client_organisation_id")
                        .from(a("oauth_client"), a("organisation_id"))
                        .to(a("organisation"), a("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(a("signing_key"))
                .col(id())
                .col(unique("kid"))
                .col(ColumnDef::new(a("algorithm")).string_len(16).not_null())
                .col(text("private_key"))
                .col(text("public_key"))
                .col(at("created_at"))
                .col(maybe_at("retired_at"))
                .col(maybe_at("expires_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(a("revoked_token"))
                .col(id())
                .col(unique("jti"))
                .col(text("client_id"))
                .col(at("expires_at"))
                .col(at("revoked_at"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in ["revoked_token", "signing_key", "oauth_client"] {
            m.drop_table(Table::drop().table(a(t)).to_owned()).await?;
        }
        Ok(())
    }
}
