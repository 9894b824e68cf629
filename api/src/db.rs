//! Opening the database: SQLite (embedded default) or PostgreSQL, chosen by the URL.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

/// Opens a pool for `url`.
///
/// An in-memory SQLite database exists only inside the connection that created it, so such a
/// pool is pinned to exactly one connection that is never recycled; a second connection would
/// see an empty database.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
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
        // them when the node stops being primary). Each connection is pinged as it is handed
        // out, so a dead one is dropped and replaced by a new connection, which reaches the new
        // primary, instead of failing a request. Idle connections are retired after ten
        // minutes and every connection after thirty, so none outlives a proxy's idle limit or
        // keeps a server's memory forever.
        opts.max_connections(max_connections.max(1))
            .test_before_acquire(true)
            .idle_timeout(Duration::from_secs(600))
            .max_lifetime(Duration::from_secs(1800));
    }
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("cannot open database {}", mask_url(url)))?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA foreign_keys = ON").await?;
    }
    Ok(db)
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The URL with any password replaced, for logs.
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
