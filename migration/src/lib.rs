//! Schema migrations. The same migrations run on SQLite (the embedded default) and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_create_schema;
mod m20261122_000002_create_auth;
mod m20261122_000003_create_workflow;
mod m20261122_000004_create_persisted_query;
mod m20261122_000005_create_rollups;
mod m20261126_000001_create_event_log;
mod m20261126_000002_create_webhooks;
mod m20261126_000004_orderings_and_search;
mod m20261126_000005_task_test_links;
mod m20261126_000006_scheme_works;
mod m20261126_000007_water_quality_sample_id;
mod m20261126_000008_webhook_delivery_pending;
pub mod rollups;
pub mod search_key;
pub mod works_rollups;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_create_schema::Migration),
            Box::new(m20261122_000002_create_auth::Migration),
            Box::new(m20261122_000003_create_workflow::Migration),
            Box::new(m20261122_000004_create_persisted_query::Migration),
            Box::new(m20261122_000005_create_rollups::Migration),
            Box::new(m20261126_000001_create_event_log::Migration),
            Box::new(m20261126_000002_create_webhooks::Migration),
            Box::new(m20261126_000004_orderings_and_search::Migration),
            Box::new(m20261126_000005_task_test_links::Migration),
            Box::new(m20261126_000006_scheme_works::Migration),
            Box::new(m20261126_000007_water_quality_sample_id::Migration),
            Box::new(m20261126_000008_webhook_delivery_pending::Migration),
        ]
    }
}
