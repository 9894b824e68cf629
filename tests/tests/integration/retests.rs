//! Workflow rules of water quality: a clean retest closes the retest task a contaminated sample
//! opened (linked to it), a contaminated retest keeps the remediation open and says so, and a
//! village whose latest sample is contaminated cannot be reported or certified Har Ghar Jal.

use api::principal::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, each_backend};

const RECORD: &str =
    "mutation($in: RecordWaterQualityTestInput!) { recordWaterQualityTest(input: $in) {
    retest test { id contaminated }
    tasksOpened { id kind status openedByTest { id } closedByTest { id } }
    tasksClosed { id kind status version openedByTest { id } closedByTest { id }
        history { kind fromStatus toStatus note } }
    tasksKeptOpen { id kind status history { kind note } } } }";

/// Chhattisgarh villages with no open water-quality task, not yet saturated.
async fn untouched_villages(app: &TestApp) -> Vec<Value> {
    let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
    let data = app
        .data(
            "query($s: ID!) { villages(first: 60, filter: { within: $s, hgjStatus: [NOT_SATURATED] }) { nodes {
                id version households tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { kind } } } }",
            json!({ "s": cg }),
        )
        .await;
    let picked: Vec<Value> = data["villages"]["nodes"]
        .as_array()
        .expect("villages")
        .iter()
        .filter(|v| v["households"].as_i64().is_some_and(|h| h > 0))
        .filter(|v| {
            v["tasks"].as_array().expect("tasks").iter().all(|t| {
                t["kind"] != "WATER_QUALITY_TEST" && t["kind"] != "WATER_QUALITY_REMEDIATION"
            })
        })
        .cloned()
        .collect();
    assert!(
        picked.len() >= 3,
        "enough villages without water-quality work: {data:#}"
    );
    picked
}

fn sample(village: &Value, parameter: &str, value: f64) -> Value {
    json!({ "in": { "village": village["id"], "sourceName": "Handpump near the school", "sourceType": "HANDPUMP",
                    "sampledOn": api::service::today_ist().to_string(), "method": "LAB",
                    "results": [{ "parameter": parameter, "value": value }] } })
}

async fn health_token(app: &TestApp) -> String {
    let data = app
        .data(
            "{ organisations(filter: { department: HEALTH }, first: 50) { nodes { code state { lgdCode } } } }",
            json!({}),
        )
        .await;
    let code = data["organisations"]["nodes"]
        .as_array()
        .expect("orgs")
        .iter()
        .find(|o| o["state"]["lgdCode"] == 22)
        .expect("Health in Chhattisgarh")["code"]
        .as_str()
        .expect("code")
        .to_owned();
    app.token(ClientSpec::new(Role::Department).org(&code).states(&[22]))
        .await
}

async fn events_of_kind(app: &TestApp, kind: &str) -> i64 {
    let row = app
        .t
        .db
        .query_one_raw(Statement::from_string(
            app.t.db.get_database_backend(),
            format!("SELECT count(*) AS n FROM event_log WHERE kind = '{kind}'"),
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get("", "n").expect("n")
}

async fn task_now(app: &TestApp, id: &Value) -> Value {
    app.data(
        "query($id: ID!) { node(id: $id) { ... on Task { status version history { kind note } } }
         auditLog(filter: { entity: \"task\", entityId: $id }, first: 20) { totalCount nodes { operation } } }",
        json!({ "id": id }),
    )
    .await
}

#[tokio::test]
async fn a_clean_retest_closes_the_retest_task_and_links_the_test() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = health_token(&app).await;
        let v = untouched_villages(&app).await[0].clone();
        let dirty = app
            .post_as(&health, RECORD, sample(&v, "E_COLI", 3.0))
            .await;
        assert!(dirty.get("errors").is_none(), "{dirty:#}");
        let dirty = &dirty["data"]["recordWaterQualityTest"];
        assert_eq!(dirty["retest"], "NOT_A_RETEST");
        let opened = dirty["tasksOpened"].as_array().expect("opened").clone();
        assert_eq!(opened.len(), 2);
        assert!(
            opened
                .iter()
                .all(|t| t["openedByTest"]["id"] == dirty["test"]["id"]
                    && t["closedByTest"].is_null())
        );
        let retest = opened
            .iter()
            .find(|t| t["kind"] == "WATER_QUALITY_TEST")
            .expect("retest task")
            .clone();
        let remediation = opened
            .iter()
            .find(|t| t["kind"] == "WATER_QUALITY_REMEDIATION")
            .expect("remediation")
            .clone();

        let moves = events_of_kind(&app, "task.transitioned").await;
        let clean = app
            .post_as(&health, RECORD, sample(&v, "NITRATE", 10.0))
            .await;
        assert!(clean.get("errors").is_none(), "{clean:#}");
        let clean = &clean["data"]["recordWaterQualityTest"];
        assert_eq!(clean["retest"], "CLEARED");
        assert_eq!(clean["tasksOpened"], json!([]));
        let closed = clean["tasksClosed"].as_array().expect("closed");
        assert_eq!(closed.len(), 1, "only the retest task: {clean:#}");
        let t = &closed[0];
        assert_eq!(t["id"], retest["id"]);
        assert_eq!(t["status"], "DONE");
        assert_eq!(t["version"], 2);
        assert_eq!(t["openedByTest"]["id"], dirty["test"]["id"]);
        assert_eq!(t["closedByTest"]["id"], clean["test"]["id"]);
        let last = t["history"]
            .as_array()
            .expect("history")
            .last()
            .expect("entry")
            .clone();
        assert_eq!(last["kind"], "STATUS_CHANGED");
        assert_eq!(last["fromStatus"], "OPEN");
        assert_eq!(last["toStatus"], "DONE");
        assert!(
            last["note"]
                .as_str()
                .expect("note")
                .contains("clean retest"),
            "{last:#}"
        );
        assert_eq!(
            events_of_kind(&app, "task.transitioned").await,
            moves + 1,
            "an event like any move"
        );
        let audited = task_now(&app, &retest["id"]).await;
        assert_eq!(
            audited["auditLog"]["totalCount"], 2,
            "created and moved: {audited:#}"
        );
        assert_eq!(
            task_now(&app, &remediation["id"]).await["node"]["status"],
            "OPEN",
            "the remediation is PHED's to close"
        );

        // Nothing left to close: the next clean sample is not a retest.
        let again = app
            .post_as(&health, RECORD, sample(&v, "NITRATE", 11.0))
            .await;
        assert_eq!(
            again["data"]["recordWaterQualityTest"]["retest"], "NOT_A_RETEST",
            "{again:#}"
        );
        assert_eq!(
            again["data"]["recordWaterQualityTest"]["tasksClosed"],
            json!([])
        );
    })
    .await;
}

#[tokio::test]
async fn a_contaminated_retest_keeps_the_remediation_open_and_says_so() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = health_token(&app).await;
        let v = untouched_villages(&app).await[1].clone();
        let first = app
            .post_as(&health, RECORD, sample(&v, "ARSENIC", 0.2))
            .await;
        let opened = first["data"]["recordWaterQualityTest"]["tasksOpened"]
            .as_array()
            .expect("opened")
            .clone();
        assert_eq!(opened.len(), 2, "{first:#}");
        let created = events_of_kind(&app, "task.created").await;

        let second = app
            .post_as(&health, RECORD, sample(&v, "ARSENIC", 0.1))
            .await;
        assert!(second.get("errors").is_none(), "{second:#}");
        let second = &second["data"]["recordWaterQualityTest"];
        assert_eq!(second["test"]["contaminated"], true);
        assert_eq!(second["retest"], "STILL_CONTAMINATED");
        assert_eq!(second["tasksOpened"], json!([]), "no second pair of tasks");
        assert_eq!(events_of_kind(&app, "task.created").await, created);
        let kept = second["tasksKeptOpen"].as_array().expect("kept");
        let mut kept_ids: Vec<&Value> = kept.iter().map(|t| &t["id"]).collect();
        let mut opened_ids: Vec<&Value> = opened.iter().map(|t| &t["id"]).collect();
        kept_ids.sort_by_key(|v| v.to_string());
        opened_ids.sort_by_key(|v| v.to_string());
        assert_eq!(kept_ids, opened_ids);
        for t in kept {
            assert_eq!(t["status"], "OPEN");
            let last = t["history"]
                .as_array()
                .expect("history")
                .last()
                .expect("entry")
                .clone();
            assert_eq!(last["kind"], "COMMENTED");
            let note = last["note"].as_str().expect("note");
            assert!(
                note.contains("Still contaminated") && note.contains("Arsenic"),
                "{note}"
            );
        }

        let clean = app
            .post_as(&health, RECORD, sample(&v, "ARSENIC", 0.001))
            .await;
        let clean = &clean["data"]["recordWaterQualityTest"];
        assert_eq!(clean["retest"], "CLEARED", "{clean:#}");
        assert_eq!(clean["tasksClosed"][0]["kind"], "WATER_QUALITY_TEST");
        assert_eq!(
            clean["tasksClosed"][0]["closedByTest"]["id"],
            clean["test"]["id"]
        );
    })
    .await;
}

#[tokio::test]
async fn har_ghar_jal_is_refused_while_the_latest_sample_is_contaminated() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = health_token(&app).await;
        let v = untouched_villages(&app).await[2].clone();
        let coverage = "mutation($v: ID!, $ver: Int!, $hh: Int!) { updateVillageCoverage(input: {
            village: $v, expectedVersion: $ver, households: $hh, tapConnections: $hh }) { village { version } } }";
        let full = app.data(coverage, json!({ "v": v["id"], "ver": v["version"], "hh": v["households"] })).await;
        let ver = full["updateVillageCoverage"]["village"]["version"].clone();
        let dirty = app.post_as(&health, RECORD, sample(&v, "FLUORIDE", 2.4)).await;
        assert!(dirty.get("errors").is_none(), "{dirty:#}");

        let report = "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v, expectedVersion: $ver }) { village { hgjStatus version } } }";
        let refused = app.error(report, json!({ "v": v["id"], "ver": ver })).await;
        assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT", "{refused:#}");
        assert_eq!(refused["extensions"]["argument"], "input.village");
        let message = refused["message"].as_str().expect("message");
        assert!(message.contains("Fluoride") && message.contains("BIS 10500"), "{message}");
        let now = app
            .data("query($id: ID!) { node(id: $id) { ... on Village { hgjStatus version } } }", json!({ "id": v["id"] }))
            .await;
        assert_eq!(now["node"]["hgjStatus"], "NOT_SATURATED", "nothing written");
        assert_eq!(now["node"]["version"], ver);

        app.post_as(&health, RECORD, sample(&v, "FLUORIDE", 0.5)).await;
        let reported = app.data(report, json!({ "v": v["id"], "ver": ver })).await;
        assert_eq!(reported["reportHarGharJal"]["village"]["hgjStatus"], "REPORTED");
        let ver = reported["reportHarGharJal"]["village"]["version"].clone();

        app.post_as(&health, RECORD, sample(&v, "TOTAL_COLIFORM", 5.0)).await;
        let certify = "mutation($v: ID!, $ver: Int!, $d: NaiveDate!) { certifyHarGharJal(input: { village: $v, expectedVersion: $ver,
            gramSabhaResolutionDate: $d }) { village { hgjStatus } } }";
        let today = api::service::today_ist().to_string();
        let refused = app.error(certify, json!({ "v": v["id"], "ver": ver, "d": today })).await;
        assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT", "{refused:#}");
        assert_eq!(refused["extensions"]["argument"], "input.village");
        app.post_as(&health, RECORD, sample(&v, "TOTAL_COLIFORM", 0.0)).await;
        let certified = app.data(certify, json!({ "v": v["id"], "ver": ver, "d": today })).await;
        assert_eq!(certified["certifyHarGharJal"]["village"]["hgjStatus"], "CERTIFIED");
    })
    .await;
}

#[tokio::test]
async fn the_demo_retest_tasks_name_their_test_and_a_clean_sample_closes_them() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = health_token(&app).await;
        let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
        let data = app
            .data(
                "query($s: ID!) { tasks(first: 100, filter: { within: $s, kind: [WATER_QUALITY_TEST], status: [OPEN, IN_PROGRESS, BLOCKED] }) { nodes {
                    id status openedByTest { id contaminated village { id } } village { id } } } }",
                json!({ "s": cg }),
            )
            .await;
        let linked = data["tasks"]["nodes"]
            .as_array()
            .expect("tasks")
            .iter()
            .find(|t| !t["openedByTest"].is_null())
            .unwrap_or_else(|| panic!("the demo has an open retest task with its test: {data:#}"))
            .clone();
        assert_eq!(linked["openedByTest"]["contaminated"], true);
        assert_eq!(linked["openedByTest"]["village"]["id"], linked["village"]["id"]);
        let clean = app.post_as(&health, RECORD, sample(&linked["village"], "NITRATE", 10.0)).await;
        let closed = clean["data"]["recordWaterQualityTest"]["tasksClosed"]
            .as_array()
            .unwrap_or_else(|| panic!("{clean:#}"))
            .clone();
        assert!(
            closed.iter().any(|t| t["id"] == linked["id"] && t["status"] == "DONE"),
            "{clean:#}"
        );
    })
    .await;
}

#[tokio::test]
async fn tasks_opened_before_the_links_existed_are_linked_by_the_migration() {
    use migration::{Migrator, MigratorTrait};
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = health_token(&app).await;
        let v = untouched_villages(&app).await[0].clone();
        let dirty = app.post_as(&health, RECORD, sample(&v, "IRON", 1.4)).await;
        let dirty = &dirty["data"]["recordWaterQualityTest"];
        let opened = dirty["tasksOpened"].as_array().expect("opened").clone();
        assert_eq!(opened.len(), 2, "{dirty:#}");
        // Back to before the links (the table goes), then up again: the links come back from
        // the tasks' descriptions.
        Migrator::down(&app.t.db, Some(1)).await.expect("down");
        Migrator::up(&app.t.db, None).await.expect("up");
        for t in opened {
            let now = app
                .data(
                    "query($id: ID!) { node(id: $id) { ... on Task { openedByTest { id } } } }",
                    json!({ "id": t["id"] }),
                )
                .await;
            assert_eq!(
                now["node"]["openedByTest"]["id"], dirty["test"]["id"],
                "{now:#}"
            );
        }
    })
    .await;
}

/// A Har Ghar Jal flag in a coverage import follows `reportHarGharJal`: not applied, with a
/// note, while the village's latest water-quality test is contaminated.
#[tokio::test]
async fn an_imported_har_ghar_jal_flag_is_not_applied_over_a_contaminated_test() {
    use api::ingest::{self, Kind, Options, Silent, Source};
    use entities::{enums::*, village, water_quality_result, water_quality_test};
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    each_backend(|backend| async move {
        let t = tests::TestDb::new(backend).await;
        let db = &t.db;
        let fixture = |name: &str| {
            let path = format!("{}/fixtures/lgd/{name}", env!("CARGO_MANIFEST_DIR"));
            Source {
                name: name.to_owned(),
                bytes: std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")),
            }
        };
        let who = api::principal::Principal::all_access();
        let today = api::service::today_ist();
        let run = |kind: Kind, sources: Vec<Source>| {
            let who = who.clone();
            async move {
                ingest::run(
                    db,
                    kind,
                    sources,
                    &Options::default(),
                    &who,
                    today,
                    None,
                    &Silent,
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("import failed: {e:#}"))
            }
        };
        let lgd = [
            "villages.csv",
            "states.csv",
            "gram-panchayats.csv",
            "districts-jharkhand.csv",
            "blocks-jharkhand.csv",
        ];
        run(Kind::Lgd, lgd.iter().map(|f| fixture(f)).collect()).await;
        let find = |code: i32| async move {
            village::Entity::find()
                .filter(village::Column::LgdCode.eq(code))
                .one(db)
                .await
                .expect("read")
                .expect("village")
        };
        let dirty = find(7000001).await;
        let test = water_quality_test::ActiveModel {
            village_id: Set(dirty.id),
            source_name: Set("Handpump".into()),
            source_type: Set(WaterSourceType::Handpump),
            sampled_on: Set(today),
            method: Set(WqMethod::Lab),
            contaminated: Set(true),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("test");
        water_quality_result::ActiveModel {
            test_id: Set(test.id),
            parameter: Set(WqParameter::Nitrate),
            value: Set(64.0),
            unit: Set("mg/L".into()),
            exceeds: Set(true),
            ..Default::default()
        }
        .insert(db)
        .await
        .expect("result");

        let text = String::from_utf8(fixture("coverage.csv").bytes)
            .expect("utf-8")
            .replace("7000001,PATEWA A,84,79,No", "7000001,PATEWA A,84,84,Yes")
            .replace(
                "7000003,BELGAON C,1314,1283,No",
                "7000003,BELGAON C,1314,1314,Yes",
            );
        let r = run(
            Kind::Coverage,
            vec![Source {
                name: "coverage.csv".into(),
                bytes: text.into_bytes(),
            }],
        )
        .await;
        assert!(r.written, "{}", r.summary(20));
        let warned = r.files[0]
            .warnings
            .iter()
            .find(|w| w.line == 2)
            .unwrap_or_else(|| panic!("a note on line 2: {}", r.summary(20)));
        assert!(
            warned.reason.contains("BIS 10500") && warned.reason.contains("Nitrate"),
            "{}",
            warned.reason
        );
        let dirty = find(7000001).await;
        assert_eq!(
            (dirty.tap_connections, dirty.hgj_status),
            (84, HgjStatus::NotSaturated)
        );
        assert_eq!(
            find(7000003).await.hgj_status,
            HgjStatus::Reported,
            "a village never tested is reported"
        );
    })
    .await;
}
