//! Scheme works and handover: stage dates and physical progress on the scheme, its components
//! and their progress history, third-party quality inspections and their findings, the
//! agencies assigned to inspect a scheme, the handover to the Gram Panchayat, and the
//! per-district rollups of all of it (`works_rollups`, kept exact by
//! `api/src/service/schemes/rollup.rs`).

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend},
};

use crate::{columns::a, columns::id, works_rollups};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn col(name: &str) -> ColumnDef {
    ColumnDef::new(a(name))
}

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

fn count(name: &str) -> ColumnDef {
    col(name).big_integer().not_null().default(0).to_owned()
}

fn fk(table: &str, column: &str, target: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(a(table), a(column))
        .to(a(target), a("id"))
        .to_owned()
}

async fn index(m: &SchemaManager<'_>, table: &str, cols: &[&str]) -> Result<(), DbErr> {
    let mut ix = Index::create();
    ix.name(format!("ix_{table}_{}", cols.join("_")))
        .table(a(table));
    for c in cols {
        ix.col(a(c));
    }
    m.create_index(ix).await
}

/// Columns added to `scheme`, one statement each (SQLite adds one column at a time).
const SCHEME_COLUMNS: [(&str, &str); 8] = [
    ("work_order_on", "DATE NULL"),
    ("commissioned_on", "DATE NULL"),
    ("handed_over_on", "DATE NULL"),
    ("status_reason", "TEXT NULL"),
    ("physical_progress_bp", "INTEGER NULL"),
    ("open_findings_minor", "INTEGER NOT NULL DEFAULT 0"),
    ("open_findings_major", "INTEGER NOT NULL DEFAULT 0"),
    ("open_findings_critical", "INTEGER NOT NULL DEFAULT 0"),
];

/// Sort keys of the `schemes` orderings (generated, as in `m20261126_000004`).
const GENERATED: [(&str, &str, &str); 3] = [
    // Schemes without components (no measured progress) sort before 0 %.
    (
        "progress_key",
        "INTEGER",
        "COALESCE(physical_progress_bp, -1)",
    ),
    (
        "target_key",
        "DATE",
        "COALESCE(target_completion_on, {FAR_FUTURE})",
    ),
    (
        "open_findings_key",
        "INTEGER",
        "open_findings_minor + open_findings_major + open_findings_critical",
    ),
];

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let pg = backend == DbBackend::Postgres;
        let db = m.get_connection();
        for (name, def) in SCHEME_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE scheme ADD COLUMN {name} {def}"))
                .await?;
        }
        let far_future = if pg {
            "DATE '9999-12-31'"
        } else {
            "'9999-12-31'"
        };
        for (name, ty, expr) in GENERATED {
            let expr = expr.replace("{FAR_FUTURE}", far_future);
            let sql = if pg {
                format!(
                    "ALTER TABLE scheme ADD COLUMN {name} {ty} GENERATED ALWAYS AS ({expr}) STORED"
                )
            } else {
                let ty = if ty == "DATE" { "TEXT" } else { ty };
                format!(
                    "ALTER TABLE scheme ADD COLUMN {name} {ty} GENERATED ALWAYS AS ({expr}) VIRTUAL"
                )
            };
            db.execute_unprepared(&sql).await?;
            index(m, "scheme", &[name, "id"]).await?;
        }

        m.create_table(
            Table::create()
                .table(a("scheme_component"))
                .col(id())
                .col(reference("scheme_id"))
                .col(short("kind"))
                .col(col("planned_quantity").double().not_null())
                .col(short("unit"))
                .col(col("cost_paise").big_integer().not_null())
                .col(col("quantity_done").double().not_null().default(0.0))
                .col(col("progress_as_of").date().null())
                .col(timestamp("created_at"))
                .col(col("version").integer().not_null().default(1))
                .foreign_key(&mut fk("scheme_component", "scheme_id", "scheme"))
                .to_owned(),
        )
        .await?;
        index(m, "scheme_component", &["scheme_id"]).await?;

        m.create_table(
            Table::create()
                .table(a("scheme_progress"))
                .col(id())
                .col(reference("scheme_id"))
                .col(reference("component_id"))
                .col(col("quantity_done").double().not_null())
                .col(col("previous_quantity").double().not_null())
                .col(col("as_of").date().not_null())
                .col(opt_text("evidence_url"))
                .col(opt_text("reason"))
                .col(text("recorded_by"))
                .col(timestamp("recorded_at"))
                .foreign_key(&mut fk("scheme_progress", "scheme_id", "scheme"))
                .foreign_key(&mut fk(
                    "scheme_progress",
                    "component_id",
                    "scheme_component",
                ))
                .to_owned(),
        )
        .await?;
        index(m, "scheme_progress", &["component_id", "id"]).await?;
        index(m, "scheme_progress", &["scheme_id"]).await?;

        m.create_table(
            Table::create()
                .table(a("scheme_inspector"))
                .col(id())
                .col(reference("scheme_id"))
                .col(reference("organisation_id"))
                .col(col("starts_on").date().not_null())
                .col(col("ends_on").date().null())
                .col(timestamp("created_at"))
                .foreign_key(&mut fk("scheme_inspector", "scheme_id", "scheme"))
                .foreign_key(&mut fk(
                    "scheme_inspector",
                    "organisation_id",
                    "organisation",
                ))
                .to_owned(),
        )
        .await?;
        index(m, "scheme_inspector", &["organisation_id", "scheme_id"]).await?;
        index(m, "scheme_inspector", &["scheme_id"]).await?;

        m.create_table(
            Table::create()
                .table(a("scheme_inspection"))
                .col(id())
                .col(reference("scheme_id"))
                .col(col("component_id").big_integer().null())
                .col(reference("organisation_id"))
                .col(col("inspected_on").date().not_null())
                .col(short("stage"))
                .col(short("verdict"))
                .col(opt_text("evidence_url"))
                .col(col("rectification_task_id").big_integer().null())
                .col(text("recorded_by"))
                .col(timestamp("created_at"))
                .foreign_key(&mut fk("scheme_inspection", "scheme_id", "scheme"))
                .foreign_key(&mut fk(
                    "scheme_inspection",
                    "component_id",
                    "scheme_component",
                ))
                .foreign_key(&mut fk(
                    "scheme_inspection",
                    "organisation_id",
                    "organisation",
                ))
                .foreign_key(&mut fk(
                    "scheme_inspection",
                    "rectification_task_id",
                    "task",
                ))
                .to_owned(),
        )
        .await?;
        index(m, "scheme_inspection", &["scheme_id", "id"]).await?;

        m.create_table(
            Table::create()
                .table(a("inspection_finding"))
                .col(id())
                .col(reference("inspection_id"))
                .col(reference("scheme_id"))
                .col(col("component_id").big_integer().null())
                .col(text("parameter"))
                .col(text("observation"))
                .col(short("severity"))
                .col(col("open").boolean().not_null())
                .col(col("closed_by_inspection_id").big_integer().null())
                .foreign_key(&mut fk(
                    "inspection_finding",
                    "inspection_id",
                    "scheme_inspection",
                ))
                .foreign_key(&mut fk("inspection_finding", "scheme_id", "scheme"))
                .to_owned(),
        )
        .await?;
        index(m, "inspection_finding", &["inspection_id"]).await?;
        index(m, "inspection_finding", &["scheme_id", "open"]).await?;

        m.create_table(
            Table::create()
                .table(a("scheme_handover"))
                .col(id())
                .col(col("scheme_id").big_integer().not_null().unique_key())
                .col(col("handed_over_on").date().not_null())
                .col(col("resolution_date").date().not_null())
                .col(text("resolution_number"))
                .col(opt_text("resolution_evidence_url"))
                .col(col("vwsc_members").integer().not_null())
                .col(col("vwsc_women_members").integer().not_null())
                .col(col("operator_trained").boolean().not_null())
                .col(opt_text("operator_name"))
                .col(col("user_charge_paise").big_integer().not_null())
                .col(short("om_funds_source"))
                .col(text("recorded_by"))
                .col(timestamp("created_at"))
                .foreign_key(&mut fk("scheme_handover", "scheme_id", "scheme"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(a("district_works_rollup"))
                .col(
                    ColumnDef::new(a("district_id"))
                        .big_integer()
                        .not_null()
                        .primary_key(),
                )
                .col(count("schemes_measured"))
                .col(count("progress_bp_sum"))
                .col(count("below_half"))
                .col(count("complete"))
                .col(count("findings_minor"))
                .col(count("findings_major"))
                .col(count("findings_critical"))
                .foreign_key(&mut fk("district_works_rollup", "district_id", "district"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(a("district_scheme_due_rollup"))
                .col(ColumnDef::new(a("district_id")).big_integer().not_null())
                .col(ColumnDef::new(a("due_on")).date().not_null())
                .col(count("schemes"))
                .primary_key(Index::create().col(a("district_id")).col(a("due_on")))
                .foreign_key(&mut fk(
                    "district_scheme_due_rollup",
                    "district_id",
                    "district",
                ))
                .to_owned(),
        )
        .await?;
        works_rollups::recount_where(db, "").await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "district_scheme_due_rollup",
            "district_works_rollup",
            "scheme_handover",
            "inspection_finding",
            "scheme_inspection",
            "scheme_inspector",
            "scheme_progress",
            "scheme_component",
        ] {
            m.drop_table(Table::drop().table(a(table)).to_owned())
                .await?;
        }
        let db = m.get_connection();
        for (name, _, _) in GENERATED {
            m.drop_index(
                Index::drop()
                    .name(format!("ix_scheme_{name}_id"))
                    .table(a("scheme"))
                    .to_owned(),
            )
            .await?;
            db.execute_unprepared(&format!("ALTER TABLE scheme DROP COLUMN {name}"))
                .await?;
        }
        for (name, _) in SCHEME_COLUMNS {
            db.execute_unprepared(&format!("ALTER TABLE scheme DROP COLUMN {name}"))
                .await?;
        }
        Ok(())
    }
}
