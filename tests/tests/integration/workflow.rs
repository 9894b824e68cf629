//! Moving real work through Sangam: the task workflow, conflicts, idempotency, audit, water
//! quality, coverage and Har Ghar Jal, partner assignments.

use api::principal::Role;
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, each_backend};

const CREATE: &str = "mutation($in: CreateTaskInput!) { createTask(input: $in) { clientMutationId task { id version status title assignee { code } } } }";
const MOVE: &str = "mutation($id: ID!, $v: Int!, $to: TaskStatus!, $note: String) {
    transitionTask(id: $id, expectedVersion: $v, to: $to, note: $note) { task { id status version } } }";

/// An organisation's id and code by department within Chhattisgarh.
async fn department(app: &TestApp, dept: &str) -> (String, String) {
    let data = app
        .data(
            "query($d: Department!) { organisations(filter: { department: $d }, first: 50) { edges { node { id code state { lgdCode } } } } }",
            json!({ "d": dept }),
        )
        .await;
    let org = data["organisations"]["edges"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|e| &e["node"])
        .find(|o| o["state"]["lgdCode"] == 22)
        .unwrap_or_else(|| panic!("no {dept} in Chhattisgarh: {data:#}"))
        .clone();
    (
        org["id"].as_str().expect("id").to_owned(),
        org["code"].as_str().expect("code").to_owned(),
    )
}

/// A Chhattisgarh village (id, version) matching `filter`.
async fn village(app: &TestApp, filter: Value) -> Value {
    let data = app
        .data(
            "query($f: VillageFilter) { villages(first: 1, filter: $f) { edges { node { id version name households tapConnections hgjStatus } } } }",
            json!({ "f": filter }),
        )
        .await;
    data["villages"]["edges"][0]["node"].clone()
}

async fn cg(app: &TestApp) -> Value {
    app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone()
}

#[tokio::test]
async fn a_task_moves_through_its_workflow_with_history_and_audit() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (health_id, health_code) = department(&app, "HEALTH").await;
        let v = village(&app, json!({ "within": cg(&app).await })).await;
        let created = app
            .data(
                CREATE,
                json!({ "in": { "kind": "WATER_QUALITY_TEST", "title": "Test the new borewell", "village": v["id"],
                                "assignee": health_id, "priority": "HIGH" } }),
            )
            .await;
        let task = &created["createTask"]["task"];
        assert_eq!(task["status"], "OPEN");
        assert_eq!(task["version"], 1);
        let id = task["id"].clone();

        let health = app.token(ClientSpec::new(Role::Department).org(&health_code).states(&[22])).await;
        let mut version = 1;
        for (to, note) in [("IN_PROGRESS", None), ("BLOCKED", Some("lab closed for Diwali")), ("IN_PROGRESS", None), ("DONE", None)] {
            let res = app.post_as(&health, MOVE, json!({ "id": id, "v": version, "to": to, "note": note })).await;
            assert!(res.get("errors").is_none(), "{to}: {res:#}");
            version += 1;
            assert_eq!(res["data"]["transitionTask"]["task"]["version"], version);
            assert_eq!(res["data"]["transitionTask"]["task"]["status"], to);
        }
        let err = &app.post_as(&health, MOVE, json!({ "id": id, "v": version, "to": "VERIFIED" })).await["errors"][0];
        assert_eq!(err["extensions"]["code"], "FORBIDDEN", "only a coordinator verifies: {err:#}");
        let verified = app.data(MOVE, json!({ "id": id, "v": version, "to": "VERIFIED" })).await;
        assert_eq!(verified["transitionTask"]["task"]["status"], "VERIFIED");

        let detail = app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Task { version history { kind fromStatus toStatus note } } }
                   auditLog(filter: { entity: \"task\", entityId: $id }, first: 50) { totalCount edges { node { operation before after actorRole } } } }",
                json!({ "id": id }),
            )
            .await;
        let history = detail["node"]["history"].as_array().expect("history");
        assert_eq!(history.len(), 6, "created + five moves: {history:#?}");
        assert_eq!(detail["node"]["version"], 6, "version counts accepted writes");
        assert_eq!(history[2]["note"], "lab closed for Diwali");
        let audit = detail["auditLog"]["edges"].as_array().expect("audit");
        assert_eq!(audit.len(), 6, "one audit record per write");
        assert!(audit[0]["node"]["before"].is_null() && audit[0]["node"]["after"].is_string());
        assert!(audit[1]["node"]["before"].as_str().expect("before").contains("\"OPEN\""));
        assert_eq!(audit[1]["node"]["actorRole"], "department");
    })
    .await;
}

#[tokio::test]
async fn illegal_moves_and_stale_versions_are_refused_without_writing() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let v = village(&app, json!({ "within": cg(&app).await })).await;
        let created = app
            .data(CREATE, json!({ "in": { "kind": "SCHEME_WORK", "title": "Lay the distribution line", "village": v["id"], "assignee": phed } }))
            .await;
        let id = created["createTask"]["task"]["id"].clone();

        let err = app.error(MOVE, json!({ "id": id, "v": 1, "to": "DONE" })).await;
        assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(err["extensions"]["argument"], "to");
        assert!(err["message"].as_str().expect("msg").contains("IN_PROGRESS, CANCELLED"), "{err:#}");
        let err = app.error(MOVE, json!({ "id": id, "v": 1, "to": "CANCELLED" })).await;
        assert_eq!(err["extensions"]["argument"], "note", "cancelling needs a reason");

        app.data(MOVE, json!({ "id": id, "v": 1, "to": "IN_PROGRESS" })).await;
        let stale = app.error(MOVE, json!({ "id": id, "v": 1, "to": "DONE" })).await;
        assert_eq!(stale["extensions"]["code"], "CONFLICT", "{stale:#}");
        assert_eq!(stale["extensions"]["currentVersion"], 2);
        let after = app.data("query($id: ID!) { node(id: $id) { ... on Task { status version history { kind } } } }", json!({ "id": id })).await;
        assert_eq!(after["node"]["status"], "IN_PROGRESS");
        assert_eq!(after["node"]["history"].as_array().expect("history").len(), 2, "refused writes leave no trace");

        let bad = app.error(MOVE, json!({ "id": "nonsense", "v": 1, "to": "DONE" })).await;
        assert_eq!(bad["extensions"]["argument"], "id");
    })
    .await;
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_result_and_writes_once() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let v = village(&app, json!({ "within": cg(&app).await })).await;
        let count = || async { app.data("{ tasks { totalCount } }", json!({})).await["tasks"]["totalCount"].as_u64().expect("n") };
        let before = count().await;
        let input = json!({ "in": { "kind": "IEC", "title": "Wall painting on water conservation", "village": v["id"],
                                    "assignee": phed, "clientMutationId": "field-app-7f3a" } });
        let first = app.data(CREATE, input.clone()).await;
        let again = app.data(CREATE, input).await;
        assert_eq!(first, again, "the retry returns the first result");
        assert_eq!(first["createTask"]["clientMutationId"], "field-app-7f3a");
        assert_eq!(count().await, before + 1, "written once");

        // The Idempotency-Key header works the same way.
        let id = first["createTask"]["task"]["id"].clone();
        let comment = "mutation($id: ID!) { commentOnTask(id: $id, text: \"Gram Sabha on Friday\") { task { version } } }";
        let send = || async {
            let mut req = app.graphql_request(Some(&app.admin_token), comment, json!({ "id": id }));
            req.headers_mut().insert("idempotency-key", "retry-42".parse().expect("header"));
            app.send(req).await.json()
        };
        let (a, b) = (send().await, send().await);
        assert_eq!(a, b);
        assert_eq!(a["data"]["commentOnTask"]["task"]["version"], 2);
        let reused = app.post(CREATE, json!({ "in": { "kind": "IEC", "title": "x", "village": v["id"], "assignee": phed, "clientMutationId": "retry-42" } })).await;
        assert_eq!(reused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "a key belongs to one operation: {reused:#}");
    })
    .await;
}

#[tokio::test]
async fn a_contaminated_sample_opens_remediation_and_retest_tasks() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (_, health_code) = department(&app, "HEALTH").await;
        let health = app.token(ClientSpec::new(Role::Department).org(&health_code).states(&[22])).await;
        let v = village(&app, json!({ "within": cg(&app).await })).await;
        let record = "mutation($in: RecordWaterQualityTestInput!) { recordWaterQualityTest(input: $in) {
            test { contaminated results { parameter value unit exceeds } }
            tasksOpened { kind priority status assignee { department } village { id } } } }";
        let sample = |results: Value| {
            json!({ "in": { "village": v["id"], "sourceName": "Handpump near school", "sourceType": "HANDPUMP",
                            "sampledOn": "2025-01-15", "method": "FTK", "testedBy": "Sunita Netam", "results": results } })
        };
        let dirty = app
            .post_as(&health, record, sample(json!([{ "parameter": "FLUORIDE", "value": 2.1 }, { "parameter": "PH", "value": 7.2 }])))
            .await;
        assert!(dirty.get("errors").is_none(), "{dirty:#}");
        let done = &dirty["data"]["recordWaterQualityTest"];
        assert_eq!(done["test"]["contaminated"], true);
        let results = done["test"]["results"].as_array().expect("results");
        assert!(results.iter().any(|r| r["parameter"] == "FLUORIDE" && r["exceeds"] == true && r["unit"] == "mg/L"));
        assert!(results.iter().any(|r| r["parameter"] == "PH" && r["exceeds"] == false));
        let tasks = done["tasksOpened"].as_array().expect("tasks");
        let kinds: Vec<(&str, &str)> = tasks
            .iter()
            .map(|t| (t["kind"].as_str().expect("kind"), t["assignee"]["department"].as_str().expect("dept")))
            .collect();
        assert_eq!(kinds, [("WATER_QUALITY_REMEDIATION", "PHED"), ("WATER_QUALITY_TEST", "HEALTH")]);
        assert!(tasks.iter().all(|t| t["village"]["id"] == v["id"] && t["status"] == "OPEN"));

        let clean = app.post_as(&health, record, sample(json!([{ "parameter": "NITRATE", "value": 12.0 }]))).await;
        assert_eq!(clean["data"]["recordWaterQualityTest"]["tasksOpened"], json!([]));

        let invalid = app.post_as(&health, record, sample(json!([]))).await;
        assert_eq!(invalid["errors"][0]["extensions"]["argument"], "input.results");
        let (_, pr) = department(&app, "PANCHAYATI_RAJ").await;
        let panchayat = app.token(ClientSpec::new(Role::Department).org(&pr).states(&[22])).await;
        let refused = app.post_as(&panchayat, record, sample(json!([{ "parameter": "IRON", "value": 0.1 }]))).await;
        assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN", "only Health records tests: {refused:#}");
    })
    .await;
}

#[tokio::test]
async fn coverage_then_har_ghar_jal_report_then_certification() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let v = village(&app, json!({ "within": cg(&app).await, "hgjStatus": ["NOT_SATURATED"], "coverageMax": 99 })).await;
        let id = v["id"].clone();
        let hh = v["households"].as_i64().expect("households");
        let report = "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v, expectedVersion: $ver }) { village { hgjStatus version } } }";
        let early = app.error(report, json!({ "v": id, "ver": v["version"] })).await;
        assert_eq!(early["extensions"]["code"], "BAD_USER_INPUT", "not every household has a tap: {early:#}");

        let coverage = "mutation($v: ID!, $ver: Int!, $hh: Int!, $taps: Int!) { updateVillageCoverage(input: {
            village: $v, expectedVersion: $ver, households: $hh, tapConnections: $taps }) { village { coveragePercent version } } }";
        let too_many = app.error(coverage, json!({ "v": id, "ver": v["version"], "hh": hh, "taps": hh + 1 })).await;
        assert_eq!(too_many["extensions"]["argument"], "input.tapConnections");
        let negative = app.error(coverage, json!({ "v": id, "ver": v["version"], "hh": -1, "taps": 0 })).await;
        assert_eq!(negative["extensions"]["argument"], "input.households");
        let full = app.data(coverage, json!({ "v": id, "ver": v["version"], "hh": hh, "taps": hh })).await;
        assert_eq!(full["updateVillageCoverage"]["village"]["coveragePercent"], 100.0);
        let ver = full["updateVillageCoverage"]["village"]["version"].clone();

        let reported = app.data(report, json!({ "v": id, "ver": ver })).await;
        assert_eq!(reported["reportHarGharJal"]["village"]["hgjStatus"], "REPORTED");
        let ver = reported["reportHarGharJal"]["village"]["version"].clone();
        let certify = "mutation($v: ID!, $ver: Int!, $d: NaiveDate!) { certifyHarGharJal(input: { village: $v, expectedVersion: $ver,
            gramSabhaResolutionDate: $d, videoUrl: \"https://video.example/gram-sabha.mp4\" }) { village { hgjStatus hgjCertification { videoUrl } } } }";
        let today = api::service::today_ist().to_string();
        let certified = app.data(certify, json!({ "v": id, "ver": ver, "d": today })).await;
        assert_eq!(certified["certifyHarGharJal"]["village"]["hgjStatus"], "CERTIFIED");
        let twice = app.error(certify, json!({ "v": id, "ver": 99, "d": today })).await;
        assert_eq!(twice["extensions"]["code"], "BAD_USER_INPUT", "{twice:#}");
    })
    .await;
}

#[tokio::test]
async fn assigning_and_ending_a_partner_assignment_changes_what_it_sees() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let partner = app.data("{ organisations(filter: { kind: SECTOR_PARTNER }, first: 1) { edges { node { id code } } } }", json!({})).await;
        let org = partner["organisations"]["edges"][0]["node"].clone();
        let token = app.token(ClientSpec::new(Role::Partner).org(org["code"].as_str().expect("code"))).await;
        let sees = |id: Value| {
            let token = token.clone();
            let app = &app;
            async move {
                !app.post_as(&token, "query($id: ID!) { node(id: $id) { id } }", json!({ "id": id })).await["data"]["node"].is_null()
            }
        };
        // A gram panchayat none of whose villages the partner holds yet.
        let gps = app.data("{ gramPanchayats(first: 100) { edges { node { id villages { id } } } } }", json!({})).await;
        let mut target = None;
        for gp in gps["gramPanchayats"]["edges"].as_array().expect("gps") {
            let villages = gp["node"]["villages"].as_array().expect("villages");
            let mut unseen = true;
            for v in villages {
                unseen &= !sees(v["id"].clone()).await;
            }
            if unseen && !villages.is_empty() {
                target = Some(gp["node"].clone());
                break;
            }
        }
        let gp = target.expect("a gram panchayat outside the partner's assignments");
        let assign = "mutation($org: ID!, $gp: ID!) { assignPartner(input: { organisation: $org, gramPanchayat: $gp, theme: IEC }) {
            assignments { id version isActive village { id } } } }";
        let made = app.data(assign, json!({ "org": org["id"], "gp": gp["id"] })).await;
        let assignments = made["assignPartner"]["assignments"].as_array().expect("assignments").clone();
        assert_eq!(assignments.len(), gp["villages"].as_array().expect("villages").len());
        let v0 = assignments[0]["village"]["id"].clone();
        assert!(sees(v0.clone()).await, "an assignment gives the partner its villages at once");
        let again = app.data(assign, json!({ "org": org["id"], "gp": gp["id"] })).await;
        assert_eq!(again["assignPartner"]["assignments"], made["assignPartner"]["assignments"], "no duplicates");

        let end = "mutation($id: ID!, $v: Int!) { endAssignment(id: $id, expectedVersion: $v) { assignment { isActive endsOn version } } }";
        let ended = app.data(end, json!({ "id": assignments[0]["id"], "v": assignments[0]["version"] })).await;
        assert_eq!(ended["endAssignment"]["assignment"]["isActive"], false);
        assert!(!sees(v0).await, "an ended assignment takes the village away on the next request");
        let forbidden = app.post_as(&token, end, json!({ "id": assignments[1 % assignments.len()]["id"], "v": 1 })).await;
        assert_eq!(forbidden["errors"][0]["extensions"]["code"], "FORBIDDEN", "{forbidden:#}");
    })
    .await;
}
