//! Bulk writes shared by the seeds and the imports: `COPY … FROM STDIN` on PostgreSQL for the
//! seeds' loader, and large multi-row inserts and updates that run inside any transaction (the
//! imports', which also write audit records and rollups in it).

use std::{
    io::Write,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
    sea_query::{Alias, Query, Value},
    sqlx::{Postgres, pool::PoolConnection},
};

/// One cell.
#[derive(Debug, Clone)]
pub enum Cell {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    Time(DateTime<Utc>),
    Null,
}

impl Cell {
    fn copy_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Cell::Int(n) => write!(out, "{n}").unwrap_or_default(),
            Cell::Float(x) => write!(out, "{x}").unwrap_or_default(),
            // Generated text holds no tabs, newlines or backslashes; escape them anyway.
            Cell::Text(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\t' => out.push_str("\\t"),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
            }
            Cell::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Cell::Date(d) => write!(out, "{d}").unwrap_or_default(),
            Cell::Time(t) => {
                write!(out, "{}", t.format("%Y-%m-%d %H:%M:%S+00")).unwrap_or_default()
            }
            Cell::Null => out.push_str("\\N"),
        }
    }

    /// The cast that types a parameter inside PostgreSQL's `VALUES`.
    fn pg_cast(&self) -> &'static str {
        match self {
            Cell::Int(_) => "::bigint",
            Cell::Float(_) => "::double precision",
            Cell::Text(_) | Cell::Null => "::text",
            Cell::Bool(_) => "::boolean",
            Cell::Date(_) => "::date",
            Cell::Time(_) => "::timestamptz",
        }
    }

    pub(crate) fn value(&self) -> Value {
        match self {
            Cell::Int(n) => Value::BigInt(Some(*n)),
            Cell::Float(x) => Value::Double(Some(*x)),
            Cell::Text(s) => Value::String(Some(s.clone())),
            Cell::Bool(b) => Value::Bool(Some(*b)),
            Cell::Date(d) => Value::ChronoDate(Some(*d)),
            Cell::Time(t) => Value::ChronoDateTimeUtc(Some(*t)),
            Cell::Null => Value::String(None),
        }
    }
}

/// SQLite binds at most 32,766 parameters a statement (PostgreSQL 65,535).
const MAX_PARAMS: usize = 32_000;

/// Inserts `rows` into `table` with as few multi-row statements as the bind limit allows.
pub async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Cell>],
) -> anyhow::Result<()> {
    let per = (MAX_PARAMS / columns.len().max(1)).max(1);
    for chunk in rows.chunks(per) {
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)));
        for row in chunk {
            q.values(row.iter().map(|c| c.value().into()).collect::<Vec<_>>())?;
        }
        conn.execute(&q).await?;
    }
    Ok(())
}

/// Updates rows of `table` by id, many a statement: `rows` hold the id, then one value for each
/// of `columns`. `also` are extra assignments in SQL over the old row (e.g. a version bump).
/// Both backends run `WITH v AS (VALUES …) UPDATE … FROM v` (SQLite since 3.33).
pub async fn update_rows<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    columns: &[&str],
    also: &[&str],
    rows: &[Vec<Cell>],
) -> anyhow::Result<()> {
    let backend = conn.get_database_backend();
    let width = columns.len() + 1;
    let per = (MAX_PARAMS / width).max(1);
    let mut set: Vec<String> = columns.iter().map(|c| format!("{c} = v.{c}")).collect();
    set.extend(also.iter().map(|a| (*a).to_owned()));
    let set = set.join(", ");
    let names = std::iter::once("id")
        .chain(columns.iter().copied())
        .collect::<Vec<_>>()
        .join(", ");
    for chunk in rows.chunks(per) {
        let mut sql = String::with_capacity(chunk.len() * width * 4 + 128);
        // A CTE names the VALUES' columns on both backends (SQLite has no `AS v(a, b)`).
        sql.push_str("WITH v(");
        sql.push_str(&names);
        sql.push_str(") AS (VALUES ");
        let mut values = Vec::with_capacity(chunk.len() * width);
        for (r, row) in chunk.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                values.push(cell.value());
                match backend {
                    // VALUES gives PostgreSQL no column types to infer parameters' from.
                    DbBackend::Postgres => {
                        use std::fmt::Write as _;
                        let _ = write!(sql, "${}{}", values.len(), cell.pg_cast());
                    }
                    _ => sql.push('?'),
                }
            }
            sql.push(')');
        }
        sql.push_str(") UPDATE ");
        sql.push_str(table);
        sql.push_str(" SET ");
        sql.push_str(&set);
        sql.push_str(" FROM v WHERE ");
        sql.push_str(table);
        sql.push_str(".id = v.id");
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

enum Target {
    Postgres(PoolConnection<Postgres>),
    Sqlite(DatabaseTransaction),
}

/// A loader holding one transaction for the whole load.
pub struct Loader {
    target: Target,
    pub rows: u64,
    started: Instant,
    table_rows: u64,
    last_report: Instant,
}

impl Loader {
    pub async fn begin(db: &DatabaseConnection) -> anyhow::Result<Self> {
        let target = match db.get_database_backend() {
            DbBackend::Postgres => {
                let mut conn = db.get_postgres_connection_pool().acquire().await?;
                sea_orm::sqlx::query("BEGIN").execute(&mut *conn).await?;
                Target::Postgres(conn)
            }
            _ => Target::Sqlite(db.begin().await?),
        };
        let now = Instant::now();
        Ok(Self {
            target,
            rows: 0,
            started: now,
            table_rows: 0,
            last_report: now,
        })
    }

    /// Appends rows to `table`.
    pub async fn write(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        match &mut self.target {
            Target::Postgres(conn) => {
                let mut text = String::with_capacity(rows.len() * 64);
                for row in rows {
                    for (i, cell) in row.iter().enumerate() {
                        if i > 0 {
                            text.push('\t');
                        }
                        cell.copy_text(&mut text);
                    }
                    text.push('\n');
                }
                let sql = format!("COPY {table} ({}) FROM STDIN", columns.join(", "));
                let mut copy = conn
                    .copy_in_raw(&sql)
                    .await
                    .with_context(|| format!("COPY into {table}"))?;
                copy.send(text.into_bytes()).await?;
                copy.finish().await?;
            }
            Target::Sqlite(txn) => insert_rows(txn, table, columns, rows).await?,
        }
        self.rows += rows.len() as u64;
        self.table_rows += rows.len() as u64;
        if self.last_report.elapsed() > Duration::from_millis(500) {
            self.progress(table);
        }
        Ok(())
    }

    fn progress(&mut self, table: &str) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        eprint!(
            "\r{table:<22} {:>10} rows   total {:>11} rows   {:>8.0} rows/s   ",
            self.table_rows,
            self.rows,
            self.rows as f64 / secs
        );
        let _ = std::io::stderr().flush();
        self.last_report = Instant::now();
    }

    /// Ends a table's progress line.
    pub fn done(&mut self, table: &str) {
        self.progress(table);
        eprintln!();
        self.table_rows = 0;
    }

    pub async fn commit(self) -> anyhow::Result<(u64, Duration)> {
        let rows = self.rows;
        let took = self.started.elapsed();
        match self.target {
            Target::Postgres(mut conn) => {
                sea_orm::sqlx::query("COMMIT").execute(&mut *conn).await?;
            }
            Target::Sqlite(txn) => txn.commit().await?,
        }
        Ok((rows, took))
    }
}
