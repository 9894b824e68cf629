//! Process-wide counters for operators and benchmarks, served at `/metrics` in Prometheus' text
//! format: GraphQL operations run and SQL statements sent, so statements per operation can be
//! read off any running server. Counts only; nothing about who asked or what.

use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;

static OPERATIONS: AtomicU64 = AtomicU64::new(0);
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static STATEMENT_MICROS: AtomicU64 = AtomicU64::new(0);

/// Counts every statement `db` sends (and the time it took) from now on.
pub fn count_statements(db: &mut DatabaseConnection) {
    db.set_metric_callback(|info| {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(info.elapsed.as_micros()).unwrap_or(u64::MAX);
        STATEMENT_MICROS.fetch_add(micros, Ordering::Relaxed);
    });
}

/// One GraphQL operation was executed.
pub fn operation() {
    OPERATIONS.fetch_add(1, Ordering::Relaxed);
}

/// The counters in Prometheus' text exposition format.
pub fn render() -> String {
    fn counter(name: &str, help: &str, value: impl std::fmt::Display) -> String {
        format!("# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n")
    }
    let seconds = STATEMENT_MICROS.load(Ordering::Relaxed) as f64 / 1e6;
    [
        counter(
            "sangam_graphql_operations_total",
            "GraphQL operations executed.",
            OPERATIONS.load(Ordering::Relaxed),
        ),
        counter(
            "sangam_sql_statements_total",
            "SQL statements sent to the database.",
            STATEMENTS.load(Ordering::Relaxed),
        ),
        counter(
            "sangam_sql_statement_seconds_total",
            "Time spent waiting for SQL statements.",
            format!("{seconds:.6}"),
        ),
    ]
    .concat()
}
