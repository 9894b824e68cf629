//! The hot shapes read ahead (`graphql/lookahead.rs`): the bench's S4 in one statement and S1 in
//! two, with the same answers as the general (loader) path, the same row scope and the same
//! field rights.

use std::time::Duration;

use api::principal::{Role, Scope};
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, each_backend};

/// The bench's S4 (`bench/run.sh`), for a village by LGD code.
fn s4(lgd: &Value) -> String {
    format!(
        "{{ village(lgdCode: {lgd}) {{ name households latestWaterQualityTest {{ sampledOn contaminated results {{ parameter value exceeds }} }} }} }}"
    )
}

/// The same selection through `node(id:)`, which is not a recognised shape: the loaders.
fn s4_general(id: &Value) -> String {
    format!(
        "{{ node(id: {id}) {{ ... on Village {{ name households latestWaterQualityTest {{ sampledOn contaminated results {{ parameter value exceeds }} }} }} }} }}"
    )
}

/// The bench's S1.
const S1: &str = "{ villages(first: 50) { edges { node { id name households tapConnections coveragePercent schemes { code status } tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) { title status dueOn } } } } }";

/// S1's villages through `nodes(ids:)`: the loaders.
fn s1_general(ids: &[Value]) -> String {
    format!(
        "{{ nodes(ids: {}) {{ ... on Village {{ id name households tapConnections coveragePercent schemes {{ code status }} tasks(status: [OPEN, IN_PROGRESS, BLOCKED]) {{ title status dueOn }} }} }} }}",
        Value::Array(ids.to_vec())
    )
}

/// Waits until tokens are accepted from memory (`auth/gate.rs`), so what is counted is the
/// query's own statements.
async fn settled(app: &TestApp) {
    for _ in 0..200 {
        if app.auth.gate.is_current() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the revocation sets never became current");
}

/// The reply to `query` with `token` (which must be accepted) and the statements it cost; the
/// same query is sent twice first, so the token is known and the count is steady.
async fn counted(app: &TestApp, token: &str, query: &str) -> (Value, usize) {
    app.post_as(token, query, json!({})).await;
    let before = app.t.statement_count();
    let reply = app.post_as(token, query, json!({})).await;
    (reply, app.t.statement_count() - before)
}

/// A token for a sector partner, and the LGD code and id of a village whose latest test has
/// results and of one never tested.
struct Fixture {
    partner: String,
    tested: (Value, Value),
    untested: (Value, Value),
}

async fn fixture(app: &TestApp) -> Fixture {
    let partners = app
        .data(
            "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 1) { edges { node { code } } } }",
            json!({}),
        )
        .await;
    let code = partners["organisations"]["edges"][0]["node"]["code"]
        .as_str()
        .expect("a sector partner in the demo data")
        .to_owned();
    let partner = app.token(ClientSpec::new(Role::Partner).org(&code)).await;
    let villages = app
        .data(
            "{ villages(first: 100) { edges { node { id lgdCode waterQualityTests { id } latestWaterQualityTest { results { parameter } } } } } }",
            json!({}),
        )
        .await;
    let nodes: Vec<&Value> = villages["villages"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    let pick = |v: &&Value| (v["lgdCode"].clone(), v["id"].clone());
    // Tested more than once where there is one, so "latest" has a choice to make.
    let with_results = |v: &&&Value| {
        v["latestWaterQualityTest"]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    };
    let tested = nodes
        .iter()
        .filter(with_results)
        .max_by_key(|v| v["waterQualityTests"].as_array().map_or(0, Vec::len))
        .map(pick)
        .expect("a demo village tested, with results");
    let untested = nodes
        .iter()
        .find(|v| {
            v["waterQualityTests"]
                .as_array()
                .is_some_and(|t| t.is_empty())
        })
        .map(pick)
        .expect("a demo village never tested");
    Fixture {
        partner,
        tested,
        untested,
    }
}

#[tokio::test]
async fn the_hot_shapes_cost_one_and_two_statements_and_answer_as_the_loaders_do() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        settled(&app).await;
        let f = fixture(&app).await;
        // Let the partner's new client reach the in-memory sets.
        tokio::time::sleep(Duration::from_millis(500)).await;

        for (what, (lgd, id)) in [("tested", &f.tested), ("untested", &f.untested)] {
            let (fast, spent) = counted(&app, &app.admin_token, &s4(lgd)).await;
            assert!(fast.get("errors").is_none(), "[{db}] S4 {what}: {fast}");
            eprintln!("[{db}] S4 on a {what} village: {spent} statement(s)");
            assert_eq!(
                spent, 1,
                "[{db}] S4 on a {what} village: {spent} statements"
            );
            let general = app.data(&s4_general(id), json!({})).await;
            assert_eq!(
                fast["data"]["village"], general["node"],
                "[{db}] S4 on a {what} village differs from the loaders' answer"
            );
            let latest = &fast["data"]["village"]["latestWaterQualityTest"];
            match what {
                "tested" => assert!(
                    latest["results"].as_array().is_some_and(|r| !r.is_empty()),
                    "[{db}] {latest}"
                ),
                _ => assert!(latest.is_null(), "[{db}] {latest}"),
            }
        }

        // The partner's page, and the administrator's (which holds villages without schemes
        // or open tasks).
        for (who, token) in [("partner", &f.partner), ("administrator", &app.admin_token)] {
            let (fast, spent) = counted(&app, token, S1).await;
            assert!(fast.get("errors").is_none(), "[{db}] S1 {who}: {fast}");
            eprintln!("[{db}] S1 as {who}: {spent} statement(s)");
            assert!(spent <= 2, "[{db}] S1 as {who}: {spent} statements");
            let page: Vec<Value> = fast["data"]["villages"]["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone())
                .collect();
            assert!(!page.is_empty(), "[{db}] S1 as {who}: an empty page");
            let ids: Vec<Value> = page.iter().map(|v| v["id"].clone()).collect();
            let general = app.post_as(token, &s1_general(&ids), json!({})).await;
            assert!(general.get("errors").is_none(), "[{db}] {general}");
            assert_eq!(
                Value::Array(page.clone()),
                general["data"]["nodes"],
                "[{db}] S1 as {who} differs from the loaders' answer"
            );
            if who == "administrator" {
                let empty = |field: &str| {
                    page.iter()
                        .any(|v| v[field].as_array().is_some_and(|a| a.is_empty()))
                };
                let full = |field: &str| {
                    page.iter()
                        .any(|v| v[field].as_array().is_some_and(|a| !a.is_empty()))
                };
                assert!(
                    empty("schemes") && full("schemes") && empty("tasks") && full("tasks"),
                    "[{db}] the page should hold villages with and without schemes and tasks"
                );
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_partner_reads_ahead_only_its_own_villages() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        let f = fixture(&app).await;
        // The partner's villages are those of its organisation's active assignments.
        let reply = app.post_as(&f.partner, S1, json!({})).await;
        assert!(reply.get("errors").is_none(), "[{db}] {reply}");
        let mine: Vec<Value> = reply["data"]["villages"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        let everyone = app
            .data(
                "{ villages(first: 100) { edges { node { id lgdCode assignments { organisation { id } } } } } }",
                json!({}),
            )
            .await;
        let all = everyone["villages"]["edges"].as_array().expect("edges");
        let viewer = app
            .post_as(&f.partner, "{ viewer { organisationId } }", json!({}))
            .await;
        let org = viewer["data"]["viewer"]["organisationId"].clone();
        assert!(!org.is_null(), "[{db}] {viewer}");
        let assigned = |v: &Value| {
            v["assignments"]
                .as_array()
                .is_some_and(|a| a.iter().any(|a| a["organisation"]["id"] == org))
        };
        assert!(!mine.is_empty(), "[{db}] the partner reaches no village");
        for id in &mine {
            let q = format!(
                "{{ node(id: {id}) {{ ... on Village {{ assignments {{ organisation {{ id }} }} }} }} }}"
            );
            let v = app.data(&q, json!({})).await;
            assert!(
                assigned(&v["node"]),
                "[{db}] the partner read ahead village {id}, not assigned to it"
            );
        }
        // A village outside its reach is absent, read ahead or not.
        let lgd = all
            .iter()
            .map(|e| &e["node"])
            .find(|v| !assigned(v))
            .expect("a village the partner does not reach")["lgdCode"]
            .clone();
        let reply = app.post_as(&f.partner, &s4(&lgd), json!({})).await;
        assert!(reply.get("errors").is_none(), "[{db}] {reply}");
        assert!(reply["data"]["village"].is_null(), "[{db}] {reply}");
    })
    .await;
}

#[tokio::test]
async fn without_quality_read_the_latest_test_is_still_refused() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        let f = fixture(&app).await;
        let token = app
            .token(
                ClientSpec::new(Role::StateAdmin)
                    .states(&[22, 23])
                    .scopes(&[Scope::VillagesRead, Scope::TasksRead]),
            )
            .await;
        let (lgd, _) = &f.tested;
        let reply = app.post_as(&token, &s4(lgd), json!({})).await;
        let village = &reply["data"]["village"];
        assert!(village["name"].is_string(), "[{db}] {reply}");
        assert!(
            village["latestWaterQualityTest"].is_null(),
            "[{db}] {reply}"
        );
        let errors = reply["errors"].as_array().expect("an error");
        assert_eq!(errors.len(), 1, "[{db}] {reply}");
        assert_eq!(
            errors[0]["extensions"]["code"], "FORBIDDEN",
            "[{db}] {reply}"
        );
        assert_eq!(
            errors[0]["path"],
            json!(["village", "latestWaterQualityTest"]),
            "[{db}] {reply}"
        );
        // A dashboard reads schemes but no task: S1 reads its schemes ahead and each village's
        // tasks are still refused (a non-null field, so the refusal empties the page, as the
        // loaders' refusal did).
        let dashboard = app
            .token(ClientSpec::new(Role::Dashboard).states(&[22, 23]))
            .await;
        let reply = app.post_as(&dashboard, S1, json!({})).await;
        let errors = reply["errors"].as_array().expect("errors");
        assert!(
            !errors.is_empty()
                && errors.iter().all(|e| e["extensions"]["code"] == "FORBIDDEN"
                    && e["path"].as_array().and_then(|p| p.last()) == Some(&json!("tasks"))),
            "[{db}] {reply}"
        );
        let schemes_only =
            "{ villages(first: 50) { edges { node { id schemes { code status } } } } }";
        let reply = app.post_as(&dashboard, schemes_only, json!({})).await;
        assert!(reply.get("errors").is_none(), "[{db}] {reply}");
        let ids: Vec<Value> = reply["data"]["villages"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        assert!(!ids.is_empty(), "[{db}] {reply}");
        let general = app
            .post_as(
                &dashboard,
                &format!(
                    "{{ nodes(ids: {}) {{ ... on Village {{ id schemes {{ code status }} }} }} }}",
                    Value::Array(ids)
                ),
                json!({}),
            )
            .await;
        let page: Vec<Value> = reply["data"]["villages"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .collect();
        assert_eq!(
            Value::Array(page),
            general["data"]["nodes"],
            "[{db}] {general}"
        );
    })
    .await;
}

/// A page of villages selecting `sel` on each, read ahead (`villages`) and through the loaders
/// (`nodes(ids:)`): the same villages must get the same answer, and the page at most two
/// statements (more would mean a child fell back to its loader). Returns the page.
async fn page_as_the_loaders(
    app: &TestApp,
    token: &str,
    args: &str,
    sel: &str,
    variables: Value,
) -> Vec<Value> {
    let db = app.t.backend.name();
    let (params, vars) = match variables.as_object().is_some_and(|v| !v.is_empty()) {
        true => ("($s: [TaskStatus!])", variables),
        false => ("", json!({})),
    };
    let fast =
        format!("query{params} {{ villages({args}) {{ edges {{ node {{ id {sel} }} }} }} }}");
    app.post_as(token, &fast, vars.clone()).await;
    // The fewest of three: a token whose client was just created can still cost a statement
    // while the in-memory sets reload (auth/gate.rs); a child sent to its loader costs one on
    // every try.
    let mut spent = usize::MAX;
    let mut reply = Value::Null;
    for _ in 0..3 {
        let before = app.t.statement_count();
        reply = app.post_as(token, &fast, vars.clone()).await;
        spent = spent.min(app.t.statement_count() - before);
    }
    assert!(reply.get("errors").is_none(), "[{db}] {sel}: {reply}");
    assert!(spent <= 2, "[{db}] {sel}: {spent} statements");
    let page: Vec<Value> = reply["data"]["villages"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert!(!page.is_empty(), "[{db}] {sel}: an empty page");
    let ids: Vec<Value> = page.iter().map(|v| v["id"].clone()).collect();
    let general = format!(
        "query{params} {{ nodes(ids: {}) {{ ... on Village {{ id {sel} }} }} }}",
        Value::Array(ids)
    );
    let general = app.post_as(token, &general, vars).await;
    assert!(general.get("errors").is_none(), "[{db}] {sel}: {general}");
    assert_eq!(
        Value::Array(page.clone()),
        general["data"]["nodes"],
        "[{db}] {sel}: the page read ahead differs from the loaders' answer"
    );
    page
}

/// How many tasks a page's villages list under `key`.
fn tasks_on(page: &[Value], key: &str) -> usize {
    page.iter()
        .map(|v| v[key].as_array().map_or(0, Vec::len))
        .sum()
}

#[tokio::test]
async fn a_pages_children_keep_the_roles_scope_and_every_status_filter() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        settled(&app).await;
        let admin = app.admin_token.clone();
        let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
        let page = format!("first: 50, filter: {{ within: {cg} }}");
        let page = page.as_str();
        let every = page_as_the_loaders(&app, &admin, page, "tasks { id status }", json!({})).await;
        let statuses: Vec<&str> = every
            .iter()
            .flat_map(|v| v["tasks"].as_array().expect("tasks"))
            .filter_map(|t| t["status"].as_str())
            .collect();
        assert!(
            statuses.contains(&"OPEN") && statuses.iter().any(|s| *s != "OPEN"),
            "[{db}] the page should hold open tasks and others: {statuses:?}"
        );
        // Aliases with different filters, a filter beside none, an empty list, a single value
        // (coerced to a list), and a variable: each read ahead once for all the fields.
        for sel in [
            "open: tasks(status: [OPEN]) { id } done: tasks(status: [DONE, VERIFIED]) { id }",
            "open: tasks(status: OPEN) { id } all: tasks { id status }",
            "none: tasks(status: []) { id } blocked: tasks(status: [BLOCKED, OPEN]) { id title }",
        ] {
            page_as_the_loaders(&app, &admin, page, sel, json!({})).await;
        }
        let open = page_as_the_loaders(
            &app,
            &admin,
            page,
            "mine: tasks(status: $s) { id status }",
            json!({ "s": ["OPEN"] }),
        )
        .await;
        assert!(
            tasks_on(&open, "mine") > 0 && tasks_on(&open, "mine") < tasks_on(&every, "tasks"),
            "[{db}] the variable's filter should keep some tasks and drop others"
        );

        // A department reads its own tasks of the page's villages, not every task on them.
        let orgs = app
            .data(
                "{ organisations(filter: { kind: DEPARTMENT, department: PHED }, first: 100) {
                    edges { node { code state { lgdCode } } } } }",
                json!({}),
            )
            .await;
        let phed = orgs["organisations"]["edges"]
            .as_array()
            .expect("organisations")
            .iter()
            .find(|e| e["node"]["state"]["lgdCode"] == 22)
            .and_then(|e| e["node"]["code"].as_str())
            .expect("a PHED department in Chhattisgarh")
            .to_owned();
        let department = app
            .token(ClientSpec::new(Role::Department).org(&phed).states(&[22]))
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let theirs =
            page_as_the_loaders(&app, &department, page, "tasks { id status }", json!({})).await;
        assert!(
            tasks_on(&theirs, "tasks") > 0
                && tasks_on(&theirs, "tasks") < tasks_on(&every, "tasks"),
            "[{db}] the department should see some of the page's tasks, not all: {} of {}",
            tasks_on(&theirs, "tasks"),
            tasks_on(&every, "tasks")
        );
    })
    .await;
}

/// A page's schemes and tasks whose selection is plain values only are answered in one pass
/// (`graphql/types/plain.rs`); inside a fragment they go through the resolvers. Both must make
/// the same response text: values, nulls, key order, aliases, a repeated key, `__typename`.
#[tokio::test]
async fn plain_schemes_and_tasks_answer_as_their_resolvers_do() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let db = app.t.backend.name();
        let task = "version id kind title description status priority dueOn createdAt updatedAt
            __typename again: title title";
        let scheme = "version id code name nameHi type status implementingAgency sanctionedOn
            targetCompletionOn completedOn fhtcTarget workOrderOn commissionedOn handedOverOn
            __typename c: code";
        let query = |scheme: &str, task: &str| {
            format!(
                "{{ villages(first: 50) {{ edges {{ node {{ id schemes {{ {scheme} }}
                    tasks {{ {task} }} open: tasks(status: [OPEN]) {{ {task} }} }} }} }} }}"
            )
        };
        let text = |query: String| {
            let app = &app;
            async move {
                let reply = app
                    .send(app.graphql_request(Some(&app.admin_token), &query, json!({})))
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                reply.body
            }
        };
        let plain = text(query(scheme, task)).await;
        let resolved = text(query(
            &format!("... on Scheme {{ {scheme} }}"),
            &format!("... on Task {{ {task} }}"),
        ))
        .await;
        assert_eq!(plain, resolved, "[{db}]");
        let answer: Value = serde_json::from_str(&plain).expect("json");
        assert!(answer.get("errors").is_none(), "[{db}] {plain}");
        let nodes: Vec<&Value> = answer["data"]["villages"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| &e["node"])
            .collect();
        let tasks: Vec<&Value> = nodes
            .iter()
            .flat_map(|v| v["tasks"].as_array().expect("tasks"))
            .collect();
        let schemes = nodes
            .iter()
            .flat_map(|v| v["schemes"].as_array().expect("schemes"));
        assert!(
            tasks.iter().any(|t| t["dueOn"].is_null())
                || tasks.iter().any(|t| t["dueOn"].is_string()),
            "[{db}] the page should hold tasks: {plain}"
        );
        assert!(
            tasks
                .iter()
                .all(|t| t["__typename"] == "Task" && t["again"] == t["title"]),
            "[{db}] {plain}"
        );
        assert!(
            schemes.clone().count() > 0 && schemes.clone().all(|s| s["c"] == s["code"]),
            "[{db}] {plain}"
        );
        assert!(
            schemes.clone().any(|s| s["completedOn"].is_null()),
            "[{db}] some scheme should be unfinished: {plain}"
        );
    })
    .await;
}
