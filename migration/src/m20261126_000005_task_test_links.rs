//! Links a water-quality task to the tests it answers: the contaminated sample that opened it
//! and, for a retest, the clean sample that closed it. A table of its own (one row per task a
//! test opened), so the task rows and everything that builds them stay as they are.
//!
//! Tasks opened before this migration name their test only in their description
//! ("Opened automatically: water-quality test N exceeded …"); those are linked from it.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, FromQueryResult, Statement},
};

use crate::columns::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PREFIX: &str = "Opened automatically: water-quality test ";

#[derive(FromQueryResult)]
struct Opened {
    id: i64,
    description: String,
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(a("task_test_link"))
                .col(
                    ColumnDef::new(a("task_id"))
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(a("opened_by_test_id"))
                        .big_integer()
                        .not_null(),
                )
                .col(ColumnDef::new(a("closed_by_test_id")).big_integer().null())
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_test_link_task_id")
                        .from(a("task_test_link"), a("task_id"))
                        .to(a("task"), a("id")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_test_link_opened_by")
                        .from(a("task_test_link"), a("opened_by_test_id"))
                        .to(a("water_quality_test"), a("id")),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_task_test_link_closed_by")
                        .from(a("task_test_link"), a("closed_by_test_id"))
                        .to(a("water_quality_test"), a("id")),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_task_test_link_opened_by")
                .table(a("task_test_link"))
                .col(a("opened_by_test_id"))
                .to_owned(),
        )
        .await?;

        let db = m.get_connection();
        let backend = m.get_database_backend();
        let opened = Opened::find_by_statement(Statement::from_string(
            backend,
            format!(
                "SELECT id, description FROM task WHERE description LIKE '{PREFIX}%' \
                 AND kind IN ('WATER_QUALITY_TEST', 'WATER_QUALITY_REMEDIATION')"
            ),
        ))
        .all(db)
        .await?;
        for t in opened {
            let test: Option<i64> = t.description[PREFIX.len()..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|n| n.parse().ok());
            let Some(test) = test else { continue };
            let mut insert = Query::insert();
            insert
                .into_table(a("task_test_link"))
                .columns([a("task_id"), a("opened_by_test_id")])
                .values_panic([t.id.into(), test.into()]);
            // Only a test that exists (the description is free text once a user edits it).
            let exists = db
                .query_one_raw(Statement::from_string(
                    backend,
                    format!("SELECT id FROM water_quality_test WHERE id = {test}"),
                ))
                .await?;
            if exists.is_some() {
                db.execute(&insert).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(a("task_test_link")).to_owned())
            .await?;
        Ok(())
    }
}
