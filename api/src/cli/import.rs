//! `sangam import …`: the imports from the shell. Exit status 0 when every row was accepted,
//! 1 when rows were rejected (or the import failed), 2 for usage errors.

use std::{
    io::IsTerminal,
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::{Args, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::{
    config::DbArgs,
    db,
    ingest::{self, Kind, Options, Progress, Source, UsageError, table::Mapping},
    principal::Principal,
};

/// How the command ends when it did not simply succeed.
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct Exit(pub u8);

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Debug, Subcommand)]
enum What {
    /// LGD geography: states, districts, blocks, gram panchayats and villages files (CSV or
    /// .xlsx as downloaded), each recognised by its header; taken top level first.
    Lgd {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Revenue divisions (LGD has none): district code → division name.
    Divisions {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// IMIS village coverage: village LGD code, total households, households with a tap
    /// connection (FHTC), Har Ghar Jal reported (yes/no or the date).
    Coverage {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// IMIS schemes: scheme id, name, type (single- or multi-village), status, estimated cost
    /// and expenditure (rupees), the villages served (LGD codes).
    Schemes {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Water-quality results (WQMIS or a laboratory's list): sample id, village LGD code,
    /// sampled on, laboratory or field test kit (LAB/FTK), source name and type, one column
    /// per parameter; each sample judged against BIS 10500, opening remediation and retest
    /// tasks as `recordWaterQualityTest` does. Samples are keyed by their id.
    WaterQuality {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Physical progress of scheme components (a progress report or measurement-book
    /// abstract): scheme id, component (OHT/ESR, rising main, FHTC, …), cumulative quantity
    /// done, as on date; optionally planned quantity (when a scheme has several components of
    /// a kind), evidence URL and reason. Each new record is made as `recordSchemeProgress`
    /// makes it; records are keyed by component and day.
    SchemeProgress {
        file: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Check every row and report, writing nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write the accepted rows even when some are rejected.
    #[arg(long)]
    partial: bool,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE.json")]
    report: Option<PathBuf>,
    /// A TOML file mapping this file's column names to Sangam's (`[columns]` "Their name" =
    /// "field"), for exports whose headers differ by state and year.
    #[arg(long, value_name = "FILE.toml")]
    mapping: Option<PathBuf>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let (kind, files, common) = match args.what {
        What::Lgd { files, common } => (Kind::Lgd, files, common),
        What::Divisions { file, common } => (Kind::Divisions, vec![file], common),
        What::Coverage { file, common } => (Kind::Coverage, vec![file], common),
        What::Schemes { file, common } => (Kind::Schemes, vec![file], common),
        What::WaterQuality { file, common } => (Kind::WaterQuality, vec![file], common),
        What::SchemeProgress { file, common } => (Kind::SchemeProgress, vec![file], common),
    };
    let usage = |e: UsageError| {
        eprintln!("sangam import: {e}");
        anyhow::Error::new(Exit(2))
    };
    let mapping = match &common.mapping {
        None => Mapping::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| usage(UsageError(format!("{}: {e}", p.display()))))?;
            Mapping::parse(&text).map_err(usage)?
        }
    };
    let mut sources = Vec::with_capacity(files.len());
    for p in &files {
        let bytes =
            std::fs::read(p).map_err(|e| usage(UsageError(format!("{}: {e}", p.display()))))?;
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        sources.push(Source { name, bytes });
    }
    let conn = db::connect(&args.db.database_url, 1).await?;
    Migrator::up(&conn, None)
        .await
        .context("applying migrations")?;
    let mut who = Principal::all_access();
    who.sub = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    let options = Options {
        dry_run: common.dry_run,
        partial: common.partial,
        mapping,
    };
    let progress: Box<dyn Progress> = if std::io::stderr().is_terminal() {
        Box::new(Bar::default())
    } else {
        Box::new(Lines::default())
    };
    let today = crate::service::today_ist();
    let report = match ingest::run(
        &conn,
        kind,
        sources,
        &options,
        &who,
        today,
        None,
        progress.as_ref(),
        None,
    )
    .await
    {
        Ok(r) => r,
        Err(ingest::ImportError::Usage(e)) => return Err(usage(e)),
        Err(ingest::ImportError::Failed(e)) => return Err(e),
    };
    print!("{}", report.summary(20));
    if let Some(path) = &common.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if report.rejected() > 0 {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// A progress bar with rows per second, for a terminal.
struct Bar(Mutex<Option<indicatif::ProgressBar>>);

impl Default for Bar {
    fn default() -> Self {
        Self(Mutex::new(None))
    }
}

impl Progress for Bar {
    fn start(&self, what: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => indicatif::ProgressBar::new(n).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:28} {bar:30} {pos:>9}/{len:9} rows  {per_sec:>14}  {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            ),
            None => indicatif::ProgressBar::new_spinner().with_style(
                indicatif::ProgressStyle::with_template("{msg:28} {pos:>9} rows  {per_sec:>14}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(what.to_owned());
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bar);
        }
    }

    fn inc(&self, n: u64) {
        if let Ok(slot) = self.0.lock()
            && let Some(bar) = slot.as_ref()
        {
            bar.inc(n);
        }
    }

    fn finish(&self) {
        if let Ok(mut slot) = self.0.lock()
            && let Some(bar) = slot.take()
        {
            bar.finish();
        }
    }
}

/// Plain progress lines (every few seconds and at the end), for logs and pipes.
#[derive(Default)]
struct Lines(Mutex<Option<(String, u64, Instant, Instant)>>);

impl Lines {
    fn line(what: &str, rows: u64, started: Instant) {
        let secs = started.elapsed().as_secs_f64().max(0.001);
        eprintln!("{what}: {rows} rows ({:.0} rows/s)", rows as f64 / secs);
    }
}

impl Progress for Lines {
    fn start(&self, what: &str, _: Option<u64>) {
        if let Ok(mut s) = self.0.lock() {
            let now = Instant::now();
            *s = Some((what.to_owned(), 0, now, now));
        }
    }

    fn inc(&self, n: u64) {
        if let Ok(mut s) = self.0.lock()
            && let Some((what, rows, started, last)) = s.as_mut()
        {
            *rows += n;
            if last.elapsed() > Duration::from_secs(5) {
                Self::line(what, *rows, *started);
                *last = Instant::now();
            }
        }
    }

    fn finish(&self) {
        if let Ok(mut s) = self.0.lock()
            && let Some((what, rows, started, _)) = s.take()
        {
            Self::line(&what, rows, started);
        }
    }
}
