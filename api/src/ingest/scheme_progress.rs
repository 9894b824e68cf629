//! `sangam import scheme-progress`: physical progress of scheme components as a division's
//! progress report or measurement-book abstract lists it, one component's cumulative quantity
//! on one day a row: scheme id, component, quantity done, as on date, and optionally the
//! planned quantity, evidence and a reason (remarks).
//!
//! A scheme is named by its code (the IMIS scheme id, as `sangam import schemes` keys it). A
//! component has no name of its own in Sangam, so it is named by its kind (`OHT`, `Rising
//! main`, `FHTC`, …); when a scheme has several components of one kind, the row also gives the
//! component's planned quantity, or its Sangam id (`SchemeComponent.id`).
//!
//! Every row is checked first (line, column, reason), including the rules of the record itself
//! as the rows of a file apply them in date order: the scheme's works under way, at most the
//! planned quantity, no day before the latest record, a decrease with a reason. Then each new
//! record is written by the very function `recordSchemeProgress` runs
//! ([`crate::service::schemes::components::record_progress`]) within the import's transaction:
//! the component's current quantity, the scheme's physical progress, audit records, rollups and
//! the `scheme.progress_recorded` event exactly as the API writes them.
//!
//! Records are keyed by component and day. A row identical to the record held for that
//! component and day (quantity, evidence and reason) is unchanged, so a file imported again
//! changes nothing; one that differs is rejected: records are append-only, so a correction is
//! a new record on a later day, with its reason.

use std::collections::HashMap;

use chrono::NaiveDate;
use entities::{district, scheme, scheme_component, scheme_progress, works::ComponentKind};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{
    Ctx, Opened, parse,
    report::{Checks, FileReport},
    schemes::CODE,
    table::normalise,
};
use crate::{
    error::ApiError,
    service::{
        schemes::components::{NewProgress, decreases, record_progress},
        text,
    },
};

field!(
    COMPONENT,
    "component",
    [
        "component",
        "component type",
        "component kind",
        "component name",
        "name of component",
        "item",
        "work item",
        "item of work"
    ]
);
field!(
    PLANNED,
    "planned_quantity",
    [
        "planned quantity",
        "planned",
        "planned qty",
        "target quantity",
        "sanctioned quantity",
        "quantity planned",
        "scope",
        "total scope"
    ]
);
field!(
    COMPONENT_ID,
    "component_id",
    ["component id", "sangam component id"]
);
field!(
    DONE,
    "quantity_done",
    [
        "quantity done",
        "qty done",
        "quantity completed",
        "cumulative quantity",
        "cumulative progress",
        "cumulative achievement",
        "achievement",
        "work done",
        "progress",
        "completed quantity"
    ]
);
field!(
    AS_OF,
    "as_of",
    [
        "as of",
        "as on",
        "as on date",
        "progress as on",
        "progress date",
        "date",
        "measured on",
        "measurement date",
        "date of measurement",
        "reported on"
    ]
);
field!(
    EVIDENCE,
    "evidence_url",
    [
        "evidence",
        "evidence url",
        "evidence link",
        "photo",
        "photo url",
        "geotagged photo",
        "mb link",
        "measurement book link"
    ]
);
field!(
    REASON,
    "reason",
    ["reason", "remarks", "remark", "reason for decrease"]
);

/// A component kind as progress reports name it: Sangam's own name, or the abbreviations and
/// terms of JJM progress formats.
fn component_kind(s: &str) -> Result<ComponentKind, String> {
    let n = normalise(s);
    // `E.S.R.` and `O.H.T.` as well as `ESR`.
    lookup(&n)
        .or_else(|| lookup(&n.replace(' ', "")))
        .ok_or_else(|| {
            format!(
                "{s:?} is not a component (source works, WTP, overhead reservoir/ESR, ground \
                 service reservoir/GSR, rising main, distribution pipeline, household tap \
                 connections/FHTC, pump house, solar pumping)"
            )
        })
}

fn lookup(n: &str) -> Option<ComponentKind> {
    use ComponentKind::*;
    let kind = match n {
        "source works" | "source" | "sources" | "source work" | "borewell" | "bore well"
        | "tube well" | "tubewell" | "intake" | "intake well" => SourceWorks,
        "water treatment plant" | "wtp" | "treatment plant" => WaterTreatmentPlant,
        "overhead reservoir"
        | "esr"
        | "elevated service reservoir"
        | "elevated storage reservoir"
        | "oht"
        | "ohsr"
        | "ohr"
        | "overhead tank"
        | "overhead service reservoir" => OverheadReservoir,
        "ground service reservoir"
        | "gsr"
        | "glsr"
        | "ground level service reservoir"
        | "sump"
        | "ground sump" => GroundServiceReservoir,
        "rising main" | "rising main pipeline" | "transmission main" => RisingMain,
        "distribution pipeline"
        | "distribution network"
        | "distribution line"
        | "distribution system"
        | "pipeline" => DistributionPipeline,
        "household tap connections"
        | "household tap connection"
        | "fhtc"
        | "fhtcs"
        | "tap connections"
        | "functional household tap connections"
        | "house connections" => HouseholdTapConnections,
        "pump house" | "pumphouse" | "pump room" => PumpHouse,
        "solar pumping" | "solar pump" | "solar pumping system" | "solar" | "spv pump" => {
            SolarPumping
        }
        _ => return None,
    };
    Some(kind)
}

/// The kind as the API spells it.
fn kind_name(k: ComponentKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{k:?}"))
}

/// One row as read, before it is matched to what is held.
struct Row {
    line: u64,
    code: String,
    kind: ComponentKind,
    planned: Option<f64>,
    component_id: Option<i64>,
    quantity: f64,
    as_of: NaiveDate,
    evidence_url: Option<String>,
    reason: Option<String>,
}

/// A scheme named in the file, with the LGD codes of its district and state (jurisdiction).
struct Held {
    scheme: scheme::Model,
    district_code: i32,
    state_code: i32,
    components: Vec<scheme_component::Model>,
}

/// The schemes with these codes, their components, and where they are.
async fn held_schemes<C: ConnectionTrait>(
    conn: &C,
    codes: &[String],
) -> anyhow::Result<HashMap<String, Held>> {
    let mut out = HashMap::new();
    let (_, state_codes) = super::coverage::codes(conn).await?;
    let districts: HashMap<i64, (i32, i64)> = district::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|d| (d.id, (d.lgd_code, d.state_id)))
        .collect();
    for chunk in codes.chunks(500) {
        let schemes = scheme::Entity::find()
            .filter(scheme::Column::Code.is_in(chunk.iter().cloned()))
            .all(conn)
            .await?;
        let ids: Vec<i64> = schemes.iter().map(|s| s.id).collect();
        let mut parts: HashMap<i64, Vec<scheme_component::Model>> = HashMap::new();
        for c in scheme_component::Entity::find()
            .filter(scheme_component::Column::SchemeId.is_in(ids))
            .order_by_asc(scheme_component::Column::Id)
            .all(conn)
            .await?
        {
            parts.entry(c.scheme_id).or_default().push(c);
        }
        for s in schemes {
            let (district_code, state_id) = districts.get(&s.district_id).copied().unzip();
            out.insert(
                s.code.clone(),
                Held {
                    district_code: district_code.unwrap_or_default(),
                    state_code: state_id
                        .and_then(|id| state_codes.get(&id).copied())
                        .unwrap_or_default(),
                    components: parts.remove(&s.id).unwrap_or_default(),
                    scheme: s,
                },
            );
        }
    }
    Ok(out)
}

/// The progress records of these components, oldest first.
async fn held_records<C: ConnectionTrait>(
    conn: &C,
    components: &[i64],
) -> anyhow::Result<HashMap<i64, Vec<scheme_progress::Model>>> {
    let mut out: HashMap<i64, Vec<scheme_progress::Model>> = HashMap::new();
    for chunk in components.chunks(500) {
        for r in scheme_progress::Entity::find()
            .filter(scheme_progress::Column::ComponentId.is_in(chunk.iter().copied()))
            .order_by_asc(scheme_progress::Column::Id)
            .all(conn)
            .await?
        {
            out.entry(r.component_id).or_default().push(r);
        }
    }
    Ok(out)
}

/// Picks the row's component among the scheme's: by its id when given, else by kind, and by
/// planned quantity when the scheme has several of the kind.
fn pick<'a>(held: &'a Held, row: &Row) -> Result<&'a scheme_component::Model, (bool, String)> {
    let code = &held.scheme.code;
    let kind = kind_name(row.kind);
    if let Some(id) = row.component_id {
        return match held.components.iter().find(|c| c.id == id) {
            None => Err((true, format!("scheme {code} has no component with this id"))),
            Some(c) if c.kind != row.kind => Err((
                false,
                format!(
                    "that component of scheme {code} is {}, not {kind}",
                    kind_name(c.kind)
                ),
            )),
            Some(c) => Ok(c),
        };
    }
    let of_kind: Vec<_> = held
        .components
        .iter()
        .filter(|c| c.kind == row.kind)
        .collect();
    let matching: Vec<_> = of_kind
        .iter()
        .copied()
        .filter(|c| {
            row.planned
                .is_none_or(|p| (c.planned_quantity - p).abs() <= 1e-9 * p.max(1.0))
        })
        .collect();
    match (of_kind.len(), matching.as_slice()) {
        (0, _) => {
            let has: Vec<_> = held.components.iter().map(|c| kind_name(c.kind)).collect();
            Err((
                false,
                format!(
                    "scheme {code} has no {kind} component (it has: {}); add it with \
                     addSchemeComponent first",
                    if has.is_empty() {
                        "none".to_owned()
                    } else {
                        has.join(", ")
                    }
                ),
            ))
        }
        (_, [one]) => Ok(one),
        (_, []) => Err((
            true,
            format!(
                "scheme {code} has no {kind} component planned at {} (planned: {})",
                row.planned.unwrap_or_default(),
                planned_list(&of_kind)
            ),
        )),
        (n, _) => Err((
            true,
            format!(
                "scheme {code} has {n} {kind} components (planned: {}); give the planned \
                 quantity or the component id to say which",
                planned_list(&of_kind)
            ),
        )),
    }
}

fn planned_list(parts: &[&scheme_component::Model]) -> String {
    parts
        .iter()
        .map(|c| c.planned_quantity.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Statuses in which progress is recorded (as `recordSchemeProgress` has them).
const UNDER_WAY: [entities::enums::SchemeStatus; 2] = [
    entities::enums::SchemeStatus::WorkOrderIssued,
    entities::enums::SchemeStatus::InProgress,
];

pub(super) async fn import(ctx: &mut Ctx<'_>, f: Opened) -> Result<FileReport, super::ImportError> {
    let header = f.rows.header.clone();
    let h = &header;
    let code_col = h.require(&CODE, &f.name)?;
    let kind_col = h.require(&COMPONENT, &f.name)?;
    let done_col = h.require(&DONE, &f.name)?;
    let as_of_col = h.require(&AS_OF, &f.name)?;
    let planned_col = h.find(&PLANNED);
    let id_col = h.find(&COMPONENT_ID);
    let evidence_col = h.find(&EVIDENCE);
    let reason_col = h.find(&REASON);
    let today = ctx.today;
    let mut checks = Checks::default();
    let mut read: Vec<Row> = Vec::new();
    let mut rows = 0;
    ctx.progress.start(&format!("checking {}", f.name), None);
    let progress = ctx.progress;
    f.rows
        .for_each(|h, row| {
            rows += 1;
            progress.inc(1);
            let line = row.line;
            let code = parse::name(row.get(code_col).trim_matches('"'));
            if code.is_empty() {
                checks.reject(line, h.name(code_col), "the scheme id is empty");
            }
            let kind = component_kind(row.get(kind_col))
                .map_err(|e| checks.reject(line, h.name(kind_col), e))
                .ok();
            let planned = match planned_col.map(|c| (c, row.get(c))) {
                Some((c, cell)) if !cell.trim().is_empty() => match parse::amount(cell) {
                    Ok(p) if p > 0.0 => Some(p),
                    Ok(_) => {
                        checks.reject(line, h.name(c), "a planned quantity is positive");
                        None
                    }
                    Err(e) => {
                        checks.reject(line, h.name(c), e);
                        None
                    }
                },
                _ => None,
            };
            let component_id = match id_col.map(|c| (c, row.get(c).trim())) {
                Some((c, cell)) if !cell.is_empty() => {
                    let id = cell.parse::<i64>().ok().filter(|n| *n > 0).or_else(|| {
                        crate::graphql::ids::decode_one(
                            "component_id",
                            &async_graphql::ID(cell.to_owned()),
                            crate::graphql::ids::Kind::SchemeComponent,
                        )
                        .ok()
                    });
                    if id.is_none() {
                        checks.reject(
                            line,
                            h.name(c),
                            format!("{cell:?} is not a scheme component's id"),
                        );
                    }
                    id
                }
                _ => None,
            };
            let quantity = parse::amount(row.get(done_col))
                .map_err(|e| checks.reject(line, h.name(done_col), e))
                .ok();
            let as_of = match parse::date(row.get(as_of_col)) {
                Ok(d) if d > today => {
                    checks.reject(
                        line,
                        h.name(as_of_col),
                        format!("{d} is in the future; progress is recorded as it stands"),
                    );
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    checks.reject(line, h.name(as_of_col), e);
                    None
                }
            };
            let evidence_url = {
                let s = row.opt(evidence_col).trim().to_owned();
                if s.is_empty() {
                    None
                } else if !(s.starts_with("https://") || s.starts_with("http://"))
                    || s.chars().count() > text::URL
                {
                    checks.reject(
                        line,
                        h.name(evidence_col.unwrap_or_default()),
                        format!(
                            "evidence is an http(s) URL of at most {} characters",
                            text::URL
                        ),
                    );
                    None
                } else {
                    Some(s)
                }
            };
            let reason = {
                let s = parse::name(row.opt(reason_col));
                if s.chars().count() > text::NOTE {
                    checks.reject(
                        line,
                        h.name(reason_col.unwrap_or_default()),
                        format!("at most {} characters", text::NOTE),
                    );
                }
                (!s.is_empty()).then_some(s)
            };
            if let (Some(kind), Some(quantity), Some(as_of)) = (kind, quantity, as_of)
                && !checks.is_bad(line)
            {
                read.push(Row {
                    line,
                    code,
                    kind,
                    planned,
                    component_id,
                    quantity,
                    as_of,
                    evidence_url,
                    reason,
                });
            }
        })
        .map_err(|(line, e)| super::UsageError(format!("{} line {line}: {e}", f.name)))?;
    ctx.progress.finish();
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: "scheme_progress".into(),
        rows,
        ..Default::default()
    };
    let mut codes: Vec<String> = read.iter().map(|r| r.code.clone()).collect();
    codes.sort();
    codes.dedup();
    let schemes = held_schemes(ctx.txn, &codes).await?;
    let component_ids: Vec<i64> = schemes
        .values()
        .flat_map(|s| s.components.iter().map(|c| c.id))
        .collect();
    let records = held_records(ctx.txn, &component_ids).await?;
    let name = |col: usize| header.name(col).to_owned();
    let (code_name, kind_name_col, done_name, as_of_name) = (
        name(code_col),
        name(kind_col),
        name(done_col),
        name(as_of_col),
    );
    // Where a row names its component beyond the kind, and where a decrease's reason goes
    // (the quantity's column when the file has no reason column).
    let component_name = name(id_col.or(planned_col).unwrap_or(kind_col));
    let reason_name = name(reason_col.unwrap_or(done_col));
    // Rows matched to their component; each component's new rows, by line.
    let mut first: HashMap<(i64, NaiveDate), u64> = HashMap::new();
    let mut fresh: HashMap<i64, Vec<(Row, &Held, &scheme_component::Model)>> = HashMap::new();
    for row in read {
        let line = row.line;
        let Some(held) = schemes.get(&row.code) else {
            checks.reject(line, &code_name, format!("unknown scheme {}", row.code));
            continue;
        };
        if !crate::service::scope::may_write_in(ctx.who, held.state_code, Some(held.district_code))
        {
            checks.reject(line, &code_name, "outside your jurisdiction");
            continue;
        }
        let component = match pick(held, &row) {
            Ok(c) => c,
            Err((by_id_or_plan, why)) => {
                let col = if by_id_or_plan {
                    &component_name
                } else {
                    &kind_name_col
                };
                checks.reject(line, col, why);
                continue;
            }
        };
        if let Some(&was) = first.get(&(component.id, row.as_of)) {
            checks.reject(
                line,
                &as_of_name,
                format!(
                    "{} of scheme {} is given twice for {} (first on line {was})",
                    kind_name(component.kind),
                    held.scheme.code,
                    row.as_of
                ),
            );
            continue;
        }
        first.insert((component.id, row.as_of), line);
        // The record that stands for that component and day: the last one made.
        let same_day = records
            .get(&component.id)
            .and_then(|rs| rs.iter().rev().find(|r| r.as_of == row.as_of));
        match same_day {
            Some(r)
                if !decreases(r.quantity_done, row.quantity)
                    && !decreases(row.quantity, r.quantity_done)
                    && r.evidence_url == row.evidence_url
                    && r.reason == row.reason =>
            {
                report.unchanged += 1;
            }
            Some(r) => checks.reject(
                line,
                &done_name,
                format!(
                    "{} of scheme {} is already recorded for {} ({} done{}); a progress record \
                     is not changed: record a correction on a later day, with its reason",
                    kind_name(component.kind),
                    held.scheme.code,
                    row.as_of,
                    r.quantity_done,
                    match (&r.evidence_url, &r.reason) {
                        (None, None) => String::new(),
                        (e, why) => format!(
                            "{}{}",
                            e.as_deref()
                                .map(|e| format!(", evidence {e}"))
                                .unwrap_or_default(),
                            why.as_deref()
                                .map(|w| format!(", reason {w:?}"))
                                .unwrap_or_default()
                        ),
                    }
                ),
            ),
            None => fresh
                .entry(component.id)
                .or_default()
                .push((row, held, component)),
        }
    }
    // The new rows of each component in date order, against the record before each: the
    // checks the record's body makes, so that a dry run names the same rows.
    let mut accepted: Vec<(u64, NewProgress)> = Vec::new();
    for rows in fresh.values_mut() {
        rows.sort_by_key(|(r, _, _)| (r.as_of, r.line));
        let Some((_, _, component)) = rows.first() else {
            continue;
        };
        let (mut quantity, mut as_of) = (component.quantity_done, component.progress_as_of);
        for (row, held, component) in rows.iter() {
            let line = row.line;
            let what = format!(
                "{} of scheme {}",
                kind_name(component.kind),
                held.scheme.code
            );
            if !UNDER_WAY.contains(&held.scheme.status) {
                checks.reject(
                    line,
                    &code_name,
                    format!(
                        "progress is recorded while the works are under way (WORK_ORDER_ISSUED \
                         or IN_PROGRESS); scheme {} is {}",
                        held.scheme.code,
                        crate::service::schemes::name(held.scheme.status)
                    ),
                );
                continue;
            }
            if row.quantity > component.planned_quantity * (1.0 + 1e-9) {
                checks.reject(
                    line,
                    &done_name,
                    format!(
                        "{} is more than the {} planned for {what}; add a component for the \
                         extra work",
                        row.quantity, component.planned_quantity
                    ),
                );
                continue;
            }
            if let Some(latest) = as_of
                && row.as_of < latest
            {
                checks.reject(
                    line,
                    &as_of_name,
                    format!(
                        "{what} is already recorded for {latest}, a later day; records only \
                         move forward in time"
                    ),
                );
                continue;
            }
            if decreases(quantity, row.quantity) && row.reason.is_none() {
                checks.reject(
                    line,
                    &reason_name,
                    format!(
                        "{what} falls from {quantity} to {}: give the reason (a measurement \
                         corrected, work dismantled)",
                        row.quantity
                    ),
                );
                continue;
            }
            (quantity, as_of) = (row.quantity, Some(row.as_of));
            accepted.push((
                line,
                NewProgress {
                    scheme: held.scheme.id,
                    component: component.id,
                    quantity_done: row.quantity,
                    as_of: row.as_of,
                    evidence_url: row.evidence_url.clone(),
                    reason: row.reason.clone(),
                },
            ));
        }
    }
    // Written in date order (then line), so events and history follow the works.
    accepted.sort_by_key(|(line, p)| (p.as_of, *line));
    // Nothing is written for a file with rejected rows unless the import is partial, nor for a
    // dry run: the transaction is rolled back then anyway.
    if ctx.dry_run || (checks.rejected_rows() > 0 && !ctx.partial) {
        report.inserted = accepted.len() as u64;
        return Ok(checks.into_report(report));
    }
    ctx.progress.start(
        &format!("recording {}", f.name),
        Some(accepted.len() as u64),
    );
    let svc = ctx.svc.clone();
    let argument_column = |argument: &str| match argument {
        "input.asOf" => as_of_name.clone(),
        "input.reason" => reason_name.clone(),
        "input.component" => component_name.clone(),
        "input.scheme" => code_name.clone(),
        _ => done_name.clone(),
    };
    for (line, p) in accepted {
        // Each record in a savepoint: a row the body refuses (the checks above make that
        // unlikely, but a concurrent write may have moved the scheme on) is rejected by line
        // and leaves nothing behind; a partial import goes on with the others.
        let savepoint = sea_orm::TransactionTrait::begin(ctx.txn).await?;
        let mut tx = svc.within("import scheme-progress", &savepoint);
        match record_progress(&mut tx, p).await {
            Ok(_) => {
                ctx.service_events.extend(tx.into_events());
                savepoint.commit().await?;
                report.inserted += 1;
            }
            Err(ApiError::BadInput { argument, message }) => {
                drop(tx);
                savepoint.rollback().await?;
                checks.reject(line, &argument_column(&argument), message);
            }
            Err(e) => {
                drop(tx);
                savepoint.rollback().await.ok();
                return Err(super::ImportError::write_failed(&f.name, line, &e));
            }
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
    fn components_as_progress_reports_name_them() {
        assert_eq!(component_kind("OHT"), Ok(ComponentKind::OverheadReservoir));
        assert_eq!(
            component_kind("E.S.R."),
            Ok(ComponentKind::OverheadReservoir)
        );
        assert_eq!(
            component_kind("OVERHEAD_RESERVOIR"),
            Ok(ComponentKind::OverheadReservoir)
        );
        assert_eq!(
            component_kind("FHTC"),
            Ok(ComponentKind::HouseholdTapConnections)
        );
        assert_eq!(component_kind("Rising Main"), Ok(ComponentKind::RisingMain));
        assert_eq!(
            component_kind("Distribution network"),
            Ok(ComponentKind::DistributionPipeline)
        );
        assert!(component_kind("boundary wall").is_err());
    }
}
