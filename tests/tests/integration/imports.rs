//! `sangam import`: the LGD sample downloads load with all their quirks; bad rows are rejected
//! by line, column and reason with nothing written; a re-import changes nothing; a newer file
//! updates in place; the rollups equal a recount after every import.

use api::{
    ingest::{self, Kind, Options, Report, Silent, Source},
    principal::{Jurisdiction, Principal, Role},
    service::today_ist,
};
use entities::{
    block, district, district_rollup, district_scheme_rollup, enums::*, gram_panchayat, scheme,
    scheme_village, state, village,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use tests::{Backend, TestDb, each_backend};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/lgd/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn source(name: &str) -> Source {
    Source {
        name: name.to_owned(),
        bytes: fixture(name),
    }
}

pub async fn import_as(
    db: &DatabaseConnection,
    who: &Principal,
    kind: Kind,
    sources: Vec<Source>,
    options: Options,
) -> Report {
    ingest::run(
        db,
        kind,
        sources,
        &options,
        who,
        today_ist(),
        None,
        &Silent,
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("import failed: {e:#}"))
}

pub async fn import(db: &DatabaseConnection, kind: Kind, sources: Vec<Source>) -> Report {
    import_as(
        db,
        &Principal::all_access(),
        kind,
        sources,
        Options::default(),
    )
    .await
}

/// The village, GP and block files of the samples, after states and districts: all of it.
pub const LGD_FILES: [&str; 5] = [
    "villages.csv",
    "states.csv",
    "gram-panchayats.csv",
    "districts-jharkhand.csv",
    "blocks-jharkhand.csv",
];

pub async fn load_samples(db: &DatabaseConnection) -> Report {
    import(db, Kind::Lgd, LGD_FILES.iter().map(|f| source(f)).collect()).await
}

/// The rollups equal a full recount (made in a transaction that is rolled back).
pub async fn assert_rollups_exact(db: &DatabaseConnection) {
    async fn read(txn: &sea_orm::DatabaseTransaction) -> Vec<[i64; 7]> {
        district_rollup::Entity::find()
            .order_by_asc(district_rollup::Column::DistrictId)
            .all(txn)
            .await
            .expect("rollups")
            .into_iter()
            .map(|r| {
                [
                    r.district_id,
                    r.villages,
                    r.households,
                    r.tap_connections,
                    r.villages_reported,
                    r.villages_certified,
                    r.tasks_open,
                ]
            })
            .collect()
    }
    async fn schemes(txn: &sea_orm::DatabaseTransaction) -> Vec<district_scheme_rollup::Model> {
        district_scheme_rollup::Entity::find()
            .order_by_asc(district_scheme_rollup::Column::DistrictId)
            .order_by_asc(district_scheme_rollup::Column::Status)
            .all(txn)
            .await
            .expect("scheme rollups")
    }
    let txn = db.begin().await.expect("begin");
    let (kept, kept_schemes) = (read(&txn).await, schemes(&txn).await);
    migration::rollups::rebuild(&txn).await.expect("rebuild");
    let (fresh, fresh_schemes) = (read(&txn).await, schemes(&txn).await);
    txn.rollback().await.expect("rollback");
    assert_eq!(kept, fresh, "rollups differ from a recount");
    assert_eq!(
        kept_schemes, fresh_schemes,
        "scheme rollups differ from a recount"
    );
}

fn counts(r: &Report, kind: &str) -> [u64; 4] {
    let f = r
        .files
        .iter()
        .find(|f| f.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} file in {r:?}"));
    [f.inserted, f.updated, f.unchanged, f.rejected]
}

fn edit(name: &str, f: impl Fn(String) -> String) -> Source {
    let text = String::from_utf8(fixture(name)).expect("utf-8");
    Source {
        name: name.to_owned(),
        bytes: f(text).into_bytes(),
    }
}

#[tokio::test]
async fn the_lgd_samples_load_with_every_quirk_and_reload_unchanged() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        let r = load_samples(db).await;
        assert!(r.written, "{r:?}");
        assert_eq!(r.rejected(), 0, "{}", r.summary(20));
        // Taken top level first, whatever the order given.
        let kinds: Vec<&str> = r.files.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["state", "district", "block", "gram_panchayat", "village"]
        );
        assert_eq!(counts(&r, "state"), [36, 0, 0, 0]);
        assert_eq!(counts(&r, "district"), [24, 0, 0, 0]);
        assert_eq!(counts(&r, "block"), [264, 0, 0, 0]);
        assert_eq!(counts(&r, "gram_panchayat"), [12, 0, 0, 0]);
        assert_eq!(counts(&r, "village"), [60, 0, 0, 0]);

        // Two "State Name" columns; categories from "State or UT" and the code.
        let jh = state::Entity::find()
            .filter(state::Column::LgdCode.eq(20))
            .one(db)
            .await
            .expect("read")
            .expect("Jharkhand");
        assert_eq!(jh.name, "JHARKHAND");
        assert_eq!(jh.category, StateCategory::General);
        for (code, category) in [
            (11, StateCategory::NorthEast),
            (7, StateCategory::UtWithLegislature),
            (37, StateCategory::Ut),
            (5, StateCategory::Himalayan),
        ] {
            let s = state::Entity::find()
                .filter(state::Column::LgdCode.eq(code))
                .one(db)
                .await
                .expect("read")
                .expect("state");
            assert_eq!(s.category, category, "state {code}");
        }
        // A quoted header and quoted names.
        let es = district::Entity::find()
            .filter(district::Column::LgdCode.eq(327))
            .one(db)
            .await
            .expect("read")
            .expect("East Singhbhum");
        assert_eq!((es.name.as_str(), es.state_id), ("EAST SINGHBUM", jh.id));
        // `Block Name ,Block Name`: English with a trailing space, then a blank local name.
        let bermo = block::Entity::find()
            .filter(block::Column::LgdCode.eq(3064))
            .one(db)
            .await
            .expect("read")
            .expect("Bermo");
        assert_eq!((bermo.name.as_str(), bermo.name_hi.as_str()), ("BERMO", ""));
        let gp = gram_panchayat::Entity::find()
            .filter(gram_panchayat::Column::LgdCode.eq(900001))
            .one(db)
            .await
            .expect("read")
            .expect("Patewa 1");
        assert_eq!(gp.block_id, bermo.id);
        // Byte-order mark, CRLF, `Village Name (In Englsih)`, Devanagari.
        let v = village::Entity::find()
            .filter(village::Column::LgdCode.eq(7000001))
            .one(db)
            .await
            .expect("read")
            .expect("Patewa A");
        assert_eq!(v.name, "PATEWA A");
        assert_eq!(v.name_hi, "पटेवा क");
        let bokaro = district::Entity::find()
            .filter(district::Column::LgdCode.eq(322))
            .one(db)
            .await
            .expect("read")
            .expect("Bokaro");
        assert_eq!(bermo.district_id, bokaro.id);
        assert_eq!(
            (v.gram_panchayat_id, v.block_id, v.district_id, v.state_id),
            (gp.id, bermo.id, bokaro.id, jh.id)
        );
        assert_rollups_exact(db).await;

        let again = load_samples(db).await;
        for f in &again.files {
            assert_eq!(
                [f.inserted, f.updated, f.rejected],
                [0, 0, 0],
                "a re-import changes nothing: {f:?}"
            );
            assert_eq!(f.unchanged, f.rows, "{f:?}");
        }
        let same = village::Entity::find_by_id(v.id)
            .one(db)
            .await
            .expect("read")
            .expect("still there");
        assert_eq!(same, v, "an unchanged village is not touched");
        assert_rollups_exact(db).await;
    })
    .await;
}

#[tokio::test]
async fn each_bad_village_row_is_named_by_line_and_nothing_is_written() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        import(
            db,
            Kind::Lgd,
            vec![
                source("states.csv"),
                source("districts-jharkhand.csv"),
                source("blocks-jharkhand.csv"),
                source("gram-panchayats.csv"),
            ],
        )
        .await;
        let r = import(db, Kind::Lgd, vec![source("villages-bad.csv")]).await;
        assert!(!r.written);
        let f = &r.files[0];
        assert_eq!(f.rejected, 4, "{}", r.summary(20));
        let got: Vec<(u64, &str, &str)> = f
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str(), x.reason.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    5,
                    "Village Code",
                    "code 7000001 is given twice in the file (first on line 2)"
                ),
                (6, "Block Code", "unknown block code 999999"),
                (7, "Village Code", "\"12ab\" is not a numeric code"),
                (8, "Village Name (In Englsih)", "the name is empty"),
            ]
        );
        assert_eq!(village::Entity::find().count(db).await.expect("count"), 0);
        assert_rollups_exact(db).await;

        // The good rows alone, when asked.
        let partial = Options {
            partial: true,
            ..Options::default()
        };
        let r = import_as(
            db,
            &Principal::all_access(),
            Kind::Lgd,
            vec![source("villages-bad.csv")],
            partial,
        )
        .await;
        assert!(r.written);
        assert_eq!(counts(&r, "village"), [3, 0, 0, 4]);
        assert_eq!(village::Entity::find().count(db).await.expect("count"), 3);
        assert_rollups_exact(db).await;
    })
    .await;
}

#[tokio::test]
async fn bad_coverage_rows_are_rejected_and_good_coverage_keeps_rollups_exact() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        load_samples(db).await;
        let r = import(db, Kind::Coverage, vec![source("coverage-bad.csv")]).await;
        assert!(!r.written);
        let f = &r.files[0];
        assert_eq!(f.rejected, 3, "{}", r.summary(20));
        let lines: Vec<(u64, &str)> = f
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str()))
            .collect();
        assert!(lines.contains(&(5, "Households with FHTC")), "{lines:?}");
        assert!(lines.contains(&(6, "Total Households")), "{lines:?}");
        assert!(lines.contains(&(7, "Village LGD Code")), "{lines:?}");
        let reasons: Vec<&str> = f.rejections.iter().map(|x| x.reason.as_str()).collect();
        assert!(
            reasons.contains(&"150 tap connections is more than the 100 households"),
            "{reasons:?}"
        );
        assert!(
            reasons.contains(&"unknown village code 123456789"),
            "{reasons:?}"
        );
        let hh: i64 = village::Entity::find()
            .all(db)
            .await
            .expect("read")
            .iter()
            .map(|v| i64::from(v.households))
            .sum();
        assert_eq!(hh, 0, "nothing written");

        let r = import(db, Kind::Coverage, vec![source("coverage.csv")]).await;
        assert!(r.written, "{}", r.summary(20));
        assert_eq!(counts(&r, "coverage"), [0, 60, 0, 0]);
        let v = village::Entity::find()
            .filter(village::Column::LgdCode.eq(7000002))
            .one(db)
            .await
            .expect("read")
            .expect("Sonpur B");
        assert_eq!((v.households, v.tap_connections, v.version), (1772, 596, 2));
        assert_rollups_exact(db).await;
        let again = import(db, Kind::Coverage, vec![source("coverage.csv")]).await;
        assert_eq!(counts(&again, "coverage"), [0, 0, 60, 0]);
        assert_rollups_exact(db).await;
    })
    .await;
}

#[tokio::test]
async fn a_newer_file_renames_adds_and_changes_coverage_keeping_ids() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        load_samples(db).await;
        import(db, Kind::Coverage, vec![source("coverage.csv")]).await;
        let before = village::Entity::find()
            .filter(village::Column::LgdCode.eq(7000001))
            .one(db)
            .await
            .expect("read")
            .expect("Patewa A");
        let newer = edit("villages.csv", |text| {
            let renamed = text.replace(",7000001,PATEWA A,", ",7000001,PATEWA KALAN,");
            format!(
                "{renamed}20,JHARKHAND,322,BOKARO,3064,BERMO,900001,PATEWA 1,7000099,NAYA TOLA,नया टोला\r\n"
            )
        });
        let r = import(db, Kind::Lgd, vec![newer]).await;
        assert_eq!(counts(&r, "village"), [1, 1, 59, 0], "{}", r.summary(20));
        let after = village::Entity::find_by_id(before.id)
            .one(db)
            .await
            .expect("read")
            .expect("same id");
        assert_eq!(after.name, "PATEWA KALAN");
        assert_eq!(after.version, before.version + 1);
        assert_eq!(after.households, before.households, "coverage kept");
        assert_rollups_exact(db).await;

        let changed = edit("coverage.csv", |text| {
            text.replace("7000001,PATEWA A,84,79,No", "7000001,PATEWA A,90,90,Yes")
        });
        let r = import(db, Kind::Coverage, vec![changed]).await;
        assert_eq!(counts(&r, "coverage"), [0, 1, 59, 0], "{}", r.summary(20));
        let after = village::Entity::find_by_id(before.id)
            .one(db)
            .await
            .expect("read")
            .expect("same id");
        assert_eq!(
            (after.households, after.tap_connections, after.hgj_status),
            (90, 90, HgjStatus::Reported)
        );
        assert_rollups_exact(db).await;
    })
    .await;
}

#[tokio::test]
async fn a_dry_run_reports_without_writing_and_odd_values_are_rejected() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        let dry = Options {
            dry_run: true,
            ..Options::default()
        };
        let r = import_as(
            db,
            &Principal::all_access(),
            Kind::Lgd,
            LGD_FILES.iter().map(|f| source(f)).collect(),
            dry,
        )
        .await;
        assert!(!r.written && r.dry_run);
        assert_eq!(counts(&r, "village"), [60, 0, 0, 0]);
        assert_eq!(state::Entity::find().count(db).await.expect("count"), 0);

        load_samples(db).await;
        let future = (today_ist() + chrono::Days::new(3)).format("%d-%m-%Y");
        let odd = Source {
            name: "odd.csv".into(),
            bytes: format!(
                "Village LGD Code,Total Households,Households with FHTC,Har Ghar Jal Reported\n\
                 7000001,abc,1,No\n\
                 7000002,10,10,{future}\n"
            )
            .into_bytes(),
        };
        let r = import(db, Kind::Coverage, vec![odd]).await;
        let got: Vec<(u64, &str)> = r.files[0]
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str()))
            .collect();
        assert_eq!(
            got,
            [(2, "Total Households"), (3, "Har Ghar Jal Reported")],
            "{}",
            r.summary(20)
        );
        assert!(r.files[0].rejections[0].reason.contains("not a number"));
        assert!(r.files[0].rejections[1].reason.contains("in the future"));
    })
    .await;
}

#[tokio::test]
async fn rows_outside_a_coordinators_districts_are_rejected_by_line() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        load_samples(db).await;
        let mut who = Principal::all_access();
        who.role = Role::DistrictCoordinator;
        who.jurisdiction = Jurisdiction::Districts(vec![323]);
        let r = import_as(
            db,
            &who,
            Kind::Coverage,
            vec![source("coverage.csv")],
            Options::default(),
        )
        .await;
        assert_eq!(r.files[0].rejected, 60);
        assert_eq!(r.files[0].rejections[0].reason, "outside your jurisdiction");
        assert!(!r.written);
        who.jurisdiction = Jurisdiction::Districts(vec![322]);
        let r = import_as(
            db,
            &who,
            Kind::Coverage,
            vec![source("coverage.csv")],
            Options::default(),
        )
        .await;
        assert!(r.written);
        assert_eq!(counts(&r, "coverage"), [0, 60, 0, 0]);
    })
    .await;
}

#[tokio::test]
async fn schemes_load_by_id_with_their_villages_and_bad_rows_are_named() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        load_samples(db).await;
        let good = "Scheme ID,Scheme Name,Scheme Type,Status,Estimated Cost (Rs),Expenditure (Rs),Villages\n\
                    JH-0001,PATEWA SVS,Single Village,Ongoing,1250000,300000,7000001\n\
                    JH-0002,BERMO MVS,MVS,Completed,\"9,500,000\",9100000,7000002;7000003\n";
        let bad = format!(
            "{good}JH-0002,AGAIN,SVS,Ongoing,1,1,7000004\n\
             JH-0004,X,SVS,Ongoing,abc,1,7000004\n\
             JH-0005,Y,SVS,Ongoing,1,1,999\n"
        );
        let file = |text: &str| Source {
            name: "schemes.csv".into(),
            bytes: text.as_bytes().to_vec(),
        };
        let r = import(db, Kind::Schemes, vec![file(&bad)]).await;
        let got: Vec<(u64, &str)> = r.files[0]
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (4, "Scheme ID"),
                (5, "Estimated Cost (Rs)"),
                (6, "Villages")
            ],
            "{}",
            r.summary(10)
        );
        assert!(!r.written);
        assert_eq!(scheme::Entity::find().count(db).await.expect("count"), 0);

        let r = import(db, Kind::Schemes, vec![file(good)]).await;
        assert_eq!(counts(&r, "scheme"), [2, 0, 0, 0], "{}", r.summary(10));
        let mvs = scheme::Entity::find()
            .filter(scheme::Column::Code.eq("JH-0002"))
            .one(db)
            .await
            .expect("read")
            .expect("JH-0002");
        assert_eq!(
            (mvs.scheme_type, mvs.status, mvs.estimated_cost_paise),
            (SchemeType::Mvs, SchemeStatus::Completed, 950_000_000)
        );
        let served = scheme_village::Entity::find()
            .filter(scheme_village::Column::SchemeId.eq(mvs.id))
            .count(db)
            .await
            .expect("count");
        assert_eq!(served, 2);
        assert_rollups_exact(db).await;
        let again = import(db, Kind::Schemes, vec![file(good)]).await;
        assert_eq!(counts(&again, "scheme"), [0, 0, 2, 0]);
        let moved = good.replace("7000002;7000003", "7000002").replace(",Completed,", ",Commissioned,");
        let r = import(db, Kind::Schemes, vec![file(&moved)]).await;
        assert_eq!(counts(&r, "scheme"), [0, 1, 1, 0]);
        let served = scheme_village::Entity::find()
            .filter(scheme_village::Column::SchemeId.eq(mvs.id))
            .count(db)
            .await
            .expect("count");
        assert_eq!(served, 1);
        assert_rollups_exact(db).await;
    })
    .await;
}

/// The command: exit status 0 when every row was accepted, 1 when rows were rejected, 2 for
/// usage errors; `--report` writes the JSON report.
#[test]
fn the_import_command_exits_by_outcome_and_writes_its_report() {
    let dir = std::env::temp_dir().join(format!("sangam-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
    let fixtures = format!("{}/fixtures/lgd", env!("CARGO_MANIFEST_DIR"));
    let path = |f: &str| format!("{fixtures}/{f}");
    let report = dir.join("report.json");
    let report_arg = report.display().to_string();
    let code = |args: &[&str]| {
        let out = tests::process::run(args, &[("DATABASE_URL", db.as_str())]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let mut args = vec!["import", "lgd"];
    let files: Vec<String> = LGD_FILES
        .iter()
        .filter(|f| **f != "villages.csv")
        .map(|f| path(f))
        .collect();
    args.extend(files.iter().map(String::as_str));
    let (status, out) = code(&args);
    assert_eq!(status, Some(0), "{out}");
    let bad = path("villages-bad.csv");
    let (status, out) = code(&["import", "lgd", &bad, "--report", &report_arg]);
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("line 5, Village Code"), "{out}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("JSON");
    assert_eq!(json["files"][0]["rejected"], 4);
    assert_eq!(json["files"][0]["rejections"][1]["line"], 6);
    assert_eq!(json["written"], false);
    let (status, _) = code(&["import", "lgd", &path("README.md")]);
    assert_eq!(status, Some(2), "not a CSV or .xlsx");
    let (status, _) = code(&["import", "coverage", &path("villages.csv")]);
    assert_eq!(status, Some(2), "no household columns");
    let wq = dir.join("wq.csv");
    let wq_arg = wq.display().to_string();
    std::fs::write(
        &wq,
        "Sample ID,Village LGD Code,Sampled On,Method,Source Name,Source Type\n\
         S-1,7000001,2025-01-02,FTK,Handpump,Handpump\n",
    )
    .expect("write");
    let (status, _) = code(&["import", "water-quality", &wq_arg]);
    assert_eq!(status, Some(2), "no parameter columns");
    std::fs::write(
        &wq,
        "Sample ID,Village LGD Code,Sampled On,Method,Source Name,Source Type,pH\n\
         S-1,9999999,2025-01-02,FTK,Handpump,Handpump,7\n",
    )
    .expect("write");
    let (status, out) = code(&["import", "water-quality", &wq_arg]);
    assert_eq!(status, Some(1), "an unknown village: {out}");
    assert!(
        out.contains("line 2, Village LGD Code: unknown village code 9999999"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Demo villages of Chhattisgarh (LGD 22), in id order: (id, LGD code).
async fn cg_villages(db: &DatabaseConnection, n: u64) -> Vec<(i64, i32)> {
    let cg = state::Entity::find()
        .filter(state::Column::LgdCode.eq(22))
        .one(db)
        .await
        .expect("state")
        .expect("Chhattisgarh");
    village::Entity::find()
        .filter(village::Column::StateId.eq(cg.id))
        .order_by_asc(village::Column::Id)
        .paginate(db, n)
        .fetch_page(0)
        .await
        .expect("villages")
        .into_iter()
        .map(|v| (v.id, v.lgd_code))
        .collect()
}

fn wq_file(name: &str, text: String) -> Source {
    Source {
        name: name.to_owned(),
        bytes: text.into_bytes(),
    }
}

async fn wq_counts(db: &DatabaseConnection) -> (u64, u64, u64, u64) {
    use entities::{event_log, task, water_quality_result, water_quality_test};
    (
        water_quality_test::Entity::find()
            .count(db)
            .await
            .expect("tests"),
        water_quality_result::Entity::find()
            .count(db)
            .await
            .expect("results"),
        task::Entity::find().count(db).await.expect("tasks"),
        event_log::Entity::find().count(db).await.expect("events"),
    )
}

#[tokio::test]
async fn water_quality_results_are_judged_and_open_tasks_as_the_api_does_and_reload_unchanged() {
    use api::service::{
        Service,
        quality::{NewTest, Reading},
    };
    use entities::{task, water_quality_result, water_quality_test};
    each_backend(|backend: Backend| async move {
        let t = tests::TestDb::demo(backend).await;
        let db = &t.db;
        let vs = cg_villages(db, 3).await;
        let today = today_ist();
        let day = today - chrono::Days::new(3);
        // A clean field-kit sample (bacteria "Absent", arsenic below detection) and one with
        // fluoride above 1 mg/L, in the headers and spellings of a WQMIS download.
        let text = format!(
            "\u{feff}Sample ID,Village LGD Code,Sample Collection Date,Test Type,Source Name,\
             Source Type,pH,Fluoride (mg/L),E. coli (CFU/100 mL),Arsenic (mg/L),Lab Name\r\n\
             WQ-0001,{},{},FTK,Handpump near the school,Hand Pump,7.2,0.5,Absent,BDL,\r\n\
             WQ-0002,{},{},Laboratory,Borewell by the tank,Borewell,7.0,1.8,0,0.004,\
             District Water Testing Laboratory\r\n",
            vs[0].1,
            day.format("%d/%m/%Y"),
            vs[1].1,
            day.format("%d-%m-%Y"),
        );
        let before = wq_counts(db).await;
        let r = import(
            db,
            Kind::WaterQuality,
            vec![wq_file("wq.csv", text.clone())],
        )
        .await;
        assert!(r.written, "{r:?}");
        assert_eq!(counts(&r, "water_quality"), [2, 0, 0, 0], "{r:?}");
        let after = wq_counts(db).await;
        assert_eq!(after.0, before.0 + 2, "two tests");
        assert_eq!(after.1, before.1 + 8, "eight results");
        assert_eq!(after.2, before.2 + 2, "a remediation and a retest task");
        assert!(after.3 > before.3, "events appended");
        let imported = water_quality_test::Entity::find()
            .filter(water_quality_test::Column::SampleId.eq("WQ-0002"))
            .one(db)
            .await
            .expect("read")
            .expect("the sample is held by its id");
        assert!(imported.contaminated);
        assert_eq!(imported.village_id, vs[1].0);
        assert_eq!(imported.method, WqMethod::Lab);
        let clean = water_quality_test::Entity::find()
            .filter(water_quality_test::Column::SampleId.eq("WQ-0001"))
            .one(db)
            .await
            .expect("read")
            .expect("held");
        assert!(!clean.contaminated);
        let exceeding = water_quality_result::Entity::find()
            .filter(water_quality_result::Column::TestId.eq(imported.id))
            .filter(water_quality_result::Column::Exceeds.eq(true))
            .all(db)
            .await
            .expect("results");
        assert_eq!(exceeding.len(), 1);
        assert_eq!(exceeding[0].parameter, WqParameter::Fluoride);
        // The same sample recorded through the service opens the same tasks.
        let svc = Service::on(db.clone(), Principal::all_access(), today);
        let recorded = svc
            .record_water_quality_test(
                NewTest {
                    village: vs[2].0,
                    source_name: "Borewell by the tank".into(),
                    source_type: WaterSourceType::Borewell,
                    sampled_on: day,
                    method: WqMethod::Lab,
                    lab_name: Some("District Water Testing Laboratory".into()),
                    tested_by: None,
                    results: [
                        (WqParameter::Ph, 7.0),
                        (WqParameter::Fluoride, 1.8),
                        (WqParameter::EColi, 0.0),
                        (WqParameter::Arsenic, 0.004),
                    ]
                    .into_iter()
                    .map(|(parameter, value)| Reading { parameter, value })
                    .collect(),
                    sample_id: None,
                },
                None,
            )
            .await
            .expect("record through the service");
        let opened = task::Entity::find()
            .filter(task::Column::VillageId.eq(vs[1].0))
            .order_by_asc(task::Column::Id)
            .all(db)
            .await
            .expect("tasks");
        let opened: Vec<_> = opened
            .into_iter()
            .filter(|t| t.description.contains(&format!("test {}", imported.id)))
            .collect();
        let shape = |t: &task::Model| {
            (
                t.kind,
                t.priority,
                t.status,
                t.assignee_organisation_id,
                t.due_on,
                t.title
                    .replace(&t.title[t.title.find(" at ").unwrap_or(0)..], ""),
            )
        };
        assert_eq!(
            opened.iter().map(shape).collect::<Vec<_>>(),
            recorded.tasks.iter().map(shape).collect::<Vec<_>>(),
            "the import opens what recordWaterQualityTest opens"
        );
        assert_rollups_exact(db).await;
        // The same file again: nothing new, and the report says so.
        let before = wq_counts(db).await;
        let again = import(db, Kind::WaterQuality, vec![wq_file("wq.csv", text)]).await;
        assert_eq!(counts(&again, "water_quality"), [0, 0, 2, 0], "{again:?}");
        let now = wq_counts(db).await;
        assert_eq!((now.0, now.1, now.2), (before.0, before.1, before.2));
        assert_rollups_exact(db).await;
    })
    .await;
}

#[tokio::test]
async fn bad_water_quality_rows_are_named_by_line_and_column_and_nothing_is_written() {
    each_backend(|backend: Backend| async move {
        let t = tests::TestDb::demo(backend).await;
        let db = &t.db;
        let vs = cg_villages(db, 2).await;
        let today = today_ist();
        let tomorrow = today + chrono::Days::new(1);
        let text = format!(
            "Sample ID,Village LGD Code,Sampled On,Method,Source Name,Source Type,pH,Nitrate\n\
             A-1,{v},{today},FTK,Handpump,Handpump,7.1,10\n\
             A-2,99999999,{today},FTK,Handpump,Handpump,7.1,10\n\
             A-3,{v},{tomorrow},FTK,Handpump,Handpump,7.1,10\n\
             A-4,{v},{today},FTK,Handpump,Handpump,seven,10\n\
             A-1,{v},{today},FTK,Handpump,Handpump,7.1,10\n\
             A-6,{v},{today},by eye,Handpump,Handpump,7.1,10\n\
             A-7,{v},{today},LAB,,Handpump,7.1,10\n\
             A-8,{v},{today},LAB,Handpump,Handpump,,\n\
             A-9,{v},{today},LAB,Handpump,Handpump,-1,10\n",
            v = vs[0].1,
        );
        let before = wq_counts(db).await;
        let r = import(db, Kind::WaterQuality, vec![wq_file("bad.csv", text)]).await;
        assert!(!r.written);
        let f = &r.files[0];
        let got: Vec<(u64, &str)> = f
            .rejections
            .iter()
            .map(|x| (x.line, x.column.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (3, "Village LGD Code"),
                (4, "Sampled On"),
                (5, "pH"),
                (6, "Sample ID"),
                (7, "Method"),
                (8, "Source Name"),
                (9, "pH"),
                (10, "pH"),
            ],
            "{:#?}",
            f.rejections
        );
        assert!(f.rejections[0].reason.contains("unknown village"));
        assert!(f.rejections[1].reason.contains("future"));
        assert!(f.rejections[2].reason.contains("not a number"));
        assert!(f.rejections[3].reason.contains("twice"));
        assert!(f.rejections[3].reason.contains("line 2"));
        assert!(f.rejections[6].reason.contains("no parameter"));
        assert!(f.rejections[7].reason.contains("negative"));
        assert_eq!(f.rejected, 8);
        assert_eq!(wq_counts(db).await, before, "nothing is written");
        // A dry run of the good row reports what it would do and writes nothing.
        let good = format!(
            "Sample ID,Village LGD Code,Sampled On,Method,Source Name,Source Type,pH\n\
             B-1,{},{today},FTK,Handpump,Handpump,7.1\n",
            vs[1].1
        );
        let dry = import_as(
            db,
            &Principal::all_access(),
            Kind::WaterQuality,
            vec![wq_file("good.csv", good.clone())],
            Options {
                dry_run: true,
                ..Default::default()
            },
        )
        .await;
        assert!(!dry.written);
        assert_eq!(counts(&dry, "water_quality"), [1, 0, 0, 0]);
        assert_eq!(wq_counts(db).await, before, "a dry run writes nothing");
        // Written, then the same sample id with another value is refused, not changed.
        import(db, Kind::WaterQuality, vec![wq_file("good.csv", good)]).await;
        let changed = format!(
            "Sample ID,Village LGD Code,Sampled On,Method,Source Name,Source Type,pH\n\
             B-1,{},{today},FTK,Handpump,Handpump,6.1\n",
            vs[1].1
        );
        let r = import(
            db,
            Kind::WaterQuality,
            vec![wq_file("changed.csv", changed)],
        )
        .await;
        assert_eq!(r.files[0].rejected, 1);
        assert!(r.files[0].rejections[0].reason.contains("already recorded"));
        assert!(!r.written);
    })
    .await;
}

#[tokio::test]
async fn water_quality_columns_map_and_rows_outside_a_coordinators_districts_are_rejected() {
    each_backend(|backend: Backend| async move {
        let t = tests::TestDb::demo(backend).await;
        let db = &t.db;
        let vs = cg_villages(db, 1).await;
        let v = village::Entity::find_by_id(vs[0].0)
            .one(db)
            .await
            .expect("read")
            .expect("village");
        let d = district::Entity::find_by_id(v.district_id)
            .one(db)
            .await
            .expect("read")
            .expect("district");
        let text = format!(
            "Lab Ref,Village,Collected,Kit,Where,Kind,Iron\nL-1,{},{},FTK,Handpump,Handpump,0.2\n",
            v.lgd_code,
            today_ist()
        );
        let mapping = ingest::table::Mapping::parse(
            "[columns]\n\"Lab Ref\" = \"sample_id\"\n\"Village\" = \"village_code\"\n\
             \"Collected\" = \"sampled_on\"\n\"Kit\" = \"method\"\n\"Where\" = \"source_name\"\n\
             \"Kind\" = \"source_type\"\n",
        )
        .expect("mapping");
        let options = || Options {
            mapping: mapping.clone(),
            ..Default::default()
        };
        let mut who = Principal::all_access();
        who.role = Role::DistrictCoordinator;
        who.jurisdiction = Jurisdiction::Districts(vec![d.lgd_code + 100_000]);
        let r = import_as(
            db,
            &who,
            Kind::WaterQuality,
            vec![wq_file("mapped.csv", text.clone())],
            options(),
        )
        .await;
        assert_eq!(r.files[0].rejections[0].reason, "outside your jurisdiction");
        assert_eq!(r.files[0].rejections[0].line, 2);
        who.jurisdiction = Jurisdiction::Districts(vec![d.lgd_code]);
        let r = import_as(
            db,
            &who,
            Kind::WaterQuality,
            vec![wq_file("mapped.csv", text)],
            options(),
        )
        .await;
        assert!(r.written, "{r:?}");
        assert_eq!(counts(&r, "water_quality"), [1, 0, 0, 0]);
    })
    .await;
}

/// LGD moves a block to another district: its villages keep their ids and follow, and so do the
/// tasks on them and a scheme whose villages all left its district; the rollups of both
/// districts stay equal to a recount.
#[tokio::test]
async fn tasks_and_schemes_follow_villages_that_lgd_moved() {
    use entities::{organisation, task};
    use sea_orm::{ActiveModelTrait, Set};
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        let db = &t.db;
        load_samples(db).await;
        let schemes = "Scheme ID,Scheme Name,Scheme Type,Status,Estimated Cost (Rs),Expenditure (Rs),Villages\n\
                       JH-0001,PATEWA SVS,Single Village,Ongoing,1250000,300000,7000001\n";
        import(
            db,
            Kind::Schemes,
            vec![Source {
                name: "schemes.csv".into(),
                bytes: schemes.as_bytes().to_vec(),
            }],
        )
        .await;
        let v = village::Entity::find()
            .filter(village::Column::LgdCode.eq(7000001))
            .one(db)
            .await
            .expect("read")
            .expect("Patewa A");
        let phed = organisation::ActiveModel {
            code: Set("JH-PHED".into()),
            name: Set("Drinking Water and Sanitation Department, Jharkhand".into()),
            kind: Set(OrganisationKind::Department),
            department: Set(Some(Department::Phed)),
            state_id: Set(Some(v.state_id)),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("organisation");
        let now = chrono::Utc::now();
        let task = task::ActiveModel {
            kind: Set(TaskKind::Iec),
            title: Set("Wall painting".into()),
            description: Set(String::new()),
            village_id: Set(Some(v.id)),
            scheme_id: Set(None),
            district_id: Set(v.district_id),
            state_id: Set(v.state_id),
            assignee_organisation_id: Set(phed.id),
            raised_by_organisation_id: Set(None),
            status: Set(TaskStatus::Open),
            priority: Set(TaskPriority::Medium),
            due_on: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("task");
        migration::rollups::rebuild(db).await.expect("rollups");
        let chatra = district::Entity::find()
            .filter(district::Column::LgdCode.eq(323))
            .one(db)
            .await
            .expect("read")
            .expect("Chatra");
        assert_ne!(v.district_id, chatra.id);
        let moved = edit("blocks-jharkhand.csv", |text| {
            text.replace("20,JHARKHAND,322,BOKARO,3064,", "20,JHARKHAND,323,CHATRA,3064,")
        });
        let r = import(db, Kind::Lgd, vec![moved]).await;
        assert!(r.written, "{}", r.summary(10));
        let after = village::Entity::find_by_id(v.id)
            .one(db)
            .await
            .expect("read")
            .expect("the same id");
        assert_eq!(after.district_id, chatra.id, "the village follows its block");
        let task_after = task::Entity::find_by_id(task.id)
            .one(db)
            .await
            .expect("read")
            .expect("task");
        assert_eq!(task_after.district_id, chatra.id, "the task follows its village");
        assert_eq!(task_after.version, 2);
        let scheme_after = scheme::Entity::find()
            .filter(scheme::Column::Code.eq("JH-0001"))
            .one(db)
            .await
            .expect("read")
            .expect("scheme");
        assert_eq!(scheme_after.district_id, chatra.id, "the scheme follows");
        assert_rollups_exact(db).await;
        let open_in_chatra = district_rollup::Entity::find_by_id(chatra.id)
            .one(db)
            .await
            .expect("read")
            .expect("rollup")
            .tasks_open;
        assert_eq!(open_in_chatra, 1);
    })
    .await;
}
