//! `sangam seed synthetic`: a deterministic dataset at national, state or district scale, for
//! load tests. The national scale has the counts of DOMAIN.md §1.3: 36 states and UTs, about
//! 780 districts, 7,000 blocks, 2.5 lakh gram panchayats and 6 lakh villages whose households
//! add up to about 19 crore, skewed like reality (big and small states, villages of 20 to 2,000
//! households, coverage between 40 and 100 %), with a scheme per gram panchayat, about three
//! tasks per village with their history, partner assignments and water-quality tests, and the
//! works of the schemes (components and progress, inspections with their rectification tasks,
//! handovers; see `works_of`).

use chrono::{Days, NaiveDate};
use entities::{
    enums::*,
    scheme_component,
    works::{FindingSeverity, InspectionStage, InspectionVerdict, OmFundsSource},
};
use sea_orm::{ActiveEnum, DatabaseConnection};

use super::{
    super::bulk::{Cell, Loader},
    SeedSummary,
    generate::{
        Rng, at, days_after, days_ago,
        works::{FINDINGS, OPERATORS, between_dates, plan, progress_steps, quantities},
    },
    is_seeded,
    names::place,
};
use crate::service::{
    bis,
    schemes::components::{physical_progress, unit_of},
    search_key::search_key,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scale {
    National,
    State,
    District,
}

/// Relative sizes of the 36 states and UTs (roughly their village counts), largest first.
const STATE_WEIGHTS: [u32; 36] = [
    1075, 559, 468, 454, 451, 445, 408, 393, 325, 299, 274, 246, 196, 190, 183, 168, 126, 100, 65,
    61, 53, 40, 35, 29, 25, 17, 12, 10, 6, 5, 4, 3, 3, 2, 2, 1,
];
const NATIONAL_DISTRICTS: u32 = 780;
const CHUNK: usize = 20_000;

fn i(n: impl Into<i64>) -> Cell {
    Cell::Int(n.into())
}
fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}
fn e<E: ActiveEnum<Value = String>>(v: E) -> Cell {
    Cell::Text(v.to_value())
}
fn opt_i(n: Option<i64>) -> Cell {
    n.map_or(Cell::Null, Cell::Int)
}

/// Rows of one table, flushed in chunks.
struct Table<'a> {
    name: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
    loader: &'a mut Loader,
    count: u64,
}

impl<'a> Table<'a> {
    fn new(loader: &'a mut Loader, name: &'static str, columns: &'static [&'static str]) -> Self {
        Self {
            name,
            columns,
            rows: Vec::with_capacity(CHUNK),
            loader,
            count: 0,
        }
    }
    async fn push(&mut self, row: Vec<Cell>) -> anyhow::Result<()> {
        self.rows.push(row);
        self.count += 1;
        if self.rows.len() >= CHUNK {
            self.loader
                .write(self.name, self.columns, &self.rows)
                .await?;
            self.rows.clear();
        }
        Ok(())
    }
    async fn finish(self) -> anyhow::Result<u64> {
        self.loader
            .write(self.name, self.columns, &self.rows)
            .await?;
        self.loader.done(self.name);
        Ok(self.count)
    }
}

/// A gram panchayat's place in the hierarchy, kept while villages are generated.
#[derive(Clone, Copy)]
struct Gp {
    id: i64,
    block: i64,
    district: i64,
    state: i64,
}

pub async fn synthetic(
    db: &DatabaseConnection,
    scale: Scale,
    seed: u64,
    today: NaiveDate,
) -> anyhow::Result<SeedSummary> {
    if is_seeded(db).await? {
        anyhow::bail!("the database already holds data; seed an empty database");
    }
    let mut r = Rng::new(seed);
    let mut loader = Loader::begin(db).await?;
    let mut summary = SeedSummary::default();
    let stamp = today.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();

    // States and districts.
    let (weights, districts_total): (Vec<u32>, u32) = match scale {
        Scale::National => (STATE_WEIGHTS.to_vec(), NATIONAL_DISTRICTS),
        Scale::State => (vec![STATE_WEIGHTS[0]], 75),
        Scale::District => (vec![STATE_WEIGHTS[0]], 1),
    };
    let weight_sum: u32 = weights.iter().sum();
    let mut states = Table::new(
        &mut loader,
        "state",
        &["id", "lgd_code", "name", "name_hi", "category"],
    );
    let mut per_state = Vec::new();
    for (s, w) in weights.iter().enumerate() {
        let id = s as i64 + 1;
        let (name, hi) = place(r.next());
        let category = if s >= 28 {
            StateCategory::Ut
        } else if s >= 20 {
            StateCategory::NorthEast
        } else {
            StateCategory::General
        };
        states
            .push(vec![
                i(id),
                i(id),
                t(format!("{name} Pradesh")),
                t(format!("{hi} प्रदेश")),
                e(category),
            ])
            .await?;
        per_state.push(((districts_total * w).div_ceil(weight_sum)).max(1));
    }
    summary.states = states.finish().await?;

    let mut districts = Table::new(
        &mut loader,
        "district",
        &[
            "id",
            "lgd_code",
            "state_id",
            "division_id",
            "name",
            "name_hi",
            "is_aspirational",
        ],
    );
    let mut district_state = Vec::new();
    for (s, n) in per_state.iter().enumerate() {
        for _ in 0..*n {
            let id = district_state.len() as i64 + 1;
            let (name, hi) = place(r.next());
            districts
                .push(vec![
                    i(id),
                    i(id),
                    i(s as i64 + 1),
                    Cell::Null,
                    t(name),
                    t(hi),
                    Cell::Bool(r.chance(0.15)),
                ])
                .await?;
            district_state.push(s as i64 + 1);
        }
    }
    summary.districts = districts.finish().await?;

    // Blocks and gram panchayats.
    let mut blocks = Table::new(
        &mut loader,
        "block",
        &["id", "lgd_code", "district_id", "name", "name_hi"],
    );
    let mut block_of = Vec::new();
    for (d, _) in district_state.iter().enumerate() {
        let n = if scale == Scale::District {
            9
        } else {
            r.between(5, 13)
        };
        for _ in 0..n {
            let id = block_of.len() as i64 + 1;
            let (name, hi) = place(r.next());
            blocks
                .push(vec![i(id), i(id), i(d as i64 + 1), t(name), t(hi)])
                .await?;
            block_of.push(d as i64 + 1);
        }
    }
    summary.blocks = blocks.finish().await?;

    let mut gps = Table::new(
        &mut loader,
        "gram_panchayat",
        &["id", "lgd_code", "block_id", "name", "name_hi"],
    );
    let mut gp_list = Vec::new();
    for (b, district) in block_of.iter().enumerate() {
        for _ in 0..r.between(20, 52) {
            let id = gp_list.len() as i64 + 1;
            let (name, hi) = place(r.next());
            gps.push(vec![
                i(id),
                i(100_000 + id),
                i(b as i64 + 1),
                t(name),
                t(hi),
            ])
            .await?;
            gp_list.push(Gp {
                id,
                block: b as i64 + 1,
                district: *district,
                state: district_state[(*district - 1) as usize],
            });
        }
    }
    summary.gram_panchayats = gps.finish().await?;

    // Villages: households 20–2,000 (mean about 330), coverage 40–100 % varying by state.
    let mut villages = Table::new(
        &mut loader,
        "village",
        &[
            "id",
            "lgd_code",
            "imis_id",
            "gram_panchayat_id",
            "block_id",
            "district_id",
            "state_id",
            "name",
            "name_hi",
            "search_key",
            "households",
            "tap_connections",
            "hgj_status",
            "latitude",
            "longitude",
            "version",
            "updated_at",
        ],
    );
    let state_floor: Vec<f64> = (0..weights.len()).map(|_| 0.4 + 0.3 * r.unit()).collect();
    // (village id, gp index, households) for schemes and tasks.
    let mut village_gp: Vec<(i64, u32, i32)> = Vec::new();
    for (g, gp) in gp_list.iter().enumerate() {
        let n = r.weighted(&[(1, 30), (2, 30), (3, 25), (4, 15)]);
        for _ in 0..n {
            let id = village_gp.len() as i64 + 1;
            let (name, hi) = place(r.next());
            let households = 20 + (r.unit().powf(5.4) * 1980.0) as i32;
            let floor = state_floor[(gp.state - 1) as usize];
            let full = r.chance(floor);
            let taps = if full {
                households
            } else {
                ((f64::from(households) * (floor + (1.0 - floor) * r.unit())) as i32)
                    .min(households - 1)
            };
            let status = if taps < households {
                HgjStatus::NotSaturated
            } else {
                r.weighted(&[
                    (HgjStatus::Certified, 30),
                    (HgjStatus::Reported, 45),
                    (HgjStatus::NotSaturated, 25),
                ])
            };
            villages
                .push(vec![
                    i(id),
                    i(id),
                    i(1_000_000 + id),
                    i(gp.id),
                    i(gp.block),
                    i(gp.district),
                    i(gp.state),
                    t(search_key(&name, &hi)),
                    t(name),
                    t(hi),
                    i(households),
                    i(taps),
                    e(status),
                    Cell::Float(8.0 + 27.0 * r.unit()),
                    Cell::Float(68.0 + 29.0 * r.unit()),
                    i(1),
                    Cell::Time(stamp),
                ])
                .await?;
            village_gp.push((id, g as u32, households));
        }
    }
    summary.villages = villages.finish().await?;

    // Organisations: six departments per state, and sector partners.
    let partners = match scale {
        Scale::National => 212,
        Scale::State => 20,
        Scale::District => 5,
    };
    let mut orgs = Table::new(
        &mut loader,
        "organisation",
        &[
            "id",
            "code",
            "name",
            "kind",
            "department",
            "partner_type",
            "state_id",
            "contact_name",
            "contact_phone",
        ],
    );
    let depts = [
        Department::Phed,
        Department::Health,
        Department::Wcd,
        Department::Electricity,
        Department::Education,
        Department::PanchayatiRaj,
    ];
    for s in 0..weights.len() as i64 {
        for (k, dept) in depts.iter().enumerate() {
            let id = s * 6 + k as i64 + 1;
            orgs.push(vec![
                i(id),
                t(format!("S{}-{}", s + 1, dept.to_value())),
                t(format!("{} department, state {}", dept.to_value(), s + 1)),
                e(OrganisationKind::Department),
                e(*dept),
                Cell::Null,
                i(s + 1),
                t("Nodal Officer"),
                t(format!("+91-94{id:08}")),
            ])
            .await?;
        }
    }
    let first_partner = weights.len() as i64 * 6 + 1;
    for p in 0..partners {
        let id = first_partner + p;
        orgs.push(vec![
            i(id),
            t(format!("SP-{:04}", p + 1)),
            t(format!("Sector Partner {}", p + 1)),
            e(OrganisationKind::SectorPartner),
            Cell::Null,
            e(PartnerType::Ngo),
            Cell::Null,
            t("Programme Lead"),
            t(format!("+91-98{id:08}")),
        ])
        .await?;
    }
    // A third-party inspection agency per state.
    let first_agency = first_partner + partners;
    for s in 0..weights.len() as i64 {
        let id = first_agency + s;
        orgs.push(vec![
            i(id),
            t(format!("S{}-TPIA", s + 1)),
            t(format!("Third-party inspection agency, state {}", s + 1)),
            e(OrganisationKind::InspectionAgency),
            Cell::Null,
            Cell::Null,
            i(s + 1),
            t("Team Leader, Quality"),
            t(format!("+91-97{id:08}")),
        ])
        .await?;
    }
    summary.organisations = orgs.finish().await?;
    let dept_org = |state: i64, k: usize| (state - 1) * 6 + k as i64 + 1;
    let agency_of = |state: i64| first_agency + state - 1;

    // Schemes: one per gram panchayat, serving its villages.
    let statuses = [
        (SchemeStatus::Proposed, 4),
        (SchemeStatus::AdminApproved, 6),
        (SchemeStatus::Tendered, 4),
        (SchemeStatus::WorkOrderIssued, 6),
        (SchemeStatus::InProgress, 25),
        (SchemeStatus::OnHold, 3),
        (SchemeStatus::Completed, 20),
        (SchemeStatus::Commissioned, 12),
        (SchemeStatus::HandedOverToGp, 18),
        (SchemeStatus::Cancelled, 2),
    ];
    let mut schemes = Table::new(
        &mut loader,
        "scheme",
        &[
            "id",
            "code",
            "name",
            "name_hi",
            "scheme_type",
            "status",
            "district_id",
            "implementing_agency",
            "estimated_cost_paise",
            "expenditure_paise",
            "fhtc_target",
            "version",
            "sanctioned_on",
            "target_completion_on",
            "completed_on",
            "work_order_on",
            "commissioned_on",
            "handed_over_on",
            "status_reason",
            "physical_progress_bp",
            "open_findings_minor",
            "open_findings_major",
            "open_findings_critical",
        ],
    );
    let mut facts = Vec::with_capacity(gp_list.len());
    let mut gp_households = vec![0i32; gp_list.len()];
    let mut gp_villages = vec![0u8; gp_list.len()];
    for (_, g, hh) in &village_gp {
        gp_households[*g as usize] += hh;
        gp_villages[*g as usize] += 1;
    }
    for (g, gp) in gp_list.iter().enumerate() {
        let kind = if gp_villages[g] > 1 {
            SchemeType::Mvs
        } else {
            SchemeType::Svs
        };
        let cost = r.between(20, 300) * 100_000 * 100;
        let status = r.weighted(&statuses);
        let expenditure = cost / 100 * r.between(0, 100);
        let fact = SchemeFacts {
            id: gp.id,
            district: gp.district,
            state: gp.state,
            kind,
            status,
            cost,
            fhtc: gp_households[g],
        };
        facts.push(fact);
        let w = works_of(
            seed,
            &fact,
            agency_of(gp.state),
            dept_org(gp.state, 0),
            today,
            &mut WorksIds::default(),
        );
        schemes
            .push(vec![
                i(gp.id),
                t(format!("RPWSS-{:07}", gp.id)),
                t(format!("Scheme {}", gp.id)),
                t(format!("योजना {}", gp.id)),
                e(kind),
                e(status),
                i(gp.district),
                e(ImplementingAgency::Phed),
                i(cost),
                i(expenditure),
                i(gp_households[g]),
                i(1),
                opt_d(w.sanctioned),
                opt_d(w.target),
                opt_d(w.completed),
                opt_d(w.work_order),
                opt_d(w.commissioned),
                opt_d(w.handed_over),
                w.reason.map_or(Cell::Null, t),
                opt_i(w.progress_bp.map(i64::from)),
                i(w.open[0]),
                i(w.open[1]),
                i(w.open[2]),
            ])
            .await?;
    }
    summary.schemes = schemes.finish().await?;
    let mut links = Table::new(&mut loader, "scheme_village", &["scheme_id", "village_id"]);
    for (v, g, _) in &village_gp {
        links.push(vec![i(gp_list[*g as usize].id), i(*v)]).await?;
    }
    links.finish().await?;

    // Assignments: each partner works in one to three blocks.
    let mut assignments = Table::new(
        &mut loader,
        "assignment",
        &[
            "id",
            "organisation_id",
            "village_id",
            "theme",
            "starts_on",
            "ends_on",
            "created_at",
            "version",
        ],
    );
    let mut block_partner = std::collections::BTreeMap::new();
    for p in 0..partners {
        for _ in 0..r.between(1, 3) {
            block_partner.insert(r.between(1, block_of.len() as i64), first_partner + p);
        }
    }
    let mut n_assign = 0i64;
    let start = today.checked_sub_days(Days::new(200)).unwrap_or(today);
    for (v, g, _) in &village_gp {
        if let Some(p) = block_partner.get(&gp_list[*g as usize].block) {
            n_assign += 1;
            assignments
                .push(vec![
                    i(n_assign),
                    i(*p),
                    i(*v),
                    e(Theme::CommunityMobilization),
                    Cell::Date(start),
                    Cell::Null,
                    Cell::Time(stamp),
                    i(1),
                ])
                .await?;
        }
    }
    summary.assignments = assignments.finish().await?;

    // Tasks (about three a village) and their history.
    let kinds = [
        (TaskKind::PowerConnection, 3),
        (TaskKind::SchoolAwcConnection, 2),
        (TaskKind::SchemeWork, 0),
        (TaskKind::HgjCertification, 5),
        (TaskKind::SourceSustainability, 5),
        (TaskKind::Other, 0),
    ];
    let task_status = [
        (TaskStatus::Open, 30),
        (TaskStatus::InProgress, 25),
        (TaskStatus::Blocked, 8),
        (TaskStatus::Done, 15),
        (TaskStatus::Verified, 15),
        (TaskStatus::Cancelled, 7),
    ];
    let mut tasks = Table::new(
        &mut loader,
        "task",
        &[
            "id",
            "kind",
            "title",
            "description",
            "village_id",
            "scheme_id",
            "district_id",
            "state_id",
            "assignee_organisation_id",
            "raised_by_organisation_id",
            "status",
            "priority",
            "due_on",
            "created_at",
            "updated_at",
            "version",
        ],
    );
    // History rows are kept until the tasks are written (foreign keys), then flushed.
    let mut history: Vec<Vec<Cell>> = Vec::new();
    let mut n_task = 0i64;
    let mut n_event = 0i64;
    for (v, g, _) in &village_gp {
        let gp = gp_list[*g as usize];
        for _ in 0..r.weighted(&[(2, 30), (3, 40), (4, 30)]) {
            n_task += 1;
            let (kind, dept) = kinds[r.between(0, kinds.len() as i64 - 1) as usize];
            let assignee = if r.chance(0.15) {
                block_partner
                    .get(&gp.block)
                    .copied()
                    .unwrap_or(dept_org(gp.state, dept))
            } else {
                dept_org(gp.state, dept)
            };
            let status = r.weighted(&task_status);
            let created = today
                .checked_sub_days(Days::new(r.between(5, 300) as u64))
                .unwrap_or(today);
            let due = created
                .checked_add_days(Days::new(r.between(15, 120) as u64))
                .unwrap_or(created);
            let created_at = created.and_hms_opt(10, 0, 0).unwrap_or_default().and_utc();
            let path: &[TaskStatus] = match status {
                TaskStatus::Open => &[],
                TaskStatus::InProgress => &[TaskStatus::InProgress],
                TaskStatus::Blocked => &[TaskStatus::InProgress, TaskStatus::Blocked],
                TaskStatus::Done => &[TaskStatus::InProgress, TaskStatus::Done],
                TaskStatus::Verified => &[
                    TaskStatus::InProgress,
                    TaskStatus::Done,
                    TaskStatus::Verified,
                ],
                TaskStatus::Cancelled => &[TaskStatus::Cancelled],
            };
            n_event += 1;
            history.push(vec![
                i(n_event),
                i(n_task),
                e(TaskEventKind::Created),
                Cell::Null,
                e(TaskStatus::Open),
                Cell::Null,
                t("synthetic"),
                i(dept_org(gp.state, 0)),
                Cell::Time(created_at),
            ]);
            let mut prev = TaskStatus::Open;
            for (k, to) in path.iter().enumerate() {
                n_event += 1;
                let at = created_at + chrono::Duration::days(k as i64 + 1);
                let note = if matches!(to, TaskStatus::Blocked | TaskStatus::Cancelled) {
                    t("waiting on another department")
                } else {
                    Cell::Null
                };
                history.push(vec![
                    i(n_event),
                    i(n_task),
                    e(TaskEventKind::StatusChanged),
                    e(prev),
                    e(*to),
                    note,
                    t("synthetic"),
                    i(assignee),
                    Cell::Time(at),
                ]);
                prev = *to;
            }
            let updated = created_at + chrono::Duration::days(path.len() as i64);
            tasks
                .push(vec![
                    i(n_task),
                    e(kind),
                    t(format!("{} at village {v}", kind.to_value())),
                    t(""),
                    i(*v),
                    Cell::Null,
                    i(gp.district),
                    i(gp.state),
                    i(assignee),
                    opt_i(Some(dept_org(gp.state, 0))),
                    e(status),
                    e(TaskPriority::Medium),
                    Cell::Date(due),
                    Cell::Time(created_at),
                    Cell::Time(updated),
                    i(path.len() as i64 + 1),
                ])
                .await?;
        }
    }
    // The rectification tasks of the schemes' inspections, after the villages' tasks.
    let works_ids = WorksIds {
        task: n_task,
        event: n_event,
        ..WorksIds::default()
    };
    let all_works = || {
        let mut ids = works_ids;
        facts.iter().map(move |s| {
            works_of(
                seed,
                s,
                agency_of(s.state),
                dept_org(s.state, 0),
                today,
                &mut ids,
            )
        })
    };
    for w in all_works() {
        if let Some(row) = w.task {
            tasks.push(row).await?;
        }
        history.extend(w.events);
    }
    summary.tasks = tasks.finish().await?;
    let mut events = Table::new(
        &mut loader,
        "task_event",
        &[
            "id",
            "task_id",
            "kind",
            "from_status",
            "to_status",
            "note",
            "actor_sub",
            "actor_organisation_id",
            "at",
        ],
    );
    for row in history {
        events.push(row).await?;
    }
    summary.task_events = events.finish().await?;

    // The schemes' works, a table a pass (each pass draws the same works again).
    let mut components = Table::new(
        &mut loader,
        "scheme_component",
        &[
            "id",
            "scheme_id",
            "kind",
            "planned_quantity",
            "unit",
            "cost_paise",
            "quantity_done",
            "progress_as_of",
            "created_at",
            "version",
        ],
    );
    for w in all_works() {
        for row in w.components {
            components.push(row).await?;
        }
    }
    components.finish().await?;
    let mut progress = Table::new(
        &mut loader,
        "scheme_progress",
        &[
            "id",
            "scheme_id",
            "component_id",
            "quantity_done",
            "previous_quantity",
            "as_of",
            "evidence_url",
            "reason",
            "recorded_by",
            "recorded_at",
        ],
    );
    for w in all_works() {
        for row in w.progress {
            progress.push(row).await?;
        }
    }
    progress.finish().await?;
    let mut inspectors = Table::new(
        &mut loader,
        "scheme_inspector",
        &[
            "id",
            "scheme_id",
            "organisation_id",
            "starts_on",
            "ends_on",
            "created_at",
        ],
    );
    for w in all_works() {
        if let Some(row) = w.inspector {
            inspectors.push(row).await?;
        }
    }
    inspectors.finish().await?;
    let mut inspections = Table::new(
        &mut loader,
        "scheme_inspection",
        &[
            "id",
            "scheme_id",
            "component_id",
            "organisation_id",
            "inspected_on",
            "stage",
            "verdict",
            "evidence_url",
            "rectification_task_id",
            "recorded_by",
            "created_at",
        ],
    );
    for w in all_works() {
        for row in w.inspections {
            inspections.push(row).await?;
        }
    }
    inspections.finish().await?;
    let mut findings = Table::new(
        &mut loader,
        "inspection_finding",
        &[
            "id",
            "inspection_id",
            "scheme_id",
            "component_id",
            "parameter",
            "observation",
            "severity",
            "open",
            "closed_by_inspection_id",
        ],
    );
    for w in all_works() {
        for row in w.findings {
            findings.push(row).await?;
        }
    }
    findings.finish().await?;
    let mut handovers = Table::new(
        &mut loader,
        "scheme_handover",
        &[
            "id",
            "scheme_id",
            "handed_over_on",
            "resolution_date",
            "resolution_number",
            "resolution_evidence_url",
            "vwsc_members",
            "vwsc_women_members",
            "operator_trained",
            "operator_name",
            "user_charge_paise",
            "om_funds_source",
            "recorded_by",
            "created_at",
        ],
    );
    for w in all_works() {
        if let Some(row) = w.handover {
            handovers.push(row).await?;
        }
    }
    handovers.finish().await?;

    // Water-quality tests: one for every other village, four parameters each.
    let mut tests = Table::new(
        &mut loader,
        "water_quality_test",
        &[
            "id",
            "village_id",
            "source_name",
            "source_type",
            "sampled_on",
            "method",
            "lab_name",
            "tested_by",
            "contaminated",
            "created_at",
        ],
    );
    let mut results: Vec<Vec<Cell>> = Vec::new();
    let mut n_test = 0i64;
    for (v, _, _) in village_gp.iter().filter(|(v, _, _)| v % 2 == 0) {
        n_test += 1;
        let readings = [
            (WqParameter::Ph, 6.8 + r.unit()),
            (WqParameter::Tds, 150.0 + 400.0 * r.unit()),
            (
                WqParameter::Fluoride,
                if r.chance(0.03) {
                    1.8
                } else {
                    0.2 + 0.6 * r.unit()
                },
            ),
            (WqParameter::Nitrate, 5.0 + 35.0 * r.unit()),
        ];
        let mut contaminated = false;
        for (p, value) in readings {
            let value = (value * 100.0).round() / 100.0;
            let limit = bis::limit(p);
            let exceeds = limit.exceeded_by(value);
            contaminated |= exceeds;
            results.push(vec![
                i(results.len() as i64 + 1),
                i(n_test),
                e(p),
                Cell::Float(value),
                t(limit.unit),
                Cell::Bool(exceeds),
            ]);
        }
        let sampled = today
            .checked_sub_days(Days::new(r.between(1, 365) as u64))
            .unwrap_or(today);
        tests
            .push(vec![
                i(n_test),
                i(*v),
                t("Handpump"),
                e(WaterSourceType::Handpump),
                Cell::Date(sampled),
                e(WqMethod::Ftk),
                Cell::Null,
                Cell::Null,
                Cell::Bool(contaminated),
                Cell::Time(stamp),
            ])
            .await?;
    }
    summary.water_quality_tests = tests.finish().await?;
    let mut result_table = Table::new(
        &mut loader,
        "water_quality_result",
        &["id", "test_id", "parameter", "value", "unit", "exceeds"],
    );
    for row in results {
        result_table.push(row).await?;
    }
    result_table.finish().await?;

    let (rows, took) = loader.commit().await?;
    tracing::info!(
        rows,
        seconds = took.as_secs_f64(),
        rows_per_second = rows as f64 / took.as_secs_f64().max(0.001),
        "synthetic data loaded"
    );
    super::advance_sequences(db).await?;
    let started = std::time::Instant::now();
    super::rebuild_rollups(db).await?;
    tracing::info!(seconds = started.elapsed().as_secs_f64(), "rollups counted");
    Ok(summary)
}

/// What the works of a scheme are drawn from.
#[derive(Clone, Copy)]
struct SchemeFacts {
    id: i64,
    district: i64,
    state: i64,
    kind: SchemeType,
    status: SchemeStatus,
    cost: i64,
    fhtc: i32,
}

/// The last id used in each works table (and in `task`, `task_event`), advanced as each
/// scheme's works are drawn; every pass starts from the same ids, so they agree.
#[derive(Clone, Copy, Default)]
struct WorksIds {
    component: i64,
    progress: i64,
    inspector: i64,
    inspection: i64,
    finding: i64,
    task: i64,
    event: i64,
    handover: i64,
}

/// One scheme's works: its stage dates and rollup columns, and its rows of each works table.
#[derive(Default)]
struct Works {
    sanctioned: Option<NaiveDate>,
    target: Option<NaiveDate>,
    completed: Option<NaiveDate>,
    work_order: Option<NaiveDate>,
    commissioned: Option<NaiveDate>,
    handed_over: Option<NaiveDate>,
    reason: Option<&'static str>,
    progress_bp: Option<i32>,
    open: [i64; 3],
    components: Vec<Vec<Cell>>,
    progress: Vec<Vec<Cell>>,
    inspector: Option<Vec<Cell>>,
    task: Option<Vec<Cell>>,
    events: Vec<Vec<Cell>>,
    inspections: Vec<Vec<Cell>>,
    findings: Vec<Vec<Cell>>,
    handover: Option<Vec<Cell>>,
}

fn opt_d(d: Option<NaiveDate>) -> Cell {
    d.map_or(Cell::Null, Cell::Date)
}

/// Draws a scheme's works like the demo's (`generate/works.rs`: its component plan, findings
/// and operators), from the scheme's own random stream so that the pass writing each table
/// draws the same works: components with one to three progress records, the state's inspection
/// agency assigned to every scheme past its work order, an inspection of about two in three
/// (a third RECTIFY or FAIL, opening a SCHEME_WORK task for the state's PHED; a passing
/// re-inspection closes those of finished schemes, but half the commissioned ones keep their
/// findings open), and the handover of schemes handed over to their Gram Panchayat.
fn works_of(
    seed: u64,
    s: &SchemeFacts,
    agency: i64,
    phed: i64,
    today: NaiveDate,
    ids: &mut WorksIds,
) -> Works {
    use SchemeStatus::*;
    let mut r =
        Rng::new(seed ^ 0x574F_524B_5321 ^ (s.id as u64).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut w = Works::default();
    if s.status == Proposed {
        return w;
    }
    let sanctioned = days_ago(today, r.between(200, 1500));
    w.sanctioned = Some(sanctioned);
    w.target = Some(days_after(sanctioned, 540));
    w.reason = match s.status {
        OnHold => Some("Forest clearance awaited for the rising main"),
        Cancelled => Some("Source found unsustainable in the summer yield test"),
        _ => None,
    };
    if !matches!(
        s.status,
        WorkOrderIssued | InProgress | OnHold | Completed | Commissioned | HandedOverToGp
    ) {
        return w;
    }
    let built = matches!(s.status, Completed | Commissioned | HandedOverToGp);
    let work_order = days_after(sanctioned, r.between(60, 150)).min(today);
    let finished =
        built.then(|| days_after(sanctioned, r.between(300, 800)).clamp(work_order, today));
    w.completed = finished;
    w.work_order = Some(work_order);
    w.commissioned = match s.status {
        Commissioned | HandedOverToGp => {
            finished.map(|c| days_after(c, r.between(15, 45)).min(today))
        }
        _ => None,
    };
    w.handed_over = match s.status {
        HandedOverToGp => w
            .commissioned
            .map(|c| days_after(c, r.between(20, 60)).min(today)),
        _ => None,
    };
    let last_day = finished.unwrap_or(today);
    let code = format!("RPWSS-{:07}", s.id);

    // Components and their progress.
    let mut parts: Vec<scheme_component::Model> = Vec::new();
    for (kind, share, range) in plan(s.kind) {
        let (planned, done) = quantities(&mut r, *kind, *range, s.fhtc, s.status);
        ids.component += 1;
        let id = ids.component;
        let steps = progress_steps(&mut r, *kind, done, work_order, last_day);
        let records = steps.len() as i64;
        let as_of = steps.last().map(|(_, day)| *day);
        let mut previous = 0.0;
        for (k, (q, day)) in (1..).zip(steps) {
            ids.progress += 1;
            w.progress.push(vec![
                i(ids.progress),
                i(s.id),
                i(id),
                Cell::Float(q),
                Cell::Float(previous),
                Cell::Date(day),
                t(format!("https://mb.phed.example/{code}/{id}/{k}.jpg")),
                Cell::Null,
                t("synthetic"),
                Cell::Time(at(day, 16)),
            ]);
            previous = q;
        }
        let cost = s.cost / 100 * share;
        w.components.push(vec![
            i(id),
            i(s.id),
            e(*kind),
            Cell::Float(planned),
            e(unit_of(*kind)),
            i(cost),
            Cell::Float(done),
            opt_d(as_of),
            Cell::Time(at(work_order, 11)),
            i(1 + records),
        ]);
        parts.push(scheme_component::Model {
            id,
            scheme_id: s.id,
            kind: *kind,
            planned_quantity: planned,
            unit: unit_of(*kind),
            cost_paise: cost,
            quantity_done: done,
            progress_as_of: as_of,
            created_at: at(work_order, 11),
            version: 1 + records as i32,
        });
    }
    w.progress_bp = physical_progress(&parts);

    // The state's inspection agency is assigned from the work order on.
    ids.inspector += 1;
    w.inspector = Some(vec![
        i(ids.inspector),
        i(s.id),
        i(agency),
        Cell::Date(work_order),
        Cell::Null,
        Cell::Time(at(work_order, 12)),
    ]);
    if s.status != WorkOrderIssued && r.chance(0.65) {
        let part = &parts[r.between(0, parts.len() as i64 - 1) as usize];
        let on = between_dates(&mut r, work_order, last_day.min(today));
        let stage = if built {
            InspectionStage::Completion
        } else {
            InspectionStage::Construction
        };
        let roll = r.unit();
        let verdict = if roll < 0.03 {
            InspectionVerdict::Fail
        } else if roll < 0.33 {
            InspectionVerdict::Rectify
        } else {
            InspectionVerdict::Pass
        };
        let failing = verdict != InspectionVerdict::Pass;
        let mut picked: Vec<(&str, &str, FindingSeverity)> = Vec::new();
        let count = if failing {
            r.between(1, 3)
        } else {
            r.between(0, 1)
        };
        for _ in 0..count {
            let f = FINDINGS[r.between(0, FINDINGS.len() as i64 - 1) as usize];
            if !picked.iter().any(|p| p.0 == f.0) && (failing || f.2 == FindingSeverity::Minor) {
                picked.push(f);
            }
        }
        // Finished schemes passed a re-inspection, but half the commissioned ones wait for it
        // (their handover is refused while a critical finding is open).
        let reinspected = failing && built && (s.status != Commissioned || r.chance(0.5));
        let open = failing && !reinspected;
        ids.inspection += 1;
        let inspection_id = ids.inspection;
        let mut task_id = None;
        if failing {
            ids.task += 1;
            let id = ids.task;
            let status = if reinspected {
                TaskStatus::Verified
            } else if r.chance(0.5) {
                TaskStatus::InProgress
            } else {
                TaskStatus::Open
            };
            let priority = if verdict == InspectionVerdict::Fail
                || picked.iter().any(|p| p.2 == FindingSeverity::Critical)
            {
                TaskPriority::Critical
            } else if picked.iter().any(|p| p.2 == FindingSeverity::Major) {
                TaskPriority::High
            } else {
                TaskPriority::Medium
            };
            let closed_on = days_after(on, r.between(20, 40)).min(today);
            ids.event += 1;
            w.events.push(vec![
                i(ids.event),
                i(id),
                e(TaskEventKind::Created),
                Cell::Null,
                e(TaskStatus::Open),
                t(format!("opened by inspection {inspection_id}")),
                t("synthetic"),
                i(agency),
                Cell::Time(at(on, 15)),
            ]);
            let mut version = 1;
            if status != TaskStatus::Open {
                version += 1;
                ids.event += 1;
                w.events.push(vec![
                    i(ids.event),
                    i(id),
                    e(TaskEventKind::StatusChanged),
                    e(TaskStatus::Open),
                    e(status),
                    if status == TaskStatus::Verified {
                        t(format!(
                            "verified by passing re-inspection {}",
                            inspection_id + 1
                        ))
                    } else {
                        Cell::Null
                    },
                    t("synthetic"),
                    i(agency),
                    Cell::Time(at(closed_on, 15)),
                ]);
            }
            let list = picked.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
            let updated = if status == TaskStatus::Open {
                on
            } else {
                closed_on
            };
            w.task = Some(vec![
                i(id),
                e(TaskKind::SchemeWork),
                t(format!(
                    "Rectify {} of {code} after inspection {inspection_id} ({})",
                    part.kind.to_value(),
                    verdict.to_value()
                )),
                t(format!(
                    "Opened automatically: inspection {inspection_id} on {on} found {list}. \
                     A passing re-inspection closes this task."
                )),
                Cell::Null,
                i(s.id),
                i(s.district),
                i(s.state),
                i(phed),
                i(agency),
                e(status),
                e(priority),
                Cell::Date(days_after(on, 30)),
                Cell::Time(at(on, 15)),
                Cell::Time(at(updated, 15)),
                i(version),
            ]);
            task_id = Some(id);
        }
        w.inspections.push(vec![
            i(inspection_id),
            i(s.id),
            i(part.id),
            i(agency),
            Cell::Date(on),
            e(stage),
            e(verdict),
            t(format!("https://tpia.example/{code}/{inspection_id}.pdf")),
            opt_i(task_id),
            t("synthetic"),
            Cell::Time(at(on, 15)),
        ]);
        if reinspected {
            ids.inspection += 1;
            let again = days_after(on, r.between(20, 40)).min(today);
            w.inspections.push(vec![
                i(ids.inspection),
                i(s.id),
                i(part.id),
                i(agency),
                Cell::Date(again),
                e(stage),
                e(InspectionVerdict::Pass),
                Cell::Null,
                Cell::Null,
                t("synthetic"),
                Cell::Time(at(again, 15)),
            ]);
        }
        for (parameter, observation, severity) in &picked {
            if open {
                w.open[*severity as usize] += 1;
            }
            ids.finding += 1;
            w.findings.push(vec![
                i(ids.finding),
                i(inspection_id),
                i(s.id),
                i(part.id),
                t(*parameter),
                t(*observation),
                e(*severity),
                Cell::Bool(open),
                opt_i(reinspected.then_some(inspection_id + 1)),
            ]);
        }
    }

    if let Some(handed) = w.handed_over {
        let members = r.between(10, 15);
        let women = ((members + 1) / 2 + r.between(0, 2)).min(members);
        let trained = r.chance(0.85);
        ids.handover += 1;
        w.handover = Some(vec![
            i(ids.handover),
            i(s.id),
            Cell::Date(handed),
            Cell::Date(days_ago(handed, r.between(7, 30))),
            t(format!("GP/{}/{}", handed.format("%Y"), r.between(1, 60))),
            t(format!("https://gp.example/{code}/resolution.pdf")),
            i(members),
            i(women),
            Cell::Bool(trained),
            if trained {
                t(OPERATORS[r.between(0, OPERATORS.len() as i64 - 1) as usize])
            } else {
                Cell::Null
            },
            i(r.between(3, 8) * 1000),
            e(r.weighted(&[
                (OmFundsSource::UserCharges, 6),
                (OmFundsSource::FinanceCommissionGrant, 3),
                (OmFundsSource::GpOwnFunds, 1),
            ])),
            t("synthetic"),
            Cell::Time(at(handed, 13)),
        ]);
    }
    w
}
