//! What an import says it did: per file, the counts and every rejected row by line, column and
//! reason. The CLI prints it and writes it with `--report FILE.json`; an upload answers with it.

use serde::Serialize;

/// One rejected row (a row may be rejected for several reasons, one entry each).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// The line (CSV) or row (Excel) a person sees when opening the file; the header is 1.
    pub line: u64,
    /// The column at fault, as the file names it.
    pub column: String,
    pub reason: String,
}

/// A row that was accepted, with something the importer did differently from what it says.
pub type Warning = Rejection;

/// One file's outcome.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    pub file: String,
    pub sha256: String,
    /// What the file holds (`state`, `district`, `block`, `gram_panchayat`, `village`,
    /// `division`, `coverage`, `scheme`, `water_quality`, `scheme_progress`).
    pub kind: String,
    /// Data rows read (blank rows are skipped).
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Rows rejected (each counted once, however many reasons it has).
    pub rejected: u64,
    pub rejections: Vec<Rejection>,
    pub warnings: Vec<Warning>,
}

/// The whole import.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub partial: bool,
    /// Whether anything was written: false for a dry run, and for a file with rejected rows
    /// unless `--partial`.
    pub written: bool,
    pub files: Vec<FileReport>,
}

impl Report {
    pub fn rejected(&self) -> u64 {
        self.files.iter().map(|f| f.rejected).sum()
    }

    /// A few lines for a person: counts per file, then the first rejections.
    pub fn summary(&self, max_rejections: usize) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for f in &self.files {
            let _ = writeln!(
                out,
                "{} ({}): {} rows: {} inserted, {} updated, {} unchanged, {} rejected",
                f.file, f.kind, f.rows, f.inserted, f.updated, f.unchanged, f.rejected
            );
            for r in f.rejections.iter().take(max_rejections) {
                let _ = writeln!(out, "  line {}, {}: {}", r.line, r.column, r.reason);
            }
            if f.rejections.len() > max_rejections {
                let _ = writeln!(
                    out,
                    "  … {} more (see --report)",
                    f.rejections.len() - max_rejections
                );
            }
            for w in f.warnings.iter().take(max_rejections) {
                let _ = writeln!(out, "  note: line {}, {}: {}", w.line, w.column, w.reason);
            }
        }
        let _ = writeln!(
            out,
            "{}",
            match (self.dry_run, self.written) {
                (true, _) => "dry run: nothing was written",
                (false, true) => "written",
                (false, false) =>
                    "nothing was written: fix the rejected rows, or import with --partial",
            }
        );
        out
    }
}

/// Collects one file's rejections while its rows are checked.
#[derive(Debug, Default)]
pub struct Checks {
    pub rejections: Vec<Rejection>,
    pub warnings: Vec<Warning>,
    bad_lines: std::collections::HashSet<u64>,
}

impl Checks {
    pub fn reject(&mut self, line: u64, column: &str, reason: impl Into<String>) {
        self.bad_lines.insert(line);
        self.rejections.push(Rejection {
            line,
            column: column.to_owned(),
            reason: reason.into(),
        });
    }

    pub fn warn(&mut self, line: u64, column: &str, reason: impl Into<String>) {
        self.warnings.push(Rejection {
            line,
            column: column.to_owned(),
            reason: reason.into(),
        });
    }

    pub fn is_bad(&self, line: u64) -> bool {
        self.bad_lines.contains(&line)
    }

    pub fn rejected_rows(&self) -> u64 {
        self.bad_lines.len() as u64
    }

    pub fn into_report(mut self, mut report: FileReport) -> FileReport {
        self.rejections.sort_by_key(|r| r.line);
        self.warnings.sort_by_key(|r| r.line);
        report.rejected = self.rejected_rows();
        report.rejections = self.rejections;
        report.warnings = self.warnings;
        report
    }
}
