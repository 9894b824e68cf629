//! Every mutation replays: a retry with the same idempotency key returns the first result and
//! writes nothing more (no history, audit or event twice), even when the write it repeats has
//! since made its own checks fail (a task already moved, a village already certified).
//!
//! The table below names every mutation of the schema; a mutation added without a row here
//! fails `the_replay_table_covers_every_mutation`.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tests::{TestApp, each_backend};

/// The mutations the table covers, in the schema's order.
const TABLE: [&str; 25] = [
    "createTask",
    "updateTask",
    "transitionTask",
    "reassignTask",
    "commentOnTask",
    "attachEvidence",
    "assignPartner",
    "endAssignment",
    "recordWaterQualityTest",
    "updateVillageCoverage",
    "reportHarGharJal",
    "certifyHarGharJal",
    "createWebhook",
    "updateWebhook",
    "deleteWebhook",
    "rotateWebhookSecret",
    "redeliverWebhookEvent",
    "createTasks",
    "transitionTasks",
    "transitionScheme",
    "addSchemeComponent",
    "recordSchemeProgress",
    "assignSchemeInspector",
    "recordInspection",
    "handOverScheme",
];

/// Scheme `n` of those in `status` with no open finding, with its components.
async fn scheme(app: &TestApp, status: &str, n: usize) -> Value {
    let data = app
        .data(
            "query($s: [SchemeStatus!]) { schemes(first: 20, filter: { status: $s, hasOpenFindings: false }) {
                edges { node { id version components { id quantityDone } } } } }",
            json!({ "s": [status] }),
        )
        .await;
    data["schemes"]["edges"][n]["node"].clone()
}
/// Mutations that take no idempotency key, and why. `importFile` is idempotent by the file's
/// natural keys (LGD codes, scheme ids, sample ids): uploading the same file again writes no
/// row and reports every row unchanged (imports.rs and uploads.rs test it).
const NO_KEY: [&str; 1] = ["importFile"];

/// Mutations of the caller's own webhooks: audited, but no change to the domain, so no event.
fn is_webhook_admin(name: &str) -> bool {
    name.contains("Webhook")
}

/// A webhook of the administrator's, on an address where nothing listens (so deliveries wait).
async fn webhook(app: &TestApp) -> Value {
    let made = app
        .data(
            "mutation { createWebhook(input: { url: \"http://127.0.0.1:9/hook\", eventKinds: [TASK_CREATED] }) { webhook { id version } } }",
            json!({}),
        )
        .await;
    made["createWebhook"]["webhook"].clone()
}

const CREATE: &str = "mutation($in: CreateTaskInput!) { createTask(input: $in) { task { id version status title } } }";

#[tokio::test]
async fn the_replay_table_covers_every_mutation() {
    let schema = api::graphql::schema_builder().finish();
    let res = schema
        .execute("{ __schema { mutationType { fields { name } } } }")
        .await;
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    let data = res.data.into_json().expect("json");
    let mut names: Vec<String> = data["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    let mut table: Vec<String> = TABLE
        .iter()
        .chain(&NO_KEY)
        .map(|s| (*s).to_owned())
        .collect();
    table.sort();
    assert_eq!(
        names, table,
        "every mutation needs a replay case in replay.rs (and the table only real mutations)"
    );
}

/// (task_event, audit_log, event_log) row counts.
async fn written(app: &TestApp) -> (i64, i64, i64) {
    let sql = "SELECT (SELECT count(*) FROM task_event) AS h, (SELECT count(*) FROM audit_log) AS a, \
               (SELECT count(*) FROM event_log) AS e";
    let row = app
        .t
        .db
        .query_one_raw(Statement::from_string(app.t.db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("row");
    (
        row.try_get("", "h").expect("h"),
        row.try_get("", "a").expect("a"),
        row.try_get("", "e").expect("e"),
    )
}

/// Sends `query` as the administrator with `Idempotency-Key: key`.
async fn send(app: &TestApp, key: &str, query: &str, variables: &Value) -> Value {
    let mut req = app.graphql_request(Some(&app.admin_token), query, variables.clone());
    req.headers_mut()
        .insert("idempotency-key", key.parse().expect("header"));
    app.send(req).await.json()
}

/// Chhattisgarh organisations' ids by department.
async fn org(app: &TestApp, dept: &str) -> Value {
    let data = app
        .data(
            "query($d: Department!) { organisations(filter: { department: $d }, first: 50) { edges { node { id state { lgdCode } } } } }",
            json!({ "d": dept }),
        )
        .await;
    data["organisations"]["edges"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|e| &e["node"])
        .find(|o| o["state"]["lgdCode"] == 22)
        .expect("an organisation in Chhattisgarh")["id"]
        .clone()
}

struct Fixture {
    villages: Vec<Value>,
    phed: Value,
    health: Value,
    partner: Value,
}

impl Fixture {
    async fn new(app: &TestApp) -> Self {
        let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
        let data = app
            .data(
                "query($f: VillageFilter) { villages(first: 12, filter: $f) { edges { node { id version households } } } }",
                json!({ "f": { "within": cg, "hgjStatus": ["NOT_SATURATED"] } }),
            )
            .await;
        let villages: Vec<Value> = data["villages"]["edges"]
            .as_array()
            .expect("villages")
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        assert!(villages.len() >= 7, "enough Chhattisgarh villages");
        let partner = app
            .data(
                "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await["organisations"]["edges"][0]["node"]["id"]
            .clone();
        Self {
            villages,
            phed: org(app, "PHED").await,
            health: org(app, "HEALTH").await,
            partner,
        }
    }

    /// A new task (id, version 1) on village `n`.
    async fn task(&self, app: &TestApp, n: usize) -> Value {
        let made = app
            .data(
                CREATE,
                json!({ "in": { "kind": "IEC", "title": "Replay fixture", "village": self.villages[n]["id"], "assignee": self.phed } }),
            )
            .await;
        made["createTask"]["task"]["id"].clone()
    }

    /// Village `n` with every household connected; returns its version.
    async fn saturate(&self, app: &TestApp, n: usize) -> Value {
        let v = &self.villages[n];
        let hh = v["households"].as_i64().expect("households").max(1);
        let done = app
            .data(
                "mutation($v: ID!, $ver: Int!, $hh: Int!) { updateVillageCoverage(input: { village: $v, expectedVersion: $ver, households: $hh, tapConnections: $hh }) { village { version } } }",
                json!({ "v": v["id"], "ver": v["version"], "hh": hh }),
            )
            .await;
        done["updateVillageCoverage"]["village"]["version"].clone()
    }
}

/// The mutation `name` as a request that succeeds now, with whatever it needs set up first.
async fn case(app: &TestApp, fx: &Fixture, name: &str) -> (String, Value) {
    let q = |s: &str| s.to_owned();
    match name {
        "createTask" => (
            q(CREATE),
            json!({ "in": { "kind": "IEC", "title": "Wall painting", "village": fx.villages[0]["id"], "assignee": fx.phed } }),
        ),
        "updateTask" => (
            q(
                "mutation($id: ID!) { updateTask(input: { id: $id, expectedVersion: 1, title: \"Renamed\" }) { task { id version title } } }",
            ),
            json!({ "id": fx.task(app, 0).await }),
        ),
        "transitionTask" => (
            q(
                "mutation($id: ID!) { transitionTask(id: $id, expectedVersion: 1, to: IN_PROGRESS) { task { id version status } } }",
            ),
            json!({ "id": fx.task(app, 0).await }),
        ),
        "reassignTask" => (
            q(
                "mutation($id: ID!, $to: ID!) { reassignTask(id: $id, expectedVersion: 1, assignee: $to, note: \"Health leads\") { task { id version assignee { code } } } }",
            ),
            json!({ "id": fx.task(app, 0).await, "to": fx.health }),
        ),
        "commentOnTask" => (
            q(
                "mutation($id: ID!) { commentOnTask(id: $id, text: \"Checked on site\") { task { id version } } }",
            ),
            json!({ "id": fx.task(app, 0).await }),
        ),
        "attachEvidence" => (
            q(
                "mutation($id: ID!) { attachEvidence(input: { task: $id, url: \"https://files.example/p.jpg\", sha256: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", caption: \"Tank\" }) { task { id version } } }",
            ),
            json!({ "id": fx.task(app, 0).await }),
        ),
        "assignPartner" => (
            q(
                "mutation($org: ID!, $v: ID!) { assignPartner(input: { organisation: $org, villages: [$v], theme: IEC }) { assignments { id version } } }",
            ),
            json!({ "org": fx.partner, "v": fx.villages[1]["id"] }),
        ),
        "endAssignment" => {
            let made = app
                .data(
                    "mutation($org: ID!, $v: ID!) { assignPartner(input: { organisation: $org, villages: [$v], theme: GREYWATER }) { assignments { id version } } }",
                    json!({ "org": fx.partner, "v": fx.villages[2]["id"] }),
                )
                .await;
            let a = made["assignPartner"]["assignments"][0].clone();
            (
                q(
                    "mutation($id: ID!, $ver: Int!) { endAssignment(id: $id, expectedVersion: $ver) { assignment { id version endsOn } } }",
                ),
                json!({ "id": a["id"], "ver": a["version"] }),
            )
        }
        "recordWaterQualityTest" => (
            q(
                "mutation($v: ID!) { recordWaterQualityTest(input: { village: $v, sourceName: \"Handpump\", sourceType: HANDPUMP, sampledOn: \"2025-01-15\", method: FTK, results: [{ parameter: FLUORIDE, value: 2.5 }] }) { test { id contaminated } tasksOpened { id } } }",
            ),
            json!({ "v": fx.villages[3]["id"] }),
        ),
        "updateVillageCoverage" => {
            let v = &fx.villages[4];
            (
                q(
                    "mutation($v: ID!, $ver: Int!) { updateVillageCoverage(input: { village: $v, expectedVersion: $ver, households: 100, tapConnections: 40 }) { village { id version coveragePercent } } }",
                ),
                json!({ "v": v["id"], "ver": v["version"] }),
            )
        }
        "reportHarGharJal" => {
            let ver = fx.saturate(app, 5).await;
            (
                q(
                    "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v, expectedVersion: $ver }) { village { id version hgjStatus } } }",
                ),
                json!({ "v": fx.villages[5]["id"], "ver": ver }),
            )
        }
        "certifyHarGharJal" => {
            let ver = fx.saturate(app, 6).await;
            let reported = app
                .data(
                    "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v, expectedVersion: $ver }) { village { version } } }",
                    json!({ "v": fx.villages[6]["id"], "ver": ver }),
                )
                .await;
            (
                q(
                    "mutation($v: ID!, $ver: Int!, $d: NaiveDate!) { certifyHarGharJal(input: { village: $v, expectedVersion: $ver, gramSabhaResolutionDate: $d }) { village { id version hgjStatus } } }",
                ),
                json!({ "v": fx.villages[6]["id"], "ver": reported["reportHarGharJal"]["village"]["version"], "d": api::service::today_ist().to_string() }),
            )
        }
        "createWebhook" => (
            q(
                "mutation { createWebhook(input: { url: \"http://127.0.0.1:9/replay\", eventKinds: [TASK_CREATED] }) { webhook { id version } secret } }",
            ),
            json!({}),
        ),
        "updateWebhook" => {
            let w = webhook(app).await;
            (
                q(
                    "mutation($id: ID!, $ver: Int!) { updateWebhook(input: { id: $id, expectedVersion: $ver, eventKinds: [TASK_CREATED, TASK_TRANSITIONED] }) { webhook { id version eventKinds } } }",
                ),
                json!({ "id": w["id"], "ver": w["version"] }),
            )
        }
        "deleteWebhook" => (
            q("mutation($id: ID!) { deleteWebhook(id: $id) { deletedId } }"),
            json!({ "id": webhook(app).await["id"] }),
        ),
        "rotateWebhookSecret" => (
            q(
                "mutation($id: ID!) { rotateWebhookSecret(id: $id) { webhook { id version } secret } }",
            ),
            json!({ "id": webhook(app).await["id"] }),
        ),
        "redeliverWebhookEvent" => {
            let w = webhook(app).await;
            app.start_webhooks();
            fx.task(app, 0).await;
            let mut delivery = Value::Null;
            for _ in 0..100 {
                let found = app
                    .data(
                        "query($w: ID!) { webhookDeliveries(webhook: $w, first: 1) { edges { node { id } } } }",
                        json!({ "w": w["id"] }),
                    )
                    .await;
                delivery = found["webhookDeliveries"]["edges"][0]["node"]["id"].clone();
                if !delivery.is_null() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert!(!delivery.is_null(), "the task's event became a delivery");
            (
                q("mutation($d: ID!) { redeliverWebhookEvent(delivery: $d) { delivery { id } } }"),
                json!({ "d": delivery }),
            )
        }
        // Not atomic: each item replays by the batch's key and its index.
        "createTasks" => (
            q(
                "mutation($items: [CreateTaskInput!]!) { createTasks(items: $items) { results { index task { id version title } error { code } } } }",
            ),
            json!({ "items": [
                { "kind": "IEC", "title": "Wall painting", "village": fx.villages[0]["id"], "assignee": fx.phed },
                { "kind": "VAP", "title": "Village action plan", "village": fx.villages[1]["id"], "assignee": fx.phed },
            ] }),
        ),
        // Atomic: the whole result replays by the batch's key.
        "transitionTasks" => (
            q(
                "mutation($a: ID!, $b: ID!) { transitionTasks(atomic: true, items: [{ id: $a, expectedVersion: 1, to: IN_PROGRESS }, { id: $b, expectedVersion: 1, to: IN_PROGRESS }]) { results { index task { id version status } error { code } } } }",
            ),
            json!({ "a": fx.task(app, 0).await, "b": fx.task(app, 1).await }),
        ),
        "transitionScheme" => {
            let s = scheme(app, "IN_PROGRESS", 0).await;
            (
                q(
                    "mutation($id: ID!, $v: Int!) { transitionScheme(id: $id, expectedVersion: $v, to: ON_HOLD, note: \"Monsoon\") { scheme { id version status } } }",
                ),
                json!({ "id": s["id"], "v": s["version"] }),
            )
        }
        "addSchemeComponent" => {
            let s = scheme(app, "IN_PROGRESS", 1).await;
            (
                q(
                    "mutation($id: ID!, $v: Int!) { addSchemeComponent(input: { scheme: $id, expectedVersion: $v, kind: PUMP_HOUSE, plannedQuantity: 1, estimatedCost: \"250000.00\" }) { scheme { id version physicalProgress } component { id } } }",
                ),
                json!({ "id": s["id"], "v": s["version"] }),
            )
        }
        "recordSchemeProgress" => {
            let s = scheme(app, "IN_PROGRESS", 2).await;
            let c = &s["components"][0];
            (
                q(
                    "mutation($s: ID!, $c: ID!, $q: Float!, $d: NaiveDate!) { recordSchemeProgress(input: { scheme: $s, component: $c, quantityDone: $q, asOf: $d }) { scheme { id version physicalProgress } component { id version } } }",
                ),
                json!({ "s": s["id"], "c": c["id"], "q": c["quantityDone"], "d": api::service::today_ist().to_string() }),
            )
        }
        "assignSchemeInspector" => {
            let s = scheme(app, "IN_PROGRESS", 3).await;
            let agency = app
                .data(
                    "{ organisations(filter: { kind: INSPECTION_AGENCY }, first: 1) { edges { node { id } } } }",
                    json!({}),
                )
                .await["organisations"]["edges"][0]["node"]["id"]
                .clone();
            (
                q(
                    "mutation($s: ID!, $o: ID!) { assignSchemeInspector(input: { scheme: $s, organisation: $o }) { assignment { startsOn } scheme { id } } }",
                ),
                json!({ "s": s["id"], "o": agency }),
            )
        }
        "recordInspection" => {
            let s = scheme(app, "IN_PROGRESS", 4).await;
            (
                q(
                    "mutation($s: ID!, $d: NaiveDate!) { recordInspection(input: { scheme: $s, inspectedOn: $d, stage: CONSTRUCTION, verdict: RECTIFY, findings: [{ parameter: \"Trench depth\", observation: \"0.6 m cover\", severity: MINOR }] }) { inspection { id } rectificationTask { id status } scheme { id version } } }",
                ),
                json!({ "s": s["id"], "d": api::service::today_ist().to_string() }),
            )
        }
        "handOverScheme" => {
            let s = scheme(app, "COMMISSIONED", 0).await;
            (
                q(
                    "mutation($s: ID!, $v: Int!, $d: NaiveDate!) { handOverScheme(input: { id: $s, expectedVersion: $v, handedOverOn: $d, gramPanchayatResolution: { date: $d, number: \"GP/7\" }, vwsc: { members: 10, womenMembers: 5 }, operator: { trained: false }, omArrangement: { userChargePerHouseholdPerMonth: \"30.00\", fundsSource: FINANCE_COMMISSION_GRANT } }) { scheme { id version status } handover { handedOverOn } } }",
                ),
                json!({ "s": s["id"], "v": s["version"], "d": api::service::today_ist().to_string() }),
            )
        }
        other => panic!("no replay case for {other}: add one to replay.rs"),
    }
}

#[tokio::test]
async fn a_retry_of_every_mutation_returns_the_first_result_and_writes_nothing_more() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let fx = Fixture::new(&app).await;
        for name in TABLE {
            let (query, variables) = case(&app, &fx, name).await;
            let key = format!("replay-{name}");
            let before = written(&app).await;
            let first = send(&app, &key, &query, &variables).await;
            assert!(first.get("errors").is_none(), "{name}: {first:#}");
            let once = written(&app).await;
            assert!(
                once.1 > before.1 && (once.2 > before.2 || is_webhook_admin(name)),
                "{name} writes an audit record and an event: {before:?} -> {once:?}"
            );
            let again = send(&app, &key, &query, &variables).await;
            assert_eq!(again, first, "{name}: the retry gets the first result");
            assert_eq!(
                written(&app).await,
                once,
                "{name}: the retry writes nothing"
            );
        }
    })
    .await;
}
