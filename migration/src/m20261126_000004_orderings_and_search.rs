//! Sort keys for ordered keyset pagination, each with an `(key, id)` index so a page deep in an
//! ordering is one index seek, and the villages' spelling-forgiving search key.
//!
//! Keys that are not plain columns are generated columns (virtual on SQLite, stored on
//! PostgreSQL), so no writer can forget them: enum ranks (a status sorts by its place in the
//! workflow, not alphabetically), coverage, and dates whose absence sorts at a fixed end (no due
//! date or no end date sorts after every date). A village's latest water-quality test is kept
//! by a trigger on the tests table, for the same reason. None of these columns is in the
//! entities: they are read only by the orderings and filters that name them.

use sea_orm_migration::{
    prelude::*,
    sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement},
};

use crate::{columns::a, search_key::search_key};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The latest test of a village never tested sorts as this date (before every real test).
const NEVER_TESTED: &str = "0001-01-01";

/// (table, column, SQL type on SQLite, SQL type on PostgreSQL, expression), the expression
/// written so both databases evaluate it alike.
const GENERATED: [(&str, &str, &str, &str, &str); 6] = [
    (
        "village",
        "coverage_key",
        "REAL",
        "DOUBLE PRECISION",
        // A village with no households has no one left to connect: it sorts as fully covered.
        "CASE WHEN households > 0 THEN CAST(tap_connections AS DOUBLE PRECISION) * 100 / households ELSE 100.0 END",
    ),
    (
        "village",
        "hgj_rank",
        "INTEGER",
        "INTEGER",
        "CASE hgj_status WHEN 'NOT_SATURATED' THEN 0 WHEN 'REPORTED' THEN 1 ELSE 2 END",
    ),
    (
        "task",
        "priority_rank",
        "INTEGER",
        "INTEGER",
        "CASE priority WHEN 'LOW' THEN 0 WHEN 'MEDIUM' THEN 1 WHEN 'HIGH' THEN 2 ELSE 3 END",
    ),
    (
        "task",
        "status_rank",
        "INTEGER",
        "INTEGER",
        "CASE status WHEN 'OPEN' THEN 0 WHEN 'IN_PROGRESS' THEN 1 WHEN 'BLOCKED' THEN 2 \
         WHEN 'DONE' THEN 3 WHEN 'VERIFIED' THEN 4 ELSE 5 END",
    ),
    (
        "task",
        "due_key",
        "TEXT",
        "DATE",
        "COALESCE(due_on, {FAR_FUTURE})",
    ),
    (
        "assignment",
        "ends_key",
        "TEXT",
        "DATE",
        "COALESCE(ends_on, {FAR_FUTURE})",
    ),
];

/// `(table, key columns)`: each index ends in `id`, the tie-breaker of every ordering.
const INDEXES: [(&str, &[&str]); 15] = [
    ("village", &["name", "id"]),
    ("village", &["households", "id"]),
    ("village", &["tap_connections", "id"]),
    ("village", &["coverage_key", "id"]),
    ("village", &["hgj_rank", "id"]),
    ("village", &["latest_test_on", "id"]),
    ("village", &["latest_test_contaminated", "id"]),
    ("task", &["due_key", "id"]),
    ("task", &["priority_rank", "id"]),
    ("task", &["status_rank", "id"]),
    ("task", &["updated_at", "id"]),
    ("assignment", &["starts_on", "id"]),
    ("assignment", &["ends_key", "id"]),
    ("water_quality_test", &["sampled_on", "id"]),
    ("organisation", &["name", "id"]),
];

fn index_name(table: &str, cols: &[&str]) -> String {
    format!("ix_{table}_order_{}", cols.join("_"))
}

fn date_literal(backend: DbBackend, date: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("DATE '{date}'"),
        _ => format!("'{date}'"),
    }
}

async fn exec(m: &SchemaManager<'_>, sql: impl Into<String>) -> Result<(), DbErr> {
    m.get_connection().execute_unprepared(&sql.into()).await?;
    Ok(())
}

#[derive(FromQueryResult)]
struct Names {
    id: i64,
    name: String,
    name_hi: String,
}

/// Fills the search key of every village, a batch at a time.
async fn fill_search_keys(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let backend = m.get_database_backend();
    let mut after = 0_i64;
    loop {
        let rows = Names::find_by_statement(Statement::from_sql_and_values(
            backend,
            match backend {
                DbBackend::Postgres => {
                    "SELECT id, name, name_hi FROM village WHERE id > $1 ORDER BY id LIMIT 1000"
                }
                _ => "SELECT id, name, name_hi FROM village WHERE id > ? ORDER BY id LIMIT 1000",
            },
            [after.into()],
        ))
        .all(db)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.id;
        let mut update = Query::update();
        let mut case = CaseStatement::new();
        for r in &rows {
            case = case.case(
                Expr::col(a("id")).eq(r.id),
                Expr::val(search_key(&r.name, &r.name_hi)),
            );
        }
        update
            .table(a("village"))
            .value(a("search_key"), case.finally(Expr::col(a("search_key"))))
            .and_where(Expr::col(a("id")).is_in(rows.iter().map(|r| r.id)));
        db.execute(&update).await?;
    }
}

// async_trait's expansion needs the elided lifetime here.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let backend = m.get_database_backend();
        let pg = backend == DbBackend::Postgres;
        let never = date_literal(backend, NEVER_TESTED);

        m.alter_table(
            Table::alter()
                .table(a("village"))
                .add_column(
                    ColumnDef::new(a("search_key"))
                        .string()
                        .not_null()
                        .default(""),
                )
                .to_owned(),
        )
        .await?;
        fill_search_keys(m).await?;

        for (col, def) in [
            ("latest_test_id", "BIGINT NULL".to_owned()),
            ("latest_test_on", format!("DATE NOT NULL DEFAULT {never}")),
            (
                "latest_test_contaminated",
                "BOOLEAN NOT NULL DEFAULT FALSE".to_owned(),
            ),
        ] {
            exec(m, format!("ALTER TABLE village ADD COLUMN {col} {def}")).await?;
        }
        exec(
            m,
            "UPDATE village SET latest_test_id = (SELECT t.id FROM water_quality_test t \
             WHERE t.village_id = village.id ORDER BY t.sampled_on DESC, t.id DESC LIMIT 1)",
        )
        .await?;
        exec(
            m,
            "UPDATE village SET \
             latest_test_on = (SELECT t.sampled_on FROM water_quality_test t WHERE t.id = village.latest_test_id), \
             latest_test_contaminated = (SELECT t.contaminated FROM water_quality_test t WHERE t.id = village.latest_test_id) \
             WHERE latest_test_id IS NOT NULL",
        )
        .await?;
        // A later sample (or, on the same day, a later record) becomes the village's latest.
        let newer = "UPDATE village SET latest_test_id = NEW.id, latest_test_on = NEW.sampled_on, \
             latest_test_contaminated = NEW.contaminated \
             WHERE id = NEW.village_id AND (latest_test_id IS NULL OR latest_test_on < NEW.sampled_on \
             OR (latest_test_on = NEW.sampled_on AND latest_test_id < NEW.id));";
        if pg {
            exec(
                m,
                format!(
                    "CREATE FUNCTION village_latest_test() RETURNS trigger LANGUAGE plpgsql AS $$ \
                     BEGIN {newer} RETURN NULL; END $$"
                ),
            )
            .await?;
            exec(
                m,
                "CREATE TRIGGER water_quality_test_latest AFTER INSERT ON water_quality_test \
                 FOR EACH ROW EXECUTE FUNCTION village_latest_test()",
            )
            .await?;
        } else {
            exec(
                m,
                format!(
                    "CREATE TRIGGER water_quality_test_latest AFTER INSERT ON water_quality_test \
                     BEGIN {newer} END"
                ),
            )
            .await?;
        }

        let far_future = date_literal(backend, "9999-12-31");
        for (table, col, lite, post, expr) in GENERATED {
            let expr = expr.replace("{FAR_FUTURE}", &far_future);
            let sql = if pg {
                format!(
                    "ALTER TABLE {table} ADD COLUMN {col} {post} GENERATED ALWAYS AS ({expr}) STORED"
                )
            } else {
                let expr = expr.replace("DOUBLE PRECISION", "REAL");
                format!(
                    "ALTER TABLE {table} ADD COLUMN {col} {lite} GENERATED ALWAYS AS ({expr}) VIRTUAL"
                )
            };
            exec(m, sql).await?;
        }
        for (table, cols) in INDEXES {
            let mut ix = Index::create();
            ix.name(index_name(table, cols)).table(a(table));
            for c in cols {
                ix.col(a(c));
            }
            m.create_index(ix).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let pg = m.get_database_backend() == DbBackend::Postgres;
        for (table, cols) in INDEXES {
            m.drop_index(
                Index::drop()
                    .name(index_name(table, cols))
                    .table(a(table))
                    .to_owned(),
            )
            .await?;
        }
        for (table, col, ..) in GENERATED {
            exec(m, format!("ALTER TABLE {table} DROP COLUMN {col}")).await?;
        }
        if pg {
            exec(
                m,
                "DROP TRIGGER water_quality_test_latest ON water_quality_test",
            )
            .await?;
            exec(m, "DROP FUNCTION village_latest_test()").await?;
        } else {
            exec(m, "DROP TRIGGER water_quality_test_latest").await?;
        }
        for col in [
            "latest_test_contaminated",
            "latest_test_on",
            "latest_test_id",
            "search_key",
        ] {
            exec(m, format!("ALTER TABLE village DROP COLUMN {col}")).await?;
        }
        Ok(())
    }
}
