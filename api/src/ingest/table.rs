//! Reading an import file: CSV or Excel `.xlsx` (by extension), a header row, then data rows
//! numbered by the line (CSV) or row (Excel) a person sees when they open the file.
//!
//! Real downloads are messy, so columns are matched by name, loosely: case, spacing and
//! punctuation are ignored (`Block Name ` is `block name`, `S.No.` is `s no`), a byte-order mark
//! is dropped, and a name given twice (`State Name,State Name`: English, then the local
//! language) can be asked for by its occurrence. A `--mapping` file renames a state's own
//! column names to Sangam's field names before any of that.

use std::{collections::HashMap, io::Cursor, path::Path};

use super::UsageError;

/// How a file is read, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn of(name: &str) -> Result<Self, UsageError> {
        let ext = Path::new(name)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") | Some("txt") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            _ => Err(UsageError(format!(
                "{name}: only .csv and .xlsx files can be imported"
            ))),
        }
    }
}

/// A header name reduced to what matters: lower case, runs of anything but letters and digits
/// as one space, trimmed.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.trim_start_matches('\u{feff}').chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

/// A `--mapping` file: `[columns]` maps a file's column name to a Sangam field name.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Mapping {
    #[serde(default)]
    pub columns: HashMap<String, String>,
}

impl Mapping {
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        toml::from_str(text).map_err(|e| UsageError(format!("the mapping file: {e}")))
    }
}

/// The header row, with the way to find a field's column.
#[derive(Debug, Clone)]
pub struct Header {
    /// As written in the file (for reports).
    pub names: Vec<String>,
    norm: Vec<String>,
}

/// One field Sangam reads: its name (what a mapping file maps to) and the spellings it is
/// known by in downloads, normalised.
pub struct Field {
    pub key: &'static str,
    pub aliases: &'static [&'static str],
}

impl Header {
    pub fn new(names: Vec<String>, mapping: &Mapping) -> Self {
        let renamed: HashMap<String, String> = mapping
            .columns
            .iter()
            .map(|(from, to)| (normalise(from), normalise(to)))
            .collect();
        let norm = names
            .iter()
            .map(|n| {
                let n = normalise(n);
                renamed.get(&n).cloned().unwrap_or(n)
            })
            .collect();
        let names = names
            .into_iter()
            .map(|n| n.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        Self { names, norm }
    }

    /// The `nth` (0-based) column that is `field` by its key or one of its aliases.
    pub fn nth(&self, field: &Field, nth: usize) -> Option<usize> {
        let key = normalise(field.key);
        self.norm
            .iter()
            .enumerate()
            .filter(|(_, n)| **n == key || field.aliases.contains(&n.as_str()))
            .map(|(i, _)| i)
            .nth(nth)
    }

    pub fn find(&self, field: &Field) -> Option<usize> {
        self.nth(field, 0)
    }

    /// The column of a field the file must have.
    pub fn require(&self, field: &Field, file: &str) -> Result<usize, UsageError> {
        self.find(field).ok_or_else(|| {
            UsageError(format!(
                "{file}: no column for {} (looked for {}); map it with --mapping",
                field.key,
                field.aliases.join(", ")
            ))
        })
    }

    pub fn name(&self, col: usize) -> &str {
        self.names.get(col).map_or("", String::as_str)
    }
}

/// The rows of a file, read one at a time.
pub struct Rows {
    body: Body,
    pub header: Header,
}

enum Body {
    Csv(csv::Reader<Cursor<Vec<u8>>>, csv::StringRecord),
    Sheet(std::vec::IntoIter<(u64, Vec<String>)>),
}

/// One data row.
pub struct Row<'a> {
    pub line: u64,
    cells: RowCells<'a>,
}

enum RowCells<'a> {
    Csv(&'a csv::StringRecord),
    Sheet(&'a [String]),
}

impl Row<'_> {
    /// The trimmed text of column `col` ("" past the end of a short row).
    pub fn get(&self, col: usize) -> &str {
        let s = match &self.cells {
            RowCells::Csv(r) => r.get(col).unwrap_or(""),
            RowCells::Sheet(r) => r.get(col).map_or("", String::as_str),
        };
        s.trim()
    }

    pub fn opt(&self, col: Option<usize>) -> &str {
        col.map_or("", |c| self.get(c))
    }

    fn is_blank(&self) -> bool {
        match &self.cells {
            RowCells::Csv(r) => r.iter().all(|c| c.trim().is_empty()),
            RowCells::Sheet(r) => r.iter().all(|c| c.trim().is_empty()),
        }
    }
}

impl Rows {
    /// Opens `bytes` (the whole file) as `format`; reads the header row.
    pub fn open(
        name: &str,
        bytes: Vec<u8>,
        format: Format,
        mapping: &Mapping,
    ) -> Result<Self, UsageError> {
        match format {
            Format::Csv => {
                let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
                    Some(rest) => rest.to_vec(),
                    None => bytes,
                };
                let mut reader = csv::ReaderBuilder::new()
                    .flexible(true)
                    .has_headers(false)
                    .from_reader(Cursor::new(bytes));
                let mut first = csv::StringRecord::new();
                let found = reader
                    .read_record(&mut first)
                    .map_err(|e| UsageError(format!("{name}: {}", csv_error(&e))))?;
                if !found {
                    return Err(UsageError(format!("{name} is empty")));
                }
                let header = Header::new(first.iter().map(str::to_owned).collect(), mapping);
                Ok(Self {
                    body: Body::Csv(reader, csv::StringRecord::new()),
                    header,
                })
            }
            Format::Xlsx => {
                let mut rows = read_sheet(name, bytes)?.into_iter();
                let Some((_, first)) = rows.next() else {
                    return Err(UsageError(format!("{name} has no rows")));
                };
                Ok(Self {
                    body: Body::Sheet(rows),
                    header: Header::new(first, mapping),
                })
            }
        }
    }

    /// Calls `each` with every non-blank data row, in file order. A CSV that stops being
    /// readable (bad UTF-8, say) ends with the line it stopped at.
    pub fn for_each(
        mut self,
        mut each: impl FnMut(&Header, &Row<'_>),
    ) -> Result<(), (u64, String)> {
        match &mut self.body {
            Body::Csv(reader, record) => loop {
                match reader.read_record(record) {
                    Ok(false) => return Ok(()),
                    Ok(true) => {
                        // After a CRLF the record's position is before the LF that ends the
                        // previous line: count the line breaks between there and the record.
                        let (mut line, mut at) = record
                            .position()
                            .map_or((0, 0), |p| (p.line(), p.byte() as usize));
                        let bytes = reader.get_ref().get_ref();
                        while let Some(b @ (b'\r' | b'\n')) = bytes.get(at) {
                            line += u64::from(*b == b'\n');
                            at += 1;
                        }
                        let row = Row {
                            line,
                            cells: RowCells::Csv(record),
                        };
                        if !row.is_blank() {
                            each(&self.header, &row);
                        }
                    }
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err((line, csv_error(&e)));
                    }
                }
            },
            Body::Sheet(rows) => {
                for (line, cells) in rows {
                    let row = Row {
                        line,
                        cells: RowCells::Sheet(&cells),
                    };
                    if !row.is_blank() {
                        each(&self.header, &row);
                    }
                }
                Ok(())
            }
        }
    }
}

fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the file is not UTF-8 text (save it as CSV UTF-8)".into(),
        _ => format!("unreadable CSV: {e}"),
    }
}

/// The first worksheet of an `.xlsx`, as text: whole numbers without a fraction, dates as
/// `YYYY-MM-DD`. Rows are numbered as Excel shows them.
fn read_sheet(name: &str, bytes: Vec<u8>) -> Result<Vec<(u64, Vec<String>)>, UsageError> {
    use calamine::{Data, Reader, Xlsx};
    let bad = |e: &dyn std::fmt::Display| UsageError(format!("{name}: not a readable .xlsx ({e})"));
    let mut book = Xlsx::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| UsageError(format!("{name} has no worksheet")))?
        .map_err(|e| bad(&e))?;
    let first_row = u64::from(range.start().map_or(0, |(r, _)| r)) + 1;
    let first_col = range.start().map_or(0, |(_, c)| c) as usize;
    let mut out = Vec::with_capacity(range.height());
    for (i, row) in range.rows().enumerate() {
        let mut cells = vec![String::new(); first_col];
        cells.extend(row.iter().map(|c| match c {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Int(n) => n.to_string(),
            Data::Float(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{}", *x as i64),
            Data::Float(x) => x.to_string(),
            Data::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Data::DateTime(d) => excel_date(d.as_f64()),
            Data::Error(e) => format!("#{e:?}"),
        }));
        out.push((first_row + i as u64, cells));
    }
    Ok(out)
}

/// An Excel serial date (days since 1899-12-30) as `YYYY-MM-DD`.
fn excel_date(serial: f64) -> String {
    chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|epoch| epoch.checked_add_days(chrono::Days::new(serial.max(0.0) as u64)))
        .map_or_else(|| serial.to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_match_loosely() {
        assert_eq!(normalise("\u{feff}Block Name "), "block name");
        assert_eq!(normalise("S.No."), "s no");
        assert_eq!(
            normalise("Village Name (In Englsih)"),
            "village name in englsih"
        );
        assert_eq!(normalise("\"State Code\""), "state code");
    }
}
