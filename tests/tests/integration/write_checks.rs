//! Checks every write makes before it changes anything: free text has a length limit (the
//! error names the argument), and a task is only handed to an organisation that can see it.

use serde_json::{Value, json};
use tests::{TestApp, each_backend};

const CREATE: &str =
    "mutation($in: CreateTaskInput!) { createTask(input: $in) { task { id version } } }";

/// An organisation's id by department and state LGD code (22 Chhattisgarh, 23 Madhya Pradesh).
async fn org(app: &TestApp, dept: &str, state: i64) -> Value {
    let data = app
        .data(
            "query($d: Department!) { organisations(filter: { department: $d }, first: 50) { edges { node { id code state { lgdCode } } } } }",
            json!({ "d": dept }),
        )
        .await;
    data["organisations"]["edges"]
        .as_array()
        .expect("orgs")
        .iter()
        .map(|e| e["node"].clone())
        .find(|o| o["state"]["lgdCode"] == state)
        .unwrap_or_else(|| panic!("no {dept} in state {state}"))
}

async fn cg_village(app: &TestApp) -> Value {
    let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
    app.data(
        "query($f: VillageFilter) { villages(first: 1, filter: $f) { edges { node { id } } } }",
        json!({ "f": { "within": cg } }),
    )
    .await["villages"]["edges"][0]["node"]["id"]
        .clone()
}

async fn refused(app: &TestApp, query: &str, variables: Value) -> Value {
    let res = app.post(query, variables).await;
    assert!(
        res["data"].is_null()
            || res["data"]
                .as_object()
                .is_some_and(|d| d.values().all(Value::is_null)),
        "{res:#}"
    );
    res["errors"][0].clone()
}

async fn history_len(app: &TestApp, task: &Value) -> usize {
    app.data(
        "query($id: ID!) { node(id: $id) { ... on Task { history { kind } } } }",
        json!({ "id": task }),
    )
    .await["node"]["history"]
        .as_array()
        .expect("history")
        .len()
}

#[tokio::test]
async fn every_free_text_has_a_limit_named_by_its_argument() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let phed = org(&app, "PHED", 22).await;
        let village = cg_village(&app).await;
        let long = |n: usize| "ग".repeat(n);

        let e = refused(&app, CREATE, json!({ "in": { "kind": "IEC", "title": "t", "village": village, "assignee": phed["id"], "description": long(10_001) } })).await;
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e:#}");
        assert_eq!(e["extensions"]["argument"], "input.description");

        let made = app.data(CREATE, json!({ "in": { "kind": "IEC", "title": "t", "village": village, "assignee": phed["id"], "description": long(10_000) } })).await;
        let task = made["createTask"]["task"]["id"].clone();
        let entries = history_len(&app, &task).await;

        let moves = "mutation($id: ID!, $note: String) { transitionTask(id: $id, expectedVersion: 1, to: CANCELLED, note: $note) { task { id } } }";
        let e = refused(&app, moves, json!({ "id": task, "note": long(4_001) })).await;
        assert_eq!(e["extensions"]["argument"], "note", "{e:#}");

        let evidence = "mutation($id: ID!, $c: String) { attachEvidence(input: { task: $id, url: \"https://files.example/a.jpg\", sha256: \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", caption: $c }) { task { id version } } }";
        let e = refused(&app, evidence, json!({ "id": task, "c": long(501) })).await;
        assert_eq!(e["extensions"]["argument"], "input.caption", "{e:#}");

        let update = "mutation($id: ID!, $d: String) { updateTask(input: { id: $id, expectedVersion: 1, description: $d }) { task { id } } }";
        let e = refused(&app, update, json!({ "id": task, "d": long(10_001) })).await;
        assert_eq!(e["extensions"]["argument"], "input.description", "{e:#}");

        let reassign = "mutation($id: ID!, $to: ID!, $note: String) { reassignTask(id: $id, expectedVersion: 1, assignee: $to, note: $note) { task { id } } }";
        let e = refused(&app, reassign, json!({ "id": task, "to": phed["id"], "note": long(4_001) })).await;
        assert_eq!(e["extensions"]["argument"], "note", "{e:#}");

        let record = "mutation($v: ID!, $s: String!, $lab: String) { recordWaterQualityTest(input: { village: $v, sourceName: $s, labName: $lab, sourceType: HANDPUMP, sampledOn: \"2025-01-15\", method: FTK, results: [{ parameter: PH, value: 7.0 }] }) { test { id } } }";
        let e = refused(&app, record, json!({ "v": village, "s": long(201) })).await;
        assert_eq!(e["extensions"]["argument"], "input.sourceName", "{e:#}");
        let e = refused(&app, record, json!({ "v": village, "s": "Handpump", "lab": long(201) })).await;
        assert_eq!(e["extensions"]["argument"], "input.labName", "{e:#}");

        assert_eq!(history_len(&app, &task).await, entries, "refused writes leave no history");

        // A caption within the limit is kept once: with the evidence, not again in the history.
        let attached = app.data(evidence, json!({ "id": task, "c": "Tank after repair" })).await;
        assert_eq!(attached["attachEvidence"]["task"]["version"], 2);
        let seen = app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Task { evidence { caption } history { kind note } } } }",
                json!({ "id": task }),
            )
            .await;
        assert_eq!(seen["node"]["evidence"][0]["caption"], "Tank after repair");
        let entry = seen["node"]["history"]
            .as_array()
            .expect("history")
            .iter()
            .find(|h| h["kind"] == "EVIDENCE_ATTACHED")
            .expect("an evidence entry")
            .clone();
        assert!(entry["note"].is_null(), "the caption is not stored twice: {entry:#}");
    })
    .await;
}

#[tokio::test]
async fn a_task_is_only_handed_to_an_organisation_that_can_see_it() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let village = cg_village(&app).await;
        let mp_power = org(&app, "ELECTRICITY", 23).await;
        let cg_power = org(&app, "ELECTRICITY", 22).await;
        let count = || async { app.data("{ tasks { totalCount } }", json!({})).await["tasks"]["totalCount"].as_u64().expect("n") };
        let before = count().await;

        let e = refused(&app, CREATE, json!({ "in": { "kind": "IEC", "title": "Power for the pump", "village": village, "assignee": mp_power["id"] } })).await;
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e:#}");
        assert_eq!(e["extensions"]["argument"], "input.assignee");
        let message = e["message"].as_str().expect("message");
        assert!(message.contains(mp_power["code"].as_str().expect("code")), "the error says who and why: {message}");
        assert_eq!(count().await, before, "nothing written");

        let made = app.data(CREATE, json!({ "in": { "kind": "IEC", "title": "Power for the pump", "village": village, "assignee": cg_power["id"] } })).await;
        let task = made["createTask"]["task"]["id"].clone();
        let reassign = "mutation($id: ID!, $to: ID!) { reassignTask(id: $id, expectedVersion: 1, assignee: $to) { task { id version } } }";
        let e = refused(&app, reassign, json!({ "id": task, "to": mp_power["id"] })).await;
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{e:#}");
        assert_eq!(e["extensions"]["argument"], "assignee");
        let still = app.data("query($id: ID!) { node(id: $id) { ... on Task { version assignee { code } } } }", json!({ "id": task })).await;
        assert_eq!(still["node"]["version"], 1, "the refused reassignment changed nothing");
        assert_eq!(still["node"]["assignee"]["code"], cg_power["code"]);
    })
    .await;
}
