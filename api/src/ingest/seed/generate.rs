//! Builds the demo rows in memory (deterministically), then writes them in bulk.

use chrono::{DateTime, Days, NaiveDate, Utc};
use entities::{enums::*, *};
use sea_orm::{ActiveModelTrait, DatabaseTransaction, EntityTrait, IntoActiveModel};

use super::{
    SeedSummary,
    names::{DISTRICTS, DIVISIONS, RIVERS, STATES, TESTERS, place},
};
use crate::service::{bis, search_key::search_key};

pub(super) mod works;

/// Tables with an `id` column (for PostgreSQL's identity sequences).
pub const TABLES: [&str; 21] = [
    "state",
    "division",
    "district",
    "block",
    "gram_panchayat",
    "village",
    "scheme",
    "organisation",
    "assignment",
    "task",
    "task_event",
    "water_quality_test",
    "water_quality_result",
    "hgj_report",
    "hgj_certification",
    "scheme_component",
    "scheme_progress",
    "scheme_inspector",
    "scheme_inspection",
    "inspection_finding",
    "scheme_handover",
];

/// Indian number units, in rupees.
const LAKH: i64 = 100_000;
const CRORE: i64 = 100 * LAKH;

/// splitmix64: small, fast and the same everywhere.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// In `lo..=hi`.
    pub(super) fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
    pub(super) fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// One of `items`, by weight.
    pub(super) fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|i| i.1).sum();
        let mut n = (self.next() % u64::from(total)) as u32;
        for (item, w) in items {
            if n < *w {
                return *item;
            }
            n -= w;
        }
        items[0].0
    }
}

pub(super) fn days_ago(today: NaiveDate, n: i64) -> NaiveDate {
    today
        .checked_sub_days(Days::new(n.max(0) as u64))
        .unwrap_or(today)
}

pub(super) fn days_after(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_days(Days::new(n.max(0) as u64)).unwrap_or(d)
}

pub(super) fn at(d: NaiveDate, hour: u32) -> DateTime<Utc> {
    d.and_hms_opt(hour.min(23), 0, 0)
        .unwrap_or_default()
        .and_utc()
}

#[derive(Default)]
pub struct Dataset {
    states: Vec<state::Model>,
    divisions: Vec<division::Model>,
    districts: Vec<district::Model>,
    blocks: Vec<block::Model>,
    gps: Vec<gram_panchayat::Model>,
    villages: Vec<village::Model>,
    schemes: Vec<scheme::Model>,
    links: Vec<scheme_village::Model>,
    orgs: Vec<organisation::Model>,
    themes: Vec<organisation_theme::Model>,
    assignments: Vec<assignment::Model>,
    tasks: Vec<task::Model>,
    /// Remediation and retest tasks and the contaminated test that opened each.
    test_links: Vec<task_test_link::Model>,
    events: Vec<task_event::Model>,
    tests: Vec<water_quality_test::Model>,
    results: Vec<water_quality_result::Model>,
    reports: Vec<hgj_report::Model>,
    certs: Vec<hgj_certification::Model>,
    components: Vec<scheme_component::Model>,
    progress: Vec<scheme_progress::Model>,
    inspectors: Vec<scheme_inspector::Model>,
    inspections: Vec<scheme_inspection::Model>,
    findings: Vec<inspection_finding::Model>,
    handovers: Vec<scheme_handover::Model>,
}

/// (department, code suffix, Chhattisgarh name, Madhya Pradesh name)
const DEPARTMENTS: [(Department, &str, &str, &str); 6] = [
    (
        Department::Phed,
        "PHED",
        "Public Health Engineering Department, Chhattisgarh",
        "Public Health Engineering Department, Madhya Pradesh",
    ),
    (
        Department::Health,
        "HEALTH",
        "Health and Family Welfare Department, Chhattisgarh",
        "Public Health and Family Welfare Department, Madhya Pradesh",
    ),
    (
        Department::Wcd,
        "WCD",
        "Women and Child Development Department, Chhattisgarh",
        "Women and Child Development Department, Madhya Pradesh",
    ),
    (
        Department::Electricity,
        "ELECTRICITY",
        "Chhattisgarh State Power Distribution Company (CSPDCL)",
        "MP Paschim Kshetra Vidyut Vitaran Company",
    ),
    (
        Department::Education,
        "EDUCATION",
        "School Education Department, Chhattisgarh",
        "School Education Department, Madhya Pradesh",
    ),
    (
        Department::PanchayatiRaj,
        "PANCHAYATI_RAJ",
        "Panchayat and Rural Development Department, Chhattisgarh",
        "Panchayat and Rural Development Department, Madhya Pradesh",
    ),
];

struct PartnerDef {
    code: &'static str,
    name: &'static str,
    kind: PartnerType,
    themes: &'static [Theme],
    contact: &'static str,
    /// (district index, block index, start offset in days from today (negative: past), end offset)
    blocks: &'static [(usize, usize, i64, Option<i64>)],
}

const PARTNERS: [PartnerDef; 5] = [
    PartnerDef {
        code: "SP-JST",
        name: "Jal Sahayog Trust",
        kind: PartnerType::TrustFoundation,
        themes: &[
            Theme::WaterQuality,
            Theme::CapacityBuilding,
            Theme::Monitoring,
        ],
        contact: "Anjali Verma",
        blocks: &[
            (7, 0, -300, None),
            (7, 1, -280, None),
            (8, 0, -400, Some(-20)),
        ],
    },
    PartnerDef {
        code: "SP-GVS",
        name: "Gramin Vikas Sanstha",
        kind: PartnerType::Ngo,
        themes: &[
            Theme::CommunityMobilization,
            Theme::Vap,
            Theme::Iec,
            Theme::BaselineSurvey,
        ],
        contact: "Ramesh Sahu",
        blocks: &[(0, 0, -250, None), (0, 1, -240, None), (3, 0, 10, None)],
    },
    PartnerDef {
        code: "SP-BAMS",
        name: "Bastar Adivasi Mahila Sangh",
        kind: PartnerType::CboShg,
        themes: &[Theme::CommunityMobilization, Theme::Iec, Theme::SocialAudit],
        contact: "Kosi Kashyap",
        blocks: &[(1, 0, -200, None), (1, 1, -190, None), (2, 0, -150, None)],
    },
    PartnerDef {
        code: "SP-NRI",
        name: "Neer Research Institute",
        kind: PartnerType::RndInstitute,
        themes: &[
            Theme::WaterConservationSourceSustainability,
            Theme::Greywater,
            Theme::Documentation,
        ],
        contact: "Dr. Prakash Joshi",
        blocks: &[
            (12, 0, -320, None),
            (12, 1, -310, None),
            (17, 0, -260, None),
        ],
    },
    PartnerDef {
        code: "SP-WASHAI",
        name: "WASH Alliance India",
        kind: PartnerType::UnAgency,
        themes: &[
            Theme::CapacityBuilding,
            Theme::SkillTraining,
            Theme::Advocacy,
        ],
        contact: "Farah Khan",
        blocks: &[
            (16, 0, -220, None),
            (16, 1, -210, None),
            (6, 0, -180, None),
            (10, 1, -365, Some(-45)),
        ],
    },
];

/// Bounding boxes (lat, lon) of the three divisions.
const BOXES: [((f64, f64), (f64, f64)); 3] = [
    ((18.5, 20.5), (80.5, 82.0)),
    ((20.0, 21.8), (81.5, 83.0)),
    ((21.0, 23.0), (74.0, 77.0)),
];

const SCHEME_STATUSES: [(SchemeStatus, u32); 12] = [
    (SchemeStatus::Proposed, 4),
    (SchemeStatus::DprPrepared, 3),
    (SchemeStatus::TechSanctioned, 3),
    (SchemeStatus::AdminApproved, 4),
    (SchemeStatus::Tendered, 3),
    (SchemeStatus::WorkOrderIssued, 4),
    (SchemeStatus::InProgress, 20),
    (SchemeStatus::OnHold, 3),
    (SchemeStatus::Completed, 18),
    (SchemeStatus::Commissioned, 15),
    (SchemeStatus::HandedOverToGp, 20),
    (SchemeStatus::Cancelled, 2),
];

const TASK_STATUSES: [(TaskStatus, u32); 6] = [
    (TaskStatus::Open, 25),
    (TaskStatus::InProgress, 25),
    (TaskStatus::Blocked, 10),
    (TaskStatus::Done, 15),
    (TaskStatus::Verified, 15),
    (TaskStatus::Cancelled, 10),
];

impl Dataset {
    pub fn build(today: NaiveDate) -> Self {
        let mut r = Rng(0x5A4E_6A41_4D4A_4A4D);
        let mut d = Dataset::default();
        d.geography(&mut r, today);
        d.organisations();
        d.schemes(&mut r, today);
        d.assignments(&mut r, today);
        d.quality(&mut r, today);
        d.village_tasks(&mut r, today);
        d.works(today);
        d
    }

    fn geography(&mut self, r: &mut Rng, today: NaiveDate) {
        for (i, s) in STATES.iter().enumerate() {
            self.states.push(state::Model {
                id: i as i64 + 1,
                lgd_code: s.lgd,
                name: s.name.into(),
                name_hi: s.name_hi.into(),
                category: s.category,
            });
        }
        for (i, (st, code, name, hi)) in DIVISIONS.iter().enumerate() {
            self.divisions.push(division::Model {
                id: i as i64 + 1,
                state_id: *st as i64 + 1,
                code: (*code).into(),
                name: (*name).into(),
                name_hi: (*hi).into(),
            });
        }
        let stamp = at(today, 0);
        for (di, dd) in DISTRICTS.iter().enumerate() {
            let district_id = di as i64 + 1;
            let state_id = DIVISIONS[dd.division].0 as i64 + 1;
            self.districts.push(district::Model {
                id: district_id,
                lgd_code: dd.lgd,
                state_id,
                division_id: Some(dd.division as i64 + 1),
                name: dd.name.into(),
                name_hi: dd.name_hi.into(),
                is_aspirational: dd.aspirational,
            });
            for (bname, bhi) in dd.blocks {
                let block_id = self.blocks.len() as i64 + 1;
                self.blocks.push(block::Model {
                    id: block_id,
                    lgd_code: 3000 + block_id as i32 * 7,
                    district_id,
                    name: (*bname).into(),
                    name_hi: (*bhi).into(),
                });
                for _ in 0..r.between(8, 12) {
                    let gp_id = self.gps.len() as i64 + 1;
                    let (gname, ghi) = place(r.next());
                    self.gps.push(gram_panchayat::Model {
                        id: gp_id,
                        lgd_code: 200_000 + gp_id as i32 * 13,
                        block_id,
                        name: gname.clone(),
                        name_hi: ghi.clone(),
                    });
                    for k in 0..r.between(1, 5) {
                        // The GP's own village carries its name; the others are hamlets-grown-villages.
                        let (vname, vhi) = if k == 0 {
                            (gname.clone(), ghi.clone())
                        } else {
                            place(r.next())
                        };
                        self.village(
                            r,
                            today,
                            stamp,
                            dd.remote,
                            dd.division,
                            (gp_id, block_id, district_id, state_id),
                            vname,
                            vhi,
                        );
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn village(
        &mut self,
        r: &mut Rng,
        today: NaiveDate,
        stamp: DateTime<Utc>,
        remote: bool,
        division: usize,
        (gp, block, district, state): (i64, i64, i64, i64),
        name: String,
        name_hi: String,
    ) {
        let id = self.villages.len() as i64 + 1;
        let u = r.unit();
        let households = if remote {
            20 + (u * u * 580.0) as i32
        } else {
            60 + (u * u * 1940.0) as i32
        };
        let full = r.chance(if remote { 0.3 } else { 0.5 });
        let floor = [0.4, 0.55, 0.7][division];
        let cov = floor + (1.0 - floor) * r.unit();
        let taps = if full {
            households
        } else {
            ((f64::from(households) * cov) as i32).min(households - 1)
        };
        let status = if taps < households {
            HgjStatus::NotSaturated
        } else {
            r.weighted(&[
                (HgjStatus::Certified, 35),
                (HgjStatus::Reported, 40),
                (HgjStatus::NotSaturated, 25),
            ])
        };
        if status != HgjStatus::NotSaturated {
            let reported_on = days_ago(today, r.between(40, 700));
            self.reports.push(hgj_report::Model {
                id: self.reports.len() as i64 + 1,
                village_id: id,
                reported_on,
                completion_certificate_url: Some(format!(
                    "https://docs.example/jjm/completion/{id}.pdf"
                )),
                reported_by: "demo:phed".into(),
            });
            if status == HgjStatus::Certified {
                let certified_on = days_after(reported_on, r.between(10, 35)).min(today);
                self.certs.push(hgj_certification::Model {
                    id: self.certs.len() as i64 + 1,
                    village_id: id,
                    gram_sabha_resolution_date: days_ago(certified_on, r.between(0, 6))
                        .max(reported_on),
                    resolution_url: Some(format!("https://docs.example/jjm/resolution/{id}.pdf")),
                    video_url: Some(format!("https://video.example/jjm/gram-sabha/{id}.mp4")),
                    certified_on,
                    certified_by: "demo:panchayati_raj".into(),
                });
            }
        }
        let ((la, lb), (oa, ob)) = BOXES[division];
        self.villages.push(village::Model {
            id,
            lgd_code: 400_000 + id as i32 * 3,
            imis_id: Some(1_000_000 + id * 17),
            gram_panchayat_id: gp,
            block_id: block,
            district_id: district,
            state_id: state,
            search_key: search_key(&name, &name_hi),
            name,
            name_hi,
            households,
            tap_connections: taps,
            hgj_status: status,
            latitude: Some(((la + (lb - la) * r.unit()) * 1e5).round() / 1e5),
            longitude: Some(((oa + (ob - oa) * r.unit()) * 1e5).round() / 1e5),
            version: 1,
            updated_at: stamp,
        });
    }

    fn organisations(&mut self) {
        for (si, s) in STATES.iter().enumerate() {
            for (dept, suffix, cg, mp) in DEPARTMENTS {
                let id = self.orgs.len() as i64 + 1;
                self.orgs.push(organisation::Model {
                    id,
                    code: format!("{}-{suffix}", s.code),
                    name: (if si == 0 { cg } else { mp }).into(),
                    kind: OrganisationKind::Department,
                    department: Some(dept),
                    partner_type: None,
                    state_id: Some(si as i64 + 1),
                    contact_name: Some(format!("Nodal Officer, {suffix}")),
                    contact_phone: Some(format!("+91-94{:08}", id * 7_654_321 % 100_000_000)),
                });
            }
        }
        for p in &PARTNERS {
            let id = self.orgs.len() as i64 + 1;
            self.orgs.push(organisation::Model {
                id,
                code: p.code.into(),
                name: p.name.into(),
                kind: OrganisationKind::SectorPartner,
                department: None,
                partner_type: Some(p.kind),
                state_id: None,
                contact_name: Some(p.contact.into()),
                contact_phone: Some(format!("+91-98{:08}", id * 3_141_592 % 100_000_000)),
            });
            for t in p.themes {
                self.themes.push(organisation_theme::Model {
                    organisation_id: id,
                    theme: *t,
                });
            }
        }
    }

    /// The organisation id of `dept` in `state_id`.
    fn dept(&self, dept: Department, state_id: i64) -> i64 {
        self.orgs
            .iter()
            .find(|o| o.department == Some(dept) && o.state_id == Some(state_id))
            .map_or(1, |o| o.id)
    }

    fn schemes(&mut self, r: &mut Rng, today: NaiveDate) {
        let blocks: Vec<block::Model> = self.blocks.clone();
        for (bi, b) in blocks.iter().enumerate() {
            let villages: Vec<village::Model> = self
                .villages
                .iter()
                .filter(|v| v.block_id == b.id)
                .cloned()
                .collect();
            let remote = DISTRICTS[(b.district_id - 1) as usize].remote;
            let mut rest = &villages[..];
            if bi % 2 == 0 && villages.len() >= 5 {
                let n = villages.len() * 3 / 5;
                let (river, river_hi) = RIVERS[bi % RIVERS.len()];
                let name = (
                    format!("{river} Group Water Supply Scheme ({})", b.name),
                    format!("{river_hi} समूह जल प्रदाय योजना ({})", b.name_hi),
                );
                let agency = if r.chance(0.5) {
                    ImplementingAgency::JalNigam
                } else {
                    ImplementingAgency::Phed
                };
                self.scheme(
                    r,
                    today,
                    SchemeType::Mvs,
                    agency,
                    name,
                    b.district_id,
                    &villages[..n],
                );
                rest = &villages[n..];
            }
            for v in rest {
                if r.chance(0.12) {
                    continue; // no scheme sanctioned yet
                }
                let kind = r.weighted(&[
                    (SchemeType::Svs, 50),
                    (SchemeType::Retrofit, 18),
                    (SchemeType::Solar, if remote { 25 } else { 5 }),
                    (SchemeType::New, 8),
                    (SchemeType::Revised, 4),
                    (SchemeType::Renovation, 4),
                    (SchemeType::Cwpp, 2),
                ]);
                let (tag, tag_hi) = match kind {
                    SchemeType::Retrofit => {
                        ("Nal Jal Yojana (Retrofitting)", "नल जल योजना (रेट्रोफिटिंग)")
                    }
                    SchemeType::Solar => ("Solar Nal Jal Yojana", "सोलर नल जल योजना"),
                    SchemeType::Revised => ("Nal Jal Yojana (Revised)", "नल जल योजना (रिवाईज्ड)"),
                    SchemeType::Renovation => {
                        ("Nal Jal Yojana (Renovation)", "नल जल योजना (जीर्णोद्धार)")
                    }
                    SchemeType::Cwpp => (
                        "Community Water Purification Plant",
                        "सामुदायिक जल शोधन संयंत्र",
                    ),
                    _ => ("Ekal Gram Nal Jal Yojana", "एकल ग्राम नल जल योजना"),
                };
                let agency = if kind == SchemeType::Retrofit && r.chance(0.3) {
                    ImplementingAgency::GramPanchayat
                } else {
                    ImplementingAgency::Phed
                };
                let name = (
                    format!("{} {tag}", v.name),
                    format!("{} {tag_hi}", v.name_hi),
                );
                self.scheme(
                    r,
                    today,
                    kind,
                    agency,
                    name,
                    b.district_id,
                    std::slice::from_ref(v),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scheme(
        &mut self,
        r: &mut Rng,
        today: NaiveDate,
        kind: SchemeType,
        agency: ImplementingAgency,
        (name, name_hi): (String, String),
        district_id: i64,
        villages: &[village::Model],
    ) {
        use SchemeStatus::*;
        let id = self.schemes.len() as i64 + 1;
        // The first twelve schemes walk through every status, so each one appears.
        let status = if id <= 12 {
            SCHEME_STATUSES[(id - 1) as usize].0
        } else {
            r.weighted(&SCHEME_STATUSES)
        };
        let rupees = if kind == SchemeType::Mvs {
            r.between(10, 300) * CRORE
        } else {
            r.between(20, 150) * LAKH
        };
        let estimated = rupees * 100;
        let spent_pct = match status {
            Proposed | DprPrepared | TechSanctioned | AdminApproved | Tendered => 0,
            WorkOrderIssued => r.between(0, 5),
            InProgress => r.between(20, 85),
            OnHold => r.between(10, 60),
            Completed | Commissioned | HandedOverToGp => r.between(90, 100),
            Cancelled => r.between(0, 10),
        };
        let sanctioned = !matches!(status, Proposed | DprPrepared);
        let sanctioned_on = sanctioned.then(|| days_ago(today, r.between(200, 1500)));
        let done = matches!(status, Completed | Commissioned | HandedOverToGp);
        let state_code = if DISTRICTS[(district_id - 1) as usize].division == 2 {
            "MP"
        } else {
            "CG"
        };
        self.schemes.push(scheme::Model {
            id,
            code: format!("{state_code}-RPWSS-{id:06}"),
            name,
            name_hi,
            scheme_type: kind,
            status,
            district_id,
            implementing_agency: agency,
            estimated_cost_paise: estimated,
            expenditure_paise: estimated / 100 * spent_pct,
            sanctioned_on,
            target_completion_on: sanctioned_on.map(|s| days_after(s, 540)),
            completed_on: sanctioned_on
                .filter(|_| done)
                .map(|s| days_after(s, r.between(300, 800)).min(today)),
            fhtc_target: villages.iter().map(|v| v.households).sum(),
            version: 1,
            work_order_on: None,
            commissioned_on: None,
            handed_over_on: None,
            status_reason: None,
            physical_progress_bp: None,
            open_findings_minor: 0,
            open_findings_major: 0,
            open_findings_critical: 0,
        });
        for v in villages {
            self.links.push(scheme_village::Model {
                scheme_id: id,
                village_id: v.id,
            });
        }
        if id % 6 == 0 && !matches!(status, Cancelled) {
            let title = format!(
                "Complete the overhead tank and distribution network of {}",
                self.schemes[id as usize - 1].code
            );
            let state_id = self.districts[(district_id - 1) as usize].state_id;
            let phed = self.dept(Department::Phed, state_id);
            self.task(
                r,
                today,
                TaskKind::SchemeWork,
                title,
                None,
                Some(id),
                district_id,
                state_id,
                phed,
                Some(phed),
            );
        }
    }

    fn assignments(&mut self, r: &mut Rng, today: NaiveDate) {
        let partner_ids: Vec<i64> = self
            .orgs
            .iter()
            .filter(|o| o.kind == OrganisationKind::SectorPartner)
            .map(|o| o.id)
            .collect();
        for (p, org) in PARTNERS.iter().zip(partner_ids) {
            for (di, bi, start, end) in p.blocks {
                let Some(block) = self
                    .blocks
                    .iter()
                    .filter(|b| b.district_id == *di as i64 + 1)
                    .nth(*bi)
                    .map(|b| b.id)
                else {
                    continue;
                };
                let villages: Vec<i64> = self
                    .villages
                    .iter()
                    .filter(|v| v.block_id == block)
                    .map(|v| v.id)
                    .collect();
                for (n, v) in villages.into_iter().enumerate() {
                    let themes = if n % 2 == 0 {
                        &p.themes[..2]
                    } else {
                        &p.themes[..1]
                    };
                    for theme in themes {
                        let starts_on = if *start < 0 {
                            days_ago(today, -start + r.between(0, 20))
                        } else {
                            days_after(today, *start)
                        };
                        self.assignments.push(assignment::Model {
                            id: self.assignments.len() as i64 + 1,
                            organisation_id: org,
                            village_id: v,
                            theme: *theme,
                            starts_on,
                            ends_on: end.map(|e| days_ago(today, -e)),
                            created_at: at(starts_on.min(today), 9),
                            version: 1,
                        });
                    }
                }
            }
        }
    }

    /// The partner actively assigned to a village today, if any.
    fn partner_of(&self, village: i64, today: NaiveDate) -> Option<i64> {
        self.assignments
            .iter()
            .find(|a| {
                a.village_id == village
                    && a.starts_on <= today
                    && a.ends_on.is_none_or(|e| e >= today)
            })
            .map(|a| a.organisation_id)
    }

    fn quality(&mut self, r: &mut Rng, today: NaiveDate) {
        use WqParameter::*;
        let villages = self.villages.clone();
        for v in villages.iter().filter(|v| v.id % 2 == 0) {
            let id = self.tests.len() as i64 + 1;
            let lab = r.chance(0.3);
            let district = &self.districts[(v.district_id - 1) as usize];
            let base: [(WqParameter, f64, f64); 8] = [
                (Ph, 7.2, 0.5),
                (Tds, 320.0, 140.0),
                (Turbidity, 0.5, 0.4),
                (Fluoride, 0.45, 0.3),
                (Iron, 0.12, 0.1),
                (Nitrate, 18.0, 12.0),
                (Chloride, 110.0, 60.0),
                (EColi, 0.0, 0.0),
            ];
            let n = r.between(4, 6) as usize;
            let mut readings: Vec<(WqParameter, f64)> = base[..n]
                .iter()
                .map(|(p, m, s)| (*p, (m + s * (r.unit() - 0.5)).max(0.0)))
                .collect();
            if r.chance(0.05) {
                let bad = [
                    (Fluoride, 2.1),
                    (Arsenic, 0.032),
                    (Iron, 1.4),
                    (Nitrate, 64.0),
                    (EColi, 3.0),
                ][r.between(0, 4) as usize];
                readings.retain(|(p, _)| *p != bad.0);
                readings.push(bad);
            }
            let mut contaminated = false;
            for (p, value) in readings {
                let value = (value * 1000.0).round() / 1000.0;
                let limit = bis::limit(p);
                let exceeds = limit.exceeded_by(value);
                contaminated |= exceeds;
                self.results.push(water_quality_result::Model {
                    id: self.results.len() as i64 + 1,
                    test_id: id,
                    parameter: p,
                    value,
                    unit: limit.unit.into(),
                    exceeds,
                });
            }
            let sampled_on = days_ago(today, r.between(5, 360));
            let source = [
                "Handpump near school",
                "Borewell 2",
                "ESR outlet",
                "Tap at anganwadi",
                "Open well by the temple",
            ][(id % 5) as usize];
            let source_type = [
                WaterSourceType::Handpump,
                WaterSourceType::Borewell,
                WaterSourceType::Esr,
                WaterSourceType::Tap,
                WaterSourceType::OpenWell,
            ][(id % 5) as usize];
            self.tests.push(water_quality_test::Model {
                id,
                village_id: v.id,
                source_name: source.into(),
                source_type,
                sampled_on,
                method: if lab { WqMethod::Lab } else { WqMethod::Ftk },
                lab_name: lab
                    .then(|| format!("District Water Testing Laboratory, {}", district.name)),
                tested_by: (!lab).then(|| TESTERS[(id % TESTERS.len() as i64) as usize].into()),
                contaminated,
                created_at: at(sampled_on, 17),
                sample_id: None,
            });
            if contaminated {
                let (phed, health) = (
                    self.dept(Department::Phed, v.state_id),
                    self.dept(Department::Health, v.state_id),
                );
                let remediate = format!(
                    "Remediate {source} at {} (test {id} exceeded BIS 10500)",
                    v.name
                );
                self.task(
                    r,
                    today,
                    TaskKind::WaterQualityRemediation,
                    remediate,
                    Some(v.id),
                    None,
                    v.district_id,
                    v.state_id,
                    phed,
                    Some(health),
                );
                self.link_to_test(id);
                let retest = format!("Retest {source} at {} after remediation", v.name);
                self.task(
                    r,
                    today,
                    TaskKind::WaterQualityTest,
                    retest,
                    Some(v.id),
                    None,
                    v.district_id,
                    v.state_id,
                    health,
                    Some(health),
                );
                self.link_to_test(id);
            }
        }
    }

    /// Links the task just made to the contaminated test `test` that opened it.
    fn link_to_test(&mut self, test: i64) {
        self.test_links.push(task_test_link::Model {
            task_id: self.tasks.len() as i64,
            opened_by_test_id: test,
            closed_by_test_id: None,
        });
    }

    fn village_tasks(&mut self, r: &mut Rng, today: NaiveDate) {
        use TaskKind::*;
        let kinds = [
            CommunityMobilization,
            PowerConnection,
            SchoolAwcConnection,
            BaselineSurvey,
            Vap,
            SourceSustainability,
            Iec,
            HgjCertification,
            CapacityBuilding,
            Greywater,
            Other,
        ];
        let villages = self.villages.clone();
        for (n, v) in villages.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
            let kind = kinds[(n / 3) % kinds.len()];
            let phed = self.dept(Department::Phed, v.state_id);
            let partner = self.partner_of(v.id, today);
            let (assignee, raised_by, title) = match kind {
                PowerConnection => (
                    self.dept(Department::Electricity, v.state_id),
                    Some(phed),
                    format!("Energise the borewell pump at {}", v.name),
                ),
                SchoolAwcConnection if n % 2 == 0 => (
                    self.dept(Department::Wcd, v.state_id),
                    Some(phed),
                    format!("Tap connection for the anganwadi at {}", v.name),
                ),
                SchoolAwcConnection => (
                    self.dept(Department::Education, v.state_id),
                    Some(phed),
                    format!("Tap connection for the primary school at {}", v.name),
                ),
                SourceSustainability => (
                    self.dept(Department::PanchayatiRaj, v.state_id),
                    Some(phed),
                    format!("Recharge pit for the source at {} under MGNREGS", v.name),
                ),
                Greywater => (
                    self.dept(Department::PanchayatiRaj, v.state_id),
                    Some(phed),
                    format!("Soak pits for greywater at {}", v.name),
                ),
                HgjCertification => (
                    self.dept(Department::PanchayatiRaj, v.state_id),
                    Some(phed),
                    format!("Special Gram Sabha to certify {} Har Ghar Jal", v.name),
                ),
                Other => (
                    phed,
                    Some(phed),
                    format!("Repair the leaking valve chamber at {}", v.name),
                ),
                _ => {
                    let what = match kind {
                        CommunityMobilization => "Mobilise households for the VWSC meeting",
                        BaselineSurvey => "Household baseline survey",
                        Vap => "Prepare the Village Action Plan",
                        Iec => "Water-saving wall paintings and rally",
                        _ => "Train the VWSC and pump operator",
                    };
                    match partner {
                        Some(p) => (p, Some(p), format!("{what} at {}", v.name)),
                        None => (phed, Some(phed), format!("{what} at {}", v.name)),
                    }
                }
            };
            self.task(
                r,
                today,
                kind,
                title,
                Some(v.id),
                None,
                v.district_id,
                v.state_id,
                assignee,
                raised_by,
            );
        }
    }

    /// A task and its history, consistent with its status.
    #[allow(clippy::too_many_arguments)]
    fn task(
        &mut self,
        r: &mut Rng,
        today: NaiveDate,
        kind: TaskKind,
        title: String,
        village_id: Option<i64>,
        scheme_id: Option<i64>,
        district_id: i64,
        state_id: i64,
        assignee: i64,
        raised_by: Option<i64>,
    ) {
        use TaskStatus::*;
        let id = self.tasks.len() as i64 + 1;
        let status = if id <= 6 {
            TASK_STATUSES[(id - 1) as usize].0
        } else {
            r.weighted(&TASK_STATUSES)
        };
        let created = days_ago(today, r.between(10, 200));
        let due_on = Some(days_after(created, r.between(20, 120)));
        let detour = r.chance(0.3);
        let path: Vec<TaskStatus> = match status {
            Open => vec![],
            InProgress if detour => vec![InProgress, Blocked, InProgress],
            InProgress => vec![InProgress],
            Blocked => vec![InProgress, Blocked],
            Done => vec![InProgress, Done],
            Verified => vec![InProgress, Done, Verified],
            Cancelled if detour => vec![InProgress, Cancelled],
            Cancelled => vec![Cancelled],
        };
        let actor =
            |org: i64| format!("demo:{}", self.orgs[(org - 1) as usize].code.to_lowercase());
        let raiser = raised_by.unwrap_or(assignee);
        let mut when = at(created, 10);
        let mut events = vec![(
            TaskEventKind::Created,
            None,
            Some(Open),
            None,
            actor(raiser),
            raiser,
            when,
        )];
        let mut prev = Open;
        let span = (today - created).num_days().max(1);
        for (k, to) in path.iter().enumerate() {
            let step = span * (k as i64 + 1) / (path.len() as i64 + 2);
            when = at(days_after(created, step), 11 + k as u32);
            let note = match to {
                Blocked => Some(
                    "Waiting for the power connection before the pump can be tested".to_owned(),
                ),
                Cancelled => Some("Merged into the multi-village scheme's work order".to_owned()),
                Done => Some("Completed; photos uploaded to the department's drive".to_owned()),
                _ => None,
            };
            let by = if matches!(to, Verified | Cancelled) {
                raiser
            } else {
                assignee
            };
            events.push((
                TaskEventKind::StatusChanged,
                Some(prev),
                Some(*to),
                note,
                actor(by),
                by,
                when,
            ));
            prev = *to;
        }
        if r.chance(0.3) {
            when += chrono::Duration::hours(1);
            events.push((
                TaskEventKind::Commented,
                None,
                None,
                Some("Discussed in the district convergence review".into()),
                actor(raiser),
                raiser,
                when,
            ));
        }
        for (kind, from, to, note, sub, org, at) in &events {
            self.events.push(task_event::Model {
                id: self.events.len() as i64 + 1,
                task_id: id,
                kind: *kind,
                from_status: *from,
                to_status: *to,
                note: note.clone(),
                actor_sub: sub.clone(),
                actor_organisation_id: Some(*org),
                at: *at,
            });
        }
        let priority = [
            TaskPriority::Low,
            TaskPriority::Medium,
            TaskPriority::High,
            TaskPriority::Critical,
        ][(id % 4) as usize];
        self.tasks.push(task::Model {
            id,
            kind,
            title,
            description: format!(
                "Raised in the convergence review of {}.",
                created.format("%d %b %Y")
            ),
            village_id,
            scheme_id,
            district_id,
            state_id,
            assignee_organisation_id: assignee,
            raised_by_organisation_id: raised_by,
            status,
            priority,
            due_on,
            created_at: at(created, 10),
            updated_at: when,
            version: events.len() as i32,
        });
    }

    pub async fn write(self, txn: &DatabaseTransaction) -> anyhow::Result<SeedSummary> {
        let summary = SeedSummary {
            states: self.states.len() as u64,
            divisions: self.divisions.len() as u64,
            districts: self.districts.len() as u64,
            blocks: self.blocks.len() as u64,
            gram_panchayats: self.gps.len() as u64,
            villages: self.villages.len() as u64,
            schemes: self.schemes.len() as u64,
            organisations: self.orgs.len() as u64,
            assignments: self.assignments.len() as u64,
            tasks: self.tasks.len() as u64,
            task_events: self.events.len() as u64,
            water_quality_tests: self.tests.len() as u64,
        };
        // Tasks are generated while scheme and test rows are, so they are written after both.
        insert(txn, self.states).await?;
        insert(txn, self.divisions).await?;
        insert(txn, self.districts).await?;
        insert(txn, self.blocks).await?;
        insert(txn, self.gps).await?;
        insert(txn, self.villages).await?;
        insert(txn, self.orgs).await?;
        insert(txn, self.themes).await?;
        insert(txn, self.schemes).await?;
        insert(txn, self.links).await?;
        insert(txn, self.assignments).await?;
        insert(txn, self.tests).await?;
        insert(txn, self.results).await?;
        insert(txn, self.tasks).await?;
        insert(txn, self.test_links).await?;
        insert(txn, self.events).await?;
        insert(txn, self.reports).await?;
        insert(txn, self.certs).await?;
        insert(txn, self.components).await?;
        insert(txn, self.progress).await?;
        insert(txn, self.inspectors).await?;
        insert(txn, self.inspections).await?;
        insert(txn, self.findings).await?;
        insert(txn, self.handovers).await?;
        Ok(summary)
    }
}

/// Multi-row inserts, 200 rows a statement (well inside SQLite's bound-parameter limit).
async fn insert<M>(txn: &DatabaseTransaction, rows: Vec<M>) -> anyhow::Result<()>
where
    M: IntoActiveModel<<<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel>
        + sea_orm::ModelTrait,
    <<M as sea_orm::ModelTrait>::Entity as EntityTrait>::ActiveModel: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        // Every column is written, ids included.
        let chunk: Vec<_> = rows
            .by_ref()
            .take(200)
            .map(|m| m.into_active_model().reset_all())
            .collect();
        <M as sea_orm::ModelTrait>::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}
