//! The works side of the demo schemes: components with progress histories, an inspection
//! agency per state assigned to the schemes under construction, quality inspections (about a
//! third RECTIFY or FAIL, with their rectification tasks; those of finished schemes closed by
//! a passing re-inspection) and handovers to Gram Panchayats. Drawn from its own random stream,
//! after everything else, so the rest of the demo is what it was.
//! The synthetic seed (`synthetic.rs`) draws its schemes' works from the same plan, findings
//! and operators.

use chrono::NaiveDate;
use entities::{
    enums::*,
    works::{ComponentKind, FindingSeverity, InspectionStage, InspectionVerdict, OmFundsSource},
    *,
};

use super::{Dataset, Rng, at, days_after};
use crate::service::schemes::components::{physical_progress, unit_of};

/// (state index, code suffix, name)
const AGENCIES: [(usize, &str, &str); 2] = [
    (0, "TPIA", "Chhattisgarh Infrastructure Quality Consultants"),
    (1, "TPIA", "Narmada Technical Inspection Services"),
];

/// (parameter, observation, severity)
pub(in crate::ingest::seed) const FINDINGS: [(&str, &str, FindingSeverity); 8] = [
    (
        "Concrete cube strength (M25)",
        "7-day cubes tested at 16 N/mm², short of the 25 N/mm² design mix",
        FindingSeverity::Major,
    ),
    (
        "HDPE pipe wall thickness",
        "PE100 PN6 pipe measured 4.1 mm against 4.6 mm specified",
        FindingSeverity::Major,
    ),
    (
        "Trench depth",
        "Distribution line laid with 0.6 m cover against 1.0 m",
        FindingSeverity::Minor,
    ),
    (
        "Reinforcement cover",
        "Cover of 20 mm against 40 mm in the ESR staging columns",
        FindingSeverity::Major,
    ),
    (
        "Hydraulic test",
        "Leakage at three joints during the pressure test",
        FindingSeverity::Major,
    ),
    (
        "FHTC fittings",
        "Taps fitted without ferrules at four households",
        FindingSeverity::Minor,
    ),
    (
        "Structural crack",
        "Vertical crack in an ESR staging column",
        FindingSeverity::Critical,
    ),
    (
        "Pump house earthing",
        "Earth resistance 9 ohm against 1 ohm",
        FindingSeverity::Critical,
    ),
];

pub(in crate::ingest::seed) const OPERATORS: [&str; 6] = [
    "Dilip Kumar Sahu",
    "Ramesh Netam",
    "Santosh Patel",
    "Mohan Lal Dhruw",
    "Geeta Bai Yadav",
    "Rajendra Chouhan",
];

/// (kind, share of the scheme's cost in percent, planned quantity range)
pub(in crate::ingest::seed) fn plan(
    kind: SchemeType,
) -> &'static [(ComponentKind, i64, (i64, i64))] {
    use ComponentKind::*;
    match kind {
        SchemeType::Mvs => &[
            (SourceWorks, 8, (1, 2)),
            (WaterTreatmentPlant, 25, (1, 4)),
            (RisingMain, 20, (5, 25)),
            (GroundServiceReservoir, 10, (200, 800)),
            (OverheadReservoir, 12, (100, 300)),
            (DistributionPipeline, 15, (10, 40)),
            (HouseholdTapConnections, 10, (0, 0)),
        ],
        SchemeType::Solar => &[
            (SourceWorks, 10, (1, 1)),
            (SolarPumping, 30, (3, 10)),
            (OverheadReservoir, 25, (10, 40)),
            (DistributionPipeline, 20, (1, 4)),
            (HouseholdTapConnections, 15, (0, 0)),
        ],
        SchemeType::Cwpp => &[(WaterTreatmentPlant, 70, (1, 1)), (PumpHouse, 30, (1, 1))],
        _ => &[
            (SourceWorks, 6, (1, 2)),
            (OverheadReservoir, 30, (30, 150)),
            (DistributionPipeline, 35, (2, 8)),
            (HouseholdTapConnections, 20, (0, 0)),
            (PumpHouse, 9, (1, 1)),
        ],
    }
}

pub(in crate::ingest::seed) fn whole(kind: ComponentKind) -> bool {
    matches!(
        kind,
        ComponentKind::SourceWorks
            | ComponentKind::PumpHouse
            | ComponentKind::HouseholdTapConnections
    )
}

pub(in crate::ingest::seed) fn between_dates(
    r: &mut Rng,
    from: NaiveDate,
    to: NaiveDate,
) -> NaiveDate {
    let span = (to - from).num_days().max(0);
    days_after(from, r.between(0, span))
}

/// A component's planned quantity and the quantity done by now, for a scheme in `status`: the
/// household taps are the scheme's target, the rest drawn from the plan's range.
pub(in crate::ingest::seed) fn quantities(
    r: &mut Rng,
    kind: ComponentKind,
    range: (i64, i64),
    fhtc_target: i32,
    status: SchemeStatus,
) -> (f64, f64) {
    use SchemeStatus::*;
    let planned = if kind == ComponentKind::HouseholdTapConnections {
        f64::from(fhtc_target.max(1))
    } else {
        r.between(range.0, range.1) as f64
    };
    let fraction = match status {
        WorkOrderIssued => r.between(0, 10) as f64 / 100.0,
        InProgress => r.between(15, 100) as f64 / 100.0,
        OnHold => r.between(20, 70) as f64 / 100.0,
        _ => 1.0,
    };
    let done = planned * fraction;
    (planned, if whole(kind) { done.floor() } else { done })
}

/// One to three progress records reaching `done` (none when nothing is done): each record's
/// cumulative quantity and its date, between `from` and `last_day`, in order.
pub(in crate::ingest::seed) fn progress_steps(
    r: &mut Rng,
    kind: ComponentKind,
    done: f64,
    from: NaiveDate,
    last_day: NaiveDate,
) -> Vec<(f64, NaiveDate)> {
    let records = if done > 0.0 { r.between(1, 3) } else { 0 };
    let mut steps = Vec::new();
    let mut as_of = from;
    for k in 1..=records {
        let q = if k == records {
            done
        } else {
            let q = done * k as f64 / records as f64;
            if whole(kind) {
                q.floor()
            } else {
                (q * 10.0).round() / 10.0
            }
        };
        as_of = between_dates(r, as_of, last_day);
        steps.push((q, as_of));
    }
    steps
}

impl Dataset {
    pub(super) fn works(&mut self, today: NaiveDate) {
        use SchemeStatus::*;
        let mut r = Rng::new(0x574F_524B_5321);
        let mut agencies = Vec::new();
        for (si, suffix, name) in AGENCIES {
            let id = self.orgs.len() as i64 + 1;
            let state = &self.states[si];
            let code = if si == 0 { "CG" } else { "MP" };
            self.orgs.push(organisation::Model {
                id,
                code: format!("{code}-{suffix}"),
                name: name.into(),
                kind: OrganisationKind::InspectionAgency,
                department: None,
                partner_type: None,
                state_id: Some(state.id),
                contact_name: Some("Team Leader, Quality".into()),
                contact_phone: Some(format!("+91-97{:08}", id * 2_718_281 % 100_000_000)),
            });
            agencies.push((state.id, id));
        }
        let mut blocked_handover = false;
        let schemes = self.schemes.clone();
        for s in &schemes {
            if !matches!(
                s.status,
                WorkOrderIssued | InProgress | OnHold | Completed | Commissioned | HandedOverToGp
            ) {
                continue;
            }
            let Some(sanctioned) = s.sanctioned_on else {
                continue;
            };
            let state_id = self.districts[(s.district_id - 1) as usize].state_id;
            let phed = self.dept(Department::Phed, state_id);
            let agency = agencies
                .iter()
                .find(|a| a.0 == state_id)
                .map_or(phed, |a| a.1);
            let work_order = days_after(sanctioned, r.between(60, 150)).min(today);
            let finished = s.completed_on.map(|c| c.max(work_order));
            let commissioned = match s.status {
                Commissioned | HandedOverToGp => {
                    finished.map(|c| days_after(c, r.between(15, 45)).min(today))
                }
                _ => None,
            };
            let handed_over = match s.status {
                HandedOverToGp => commissioned.map(|c| days_after(c, r.between(20, 60)).min(today)),
                _ => None,
            };
            let last_day = finished.unwrap_or(today);

            // Components and their progress.
            let mut parts: Vec<scheme_component::Model> = Vec::new();
            for (kind, share, range) in plan(s.scheme_type) {
                let (planned, done) = quantities(&mut r, *kind, *range, s.fhtc_target, s.status);
                let id = self.components.len() as i64 + parts.len() as i64 + 1;
                let steps = progress_steps(&mut r, *kind, done, work_order, last_day);
                let records = steps.len() as i64;
                let as_of = steps.last().map(|(_, day)| *day);
                let mut previous = 0.0;
                for (k, (q, day)) in (1..).zip(steps) {
                    self.progress.push(scheme_progress::Model {
                        id: self.progress.len() as i64 + 1,
                        scheme_id: s.id,
                        component_id: id,
                        quantity_done: q,
                        previous_quantity: previous,
                        as_of: day,
                        evidence_url: Some(format!(
                            "https://mb.phed.example/{}/{id}/{k}.jpg",
                            s.code
                        )),
                        reason: None,
                        recorded_by: "demo:phed-division".into(),
                        recorded_at: at(day, 16),
                    });
                    previous = q;
                }
                parts.push(scheme_component::Model {
                    id,
                    scheme_id: s.id,
                    kind: *kind,
                    planned_quantity: planned,
                    unit: unit_of(*kind),
                    cost_paise: s.estimated_cost_paise / 100 * share,
                    quantity_done: done,
                    progress_as_of: as_of,
                    created_at: at(work_order, 11),
                    version: 1 + records as i32,
                });
            }
            let bp = physical_progress(&parts);

            // The state's agency inspects every scheme under construction or finished.
            self.inspectors.push(scheme_inspector::Model {
                id: self.inspectors.len() as i64 + 1,
                scheme_id: s.id,
                organisation_id: agency,
                starts_on: work_order,
                ends_on: None,
                created_at: at(work_order, 12),
            });
            let (mut minor, mut major, mut critical) = (0, 0, 0);
            if !matches!(s.status, WorkOrderIssued) && r.chance(0.65) {
                let part = &parts[r.between(0, parts.len() as i64 - 1) as usize];
                let built = matches!(s.status, Completed | Commissioned | HandedOverToGp);
                let on = between_dates(&mut r, work_order, last_day.min(today));
                let stage = if built {
                    InspectionStage::Completion
                } else {
                    InspectionStage::Construction
                };
                let roll = r.unit();
                // The first commissioned scheme found wanting keeps a critical finding open,
                // so the demo shows a handover that is refused.
                let hold = s.status == Commissioned && !blocked_handover && roll < 0.33;
                let verdict = if roll < 0.03 {
                    InspectionVerdict::Fail
                } else if roll < 0.33 {
                    InspectionVerdict::Rectify
                } else {
                    InspectionVerdict::Pass
                };
                let inspection_id = self.inspections.len() as i64 + 1;
                let failing = verdict != InspectionVerdict::Pass;
                let mut picked: Vec<(&str, &str, FindingSeverity)> = Vec::new();
                let count = if failing {
                    r.between(1, 3)
                } else {
                    r.between(0, 1)
                };
                for _ in 0..count {
                    let f = FINDINGS[r.between(0, FINDINGS.len() as i64 - 1) as usize];
                    if !picked.iter().any(|p| p.0 == f.0)
                        && (failing || f.2 == FindingSeverity::Minor)
                    {
                        picked.push(f);
                    }
                }
                if hold {
                    blocked_handover = true;
                    if !picked.iter().any(|p| p.2 == FindingSeverity::Critical) {
                        picked.push(FINDINGS[6]);
                    }
                }
                // Finished schemes passed a re-inspection, unless the demo holds one back.
                let reinspected = failing && built && !hold;
                let open = failing && !reinspected;
                let mut task_id = None;
                if failing && !picked.is_empty() {
                    let id = self.tasks.len() as i64 + 1;
                    let status = if reinspected {
                        TaskStatus::Verified
                    } else if r.chance(0.5) {
                        TaskStatus::InProgress
                    } else {
                        TaskStatus::Open
                    };
                    let worst = picked.iter().map(|p| p.2 as u8).max().unwrap_or(0);
                    let priority = if verdict == InspectionVerdict::Fail
                        || picked.iter().any(|p| p.2 == FindingSeverity::Critical)
                    {
                        TaskPriority::Critical
                    } else if worst > 0 && picked.iter().any(|p| p.2 == FindingSeverity::Major) {
                        TaskPriority::High
                    } else {
                        TaskPriority::Medium
                    };
                    let list = picked.iter().map(|p| p.0).collect::<Vec<_>>().join(", ");
                    let closed_on = days_after(on, r.between(20, 40)).min(today);
                    self.events.push(task_event::Model {
                        id: self.events.len() as i64 + 1,
                        task_id: id,
                        kind: TaskEventKind::Created,
                        from_status: None,
                        to_status: Some(TaskStatus::Open),
                        note: Some(format!("opened by inspection {inspection_id}")),
                        actor_sub: "demo:inspection-agency".into(),
                        actor_organisation_id: Some(agency),
                        at: at(on, 15),
                    });
                    let mut version = 1;
                    if status != TaskStatus::Open {
                        version += 1;
                        self.events.push(task_event::Model {
                            id: self.events.len() as i64 + 1,
                            task_id: id,
                            kind: TaskEventKind::StatusChanged,
                            from_status: Some(TaskStatus::Open),
                            to_status: Some(status),
                            note: (status == TaskStatus::Verified).then(|| {
                                format!("verified by passing re-inspection {}", inspection_id + 1)
                            }),
                            actor_sub: "demo:inspection-agency".into(),
                            actor_organisation_id: Some(agency),
                            at: at(closed_on, 15),
                        });
                    }
                    self.tasks.push(task::Model {
                        id,
                        kind: TaskKind::SchemeWork,
                        title: format!(
                            "Rectify {:?} of {} after inspection {inspection_id} ({verdict:?})",
                            part.kind, s.code
                        ),
                        description: format!(
                            "Opened automatically: inspection {inspection_id} on {on} found \
                             {list}. A passing re-inspection closes this task."
                        ),
                        village_id: None,
                        scheme_id: Some(s.id),
                        district_id: s.district_id,
                        state_id,
                        assignee_organisation_id: phed,
                        raised_by_organisation_id: Some(agency),
                        status,
                        priority,
                        due_on: Some(days_after(on, 30)),
                        created_at: at(on, 15),
                        updated_at: at(
                            if status == TaskStatus::Open {
                                on
                            } else {
                                closed_on
                            },
                            15,
                        ),
                        version,
                    });
                    task_id = Some(id);
                }
                self.inspections.push(scheme_inspection::Model {
                    id: inspection_id,
                    scheme_id: s.id,
                    component_id: Some(part.id),
                    organisation_id: agency,
                    inspected_on: on,
                    stage,
                    verdict,
                    evidence_url: Some(format!(
                        "https://tpia.example/{}/{inspection_id}.pdf",
                        s.code
                    )),
                    rectification_task_id: task_id.filter(|_| !picked.is_empty()),
                    recorded_by: "demo:inspection-agency".into(),
                    created_at: at(on, 15),
                });
                let closer = reinspected.then_some(inspection_id + 1);
                for (parameter, observation, severity) in &picked {
                    if open {
                        match severity {
                            FindingSeverity::Minor => minor += 1,
                            FindingSeverity::Major => major += 1,
                            FindingSeverity::Critical => critical += 1,
                        }
                    }
                    self.findings.push(inspection_finding::Model {
                        id: self.findings.len() as i64 + 1,
                        inspection_id,
                        scheme_id: s.id,
                        component_id: Some(part.id),
                        parameter: (*parameter).into(),
                        observation: (*observation).into(),
                        severity: *severity,
                        open,
                        closed_by_inspection_id: closer,
                    });
                }
                if reinspected {
                    let again = days_after(on, r.between(20, 40)).min(today);
                    self.inspections.push(scheme_inspection::Model {
                        id: inspection_id + 1,
                        scheme_id: s.id,
                        component_id: Some(part.id),
                        organisation_id: agency,
                        inspected_on: again,
                        stage,
                        verdict: InspectionVerdict::Pass,
                        evidence_url: None,
                        rectification_task_id: None,
                        recorded_by: "demo:inspection-agency".into(),
                        created_at: at(again, 15),
                    });
                }
            }

            if let Some(handed) = handed_over {
                let members = r.between(10, 15) as i32;
                let women = (members + 1) / 2 + r.between(0, 2) as i32;
                let trained = r.chance(0.85);
                self.handovers.push(scheme_handover::Model {
                    id: self.handovers.len() as i64 + 1,
                    scheme_id: s.id,
                    handed_over_on: handed,
                    resolution_date: super::days_ago(handed, r.between(7, 30)),
                    resolution_number: format!("GP/{}/{}", handed.format("%Y"), r.between(1, 60)),
                    resolution_evidence_url: Some(format!(
                        "https://gp.example/{}/resolution.pdf",
                        s.code
                    )),
                    vwsc_members: members,
                    vwsc_women_members: women.min(members),
                    operator_trained: trained,
                    operator_name: trained.then(|| {
                        OPERATORS[r.between(0, OPERATORS.len() as i64 - 1) as usize].into()
                    }),
                    user_charge_paise: r.between(3, 8) * 1000,
                    om_funds_source: r.weighted(&[
                        (OmFundsSource::UserCharges, 6),
                        (OmFundsSource::FinanceCommissionGrant, 3),
                        (OmFundsSource::GpOwnFunds, 1),
                    ]),
                    recorded_by: "demo:panchayati-raj".into(),
                    created_at: at(handed, 13),
                });
            }

            let row = &mut self.schemes[(s.id - 1) as usize];
            row.work_order_on = Some(work_order);
            row.commissioned_on = commissioned;
            row.handed_over_on = handed_over;
            row.physical_progress_bp = bp;
            row.open_findings_minor = minor;
            row.open_findings_major = major;
            row.open_findings_critical = critical;
            if s.status == OnHold {
                row.status_reason = Some("Forest clearance awaited for the rising main".into());
            }
            self.components.extend(parts);
        }
    }
}
