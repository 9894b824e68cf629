//! A streaming `.xlsx` writer: the smallest workbook Excel and LibreOffice open (one sheet of
//! inline strings and numbers), written part by part into a zip stream, so a sheet of any
//! length takes constant memory.

use std::io::Write;

use zip::{ZipWriter, write::SimpleFileOptions};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#;
const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

/// One cell.
pub enum XCell<'a> {
    Text(&'a str),
    Number(f64),
    Empty,
}

pub struct Sheet<W: Write> {
    zip: ZipWriter<zip::write::StreamWriter<W>>,
    row: u64,
}

impl<W: Write> Sheet<W> {
    /// Starts a workbook whose one sheet is called `name`, writing to `out`.
    pub fn new(out: W, name: &str) -> zip::result::ZipResult<Self> {
        let mut zip = ZipWriter::new_stream(out);
        let opts = SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", opts)?;
        zip.write_all(CONTENT_TYPES.as_bytes())?;
        zip.start_file("_rels/.rels", opts)?;
        zip.write_all(RELS.as_bytes())?;
        zip.start_file("xl/workbook.xml", opts)?;
        write!(
            zip,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
            escape(name)
        )?;
        zip.start_file("xl/_rels/workbook.xml.rels", opts)?;
        zip.write_all(WORKBOOK_RELS.as_bytes())?;
        zip.start_file("xl/worksheets/sheet1.xml", opts)?;
        zip.write_all(
            br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
        )?;
        Ok(Self { zip, row: 0 })
    }

    pub fn row(&mut self, cells: &[XCell<'_>]) -> std::io::Result<()> {
        self.row += 1;
        let mut out = String::with_capacity(cells.len() * 24 + 16);
        out.push_str("<row r=\"");
        out.push_str(&self.row.to_string());
        out.push_str("\">");
        for (i, c) in cells.iter().enumerate() {
            let at = format!("{}{}", column(i), self.row);
            match c {
                XCell::Empty => {}
                XCell::Number(x) => {
                    out.push_str("<c r=\"");
                    out.push_str(&at);
                    out.push_str("\"><v>");
                    out.push_str(&x.to_string());
                    out.push_str("</v></c>");
                }
                XCell::Text(s) => {
                    out.push_str("<c r=\"");
                    out.push_str(&at);
                    out.push_str("\" t=\"inlineStr\"><is><t xml:space=\"preserve\">");
                    out.push_str(&escape(s));
                    out.push_str("</t></is></c>");
                }
            }
        }
        out.push_str("</row>");
        self.zip.write_all(out.as_bytes())
    }

    /// Ends the sheet and the workbook.
    pub fn finish(mut self) -> zip::result::ZipResult<W> {
        self.zip.write_all(b"</sheetData></worksheet>")?;
        Ok(self.zip.finish()?.into_inner())
    }
}

/// `A`, …, `Z`, `AA`, … for a 0-based column.
fn column(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Text as XML character data; characters XML 1.0 forbids are dropped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_lettered_like_excel() {
        assert_eq!(column(0), "A");
        assert_eq!(column(25), "Z");
        assert_eq!(column(26), "AA");
        assert_eq!(column(27), "AB");
    }
}
