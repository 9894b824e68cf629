//! Scheme works: the lifecycle state machine, components and physical progress, inspections
//! and their rectification tasks, the handover to the Gram Panchayat, inspection agencies'
//! reach, and the works rollups (equal to a recount after every kind of write, on both
//! databases).

use api::{graphql::ids::decode, principal::Role, service::today_ist};
use chrono::Days;
use entities::{
    district_rollup, district_scheme_due_rollup, district_scheme_rollup, district_works_rollup,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, each_backend};

const STATUSES: [&str; 12] = [
    "PROPOSED",
    "DPR_PREPARED",
    "TECH_SANCTIONED",
    "ADMIN_APPROVED",
    "TENDERED",
    "WORK_ORDER_ISSUED",
    "IN_PROGRESS",
    "ON_HOLD",
    "COMPLETED",
    "COMMISSIONED",
    "HANDED_OVER_TO_GP",
    "CANCELLED",
];

/// The lifecycle, written out independently of the service's table.
fn legal(from: &str) -> &'static [&'static str] {
    match from {
        "PROPOSED" => &["DPR_PREPARED", "CANCELLED"],
        "DPR_PREPARED" => &["TECH_SANCTIONED", "CANCELLED"],
        "TECH_SANCTIONED" => &["ADMIN_APPROVED", "CANCELLED"],
        "ADMIN_APPROVED" => &["TENDERED", "CANCELLED"],
        "TENDERED" => &["WORK_ORDER_ISSUED", "CANCELLED"],
        "WORK_ORDER_ISSUED" => &["IN_PROGRESS", "CANCELLED"],
        "IN_PROGRESS" => &["ON_HOLD", "COMPLETED", "CANCELLED"],
        "ON_HOLD" => &["IN_PROGRESS", "CANCELLED"],
        "COMPLETED" => &["COMMISSIONED"],
        _ => &[],
    }
}

const MOVE: &str = "mutation($id: ID!, $v: Int!, $to: SchemeStatus!, $note: String,
    $dates: SchemeStageDatesInput) { transitionScheme(id: $id, expectedVersion: $v, to: $to,
    note: $note, dates: $dates) { scheme { id status version sanctionedOn workOrderOn
    completedOn commissionedOn targetCompletionOn statusReason physicalProgress } } }";

const ADD: &str = "mutation($in: AddSchemeComponentInput!) { addSchemeComponent(input: $in) {
    scheme { id version physicalProgress } component { id unit plannedQuantity } } }";

const PROGRESS: &str = "mutation($in: RecordSchemeProgressInput!) {
    recordSchemeProgress(input: $in) { scheme { id version physicalProgress }
    component { id quantityDone progressAsOf history { quantityDone previousQuantity asOf } } } }";

const INSPECT: &str = "mutation($in: RecordInspectionInput!) { recordInspection(input: $in) {
    inspection { id verdict findings { severity open } rectificationTask { id } }
    scheme { id version openFindings { minor major critical total } }
    rectificationTask { id kind status priority scheme { id } assignee { code } }
    closedTasks { id status } } }";

const HAND_OVER: &str = "mutation($in: HandOverSchemeInput!) { handOverScheme(input: $in) {
    scheme { id status version handedOverOn } handover { vwsc { members womenMembers }
    operatorTrained operatorName omArrangement { userChargePerHouseholdPerMonth fundsSource } } } }";

const ASSIGN: &str = "mutation($s: ID!, $o: ID!) { assignSchemeInspector(input: { scheme: $s,
    organisation: $o }) { assignment { isActive agency { code } } scheme { id } } }";

fn today() -> String {
    today_ist().to_string()
}

fn days_ago(n: u64) -> String {
    today_ist()
        .checked_sub_days(Days::new(n))
        .expect("date")
        .to_string()
}

fn db_id(id: &Value) -> i64 {
    decode(
        "id",
        &async_graphql::ID(id.as_str().expect("id").to_owned()),
    )
    .expect("global id")
    .1
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Puts a scheme in `status` directly (test setup), with no components' progress and an
/// unchanged version, and recounts the rollups so they stay exact.
pub(crate) async fn force(app: &TestApp, id: &Value, status: &str) -> i64 {
    let n = db_id(id);
    let target = today_ist().checked_add_days(Days::new(200)).expect("date");
    exec(
        &app.t.db,
        &format!(
            "UPDATE scheme SET status = '{status}', physical_progress_bp = NULL, \
             open_findings_minor = 0, open_findings_major = 0, open_findings_critical = 0, \
             target_completion_on = '{target}', sanctioned_on = NULL WHERE id = {n}"
        ),
    )
    .await;
    exec(
        &app.t.db,
        &format!("UPDATE inspection_finding SET open = FALSE WHERE scheme_id = {n}"),
    )
    .await;
    exec(
        &app.t.db,
        &format!("DELETE FROM scheme_component WHERE scheme_id = {n} AND id NOT IN (SELECT component_id FROM scheme_progress) AND id NOT IN (SELECT component_id FROM scheme_inspection WHERE component_id IS NOT NULL)"),
    )
    .await;
    migration::rollups::rebuild(&app.t.db)
        .await
        .expect("rebuild");
    version(app, id).await
}

async fn version(app: &TestApp, id: &Value) -> i64 {
    app.data(
        "query($id: ID!) { node(id: $id) { ... on Scheme { version } } }",
        json!({ "id": id }),
    )
    .await["node"]["version"]
        .as_i64()
        .expect("version")
}

/// Raipur's schemes (district 387) as the administrator sees them.
pub(crate) async fn raipur_schemes(app: &TestApp) -> Vec<Value> {
    let raipur = app
        .data("{ district(lgdCode: 387) { id } }", json!({}))
        .await["district"]["id"]
        .clone();
    let data = app
        .data(
            "query($d: ID!) { schemes(filter: { within: $d }, first: 100) { edges { node {
                id code status version } } } }",
            json!({ "d": raipur }),
        )
        .await;
    data["schemes"]["edges"]
        .as_array()
        .expect("schemes")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn assert_bad(res: &Value, argument: &str, db: &str, what: &str) {
    let e = &res["errors"][0];
    assert_eq!(
        e["extensions"]["code"], "BAD_USER_INPUT",
        "[{db}] {what}: {res:#}"
    );
    assert_eq!(
        e["extensions"]["argument"], argument,
        "[{db}] {what}: {res:#}"
    );
}

/// Every rollup row as it is, and as a full recount makes it (in a transaction rolled back).
pub(crate) async fn assert_rollups_fresh(db: &DatabaseConnection, after: &str) {
    #[derive(Debug, PartialEq)]
    struct All {
        status: Vec<district_scheme_rollup::Model>,
        works: Vec<district_works_rollup::Model>,
        due: Vec<district_scheme_due_rollup::Model>,
        open_tasks: Vec<(i64, i64)>,
    }
    async fn read(txn: &sea_orm::DatabaseTransaction) -> All {
        All {
            status: district_scheme_rollup::Entity::find()
                .order_by_asc(district_scheme_rollup::Column::DistrictId)
                .order_by_asc(district_scheme_rollup::Column::Status)
                .all(txn)
                .await
                .expect("rows"),
            works: district_works_rollup::Entity::find()
                .order_by_asc(district_works_rollup::Column::DistrictId)
                .all(txn)
                .await
                .expect("rows"),
            due: district_scheme_due_rollup::Entity::find()
                .order_by_asc(district_scheme_due_rollup::Column::DistrictId)
                .order_by_asc(district_scheme_due_rollup::Column::DueOn)
                .all(txn)
                .await
                .expect("rows"),
            open_tasks: district_rollup::Entity::find()
                .order_by_asc(district_rollup::Column::DistrictId)
                .all(txn)
                .await
                .expect("rows")
                .into_iter()
                .map(|r| (r.district_id, r.tasks_open))
                .collect(),
        }
    }
    let txn = db.begin().await.expect("begin");
    let kept = read(&txn).await;
    migration::rollups::rebuild(&txn).await.expect("rebuild");
    let fresh = read(&txn).await;
    txn.rollback().await.expect("rollback");
    assert_eq!(kept, fresh, "rollups drifted from a recount after {after}");
}

/// The works of the administrator's districts, from the rollups (`progress`), against a count
/// over the schemes themselves.
async fn assert_report_matches_schemes(app: &TestApp, after: &str) {
    let report = app
        .data(
            "{ progress(level: DISTRICT) { parent { works { schemesMeasured
                physicalProgressAverage schemesBelowHalf schemesPhysicallyComplete schemesOverdue
                openFindings { minor major critical } schemesCommissioned schemesHandedOver } } } }",
            json!({}),
        )
        .await;
    let w = &report["progress"]["parent"]["works"];
    let mut after_cursor: Option<String> = None;
    let (mut measured, mut sum, mut below, mut complete, mut overdue) = (0, 0.0, 0, 0, 0);
    let (mut minor, mut major, mut critical, mut commissioned, mut handed) = (0, 0, 0, 0, 0);
    loop {
        let page = app
            .data(
                "query($a: String) { schemes(first: 100, after: $a) { pageInfo { hasNextPage
                    endCursor } edges { node { status physicalProgress overdue openFindings {
                    minor major critical } } } } }",
                json!({ "a": after_cursor }),
            )
            .await;
        for e in page["schemes"]["edges"].as_array().expect("edges") {
            let s = &e["node"];
            if let Some(p) = s["physicalProgress"].as_f64()
                && s["status"] != "CANCELLED"
            {
                measured += 1;
                sum += p;
                below += i64::from(p < 50.0);
                complete += i64::from(p >= 100.0);
            }
            overdue += i64::from(s["overdue"] == true);
            minor += s["openFindings"]["minor"].as_i64().expect("n");
            major += s["openFindings"]["major"].as_i64().expect("n");
            critical += s["openFindings"]["critical"].as_i64().expect("n");
            commissioned +=
                i64::from(s["status"] == "COMMISSIONED" || s["status"] == "HANDED_OVER_TO_GP");
            handed += i64::from(s["status"] == "HANDED_OVER_TO_GP");
        }
        if page["schemes"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after_cursor = page["schemes"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
    let got = [
        w["schemesMeasured"].as_i64(),
        w["schemesBelowHalf"].as_i64(),
        w["schemesPhysicallyComplete"].as_i64(),
        w["schemesOverdue"].as_i64(),
        w["openFindings"]["minor"].as_i64(),
        w["openFindings"]["major"].as_i64(),
        w["openFindings"]["critical"].as_i64(),
        w["schemesCommissioned"].as_i64(),
        w["schemesHandedOver"].as_i64(),
    ];
    let want = [
        measured,
        below,
        complete,
        overdue,
        minor,
        major,
        critical,
        commissioned,
        handed,
    ]
    .map(Some);
    assert_eq!(got, want, "report against the schemes after {after}: {w:#}");
    if measured > 0 {
        let avg = w["physicalProgressAverage"].as_f64().expect("average");
        assert!(
            (avg - sum / measured as f64).abs() < 0.01,
            "average {avg} against {} after {after}",
            sum / measured as f64
        );
    }
}

#[tokio::test]
async fn every_lifecycle_move_is_legal_or_refused_listing_the_legal_ones() {
    each_backend(lifecycle_on).await;
}

async fn lifecycle_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let schemes = raipur_schemes(&app).await;
    let s = &schemes[0];
    for from in STATUSES {
        // Illegal moves first: they change nothing.
        let v = force(&app, &s["id"], from).await;
        for to in STATUSES {
            if legal(from).contains(&to) {
                continue;
            }
            let res = app
                .post(
                    MOVE,
                    json!({ "id": s["id"], "v": v, "to": to, "note": "because" }),
                )
                .await;
            assert_bad(&res, "to", db, &format!("{from} → {to}"));
            let message = res["errors"][0]["message"].as_str().unwrap_or_default();
            if to == "HANDED_OVER_TO_GP" && from == "COMMISSIONED" {
                assert!(message.contains("handOverScheme"), "[{db}] {message}");
            } else {
                assert!(message.contains("legal moves"), "[{db}] {message}");
                for l in legal(from) {
                    assert!(
                        message.contains(l),
                        "[{db}] {from} → {to} lists {l}: {message}"
                    );
                }
            }
            assert_eq!(version(&app, &s["id"]).await, v, "[{db}] nothing written");
        }
        for to in legal(from) {
            let v = force(&app, &s["id"], from).await;
            let res = app
                .post(
                    MOVE,
                    json!({ "id": s["id"], "v": v, "to": to, "note": "monsoon",
                            "dates": { "on": days_ago(3) } }),
                )
                .await;
            assert!(res.get("errors").is_none(), "[{db}] {from} → {to}: {res:#}");
            let after = &res["data"]["transitionScheme"]["scheme"];
            assert_eq!(after["status"], *to, "[{db}]");
            assert_eq!(after["version"], v + 1, "[{db}]");
            let stage = match *to {
                "TECH_SANCTIONED" => Some("sanctionedOn"),
                "WORK_ORDER_ISSUED" => Some("workOrderOn"),
                "COMPLETED" => Some("completedOn"),
                "COMMISSIONED" => Some("commissionedOn"),
                _ => None,
            };
            if let Some(field) = stage {
                assert_eq!(after[field], days_ago(3), "[{db}] {to} records its date");
            }
            if matches!(*to, "ON_HOLD" | "CANCELLED") {
                assert_eq!(after["statusReason"], "monsoon", "[{db}]");
            }
            assert_rollups_fresh(&app.t.db, &format!("{from} → {to}")).await;
        }
    }
    // Holds and cancellations need a reason; a stale version is a conflict.
    let v = force(&app, &s["id"], "IN_PROGRESS").await;
    for to in ["ON_HOLD", "CANCELLED"] {
        let res = app
            .post(
                MOVE,
                json!({ "id": s["id"], "v": v, "to": to, "note": " " }),
            )
            .await;
        assert_bad(&res, "note", db, to);
    }
    let res = app
        .post(
            MOVE,
            json!({ "id": s["id"], "v": v - 1, "to": "ON_HOLD", "note": "rain" }),
        )
        .await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "CONFLICT",
        "[{db}] {res:#}"
    );
    // A work order needs a target date; a future stage date is refused.
    let v = force(&app, &s["id"], "TENDERED").await;
    exec(
        &app.t.db,
        &format!(
            "UPDATE scheme SET target_completion_on = NULL WHERE id = {}",
            db_id(&s["id"])
        ),
    )
    .await;
    migration::rollups::rebuild(&app.t.db)
        .await
        .expect("rebuild");
    let res = app
        .post(
            MOVE,
            json!({ "id": s["id"], "v": v, "to": "WORK_ORDER_ISSUED" }),
        )
        .await;
    assert_bad(
        &res,
        "dates.targetCompletionOn",
        db,
        "work order without a target",
    );
    let future = today_ist()
        .checked_add_days(Days::new(2))
        .expect("d")
        .to_string();
    let res = app
        .post(
            MOVE,
            json!({ "id": s["id"], "v": v, "to": "WORK_ORDER_ISSUED",
                    "dates": { "on": future, "targetCompletionOn": future } }),
        )
        .await;
    assert_bad(&res, "dates.on", db, "a future stage date");
    let res = app
        .post(
            MOVE,
            json!({ "id": s["id"], "v": v, "to": "WORK_ORDER_ISSUED",
                    "dates": { "targetCompletionOn": future } }),
        )
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    assert_rollups_fresh(&app.t.db, "a work order with a target date").await;
    assert_report_matches_schemes(&app, "lifecycle moves").await;
}

/// A scheme put IN_PROGRESS without components; returns (id, version).
async fn fresh_in_progress(app: &TestApp, pick: usize) -> (Value, i64) {
    let schemes = raipur_schemes(app).await;
    let s = schemes[pick]["id"].clone();
    exec(
        &app.t.db,
        &format!(
            "DELETE FROM inspection_finding WHERE scheme_id = {0}; ",
            db_id(&s)
        ),
    )
    .await;
    let v = force(app, &s, "IN_PROGRESS").await;
    (s, v)
}

#[tokio::test]
async fn physical_progress_is_cost_weighted_append_only_and_gates_completion() {
    each_backend(progress_on).await;
}

async fn progress_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let (s, v) = fresh_in_progress(&app, 1).await;
    // Components already on the scheme (from the demo) are set aside: a fresh scheme.
    exec(
        &app.t.db,
        &format!("UPDATE scheme_component SET cost_paise = 0, planned_quantity = 1, quantity_done = 1 WHERE scheme_id = {}", db_id(&s)),
    )
    .await;
    let tank = app
        .data(
            ADD,
            json!({ "in": { "scheme": s, "expectedVersion": v, "kind": "OVERHEAD_RESERVOIR",
                "plannedQuantity": 100.0, "estimatedCost": "7500000.00" } }),
        )
        .await["addSchemeComponent"]
        .clone();
    assert_eq!(tank["component"]["unit"], "KL", "[{db}]");
    let v = tank["scheme"]["version"].as_i64().expect("v");
    let pipe = app
        .data(
            ADD,
            json!({ "in": { "scheme": s, "expectedVersion": v, "kind": "DISTRIBUTION_PIPELINE",
                "plannedQuantity": 4.0, "estimatedCost": "2500000.00" } }),
        )
        .await["addSchemeComponent"]
        .clone();
    assert_eq!(pipe["component"]["unit"], "KM", "[{db}]");
    assert_rollups_fresh(&app.t.db, "adding a component").await;
    let tank_id = tank["component"]["id"].clone();
    let pipe_id = pipe["component"]["id"].clone();
    let record = |c: &Value, q: f64, as_of: String, reason: Option<&str>| {
        json!({ "in": { "scheme": s, "component": c, "quantityDone": q, "asOf": as_of,
            "evidenceUrl": "https://mb.example/1.jpg", "reason": reason } })
    };
    // Zero-cost components of the demo weigh nothing: 0.75 × 0.5 = 37.5 %.
    let r = app
        .data(PROGRESS, record(&tank_id, 50.0, days_ago(10), None))
        .await;
    assert_eq!(
        r["recordSchemeProgress"]["scheme"]["physicalProgress"], 37.5,
        "[{db}] {r:#}"
    );
    let r = app
        .data(PROGRESS, record(&pipe_id, 4.0, days_ago(9), None))
        .await;
    assert_eq!(
        r["recordSchemeProgress"]["scheme"]["physicalProgress"], 62.5,
        "[{db}] {r:#}"
    );
    assert_rollups_fresh(&app.t.db, "recording progress").await;
    // A decrease needs a reason; an earlier day than the latest, or more than planned, is refused.
    let res = app
        .post(PROGRESS, record(&tank_id, 40.0, days_ago(8), None))
        .await;
    assert_bad(&res, "input.reason", db, "a decrease without a reason");
    let res = app
        .post(PROGRESS, record(&tank_id, 60.0, days_ago(11), None))
        .await;
    assert_bad(&res, "input.asOf", db, "a record older than the latest");
    let res = app
        .post(PROGRESS, record(&tank_id, 101.0, days_ago(8), None))
        .await;
    assert_bad(&res, "input.quantityDone", db, "more than planned");
    let r = app
        .data(
            PROGRESS,
            record(&tank_id, 40.0, days_ago(8), Some("slab recast")),
        )
        .await;
    let c = &r["recordSchemeProgress"]["component"];
    assert_eq!(
        r["recordSchemeProgress"]["scheme"]["physicalProgress"], 55.0,
        "[{db}]"
    );
    assert_eq!(c["quantityDone"], 40.0, "[{db}]");
    assert_eq!(
        c["history"],
        json!([
            { "quantityDone": 50.0, "previousQuantity": 0.0, "asOf": days_ago(10) },
            { "quantityDone": 40.0, "previousQuantity": 50.0, "asOf": days_ago(8) },
        ]),
        "[{db}] the history is append-only"
    );
    // Filters and ordering by physical progress.
    let code = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Scheme { code } } }",
            json!({ "id": s }),
        )
        .await["node"]["code"]
        .clone();
    let found = app
        .data(
            "query($q: String!) { below: schemes(filter: { search: $q, physicalProgressBelow: 60 }) { totalCount }
                above: schemes(filter: { search: $q, physicalProgressAtLeast: 60 }) { totalCount }
                ordered: schemes(first: 5, orderBy: { field: PHYSICAL_PROGRESS, direction: DESC }) {
                    edges { node { physicalProgress } } } }",
            json!({ "q": code }),
        )
        .await;
    assert_eq!(found["below"]["totalCount"], 1, "[{db}] {found:#}");
    assert_eq!(found["above"]["totalCount"], 0, "[{db}] {found:#}");
    let ordered: Vec<f64> = found["ordered"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["physicalProgress"].as_f64().unwrap_or(-1.0))
        .collect();
    assert!(
        ordered.windows(2).all(|w| w[0] >= w[1]),
        "[{db}] {ordered:?}"
    );
    // COMPLETED waits for every component.
    let v = version(&app, &s).await;
    let res = app
        .post(MOVE, json!({ "id": s, "v": v, "to": "COMPLETED" }))
        .await;
    assert_bad(&res, "to", db, "completing at 55 %");
    app.data(PROGRESS, record(&tank_id, 100.0, today(), None))
        .await;
    let v = version(&app, &s).await;
    let done = app
        .data(MOVE, json!({ "id": s, "v": v, "to": "COMPLETED" }))
        .await;
    assert_eq!(
        done["transitionScheme"]["scheme"]["physicalProgress"], 100.0,
        "[{db}] {done:#}"
    );
    assert_rollups_fresh(&app.t.db, "completing").await;
    // Overdue: past the target and not completed, as filter and field agree.
    let overdue = app
        .data(
            "{ yes: schemes(filter: { overdue: true }, first: 100) { totalCount edges { node { overdue status targetCompletionOn } } }
               no: schemes(filter: { overdue: false }) { totalCount } all: schemes { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        overdue["yes"]["totalCount"].as_i64().expect("n")
            + overdue["no"]["totalCount"].as_i64().expect("n"),
        overdue["all"]["totalCount"].as_i64().expect("n"),
        "[{db}]"
    );
    for e in overdue["yes"]["edges"].as_array().expect("edges") {
        assert_eq!(e["node"]["overdue"], true, "[{db}] {e}");
        assert!(e["node"]["targetCompletionOn"].as_str().expect("date") < today().as_str());
    }
    assert_report_matches_schemes(&app, "progress records").await;
}

/// The demo's Chhattisgarh inspection agency and PHED.
async fn agency(app: &TestApp) -> (Value, String) {
    let data = app
        .data(
            "{ organisations(filter: { kind: INSPECTION_AGENCY }, first: 10) { edges { node { id code state { lgdCode } } } } }",
            json!({}),
        )
        .await;
    let node = data["organisations"]["edges"]
        .as_array()
        .expect("agencies")
        .iter()
        .map(|e| e["node"].clone())
        .find(|o| o["state"]["lgdCode"] == 22)
        .expect("a Chhattisgarh inspection agency in the demo");
    (
        node["id"].clone(),
        node["code"].as_str().expect("code").to_owned(),
    )
}

#[tokio::test]
async fn a_failing_inspection_opens_a_rectification_task_and_a_pass_closes_it() {
    each_backend(inspections_on).await;
}

async fn inspections_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let (s, v) = fresh_in_progress(&app, 2).await;
    exec(
        &app.t.db,
        &format!(
            "DELETE FROM scheme_inspector WHERE scheme_id = {}",
            db_id(&s)
        ),
    )
    .await;
    let added = app
        .data(
            ADD,
            json!({ "in": { "scheme": s, "expectedVersion": v, "kind": "OVERHEAD_RESERVOIR",
                "plannedQuantity": 60.0, "estimatedCost": "4000000.00" } }),
        )
        .await;
    let tank = added["addSchemeComponent"]["component"]["id"].clone();
    let (agency_id, agency_code) = agency(&app).await;
    let token = app
        .token(ClientSpec::new(Role::InspectionAgency).org(&agency_code))
        .await;
    let inspection = |verdict: &str, findings: Value| {
        json!({ "in": { "scheme": s, "component": tank, "inspectedOn": today(),
            "stage": "CONSTRUCTION", "verdict": verdict, "findings": findings,
            "evidenceUrl": "https://tpia.example/report.pdf" } })
    };
    let failing = json!([
        { "parameter": "Concrete cube strength (M25)", "observation": "16 N/mm²", "severity": "MAJOR" },
        { "parameter": "Structural crack", "observation": "Crack in a staging column", "severity": "CRITICAL" },
    ]);
    // Not yet assigned: the scheme does not exist for the agency.
    let res = app
        .post_as(&token, INSPECT, inspection("RECTIFY", failing.clone()))
        .await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "[{db}] {res:#}"
    );
    let seen = app
        .post_as(
            &token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": s }),
        )
        .await;
    assert!(seen["data"]["node"].is_null(), "[{db}] {seen:#}");
    let assigned = app.data(ASSIGN, json!({ "s": s, "o": agency_id })).await;
    assert_eq!(
        assigned["assignSchemeInspector"]["assignment"]["isActive"], true,
        "[{db}]"
    );
    assert_rollups_fresh(&app.t.db, "assigning an inspector").await;
    let seen = app
        .post_as(
            &token,
            "query($id: ID!) { node(id: $id) { ... on Scheme { id components { kind } } } }",
            json!({ "id": s }),
        )
        .await;
    assert_eq!(
        seen["data"]["node"]["id"], s,
        "[{db}] an agency reads its scheme: {seen:#}"
    );
    let seen = app
        .post_as(&token, "{ villages { totalCount } }", json!({}))
        .await;
    assert_eq!(
        seen["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "[{db}] but no village: {seen:#}"
    );
    // A RECTIFY verdict without findings, or a PASS with a critical one, is refused.
    let res = app
        .post_as(&token, INSPECT, inspection("RECTIFY", json!([])))
        .await;
    assert_bad(&res, "input.findings", db, "RECTIFY without findings");
    let res = app
        .post_as(&token, INSPECT, inspection("PASS", failing.clone()))
        .await;
    assert_bad(&res, "input.verdict", db, "PASS with a critical finding");

    let res = app
        .post_as(&token, INSPECT, inspection("RECTIFY", failing))
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    let out = &res["data"]["recordInspection"];
    let task = &out["rectificationTask"];
    assert_eq!(task["kind"], "SCHEME_WORK", "[{db}] {out:#}");
    assert_eq!(task["status"], "OPEN", "[{db}]");
    assert_eq!(task["priority"], "CRITICAL", "[{db}]");
    assert_eq!(task["scheme"]["id"], s, "[{db}]");
    assert_eq!(task["assignee"]["code"], "CG-PHED", "[{db}]");
    assert_eq!(
        out["inspection"]["rectificationTask"]["id"], task["id"],
        "[{db}] linked"
    );
    assert_eq!(
        out["scheme"]["openFindings"],
        json!({ "minor": 0, "major": 1, "critical": 1, "total": 2 }),
        "[{db}]"
    );
    assert_rollups_fresh(&app.t.db, "a RECTIFY inspection").await;
    assert_report_matches_schemes(&app, "a RECTIFY inspection").await;
    let filtered = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Scheme { code } } }",
            json!({ "id": s }),
        )
        .await;
    let code = filtered["node"]["code"].clone();
    let f = app
        .data(
            "query($q: String!) { critical: schemes(filter: { search: $q, openFindingSeverity: [CRITICAL] }) { totalCount }
                none: schemes(filter: { search: $q, hasOpenFindings: false }) { totalCount } }",
            json!({ "q": code }),
        )
        .await;
    assert_eq!(f["critical"]["totalCount"], 1, "[{db}] {f:#}");
    assert_eq!(f["none"]["totalCount"], 0, "[{db}] {f:#}");

    // PHED starts the rectification; a passing re-inspection of the same work verifies it.
    let res = app
        .data(
            "mutation($id: ID!) { transitionTask(id: $id, expectedVersion: 1, to: IN_PROGRESS) { task { status } } }",
            json!({ "id": task["id"] }),
        )
        .await;
    assert_eq!(
        res["transitionTask"]["task"]["status"], "IN_PROGRESS",
        "[{db}]"
    );
    let res = app
        .post_as(&token, INSPECT, inspection("PASS", json!([])))
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    let out = &res["data"]["recordInspection"];
    assert_eq!(
        out["closedTasks"],
        json!([{ "id": task["id"], "status": "VERIFIED" }]),
        "[{db}] {out:#}"
    );
    assert_eq!(out["scheme"]["openFindings"]["total"], 0, "[{db}]");
    let history = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Scheme { inspections { verdict findings { open } } } } }",
            json!({ "id": s }),
        )
        .await;
    let all = history["node"]["inspections"]
        .as_array()
        .expect("inspections");
    assert_eq!(
        json!(all[all.len() - 2..]),
        json!([
            { "verdict": "RECTIFY", "findings": [{ "open": false }, { "open": false }] },
            { "verdict": "PASS", "findings": [] },
        ]),
        "[{db}]"
    );
    assert_rollups_fresh(&app.t.db, "a passing re-inspection").await;
    assert_report_matches_schemes(&app, "a passing re-inspection").await;
}

#[tokio::test]
async fn a_handover_needs_a_commissioned_scheme_no_open_critical_finding_and_a_proper_vwsc() {
    each_backend(handover_on).await;
}

async fn handover_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let schemes = raipur_schemes(&app).await;
    let s = schemes[3]["id"].clone();
    let v = force(&app, &s, "COMMISSIONED").await;
    let input = |v: i64, members: i32, women: i32| {
        json!({ "in": { "id": s, "expectedVersion": v, "handedOverOn": today(),
            "gramPanchayatResolution": { "date": days_ago(5), "number": "GP/2026/14",
                "evidenceUrl": "https://gp.example/resolution.pdf" },
            "vwsc": { "members": members, "womenMembers": women },
            "operator": { "trained": true, "name": "Dilip Kumar Sahu" },
            "omArrangement": { "userChargePerHouseholdPerMonth": "50.00", "fundsSource": "USER_CHARGES" } } })
    };
    // A critical finding is open: refused.
    let res = app
        .post(
            INSPECT,
            json!({ "in": { "scheme": s, "inspectedOn": today(), "stage": "COMMISSIONING",
                "verdict": "RECTIFY", "findings": [{ "parameter": "Pump house earthing",
                "observation": "9 ohm", "severity": "CRITICAL" }] } }),
        )
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    let v = version(&app, &s).await.max(v);
    let res = app.post(HAND_OVER, input(v, 12, 6)).await;
    assert_bad(
        &res,
        "input.id",
        db,
        "a handover with a critical finding open",
    );
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CRITICAL"),
        "[{db}] {res:#}"
    );
    let res = app
        .post(
            INSPECT,
            json!({ "in": { "scheme": s, "inspectedOn": today(), "stage": "COMMISSIONING",
                "verdict": "PASS" } }),
        )
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    let v = version(&app, &s).await;
    // The VWSC rules refuse (they do not flag): 10–15 members, at least half women.
    for (members, women, field) in [
        (9, 5, "input.vwsc.members"),
        (16, 8, "input.vwsc.members"),
        (12, 5, "input.vwsc.womenMembers"),
        (11, 5, "input.vwsc.womenMembers"),
    ] {
        let res = app.post(HAND_OVER, input(v, members, women)).await;
        assert_bad(
            &res,
            field,
            db,
            &format!("a VWSC of {members} with {women} women"),
        );
    }
    assert_eq!(version(&app, &s).await, v, "[{db}] nothing written");
    // Only from COMMISSIONED.
    let res = app.data(HAND_OVER, input(v, 11, 6)).await;
    let out = &res["handOverScheme"];
    assert_eq!(out["scheme"]["status"], "HANDED_OVER_TO_GP", "[{db}]");
    assert_eq!(out["scheme"]["handedOverOn"], today(), "[{db}]");
    assert_eq!(
        out["handover"]["operatorName"], "Dilip Kumar Sahu",
        "[{db}]"
    );
    assert_eq!(
        out["handover"]["omArrangement"]["userChargePerHouseholdPerMonth"], "50.00",
        "[{db}]"
    );
    assert_rollups_fresh(&app.t.db, "a handover").await;
    assert_report_matches_schemes(&app, "a handover").await;
    let again = app.post(HAND_OVER, input(v + 1, 11, 6)).await;
    assert_bad(&again, "input.id", db, "a second handover");
    // The operator's name is personal data: null with FORBIDDEN for dashboards.
    let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;
    let res = app
        .post_as(
            &dashboard,
            "query($id: ID!) { node(id: $id) { ... on Scheme { handover { operatorTrained operatorName } } } }",
            json!({ "id": s }),
        )
        .await;
    assert_eq!(
        res["data"]["node"]["handover"]["operatorTrained"], true,
        "[{db}] {res:#}"
    );
    assert!(
        res["data"]["node"]["handover"]["operatorName"].is_null(),
        "[{db}] {res:#}"
    );
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "[{db}] {res:#}"
    );
}

#[tokio::test]
async fn the_demo_has_works_and_its_rollups_match_a_recount() {
    each_backend(demo_on).await;
}

async fn demo_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    assert_rollups_fresh(&app.t.db, "seeding").await;
    assert_report_matches_schemes(&app, "seeding").await;
    let data = app
        .data(
            "{ progress(level: STATE) { parent { works { schemesMeasured schemesOverdue
                openFindings { total critical } schemesCommissioned schemesHandedOver } } } }",
            json!({}),
        )
        .await;
    let w = &data["progress"]["parent"]["works"];
    assert!(
        w["schemesMeasured"].as_i64().expect("n") > 20,
        "[{db}] {w:#}"
    );
    assert!(
        w["openFindings"]["total"].as_i64().expect("n") > 0,
        "[{db}] {w:#}"
    );
    assert!(
        w["openFindings"]["critical"].as_i64().expect("n") > 0,
        "[{db}] {w:#}"
    );
    assert!(
        w["schemesHandedOver"].as_i64().expect("n") > 0,
        "[{db}] {w:#}"
    );
    let verdicts = app
        .data(
            "{ schemes(first: 100, filter: { status: [IN_PROGRESS, COMPLETED, COMMISSIONED, HANDED_OVER_TO_GP] }) {
                edges { node { inspections { verdict } } } } }",
            json!({}),
        )
        .await;
    let all: Vec<String> = verdicts["schemes"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .flat_map(|e| {
            e["node"]["inspections"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|i| i["verdict"].as_str().unwrap_or_default().to_owned())
        .collect();
    let rectify = all.iter().filter(|v| *v == "RECTIFY").count();
    assert!(
        rectify > 0 && rectify < all.len(),
        "[{db}] a share of the demo's inspections ask for rectification: {rectify} of {}",
        all.len()
    );
}
