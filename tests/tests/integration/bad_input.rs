//! Bad input is a GraphQL error with `extensions.code = BAD_USER_INPUT` naming the argument.

use serde_json::{Value, json};
use tests::{Backend, TestApp, TestDb, global_id};

fn assert_bad(err: &Value, argument: &str) {
    assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err:#}");
    assert_eq!(err["extensions"]["argument"], argument, "{err:#}");
    assert!(
        err["message"]
            .as_str()
            .expect("message")
            .contains(argument.rsplit('.').next().unwrap_or(argument))
    );
}

#[tokio::test]
async fn malformed_arguments_name_the_argument() {
    let app = TestApp::over(TestDb::new(Backend::Sqlite).await).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "not-an-id" }),
            "id",
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": "" }),
            "id",
        ),
        (
            "{ villages(after: \"bm9wZQ\") { totalCount } }",
            json!({}),
            "after",
        ),
        (
            "{ villages(before: \"%%%\") { totalCount } }",
            json!({}),
            "before",
        ),
        (
            "{ villages(first: 100000) { totalCount } }",
            json!({}),
            "first",
        ),
        ("{ villages(first: -1) { totalCount } }", json!({}), "first"),
        ("{ villages(last: 101) { totalCount } }", json!({}), "last"),
        (
            "{ villages(filter: { coverageMin: 120 }) { totalCount } }",
            json!({}),
            "filter.coverageMin",
        ),
        (
            "{ villages(filter: { coverageMin: 80, coverageMax: 20 }) { totalCount } }",
            json!({}),
            "filter.coverageMin",
        ),
        (
            "{ villages(filter: { search: \"  \" }) { totalCount } }",
            json!({}),
            "filter.search",
        ),
        (
            "{ villages(filter: { within: \"garbage\" }) { totalCount } }",
            json!({}),
            "filter.within",
        ),
        (
            "{ tasks(filter: { assignee: \"garbage\" }) { totalCount } }",
            json!({}),
            "filter.assignee",
        ),
        (
            "{ waterQualityTests(filter: { sampledFrom: \"2025-05-01\", sampledTo: \"2025-01-01\" }) { totalCount } }",
            json!({}),
            "filter.sampledFrom",
        ),
        ("{ nodes(ids: [\"x\"]) { id } }", json!({}), "ids"),
    ];
    for (query, vars, argument) in cases {
        let err = app.error(query, vars).await;
        assert_bad(&err, argument);
    }
}

#[tokio::test]
async fn ids_of_the_wrong_kind_are_refused() {
    let app = TestApp::over(TestDb::new(Backend::Sqlite).await).await;
    let village = global_id("Village", 1);
    let err = app
        .error(
            "query($v: ID!) { villages(filter: { within: $v }) { totalCount } }",
            json!({ "v": village }),
        )
        .await;
    assert_bad(&err, "filter.within");
    let err = app
        .error(
            "query($v: ID!) { tasks(filter: { village: $v, scheme: $v }) { totalCount } }",
            json!({ "v": village }),
        )
        .await;
    assert_bad(&err, "filter.scheme");
    let block = global_id("Block", 1);
    let err = app
        .error(
            "query($b: ID!) { progress(level: DISTRICT, within: $b) { level } }",
            json!({ "b": block }),
        )
        .await;
    assert_bad(&err, "within");
}

#[tokio::test]
async fn internal_errors_never_leak_sql() {
    let t = TestDb::new(Backend::Sqlite).await;
    // Break the database under the API: the error must be generic, with a code.
    sea_orm::ConnectionTrait::execute_unprepared(&t.db, "DROP TABLE task_event")
        .await
        .expect("drop");
    let app = TestApp::over(t).await;
    let res = app
        .post(
            "{ tasks(first: 1) { edges { node { history { kind } } } } }",
            json!({}),
        )
        .await;
    // No tasks in an empty database, so force a query on the dropped table via a node lookup.
    assert!(res.get("errors").is_none(), "{res:#}");
    let err = app
        .error(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": api::graphql::ids::encode(api::graphql::ids::Kind::TaskEvent, 1).0 }),
        )
        .await;
    assert_eq!(
        err["extensions"]["code"], "INTERNAL_SERVER_ERROR",
        "{err:#}"
    );
    assert_eq!(err["message"], "internal error");
    assert!(!err.to_string().contains("task_event"), "{err:#}");
}

#[tokio::test]
async fn nul_characters_in_any_string_argument_are_bad_input() {
    for backend in tests::backends() {
        let app = TestApp::demo(backend).await;
        let task = global_id("Task", 1);
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "query($s: String) { villages(filter: { search: $s }) { totalCount } }",
                json!({ "s": "Raj\u{0}pur" }),
                "filter.search",
            ),
            (
                "{ villages(filter: { search: \"a\\u0000b\" }) { totalCount } }",
                json!({}),
                "filter.search",
            ),
            (
                "query($c: String!) { scheme(code: $c) { id } }",
                json!({ "c": "\u{0}" }),
                "code",
            ),
            (
                "query($c: String!) { organisation(code: $c) { id } }",
                json!({ "c": "CG-PHED\u{0}" }),
                "code",
            ),
            (
                "mutation($id: ID!, $t: String!) { commentOnTask(id: $id, text: $t) { task { id } } }",
                json!({ "id": task, "t": "done\u{0}" }),
                "text",
            ),
        ];
        for (query, vars, argument) in cases {
            let res = app.post(query, vars).await;
            let err = &res["errors"][0];
            assert_eq!(
                err["extensions"]["code"], "BAD_USER_INPUT",
                "{query}: {res:#}"
            );
            assert_eq!(err["extensions"]["argument"], argument, "{query}: {res:#}");
            assert!(res.get("data").is_none_or(Value::is_null), "{res:#}");
        }
    }
}
