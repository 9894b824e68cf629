//! Sangam: the Jal Jeevan Mission convergence API.

pub mod auth;
pub mod browsers;
pub mod caller;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod graphiql;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod principal;
pub mod replica;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod webhooks;
pub mod ws;

/// The seeds live with the imports (they share the bulk writes); the old path still works.
pub use ingest::seed;
