//! BIS IS 10500:2012 drinking-water limits (acceptable limits; DOMAIN.md §4.4), used to judge a
//! measured value. The permissible relaxations apply only where no alternate source exists, so
//! Sangam judges against the acceptable limit.

use entities::enums::WqParameter;

/// The acceptable range of one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub unit: &'static str,
}

pub fn limit(p: WqParameter) -> Limit {
    use WqParameter::*;
    let max = |max: f64, unit| Limit {
        min: None,
        max: Some(max),
        unit,
    };
    match p {
        Ph => Limit {
            min: Some(6.5),
            max: Some(8.5),
            unit: "pH",
        },
        Turbidity => max(1.0, "NTU"),
        Tds => max(500.0, "mg/L"),
        TotalHardness => max(200.0, "mg/L"),
        Chloride => max(250.0, "mg/L"),
        Fluoride => max(1.0, "mg/L"),
        Nitrate => max(45.0, "mg/L"),
        Iron => max(0.3, "mg/L"),
        Arsenic => max(0.01, "mg/L"),
        Lead => max(0.01, "mg/L"),
        Manganese => max(0.1, "mg/L"),
        // Residual chlorine must be at least 0.2 mg/L where water is chlorinated, at most 1.
        ResidualChlorine => Limit {
            min: Some(0.2),
            max: Some(1.0),
            unit: "mg/L",
        },
        // Not detectable in any 100 mL sample.
        EColi | TotalColiform => max(0.0, "CFU/100mL"),
    }
}

impl Limit {
    pub fn exceeded_by(&self, value: f64) -> bool {
        self.min.is_some_and(|min| value < min) || self.max.is_some_and(|max| value > max)
    }

    /// A reader's description, e.g. `6.5–8.5 pH` or `≤ 1 mg/L`.
    pub fn describe(&self) -> String {
        match (self.min, self.max) {
            (Some(min), Some(max)) => format!("{min}–{max} {}", self.unit),
            (None, Some(0.0)) => format!("not detectable ({})", self.unit),
            (None, Some(max)) => format!("≤ {max} {}", self.unit),
            (Some(min), None) => format!("≥ {min} {}", self.unit),
            (None, None) => "no limit".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judged_against_the_acceptable_limit() {
        assert!(limit(WqParameter::Fluoride).exceeded_by(1.2));
        assert!(!limit(WqParameter::Fluoride).exceeded_by(1.0));
        assert!(limit(WqParameter::Ph).exceeded_by(6.2));
        assert!(!limit(WqParameter::Ph).exceeded_by(7.4));
        assert!(limit(WqParameter::EColi).exceeded_by(1.0));
        assert!(!limit(WqParameter::EColi).exceeded_by(0.0));
        assert_eq!(limit(WqParameter::Ph).describe(), "6.5–8.5 pH");
    }
}
