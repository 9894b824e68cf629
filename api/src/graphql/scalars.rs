//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An amount of Indian rupees, exact to the paisa, as a decimal string such as `"1250000.50"`.
/// Never a float: money is stored as integer paise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub i64);

#[Scalar(name = "Money")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let Value::String(s) = &value else {
            return Err(InputValueError::expected_type(value));
        };
        parse_rupees(s)
            .map(Money)
            .ok_or_else(|| InputValueError::custom("expected rupees like \"1250.50\""))
    }

    fn to_value(&self) -> Value {
        let sign = if self.0 < 0 { "-" } else { "" };
        let p = self.0.unsigned_abs();
        Value::String(format!("{sign}{}.{:02}", p / 100, p % 100))
    }
}

fn parse_rupees(s: &str) -> Option<i64> {
    let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let paise = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(format!("{frac:0<2}").parse::<i64>().ok()?)?;
    Some(if neg { -paise } else { paise })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_round_trips_exactly() {
        for (text, paise) in [
            ("0.00", 0),
            ("12.50", 1250),
            ("1250000.05", 125_000_005),
            ("-3.10", -310),
        ] {
            assert_eq!(Money(paise).to_value(), Value::String(text.to_owned()));
            assert_eq!(parse_rupees(text), Some(paise));
        }
        assert_eq!(parse_rupees("12.5"), Some(1250));
        for bad in ["", ".5", "1.234", "1e5", "abc", "1.2.3"] {
            assert_eq!(parse_rupees(bad), None, "{bad}");
        }
    }
}
