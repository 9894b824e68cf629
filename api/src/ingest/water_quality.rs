//! `sangam import water-quality`: laboratory and field-test-kit results as WQMIS or a district
//! laboratory lists them, one sample a row: sample id, village LGD code, sampled on, laboratory
//! or field test kit, the source, and one column per parameter (blank: not tested).
//!
//! Every row is checked first (line, column, reason); then each accepted sample is recorded by
//! the very function `recordWaterQualityTest` runs ([`crate::service::quality::record_test`]), within
//! the import's transaction: judged against BIS 10500, with the remediation and retest tasks,
//! their audit records, rollups and events exactly as the API opens them.
//!
//! Samples are keyed by their sample id. A sample already held with the same content is
//! unchanged, so a file imported again changes nothing; one held with different content is
//! rejected: a recorded test is evidence that tasks were opened on, so a correction is a new
//! sample, not an edit.

use std::collections::{BTreeMap, HashMap};

use entities::enums::{Department, WaterSourceType, WqMethod, WqParameter};
use sea_orm::ConnectionTrait;

use super::{
    Ctx, Opened,
    coverage::codes,
    lgd::VILLAGE_CODE,
    parse,
    report::{Checks, FileReport},
    table::{Field, normalise},
    villages,
};
use crate::service::{
    bis,
    quality::{NewTest, Reading},
    text,
};

field!(
    SAMPLE,
    "sample_id",
    [
        "sample id",
        "sample no",
        "sample number",
        "sample code",
        "lab sample id",
        "sample id wqmis",
        "wqmis sample id",
        "sample"
    ]
);
field!(
    SAMPLED_ON,
    "sampled_on",
    [
        "sampled on",
        "sample collection date",
        "sampling date",
        "date of sampling",
        "date of sample collection",
        "collection date",
        "sample date",
        "date of collection"
    ]
);
field!(
    METHOD,
    "method",
    [
        "method",
        "test method",
        "testing method",
        "test type",
        "type of test",
        "tested at",
        "lab ftk",
        "lab or ftk",
        "tested by lab or ftk"
    ]
);
field!(
    SOURCE_NAME,
    "source_name",
    [
        "source name",
        "name of source",
        "source location",
        "location of source",
        "source"
    ]
);
field!(
    SOURCE_TYPE,
    "source_type",
    [
        "source type",
        "type of source",
        "water source type",
        "source category"
    ]
);
field!(
    LAB,
    "lab_name",
    [
        "lab name",
        "laboratory",
        "laboratory name",
        "name of laboratory",
        "name of lab",
        "lab"
    ]
);
field!(
    TESTED_BY,
    "tested_by",
    ["tested by", "tester", "analyst", "name of tester"]
);

/// The column of each parameter: its field name, then the ways downloads head it (with and
/// without the unit).
const PARAMETERS: [(WqParameter, Field); 14] = [
    (
        WqParameter::Ph,
        Field {
            key: "ph",
            aliases: &["ph", "ph value", "ph ph"],
        },
    ),
    (
        WqParameter::Turbidity,
        Field {
            key: "turbidity",
            aliases: &["turbidity", "turbidity ntu"],
        },
    ),
    (
        WqParameter::Tds,
        Field {
            key: "tds",
            aliases: &[
                "tds",
                "tds mg l",
                "total dissolved solids",
                "total dissolved solids mg l",
                "total dissolved solids tds",
                "total dissolved solids tds mg l",
            ],
        },
    ),
    (
        WqParameter::TotalHardness,
        Field {
            key: "total_hardness",
            aliases: &[
                "total hardness",
                "total hardness mg l",
                "total hardness as caco3",
                "total hardness as caco3 mg l",
                "hardness",
            ],
        },
    ),
    (
        WqParameter::Chloride,
        Field {
            key: "chloride",
            aliases: &["chloride", "chloride mg l", "chloride as cl", "chlorides"],
        },
    ),
    (
        WqParameter::Fluoride,
        Field {
            key: "fluoride",
            aliases: &["fluoride", "fluoride mg l", "fluoride as f"],
        },
    ),
    (
        WqParameter::Nitrate,
        Field {
            key: "nitrate",
            aliases: &[
                "nitrate",
                "nitrate mg l",
                "nitrate as no3",
                "nitrate as no3 mg l",
            ],
        },
    ),
    (
        WqParameter::Iron,
        Field {
            key: "iron",
            aliases: &["iron", "iron mg l", "total iron", "iron as fe"],
        },
    ),
    (
        WqParameter::Arsenic,
        Field {
            key: "arsenic",
            aliases: &["arsenic", "arsenic mg l", "arsenic as as"],
        },
    ),
    (
        WqParameter::Lead,
        Field {
            key: "lead",
            aliases: &["lead", "lead mg l", "lead as pb"],
        },
    ),
    (
        WqParameter::Manganese,
        Field {
            key: "manganese",
            aliases: &["manganese", "manganese mg l", "manganese as mn"],
        },
    ),
    (
        WqParameter::ResidualChlorine,
        Field {
            key: "residual_chlorine",
            aliases: &[
                "residual chlorine",
                "residual chlorine mg l",
                "free residual chlorine",
                "free residual chlorine mg l",
                "frc",
            ],
        },
    ),
    (
        WqParameter::EColi,
        Field {
            key: "e_coli",
            aliases: &[
                "e coli",
                "ecoli",
                "e coli cfu 100 ml",
                "e coli cfu 100ml",
                "thermotolerant coliform",
                "faecal coliform",
                "fecal coliform",
            ],
        },
    ),
    (
        WqParameter::TotalColiform,
        Field {
            key: "total_coliform",
            aliases: &[
                "total coliform",
                "total coliform cfu 100 ml",
                "total coliform cfu 100ml",
                "total coliforms",
                "coliform",
            ],
        },
    ),
];

fn method(s: &str) -> Result<WqMethod, String> {
    match normalise(s).as_str() {
        "lab"
        | "laboratory"
        | "lab test"
        | "laboratory test"
        | "district lab"
        | "district laboratory" => Ok(WqMethod::Lab),
        "ftk" | "field test kit" | "field testing kit" | "field kit" | "field" | "ftk test" => {
            Ok(WqMethod::Ftk)
        }
        _ => Err(format!(
            "{s:?} is neither a laboratory (LAB) nor a field test kit (FTK)"
        )),
    }
}

fn source_type(s: &str) -> Result<WaterSourceType, String> {
    use WaterSourceType::*;
    match normalise(s).as_str() {
        "handpump" | "hand pump" | "hp" => Ok(Handpump),
        "borewell" | "bore well" | "bore" => Ok(Borewell),
        "tubewell" | "tube well" => Ok(Tubewell),
        "open well" | "openwell" | "well" | "dug well" => Ok(OpenWell),
        "spring" => Ok(Spring),
        "river" | "stream" => Ok(River),
        "reservoir" | "dam" => Ok(Reservoir),
        "pond" | "tank" | "talab" => Ok(Pond),
        "tap" | "household tap" | "fhtc" | "tap connection" | "stand post" | "standpost" => Ok(Tap),
        "esr" | "elevated storage reservoir" | "overhead tank" | "ohsr" | "ohr" => Ok(Esr),
        _ => Err(format!(
            "{s:?} is not a source type (handpump, borewell, tubewell, open well, spring, \
             river, reservoir, pond, tap, ESR)"
        )),
    }
}

/// A measured value: a number, not negative (pH at most 14); `BDL`, `ND`, `nil` or `absent`
/// (below detection) read as 0, and `present` as 1 for the bacteria a field kit only detects.
fn value(p: WqParameter, s: &str) -> Result<f64, String> {
    let bacteria = matches!(p, WqParameter::EColi | WqParameter::TotalColiform);
    match normalise(s).as_str() {
        "bdl" | "nd" | "not detected" | "nil" | "absent" | "below detection limit" => {
            return Ok(0.0);
        }
        "present" | "detected" if bacteria => return Ok(1.0),
        _ => {}
    }
    let x = s
        .trim()
        .trim_matches('"')
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a number"))?;
    if !x.is_finite() {
        return Err(format!("{s:?} is not a number"));
    }
    if x < 0.0 {
        return Err(format!("{x} is negative; a measurement cannot be"));
    }
    if p == WqParameter::Ph && x > 14.0 {
        return Err(format!("{x} is not a pH (0 to 14)"));
    }
    Ok(x)
}

/// What a sample says, to compare a row with the test held under its sample id.
#[derive(Debug, PartialEq)]
struct Content {
    village_id: i64,
    sampled_on: chrono::NaiveDate,
    method: WqMethod,
    source_name: String,
    source_type: WaterSourceType,
    lab_name: Option<String>,
    tested_by: Option<String>,
    /// Parameter name → value.
    results: BTreeMap<String, f64>,
}

fn results_key(results: &[Reading]) -> BTreeMap<String, f64> {
    results
        .iter()
        .map(|r| (format!("{:?}", r.parameter), r.value))
        .collect()
}

/// The tests held under the given sample ids, with their results.
async fn held<C: ConnectionTrait>(
    conn: &C,
    ids: &[String],
) -> anyhow::Result<HashMap<String, Content>> {
    use entities::{water_quality_result as wqr, water_quality_test as wqt};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out = HashMap::new();
    let mut by_test: HashMap<i64, String> = HashMap::new();
    for chunk in ids.chunks(500) {
        let tests = wqt::Entity::find()
            .filter(wqt::Column::SampleId.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        let test_ids: Vec<i64> = tests.iter().map(|t| t.id).collect();
        for t in tests {
            let Some(sample) = t.sample_id.clone() else {
                continue;
            };
            by_test.insert(t.id, sample.clone());
            out.insert(
                sample,
                Content {
                    village_id: t.village_id,
                    sampled_on: t.sampled_on,
                    method: t.method,
                    source_name: t.source_name,
                    source_type: t.source_type,
                    lab_name: t.lab_name,
                    tested_by: t.tested_by,
                    results: BTreeMap::new(),
                },
            );
        }
        for r in wqr::Entity::find()
            .filter(wqr::Column::TestId.is_in(test_ids))
            .all(conn)
            .await?
        {
            if let Some(c) = by_test.get(&r.test_id).and_then(|s| out.get_mut(s)) {
                c.results.insert(format!("{:?}", r.parameter), r.value);
            }
        }
    }
    Ok(out)
}

/// States (by id) holding an organisation of PHED and of Health: a contaminated sample's tasks
/// are assigned to them.
async fn states_with_departments<C: ConnectionTrait>(
    conn: &C,
) -> anyhow::Result<HashMap<i64, (bool, bool)>> {
    use entities::organisation;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let mut out: HashMap<i64, (bool, bool)> = HashMap::new();
    for o in organisation::Entity::find()
        .filter(organisation::Column::Department.is_in([Department::Phed, Department::Health]))
        .all(conn)
        .await?
    {
        let Some(state) = o.state_id else { continue };
        let e = out.entry(state).or_default();
        match o.department {
            Some(Department::Phed) => e.0 = true,
            Some(Department::Health) => e.1 = true,
            _ => {}
        }
    }
    Ok(out)
}

pub(super) async fn import(ctx: &mut Ctx<'_>, f: Opened) -> Result<FileReport, super::ImportError> {
    let header = f.rows.header.clone();
    let h = &header;
    let sample_col = h.require(&SAMPLE, &f.name)?;
    let code_col = h.require(&VILLAGE_CODE, &f.name)?;
    let date_col = h.require(&SAMPLED_ON, &f.name)?;
    let method_col = h.require(&METHOD, &f.name)?;
    let source_col = h.require(&SOURCE_NAME, &f.name)?;
    let type_col = h.require(&SOURCE_TYPE, &f.name)?;
    let lab_col = h.find(&LAB);
    let tester_col = h.find(&TESTED_BY);
    let params: Vec<(WqParameter, usize)> = PARAMETERS
        .iter()
        .filter_map(|(p, field)| h.find(field).map(|c| (*p, c)))
        .collect();
    if params.is_empty() {
        return Err(super::UsageError(format!(
            "{}: no parameter columns (pH, turbidity, TDS, …, E. coli); map them with --mapping",
            f.name
        ))
        .into());
    }
    let villages = villages::held(ctx.txn, 0).await?;
    let (district_codes, state_codes) = codes(ctx.txn).await?;
    let departments = states_with_departments(ctx.txn).await?;
    let (who, today) = (ctx.who, ctx.today);
    let mut checks = Checks::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    // The accepted rows: the sample's line, its test, and the state's id.
    let mut accepted: Vec<(u64, NewTest)> = Vec::new();
    let mut rows = 0;
    ctx.progress.start(&format!("checking {}", f.name), None);
    let progress = ctx.progress;
    f.rows
        .for_each(|h, row| {
            rows += 1;
            progress.inc(1);
            let line = row.line;
            let sample = row.get(sample_col).trim_matches('"').trim().to_owned();
            if sample.is_empty() {
                checks.reject(line, h.name(sample_col), "the sample id is empty");
            } else if sample.chars().count() > 64 {
                checks.reject(
                    line,
                    h.name(sample_col),
                    "a sample id has at most 64 characters",
                );
            } else if let Some(first) = seen.get(&sample) {
                checks.reject(
                    line,
                    h.name(sample_col),
                    format!("sample {sample} is given twice in the file (first on line {first})"),
                );
            } else {
                seen.insert(sample.clone(), line);
            }
            let village = match parse::code(row.get(code_col)) {
                Err(e) => {
                    checks.reject(line, h.name(code_col), e);
                    None
                }
                Ok(c) => match villages.get(&c) {
                    None => {
                        checks.reject(line, h.name(code_col), format!("unknown village code {c}"));
                        None
                    }
                    Some(v) => {
                        let state = state_codes.get(&v.state_id).copied().unwrap_or_default();
                        let district = district_codes.get(&v.district_id).copied();
                        if crate::service::scope::may_write_in(who, state, district) {
                            Some(v)
                        } else {
                            checks.reject(line, h.name(code_col), "outside your jurisdiction");
                            None
                        }
                    }
                },
            };
            let sampled_on = match parse::date(row.get(date_col)) {
                Ok(d) if d > today => {
                    checks.reject(
                        line,
                        h.name(date_col),
                        format!("{d} is in the future; a sample cannot be taken then"),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    checks.reject(line, h.name(date_col), e);
                    None
                }
            };
            let method = method(row.get(method_col))
                .map_err(|e| checks.reject(line, h.name(method_col), e))
                .ok();
            let source_type = source_type(row.get(type_col))
                .map_err(|e| checks.reject(line, h.name(type_col), e))
                .ok();
            let mut text_cell = |col: Option<usize>| {
                let s = parse::name(row.opt(col));
                if s.chars().count() > text::NAME {
                    checks.reject(
                        line,
                        h.name(col.unwrap_or_default()),
                        format!("at most {} characters", text::NAME),
                    );
                }
                (!s.is_empty()).then_some(s)
            };
            let source_name = text_cell(Some(source_col));
            let lab_name = text_cell(lab_col);
            let tested_by = text_cell(tester_col);
            if source_name.is_none() {
                checks.reject(line, h.name(source_col), "name the source sampled");
            }
            let mut results = Vec::new();
            for (p, col) in &params {
                let cell = row.get(*col);
                if cell.is_empty() {
                    continue;
                }
                match value(*p, cell) {
                    Ok(v) => results.push(Reading {
                        parameter: *p,
                        value: v,
                    }),
                    Err(e) => checks.reject(line, h.name(*col), e),
                }
            }
            if results.is_empty() && !checks.is_bad(line) {
                checks.reject(
                    line,
                    h.name(params[0].1),
                    "no parameter has a value: give at least one result",
                );
            }
            if let Some(v) = village {
                let contaminated = results
                    .iter()
                    .any(|r| bis::limit(r.parameter).exceeded_by(r.value));
                let (phed, health) = departments.get(&v.state_id).copied().unwrap_or_default();
                if contaminated && !(phed && health) {
                    checks.reject(
                        line,
                        h.name(code_col),
                        "the sample exceeds BIS 10500, but the village's state has no PHED and \
                         Health organisations to assign remediation and a retest to",
                    );
                }
            }
            if let (Some(v), Some(sampled_on), Some(method), Some(source_type), Some(source_name)) =
                (village, sampled_on, method, source_type, source_name)
                && !checks.is_bad(line)
            {
                accepted.push((
                    line,
                    NewTest {
                        village: v.id,
                        source_name,
                        source_type,
                        sampled_on,
                        method,
                        lab_name,
                        tested_by,
                        results,
                        sample_id: Some(sample),
                    },
                ));
            }
        })
        .map_err(|(line, e)| super::UsageError(format!("{} line {line}: {e}", f.name)))?;
    ctx.progress.finish();
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: "water_quality".into(),
        rows,
        ..Default::default()
    };
    let ids: Vec<String> = accepted
        .iter()
        .filter_map(|(_, t)| t.sample_id.clone())
        .collect();
    let held = held(ctx.txn, &ids).await?;
    let sample_name = header.name(sample_col).to_owned();
    let mut fresh = Vec::new();
    for (line, t) in accepted {
        let Some(sample) = t.sample_id.as_deref() else {
            continue;
        };
        match held.get(sample) {
            None => fresh.push((line, t)),
            Some(was) => {
                let now = Content {
                    village_id: t.village,
                    sampled_on: t.sampled_on,
                    method: t.method,
                    source_name: t.source_name.clone(),
                    source_type: t.source_type,
                    lab_name: t.lab_name.clone(),
                    tested_by: t.tested_by.clone(),
                    results: results_key(&t.results),
                };
                if *was == now {
                    report.unchanged += 1;
                } else {
                    checks.reject(
                        line,
                        &sample_name,
                        format!(
                            "sample {sample} is already recorded with other values; a recorded \
                             test is not changed (record a correction as a new sample)"
                        ),
                    );
                }
            }
        }
    }
    // Nothing is written for a file with rejected rows unless the import is partial, nor for a
    // dry run: the transaction is rolled back then anyway, so recording would be wasted work.
    if ctx.dry_run || (checks.rejected_rows() > 0 && !ctx.partial) {
        report.inserted = fresh.len() as u64;
        return Ok(checks.into_report(report));
    }
    ctx.progress
        .start(&format!("recording {}", f.name), Some(fresh.len() as u64));
    let svc = ctx.svc.clone();
    for (line, t) in fresh {
        let mut tx = svc.within("import water-quality", ctx.txn);
        match crate::service::quality::record_test(&mut tx, t).await {
            Ok(_) => {
                ctx.service_events.extend(tx.into_events());
                report.inserted += 1;
            }
            Err(e) => return Err(super::ImportError::write_failed(&f.name, line, &e)),
        }
        ctx.progress.inc(1);
    }
    ctx.progress.finish();
    Ok(checks.into_report(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_methods_and_sources() {
        assert_eq!(value(WqParameter::Fluoride, "1.2"), Ok(1.2));
        assert_eq!(value(WqParameter::Arsenic, "BDL"), Ok(0.0));
        assert_eq!(value(WqParameter::EColi, "Present"), Ok(1.0));
        assert!(value(WqParameter::Iron, "present").is_err());
        assert!(value(WqParameter::Ph, "15").is_err());
        assert!(value(WqParameter::Tds, "-3").is_err());
        assert!(value(WqParameter::Tds, "high").is_err());
        assert_eq!(method("Field Test Kit"), Ok(WqMethod::Ftk));
        assert_eq!(method("Laboratory"), Ok(WqMethod::Lab));
        assert_eq!(source_type("Hand Pump"), Ok(WaterSourceType::Handpump));
        assert!(source_type("cloud").is_err());
    }
}
