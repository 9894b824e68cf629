//! Ordered lists: walking every ordering page by page, forwards and backwards, sees every row
//! once and in order; a cursor of one ordering is refused by another; and a page deep in an
//! ordering is one seek into its `(key, id)` index on both databases (checked on the plan).

use api::{
    principal::Principal,
    service::{
        Service,
        order::{OrderDirection, TaskOrderField, VillageOrderField},
        page::{self, Cursor, Ordering, PageRequest},
    },
};
use entities::{task, village};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use serde_json::{Value, json};
use tests::{Backend, TestApp, TestDb, each_backend};

/// How to read an ordering's key off a node, as a value that sorts like the key.
#[derive(Clone, Copy)]
enum Key {
    Number(&'static str),
    /// A number, with null standing for this value.
    NumberOr(&'static str, f64),
    Text(&'static str),
    /// A date; null sorts as this date.
    DateOr(&'static str, &'static str),
    /// An enum in the order given.
    Rank(&'static str, &'static [&'static str]),
    /// Nested `a.b`, a date, null as the given date.
    NestedDateOr(&'static str, &'static str, &'static str),
    Id,
}

#[derive(Debug, PartialEq, PartialOrd)]
enum K {
    N(f64),
    S(String),
}

fn key_of(node: &Value, key: Key) -> K {
    match key {
        Key::Number(f) => K::N(node[f].as_f64().expect(f)),
        Key::NumberOr(f, null) => K::N(node[f].as_f64().unwrap_or(null)),
        Key::Text(f) => K::S(node[f].as_str().expect(f).to_owned()),
        Key::DateOr(f, null) => K::S(node[f].as_str().unwrap_or(null).to_owned()),
        Key::Rank(f, order) => K::N(
            order
                .iter()
                .position(|s| node[f] == *s)
                .unwrap_or_else(|| panic!("{f} = {}", node[f])) as f64,
        ),
        Key::NestedDateOr(a, b, null) => K::S(node[a][b].as_str().unwrap_or(null).to_owned()),
        Key::Id => K::N(0.0),
    }
}

/// A global id's number, for the tie-breaker.
fn number(id: &str) -> i64 {
    let id = async_graphql::ID(id.to_owned());
    api::graphql::ids::decode("id", &id).expect("global id").1
}

/// Walks `list` in `order` with pages of `size`, forwards or backwards; returns the nodes in
/// the list's order.
#[allow(clippy::too_many_arguments)]
async fn walk(
    app: &TestApp,
    list: &str,
    filter_type: &str,
    filter: &Value,
    fields: &str,
    order: &Value,
    size: i64,
    forward: bool,
) -> Vec<Value> {
    let (dir, cursor_arg, next, more) = if forward {
        ("first", "after", "endCursor", "hasNextPage")
    } else {
        ("last", "before", "startCursor", "hasPreviousPage")
    };
    let query = format!(
        "query($c: String, $o: {order_type}, $f: {filter_type}) {{ {list}({dir}: {size}, {cursor_arg}: $c, orderBy: $o, filter: $f) {{
            pageInfo {{ {next} {more} }} edges {{ node {{ id {fields} }} }} }} }}",
        order_type = order_type(list),
    );
    let mut nodes = Vec::new();
    let mut cursor = Value::Null;
    for _ in 0..10_000 {
        let data = app
            .data(&query, json!({ "c": cursor, "o": order, "f": filter }))
            .await;
        let page = &data[list];
        let mut chunk: Vec<Value> = page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        if !forward {
            chunk.reverse();
        }
        nodes.extend(chunk);
        if page["pageInfo"][more] != true {
            break;
        }
        cursor = page["pageInfo"][next].clone();
    }
    if !forward {
        nodes.reverse();
    }
    nodes
}

fn order_type(list: &str) -> &'static str {
    match list {
        "villages" => "VillageOrder",
        "tasks" => "TaskOrder",
        "assignments" => "AssignmentOrder",
        "waterQualityTests" => "WaterQualityTestOrder",
        _ => "OrganisationOrder",
    }
}

struct Case {
    list: &'static str,
    filter_type: &'static str,
    filter: Value,
    fields: &'static str,
    field: &'static str,
    key: Key,
}

fn cases(district: &Value) -> Vec<Case> {
    let v = |field, fields, key| Case {
        list: "villages",
        filter_type: "VillageFilter",
        filter: json!({ "within": district }),
        fields,
        field,
        key,
    };
    let t = |field, fields, key| Case {
        list: "tasks",
        filter_type: "TaskFilter",
        filter: json!({ "within": district }),
        fields,
        field,
        key,
    };
    vec![
        v("ID", "", Key::Id),
        v("NAME", "name", Key::Text("name")),
        v("HOUSEHOLDS", "households", Key::Number("households")),
        v(
            "TAP_CONNECTIONS",
            "tapConnections",
            Key::Number("tapConnections"),
        ),
        v(
            "COVERAGE",
            "coveragePercent",
            Key::NumberOr("coveragePercent", 100.0),
        ),
        v(
            "HGJ_STATUS",
            "hgjStatus",
            Key::Rank("hgjStatus", &["NOT_SATURATED", "REPORTED", "CERTIFIED"]),
        ),
        v(
            "LATEST_TEST_DATE",
            "latestWaterQualityTest { sampledOn }",
            Key::NestedDateOr("latestWaterQualityTest", "sampledOn", "0001-01-01"),
        ),
        t("DUE_DATE", "dueOn", Key::DateOr("dueOn", "9999-12-31")),
        t(
            "PRIORITY",
            "priority",
            Key::Rank("priority", &["LOW", "MEDIUM", "HIGH", "CRITICAL"]),
        ),
        t(
            "STATUS",
            "status",
            Key::Rank(
                "status",
                &[
                    "OPEN",
                    "IN_PROGRESS",
                    "BLOCKED",
                    "DONE",
                    "VERIFIED",
                    "CANCELLED",
                ],
            ),
        ),
        t("UPDATED_AT", "updatedAt", Key::Text("updatedAt")),
        Case {
            list: "assignments",
            filter_type: "AssignmentFilter",
            filter: json!({}),
            fields: "startsOn",
            field: "STARTS_ON",
            key: Key::Text("startsOn"),
        },
        Case {
            list: "assignments",
            filter_type: "AssignmentFilter",
            filter: json!({}),
            fields: "endsOn",
            field: "ENDS_ON",
            key: Key::DateOr("endsOn", "9999-12-31"),
        },
        Case {
            list: "waterQualityTests",
            filter_type: "WaterQualityTestFilter",
            filter: json!({ "within": district }),
            fields: "sampledOn",
            field: "SAMPLED_ON",
            key: Key::Text("sampledOn"),
        },
        Case {
            list: "organisations",
            filter_type: "OrganisationFilter",
            filter: json!({}),
            fields: "name",
            field: "NAME",
            key: Key::Text("name"),
        },
    ]
}

#[tokio::test]
async fn every_ordering_walks_every_row_once_in_order_both_ways() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend.clone()).await;
        let district = app
            .data(
                "{ districts(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await["districts"]["edges"][0]["node"]["id"]
            .clone();
        for case in cases(&district) {
            // Every row, in id order, is what each ordering must see.
            let all = walk(
                &app,
                case.list,
                case.filter_type,
                &case.filter,
                "",
                &json!({ "field": "ID" }),
                100,
                true,
            )
            .await;
            let mut expected: Vec<i64> = all
                .iter()
                .map(|n| number(n["id"].as_str().expect("id")))
                .collect();
            expected.sort();
            assert!(
                expected.len() > 14,
                "{}: the walk needs several pages, got {}",
                case.list,
                expected.len()
            );
            for direction in ["ASC", "DESC"] {
                let order = json!({ "field": case.field, "direction": direction });
                let what = format!(
                    "{} {} {direction} on {}",
                    case.list,
                    case.field,
                    backend.name()
                );
                let forward = walk(
                    &app,
                    case.list,
                    case.filter_type,
                    &case.filter,
                    case.fields,
                    &order,
                    7,
                    true,
                )
                .await;
                let mut seen: Vec<i64> = forward
                    .iter()
                    .map(|n| number(n["id"].as_str().expect("id")))
                    .collect();
                seen.sort();
                assert_eq!(seen, expected, "{what}: a row is missing or seen twice");
                for pair in forward.windows(2) {
                    let a = (
                        key_of(&pair[0], case.key),
                        number(pair[0]["id"].as_str().expect("id")),
                    );
                    let b = (
                        key_of(&pair[1], case.key),
                        number(pair[1]["id"].as_str().expect("id")),
                    );
                    let in_order = if direction == "ASC" { a < b } else { a > b };
                    assert!(in_order, "{what}: {:?} before {:?}", pair[0], pair[1]);
                }
                let backward = walk(
                    &app,
                    case.list,
                    case.filter_type,
                    &case.filter,
                    case.fields,
                    &order,
                    7,
                    false,
                )
                .await;
                assert_eq!(backward, forward, "{what}: the backward walk differs");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_cursor_belongs_to_its_ordering() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let q = "query($o: VillageOrder, $c: String) { villages(first: 2, orderBy: $o, after: $c) { pageInfo { endCursor } } }";
        let by_coverage = json!({ "field": "COVERAGE" });
        let data = app.data(q, json!({ "o": by_coverage })).await;
        let cursor = data["villages"]["pageInfo"]["endCursor"].clone();
        for other in [
            json!({ "field": "COVERAGE", "direction": "DESC" }),
            json!({ "field": "NAME" }),
            Value::Null,
        ] {
            let err = app.error(q, json!({ "o": other, "c": cursor })).await;
            assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{other}: {err:#}");
            assert_eq!(err["extensions"]["argument"], "after", "{err:#}");
        }
    })
    .await;
}

/// The statement of one page of `order`, after `cursor` when given.
fn statement(
    svc: &Service,
    order: &Ordering,
    cursor: Option<Cursor>,
    backend: DbBackend,
) -> Statement {
    let req = PageRequest {
        after: cursor,
        first: Some(20),
        ..Default::default()
    };
    let (q, _, _) = page::page_query::<village::Entity>(
        svc.scoped::<village::Entity>().expect("scope"),
        &req,
        order,
    )
    .expect("query");
    q.build(backend)
}

fn task_statement(
    svc: &Service,
    order: &Ordering,
    cursor: Option<Cursor>,
    backend: DbBackend,
) -> Statement {
    let req = PageRequest {
        after: cursor,
        first: Some(20),
        ..Default::default()
    };
    let (q, _, _) =
        page::page_query::<task::Entity>(svc.scoped::<task::Entity>().expect("scope"), &req, order)
            .expect("query");
    q.build(backend)
}

/// What the database says about `stmt`: SQLite's query plan lines, or PostgreSQL's plan as
/// JSON after running it (so it carries the rows each node read). Sorting is disabled on
/// PostgreSQL so that a small test table cannot hide a missing index behind a cheap sort.
async fn plan(t: &TestDb, stmt: Statement) -> String {
    let backend = t.db.get_database_backend();
    if backend == DbBackend::Postgres {
        let txn = sea_orm::TransactionTrait::begin(&t.db)
            .await
            .expect("begin");
        txn.execute_unprepared("SET LOCAL enable_sort = off; SET LOCAL enable_seqscan = off")
            .await
            .expect("set");
        let explain = Statement::from_sql_and_values(
            backend,
            format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        let rows = txn.query_all_raw(explain).await.expect("explain");
        let out = rows[0]
            .try_get_by_index::<serde_json::Value>(0)
            .expect("plan")
            .to_string();
        txn.rollback().await.expect("rollback");
        out
    } else {
        let explain = Statement::from_sql_and_values(
            backend,
            format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            stmt.values.map(|v| v.0).unwrap_or_default(),
        );
        t.db.query_all_raw(explain)
            .await
            .expect("explain")
            .iter()
            .map(|r| r.try_get::<String>("", "detail").expect("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The rows each scan node of a PostgreSQL plan read (`Actual Rows` times loops), summed.
fn rows_read(plan: &Value) -> f64 {
    let mut total = 0.0;
    let node = if plan.is_array() {
        &plan[0]["Plan"]
    } else {
        plan
    };
    if node["Node Type"]
        .as_str()
        .is_some_and(|t| t.contains("Scan"))
    {
        total += node["Actual Rows"].as_f64().unwrap_or(0.0)
            * node["Actual Loops"].as_f64().unwrap_or(1.0);
    }
    if let Some(children) = node["Plans"].as_array() {
        for c in children {
            total += rows_read(c);
        }
    }
    total
}

#[tokio::test]
async fn a_deep_page_is_one_index_seek_like_the_first() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::demo(backend.clone()).await;
        let svc = Service::new(t.db.clone(), Principal::all_access());
        let db_backend = t.db.get_database_backend();
        let checks: Vec<(Ordering, &str, bool)> = vec![
            (
                VillageOrderField::Coverage.ordering(OrderDirection::Asc),
                "ix_village_order_coverage_key_id",
                true,
            ),
            (
                VillageOrderField::Name.ordering(OrderDirection::Desc),
                "ix_village_order_name_id",
                true,
            ),
            (
                VillageOrderField::LatestTestDate.ordering(OrderDirection::Desc),
                "ix_village_order_latest_test_on_id",
                true,
            ),
            (
                VillageOrderField::HgjStatus.ordering(OrderDirection::Asc),
                "ix_village_order_hgj_rank_id",
                true,
            ),
            (
                TaskOrderField::DueDate.ordering(OrderDirection::Asc),
                "ix_task_order_due_key_id",
                false,
            ),
            (
                TaskOrderField::Status.ordering(OrderDirection::Desc),
                "ix_task_order_status_rank_id",
                false,
            ),
        ];
        for (order, index, on_villages) in checks {
            // A real row near the end of the ordering: the cursor a client has on a deep page.
            let deep = if on_villages {
                let last = svc
                    .list::<village::Entity>(
                        sea_orm::Condition::all(),
                        PageRequest {
                            last: Some(30),
                            ..Default::default()
                        },
                        &order,
                    )
                    .await
                    .expect("last page");
                last.cursors[0].clone()
            } else {
                let last = svc
                    .list::<task::Entity>(
                        sea_orm::Condition::all(),
                        PageRequest {
                            last: Some(30),
                            ..Default::default()
                        },
                        &order,
                    )
                    .await
                    .expect("last page");
                last.cursors[0].clone()
            };
            let stmts = if on_villages {
                [
                    statement(&svc, &order, None, db_backend),
                    statement(&svc, &order, Some(deep), db_backend),
                ]
            } else {
                [
                    task_statement(&svc, &order, None, db_backend),
                    task_statement(&svc, &order, Some(deep), db_backend),
                ]
            };
            let mut reads = Vec::new();
            for (n, stmt) in stmts.into_iter().enumerate() {
                assert!(
                    !stmt.sql.to_uppercase().contains("OFFSET"),
                    "{}: {}",
                    order.name,
                    stmt.sql
                );
                let p = plan(&t, stmt).await;
                // SQLite's index on `name` alone already ends in the rowid, the id: as good.
                let through = p.contains(index)
                    || (db_backend == DbBackend::Sqlite
                        && p.contains("USING INDEX ix_village_name"));
                assert!(
                    through,
                    "{} page {n} on {}: not through {index}:\n{p}",
                    order.name,
                    backend.name()
                );
                if db_backend == DbBackend::Postgres {
                    let v: Value = serde_json::from_str(&p).expect("json");
                    assert!(!p.contains("\"Sort\""), "{}: sorts:\n{p}", order.name);
                    reads.push(rows_read(&v));
                } else {
                    assert!(
                        !p.contains("TEMP B-TREE"),
                        "{} page {n}: sorts:\n{p}",
                        order.name
                    );
                    if n == 1 {
                        assert!(
                            p.contains("SEARCH"),
                            "{}: the deep page scans instead of seeking:\n{p}",
                            order.name
                        );
                    }
                }
            }
            if db_backend == DbBackend::Postgres {
                // Both pages read the page and one row more, wherever they start.
                assert!(
                    reads.iter().all(|r| *r <= 21.0),
                    "{}: rows read per page {reads:?}",
                    order.name
                );
            }
        }
    })
    .await;
}
