//! Cell values as downloads write them: codes quoted or not, with a stray `.0` from Excel,
//! counts with thousands separators, dates in the two or three ways Indian MIS reports write
//! them. Each parser's error is the reason a report gives for the cell.

use chrono::NaiveDate;

/// A number without separators or an Excel `.0`.
fn digits(s: &str) -> &str {
    let s = s.trim().trim_matches('"').trim();
    s.strip_suffix(".0").unwrap_or(s)
}

/// An LGD (or other) code: a positive whole number.
pub fn code(s: &str) -> Result<i32, String> {
    let d = digits(s);
    if d.is_empty() {
        return Err("the code is empty".into());
    }
    match d.parse::<i64>() {
        Ok(n) if n > 0 && n <= i64::from(i32::MAX) => Ok(n as i32),
        Ok(n) if n <= 0 => Err(format!("{d} is not a valid code (codes are positive)")),
        Ok(_) => Err(format!("{d} is too large for a code")),
        Err(_) => Err(format!("{s:?} is not a numeric code")),
    }
}

/// A count: a whole number, not negative; `1,234` is read as 1234.
pub fn count(s: &str) -> Result<i32, String> {
    let d = digits(s).replace(',', "");
    if d.is_empty() {
        return Err("the value is empty".into());
    }
    match d.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("{n} is negative; a count cannot be")),
        Ok(n) if n > i64::from(i32::MAX) => Err(format!("{n} is too large")),
        Ok(n) => Ok(n as i32),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// A decimal number (a measurement or an amount), not negative.
pub fn amount(s: &str) -> Result<f64, String> {
    let d = s.trim().trim_matches('"').replace(',', "");
    match d.trim().parse::<f64>() {
        Ok(x) if !x.is_finite() => Err(format!("{s:?} is not a number")),
        Ok(x) if x < 0.0 => Err(format!("{x} is negative")),
        Ok(x) => Ok(x),
        Err(_) if d.trim().is_empty() => Err("the value is empty".into()),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// A date: `2025-03-31`, `31-03-2025`, `31/03/2025` or `31.03.2025` (day first, as in India).
pub fn date(s: &str) -> Result<NaiveDate, String> {
    let s = s.trim();
    // Excel's date cells arrive as ISO already; a time part is dropped.
    let day = s.split(['T', ' ']).next().unwrap_or(s);
    for f in ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(day, f) {
            return Ok(d);
        }
    }
    Err(format!(
        "{s:?} is not a date (write 2025-03-31 or 31-03-2025)"
    ))
}

/// A yes/no flag, or a date meaning yes (on that day).
pub enum Flag {
    No,
    Yes(Option<NaiveDate>),
}

pub fn flag(s: &str) -> Result<Flag, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "no" | "n" | "0" | "false" | "not reported" => Ok(Flag::No),
        "yes" | "y" | "1" | "true" | "reported" => Ok(Flag::Yes(None)),
        _ => date(s)
            .map(|d| Flag::Yes(Some(d)))
            .map_err(|_| format!("{s:?} is neither yes/no nor a date")),
    }
}

/// A name as stored: trimmed, runs of spaces made one (LGD's own spelling and case kept).
pub fn name(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_counts() {
        assert_eq!(code("\"322\""), Ok(322));
        assert_eq!(code("04"), Ok(4));
        assert_eq!(code("7000001.0"), Ok(7_000_001));
        assert!(code("12ab").is_err());
        assert!(code("").is_err());
        assert_eq!(count("1,772"), Ok(1772));
        assert!(count("-5").is_err());
        assert_eq!(
            date("31/03/2025").ok(),
            NaiveDate::from_ymd_opt(2025, 3, 31)
        );
        assert_eq!(name("  EAST   SINGHBUM "), "EAST SINGHBUM");
    }
}

/// A stored name in a readable case, for the API and exports: LGD's ALL-CAPS names in title
/// case (`EAST SINGHBUM` → `East Singhbum`, `DADRA AND NAGAR HAVELI` → `Dadra and Nagar
/// Haveli`); a name with any lower-case letter, and any non-Latin name, as stored.
pub fn display_name(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_lowercase) || !s.chars().any(|c| c.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let lower = word.to_lowercase();
        if i > 0 && matches!(lower.as_str(), "and" | "of" | "the") {
            out.push_str(&lower);
            continue;
        }
        let mut start = true;
        for c in word.chars() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = !(c.is_alphanumeric() || c == '\'');
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod display {
    use super::display_name;

    #[test]
    fn all_caps_names_read_in_title_case() {
        assert_eq!(display_name("EAST SINGHBUM"), "East Singhbum");
        assert_eq!(
            display_name("THE DADRA AND NAGAR HAVELI AND DAMAN AND DIU"),
            "The Dadra and Nagar Haveli and Daman and Diu"
        );
        assert_eq!(display_name("PATEWA A"), "Patewa A");
        assert_eq!(display_name("SARAIKELA-KHARSAWAN"), "Saraikela-Kharsawan");
        assert_eq!(display_name("Raipur"), "Raipur");
        assert_eq!(display_name("पटेवा क"), "पटेवा क");
    }
}
