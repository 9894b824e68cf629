//! The `sangam` command.

pub mod import;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};

use crate::{
    auth::{clients, keys},
    config::{
        Cli, ClientAction, Command, EventsAction, KeyAction, MigrateAction, PersistedQueryAction,
        SeedDataset,
    },
    db, graphql,
    principal::{Role, Scope},
    seed, server, telemetry,
};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let otlp = match &cli.command {
        Command::Serve(args) => args.otlp.settings(),
        _ => None,
    };
    let exporter = telemetry::init(cli.log_format, otlp);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let done = runtime.block_on(run(cli.command, exporter));
    // Background workers (webhooks, listeners) and blocking calls still running are not
    // waited for without end: dropping the runtime would wait on blocking threads forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => match e.downcast_ref::<import::Exit>() {
            Some(import::Exit(code)) => ExitCode::from(*code),
            None => {
                tracing::error!("{e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run(command: Command, exporter: Option<telemetry::otlp::Exporter>) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server::serve(*args, exporter).await,
        Command::Import(args) => import::run(*args).await,
        Command::Migrate { action, db } => {
            if let MigrateAction::Status = action
                && let Some(file) = missing_sqlite_file(&db.database_url)
            {
                // Looking must not create: report every migration as pending instead.
                eprintln!("no database at {} yet", file.display());
                for m in Migrator::migrations() {
                    println!("Pending\t{}", m.name());
                }
                return Ok(());
            }
            let conn = db::connect(&db.database_url, 1).await?;
            match action {
                MigrateAction::Up => Migrator::up(&conn, None).await?,
                MigrateAction::Down { steps, yes } => {
                    if !yes && let Some(table) = first_table_with_rows(&conn).await? {
                        anyhow::bail!(
                            "rolling back drops tables or columns, and this database holds data \
                             (table {table} has rows); run again with --yes to roll back anyway"
                        );
                    }
                    Migrator::down(&conn, Some(steps)).await?
                }
                MigrateAction::Status => {
                    for m in Migrator::get_migration_with_status(&conn).await? {
                        println!("{}\t{}", m.status(), m.name());
                    }
                }
                MigrateAction::Rollups => seed::rebuild_rollups(&conn).await?,
            }
            Ok(())
        }
        Command::Seed { dataset, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            let today = crate::service::today_ist();
            let summary = match dataset {
                SeedDataset::Demo => seed::demo(&conn, today).await?,
                SeedDataset::Synthetic { scale, seed: n } => {
                    seed::synthetic::synthetic(&conn, scale, n, today).await?
                }
            };
            println!("{}", serde_json::to_string_pretty(&summary)?);
            if clients::list(&conn).await?.is_empty() {
                eprintln!("{NO_CLIENTS_HINT}");
            }
            Ok(())
        }
        Command::Client { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            client(&conn, action).await
        }
        Command::PersistedQuery { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            persisted_query(&conn, action).await
        }
        Command::Events { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            match action {
                EventsAction::Prune { retention } => {
                    let n =
                        crate::events::log::prune(&conn, chrono::Utc::now() - retention.window())
                            .await?;
                    println!(
                        "pruned {n} events older than {} days",
                        retention.event_retention_days
                    );
                }
            }
            Ok(())
        }
        Command::Key { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            match action {
                KeyAction::Rotate {
                    grace_secs,
                    token_ttl_secs,
                    clock_skew_secs,
                } => {
                    let least = token_ttl_secs.saturating_add(clock_skew_secs);
                    if grace_secs < least {
                        anyhow::bail!(
                            "--grace-secs {grace_secs} is shorter than the token lifetime plus clock \
                             skew ({token_ttl_secs} + {clock_skew_secs} = {least} s): tokens signed \
                             by the old key would be refused before they expire"
                        );
                    }
                    let key =
                        keys::rotate(&conn, std::time::Duration::from_secs(grace_secs)).await?;
                    println!(
                        "now signing with {}; older keys verify for {grace_secs} s more",
                        key.kid
                    );
                }
                KeyAction::List => {
                    for k in keys::list(&conn).await? {
                        let state = match (k.retired_at, k.expires_at) {
                            (None, _) => "signing".to_owned(),
                            (Some(_), Some(until)) => format!("verifying until {until}"),
                            (Some(_), None) => "retired".to_owned(),
                        };
                        println!("{}\t{}\t{}\t{state}", k.kid, k.algorithm, k.created_at);
                    }
                }
            }
            Ok(())
        }
        Command::ExportSchema { path } => {
            let sdl = graphql::sdl();
            match path {
                Some(p) => {
                    std::fs::write(&p, sdl).with_context(|| format!("writing {}", p.display()))?
                }
                None => print!("{sdl}"),
            }
            Ok(())
        }
    }
}

/// What `seed demo` says when no client could use the data it loaded.
const NO_CLIENTS_HINT: &str = "No OAuth clients are registered yet, so no one can get a token. Either\n\
  run `sangam serve --demo` (it creates one client per role and prints how to get a token), or\n\
  register one: sangam client add --name \"State PMU\" --role state_admin --states 22 \\\n\
      --scopes \"villages:read tasks:read tasks:write assignments:read progress:read\"";

/// The file of a SQLite URL when that file does not exist (in-memory databases have none).
fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    let path = std::path::PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// A table of the application (not the migration ledger) that holds at least one row.
async fn first_table_with_rows(
    conn: &sea_orm::DatabaseConnection,
) -> anyhow::Result<Option<String>> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let backend = conn.get_database_backend();
    let list = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        }
    };
    let rows = conn
        .query_all_raw(Statement::from_string(backend, list))
        .await?;
    for row in rows {
        let table: String = row.try_get("", "name")?;
        // Bookkeeping the migrations write themselves is not data anyone would lose.
        if matches!(table.as_str(), "seaql_migrations" | "webhook_cursor") {
            continue;
        }
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        let probe = format!("SELECT 1 AS one FROM {quoted} LIMIT 1");
        if conn
            .query_one_raw(Statement::from_string(backend, probe))
            .await?
            .is_some()
        {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

async fn persisted_query(
    conn: &sea_orm::DatabaseConnection,
    action: PersistedQueryAction,
) -> anyhow::Result<()> {
    use graphql::allow_list;
    match action {
        PersistedQueryAction::Add { files } => {
            // Every file is read and validated before any is registered: all or nothing.
            let mut documents = Vec::new();
            for f in files {
                let query = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                allow_list::validate(&query)
                    .await
                    .map_err(|why| anyhow::anyhow!("{}: {why}", f.display()))?;
                documents.push((f, query));
            }
            for (f, query) in documents {
                let hash = graphql::persisted::register(conn, &query).await?;
                println!("{hash}\t{}", f.display());
            }
        }
        PersistedQueryAction::List => {
            for q in allow_list::list(conn).await? {
                let names = allow_list::validate(&q.query)
                    .await
                    .map(|names| {
                        names
                            .into_iter()
                            .map(|n| n.unwrap_or_else(|| "(anonymous)".to_owned()))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_else(|why| format!("(no longer valid: {why})"));
                println!("{}\t{names}\t{}", q.sha256, q.created_at);
            }
        }
        PersistedQueryAction::Remove { sha256 } => {
            if !allow_list::remove(conn, &sha256).await? {
                anyhow::bail!("no registered operation has the hash {sha256}");
            }
            println!("removed {sha256}");
        }
    }
    Ok(())
}

async fn client(conn: &sea_orm::DatabaseConnection, action: ClientAction) -> anyhow::Result<()> {
    match action {
        ClientAction::Add {
            name,
            role,
            scopes,
            org,
            states,
            districts,
            client_id,
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role}"))?;
            let scopes = Scope::parse_list(&scopes.replace(',', " "))
                .map_err(|unknown| anyhow::anyhow!("unknown scope {unknown}"))?;
            clients::check_jurisdiction(conn, &states, &districts).await?;
            let new = clients::NewClient {
                client_id,
                name,
                role,
                organisation: org,
                states,
                districts,
                scopes,
            };
            let (c, secret) = clients::add(conn, new).await?;
            println!(
                "client_id:     {}\nclient_secret: {secret}\n(the secret is shown only now)",
                c.client_id
            );
        }
        ClientAction::List => {
            for c in clients::list(conn).await? {
                let state = if c.disabled { "disabled" } else { "enabled" };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    c.client_id, c.role, c.name, c.scopes
                );
            }
        }
        ClientAction::Disable { client_id } => {
            clients::set_disabled(conn, &client_id, true).await?
        }
        ClientAction::Enable { client_id } => {
            clients::set_disabled(conn, &client_id, false).await?
        }
        ClientAction::RotateSecret { client_id } => {
            let secret = clients::rotate_secret(conn, &client_id).await?;
            println!("client_secret: {secret}\n(the secret is shown only now)");
        }
    }
    Ok(())
}
