//! Relay pagination: every row once, in a stable order, forwards and backwards.

use serde_json::{Value, json};
use tests::{TestApp, each_backend};

const FORWARD: &str = "query($after: String, $f: VillageFilter) { villages(first: 37, after: $after, filter: $f) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { cursor node { id } } } }";
const BACKWARD: &str =
    "query($before: String, $f: VillageFilter) { villages(last: 37, before: $before, filter: $f) {
    pageInfo { hasNextPage hasPreviousPage endCursor startCursor } edges { node { id } } } }";

async fn walk(
    app: &TestApp,
    query: &str,
    cursor_arg: &str,
    next: &str,
    more: &str,
    filter: &Value,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let data = app
            .data(query, json!({ cursor_arg: cursor, "f": filter }))
            .await;
        let page = &data["villages"];
        let mut chunk: Vec<String> = page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
            .collect();
        if cursor_arg == "before" {
            chunk.reverse();
        }
        ids.extend(chunk);
        if page["pageInfo"][more] != true {
            break;
        }
        cursor = page["pageInfo"][next].clone();
    }
    ids
}

#[tokio::test]
async fn forward_and_backward_walks_see_every_village_once() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let filter = json!({ "coverageMax": 90 });
        let total = app.data(FORWARD, json!({ "f": filter })).await["villages"]["totalCount"]
            .as_u64()
            .expect("count") as usize;
        assert!(total > 37 * 2, "the walk needs several pages, got {total}");

        let forward = walk(&app, FORWARD, "after", "endCursor", "hasNextPage", &filter).await;
        assert_eq!(forward.len(), total);
        let mut unique = forward.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), total, "a row appeared twice");

        let mut backward = walk(
            &app,
            BACKWARD,
            "before",
            "startCursor",
            "hasPreviousPage",
            &filter,
        )
        .await;
        backward.reverse();
        assert_eq!(backward, forward, "backward walk differs from forward walk");
    })
    .await;
}

#[tokio::test]
async fn page_info_and_empty_pages() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let first = app.data(FORWARD, json!({})).await;
        let info = &first["villages"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], false);
        assert_eq!(info["hasNextPage"], true);
        let edges = first["villages"]["edges"].as_array().expect("edges");
        assert_eq!(edges.first().expect("edge")["cursor"], info["startCursor"]);
        assert_eq!(edges.last().expect("edge")["cursor"], info["endCursor"]);

        let none = app
            .data(
                "{ villages(first: 0) { edges { cursor } pageInfo { hasNextPage } totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(none["villages"]["edges"], json!([]));
        assert!(none["villages"]["totalCount"].as_u64().expect("count") > 0);
    })
    .await;
}
