//! The `sangam` command.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};

use crate::{
    config::{Cli, Command, MigrateAction, SeedDataset},
    db, graphql, seed, server, telemetry,
};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server::serve(args).await,
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
            }
            Ok(())
        }
        Command::Seed { dataset: SeedDataset::Demo, db } => {
            let conn = db::connect(&db.database_url, 1).await?;
            Migrator::up(&conn, None).await.context("applying migrations")?;
            let summary = seed::demo(&conn, crate::service::today_ist()).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(())
        }
        Command::ExportSchema { path } => {
            let sdl = graphql::sdl();
            match path {
                Some(p) => std::fs::write(&p, sdl).with_context(|| format!("writing {}", p.display()))?,
                None => print!("{sdl}"),
            }
            Ok(())
        }
    }
}
