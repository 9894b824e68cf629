//! `sangam import scheme-progress`: a division's progress abstract is recorded by the body
//! `recordSchemeProgress` runs (the same rules, history, rollups and events); bad rows are named
//! by line, column and reason with nothing written; the same file again changes nothing; a row
//! that contradicts a record held is refused.

use api::{
    ingest::{Kind, Options, Report, Source},
    principal::{Jurisdiction, Principal, Role},
    service::{
        Service,
        schemes::{components::NewComponent, physical_progress},
        today_ist,
    },
};
use entities::{event_log, scheme, scheme_component, scheme_progress, works::ComponentKind};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
};
use tests::{Backend, TestDb, each_backend};

use crate::{
    imports::{import, import_as},
    scheme_works::assert_rollups_fresh,
};

/// The schemes the sample file reports on (demo schemes of Bastar).
const SCHEMES: [&str; 3] = ["CG-RPWSS-000007", "CG-RPWSS-000026", "CG-RPWSS-000030"];

fn sample() -> Source {
    let name = "progress-abstract.csv";
    let path = format!("{}/fixtures/works/{name}", env!("CARGO_MANIFEST_DIR"));
    Source {
        name: name.to_owned(),
        bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
    }
}

fn file(name: &str, text: String) -> Source {
    Source {
        name: name.to_owned(),
        bytes: text.into_bytes(),
    }
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn scheme_by_code(db: &DatabaseConnection, code: &str) -> scheme::Model {
    scheme::Entity::find()
        .filter(scheme::Column::Code.eq(code))
        .one(db)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("the demo has scheme {code}"))
}

async fn components(db: &DatabaseConnection, scheme: i64) -> Vec<scheme_component::Model> {
    scheme_component::Entity::find()
        .filter(scheme_component::Column::SchemeId.eq(scheme))
        .order_by_asc(scheme_component::Column::Id)
        .all(db)
        .await
        .expect("components")
}

/// (progress records, `scheme.progress_recorded` events).
async fn counts(db: &DatabaseConnection) -> (u64, u64) {
    (
        scheme_progress::Entity::find()
            .count(db)
            .await
            .expect("records"),
        event_log::Entity::find()
            .filter(event_log::Column::Kind.eq("scheme.progress_recorded"))
            .count(db)
            .await
            .expect("events"),
    )
}

fn tally(r: &Report) -> [u64; 4] {
    let f = &r.files[0];
    assert_eq!(f.kind, "scheme_progress");
    [f.inserted, f.updated, f.unchanged, f.rejected]
}

/// The sample's schemes as a fresh works site (test setup): under way, no progress recorded,
/// and Songuda (000026) with a second, 50 kL overhead reservoir added through the API.
async fn fresh_sites(db: &DatabaseConnection) {
    let codes = SCHEMES.map(|c| format!("'{c}'")).join(", ");
    let ids = format!("SELECT id FROM scheme WHERE code IN ({codes})");
    exec(
        db,
        &format!("DELETE FROM scheme_progress WHERE scheme_id IN ({ids})"),
    )
    .await;
    exec(
        db,
        &format!(
            "UPDATE scheme_component SET quantity_done = 0, progress_as_of = NULL \
             WHERE scheme_id IN ({ids})"
        ),
    )
    .await;
    exec(
        db,
        &format!(
            "UPDATE scheme SET status = 'IN_PROGRESS', physical_progress_bp = 0 WHERE code IN ({codes})"
        ),
    )
    .await;
    migration::rollups::rebuild(db).await.expect("rebuild");
    let songuda = scheme_by_code(db, SCHEMES[1]).await;
    Service::on(db.clone(), Principal::all_access(), today_ist())
        .add_scheme_component(
            NewComponent {
                scheme: songuda.id,
                kind: ComponentKind::OverheadReservoir,
                planned_quantity: 50.0,
                cost_paise: 90_000_000,
            },
            songuda.version,
            None,
        )
        .await
        .expect("a second overhead reservoir");
}

#[tokio::test]
async fn a_progress_abstract_is_recorded_as_the_api_records_it_and_reloads_unchanged() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::demo(backend).await;
        let db = &t.db;
        let name = t.backend.name();
        fresh_sites(db).await;
        assert_rollups_fresh(db, "setting up").await;
        let before = counts(db).await;
        let r = import(db, Kind::SchemeProgress, vec![sample()]).await;
        assert!(r.written, "[{name}] {r:#?}");
        assert_eq!(tally(&r), [14, 0, 0, 0], "[{name}] {r:#?}");
        let after = counts(db).await;
        assert_eq!(after.0, before.0 + 14, "[{name}] fourteen records");
        assert_eq!(after.1, before.1 + 14, "[{name}] one event per record");
        // Each scheme's physical progress is its components' cost-weighted share done.
        for code in SCHEMES {
            let s = scheme_by_code(db, code).await;
            let parts = components(db, s.id).await;
            assert_eq!(
                s.physical_progress_bp,
                physical_progress(&parts),
                "[{name}] {code}"
            );
        }
        // The overhead tank of Dongarkheda (000007): two records in date order, the latest
        // current, each with its previous quantity and evidence.
        let dongarkheda = scheme_by_code(db, SCHEMES[0]).await;
        let tank = components(db, dongarkheda.id)
            .await
            .into_iter()
            .find(|c| c.kind == ComponentKind::OverheadReservoir)
            .expect("a tank");
        assert_eq!(tank.quantity_done, 21.0, "[{name}]");
        assert_eq!(
            tank.progress_as_of,
            chrono::NaiveDate::from_ymd_opt(2026, 8, 31),
            "[{name}]"
        );
        let history: Vec<(f64, f64, Option<String>)> = scheme_progress::Entity::find()
            .filter(scheme_progress::Column::ComponentId.eq(tank.id))
            .order_by_asc(scheme_progress::Column::Id)
            .all(db)
            .await
            .expect("history")
            .into_iter()
            .map(|r| (r.quantity_done, r.previous_quantity, r.evidence_url))
            .collect();
        assert_eq!(
            history,
            [
                (
                    10.0,
                    0.0,
                    Some("https://mb.cgphed.example/bastar/000007/oht-staging.jpg".into())
                ),
                (
                    21.0,
                    10.0,
                    Some("https://mb.cgphed.example/bastar/000007/oht-container.jpg".into())
                ),
            ],
            "[{name}]"
        );
        // Songuda's two reservoirs told apart by their planned quantity; its tap connections
        // fell with a reason.
        let songuda = scheme_by_code(db, SCHEMES[1]).await;
        let parts = components(db, songuda.id).await;
        let tanks: Vec<(f64, f64)> = parts
            .iter()
            .filter(|c| c.kind == ComponentKind::OverheadReservoir)
            .map(|c| (c.planned_quantity, c.quantity_done))
            .collect();
        assert_eq!(tanks, [(29.0, 15.66), (50.0, 12.5)], "[{name}]");
        let taps = parts
            .iter()
            .find(|c| c.kind == ComponentKind::HouseholdTapConnections)
            .expect("taps");
        assert_eq!(taps.quantity_done, 56.0, "[{name}]");
        let fell = scheme_progress::Entity::find()
            .filter(scheme_progress::Column::ComponentId.eq(taps.id))
            .order_by_desc(scheme_progress::Column::Id)
            .one(db)
            .await
            .expect("read")
            .expect("record");
        assert_eq!(
            fell.reason.as_deref(),
            Some("Recount: 4 connections not functional"),
            "[{name}]"
        );
        let events = event_log::Entity::find()
            .filter(event_log::Column::Kind.eq("scheme.progress_recorded"))
            .filter(event_log::Column::EntityId.eq(dongarkheda.id))
            .count(db)
            .await
            .expect("events");
        assert_eq!(events, 6, "[{name}] Dongarkheda's six records");
        assert_rollups_fresh(db, "importing progress").await;
        // The same file again: nothing new, and the report says so.
        let again = import(db, Kind::SchemeProgress, vec![sample()]).await;
        assert_eq!(tally(&again), [0, 0, 14, 0], "[{name}] {again:#?}");
        assert_eq!(
            counts(db).await,
            after,
            "[{name}] a re-import writes nothing"
        );
        let unchanged = scheme_by_code(db, SCHEMES[0]).await;
        assert_eq!(unchanged.version, dongarkheda.version, "[{name}]");
        assert_rollups_fresh(db, "importing the same file again").await;
    })
    .await;
}

#[tokio::test]
async fn bad_progress_rows_are_named_by_line_and_column_and_nothing_is_written() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::demo(backend).await;
        let db = &t.db;
        let name = t.backend.name();
        fresh_sites(db).await;
        import(db, Kind::SchemeProgress, vec![sample()]).await;
        let done = scheme::Entity::find()
            .filter(scheme::Column::Status.eq(entities::enums::SchemeStatus::Completed))
            .one(db)
            .await
            .expect("read")
            .expect("a completed scheme in the demo");
        let done_part = components(db, done.id)
            .await
            .into_iter()
            .next()
            .expect("a component of the completed scheme");
        let done_kind = serde_json::to_value(done_part.kind).expect("kind");
        let done_kind = done_kind.as_str().expect("a name");
        let today = today_ist();
        let tomorrow = today + chrono::Days::new(1);
        let yesterday = today - chrono::Days::new(1);
        // A day with no record of that component (the demo's records end today).
        let held: Vec<chrono::NaiveDate> = scheme_progress::Entity::find()
            .filter(scheme_progress::Column::ComponentId.eq(done_part.id))
            .all(db)
            .await
            .expect("records")
            .into_iter()
            .map(|r| r.as_of)
            .collect();
        let free_day = (0..)
            .map(|n| today - chrono::Days::new(n))
            .find(|d| !held.contains(d))
            .expect("a day");
        let text = format!(
            "Scheme ID,Component,Planned Quantity,Cumulative Quantity,As on Date,Remarks\n\
             CG-RPWSS-000007,OHT,25,22,{today},\n\
             CG-RPWSS-999999,OHT,25,1,{today},\n\
             CG-RPWSS-000007,Boundary wall,,1,{today},\n\
             CG-RPWSS-000007,FHTC,596,700,{today},\n\
             CG-RPWSS-000007,FHTC,596,400,{yesterday},\n\
             CG-RPWSS-000007,Solar Pump,6,5,{tomorrow},\n\
             CG-RPWSS-000007,Distribution Network,1,0.9,15/06/2026,\n\
             CG-RPWSS-000026,ESR,,20,{today},\n\
             CG-RPWSS-000007,OHT,25,20,31/08/2026,\n\
             CG-RPWSS-000007,OHT,25,23,{today},\n\
             CG-RPWSS-000030,Pump House,1,abc,{today},\n\
             {},{done_kind},,1,{free_day},\n",
            done.code
        );
        let before = counts(db).await;
        let r = import(
            db,
            Kind::SchemeProgress,
            vec![file("bad.csv", text.clone())],
        )
        .await;
        assert!(!r.written, "[{name}]");
        let f = &r.files[0];
        let got: Vec<(u64, &str)> = f
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (3, "Scheme ID"),
                (4, "Component"),
                (5, "Cumulative Quantity"),
                (6, "Remarks"),
                (7, "As on Date"),
                (8, "As on Date"),
                (9, "Planned Quantity"),
                (10, "Cumulative Quantity"),
                (11, "As on Date"),
                (12, "Cumulative Quantity"),
                (13, "Scheme ID"),
            ],
            "[{name}] {:#?}",
            f.rejections
        );
        let reason = |line: u64| {
            f.rejections
                .iter()
                .find(|x| x.line == line)
                .map(|x| x.reason.as_str())
                .unwrap_or_default()
        };
        assert!(reason(3).contains("unknown scheme"), "{}", reason(3));
        assert!(reason(4).contains("not a component"), "{}", reason(4));
        assert!(
            reason(5).contains("more than the 596 planned"),
            "{}",
            reason(5)
        );
        assert!(reason(6).contains("falls from 476 to 400"), "{}", reason(6));
        assert!(reason(7).contains("future"), "{}", reason(7));
        assert!(reason(8).contains("later day"), "{}", reason(8));
        assert!(
            reason(9).contains("2 OVERHEAD_RESERVOIR components"),
            "{}",
            reason(9)
        );
        assert!(
            reason(10).contains("already recorded for 2026-08-31"),
            "{}",
            reason(10)
        );
        assert!(reason(11).contains("first on line 2"), "{}", reason(11));
        assert!(reason(12).contains("not a number"), "{}", reason(12));
        assert!(reason(13).contains("under way"), "{}", reason(13));
        assert_eq!(f.rejected, 11, "[{name}]");
        assert_eq!(f.inserted, 1, "[{name}] the one good row, not written");
        assert_eq!(counts(db).await, before, "[{name}] nothing is written");
        // A dry run names the same rows and writes nothing either.
        let dry = import_as(
            db,
            &Principal::all_access(),
            Kind::SchemeProgress,
            vec![file("bad.csv", text.clone())],
            Options {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(dry.files[0].rejected, 11, "[{name}]");
        assert_eq!(
            counts(db).await,
            before,
            "[{name}] a dry run writes nothing"
        );
        // With --partial the good row is written, through the same body.
        let partial = import_as(
            db,
            &Principal::all_access(),
            Kind::SchemeProgress,
            vec![file("bad.csv", text)],
            Options {
                partial: true,
                ..Default::default()
            },
        )
        .await;
        assert!(partial.written, "[{name}]");
        assert_eq!(tally(&partial), [1, 0, 0, 11], "[{name}]");
        assert_eq!(
            counts(db).await,
            (before.0 + 1, before.1 + 1),
            "[{name}] one record, one event"
        );
        assert_rollups_fresh(db, "a partial import").await;
        // A coordinator of another district: every row is outside its jurisdiction.
        let mut who = Principal::all_access();
        who.role = Role::DistrictCoordinator;
        who.jurisdiction = Jurisdiction::Districts(vec![387]);
        let r = import_as(
            db,
            &who,
            Kind::SchemeProgress,
            vec![sample()],
            Options::default(),
        )
        .await;
        assert_eq!(r.files[0].rejected, 14, "[{name}]");
        assert_eq!(r.files[0].rejections[0].reason, "outside your jurisdiction");
        // Who may import progress at all: PHED, with schemes:write.
        let mut partner = Principal::all_access();
        partner.role = Role::Partner;
        assert!(api::ingest::may_import(&partner, Kind::SchemeProgress).is_err());
        let mut health = Principal::all_access();
        health.role = Role::Department;
        health.department = Some(entities::enums::Department::Health);
        assert!(api::ingest::may_import(&health, Kind::SchemeProgress).is_err());
        let mut phed = health.clone();
        phed.department = Some(entities::enums::Department::Phed);
        assert!(api::ingest::may_import(&phed, Kind::SchemeProgress).is_ok());
        phed.scopes.remove(&api::principal::Scope::SchemesWrite);
        assert!(api::ingest::may_import(&phed, Kind::SchemeProgress).is_err());
    })
    .await;
}
