//! The JJM convergence schema: geography, schemes, organisations, assignments, tasks,
//! water quality, Har Ghar Jal and the audit log.
//!
//! Written with sea-query builders only, so the SQL is portable across SQLite, PostgreSQL and
//! PostgreSQL-compatible distributed engines. Every column the API filters on has an index.

use sea_orm_migration::prelude::*;

use crate::columns::{a, id};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
}

/// A non-null reference to `table.id`.
fn reference(name: &str) -> ColumnDef {
    col(name).big_integer().not_null().to_owned()
}

fn short(name: &str) -> ColumnDef {
    col(name).string_len(48).not_null().to_owned()
}

fn text(name: &str) -> ColumnDef {
    col(name).string().not_null().to_owned()
}

fn opt_text(name: &str) -> ColumnDef {
    col(name).string().null().to_owned()
}

fn timestamp(name: &str) -> ColumnDef {
    col(name).timestamp_with_time_zone().not_null().to_owned()
}

fn fk(table: &str, column: &str, target: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(a(table), a(column))
        .to(a(target), a("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

struct Table_ {
    name: &'static str,
    columns: Vec<ColumnDef>,
    foreign_keys: Vec<(&'static str, &'static str)>,
    primary_key: Option<Vec<&'static str>>,
    indexes: Vec<Vec<&'static str>>,
}

impl Table_ {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            columns: Vec::new(),
            foreign_keys: Vec::new(),
            primary_key: None,
            indexes: Vec::new(),
        }
    }
    fn cols(mut self, cols: impl IntoIterator<Item = ColumnDef>) -> Self {
        self.columns.extend(cols);
        self
    }
    /// A foreign key to `target.id`, with an index on it (every reference is also a filter).
    fn refs(mut self, column: &'static str, target: &'static str) -> Self {
        self.foreign_keys.push((column, target));
        self.indexes.push(vec![column]);
        self
    }
    fn index(mut self, columns: &[&'static str]) -> Self {
        self.indexes.push(columns.to_vec());
        self
    }
    fn primary_key(mut self, columns: &[&'static str]) -> Self {
        self.primary_key = Some(columns.to_vec());
        self
    }

    async fn create(self, m: &SchemaManager<'_>) -> Result<(), DbErr> {
        let mut t = Table::create();
        t.table(a(self.name));
        for c in self.columns {
            t.col(c);
        }
        for (column, target) in &self.foreign_keys {
            t.foreign_key(&mut fk(self.name, column, target));
        }
        if let Some(pk) = &self.primary_key {
            let mut index = Index::create();
            for c in pk {
                index.col(a(c));
            }
            t.primary_key(&mut index);
        }
        m.create_table(t).await?;
        for cols in self.indexes {
            let mut ix = Index::create();
            ix.name(format!("ix_{}_{}", self.name, cols.join("_")))
                .table(a(self.name));
            for c in cols {
                ix.col(a(c));
            }
            m.create_index(ix).await?;
        }
        Ok(())
    }
}

/// Tables in creation order; they are dropped in reverse.
fn tables() -> Vec<Table_> {
    let geo_names = || [text("name"), text("name_hi")];
    let lgd = || col("lgd_code").integer().not_null().unique_key().to_owned();
    vec![
        Table_::new("state")
            .cols([id(), lgd()])
            .cols(geo_names())
            .cols([short("category")])
            .index(&["name"]),
        Table_::new("division")
            .cols([
                id(),
                reference("state_id"),
                col("code")
                    .string_len(64)
                    .not_null()
                    .unique_key()
                    .to_owned(),
            ])
            .cols(geo_names())
            .refs("state_id", "state")
            .index(&["name"]),
        Table_::new("district")
            .cols([
                id(),
                lgd(),
                reference("state_id"),
                col("division_id").big_integer().null().to_owned(),
            ])
            .cols(geo_names())
            .cols([col("is_aspirational")
                .boolean()
                .not_null()
                .default(false)
                .to_owned()])
            .refs("state_id", "state")
            .refs("division_id", "division")
            .index(&["name"]),
        Table_::new("block")
            .cols([id(), lgd(), reference("district_id")])
            .cols(geo_names())
            .refs("district_id", "district")
            .index(&["name"]),
        Table_::new("gram_panchayat")
            .cols([id(), lgd(), reference("block_id")])
            .cols(geo_names())
            .refs("block_id", "block")
            .index(&["name"]),
        Table_::new("village")
            .cols([
                id(),
                lgd(),
                col("imis_id").big_integer().null().to_owned(),
                reference("gram_panchayat_id"),
                reference("block_id"),
                reference("district_id"),
                reference("state_id"),
            ])
            .cols(geo_names())
            .cols([
                col("households").integer().not_null().to_owned(),
                col("tap_connections").integer().not_null().to_owned(),
                short("hgj_status"),
                col("latitude").double().null().to_owned(),
                col("longitude").double().null().to_owned(),
                col("version").integer().not_null().default(1).to_owned(),
                timestamp("updated_at"),
            ])
            .refs("gram_panchayat_id", "gram_panchayat")
            .refs("block_id", "block")
            .refs("district_id", "district")
            .refs("state_id", "state")
            .index(&["hgj_status"])
            .index(&["name"]),
        Table_::new("scheme")
            .cols([
                id(),
                col("code")
                    .string_len(64)
                    .not_null()
                    .unique_key()
                    .to_owned(),
                text("name"),
                text("name_hi"),
                short("scheme_type"),
                short("status"),
                reference("district_id"),
                short("implementing_agency"),
                col("estimated_cost_paise")
                    .big_integer()
                    .not_null()
                    .to_owned(),
                col("expenditure_paise").big_integer().not_null().to_owned(),
                col("sanctioned_on").date().null().to_owned(),
                col("target_completion_on").date().null().to_owned(),
                col("completed_on").date().null().to_owned(),
                col("fhtc_target").integer().not_null().to_owned(),
                col("version").integer().not_null().default(1).to_owned(),
            ])
            .refs("district_id", "district")
            .index(&["status"])
            .index(&["scheme_type"]),
        Table_::new("scheme_village")
            .cols([reference("scheme_id"), reference("village_id")])
            .primary_key(&["scheme_id", "village_id"])
            .refs("scheme_id", "scheme")
            .refs("village_id", "village"),
        Table_::new("organisation")
            .cols([
                id(),
                col("code")
                    .string_len(64)
                    .not_null()
                    .unique_key()
                    .to_owned(),
                text("name"),
                short("kind"),
                col("department").string_len(48).null().to_owned(),
                col("partner_type").string_len(48).null().to_owned(),
                col("state_id").big_integer().null().to_owned(),
                opt_text("contact_name"),
                opt_text("contact_phone"),
            ])
            .refs("state_id", "state")
            .index(&["kind"])
            .index(&["department"]),
        Table_::new("organisation_theme")
            .cols([reference("organisation_id"), short("theme")])
            .primary_key(&["organisation_id", "theme"])
            .refs("organisation_id", "organisation"),
        Table_::new("assignment")
            .cols([
                id(),
                reference("organisation_id"),
                reference("village_id"),
                short("theme"),
                col("starts_on").date().not_null().to_owned(),
                col("ends_on").date().null().to_owned(),
                timestamp("created_at"),
                col("version").integer().not_null().default(1).to_owned(),
            ])
            .refs("organisation_id", "organisation")
            .refs("village_id", "village"),
        Table_::new("task")
            .cols([
                id(),
                short("kind"),
                text("title"),
                col("description").text().not_null().to_owned(),
                col("village_id").big_integer().null().to_owned(),
                col("scheme_id").big_integer().null().to_owned(),
                reference("district_id"),
                reference("state_id"),
                reference("assignee_organisation_id"),
                col("raised_by_organisation_id")
                    .big_integer()
                    .null()
                    .to_owned(),
                short("status"),
                short("priority"),
                col("due_on").date().null().to_owned(),
                timestamp("created_at"),
                timestamp("updated_at"),
                col("version").integer().not_null().default(1).to_owned(),
            ])
            .refs("village_id", "village")
            .refs("scheme_id", "scheme")
            .refs("district_id", "district")
            .refs("state_id", "state")
            .refs("assignee_organisation_id", "organisation")
            .refs("raised_by_organisation_id", "organisation")
            .index(&["status", "due_on"])
            .index(&["kind"]),
        Table_::new("task_event")
            .cols([
                id(),
                reference("task_id"),
                short("kind"),
                col("from_status").string_len(48).null().to_owned(),
                col("to_status").string_len(48).null().to_owned(),
                col("note").text().null().to_owned(),
                text("actor_sub"),
                col("actor_organisation_id").big_integer().null().to_owned(),
                timestamp("at"),
            ])
            .refs("task_id", "task")
            .refs("actor_organisation_id", "organisation"),
        Table_::new("water_quality_test")
            .cols([
                id(),
                reference("village_id"),
                text("source_name"),
                short("source_type"),
                col("sampled_on").date().not_null().to_owned(),
                short("method"),
                opt_text("lab_name"),
                opt_text("tested_by"),
                col("contaminated").boolean().not_null().to_owned(),
                timestamp("created_at"),
            ])
            .refs("village_id", "village")
            .index(&["village_id", "sampled_on"])
            .index(&["contaminated"]),
        Table_::new("water_quality_result")
            .cols([
                id(),
                reference("test_id"),
                short("parameter"),
                col("value").double().not_null().to_owned(),
                col("unit").string_len(16).not_null().to_owned(),
                col("exceeds").boolean().not_null().to_owned(),
            ])
            .refs("test_id", "water_quality_test"),
        Table_::new("hgj_report")
            .cols([
                id(),
                col("village_id")
                    .big_integer()
                    .not_null()
                    .unique_key()
                    .to_owned(),
                col("reported_on").date().not_null().to_owned(),
                opt_text("completion_certificate_url"),
                text("reported_by"),
            ])
            .refs("village_id", "village"),
        Table_::new("hgj_certification")
            .cols([
                id(),
                col("village_id")
                    .big_integer()
                    .not_null()
                    .unique_key()
                    .to_owned(),
                col("gram_sabha_resolution_date")
                    .date()
                    .not_null()
                    .to_owned(),
                opt_text("resolution_url"),
                opt_text("video_url"),
                col("certified_on").date().not_null().to_owned(),
                text("certified_by"),
            ])
            .refs("village_id", "village"),
        Table_::new("audit_log")
            .cols([
                id(),
                timestamp("at"),
                text("actor_sub"),
                opt_text("actor_client"),
                col("actor_organisation_id").big_integer().null().to_owned(),
                short("actor_role"),
                col("district_id").big_integer().null().to_owned(),
                text("operation"),
                short("entity"),
                text("entity_id"),
                col("before").text().null().to_owned(),
                col("after").text().null().to_owned(),
                opt_text("request_id"),
            ])
            .index(&["at"])
            .index(&["entity", "entity_id"])
            .index(&["actor_sub"])
            .index(&["district_id"]),
    ]
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            t.create(m).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in tables().into_iter().rev() {
            m.drop_table(Table::drop().table(a(t.name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
