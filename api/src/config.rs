//! Command line and environment. Every flag can also come from the environment.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(name = "sangam", version, about = "Sangam: the Jal Jeevan Mission convergence GraphQL API")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(long, env = "SANGAM_LOG_FORMAT", value_enum, default_value = "pretty", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(ServeArgs),
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Load data into the database.
    Seed {
        #[command(subcommand)]
        dataset: SeedDataset,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the GraphQL SDL, or write it to PATH.
    ExportSchema { path: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last applied migration (or `--steps N`).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum SeedDataset {
    /// The deterministic demo dataset (Chhattisgarh and Madhya Pradesh); needs an empty database.
    Demo,
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://sangam.db?mode=rwc", global = true)]
    pub database_url: String,
    /// Largest number of pooled database connections.
    #[arg(long, env = "SANGAM_DB_MAX_CONNECTIONS", default_value_t = 10, global = true)]
    pub db_max_connections: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SANGAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Load the demo dataset on start when the database is empty.
    #[arg(long, env = "SANGAM_DEMO")]
    pub demo: bool,
    /// Largest `first`/`last` a client may ask for.
    #[arg(long, env = "SANGAM_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u64,
}
