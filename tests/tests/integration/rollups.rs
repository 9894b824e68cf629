//! The per-district rollups behind state and national progress stay exact: after every kind of
//! write they equal a full recount, the write is in the very next report, and a new day (or a
//! server whose clock runs ahead) still gets today's overdue counts.

use std::collections::HashMap;

use api::{principal::Role, service::today_ist};
use chrono::{Days, NaiveDate};
use entities::{district_rollup, district_scheme_rollup, enums::TaskStatus, task};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
    sea_query::Expr,
};
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, each_backend};

const REPORT: &str = "query($within: ID) { progress(level: DISTRICT, within: $within) {
    parent { villages households tapConnections villagesReported villagesCertified schemes tasksOpen tasksOverdue }
    rows { areaId villages households tapConnections villagesReported villagesCertified schemes tasksOpen tasksOverdue } } }";

const LISTS: &str = "query($d: ID!) {
    villages(filter: { within: $d }) { totalCount }
    reported: villages(filter: { within: $d, hgjStatus: [REPORTED, CERTIFIED] }) { totalCount }
    certified: villages(filter: { within: $d, hgjStatus: [CERTIFIED] }) { totalCount }
    open: tasks(filter: { within: $d, status: [OPEN, IN_PROGRESS, BLOCKED] }) { totalCount }
    overdue: tasks(filter: { within: $d, overdue: true }) { totalCount }
    schemes(filter: { within: $d }) { totalCount } }";

/// The rollup rows as they are, and as a full recount makes them (recounted in a transaction
/// that is rolled back, so the check changes nothing). Overdue counts are compared separately.
async fn incremental_and_recounted(db: &DatabaseConnection) -> (Vec<[i64; 7]>, Vec<[i64; 7]>) {
    async fn read(
        txn: &sea_orm::DatabaseTransaction,
    ) -> (Vec<[i64; 7]>, Vec<district_scheme_rollup::Model>) {
        let rows = district_rollup::Entity::find()
            .order_by_asc(district_rollup::Column::DistrictId)
            .all(txn)
            .await
            .expect("rollup rows")
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
            .collect();
        let schemes = district_scheme_rollup::Entity::find()
            .order_by_asc(district_scheme_rollup::Column::DistrictId)
            .order_by_asc(district_scheme_rollup::Column::Status)
            .all(txn)
            .await
            .expect("scheme rollup rows");
        (rows, schemes)
    }
    let txn = db.begin().await.expect("begin");
    let (kept, kept_schemes) = read(&txn).await;
    migration::rollups::rebuild(&txn).await.expect("rebuild");
    let (fresh, fresh_schemes) = read(&txn).await;
    txn.rollback().await.expect("rollback");
    assert_eq!(kept_schemes, fresh_schemes, "scheme rollups drifted");
    (kept, fresh)
}

/// Open tasks past their due date on `today`, per district, counted from the tasks.
async fn overdue_by_district(db: &DatabaseConnection, today: NaiveDate) -> HashMap<i64, i64> {
    let mut out = HashMap::new();
    let open = [
        TaskStatus::Open,
        TaskStatus::InProgress,
        TaskStatus::Blocked,
    ];
    for t in task::Entity::find()
        .filter(task::Column::Status.is_in(open))
        .filter(task::Column::DueOn.lt(today))
        .all(db)
        .await
        .expect("tasks")
    {
        *out.entry(t.district_id).or_default() += 1;
    }
    out
}

/// Reads a report (which brings stale overdue counts up to date), then checks every rollup
/// row against a recount.
async fn assert_exact(app: &TestApp, within: &Value, what: &str) {
    let report = app.data(REPORT, json!({ "within": within })).await;
    assert!(
        report["progress"]["rows"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    let db = &app.t.db;
    let (kept, fresh) = incremental_and_recounted(db).await;
    assert_eq!(kept, fresh, "rollups drifted after {what}");
    let today = today_ist();
    let overdue = overdue_by_district(db, today).await;
    for r in district_rollup::Entity::find().all(db).await.expect("rows") {
        if r.overdue_as_of == today {
            let want = overdue.get(&r.district_id).copied().unwrap_or(0);
            assert_eq!(
                r.tasks_overdue, want,
                "overdue in district {} after {what}",
                r.district_id
            );
        }
    }
}

/// The report's row for district `d` agrees with the lists, which count the rows themselves.
async fn assert_row_matches_lists(app: &TestApp, within: &Value, d: &Value) {
    let report = app.data(REPORT, json!({ "within": within })).await;
    let rows = report["progress"]["rows"].as_array().expect("rows");
    let row = rows
        .iter()
        .find(|r| r["areaId"] == *d)
        .expect("the district's row");
    let lists = app.data(LISTS, json!({ "d": d })).await;
    for (field, list) in [
        ("villages", "villages"),
        ("villagesReported", "reported"),
        ("villagesCertified", "certified"),
        ("tasksOpen", "open"),
        ("tasksOverdue", "overdue"),
        ("schemes", "schemes"),
    ] {
        assert_eq!(row[field], lists[list]["totalCount"], "{field}: {row:#}");
    }
}

/// A Chhattisgarh department's organisation id.
async fn org(app: &TestApp, department: &str) -> Value {
    let data = app
        .data(
            "query($d: Department!) { organisations(filter: { department: $d }, first: 50) { edges { node { id state { lgdCode } } } } }",
            json!({ "d": department }),
        )
        .await;
    data["organisations"]["edges"]
        .as_array()
        .expect("orgs")
        .iter()
        .find(|e| e["node"]["state"]["lgdCode"] == 22)
        .map(|e| e["node"]["id"].clone())
        .unwrap_or_else(|| panic!("no {department} in Chhattisgarh"))
}

fn ok(reply: &Value) -> &Value {
    assert!(reply.get("errors").is_none(), "{reply:#}");
    &reply["data"]
}

#[tokio::test]
async fn rollups_follow_every_kind_of_write() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
        assert_exact(&app, &cg, "seeding").await;

        let v = app
            .data(
                "query($s: ID!) { villages(first: 1, filter: { within: $s, hgjStatus: [NOT_SATURATED] }) {
                    edges { node { id version households tapConnections district { id } } } } }",
                json!({ "s": cg }),
            )
            .await["villages"]["edges"][0]["node"]
            .clone();
        let d = v["district"]["id"].clone();
        let phed = org(&app, "PHED").await;
        let wcd = org(&app, "WCD").await;
        let before = app.data(REPORT, json!({ "within": cg })).await;
        let open_before = before["progress"]["parent"]["tasksOpen"].as_i64().expect("open");

        // A new task is in the very next report.
        let created = app
            .data(
                "mutation($v: ID!, $a: ID!) { createTask(input: { kind: IEC, title: \"Wall paintings\", village: $v, assignee: $a }) { task { id version } } }",
                json!({ "v": v["id"], "a": phed }),
            )
            .await;
        let t = created["createTask"]["task"].clone();
        let after = app.data(REPORT, json!({ "within": cg })).await;
        assert_eq!(after["progress"]["parent"]["tasksOpen"].as_i64(), Some(open_before + 1));
        assert_exact(&app, &cg, "createTask").await;

        // Due yesterday: overdue; then moved, blocked, finished.
        let yesterday = today_ist().checked_sub_days(Days::new(1)).expect("date");
        let edit = "mutation($id: ID!, $v: Int!, $due: NaiveDate) { updateTask(input: { id: $id, expectedVersion: $v, dueOn: $due }) { task { version } } }";
        let mut version = ok(&app.post(edit, json!({ "id": t["id"], "v": t["version"], "due": yesterday })).await)["updateTask"]["task"]["version"].clone();
        assert_exact(&app, &cg, "updateTask (due date)").await;
        assert_row_matches_lists(&app, &cg, &d).await;
        let step = "mutation($id: ID!, $v: Int!, $to: TaskStatus!) { transitionTask(id: $id, expectedVersion: $v, to: $to, note: \"step\") { task { version } } }";
        for to in ["IN_PROGRESS", "BLOCKED", "IN_PROGRESS", "DONE", "VERIFIED"] {
            version = ok(&app.post(step, json!({ "id": t["id"], "v": version, "to": to })).await)["transitionTask"]["task"]["version"].clone();
            assert_exact(&app, &cg, to).await;
        }
        assert_row_matches_lists(&app, &cg, &d).await;

        // Changes that count nothing: a comment, and a reassignment.
        let other = app
            .data(
                "mutation($v: ID!, $a: ID!, $due: NaiveDate) { createTask(input: { kind: IEC, title: \"Gram Sabha\", village: $v, dueOn: $due, assignee: $a }) { task { id version } } }",
                json!({ "v": v["id"], "a": phed, "due": today_ist() }),
            )
            .await["createTask"]["task"]
            .clone();
        let commented = app.post("mutation($id: ID!) { commentOnTask(id: $id, text: \"on it\") { task { version } } }", json!({ "id": other["id"] })).await;
        let version = ok(&commented)["commentOnTask"]["task"]["version"].clone();
        ok(&app
            .post(
                "mutation($id: ID!, $v: Int!, $to: ID!) { reassignTask(id: $id, expectedVersion: $v, assignee: $to) { task { id } } }",
                json!({ "id": other["id"], "v": version, "to": wcd }),
            )
            .await);
        assert_exact(&app, &cg, "comment and reassignment").await;

        // A contaminated sample opens two tasks.
        let health = app.token(ClientSpec::new(Role::Department).org("CG-HEALTH").states(&[22])).await;
        let record = "mutation($v: ID!) { recordWaterQualityTest(input: { village: $v, sourceName: \"Handpump\", sourceType: HANDPUMP,
            sampledOn: \"2025-01-15\", method: FTK, results: [{ parameter: ARSENIC, value: 0.2 }] }) { tasksOpened { id } } }";
        let opened = app.post_as(&health, record, json!({ "v": v["id"] })).await;
        assert_eq!(ok(&opened)["recordWaterQualityTest"]["tasksOpened"].as_array().map(Vec::len), Some(2));
        assert_exact(&app, &cg, "recordWaterQualityTest").await;
        // A clean retest closes the retest task (a counted move) and lets the village be
        // reported Har Ghar Jal (refused while its latest sample is contaminated).
        let retest = "mutation($v: ID!, $d: NaiveDate!) { recordWaterQualityTest(input: { village: $v, sourceName: \"Handpump\",
            sourceType: HANDPUMP, sampledOn: $d, method: LAB, results: [{ parameter: ARSENIC, value: 0.001 }] }) { tasksClosed { id } } }";
        let closed = app.post_as(&health, retest, json!({ "v": v["id"], "d": today_ist() })).await;
        assert!(ok(&closed)["recordWaterQualityTest"]["tasksClosed"].as_array().is_some_and(|c| !c.is_empty()), "{closed:#}");
        assert_exact(&app, &cg, "a clean retest").await;

        // Coverage, then Har Ghar Jal reported and certified.
        let hh = v["households"].as_i64().expect("households");
        let coverage = "mutation($v: ID!, $ver: Int!, $hh: Int!) { updateVillageCoverage(input: { village: $v, expectedVersion: $ver, households: $hh, tapConnections: $hh }) { village { version } } }";
        let ver = ok(&app.post(coverage, json!({ "v": v["id"], "ver": v["version"], "hh": hh + 7 })).await)["updateVillageCoverage"]["village"]["version"].clone();
        assert_exact(&app, &cg, "updateVillageCoverage").await;
        let report = "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v, expectedVersion: $ver }) { village { version } } }";
        let ver = ok(&app.post(report, json!({ "v": v["id"], "ver": ver })).await)["reportHarGharJal"]["village"]["version"].clone();
        assert_exact(&app, &cg, "reportHarGharJal").await;
        let certify = "mutation($v: ID!, $ver: Int!, $on: NaiveDate!) { certifyHarGharJal(input: { village: $v, expectedVersion: $ver, gramSabhaResolutionDate: $on }) { village { version } } }";
        ok(&app.post(certify, json!({ "v": v["id"], "ver": ver, "on": today_ist() })).await);
        assert_exact(&app, &cg, "certifyHarGharJal").await;
        assert_row_matches_lists(&app, &cg, &d).await;

        // The national report agrees too.
        let national = app.data("{ progress(level: STATE) { parent { villages tasksOpen } } }", json!({})).await;
        let all = app.data("{ villages { totalCount } tasks(filter: { status: [OPEN, IN_PROGRESS, BLOCKED] }) { totalCount } }", json!({})).await;
        assert_eq!(national["progress"]["parent"]["villages"], all["villages"]["totalCount"]);
        assert_eq!(national["progress"]["parent"]["tasksOpen"], all["tasks"]["totalCount"]);
    })
    .await;
}

#[tokio::test]
async fn overdue_counts_follow_the_calendar() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
        let lists =
            "query($s: ID!) { tasks(filter: { within: $s, overdue: true }) { totalCount } }";
        let want = app.data(lists, json!({ "s": cg })).await["tasks"]["totalCount"]
            .as_i64()
            .expect("n");
        assert!(want > 0, "the demo has overdue tasks");
        let db = &app.t.db;
        let today = today_ist();
        let overdue_in_report = || async {
            app.data(REPORT, json!({ "within": cg })).await["progress"]["parent"]["tasksOverdue"]
                .as_i64()
        };

        // Counts made yesterday (wrong today): the first report of the day recounts.
        let yesterday = today.checked_sub_days(Days::new(1)).expect("date");
        set_overdue(db, 9_999, yesterday).await;
        assert_eq!(overdue_in_report().await, Some(want));
        let rows = district_rollup::Entity::find().all(db).await.expect("rows");
        assert!(
            rows.iter().all(|r| r.overdue_as_of == today),
            "recounted for today"
        );

        // Counts another server made for tomorrow are not today's: the report counts itself,
        // and leaves them for that server.
        let tomorrow = today.checked_add_days(Days::new(1)).expect("date");
        set_overdue(db, 9_999, tomorrow).await;
        assert_eq!(overdue_in_report().await, Some(want));
        let rows = district_rollup::Entity::find().all(db).await.expect("rows");
        assert!(
            rows.iter()
                .all(|r| r.overdue_as_of == tomorrow && r.tasks_overdue == 9_999)
        );
    })
    .await;
}

async fn set_overdue(db: &DatabaseConnection, n: i64, day: NaiveDate) {
    district_rollup::Entity::update_many()
        .col_expr(district_rollup::Column::TasksOverdue, Expr::value(n))
        .col_expr(district_rollup::Column::OverdueAsOf, Expr::value(day))
        .exec(db)
        .await
        .expect("set overdue");
}
