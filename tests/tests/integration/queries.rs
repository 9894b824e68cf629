//! What a dashboard or a partner does: look things up, walk the hierarchy, filter and search.

use serde_json::{Value, json};
use tests::{TestApp, each_backend, global_id};

async fn first_village(app: &TestApp) -> Value {
    let data = app
        .data(
            "{ villages(first: 1, filter: { hgjStatus: [CERTIFIED] }) { edges { node { id lgdCode name nameHi } } } }",
            json!({}),
        )
        .await;
    data["villages"]["edges"][0]["node"].clone()
}

#[tokio::test]
async fn village_by_lgd_code_and_by_node_id_agree() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let v = first_village(&app).await;
        let by_code = app
            .data(
                "query($c: Int!) { village(lgdCode: $c) { id name households tapConnections coveragePercent hgjStatus
                   hgjReport { reportedOn } hgjCertification { certifiedOn gramSabhaResolutionDate } } }",
                json!({ "c": v["lgdCode"] }),
            )
            .await;
        let village = &by_code["village"];
        assert_eq!(village["id"], v["id"]);
        assert_eq!(village["hgjStatus"], "CERTIFIED");
        assert_eq!(village["households"], village["tapConnections"], "certified villages are saturated");
        assert_eq!(village["coveragePercent"], 100.0);
        assert!(village["hgjReport"]["reportedOn"].is_string());
        assert!(village["hgjCertification"]["certifiedOn"].is_string());

        let by_node = app
            .data("query($id: ID!) { node(id: $id) { id ... on Village { name } } }", json!({ "id": v["id"] }))
            .await;
        assert_eq!(by_node["node"]["name"], v["name"]);
    })
    .await;
}

#[tokio::test]
async fn unknown_ids_and_codes_are_null() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let data = app
            .data(
                "query($id: ID!) { node(id: $id) { id } village(lgdCode: 999999999) { id } scheme(code: \"NOPE\") { id }
                   nodes(ids: [$id]) { id } }",
                json!({ "id": global_id("Village", 987_654_321) }),
            )
            .await;
        assert!(data["node"].is_null());
        assert!(data["village"].is_null());
        assert!(data["scheme"].is_null());
        assert_eq!(data["nodes"], json!([null]));
    })
    .await;
}

#[tokio::test]
async fn every_node_kind_round_trips_through_node() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let data = app
            .data(
                "{ states(first: 1) { edges { node { id } } } divisions(first: 1) { edges { node { id } } }
                   districts(first: 1) { edges { node { id } } } blocks(first: 1) { edges { node { id } } }
                   gramPanchayats(first: 1) { edges { node { id } } } villages(first: 1) { edges { node { id } } }
                   schemes(first: 1) { edges { node { id } } } organisations(first: 1) { edges { node { id } } }
                   assignments(first: 1) { edges { node { id } } } tasks(first: 1) { edges { node { id history { id } } } }
                   waterQualityTests(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let mut ids: Vec<Value> = data
            .as_object()
            .expect("object")
            .values()
            .map(|list| list["edges"][0]["node"]["id"].clone())
            .collect();
        ids.push(data["tasks"]["edges"][0]["node"]["history"][0]["id"].clone());
        assert!(ids.iter().all(Value::is_string), "{data:#}");
        let found = app.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", json!({ "ids": ids })).await;
        let back: Vec<Value> = found["nodes"].as_array().expect("list").iter().map(|n| n["id"].clone()).collect();
        assert_eq!(back, ids);
    })
    .await;
}

#[tokio::test]
async fn a_dashboard_walks_district_blocks_villages_schemes() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let data = app
            .data(
                "{ district(lgdCode: 387) { name nameHi state { lgdCode } division { name }
                     blocks { name gramPanchayats { lgdCode } villages { lgdCode block { name } schemes { code villages { id } }
                       latestWaterQualityTest { sampledOn results { parameter value exceeds acceptableLimit } } } } } }",
                json!({}),
            )
            .await;
        let d = &data["district"];
        assert_eq!(d["name"], "Raipur");
        assert_eq!(d["state"]["lgdCode"], 22);
        let blocks = d["blocks"].as_array().expect("blocks");
        assert!(blocks.len() >= 3, "{d:#}");
        for b in blocks {
            for v in b["villages"].as_array().expect("villages") {
                assert_eq!(v["block"]["name"], b["name"], "village listed under the wrong block");
                for s in v["schemes"].as_array().expect("schemes") {
                    assert!(!s["villages"].as_array().expect("served").is_empty());
                }
            }
        }
    })
    .await;
}

#[tokio::test]
async fn organisation_assignments_lead_to_villages() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let data = app
            .data(
                "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 10) { totalCount edges { node {
                     name themes assignments { isActive theme village { name district { name } } } } } } }",
                json!({}),
            )
            .await;
        let partners = data["organisations"]["edges"].as_array().expect("partners");
        assert!(partners.len() >= 4, "{data:#}");
        let with_villages = partners
            .iter()
            .filter(|p| !p["node"]["assignments"].as_array().expect("list").is_empty())
            .count();
        assert!(with_villages >= 3);
        for p in partners {
            for a in p["node"]["assignments"].as_array().expect("list") {
                assert_eq!(a["isActive"], true, "only active assignments by default");
                assert!(a["village"]["name"].is_string());
            }
        }
    })
    .await;
}

#[tokio::test]
async fn name_search_works_in_english_any_case_and_in_hindi() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let v = first_village(&app).await;
        let name = v["name"].as_str().expect("name");
        let hindi = v["nameHi"].as_str().expect("hindi name");
        let q = "query($s: String!) { villages(filter: { search: $s }, first: 100) { totalCount edges { node { name nameHi } } } }";
        for s in [name.to_uppercase(), name.to_lowercase(), hindi.to_owned()] {
            let data = app.data(q, json!({ "s": s })).await;
            let found = data["villages"]["edges"].as_array().expect("edges");
            assert!(found.iter().any(|e| e["node"]["name"] == name), "searching {s:?} missed {name}");
        }
        // LIKE wildcards are literal characters in a search.
        let data = app.data(q, json!({ "s": "%" })).await;
        assert_eq!(data["villages"]["totalCount"], 0);
    })
    .await;
}

#[tokio::test]
async fn filters_narrow_lists_as_documented() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let data = app
            .data(
                "{ all: villages { totalCount }
                   low: villages(filter: { coverageMax: 60 }, first: 100) { totalCount edges { node { coveragePercent } } }
                   full: villages(filter: { coverageMin: 100 }) { totalCount }
                   reported: villages(filter: { hgjStatus: [REPORTED, CERTIFIED] }, first: 100) { edges { node { coveragePercent } } }
                   mvs: schemes(filter: { type: [MVS] }, first: 100) { totalCount edges { node { type villages { id } } } }
                   inProgress: schemes(filter: { status: [IN_PROGRESS] }, first: 100) { edges { node { status } } }
                   overdue: tasks(filter: { overdue: true }, first: 100) { totalCount edges { node { isOverdue status dueOn } } }
                   notOverdue: tasks(filter: { overdue: false }) { totalCount }
                   allTasks: tasks { totalCount }
                   health: tasks(filter: { department: HEALTH }, first: 100) { edges { node { assignee { department } } } }
                   blocked: tasks(filter: { status: [BLOCKED] }, first: 100) { edges { node { status } } } }",
                json!({}),
            )
            .await;
        let total = data["all"]["totalCount"].as_u64().expect("count");
        assert!((2_000..=5_000).contains(&total), "demo village count {total}");
        for e in data["low"]["edges"].as_array().expect("low") {
            assert!(e["node"]["coveragePercent"].as_f64().expect("pct") <= 60.0);
        }
        assert!(data["low"]["totalCount"].as_u64().expect("n") > 0);
        assert!(data["full"]["totalCount"].as_u64().expect("n") > 0);
        for e in data["reported"]["edges"].as_array().expect("reported") {
            assert_eq!(e["node"]["coveragePercent"], 100.0);
        }
        for e in data["mvs"]["edges"].as_array().expect("mvs") {
            assert_eq!(e["node"]["type"], "MVS");
            assert!(e["node"]["villages"].as_array().expect("villages").len() > 1);
        }
        for e in data["inProgress"]["edges"].as_array().expect("schemes") {
            assert_eq!(e["node"]["status"], "IN_PROGRESS");
        }
        let overdue = data["overdue"]["totalCount"].as_u64().expect("n");
        assert!(overdue > 0, "the demo has overdue tasks");
        for e in data["overdue"]["edges"].as_array().expect("overdue") {
            assert_eq!(e["node"]["isOverdue"], true, "{e}");
        }
        assert_eq!(
            overdue + data["notOverdue"]["totalCount"].as_u64().expect("n"),
            data["allTasks"]["totalCount"].as_u64().expect("n"),
            "overdue and not overdue partition the tasks"
        );
        for e in data["health"]["edges"].as_array().expect("health") {
            assert_eq!(e["node"]["assignee"]["department"], "HEALTH");
        }
        assert!(!data["blocked"]["edges"].as_array().expect("blocked").is_empty());
    })
    .await;
}
