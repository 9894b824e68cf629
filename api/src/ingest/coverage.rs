//! `sangam import coverage`: an IMIS village report's households, tap connections (FHTC) and
//! Har Ghar Jal flag, keyed by the village's LGD code. The rules are the API's
//! (`updateVillageCoverage`, `reportHarGharJal`): a village is reported only when every
//! household has a tap, and one that no longer has (new households) is no longer reported. A
//! "reported" flag the coverage does not bear out, or that a contaminated latest water-quality
//! test contradicts, is accepted with a note and not applied; a "not reported" flag never
//! withdraws a report (only coverage or a person does).

use std::collections::HashMap;

use entities::{enums::HgjStatus, hgj_report};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
    Statement,
};

use crate::service::villages::latest_contamination;

use super::{
    Ctx, Opened,
    lgd::VILLAGE_CODE,
    parse::{self, Flag},
    report::{Checks, FileReport},
    table::Field,
    villages,
};

pub const HOUSEHOLDS: Field = Field {
    key: "households",
    aliases: &[
        "total households",
        "total household",
        "total hh",
        "households",
        "no of households",
        "total no of households",
        "total no of hh",
    ],
};
pub const TAPS: Field = Field {
    key: "tap_connections",
    aliases: &[
        "households with fhtc",
        "hh with fhtc",
        "fhtc",
        "no of fhtc",
        "fhtc provided",
        "total fhtc",
        "tap connections",
        "households with tap connection",
        "households with tap connections",
    ],
};
pub const HGJ: Field = Field {
    key: "har_ghar_jal",
    aliases: &[
        "har ghar jal reported",
        "har ghar jal",
        "hgj reported",
        "hgj",
        "har ghar jal status",
        "hgj status",
        "har ghar jal reported on",
        "reported har ghar jal",
    ],
};

/// LGD codes of districts and states by id, to test rows against a jurisdiction.
pub(super) async fn codes<C: ConnectionTrait>(
    conn: &C,
) -> anyhow::Result<(HashMap<i64, i32>, HashMap<i64, i32>)> {
    let mut out = (HashMap::new(), HashMap::new());
    for (table, map) in [("district", &mut out.0), ("state", &mut out.1)] {
        for r in conn
            .query_all_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT id, lgd_code FROM {table}"),
            ))
            .await?
        {
            map.insert(r.try_get("", "id")?, r.try_get("", "lgd_code")?);
        }
    }
    Ok(out)
}

pub(super) async fn import(ctx: &mut Ctx<'_>, f: Opened) -> Result<FileReport, super::ImportError> {
    let header = f.rows.header.clone();
    let h = &header;
    let code_col = h.require(&VILLAGE_CODE, &f.name)?;
    let hh_col = h.require(&HOUSEHOLDS, &f.name)?;
    let tap_col = h.require(&TAPS, &f.name)?;
    let hgj_col = h.find(&HGJ);
    let held = villages::held(ctx.txn, 0).await?;
    let (district_codes, state_codes) = codes(ctx.txn).await?;
    let mut checks = Checks::default();
    let mut seen: HashMap<i32, u64> = HashMap::new();
    // The accepted rows: village, households, taps, the flag's date when reported.
    let mut accepted: Vec<(i32, i32, i32, Option<chrono::NaiveDate>, u64)> = Vec::new();
    let mut rows = 0;
    let (who, today) = (ctx.who, ctx.today);
    ctx.progress.start(&format!("checking {}", f.name), None);
    let progress = ctx.progress;
    f.rows
        .for_each(|h, row| {
            rows += 1;
            progress.inc(1);
            let line = row.line;
            let code = match parse::code(row.get(code_col)) {
                Err(e) => {
                    checks.reject(line, h.name(code_col), e);
                    None
                }
                Ok(c) => {
                    if let Some(first) = seen.insert(c, line) {
                        seen.insert(c, first);
                        checks.reject(
                            line,
                            h.name(code_col),
                            format!(
                                "village {c} is given twice in the file (first on line {first})"
                            ),
                        );
                    }
                    match held.get(&c) {
                        None => {
                            checks.reject(
                                line,
                                h.name(code_col),
                                format!("unknown village code {c}"),
                            );
                            None
                        }
                        Some(v) => {
                            let state = state_codes.get(&v.state_id).copied().unwrap_or_default();
                            let district = district_codes.get(&v.district_id).copied();
                            if crate::service::scope::may_write_in(who, state, district) {
                                Some(c)
                            } else {
                                checks.reject(line, h.name(code_col), "outside your jurisdiction");
                                None
                            }
                        }
                    }
                }
            };
            let households = parse::count(row.get(hh_col))
                .map_err(|e| checks.reject(line, h.name(hh_col), e))
                .ok();
            let taps = parse::count(row.get(tap_col))
                .map_err(|e| checks.reject(line, h.name(tap_col), e))
                .ok();
            if let (Some(hh), Some(t)) = (households, taps)
                && t > hh
            {
                checks.reject(
                    line,
                    h.name(tap_col),
                    format!("{t} tap connections is more than the {hh} households"),
                );
            }
            let reported = match hgj_col.map(|c| parse::flag(row.get(c))) {
                None | Some(Ok(Flag::No)) => None,
                Some(Ok(Flag::Yes(d))) => match d {
                    Some(d) if d > today => {
                        checks.reject(
                            line,
                            h.name(hgj_col.unwrap_or_default()),
                            format!("{d} is in the future"),
                        );
                        None
                    }
                    d => Some(d.unwrap_or(today)),
                },
                Some(Err(e)) => {
                    checks.reject(line, h.name(hgj_col.unwrap_or_default()), e);
                    None
                }
            };
            if let (Some(c), Some(hh), Some(t)) = (code, households, taps)
                && !checks.is_bad(line)
            {
                accepted.push((c, hh, t, reported, line));
            }
        })
        .map_err(|(line, e)| super::UsageError(format!("{} line {line}: {e}", f.name)))?;
    ctx.progress.finish();
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: "coverage".into(),
        rows,
        ..Default::default()
    };
    let hgj_name = hgj_col.map_or("", |c| header.name(c));
    let mut changed = Vec::new();
    let mut newly_reported = Vec::new();
    for (code, hh, taps, reported, line) in accepted {
        let Some(v) = held.get(&code) else { continue };
        let mut after = v.clone();
        after.households = hh;
        after.tap_connections = taps;
        let saturated = hh > 0 && taps >= hh;
        if !saturated && after.hgj_status != HgjStatus::NotSaturated {
            after.hgj_status = HgjStatus::NotSaturated;
        }
        let unsafe_water = match reported {
            Some(_) if saturated && after.hgj_status == HgjStatus::NotSaturated => {
                latest_contamination(ctx.txn, v.id).await?
            }
            _ => None,
        };
        match reported {
            Some(_) if unsafe_water.is_some() => checks.warn(
                line,
                hgj_name,
                format!(
                    "reported Har Ghar Jal, but {}: not applied (as reportHarGharJal)",
                    unsafe_water.unwrap_or_default()
                ),
            ),
            Some(on) if saturated && after.hgj_status == HgjStatus::NotSaturated => {
                after.hgj_status = HgjStatus::Reported;
                newly_reported.push((v.id, on));
            }
            Some(_) if !saturated => checks.warn(
                line,
                hgj_name,
                format!(
                    "reported Har Ghar Jal, but {taps} of {hh} households have a tap: \
                     not applied (every household needs one)"
                ),
            ),
            None if v.hgj_status == HgjStatus::Reported && saturated => checks.warn(
                line,
                hgj_name,
                "not reported in the file, but reported in Sangam: left reported",
            ),
            _ => {}
        }
        if after == *v {
            report.unchanged += 1;
        } else {
            changed.push((v.district_id, after));
            report.updated += 1;
        }
    }
    villages::write(ctx, Vec::new(), changed, "coverage imported").await?;
    for (village, on) in newly_reported {
        let existing = hgj_report::Entity::find()
            .filter(hgj_report::Column::VillageId.eq(village))
            .one(ctx.txn)
            .await?;
        let mut row = match existing {
            Some(r) => r.into_active_model(),
            None => hgj_report::ActiveModel {
                village_id: Set(village),
                ..Default::default()
            },
        };
        row.reported_on = Set(on);
        row.reported_by = Set(ctx.who.sub.clone());
        row.save(ctx.txn).await?;
    }
    Ok(checks.into_report(report))
}
