//! Sangam integration tests. Every test runs against a fresh SQLite database, and again against a
//! fresh PostgreSQL database when `TEST_DATABASE_URL` is set.

mod auth_tokens;
mod bad_input;
mod binary;
mod db_down;
mod exports;
mod http;
mod imports;
mod leaks;
mod limits;
mod n_plus_one;
mod pagination;
mod policy;
mod progress;
mod queries;
mod race;
mod rollups;
mod schema_sdl;
mod subscriptions;
mod synthetic;
mod workflow;
