//! Sangam: the Jal Jeevan Mission convergence API.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod graphql;
pub mod http;
pub mod metrics;
pub mod principal;
pub mod seed;
pub mod server;
pub mod service;
pub mod telemetry;
pub mod webhooks;
