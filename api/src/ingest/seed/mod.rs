//! The deterministic demo dataset: Chhattisgarh's Bastar and Raipur divisions and Madhya
//! Pradesh's Indore division, with plausible blocks, gram panchayats and about 2,500 villages,
//! schemes in every status, departments, sector partners and their assignments, tasks in every
//! status (some overdue) with their history, and water-quality tests (a few contaminated).
//!
//! Every id, name and number comes from a seeded generator and dates are relative to `today`,
//! so two runs (on SQLite or PostgreSQL) give the same data and "overdue" stays meaningful.

mod generate;
pub mod names;
pub mod synthetic;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use entities::state;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, TransactionTrait,
};

/// What the demo seed wrote (rows per table), for logging.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SeedSummary {
    pub states: u64,
    pub divisions: u64,
    pub districts: u64,
    pub blocks: u64,
    pub gram_panchayats: u64,
    pub villages: u64,
    pub schemes: u64,
    pub organisations: u64,
    pub assignments: u64,
    pub tasks: u64,
    pub task_events: u64,
    pub water_quality_tests: u64,
}

/// True when the database already holds geography (so `serve --demo` does not seed twice).
pub async fn is_seeded(db: &DatabaseConnection) -> anyhow::Result<bool> {
    Ok(state::Entity::find().count(db).await? > 0)
}

/// Seeds the demo dataset into an empty, migrated database, in one transaction.
pub async fn demo(db: &DatabaseConnection, today: NaiveDate) -> anyhow::Result<SeedSummary> {
    if is_seeded(db).await? {
        bail!("the database already holds data; the demo seeds only an empty database");
    }
    let data = generate::Dataset::build(today);
    let txn = db.begin().await?;
    let summary = data.write(&txn).await.context("writing the demo data")?;
    migration::rollups::rebuild(&txn).await?;
    txn.commit().await?;
    advance_sequences(db).await?;
    Ok(summary)
}

/// Recounts the per-district rollups, in one transaction, after rows arrived by a way other
/// than the API's writes (which keep them exact themselves).
pub async fn rebuild_rollups(db: &DatabaseConnection) -> anyhow::Result<()> {
    let txn = db.begin().await?;
    migration::rollups::rebuild(&txn)
        .await
        .context("counting the rollups")?;
    txn.commit().await?;
    Ok(())
}

/// Explicit ids leave PostgreSQL's identity sequences behind; moves them past the seeded rows.
async fn advance_sequences(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        for table in generate::TABLES {
            db.execute_unprepared(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
            ))
            .await?;
        }
    }
    Ok(())
}
