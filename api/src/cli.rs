//! The `sangam` command.

pub mod import;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};

use crate::{
    auth::{clients, keys},
    config::{
        Cli, ClientAction, Command, KeyAction, MigrateAction, PersistedQueryAction, SeedDataset,
    },
    db, graphql,
    principal::{Role, Scope},
    seed, server, telemetry,
};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
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
    match runtime.block_on(run(cli.command)) {
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

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server::serve(*args).await,
        Command::Import(args) => import::run(*args).await,
        Command::Migrate { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            match action {
                MigrateAction::Up => Migrator::up(&conn, None).await?,
                MigrateAction::Down { steps } => Migrator::down(&conn, Some(steps)).await?,
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
            Ok(())
        }
        Command::Client { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            client(&conn, action).await
        }
        Command::PersistedQuery {
            action: PersistedQueryAction::Add { files },
            db,
        } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            for f in files {
                let query = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                async_graphql::parser::parse_query(&query)
                    .with_context(|| format!("{} is not a GraphQL document", f.display()))?;
                let hash = graphql::persisted::register(&conn, &query).await?;
                println!("{hash}\t{}", f.display());
            }
            Ok(())
        }
        Command::Key { action, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None)
                .await
                .context("applying migrations")?;
            match action {
                KeyAction::Rotate { grace_secs } => {
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
