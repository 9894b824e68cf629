//! `sangam import lgd`: states, districts, blocks, gram panchayats and villages from Local
//! Government Directory downloads, the kind of each file told by its header. Files are taken
//! from the top of the hierarchy down, so one command can load a state from nothing.
//!
//! Rows are keyed by LGD code: a code already held is updated in place (its id kept), a new
//! code is inserted. Names are stored exactly as LGD gives them (usually ALL CAPS); the API
//! shows them in title case (`graphql::types::display_name`). A blank local-language name
//! leaves the one held as it is.

use std::collections::HashMap;

use entities::enums::StateCategory;
use sea_orm::{ActiveEnum, ConnectionTrait, DbBackend, Statement};

use super::{
    Ctx, Opened, UsageError,
    bulk::{self, Cell},
    parse,
    report::{Checks, FileReport},
    table::{Field, Header, Row},
    villages::{self, VillageRow},
};

/// A level of the LGD hierarchy, top first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    State,
    District,
    Block,
    GramPanchayat,
    Village,
}

field!(
    STATE_CODE,
    "state_code",
    ["state code", "state lgd code", "lgd state code"]
);
field!(
    STATE_NAME,
    "state_name",
    ["state name", "state name in english", "state name english"]
);
field!(
    STATE_LOCAL,
    "state_name_local",
    [
        "state name in local",
        "state name local",
        "state name in local language",
        "state name local language"
    ]
);
field!(
    STATE_OR_UT,
    "state_or_ut",
    ["state or ut", "state ut", "state or union territory"]
);
field!(
    DISTRICT_CODE,
    "district_code",
    ["district code", "district lgd code", "lgd district code"]
);
field!(
    DISTRICT_NAME,
    "district_name",
    [
        "district name",
        "district name in english",
        "district name english"
    ]
);
field!(
    DISTRICT_LOCAL,
    "district_name_local",
    [
        "district name in local",
        "district name local",
        "district name in local language",
        "district name local language"
    ]
);
field!(
    BLOCK_CODE,
    "block_code",
    [
        "block code",
        "block lgd code",
        "lgd block code",
        "development block code"
    ]
);
field!(
    BLOCK_NAME,
    "block_name",
    [
        "block name",
        "block name in english",
        "block name english",
        "development block name"
    ]
);
field!(
    BLOCK_LOCAL,
    "block_name_local",
    [
        "block name in local",
        "block name local",
        "block name in local language",
        "block name local language"
    ]
);
field!(
    GP_CODE,
    "gp_code",
    [
        "local body code",
        "gram panchayat code",
        "gp code",
        "panchayat code",
        "gram panchayat lgd code",
        "local body lgd code",
        "gp lgd code"
    ]
);
field!(
    GP_NAME,
    "gp_name",
    [
        "local body name in english",
        "local body name",
        "gram panchayat name",
        "gram panchayat name in english",
        "gp name",
        "panchayat name"
    ]
);
field!(
    GP_LOCAL,
    "gp_name_local",
    [
        "local body name in local",
        "local body name in local language",
        "gram panchayat name in local",
        "gram panchayat name in local language",
        "gp name local"
    ]
);
field!(
    VILLAGE_CODE,
    "village_code",
    [
        "village code",
        "village lgd code",
        "lgd village code",
        "village lgd id",
        "village id lgd"
    ]
);
field!(
    VILLAGE_NAME,
    "village_name",
    [
        "village name in englsih",
        "village name in english",
        "village name",
        "village name english"
    ]
);
field!(
    VILLAGE_LOCAL,
    "village_name_local",
    [
        "village name in local language",
        "village name in local",
        "village name local",
        "village name local language"
    ]
);
field!(
    DIVISION_NAME,
    "division_name",
    [
        "division name",
        "division name in english",
        "division",
        "revenue division",
        "sambhag"
    ]
);
field!(
    DIVISION_LOCAL,
    "division_name_local",
    [
        "division name in local",
        "division name local",
        "division name in local language"
    ]
);
field!(DIVISION_CODE, "division_code", ["division code"]);

/// What each level reads and where it is kept.
struct Spec {
    level: Level,
    kind: &'static str,
    table: &'static str,
    code: &'static Field,
    name: &'static Field,
    local: &'static Field,
    /// The parent's code column and the column holding the parent's id.
    parent: Option<(&'static Field, &'static str)>,
}

const SPECS: [Spec; 5] = [
    Spec {
        level: Level::State,
        kind: "state",
        table: "state",
        code: &STATE_CODE,
        name: &STATE_NAME,
        local: &STATE_LOCAL,
        parent: None,
    },
    Spec {
        level: Level::District,
        kind: "district",
        table: "district",
        code: &DISTRICT_CODE,
        name: &DISTRICT_NAME,
        local: &DISTRICT_LOCAL,
        parent: Some((&STATE_CODE, "state_id")),
    },
    Spec {
        level: Level::Block,
        kind: "block",
        table: "block",
        code: &BLOCK_CODE,
        name: &BLOCK_NAME,
        local: &BLOCK_LOCAL,
        parent: Some((&DISTRICT_CODE, "district_id")),
    },
    Spec {
        level: Level::GramPanchayat,
        kind: "gram_panchayat",
        table: "gram_panchayat",
        code: &GP_CODE,
        name: &GP_NAME,
        local: &GP_LOCAL,
        parent: Some((&BLOCK_CODE, "block_id")),
    },
    Spec {
        level: Level::Village,
        kind: "village",
        table: "village",
        code: &VILLAGE_CODE,
        name: &VILLAGE_NAME,
        local: &VILLAGE_LOCAL,
        parent: Some((&GP_CODE, "gram_panchayat_id")),
    },
];

fn spec(level: Level) -> &'static Spec {
    &SPECS[level as usize]
}

/// What a file holds, told by the most specific code column it has.
pub fn detect(header: &Header) -> Option<Level> {
    SPECS
        .iter()
        .rev()
        .find(|s| header.find(s.code).is_some())
        .map(|s| s.level)
}

/// A parent row, with the ancestors a child copies (villages keep block, district and state).
#[derive(Debug, Clone, Copy)]
pub(super) struct Anc {
    pub id: i64,
    pub block: Option<i64>,
    pub district: Option<i64>,
    pub state: i64,
    pub district_code: Option<i32>,
    pub state_code: i32,
}

/// The rows of `level` by code, as ancestors of the level below.
async fn ancestors<C: ConnectionTrait>(
    conn: &C,
    level: Level,
) -> anyhow::Result<HashMap<i32, Anc>> {
    let sql = match level {
        Level::State => {
            "SELECT s.lgd_code AS code, s.id AS id, NULL AS block, NULL AS district, \
             s.id AS state, NULL AS dcode, s.lgd_code AS scode FROM state s"
        }
        Level::District => {
            "SELECT d.lgd_code AS code, d.id AS id, NULL AS block, d.id AS district, \
             d.state_id AS state, d.lgd_code AS dcode, s.lgd_code AS scode \
             FROM district d JOIN state s ON s.id = d.state_id"
        }
        Level::Block => {
            "SELECT b.lgd_code AS code, b.id AS id, b.id AS block, d.id AS district, \
             d.state_id AS state, d.lgd_code AS dcode, s.lgd_code AS scode \
             FROM block b JOIN district d ON d.id = b.district_id JOIN state s ON s.id = d.state_id"
        }
        Level::GramPanchayat => {
            "SELECT g.lgd_code AS code, g.id AS id, g.block_id AS block, \
             d.id AS district, d.state_id AS state, d.lgd_code AS dcode, s.lgd_code AS scode \
             FROM gram_panchayat g JOIN block b ON b.id = g.block_id \
             JOIN district d ON d.id = b.district_id JOIN state s ON s.id = d.state_id"
        }
        Level::Village => anyhow::bail!("villages have no children"),
    };
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let code: i32 = r.try_get("", "code")?;
        out.insert(
            code,
            Anc {
                id: r.try_get("", "id")?,
                block: r.try_get("", "block")?,
                district: r.try_get("", "district")?,
                state: r.try_get("", "state")?,
                district_code: r.try_get("", "dcode")?,
                state_code: r.try_get("", "scode")?,
            },
        );
    }
    Ok(out)
}

/// A row of the level as held.
struct Held {
    id: i64,
    parent: Option<i64>,
    name: String,
    local: String,
    category: Option<String>,
}

async fn held<C: ConnectionTrait>(conn: &C, s: &Spec) -> anyhow::Result<HashMap<i32, Held>> {
    let parent = s.parent.map_or("NULL", |(_, col)| col);
    let category = if s.level == Level::State {
        "category"
    } else {
        "NULL"
    };
    let sql = format!(
        "SELECT id, lgd_code, {parent} AS parent, name, name_hi, {category} AS category FROM {}",
        s.table
    );
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        out.insert(
            r.try_get::<i32>("", "lgd_code")?,
            Held {
                id: r.try_get("", "id")?,
                parent: r.try_get("", "parent")?,
                name: r.try_get("", "name")?,
                local: r.try_get("", "name_hi")?,
                category: r.try_get("", "category")?,
            },
        );
    }
    Ok(out)
}

/// A state's funding category from LGD's "State or UT" (`S`/`U`) and its code: the north-eastern
/// and Himalayan states and the union territories with a legislature are named by code.
fn category(code: i32, state_or_ut: &str) -> Result<StateCategory, String> {
    const NORTH_EAST: [i32; 8] = [11, 12, 13, 14, 15, 16, 17, 18];
    const HIMALAYAN: [i32; 2] = [2, 5];
    const UT_WITH_LEGISLATURE: [i32; 3] = [1, 7, 34];
    let ut = match state_or_ut.trim().to_ascii_uppercase().as_str() {
        "U" | "UT" | "UNION TERRITORY" => true,
        "S" | "STATE" | "" => false,
        other => {
            return Err(format!(
                "{other:?} is neither S (state) nor U (union territory)"
            ));
        }
    };
    Ok(if ut {
        if UT_WITH_LEGISLATURE.contains(&code) {
            StateCategory::UtWithLegislature
        } else {
            StateCategory::Ut
        }
    } else if NORTH_EAST.contains(&code) {
        StateCategory::NorthEast
    } else if HIMALAYAN.contains(&code) {
        StateCategory::Himalayan
    } else {
        StateCategory::General
    })
}

/// One accepted row.
struct Unit {
    code: i32,
    name: String,
    local: String,
    anc: Option<Anc>,
    category: Option<StateCategory>,
}

/// Imports LGD files, top level first.
pub(super) async fn import(
    ctx: &mut Ctx<'_>,
    files: Vec<Opened>,
    out: &mut Vec<FileReport>,
) -> Result<(), super::ImportError> {
    let mut by_level = Vec::with_capacity(files.len());
    for f in files {
        let level = detect(&f.rows.header).ok_or_else(|| {
            UsageError(format!(
                "{}: cannot tell which LGD file this is (no state, district, block, \
                 local body or village code column)",
                f.name
            ))
        })?;
        by_level.push((level, f));
    }
    by_level.sort_by_key(|(l, _)| *l);
    for (level, f) in by_level {
        out.push(import_level(ctx, level, f).await?);
    }
    Ok(())
}

async fn import_level(
    ctx: &mut Ctx<'_>,
    level: Level,
    f: Opened,
) -> Result<FileReport, super::ImportError> {
    let s = spec(level);
    let h = &f.rows.header;
    let code_col = h.require(s.code, &f.name)?;
    let name_col = h.require(s.name, &f.name)?;
    // LGD writes the local-language name under the same heading as the English one.
    let local_col = h.find(s.local).or_else(|| h.nth(s.name, 1));
    let parent_col = match s.parent {
        Some((field, _)) => Some(h.require(field, &f.name)?),
        None => None,
    };
    let kind_col = (level == Level::State)
        .then(|| h.find(&STATE_OR_UT))
        .flatten();
    // A village file's block code, when it has one, must be its panchayat's block.
    let block_col = (level == Level::Village)
        .then(|| h.find(&BLOCK_CODE))
        .flatten();
    let parents = match level {
        Level::State => HashMap::new(),
        other => ancestors(ctx.txn, SPECS[other as usize - 1].level).await?,
    };
    let blocks = match block_col {
        Some(_) => ancestors(ctx.txn, Level::Block).await?,
        None => HashMap::new(),
    };
    let held = held(ctx.txn, s).await?;

    let mut checks = Checks::default();
    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut units = Vec::new();
    let mut rows = 0u64;
    ctx.progress.start(&format!("checking {}", f.name), None);
    let who = ctx.who;
    f.rows
        .for_each(|h, row: &Row<'_>| {
            rows += 1;
            ctx.progress.inc(1);
            let line = row.line;
            let code = match parse::code(row.get(code_col)) {
                Ok(c) => Some(c),
                Err(e) => {
                    checks.reject(line, h.name(code_col), e);
                    None
                }
            };
            if let Some(c) = code
                && let Some(first) = seen.insert(c, line)
            {
                checks.reject(
                    line,
                    h.name(code_col),
                    format!("code {c} is given twice in the file (first on line {first})"),
                );
                seen.insert(c, first);
            }
            let name = parse::name(row.get(name_col));
            if name.is_empty() {
                checks.reject(line, h.name(name_col), "the name is empty");
            }
            let local = parse::name(row.opt(local_col));
            let anc = match parent_col {
                None => None,
                Some(pc) => match parse::code(row.get(pc)) {
                    Err(e) => {
                        checks.reject(line, h.name(pc), e);
                        None
                    }
                    Ok(p) => match parents.get(&p) {
                        Some(a) => Some(*a),
                        None => {
                            checks.reject(
                                line,
                                h.name(pc),
                                format!("unknown {} code {p}", spec_parent_name(level)),
                            );
                            None
                        }
                    },
                },
            };
            if let (Some(bc), Some(a)) = (block_col, anc.as_ref()) {
                match parse::code(row.get(bc)) {
                    Err(e) => checks.reject(line, h.name(bc), e),
                    Ok(b) => match blocks.get(&b) {
                        None => checks.reject(line, h.name(bc), format!("unknown block code {b}")),
                        Some(blk) if Some(blk.id) != a.block => checks.reject(
                            line,
                            h.name(bc),
                            format!("block {b} is not the block of this gram panchayat"),
                        ),
                        Some(_) => {}
                    },
                }
            }
            let mut category = None;
            if level == Level::State
                && let Some(c) = code
            {
                match category_of(c, row.opt(kind_col)) {
                    Ok(k) => category = Some(k),
                    Err(e) => checks.reject(line, kind_col.map_or("", |k| h.name(k)), e),
                }
            }
            // Rows outside the principal's jurisdiction are rejected like any bad row.
            let (state_code, district_code) = match (&anc, level) {
                (Some(a), Level::District) => (Some(a.state_code), code),
                (Some(a), _) => (Some(a.state_code), a.district_code),
                (None, Level::State) => (code, None),
                (None, _) => (None, None),
            };
            if let Some(sc) = state_code
                && !crate::service::scope::may_write_in(who, sc, district_code)
            {
                checks.reject(line, h.name(code_col), "outside your jurisdiction");
            }
            if let Some(code) = code
                && !checks.is_bad(line)
            {
                units.push(Unit {
                    code,
                    name,
                    local,
                    anc,
                    category,
                });
            }
        })
        .map_err(|(line, e)| UsageError(format!("{} line {line}: {e}", f.name)))?;
    ctx.progress.finish();
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: s.kind.to_owned(),
        rows,
        ..Default::default()
    };
    write_units(ctx, s, &held, units, &mut report).await?;
    Ok(checks.into_report(report))
}

fn category_of(code: i32, kind: &str) -> Result<StateCategory, String> {
    category(code, kind)
}

fn spec_parent_name(level: Level) -> &'static str {
    match level {
        Level::State | Level::District => "state",
        Level::Block => "district",
        Level::GramPanchayat => "block",
        Level::Village => "gram panchayat",
    }
}

/// Inserts new codes, updates changed ones, counts the rest.
async fn write_units(
    ctx: &mut Ctx<'_>,
    s: &Spec,
    held: &HashMap<i32, Held>,
    units: Vec<Unit>,
    report: &mut FileReport,
) -> anyhow::Result<()> {
    if s.level == Level::Village {
        return write_villages(ctx, held, units, report).await;
    }
    let mut next = next_id(ctx.txn, s.table).await?;
    let mut inserts = Vec::new();
    let mut updates = Vec::new();
    for u in units {
        let parent = u.anc.map(|a| a.id);
        let category = u.category.map(|c| c.to_value());
        match held.get(&u.code) {
            None => {
                let mut row = vec![Cell::Int(next), Cell::Int(i64::from(u.code))];
                if let Some(p) = parent {
                    row.push(Cell::Int(p));
                }
                row.push(Cell::Text(u.name));
                row.push(Cell::Text(u.local));
                match s.level {
                    Level::State => row.push(Cell::Text(category.unwrap_or_default())),
                    Level::District => {
                        ctx.districts.insert(next);
                        row.push(Cell::Bool(false));
                    }
                    _ => {}
                }
                inserts.push(row);
                next += 1;
                report.inserted += 1;
            }
            Some(h) => {
                let local = if u.local.is_empty() {
                    h.local.clone()
                } else {
                    u.local
                };
                let same = h.name == u.name
                    && h.local == local
                    && h.parent == parent
                    && (s.level != Level::State || h.category == category);
                if same {
                    report.unchanged += 1;
                    continue;
                }
                if h.parent != parent {
                    ctx.moved_parents = true;
                }
                let mut row = vec![Cell::Int(h.id)];
                if let Some(p) = parent {
                    row.push(Cell::Int(p));
                }
                row.push(Cell::Text(u.name));
                row.push(Cell::Text(local));
                if s.level == Level::State {
                    row.push(Cell::Text(category.unwrap_or_default()));
                }
                updates.push(row);
                report.updated += 1;
            }
        }
    }
    let parent_col = s.parent.map(|(_, c)| c);
    let mut columns: Vec<&str> = vec!["id", "lgd_code"];
    columns.extend(parent_col);
    columns.extend(["name", "name_hi"]);
    match s.level {
        Level::State => columns.push("category"),
        Level::District => columns.push("is_aspirational"),
        _ => {}
    }
    ctx.progress
        .start(&format!("writing {}", s.table), Some(inserts.len() as u64));
    for chunk in inserts.chunks(5_000) {
        bulk::insert_rows(ctx.txn, s.table, &columns, chunk).await?;
        ctx.progress.inc(chunk.len() as u64);
    }
    ctx.progress.finish();
    if !inserts.is_empty() {
        advance_sequence(ctx.txn, s.table).await?;
    }
    let mut set: Vec<&str> = parent_col.into_iter().collect();
    set.extend(["name", "name_hi"]);
    if s.level == Level::State {
        set.push("category");
    }
    bulk::update_rows(ctx.txn, s.table, &set, &[], &updates).await?;
    Ok(())
}

async fn write_villages(
    ctx: &mut Ctx<'_>,
    held: &HashMap<i32, Held>,
    units: Vec<Unit>,
    report: &mut FileReport,
) -> anyhow::Result<()> {
    let current = villages::held(ctx.txn, held.len()).await?;
    let mut next = next_id(ctx.txn, "village").await?;
    let mut new = Vec::new();
    let mut changed = Vec::new();
    for u in units {
        let Some(a) = u.anc else { continue };
        let (Some(block), Some(district)) = (a.block, a.district) else {
            continue;
        };
        match current.get(&u.code) {
            None => {
                new.push(VillageRow::new(
                    next, u.code, a.id, block, district, a.state, u.name, u.local,
                ));
                next += 1;
                report.inserted += 1;
            }
            Some(v) => {
                let mut after = v.clone();
                after.gram_panchayat_id = a.id;
                after.block_id = block;
                after.district_id = district;
                after.state_id = a.state;
                after.name = u.name;
                if !u.local.is_empty() {
                    after.name_hi = u.local;
                }
                if after == *v {
                    report.unchanged += 1;
                } else {
                    changed.push((v.district_id, after));
                    report.updated += 1;
                }
            }
        }
    }
    villages::write(ctx, new, changed, "imported from LGD").await
}

/// The first id after the table's rows (the import holds the table's write lock).
pub(super) async fn next_id<C: ConnectionTrait>(conn: &C, table: &str) -> anyhow::Result<i64> {
    let backend = conn.get_database_backend();
    if backend == DbBackend::Postgres {
        conn.execute_unprepared(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
            .await?;
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) AS m FROM {table}"),
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "m"))
        .transpose()?
        .unwrap_or(0)
        + 1)
}

/// Explicit ids leave PostgreSQL's identity sequence behind; moves it past them.
pub(super) async fn advance_sequence<C: ConnectionTrait>(
    conn: &C,
    table: &str,
) -> anyhow::Result<()> {
    if conn.get_database_backend() == DbBackend::Postgres {
        conn.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
        ))
        .await?;
    }
    Ok(())
}

/// `sangam import divisions`: LGD has no divisions, so a state supplies them as a file of
/// district code → division name (and, optionally, local name and code). Divisions are created
/// as needed, keyed by `code` (given, or `<state code>-<NAME>`).
pub(super) async fn divisions(
    ctx: &mut Ctx<'_>,
    f: Opened,
) -> Result<FileReport, super::ImportError> {
    let h = &f.rows.header;
    let district_col = h.require(&DISTRICT_CODE, &f.name)?;
    let name_col = h.require(&DIVISION_NAME, &f.name)?;
    let local_col = h.find(&DIVISION_LOCAL).or_else(|| h.nth(&DIVISION_NAME, 1));
    let code_col = h.find(&DIVISION_CODE);
    let districts = ancestors(ctx.txn, Level::District).await?;
    let current: HashMap<i64, Option<i64>> = ctx
        .txn
        .query_all_raw(Statement::from_string(
            ctx.txn.get_database_backend(),
            "SELECT id, division_id FROM district",
        ))
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "division_id")?)))
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let mut held: HashMap<String, (i64, i64, String, String)> = ctx
        .txn
        .query_all_raw(Statement::from_string(
            ctx.txn.get_database_backend(),
            "SELECT id, code, state_id, name, name_hi FROM division",
        ))
        .await?
        .into_iter()
        .map(|r| {
            Ok((
                r.try_get::<String>("", "code")?,
                (
                    r.try_get("", "id")?,
                    r.try_get("", "state_id")?,
                    r.try_get("", "name")?,
                    r.try_get("", "name_hi")?,
                ),
            ))
        })
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let mut checks = Checks::default();
    let mut seen: HashMap<i32, u64> = HashMap::new();
    let mut wanted: Vec<(u64, i64, String, String, String, i64)> = Vec::new();
    let mut rows = 0;
    let who = ctx.who;
    f.rows
        .for_each(|h, row| {
            rows += 1;
            let line = row.line;
            let district = match parse::code(row.get(district_col)) {
                Err(e) => {
                    checks.reject(line, h.name(district_col), e);
                    None
                }
                Ok(c) => {
                    if let Some(first) = seen.insert(c, line) {
                        checks.reject(
                            line,
                            h.name(district_col),
                            format!(
                                "district {c} is given twice in the file (first on line {first})"
                            ),
                        );
                    }
                    match districts.get(&c) {
                        None => {
                            checks.reject(
                                line,
                                h.name(district_col),
                                format!("unknown district code {c}"),
                            );
                            None
                        }
                        Some(a)
                            if !crate::service::scope::may_write_in(who, a.state_code, Some(c)) =>
                        {
                            checks.reject(line, h.name(district_col), "outside your jurisdiction");
                            None
                        }
                        Some(a) => Some(*a),
                    }
                }
            };
            let name = parse::name(row.get(name_col));
            if name.is_empty() {
                checks.reject(line, h.name(name_col), "the division name is empty");
            }
            if let Some(a) = district
                && !checks.is_bad(line)
            {
                let code = match parse::name(row.opt(code_col)) {
                    c if c.is_empty() => format!("{}-{}", a.state_code, name.to_uppercase()),
                    c => c,
                };
                wanted.push((
                    line,
                    a.id,
                    code,
                    name,
                    parse::name(row.opt(local_col)),
                    a.state,
                ));
            }
        })
        .map_err(|(line, e)| UsageError(format!("{} line {line}: {e}", f.name)))?;
    let mut report = FileReport {
        file: f.name.clone(),
        sha256: f.sha256.clone(),
        kind: "division".into(),
        rows,
        ..Default::default()
    };
    let mut next = next_id(ctx.txn, "division").await?;
    let mut created = false;
    let mut moves = Vec::new();
    for (_, district, code, name, local, state) in wanted {
        let division = match held.get(&code) {
            Some((id, _, _, _)) => *id,
            None => {
                bulk::insert_rows(
                    ctx.txn,
                    "division",
                    &["id", "state_id", "code", "name", "name_hi"],
                    &[vec![
                        Cell::Int(next),
                        Cell::Int(state),
                        Cell::Text(code.clone()),
                        Cell::Text(name.clone()),
                        Cell::Text(local.clone()),
                    ]],
                )
                .await?;
                held.insert(code, (next, state, name, local));
                created = true;
                next += 1;
                next - 1
            }
        };
        if current.get(&district).copied().flatten() == Some(division) {
            report.unchanged += 1;
        } else {
            moves.push(vec![Cell::Int(district), Cell::Int(division)]);
            report.updated += 1;
        }
    }
    if created {
        advance_sequence(ctx.txn, "division").await?;
    }
    bulk::update_rows(ctx.txn, "district", &["division_id"], &[], &moves).await?;
    Ok(checks.into_report(report))
}
