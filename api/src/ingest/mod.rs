//! Getting data in: the demo and synthetic seeds (`seed`) and the imports of real LGD and
//! IMIS-style files, one subsystem sharing the bulk writes (`bulk`). It sits beside the service
//! layer, not in it: the service answers one request about a few rows; this writes files' worth
//! of rows in one transaction, keeping the same invariants (rollups, audit, events).
//!
//! An import reads every file first (usage errors before any work), then, in one transaction,
//! checks every row of a file before writing that file's accepted rows. Rows are matched to what
//! is held by their natural key (an LGD code, a scheme code, a sample id, a scheme component
//! and day), so re-importing a file
//! changes nothing and a newer one changes only what differs, keeping ids. The transaction is
//! rolled back for a dry run, and when any row was rejected unless the import is partial. At
//! the end come one audit record per file, a recount of the rollups of every district touched,
//! and one event per village inserted or changed (see [`finish`]).

/// A column of an import file: its key and the headings it goes by (`table::Field`). Defined
/// before the modules so that every file format declares its columns the same way.
macro_rules! field {
    ($name:ident, $key:literal, [$($alias:literal),* $(,)?]) => {
        pub const $name: $crate::ingest::table::Field =
            $crate::ingest::table::Field { key: $key, aliases: &[$($alias),*] };
    };
}

pub mod bulk;
mod coverage;
pub mod lgd;
pub mod parse;
pub mod report;
mod scheme_progress;
mod schemes;
pub mod seed;
pub mod table;
mod villages;
mod water_quality;

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use entities::{audit_log, village};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Set, TransactionTrait,
};
use sha2::{Digest, Sha256};

use crate::{events::EventBus, principal::Principal};
pub use report::Report;
use table::{Format, Mapping, Rows};

/// A mistake in how an import was asked for (a file that cannot be read, an unknown column
/// layout): nothing is checked or written; the CLI exits with status 2.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl ImportError {
    /// A record the service refused for a reason other than the row (the database, a fault):
    /// the import stops, naming the file and line. The cause is given whole: this goes to the
    /// operator running the import, not to a GraphQL client.
    fn write_failed(file: &str, line: impl std::fmt::Display, e: &crate::error::ApiError) -> Self {
        use crate::error::ApiError;
        let why = match e {
            ApiError::Internal(cause) | ApiError::Unavailable(cause) => format!("{cause:#}"),
            other => other.to_string(),
        };
        Self::Failed(anyhow::anyhow!("{file} line {line}: {why}"))
    }
}

impl From<sea_orm::DbErr> for ImportError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Failed(e.into())
    }
}

/// What is being imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// LGD geography: states, districts, blocks, gram panchayats, villages.
    Lgd,
    /// District code → revenue division.
    Divisions,
    /// IMIS village coverage: households, tap connections, Har Ghar Jal.
    Coverage,
    /// IMIS schemes and the villages they serve.
    Schemes,
    /// Water-quality results, judged against BIS 10500 as `recordWaterQualityTest` judges them.
    WaterQuality,
    /// Physical progress of scheme components, recorded as `recordSchemeProgress` records it.
    SchemeProgress,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lgd => "lgd",
            Kind::Divisions => "divisions",
            Kind::Coverage => "coverage",
            Kind::Schemes => "schemes",
            Kind::WaterQuality => "water-quality",
            Kind::SchemeProgress => "scheme-progress",
        }
    }
}

/// Whether `who` may import files of `kind` over the API (docs/ACCESS.md): `import:write`, and
/// LGD geography and divisions for state administrators only; coverage and schemes for state
/// administrators and district coordinators; water-quality results also for Health, with
/// `quality:write` as well, since each sample is recorded as `recordWaterQualityTest` records
/// it; scheme progress for PHED (state administrators, district coordinators, PHED officers),
/// with `schemes:write` as well, since each record is made as `recordSchemeProgress` makes it.
/// The rows themselves are checked against the caller's jurisdiction by line. The error
/// names what is missing.
pub fn may_import(who: &Principal, kind: Kind) -> Result<(), String> {
    use crate::principal::{Role, Scope};
    use entities::enums::Department;
    if !who.has_scope(Scope::ImportWrite) {
        return Err(Scope::ImportWrite.as_str().to_owned());
    }
    let allowed = match (kind, who.role) {
        (_, Role::StateAdmin) => true,
        (Kind::Coverage | Kind::Schemes | Kind::WaterQuality, Role::DistrictCoordinator) => true,
        (Kind::WaterQuality, Role::Department) => who.department == Some(Department::Health),
        (Kind::SchemeProgress, Role::DistrictCoordinator) => true,
        (Kind::SchemeProgress, Role::Department) => who.department == Some(Department::Phed),
        _ => false,
    };
    if !allowed {
        return Err(match kind {
            Kind::Lgd | Kind::Divisions => "a state administrator to import geography".into(),
            Kind::Coverage | Kind::Schemes => {
                "a state administrator or a district coordinator to import this".into()
            }
            Kind::WaterQuality => {
                "a state administrator, a district coordinator or Health to import water-quality \
                 results"
                    .into()
            }
            Kind::SchemeProgress => {
                "PHED (a state administrator, a district coordinator or a PHED officer) to \
                 import scheme progress"
                    .into()
            }
        });
    }
    if kind == Kind::WaterQuality && !who.has_scope(Scope::QualityWrite) {
        return Err(Scope::QualityWrite.as_str().to_owned());
    }
    if kind == Kind::SchemeProgress && !who.has_scope(Scope::SchemesWrite) {
        return Err(Scope::SchemesWrite.as_str().to_owned());
    }
    Ok(())
}

/// A file to import: its name (for the extension and the report) and its bytes.
pub struct Source {
    pub name: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    pub partial: bool,
    pub mapping: Mapping,
}

/// Where an import reports how far it is.
pub trait Progress: Send + Sync {
    fn start(&self, what: &str, total: Option<u64>);
    fn inc(&self, n: u64);
    fn finish(&self);
}

/// No progress reports (uploads, tests).
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

/// A file opened for import.
pub(crate) struct Opened {
    pub name: String,
    pub sha256: String,
    pub rows: Rows,
}

/// An import in progress.
pub(crate) struct Ctx<'a> {
    pub txn: &'a DatabaseTransaction,
    pub who: &'a Principal,
    pub today: NaiveDate,
    pub progress: &'a dyn Progress,
    /// Districts whose rollups to recount.
    pub districts: BTreeSet<i64>,
    /// A district, block or panchayat moved to another parent: its villages follow.
    pub moved_parents: bool,
    /// A village is now in another district: its tasks (and schemes left behind) follow.
    pub moved_villages: bool,
    /// Villages changed, with what changed: their events are appended in `finish`.
    events: Vec<(i64, String)>,
    /// The principal's service, for writes made by the service layer's own functions within
    /// this transaction ([`crate::service::Service::within`]).
    pub svc: crate::service::Service,
    /// The events of those writes, appended in `finish`.
    pub service_events: Vec<crate::events::log::NewEvent>,
    pub dry_run: bool,
    pub partial: bool,
}

impl Ctx<'_> {
    /// Queues the event of a village inserted or changed.
    pub fn changed(&mut self, village_id: i64, change: &str) {
        self.events.push((village_id, change.to_owned()));
    }
}

/// Runs an import of `kind` from `sources` as `who`, and reports what it did.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    db: &DatabaseConnection,
    kind: Kind,
    sources: Vec<Source>,
    options: &Options,
    who: &Principal,
    today: NaiveDate,
    request_id: Option<&str>,
    progress: &dyn Progress,
    bus: Option<&EventBus>,
) -> Result<Report, ImportError> {
    if sources.is_empty() {
        return Err(UsageError("name at least one file".into()).into());
    }
    let mut files = Vec::with_capacity(sources.len());
    for s in sources {
        let format = Format::of(&s.name)?;
        let sha256 = hex(&Sha256::digest(&s.bytes));
        let rows = Rows::open(&s.name, s.bytes, format, &options.mapping)?;
        files.push(Opened {
            name: s.name,
            sha256,
            rows,
        });
    }
    let txn = db.begin().await?;
    let mut ctx = Ctx {
        txn: &txn,
        who,
        today,
        progress,
        districts: BTreeSet::new(),
        moved_parents: false,
        moved_villages: false,
        events: Vec::new(),
        svc: crate::service::Service::on(db.clone(), who.clone(), today)
            .with_request_id(request_id.map(str::to_owned)),
        service_events: Vec::new(),
        dry_run: options.dry_run,
        partial: options.partial,
    };
    let mut report = Report {
        dry_run: options.dry_run,
        partial: options.partial,
        ..Default::default()
    };
    match kind {
        Kind::Lgd => lgd::import(&mut ctx, files, &mut report.files).await?,
        Kind::Divisions => {
            for f in files {
                report.files.push(lgd::divisions(&mut ctx, f).await?);
            }
        }
        Kind::Coverage => {
            for f in files {
                report.files.push(coverage::import(&mut ctx, f).await?);
            }
        }
        Kind::Schemes => {
            for f in files {
                report.files.push(schemes::import(&mut ctx, f).await?);
            }
        }
        Kind::WaterQuality => {
            for f in files {
                report.files.push(water_quality::import(&mut ctx, f).await?);
            }
        }
        Kind::SchemeProgress => {
            for f in files {
                report
                    .files
                    .push(scheme_progress::import(&mut ctx, f).await?);
            }
        }
    }
    let write = !options.dry_run && (report.rejected() == 0 || options.partial);
    if !write {
        txn.rollback().await?;
        return Ok(report);
    }
    finish(&mut ctx, kind, &report, request_id).await?;
    txn.commit().await?;
    if let Some(bus) = bus {
        bus.committed();
    }
    report.written = true;
    Ok(report)
}

/// The end of every import, in its transaction: villages follow parents that moved, rollups of
/// the districts touched are recounted, one audit record per file, and the changed villages'
/// events are appended to the durable event log (which wakes readers on PostgreSQL; on SQLite
/// the caller does, after commit).
///
/// Events are appended here and only here.
async fn finish(
    ctx: &mut Ctx<'_>,
    kind: Kind,
    report: &Report,
    request_id: Option<&str>,
) -> anyhow::Result<()> {
    if ctx.moved_parents {
        follow_parents(ctx).await?;
    }
    if ctx.moved_villages {
        follow_villages(ctx).await?;
    }
    let districts: Vec<i64> = ctx.districts.iter().copied().collect();
    migration::rollups::recount(ctx.txn, &districts).await?;
    let who = ctx.who;
    for f in &report.files {
        let after = serde_json::json!({
            "kind": kind.as_str(),
            "fileKind": f.kind,
            "file": f.file,
            "sha256": f.sha256,
            "rows": f.rows,
            "inserted": f.inserted,
            "updated": f.updated,
            "unchanged": f.unchanged,
            "rejected": f.rejected,
            "partial": report.partial,
        });
        audit_log::ActiveModel {
            at: Set(Utc::now()),
            actor_sub: Set(who.sub.clone()),
            actor_client: Set(who.client_id.clone()),
            actor_organisation_id: Set(who.organisation_id),
            actor_role: Set(who.role.as_str().to_owned()),
            district_id: Set(None),
            operation: Set(format!("import {}", kind.as_str())),
            entity: Set("import".to_owned()),
            entity_id: Set(f.sha256.clone()),
            before: Set(None),
            after: Set(Some(after.to_string())),
            request_id: Set(request_id.map(str::to_owned)),
            ..Default::default()
        }
        .insert(ctx.txn)
        .await?;
    }
    // Appended in batches (`append_many`): one statement per few thousand events, not one per
    // village (a national first load changes every village).
    let events = std::mem::take(&mut ctx.events);
    let mut batch = Vec::with_capacity(events.len().min(crate::events::log::EVENTS_PER_STATEMENT));
    for chunk in events.chunks(1_000) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let villages: std::collections::HashMap<i64, village::Model> = village::Entity::find()
            .filter(village::Column::Id.is_in(ids))
            .all(ctx.txn)
            .await?
            .into_iter()
            .map(|v| (v.id, v))
            .collect();
        for (id, change) in chunk {
            let Some(v) = villages.get(id) else { continue };
            let kind = if change.contains("coverage") {
                "village.coverage_updated"
            } else {
                "village.updated"
            };
            let payload = serde_json::json!({ "change": change });
            batch.push(crate::events::log::NewEvent::village(kind, v, payload));
        }
        if batch.len() >= crate::events::log::EVENTS_PER_STATEMENT {
            crate::events::log::append_many(ctx.txn, &who.sub, &batch).await?;
            batch.clear();
        }
    }
    batch.append(&mut ctx.service_events);
    crate::events::log::append_many(ctx.txn, &who.sub, &batch).await?;
    Ok(())
}

/// After LGD moved a block to another district (or a panchayat to another block, or a district
/// to another state), the villages below it carry the new block, district and state.
async fn follow_parents(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let backend = ctx.txn.get_database_backend();
    let moved = ctx
        .txn
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT v.id AS id, v.version AS version, v.district_id AS was, d.id AS now \
             FROM village v JOIN gram_panchayat g ON g.id = v.gram_panchayat_id \
             JOIN block b ON b.id = g.block_id JOIN district d ON d.id = b.district_id \
             WHERE v.block_id <> g.block_id OR v.district_id <> d.id OR v.state_id <> d.state_id",
        ))
        .await?;
    if moved.is_empty() {
        return Ok(());
    }
    ctx.txn
        .execute_unprepared(
            "UPDATE village SET \
             block_id = (SELECT g.block_id FROM gram_panchayat g WHERE g.id = village.gram_panchayat_id), \
             district_id = (SELECT b.district_id FROM gram_panchayat g JOIN block b ON b.id = g.block_id \
               WHERE g.id = village.gram_panchayat_id), \
             state_id = (SELECT d.state_id FROM gram_panchayat g JOIN block b ON b.id = g.block_id \
               JOIN district d ON d.id = b.district_id WHERE g.id = village.gram_panchayat_id), \
             version = version + 1 \
             WHERE id IN (SELECT v.id FROM village v JOIN gram_panchayat g ON g.id = v.gram_panchayat_id \
               JOIN block b ON b.id = g.block_id JOIN district d ON d.id = b.district_id \
               WHERE v.block_id <> g.block_id OR v.district_id <> d.id OR v.state_id <> d.state_id)",
        )
        .await?;
    for r in moved {
        let id: i64 = r.try_get("", "id")?;
        ctx.districts.insert(r.try_get("", "was")?);
        ctx.districts.insert(r.try_get("", "now")?);
        ctx.changed(id, "moved with its LGD parent");
    }
    ctx.moved_villages = true;
    Ok(())
}

/// After villages moved to another district (LGD moved their block, or placed them under
/// another panchayat), what hangs off them follows, keeping its id: a task on a village takes
/// the village's district and state (row scope and the rollups' open-task counts go by them);
/// a scheme none of whose villages is left in its district takes the district of its first
/// village, and tasks on the scheme follow it. Each row moved gets a new version; both
/// districts' rollups are recounted.
async fn follow_villages(ctx: &mut Ctx<'_>) -> anyhow::Result<()> {
    let backend = ctx.txn.get_database_backend();
    let query = |sql: &str| sea_orm::Statement::from_string(backend, sql.to_owned());
    let tasks = ctx
        .txn
        .query_all_raw(query(
            "SELECT t.district_id AS was, v.district_id AS now FROM task t \
             JOIN village v ON v.id = t.village_id \
             WHERE t.district_id <> v.district_id OR t.state_id <> v.state_id",
        ))
        .await?;
    if !tasks.is_empty() {
        ctx.txn
            .execute_unprepared(
                "UPDATE task SET \
                 district_id = (SELECT v.district_id FROM village v WHERE v.id = task.village_id), \
                 state_id = (SELECT v.state_id FROM village v WHERE v.id = task.village_id), \
                 version = version + 1 \
                 WHERE id IN (SELECT t.id FROM task t JOIN village v ON v.id = t.village_id \
                   WHERE t.district_id <> v.district_id OR t.state_id <> v.state_id)",
            )
            .await?;
        for r in tasks {
            ctx.districts.insert(r.try_get("", "was")?);
            ctx.districts.insert(r.try_get("", "now")?);
        }
    }
    let schemes = ctx
        .txn
        .query_all_raw(query(
            "SELECT s.id AS id, s.district_id AS was, \
             (SELECT v.district_id FROM scheme_village sv JOIN village v ON v.id = sv.village_id \
               WHERE sv.scheme_id = s.id ORDER BY v.id LIMIT 1) AS now \
             FROM scheme s \
             WHERE EXISTS (SELECT 1 FROM scheme_village sv WHERE sv.scheme_id = s.id) \
             AND NOT EXISTS (SELECT 1 FROM scheme_village sv JOIN village v ON v.id = sv.village_id \
               WHERE sv.scheme_id = s.id AND v.district_id = s.district_id)",
        ))
        .await?;
    for r in schemes {
        let (id, was, now): (i64, i64, i64) = (
            r.try_get("", "id")?,
            r.try_get("", "was")?,
            r.try_get("", "now")?,
        );
        ctx.txn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                bind(
                    backend,
                    "UPDATE scheme SET district_id = ?, version = version + 1 WHERE id = ?",
                ),
                [now.into(), id.into()],
            ))
            .await?;
        ctx.txn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                bind(
                    backend,
                    "UPDATE task SET district_id = ?, \
                     state_id = (SELECT d.state_id FROM district d WHERE d.id = ?), \
                     version = version + 1 WHERE scheme_id = ? AND village_id IS NULL",
                ),
                [now.into(), now.into(), id.into()],
            ))
            .await?;
        ctx.districts.insert(was);
        ctx.districts.insert(now);
    }
    Ok(())
}

/// `?` placeholders as the backend writes them (`$1`, `$2`, … on PostgreSQL).
fn bind(backend: sea_orm::DbBackend, sql: &str) -> String {
    if backend != sea_orm::DbBackend::Postgres {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
