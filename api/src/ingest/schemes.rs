//! `sangam import schemes`: an IMIS scheme list. Schemes are keyed by their IMIS id or code;
//! a scheme's district is that of the first village it serves. Amounts are in rupees (stored
//! in paise). The villages served are LGD codes separated by `;`, `,`, `|` or spaces, and the
//! file's list replaces the one held.

use std::collections::{BTreeSet, HashMap};

use entities::enums::{ImplementingAgency, SchemeStatus, SchemeType};
use sea_orm::{ActiveEnum, ConnectionTrait, Iterable, Statement};

use super::{
    Ctx, Opened,
    bulk::{self, Cell},
    coverage::codes,
    lgd::{advance_sequence, next_id},
    parse,
    report::{Checks, FileReport},
    villages,
};

field!(
    CODE,
    "scheme_code",
    [
        "scheme id",
        "scheme code",
        "imis scheme id",
        "scheme id imis",
        "scheme no",
        "scheme number"
    ]
);
field!(
    NAME,
    "scheme_name",
    ["scheme name", "name of scheme", "name of the scheme"]
);
field!(
    TYPE,
    "scheme_type",
    ["scheme type", "type of scheme", "type"]
);
field!(
    STATUS,
    "status",
    [
        "scheme status",
        "status",
        "physical status",
        "current status"
    ]
);
field!(
    COST,
    "estimated_cost",
    [
        "estimated cost",
        "estimated cost rs",
        "estimated cost in rs",
        "sanctioned cost",
        "sanctioned cost rs",
        "estimated cost inr"
    ]
);
field!(
    SPENT,
    "expenditure",
    [
        "expenditure",
        "expenditure rs",
        "expenditure in rs",
        "total expenditure",
        "expenditure incurred"
    ]
);
field!(
    VILLAGES,
    "villages",
    [
        "villages",
        "village lgd codes",
        "villages served",
        "village codes",
        "village lgd code",
        "villages lgd codes"
    ]
);
field!(
    AGENCY,
    "implementing_agency",
    ["implementing agency", "agency"]
);

fn scheme_type(s: &str) -> Result<SchemeType, String> {
    let n = super::table::normalise(s);
    match n.as_str() {
        "svs" | "single village" | "single village scheme" | "single" => Ok(SchemeType::Svs),
        "mvs" | "multi village" | "multi village scheme" | "multiple village" | "multi" => {
            Ok(SchemeType::Mvs)
        }
        _ => SchemeType::iter()
            .find(|t| t.to_value().replace('_', " ").to_lowercase() == n)
            .ok_or_else(|| format!("{s:?} is not a scheme type (single- or multi-village, …)")),
    }
}

fn scheme_status(s: &str) -> Result<SchemeStatus, String> {
    let n = super::table::normalise(s);
    match n.as_str() {
        "ongoing" | "in progress" | "under progress" | "work in progress" => {
            Ok(SchemeStatus::InProgress)
        }
        "handed over" | "handed over to gp" => Ok(SchemeStatus::HandedOverToGp),
        "sanctioned" | "approved" => Ok(SchemeStatus::AdminApproved),
        _ => SchemeStatus::iter()
            .find(|t| t.to_value().replace('_', " ").to_lowercase() == n)
            .ok_or_else(|| format!("{s:?} is not a scheme status")),
    }
}

fn agency(s: &str) -> Result<ImplementingAgency, String> {
    match super::table::normalise(s).as_str() {
        "" | "phed" | "pwd" | "rwsd" => Ok(ImplementingAgency::Phed),
        "jal nigam" => Ok(ImplementingAgency::JalNigam),
        "gram panchayat" | "gp" => Ok(ImplementingAgency::GramPanchayat),
        _ => Err(format!(
            "{s:?} is not an implementing agency (PHED, Jal Nigam, Gram Panchayat)"
        )),
    }
}

/// A scheme as the file gives it.
struct Row {
    code: String,
    name: String,
    kind: SchemeType,
    status: SchemeStatus,
    agency: ImplementingAgency,
    cost: i64,
    spent: i64,
    district: i64,
    villages: BTreeSet<i64>,
}

/// A scheme as held.
struct Held {
    id: i64,
    name: String,
    kind: String,
    status: String,
    agency: String,
    cost: i64,
    spent: i64,
    district: i64,
}

pub(super) async fn import(ctx: &mut Ctx<'_>, f: Opened) -> Result<FileReport, super::ImportError> {
    let h = &f.rows.header;
    let code_col = h.require(&CODE, &f.name)?;
    let name_col = h.require(&NAME, &f.name)?;
    let type_col = h.require(&TYPE, &f.name)?;
    let status_col = h.require(&STATUS, &f.name)?;
    let cost_col = h.require(&COST, &f.name)?;
    let spent_col = h.require(&SPENT, &f.name)?;
    let villages_col = h.require(&VILLAGES, &f.name)?;
    let agency_col = h.find(&AGENCY);
    let held_villages = villages::held(ctx.txn, 0).await?;
    let (district_codes, state_codes) = codes(ctx.txn).await?;
    let mut checks = Checks::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = Vec::new();
    let mut n = 0;
    let who = ctx.who;
    f.rows
        .for_each(|h, row| {
            n += 1;
            let line = row.line;
            let code = parse::name(row.get(code_col));
            if code.is_empty() {
                checks.reject(line, h.name(code_col), "the scheme id is empty");
            } else if let Some(first) = seen.insert(code.clone(), line) {
                seen.insert(code.clone(), first);
                checks.reject(
                    line,
                    h.name(code_col),
                    format!("scheme {code} is given twice in the file (first on line {first})"),
                );
            }
            let name = parse::name(row.get(name_col));
            if name.is_empty() {
                checks.reject(line, h.name(name_col), "the name is empty");
            }
            let kind = scheme_type(row.get(type_col))
                .map_err(|e| checks.reject(line, h.name(type_col), e));
            let status = scheme_status(row.get(status_col))
                .map_err(|e| checks.reject(line, h.name(status_col), e));
            let agency = agency(row.opt(agency_col))
                .map_err(|e| checks.reject(line, agency_col.map_or("", |c| h.name(c)), e));
            let paise = |col: usize, checks: &mut Checks| {
                parse::amount(row.get(col))
                    .map(|x| (x * 100.0).round() as i64)
                    .map_err(|e| checks.reject(line, h.name(col), e))
            };
            let cost = paise(cost_col, &mut checks);
            let spent = paise(spent_col, &mut checks);
            let mut served = BTreeSet::new();
            let mut district = None;
            let list = row.get(villages_col);
            for part in list
                .split([';', ',', '|', ' '])
                .filter(|p| !p.trim().is_empty())
            {
                match parse::code(part) {
                    Err(e) => checks.reject(line, h.name(villages_col), e),
                    Ok(c) => match held_villages.get(&c) {
                        None => checks.reject(
                            line,
                            h.name(villages_col),
                            format!("unknown village code {c}"),
                        ),
                        Some(v) => {
                            let state = state_codes.get(&v.state_id).copied().unwrap_or_default();
                            let dcode = district_codes.get(&v.district_id).copied();
                            if !crate::service::scope::may_write_in(who, state, dcode) {
                                checks.reject(
                                    line,
                                    h.name(villages_col),
                                    format!("village {c} is outside your jurisdiction"),
                                );
                            }
                            district.get_or_insert(v.district_id);
                            served.insert(v.id);
                        }
                    },
                }
            }
            if list.trim().is_empty() {
                checks.reject(
                    line,
                    h.name(villages_col),
                    "name at least one village served",
                );
            }
            if let (Ok(kind), Ok(status), Ok(agency), Ok(cost), Ok(spent), Some(district)) =
                (kind, status, agency, cost, spent, district)
                && !checks.is_bad(line)
            {
                rows.push(Row {
                    code,
                    name,
                    kind,
                    status,
                    agency,
                    cost,
                    spent,
                    district,
                    villages: served,
                });
            }
        })
        .map_err(|(line, e)| super::UsageError(format!("{} line {line}: {e}", f.name)))?;
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: "scheme".into(),
        rows: n,
        ..Default::default()
    };
    write(ctx, rows, &mut report).await?;
    Ok(checks.into_report(report))
}

async fn write(ctx: &mut Ctx<'_>, rows: Vec<Row>, report: &mut FileReport) -> anyhow::Result<()> {
    let backend = ctx.txn.get_database_backend();
    let mut held: HashMap<String, Held> = HashMap::new();
    for r in ctx
        .txn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id, code, name, scheme_type, status, implementing_agency, \
             estimated_cost_paise, expenditure_paise, district_id FROM scheme",
        ))
        .await?
    {
        held.insert(
            r.try_get("", "code")?,
            Held {
                id: r.try_get("", "id")?,
                name: r.try_get("", "name")?,
                kind: r.try_get("", "scheme_type")?,
                status: r.try_get("", "status")?,
                agency: r.try_get("", "implementing_agency")?,
                cost: r.try_get("", "estimated_cost_paise")?,
                spent: r.try_get("", "expenditure_paise")?,
                district: r.try_get("", "district_id")?,
            },
        );
    }
    let mut links: HashMap<i64, BTreeSet<i64>> = HashMap::new();
    for r in ctx
        .txn
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT scheme_id, village_id FROM scheme_village",
        ))
        .await?
    {
        links
            .entry(r.try_get("", "scheme_id")?)
            .or_default()
            .insert(r.try_get("", "village_id")?);
    }
    let mut next = next_id(ctx.txn, "scheme").await?;
    let (mut inserts, mut updates, mut add, mut drop) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in rows {
        let fields = |id: i64| {
            vec![
                Cell::Int(id),
                Cell::Text(r.name.clone()),
                Cell::Text(r.kind.to_value()),
                Cell::Text(r.status.to_value()),
                Cell::Text(r.agency.to_value()),
                Cell::Int(r.cost),
                Cell::Int(r.spent),
                Cell::Int(r.district),
            ]
        };
        let (id, had) = match held.get(&r.code) {
            None => {
                let mut row = fields(next);
                row.extend([
                    Cell::Text(r.code.clone()),
                    Cell::Text(String::new()),
                    Cell::Int(0),
                    Cell::Int(1),
                ]);
                inserts.push(row);
                ctx.districts.insert(r.district);
                report.inserted += 1;
                next += 1;
                (next - 1, BTreeSet::new())
            }
            Some(h) => {
                let had = links.remove(&h.id).unwrap_or_default();
                let same = h.name == r.name
                    && h.kind == r.kind.to_value()
                    && h.status == r.status.to_value()
                    && h.agency == r.agency.to_value()
                    && (h.cost, h.spent, h.district) == (r.cost, r.spent, r.district)
                    && had == r.villages;
                if same {
                    report.unchanged += 1;
                    continue;
                }
                updates.push(fields(h.id));
                ctx.districts.insert(h.district);
                ctx.districts.insert(r.district);
                report.updated += 1;
                (h.id, had)
            }
        };
        for v in r.villages.difference(&had) {
            add.push(vec![Cell::Int(id), Cell::Int(*v)]);
        }
        for v in had.difference(&r.villages) {
            drop.push((id, *v));
        }
    }
    let columns = [
        "id",
        "name",
        "scheme_type",
        "status",
        "implementing_agency",
        "estimated_cost_paise",
        "expenditure_paise",
        "district_id",
        "code",
        "name_hi",
        "fhtc_target",
        "version",
    ];
    bulk::insert_rows(ctx.txn, "scheme", &columns, &inserts).await?;
    if !inserts.is_empty() {
        advance_sequence(ctx.txn, "scheme").await?;
    }
    bulk::update_rows(
        ctx.txn,
        "scheme",
        &columns[1..8],
        &["version = version + 1"],
        &updates,
    )
    .await?;
    for (scheme, village) in drop {
        ctx.txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                match backend {
                    sea_orm::DbBackend::Postgres => {
                        "DELETE FROM scheme_village WHERE scheme_id = $1 AND village_id = $2"
                    }
                    _ => "DELETE FROM scheme_village WHERE scheme_id = ? AND village_id = ?",
                },
                [scheme.into(), village.into()],
            ))
            .await?;
    }
    bulk::insert_rows(
        ctx.txn,
        "scheme_village",
        &["scheme_id", "village_id"],
        &add,
    )
    .await?;
    Ok(())
}
