//! Opening the database: SQLite (embedded default) or PostgreSQL, chosen by the URL.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// How long a pooled PostgreSQL connection may sit idle before it is pinged as it is handed
/// out (`--db-ping-after-idle-ms`'s default).
pub const DEFAULT_PING_AFTER_IDLE_MS: u64 = 1000;

/// How a pool is sized and how it checks its PostgreSQL connections.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    pub max_connections: u32,
    /// A connection idle for at least this long is pinged before it is handed out.
    pub ping_after_idle: Duration,
}

impl Pool {
    /// A pool of at most `max_connections`, pinging connections idle for the default time.
    pub fn of(max_connections: u32) -> Self {
        Self {
            max_connections,
            ping_after_idle: Duration::from_millis(DEFAULT_PING_AFTER_IDLE_MS),
        }
    }
}

/// Opens a pool of at most `max_connections` for `url` (see [`connect_pool`]).
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    connect_pool(url, Pool::of(max_connections)).await
}

/// Opens a pool for `url`.
///
/// An in-memory SQLite database exists only inside the connection that created it, so such a
/// pool is pinned to exactly one connection that is never recycled; a second connection would
/// see an empty database.
pub async fn connect_pool(url: &str, pool: Pool) -> anyhow::Result<DatabaseConnection> {
    let max_connections = pool.max_connections;
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    let sqlite = url.starts_with("sqlite:");
    if sqlite && is_in_memory(url) {
        opts.max_connections(1)
            .min_connections(1)
            .idle_timeout(None::<Duration>)
            .max_lifetime(None::<Duration>);
    } else if sqlite {
        opts.max_connections(max_connections.max(1))
            .map_sqlx_sqlite_opts(|o| {
                use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
                // WAL lets readers run while a writer commits; NORMAL is durable under WAL.
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(5))
                    .foreign_keys(true)
            });
    } else {
        // After a failover the pool holds connections to a server that is gone (HAProxy closes
        // them when the node stops being primary). A connection that has been idle is pinged
        // as it is handed out, so a dead one is dropped and replaced by a new connection, which
        // reaches the new primary, instead of failing a request. A connection in steady use is
        // not: a ping is a round trip, as much as the one statement of a village lookup. The
        // price is that right after a failover under load each connection that was in use
        // fails one request with SERVICE_UNAVAILABLE (retryable) and is replaced; the
        // HikariCP pool makes the same trade (its bypass window is 500 ms). Idle connections
        // are retired after ten minutes and every connection after thirty, so none outlives a
        // proxy's idle limit or keeps a server's memory forever.
        opts.max_connections(max_connections.max(1))
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(Duration::from_secs(1800));
        if pool.ping_after_idle.is_zero() {
            opts.test_before_acquire(true);
        } else {
            opts.test_before_acquire_if_idle_for(pool.ping_after_idle);
        }
    }
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("cannot open database {}", mask_url(url)))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

/// Opens a pool like [`connect`], but first waits for a PostgreSQL server that cannot be reached
/// yet (it may be starting alongside Sangam): retries with backoff for up to `patience`, then
/// fails saying what failed and where ("connection refused at 127.0.0.1:5432"). Errors that
/// waiting cannot cure (a wrong password, a missing database) fail at once.
pub async fn connect_patiently(
    url: &str,
    pool: Pool,
    patience: Duration,
) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        return connect_pool(url, pool).await;
    }
    let start = std::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let failure = match probe(url).await {
            Ok(()) => return connect_pool(url, pool).await,
            Err(e) => e,
        };
        let (why, lasting) = describe(&failure);
        let why = format!("{why} at {}", address(url));
        let left = patience.saturating_sub(start.elapsed());
        if lasting || left.is_zero() {
            anyhow::bail!(
                "cannot open database {}: {why} (tried for {} s)",
                mask_url(url),
                start.elapsed().as_secs()
            );
        }
        tracing::warn!(error = %why, retry_in_ms = delay.as_millis() as u64, "database not reachable yet");
        tokio::time::sleep(delay.min(left)).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn probe(url: &str) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::{Connection, postgres::PgConnection};
    let conn = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(url))
        .await
        .map_err(|_| sea_orm::sqlx::Error::PoolTimedOut)??;
    conn.close().await
}

/// What went wrong, in a few words, and whether retrying cannot help.
fn describe(e: &sea_orm::sqlx::Error) -> (String, bool) {
    use sea_orm::sqlx::Error as E;
    match e {
        E::Io(io) => (io.kind().to_string(), false),
        E::PoolTimedOut => ("no answer within 5 s".to_owned(), false),
        E::Tls(t) => (format!("TLS failed: {t}"), true),
        E::Database(d) => {
            let code = d.code().unwrap_or_default().into_owned();
            // 28xxx: authentication; 3D000: no such database. 57P03 (starting up) and the
            // rest may pass.
            let lasting = code.starts_with("28") || code == "3D000";
            (format!("{} (SQLSTATE {code})", d.message()), lasting)
        }
        E::Configuration(c) => (format!("bad database URL: {c}"), true),
        other => (other.to_string(), false),
    }
}

/// `host:port` of a database URL, for messages.
fn address(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.contains(':') || host.is_empty() {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The URL with any password replaced, for logs.
/// Whether the pool has been closed, which only happens when the server stops: background loops
/// then end quietly instead of logging each failed statement as a database fault.
pub fn closed(db: &DatabaseConnection) -> bool {
    match db.get_database_backend() {
        DbBackend::Postgres => db.get_postgres_connection_pool().is_closed(),
        DbBackend::Sqlite => db.get_sqlite_connection_pool().is_closed(),
        _ => false,
    }
}

pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address("postgres://u:p@db.local/x"), "db.local:5432");
        assert_eq!(
            address("postgres://127.0.0.1:6543/x?sslmode=disable"),
            "127.0.0.1:6543"
        );
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_url("postgres://sangam:s3cret@db:5432/sangam"),
            "postgres://sangam:***@db:5432/sangam"
        );
        assert_eq!(
            mask_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(
            mask_url("sqlite://sangam.db?mode=rwc"),
            "sqlite://sangam.db?mode=rwc"
        );
    }
}
