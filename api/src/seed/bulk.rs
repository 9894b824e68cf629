//! Bulk loading: `COPY … FROM STDIN` on PostgreSQL, large multi-row inserts on SQLite, all in
//! one transaction, with a progress line per table.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, TransactionTrait,
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

    fn value(&self) -> Value {
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
            Target::Sqlite(txn) => {
                // SQLite binds at most 32,766 parameters a statement.
                let per = (32_000 / columns.len()).max(1);
                for chunk in rows.chunks(per) {
                    let mut q = Query::insert();
                    q.into_table(Alias::new(table))
                        .columns(columns.iter().map(|c| Alias::new(*c)));
                    for row in chunk {
                        q.values(row.iter().map(|c| c.value().into()).collect::<Vec<_>>())?;
                    }
                    txn.execute(&q).await?;
                }
            }
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
