//! Uploads: the imports of `sangam import` over GraphQL, for coordinators at their desks. The
//! file comes as a GraphQL multipart request (the `Upload` scalar); the answer is the import's
//! report. Who may import what is [`crate::ingest::may_import`]; rows outside the caller's
//! jurisdiction are rejected by line like any other bad row.
//!
//! `importFile` takes no idempotency key: an import is idempotent by its rows' natural keys (LGD
//! codes, scheme ids, sample ids, component and day), so a retry of a file that was written changes nothing and its
//! report says so (every row unchanged). It runs in the import's own transaction, with the same
//! invariants as the write path: rows checked before anything is written, rollups recounted,
//! one audit record per file, and events for what changed.

use std::io::Read;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Upload};

use super::context::CtxExt;
use crate::{
    error::{ApiError, ApiResult},
    ingest::{self, Options, Source, table::Mapping},
};

/// What a file holds.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum ImportKind {
    /// LGD geography: states, districts, blocks, gram panchayats or villages (state
    /// administrators only).
    Lgd,
    /// District code → revenue division (state administrators only).
    Divisions,
    /// IMIS village coverage: households, tap connections, Har Ghar Jal.
    Coverage,
    /// IMIS schemes and the villages they serve.
    Schemes,
    /// Water-quality results, judged against BIS 10500 as `recordWaterQualityTest` judges them.
    WaterQuality,
    /// Physical progress of scheme components, recorded as `recordSchemeProgress` records it
    /// (PHED, with `schemes:write`).
    SchemeProgress,
}

impl From<ImportKind> for ingest::Kind {
    fn from(k: ImportKind) -> Self {
        match k {
            ImportKind::Lgd => ingest::Kind::Lgd,
            ImportKind::Divisions => ingest::Kind::Divisions,
            ImportKind::Coverage => ingest::Kind::Coverage,
            ImportKind::Schemes => ingest::Kind::Schemes,
            ImportKind::WaterQuality => ingest::Kind::WaterQuality,
            ImportKind::SchemeProgress => ingest::Kind::SchemeProgress,
        }
    }
}

/// One of the file's column names read as one of Sangam's (the `--mapping` file of the CLI).
#[derive(InputObject)]
pub struct ColumnMappingInput {
    /// The column as the file heads it.
    pub from: String,
    /// The field it holds (`village_code`, `households`, `sample_id`, …; see the README).
    pub to: String,
}

/// A rejected row (or a note on an accepted one): the line a person sees when opening the file
/// (the header is line 1), the column as the file names it, and why.
#[derive(SimpleObject)]
pub struct ImportRejection {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// One file's outcome.
#[derive(SimpleObject)]
pub struct ImportFileReport {
    pub file: String,
    /// SHA-256 of the file as uploaded, hex.
    pub sha256: String,
    /// What the file holds: `state`, `district`, `block`, `gram_panchayat`, `village`,
    /// `division`, `coverage`, `scheme`, `water_quality` or `scheme_progress`.
    pub kind: String,
    /// Data rows read (blank rows are skipped).
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows rejected (each counted once, however many reasons it has).
    pub rejected: u64,
    pub rejections: Vec<ImportRejection>,
    pub warnings: Vec<ImportRejection>,
}

/// What an import did.
#[derive(SimpleObject)]
pub struct ImportReport {
    pub dry_run: bool,
    pub partial: bool,
    /// Whether anything was written: false for a dry run, and for a file with rejected rows
    /// unless `partial`.
    pub written: bool,
    pub files: Vec<ImportFileReport>,
}

impl From<ingest::Report> for ImportReport {
    fn from(r: ingest::Report) -> Self {
        let rows = |v: Vec<ingest::report::Rejection>| {
            v.into_iter()
                .map(|r| ImportRejection {
                    line: r.line,
                    column: r.column,
                    reason: r.reason,
                })
                .collect()
        };
        Self {
            dry_run: r.dry_run,
            partial: r.partial,
            written: r.written,
            files: r
                .files
                .into_iter()
                .map(|f| ImportFileReport {
                    file: f.file,
                    sha256: f.sha256,
                    kind: f.kind,
                    rows: f.rows,
                    inserted: f.inserted,
                    updated: f.updated,
                    unchanged: f.unchanged,
                    rejected: f.rejected,
                    rejections: rows(f.rejections),
                    warnings: rows(f.warnings),
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Import a CSV or Excel `.xlsx` file (sent as a GraphQL multipart request; `import:write`),
    /// exactly as `sangam import` does: every row is checked first, and a file with a rejected
    /// row writes nothing unless `partial`. Importing the same file again changes nothing and
    /// says so.
    async fn import_file(
        &self,
        ctx: &Context<'_>,
        kind: ImportKind,
        file: Upload,
        #[graphql(default)] dry_run: bool,
        #[graphql(default)] partial: bool,
        #[graphql(default)] mapping: Vec<ColumnMappingInput>,
    ) -> ApiResult<ImportReport> {
        let svc = ctx.svc()?;
        let who = svc.principal();
        let kind = ingest::Kind::from(kind);
        ingest::may_import(who, kind).map_err(|needs| ApiError::Forbidden { needs })?;
        let upload = file
            .value(ctx)
            .map_err(|e| ApiError::bad_input("file", format!("the upload is missing: {e}")))?;
        let name = upload.filename.clone();
        let mut bytes = Vec::new();
        upload
            .into_read()
            .read_to_end(&mut bytes)
            .map_err(|e| ApiError::bad_input("file", format!("the upload is unreadable: {e}")))?;
        let options = Options {
            dry_run,
            partial,
            mapping: Mapping {
                columns: mapping.into_iter().map(|m| (m.from, m.to)).collect(),
            },
        };
        let report = ingest::run(
            svc.db(),
            kind,
            vec![Source { name, bytes }],
            &options,
            who,
            svc.today(),
            svc.request_id(),
            &ingest::Silent,
            svc.bus(),
        )
        .await;
        match report {
            Ok(r) => Ok(r.into()),
            Err(ingest::ImportError::Usage(e)) => Err(ApiError::bad_input("file", e.0)),
            Err(ingest::ImportError::Failed(e)) => Err(ApiError::internal(e)),
        }
    }
}
