//! Sangam integration tests. Every test runs against a fresh SQLite database, and again against a
//! fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

mod auth;
mod bad_input;
mod binary;
mod browsers;
mod cli_checks;
mod db_down;
mod durable_events;
mod event_log;
mod exports;
mod field_errors;
mod graphiql;
mod graphql_over_http;
mod http;
mod imports;
mod leaks;
mod limits;
mod n_plus_one;
mod pagination;
mod policy;
mod progress;
mod public_progress;
mod queries;
mod race;
mod replay;
mod replica_reads;
mod rollups;
mod schema_sdl;
mod subscriptions;
mod synthetic;
mod webhooks;
mod workflow;
mod write_checks;
