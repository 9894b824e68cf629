//! `createTasks` and `transitionTasks`: every item gets its own result or error, checked
//! exactly as the single mutation checks it (row scope, rights, the state machine, versions);
//! not atomic, each item is its own write; atomic, all items or none; item keys replay.

use api::principal::Role;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, each_backend, global_id};

const CREATE_MANY: &str =
    "mutation($items: [CreateTaskInput!]!, $atomic: Boolean = false, $key: String) {
    createTasks(items: $items, atomic: $atomic, clientMutationId: $key) { clientMutationId results {
        index clientMutationId replayed rolledBack
        task { id version status title village { id } }
        error { code message field currentVersion } } } }";
const MOVE_MANY: &str =
    "mutation($items: [TransitionTaskInput!]!, $atomic: Boolean = false, $key: String) {
    transitionTasks(items: $items, atomic: $atomic, clientMutationId: $key) { results {
        index clientMutationId replayed rolledBack
        task { id version status }
        error { code message field currentVersion } } } }";
const CREATE: &str =
    "mutation($in: CreateTaskInput!) { createTask(input: $in) { task { id version status } } }";
const MOVE: &str = "mutation($id: ID!, $v: Int!, $to: TaskStatus!, $key: String) {
    transitionTask(id: $id, expectedVersion: $v, to: $to, clientMutationId: $key) { task { id version status } } }";

/// (tasks, task_event, audit_log, event_log) row counts.
async fn written(app: &TestApp) -> (i64, i64, i64, i64) {
    let sql = "SELECT (SELECT count(*) FROM task) AS t, (SELECT count(*) FROM task_event) AS h, \
               (SELECT count(*) FROM audit_log) AS a, (SELECT count(*) FROM event_log) AS e";
    let row = app
        .t
        .db
        .query_one_raw(Statement::from_string(app.t.db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("row");
    (
        row.try_get("", "t").expect("t"),
        row.try_get("", "h").expect("h"),
        row.try_get("", "a").expect("a"),
        row.try_get("", "e").expect("e"),
    )
}

/// The id and code of `dept`'s organisation in Chhattisgarh.
async fn department(app: &TestApp, dept: &str) -> (Value, String) {
    department_in(app, dept, 22).await
}

/// The id and code of `dept`'s organisation in the state with LGD code `state`.
async fn department_in(app: &TestApp, dept: &str, state: i32) -> (Value, String) {
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
        .find(|o| o["state"]["lgdCode"] == state)
        .expect("organisation in the state")
        .clone();
    (
        org["id"].clone(),
        org["code"].as_str().expect("code").to_owned(),
    )
}

/// The first village of district `lgd`.
async fn village_in(app: &TestApp, lgd: i32) -> Value {
    let d = app
        .data(
            "query($c: Int!) { district(lgdCode: $c) { id } }",
            json!({ "c": lgd }),
        )
        .await["district"]["id"]
        .clone();
    app.data(
        "query($d: ID!) { villages(first: 1, filter: { within: $d }) { nodes { id } } }",
        json!({ "d": d }),
    )
    .await["villages"]["nodes"][0]["id"]
        .clone()
}

/// A new OPEN task on `village` assigned to `assignee`, raised by the administrator.
async fn task(app: &TestApp, village: &Value, assignee: &Value) -> Value {
    app.data(
        CREATE,
        json!({ "in": { "kind": "IEC", "title": "Wall painting", "village": village, "assignee": assignee } }),
    )
    .await["createTask"]["task"]["id"]
        .clone()
}

fn item(v: &Value, i: usize) -> &Value {
    &v[i]
}

async fn status_of(app: &TestApp, id: &Value) -> (String, i64) {
    let t = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Task { status version } } }",
            json!({ "id": id }),
        )
        .await;
    (
        t["node"]["status"].as_str().expect("status").to_owned(),
        t["node"]["version"].as_i64().expect("version"),
    )
}

#[tokio::test]
async fn a_batch_that_is_not_atomic_writes_each_valid_item_and_says_why_the_others_failed() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let raipur = village_in(&app, 387).await;
        let indore = village_in(&app, 437).await;
        // A Raipur coordinator: Indore (Madhya Pradesh) is out of its reach.
        let coordinator = app
            .token(ClientSpec::new(Role::DistrictCoordinator).districts(&[387]))
            .await;
        let before = written(&app).await;
        let res = app
            .post_as(
                &coordinator,
                CREATE_MANY,
                json!({ "items": [
                    { "kind": "IEC", "title": "Wall painting", "village": raipur, "assignee": phed, "clientMutationId": "c-0" },
                    { "kind": "IEC", "title": "  ", "village": raipur, "assignee": phed },
                    { "kind": "IEC", "title": "Out of reach", "village": indore, "assignee": phed },
                    { "kind": "IEC", "title": "Bad id", "village": "not-an-id", "assignee": phed },
                    { "kind": "VAP", "title": "Village action plan", "village": raipur, "assignee": phed },
                ] }),
            )
            .await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let results = &res["data"]["createTasks"]["results"];
        assert_eq!(results.as_array().expect("results").len(), 5);
        for (i, r) in results.as_array().expect("results").iter().enumerate() {
            assert_eq!(r["index"], i, "{r:#}");
            assert_eq!(r["rolledBack"], false);
        }
        assert_eq!(item(results, 0)["clientMutationId"], "c-0");
        assert_eq!(item(results, 0)["task"]["status"], "OPEN");
        assert_eq!(item(results, 0)["task"]["village"]["id"], raipur);
        assert!(item(results, 0)["error"].is_null());
        assert_eq!(item(results, 1)["error"]["code"], "BAD_USER_INPUT");
        assert_eq!(item(results, 1)["error"]["field"], "items.1.title");
        assert!(item(results, 1)["task"].is_null());
        assert_eq!(
            item(results, 2)["error"]["code"], "NOT_FOUND",
            "row scope refuses the item as createTask would: {results:#}"
        );
        assert_eq!(item(results, 3)["error"]["field"], "items.3.village");
        assert_eq!(item(results, 4)["task"]["status"], "OPEN");
        let after = written(&app).await;
        assert_eq!(after.0, before.0 + 2, "two tasks written");
        assert_eq!(after.2, before.2 + 2, "one audit record each");
        assert_eq!(after.3, before.3 + 2, "one event each");

        // Moves: legal, illegal, stale, malformed, out of reach, and the same task again.
        let first = item(results, 0)["task"]["id"].clone();
        let second = item(results, 4)["task"]["id"].clone();
        let stale = task(&app, &raipur, &phed).await;
        let (mp_phed, _) = department_in(&app, "PHED", 23).await;
        let far = task(&app, &indore, &mp_phed).await;
        let before = written(&app).await;
        let res = app
            .post_as(
                &coordinator,
                MOVE_MANY,
                json!({ "items": [
                    { "id": first, "expectedVersion": 1, "to": "IN_PROGRESS" },
                    { "id": second, "expectedVersion": 1, "to": "DONE" },
                    { "id": stale, "expectedVersion": 7, "to": "IN_PROGRESS" },
                    { "id": "VGFzazo", "expectedVersion": 1, "to": "IN_PROGRESS" },
                    { "id": far, "expectedVersion": 1, "to": "IN_PROGRESS" },
                    { "id": first, "expectedVersion": 2, "to": "DONE" },
                    { "id": second, "expectedVersion": 1, "to": "CANCELLED" },
                ] }),
            )
            .await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let results = &res["data"]["transitionTasks"]["results"];
        assert_eq!(item(results, 0)["task"]["status"], "IN_PROGRESS");
        assert_eq!(item(results, 1)["error"]["code"], "BAD_USER_INPUT");
        assert_eq!(item(results, 1)["error"]["field"], "items.1.to");
        assert!(
            item(results, 1)["error"]["message"].as_str().expect("message").contains("IN_PROGRESS, CANCELLED"),
            "the legal moves are listed: {results:#}"
        );
        assert_eq!(item(results, 2)["error"]["code"], "CONFLICT");
        assert_eq!(item(results, 2)["error"]["currentVersion"], 1);
        assert_eq!(item(results, 3)["error"]["field"], "items.3.id");
        assert_eq!(item(results, 4)["error"]["code"], "NOT_FOUND");
        assert_eq!(item(results, 5)["task"]["status"], "DONE", "items run in order");
        assert_eq!(item(results, 5)["task"]["version"], 3);
        assert_eq!(item(results, 6)["error"]["field"], "items.6.note", "cancelling needs a reason");
        let after = written(&app).await;
        assert_eq!(after.1, before.1 + 2, "two history entries");
        assert_eq!(status_of(&app, &second).await, ("OPEN".to_owned(), 1));
        assert_eq!(status_of(&app, &stale).await, ("OPEN".to_owned(), 1));
    })
    .await;
}

#[tokio::test]
async fn an_atomic_batch_writes_every_item_or_none() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let raipur = village_in(&app, 387).await;
        let a = task(&app, &raipur, &phed).await;
        let b = task(&app, &raipur, &phed).await;
        let before = written(&app).await;
        let res = app
            .post(
                MOVE_MANY,
                json!({ "atomic": true, "items": [
                    { "id": a, "expectedVersion": 1, "to": "IN_PROGRESS", "clientMutationId": "atomic-a" },
                    { "id": b, "expectedVersion": 1, "to": "VERIFIED" },
                    { "id": b, "expectedVersion": 1, "to": "IN_PROGRESS" },
                ] }),
            )
            .await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let results = &res["data"]["transitionTasks"]["results"];
        for i in [0, 2] {
            let r = item(results, i);
            assert!(r["task"].is_null(), "{r:#}");
            assert_eq!(r["rolledBack"], true);
            assert_eq!(r["error"]["code"], "ROLLED_BACK");
            assert!(r["error"]["message"].as_str().expect("message").contains("item 1 failed"), "{r:#}");
        }
        assert_eq!(item(results, 1)["error"]["code"], "BAD_USER_INPUT");
        assert_eq!(item(results, 1)["error"]["field"], "items.1.to");
        assert_eq!(item(results, 1)["rolledBack"], false);
        assert_eq!(written(&app).await, before, "nothing was written");
        assert_eq!(status_of(&app, &a).await, ("OPEN".to_owned(), 1));

        // The rolled-back item's key is unused: the same key moves the task now.
        let res = app
            .post(
                MOVE_MANY,
                json!({ "atomic": true, "items": [
                    { "id": a, "expectedVersion": 1, "to": "IN_PROGRESS", "clientMutationId": "atomic-a" },
                    { "id": a, "expectedVersion": 2, "to": "DONE" },
                    { "id": b, "expectedVersion": 1, "to": "IN_PROGRESS" },
                ] }),
            )
            .await;
        let results = &res["data"]["transitionTasks"]["results"];
        assert!(results.as_array().expect("results").iter().all(|r| r["error"].is_null() && r["replayed"] == false), "{res:#}");
        assert_eq!(item(results, 1)["task"]["status"], "DONE");
        assert_eq!(status_of(&app, &a).await, ("DONE".to_owned(), 3));
        assert_eq!(status_of(&app, &b).await, ("IN_PROGRESS".to_owned(), 2));
        let after = written(&app).await;
        assert_eq!(after.1, before.1 + 3, "three history entries");
        assert_eq!(after.3, before.3 + 3, "three events");

        // Creating: all or nothing as well.
        let res = app
            .post(
                CREATE_MANY,
                json!({ "atomic": true, "items": [
                    { "kind": "IEC", "title": "One", "village": raipur, "assignee": phed },
                    { "kind": "IEC", "title": "Two", "village": raipur, "assignee": phed, "dueOn": "2001-01-01" },
                ] }),
            )
            .await;
        let results = &res["data"]["createTasks"]["results"];
        assert_eq!(item(results, 0)["error"]["code"], "ROLLED_BACK", "{res:#}");
        assert_eq!(item(results, 1)["error"]["field"], "items.1.dueOn");
        assert_eq!(written(&app).await, after, "no task was created");
        let res = app
            .post(
                CREATE_MANY,
                json!({ "atomic": true, "items": [
                    { "kind": "IEC", "title": "One", "village": raipur, "assignee": phed },
                    { "kind": "IEC", "title": "Two", "village": raipur, "assignee": phed },
                ] }),
            )
            .await;
        let results = res["data"]["createTasks"]["results"].as_array().expect("results").clone();
        assert!(results.iter().all(|r| r["task"]["status"] == "OPEN"), "{res:#}");
        assert_eq!(written(&app).await.0, after.0 + 2);
    })
    .await;
}

#[tokio::test]
async fn items_replay_by_their_own_key_and_batches_by_theirs() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let raipur = village_in(&app, 387).await;
        let a = task(&app, &raipur, &phed).await;
        let b = task(&app, &raipur, &phed).await;
        // A key first used by the single mutation replays as a batch item.
        let single = app.data(MOVE, json!({ "id": a, "v": 1, "to": "IN_PROGRESS", "key": "move-a" })).await;
        assert_eq!(single["transitionTask"]["task"]["version"], 2);
        let vars = json!({ "items": [
            { "id": a, "expectedVersion": 1, "to": "IN_PROGRESS", "clientMutationId": "move-a" },
            { "id": b, "expectedVersion": 1, "to": "IN_PROGRESS", "clientMutationId": "move-b" },
            { "id": b, "expectedVersion": 1, "to": "DONE", "clientMutationId": "move-b-done" },
        ] });
        let first = app.post(MOVE_MANY, vars.clone()).await;
        let results = &first["data"]["transitionTasks"]["results"];
        assert_eq!(item(results, 0)["replayed"], true, "{first:#}");
        assert_eq!(item(results, 0)["task"]["version"], 2);
        assert_eq!(item(results, 1)["replayed"], false);
        assert_eq!(item(results, 1)["task"]["status"], "IN_PROGRESS");
        assert_eq!(item(results, 2)["error"]["code"], "CONFLICT", "a failed item writes no key");
        let before = written(&app).await;
        let again = app.post(MOVE_MANY, vars).await;
        let results = &again["data"]["transitionTasks"]["results"];
        assert_eq!(item(results, 1)["replayed"], true);
        assert_eq!(item(results, 1)["task"], first["data"]["transitionTasks"]["results"][1]["task"]);
        assert_eq!(item(results, 2)["error"]["code"], "CONFLICT");
        assert_eq!(written(&app).await, before, "the retry writes nothing");

        // A batch key: items without their own key replay as KEY#INDEX.
        let c = task(&app, &raipur, &phed).await;
        let vars = json!({ "key": "batch-1", "items": [{ "id": c, "expectedVersion": 1, "to": "IN_PROGRESS" }] });
        let first = app.post(MOVE_MANY, vars.clone()).await;
        assert_eq!(first["data"]["transitionTasks"]["results"][0]["task"]["version"], 2, "{first:#}");
        let before = written(&app).await;
        let again = app.post(MOVE_MANY, vars).await;
        assert_eq!(again["data"]["transitionTasks"]["results"][0]["task"]["version"], 2, "{again:#}");
        assert_eq!(again["data"]["transitionTasks"]["results"][0]["replayed"], true);
        assert_eq!(written(&app).await, before);

        // An atomic batch's key returns the whole first result.
        let items = json!([
            { "kind": "IEC", "title": "Kept once", "village": raipur, "assignee": phed },
            { "kind": "VAP", "title": "Kept once too", "village": raipur, "assignee": phed },
        ]);
        let vars = json!({ "key": "batch-2", "atomic": true, "items": items });
        let first = app.post(CREATE_MANY, vars.clone()).await;
        assert!(first["data"]["createTasks"]["results"][1]["task"]["id"].is_string(), "{first:#}");
        let before = written(&app).await;
        let again = app.post(CREATE_MANY, vars).await;
        assert_eq!(again, first, "the retry gets the first result");
        assert_eq!(written(&app).await, before, "and writes nothing");
    })
    .await;
}

#[tokio::test]
async fn rights_are_checked_per_item_and_the_batch_has_limits() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let (health_id, health_code) = department(&app, "HEALTH").await;
        let raipur = village_in(&app, 387).await;
        let own = task(&app, &raipur, &health_id).await;
        let others = task(&app, &raipur, &phed).await;
        let health = app
            .token(ClientSpec::new(Role::Department).org(&health_code).states(&[22]))
            .await;
        let res = app
            .post_as(
                &health,
                MOVE_MANY,
                json!({ "items": [
                    { "id": own, "expectedVersion": 1, "to": "IN_PROGRESS" },
                    { "id": others, "expectedVersion": 1, "to": "IN_PROGRESS" },
                ] }),
            )
            .await;
        let results = &res["data"]["transitionTasks"]["results"];
        assert_eq!(item(results, 0)["task"]["status"], "IN_PROGRESS", "{res:#}");
        let refused = &item(results, 1)["error"];
        assert!(
            refused["code"] == "FORBIDDEN" || refused["code"] == "NOT_FOUND",
            "Health may not move PHED's task: {res:#}"
        );
        assert_eq!(status_of(&app, &others).await, ("OPEN".to_owned(), 1));

        // A role that writes no tasks is refused the whole batch.
        let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;
        let res = app
            .post_as(&dashboard, MOVE_MANY, json!({ "items": [{ "id": own, "expectedVersion": 2, "to": "DONE" }] }))
            .await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res:#}");
        assert!(res["data"].is_null() || res["data"]["transitionTasks"].is_null());

        // 1 to 100 items.
        let many: Vec<Value> = (0..101)
            .map(|_| json!({ "id": global_id("Task", 1), "expectedVersion": 1, "to": "IN_PROGRESS" }))
            .collect();
        let err = app.error(MOVE_MANY, json!({ "items": many })).await;
        assert_eq!(err["extensions"]["code"], "BAD_USER_INPUT", "{err:#}");
        assert_eq!(err["extensions"]["argument"], "items");
        let err = app.error(CREATE_MANY, json!({ "items": [] })).await;
        assert_eq!(err["extensions"]["argument"], "items", "{err:#}");
    })
    .await;
}

#[tokio::test]
async fn a_hundred_items_fit_in_one_batch() {
    let app = TestApp::demo(Backend::Sqlite).await;
    let (phed, _) = department(&app, "PHED").await;
    let raipur = village_in(&app, 387).await;
    let items: Vec<Value> = (0..100)
        .map(|n| json!({ "kind": "IEC", "title": format!("Wall painting {n}"), "village": raipur, "assignee": phed }))
        .collect();
    let before = written(&app).await;
    let res = app
        .post(CREATE_MANY, json!({ "items": items, "atomic": true }))
        .await;
    assert!(res.get("errors").is_none(), "{res:#}");
    let results = res["data"]["createTasks"]["results"]
        .as_array()
        .expect("results")
        .clone();
    assert_eq!(results.len(), 100);
    assert!(results.iter().all(|r| r["error"].is_null()));
    assert_eq!(written(&app).await.0, before.0 + 100);
}

/// Not a check: times 100 task creations as one batch (not atomic, atomic) and as two requests
/// of 50 aliased `createTask`s, side by side, 5 rounds; prints the medians (BENCHMARKS.md).
#[tokio::test]
#[ignore = "a measurement: cargo test -p tests --test integration bulk::batch_timings -- --ignored --nocapture"]
async fn batch_timings() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (phed, _) = department(&app, "PHED").await;
        let raipur = village_in(&app, 387).await;
        let item = |n: usize| json!({ "kind": "IEC", "title": format!("Wall painting {n}"), "village": raipur, "assignee": phed });
        let items: Vec<Value> = (0..100).map(item).collect();
        let aliased: String = (0..50)
            .map(|n| format!("t{n}: createTask(input: $i{n}) {{ task {{ id }} }}"))
            .collect::<Vec<_>>()
            .join(" ");
        let params: String = (0..50).map(|n| format!("$i{n}: CreateTaskInput!")).collect::<Vec<_>>().join(", ");
        let aliased = format!("mutation({params}) {{ {aliased} }}");
        let vars50: serde_json::Map<String, Value> = (0..50).map(|n| (format!("i{n}"), item(n))).collect();
        let mut times: [Vec<f64>; 3] = Default::default();
        for _ in 0..5 {
            for (k, times) in times.iter_mut().enumerate() {
                let start = std::time::Instant::now();
                match k {
                    0 | 1 => {
                        let res = app.post(CREATE_MANY, json!({ "items": items, "atomic": k == 1 })).await;
                        assert!(res.get("errors").is_none(), "{res:#}");
                    }
                    _ => {
                        for _ in 0..2 {
                            let res = app.post(&aliased, Value::Object(vars50.clone())).await;
                            assert!(res.get("errors").is_none(), "{res:#}");
                        }
                    }
                }
                times.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let [a, b, c] = &mut times;
        let (a, b, c) = (median(a), median(b), median(c));
        println!(
            "[{}] 100 tasks: createTasks {a:.0} ms, createTasks atomic {b:.0} ms, 2 x 50 aliased createTask {c:.0} ms (medians of 5)",
            app.t.backend.name()
        );
    })
    .await;
}
