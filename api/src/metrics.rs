//! Process-wide metrics for operators and benchmarks, served at `/metrics` in Prometheus' text
//! format through the `metrics` facade and `metrics-exporter-prometheus`'s recorder (without its
//! own listener: the API's router serves the text). Nothing about who asked or what they read.
//!
//! - `sangam_graphql_operations_total`: GraphQL operations executed (counter, as before).
//! - `sangam_sql_statements_total`: SQL statements sent (counter, as before).
//! - `sangam_graphql_operation_seconds{operation}`: latency of each operation, by its name
//!   (`anonymous` when it has none; at most [`MAX_NAMES`] names, then `other`) (histogram).
//! - `sangam_sql_statement_seconds{kind}`: each statement's time, by its first keyword
//!   (`select`, `insert`, `update`, `delete`, `with`, `other`) (histogram). Its `_sum` replaces
//!   the former counter `sangam_sql_statement_seconds_total`.
//! - `sangam_slow_requests_total`: operations slower than `--slow-request-ms` (each also logged).

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock, PoisonError},
    time::Duration,
};

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sea_orm::DatabaseConnection;

/// Histogram buckets, in seconds: from a fast statement to a request timeout.
const BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

/// Most distinct operation names given a series of their own (names come from clients).
pub const MAX_NAMES: usize = 200;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once per process; later calls do nothing).
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "metrics disabled");
                return None;
            }
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if let Err(e) = metrics::set_global_recorder(recorder) {
            tracing::warn!(error = %e, "metrics disabled: another recorder is installed");
            return None;
        }
        // Histograms keep their samples until drained: drain them between scrapes too.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
        }
        // Present from the start, so a scrape before the first request reads 0.
        counter!("sangam_graphql_operations_total").absolute(0);
        counter!("sangam_sql_statements_total").absolute(0);
        counter!("sangam_slow_requests_total").absolute(0);
        Some(handle)
    });
}

/// The statement's kind: its first keyword, lower case.
fn kind(sql: &str) -> &'static str {
    let word = sql
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    const KINDS: [&str; 5] = ["select", "insert", "update", "delete", "with"];
    KINDS
        .into_iter()
        .find(|k| word.eq_ignore_ascii_case(k))
        .unwrap_or("other")
}

/// Counts and times every statement `db` sends from now on; while spans are exported, each
/// statement is also a span (see [`statement_span`]).
pub fn count_statements(db: &mut DatabaseConnection) {
    install();
    let system = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "postgresql",
        sea_orm::DatabaseBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    db.set_metric_callback(move |info| {
        let kind = kind(&info.statement.sql);
        counter!("sangam_sql_statements_total").increment(1);
        histogram!("sangam_sql_statement_seconds", "kind" => kind)
            .record(info.elapsed.as_secs_f64());
        if crate::telemetry::exporting() {
            statement_span(kind, system, info.elapsed, info.failed);
        }
    });
}

/// A span for a statement that has just finished, in the span it ran in (a resolver's, or the
/// operation's for a DataLoader batch). sea-orm reports a statement only once it is done, so
/// the span is made after the fact and says how long before it the statement began
/// (`sangam.elapsed_ns`). Its name and attributes are the statement's kind, never its text,
/// which would carry the values of literals.
fn statement_span(kind: &'static str, system: &'static str, took: Duration, failed: bool) {
    let name = match kind {
        "select" => "SELECT",
        "insert" => "INSERT",
        "update" => "UPDATE",
        "delete" => "DELETE",
        "with" => "WITH",
        _ => "SQL",
    };
    let span = tracing::debug_span!(
        target: "sangam::sql",
        "statement",
        otel.name = name,
        otel.kind = "client",
        db.system.name = system,
        db.operation.name = kind,
        sangam.elapsed_ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
        otel.status_code = tracing::field::Empty,
    );
    if failed {
        span.record("otel.status_code", "ERROR");
    }
}

/// The label an operation's name gets: the name itself while it is a GraphQL name and one of
/// the first [`MAX_NAMES`] seen, `anonymous` without one, `other` past the limit.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if !valid {
        return "other".to_owned();
    }
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.contains(name) || seen.len() < MAX_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

/// One GraphQL operation was executed, named `label`, in `took`.
pub fn operation(label: &str, took: Duration) {
    counter!("sangam_graphql_operations_total").increment(1);
    histogram!("sangam_graphql_operation_seconds", "operation" => label.to_owned())
        .record(took.as_secs_f64());
}

/// An operation was slower than the threshold.
pub fn slow_request() {
    counter!("sangam_slow_requests_total").increment(1);
}

/// Everything recorded, in Prometheus' text exposition format.
pub fn render() -> String {
    install();
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_told_apart_by_their_first_keyword() {
        assert_eq!(kind("SELECT 1"), "select");
        assert_eq!(kind("  insert INTO x"), "insert");
        assert_eq!(kind("WITH a AS (SELECT 1) SELECT * FROM a"), "with");
        assert_eq!(kind("(SELECT 1) UNION (SELECT 2)"), "select");
        assert_eq!(kind("BEGIN"), "other");
    }

    #[test]
    fn operation_names_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Village")), "Village");
        assert_eq!(operation_label(Some("bad name\"")), "other");
        assert_eq!(operation_label(Some("1x")), "other");
        for n in 0..MAX_NAMES + 5 {
            operation_label(Some(&format!("op{n}")));
        }
        assert_eq!(
            operation_label(Some("Village")),
            "Village",
            "known names stay"
        );
        assert_eq!(operation_label(Some("neverSeenBefore")), "other");
    }
}
