//! A row outside a principal's reach does not exist for it (ACCESS.md): lookups return null,
//! lists leave it out, counts do not include it, nested fields and aggregates do not show it,
//! and errors never name it. Probed here with a sector partner (reach: the villages of its
//! active assignments) and a HEALTH department (reach: tasks assigned to or raised by it).

use std::collections::BTreeSet;

use api::principal::Role;
use chrono::Days;
use entities::{assignment, organisation, village};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, each_backend};

/// Most pages a full listing may take (the demo data has about 2,500 villages).
const MAX_PAGES: usize = 100;

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

fn ids<'a>(nodes: impl IntoIterator<Item = &'a Value>) -> BTreeSet<String> {
    nodes.into_iter().filter(|n| !n.is_null()).map(id).collect()
}

/// Every node of the root connection `field` matching `filter`, page by page.
async fn every(
    app: &TestApp,
    token: &str,
    field: &str,
    filter_type: &str,
    filter: Value,
    selection: &str,
) -> Vec<Value> {
    let query = format!(
        "query($f: {filter_type}, $after: String) {{ {field}(filter: $f, first: 100, after:
            $after) {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {selection} }}
            }} }} }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    for _ in 0..MAX_PAGES {
        let res = app
            .post_as(token, &query, json!({ "f": filter, "after": after }))
            .await;
        assert!(
            res.get("errors").is_none(),
            "listing {field} failed: {res:#}"
        );
        let page = &res["data"][field];
        out.extend(
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            return out;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    panic!("{field} did not end within {MAX_PAGES} pages");
}

async fn total(app: &TestApp, token: &str, query: &str, vars: Value, field: &str) -> u64 {
    let res = app.post_as(token, query, vars).await;
    assert!(
        res.get("errors").is_none(),
        "counting {field} failed: {res:#}"
    );
    res["data"][field]["totalCount"]
        .as_u64()
        .unwrap_or_else(|| panic!("no totalCount: {res:#}"))
}

/// A sector partner with active assignments, its token, and the villages they cover.
struct Partner {
    id: String,
    code: String,
    token: String,
    /// Ids of the villages its active assignments cover (its whole reach).
    reach: BTreeSet<String>,
}

async fn partner(app: &TestApp) -> Partner {
    let orgs = app
        .data(
            "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 100) { edges { node {
                id code } } } }",
            json!({}),
        )
        .await;
    for org in orgs["organisations"]["edges"]
        .as_array()
        .expect("organisations")
    {
        let org = &org["node"];
        let filter = json!({ "organisation": org["id"], "active": true });
        let active = every(
            app,
            &app.admin_token,
            "assignments",
            "AssignmentFilter",
            filter,
            "village { id }",
        )
        .await;
        let reach: BTreeSet<String> = active.iter().map(|a| id(&a["village"])).collect();
        if reach.len() >= 2 {
            let code = org["code"].as_str().expect("code").to_owned();
            let token = app.token(ClientSpec::new(Role::Partner).org(&code)).await;
            return Partner {
                id: id(org),
                code,
                token,
                reach,
            };
        }
    }
    panic!("the demo data has no sector partner with two or more assigned villages: {orgs:#}");
}

const VILLAGE_DETAIL: &str = "query($id: ID!) { node(id: $id) { ... on Village { id lgdCode
    name nameHi state { lgdCode } district { id lgdCode } block { id lgdCode } gramPanchayat
    { id lgdCode villages { id } } schemes { code } tasks { id assignee { id } }
    waterQualityTests { id } } } }";

async fn village_detail(app: &TestApp, village: &str) -> Value {
    app.data(VILLAGE_DETAIL, json!({ "id": village })).await["node"].clone()
}

/// W, a village the partner reaches, and V, one it does not: a neighbour of W where possible
/// (same gram panchayat, then block, then district), with no task assigned to the partner, and
/// preferably with tasks, water-quality tests and schemes, so the probes have something to leak.
async fn covered_and_uncovered(app: &TestApp, p: &Partner) -> (Value, Value) {
    const AROUND: &str =
        "query($b: ID!, $d: ID!) { block: node(id: $b) { ... on Block { villages { id } } }
            district: node(id: $d) { ... on District { blocks { villages { id } } } } }";
    let mut best: Option<(u8, Value, Value)> = None;
    for w in p.reach.iter().take(3) {
        let w = village_detail(app, w).await;
        let around = app
            .data(
                AROUND,
                json!({ "b": w["block"]["id"], "d": w["district"]["id"] }),
            )
            .await;
        let in_district = around["district"]["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|b| b["villages"].as_array().into_iter().flatten());
        let levels = [
            (
                3,
                w["gramPanchayat"]["villages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            ),
            (
                2,
                around["block"]["villages"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .collect(),
            ),
            (1, in_district.collect()),
        ];
        for (near, villages) in levels {
            let outside: Vec<String> = villages
                .into_iter()
                .map(id)
                .filter(|v| !p.reach.contains(v))
                .take(8)
                .collect();
            for v in outside {
                let v = village_detail(app, &v).await;
                let tasks = v["tasks"].as_array().expect("tasks");
                if tasks.iter().any(|t| t["assignee"]["id"] == p.id.as_str()) {
                    continue;
                }
                let tested = v["waterQualityTests"]
                    .as_array()
                    .is_some_and(|t| !t.is_empty());
                let served = v["schemes"].as_array().is_some_and(|s| !s.is_empty());
                let score =
                    near + u8::from(!tasks.is_empty()) + u8::from(tested) + u8::from(served);
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, w.clone(), v));
                }
            }
        }
        if best.as_ref().is_some_and(|(s, _, _)| *s >= 4) {
            break;
        }
    }
    let (_, w, v) =
        best.expect("a village in the district of one of the partner's that it is not assigned");
    (w, v)
}

/// Error texts must not name V: its name (in either script) or its LGD code.
fn assert_errors_do_not_name(res: &Value, v: &Value, probe: &str) {
    let Some(errors) = res.get("errors") else {
        return;
    };
    let text = errors.to_string();
    for secret in [v["name"].as_str(), v["nameHi"].as_str()]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .chain([v["lgdCode"].to_string()])
    {
        assert!(
            !text.contains(&secret),
            "{probe}: an error names the hidden village ({secret}): {text}"
        );
    }
}

#[tokio::test]
async fn a_partner_learns_nothing_about_a_village_outside_its_assignments() {
    each_backend(a_partner_learns_nothing_about_a_village_outside_its_assignments_on).await;
}

async fn a_partner_learns_nothing_about_a_village_outside_its_assignments_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let p = partner(&app).await;
    let (w, v) = covered_and_uncovered(&app, &p).await;
    let (w_id, v_id) = (id(&w), id(&v));
    let ask = |query: &'static str, vars: Value| {
        let token = p.token.clone();
        let app = &app;
        async move { app.post_as(&token, query, vars).await }
    };

    // Lookups.
    let res = ask(
        "query($v: ID!, $w: ID!, $vc: Int!, $wc: Int!) { v: node(id: $v) { id } w: node(id:
            $w) { id } both: nodes(ids: [$v, $w]) { id } byCode: village(lgdCode: $vc) { id
            } wByCode: village(lgdCode: $wc) { id } }",
        json!({ "v": v_id, "w": w_id, "vc": v["lgdCode"], "wc": w["lgdCode"] }),
    )
    .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    let data = &res["data"];
    assert!(
        data["v"].is_null(),
        "[{db}] node(id) of an unassigned village must be null: \
        {res:#}"
    );
    assert_eq!(
        data["w"]["id"],
        w_id.as_str(),
        "[{db}] the control: node(id) of an assigned \
        village: {res:#}"
    );
    assert_eq!(
        data["both"],
        json!([null, { "id": w_id }]),
        "[{db}] nodes() hides V and keeps W in order"
    );
    assert!(
        data["byCode"].is_null(),
        "[{db}] village(lgdCode) of V must be null: {res:#}"
    );
    assert_eq!(
        data["wByCode"]["id"],
        w_id.as_str(),
        "[{db}] village(lgdCode) of W: {res:#}"
    );

    // Lists, counts and name search.
    let visible = every(&app, &p.token, "villages", "VillageFilter", json!({}), "id").await;
    assert_eq!(
        ids(&visible),
        p.reach,
        "[{db}] the partner lists exactly the villages of its \
        active assignments"
    );
    let count = total(
        &app,
        &p.token,
        "{ villages { totalCount } }",
        json!({}),
        "villages",
    )
    .await;
    assert_eq!(
        count,
        p.reach.len() as u64,
        "[{db}] totalCount counts only assigned villages"
    );
    for name in [&v["name"], &v["nameHi"]] {
        let filter = json!({ "search": name });
        let found = ids(&every(
            &app,
            &p.token,
            "villages",
            "VillageFilter",
            filter.clone(),
            "id",
        )
        .await);
        let everyone = ids(&every(
            &app,
            &app.admin_token,
            "villages",
            "VillageFilter",
            filter,
            "id",
        )
        .await);
        assert!(
            everyone.contains(&v_id),
            "[{db}] the administrator finds V by {name}"
        );
        assert!(
            !found.contains(&v_id),
            "[{db}] a name search for {name} must not find V"
        );
        let expected: BTreeSet<_> = everyone.intersection(&p.reach).cloned().collect();
        assert_eq!(
            found, expected,
            "[{db}] a name search finds only assigned villages of \
            that name"
        );
    }

    // Nested connections: areas above V, and V's schemes.
    let nested = ask(
        "query($d: Int!, $b: Int!, $g: Int!) { district(lgdCode: $d) { blocks { villages {
            id } gramPanchayats { villages { id } } } } block(lgdCode: $b) { villages { id }
            } gramPanchayat(lgdCode: $g) { villages { id } } }",
        json!({
            "d": v["district"]["lgdCode"],
            "b": v["block"]["lgdCode"],
            "g": v["gramPanchayat"]["lgdCode"],
        }),
    )
    .await;
    assert!(nested.get("errors").is_none(), "[{db}] {nested:#}");
    let text = nested["data"].to_string();
    assert!(
        !text.contains(&v_id),
        "[{db}] V appears under an area the partner can see: \
        {nested:#}"
    );
    let listed = nested["data"]["district"]["blocks"]
        .as_array()
        .into_iter()
        .flatten();
    let under_district: BTreeSet<String> = listed
        .flat_map(|b| ids(b["villages"].as_array().into_iter().flatten()))
        .collect();
    assert!(
        under_district.is_subset(&p.reach),
        "[{db}] only assigned villages under V's \
        district"
    );
    for scheme in v["schemes"].as_array().expect("schemes") {
        let res = ask(
            "query($c: String!) { scheme(code: $c) { villages { id } } }",
            json!({ "c": scheme["code"] }),
        )
        .await;
        assert!(res.get("errors").is_none(), "[{db}] {res:#}");
        let served = ids(res["data"]["scheme"]["villages"]
            .as_array()
            .into_iter()
            .flatten());
        assert!(
            !served.contains(&v_id),
            "[{db}] scheme {} lists V to the partner: {res:#}",
            scheme["code"]
        );
        assert!(
            served.is_subset(&p.reach),
            "[{db}] scheme {} lists unassigned villages: \
            {res:#}",
            scheme["code"]
        );
    }
    let own = ask(
        "query($c: String!) { organisation(code: $c) { assignments(includeInactive: true) {
            village { id } } } }",
        json!({ "c": p.code }),
    )
    .await;
    assert!(own.get("errors").is_none(), "[{db}] {own:#}");
    let assigned = own["data"]["organisation"]["assignments"]
        .as_array()
        .expect("assignments");
    assert!(
        assigned.iter().all(|a| a["village"]["id"]
            .as_str()
            .is_some_and(|v| p.reach.contains(v))),
        "[{db}] the partner's own assignment list shows only villages it reaches: {own:#}"
    );

    // Aggregates.
    let progress = ask(
        "query($b: ID!) { all: progress(level: STATE) { parent { villages } rows { villages
            } } gps: progress(level: GRAM_PANCHAYAT, within: $b) { parent { villages } rows
            { areaId villages } } }",
        json!({ "b": v["block"]["id"] }),
    )
    .await;
    assert!(progress.get("errors").is_none(), "[{db}] {progress:#}");
    let all = &progress["data"]["all"];
    assert_eq!(
        all["parent"]["villages"],
        p.reach.len(),
        "[{db}] progress counts only \
        assigned villages: {progress:#}"
    );
    let by_state: u64 = all["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["villages"].as_u64())
        .sum();
    assert_eq!(
        by_state,
        p.reach.len() as u64,
        "[{db}] the states' rows add up to the reach: \
        {progress:#}"
    );
    let gps = &progress["data"]["gps"];
    assert_eq!(
        gps.is_null(),
        nested["data"]["block"].is_null(),
        "[{db}] progress within V's block exists exactly when the block is visible: \
            {progress:#} {nested:#}"
    );
    let v_gp = gps["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["areaId"] == v["gramPanchayat"]["id"]);
    let v_gp_reach = ids(v["gramPanchayat"]["villages"].as_array().expect("villages"))
        .intersection(&p.reach)
        .count();
    assert_eq!(
        v_gp.map_or(0, |r| r["villages"].as_u64().unwrap_or(0)),
        v_gp_reach as u64,
        "[{db}] V's gram panchayat counts only its assigned villages: {progress:#}"
    );

    // What hangs off V.
    let counts = ask(
        "query($v: ID!) { tasks(filter: { village: $v }) { totalCount }
            waterQualityTests(filter: { village: $v }) { totalCount } }",
        json!({ "v": v_id }),
    )
    .await;
    assert!(counts.get("errors").is_none(), "[{db}] {counts:#}");
    assert_eq!(
        counts["data"]["tasks"]["totalCount"], 0,
        "[{db}] tasks on V: {counts:#}"
    );
    assert_eq!(
        counts["data"]["waterQualityTests"]["totalCount"], 0,
        "[{db}] water-quality tests of V: {counts:#}"
    );
    for t in v["tasks"].as_array().expect("tasks") {
        let res = ask(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": t["id"] }),
        )
        .await;
        assert!(
            res["data"]["node"].is_null(),
            "[{db}] a task on V is visible by node(id): \
            {res:#}"
        );
    }
    for t in v["waterQualityTests"].as_array().expect("tests") {
        let res = ask(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": t["id"] }),
        )
        .await;
        assert!(
            res["data"]["node"].is_null(),
            "[{db}] a water-quality test of V is visible \
            by node(id): {res:#}"
        );
    }

    // Writes and bad requests about V: errors never name it.
    let task_on_v = v["tasks"][0]["id"].clone();
    let probes: Vec<(&str, &'static str, Value)> = vec![
        (
            "raise a task on V",
            "mutation($v: ID!) { createTask(input: { kind: IEC, title:
            \"Wall painting\", village: $v }) { task { id } } }",
            json!({ "v": v_id }),
        ),
        (
            "comment on V's task",
            "mutation($t: ID!) { commentOnTask(id: $t, text: \"hello\")
            { task { id } } }",
            json!({ "t": task_on_v }),
        ),
        (
            "move V's task",
            "mutation($t: ID!) { transitionTask(id: $t, expectedVersion: 1,
            to: IN_PROGRESS) { task { id } } }",
            json!({ "t": task_on_v }),
        ),
        (
            "list within V",
            "query($v: ID!) { villages(filter: { within: $v }) { totalCount }
            }",
            json!({ "v": v_id }),
        ),
        (
            "progress within V's gram panchayat",
            "query($g: ID!) { progress(level: BLOCK,
            within: $g) { parent { villages } } }",
            json!({ "g": v["gramPanchayat"]["id"] }),
        ),
        (
            "tasks within V's district",
            "query($d: ID!) { tasks(filter: { within: $d }, first:
            100) { edges { node { id title village { name } } } } }",
            json!({ "d": v["district"]["id"] }),
        ),
    ];
    for (what, query, vars) in probes {
        if vars
            .as_object()
            .is_some_and(|o| o.values().any(Value::is_null))
        {
            continue;
        }
        let res = ask(query, vars).await;
        assert_errors_do_not_name(&res, &v, &format!("[{db}] {what}"));
        if what.starts_with("tasks within") {
            let listed = res["data"].to_string();
            for t in v["tasks"].as_array().expect("tasks") {
                assert!(
                    !listed.contains(t["id"].as_str().unwrap_or("-")),
                    "[{db}] {what} lists a task on V: {res:#}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_partner_sees_only_tasks_of_its_own_or_on_its_villages() {
    each_backend(a_partner_sees_only_tasks_of_its_own_or_on_its_villages_on).await;
}

async fn a_partner_sees_only_tasks_of_its_own_or_on_its_villages_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let p = partner(&app).await;
    let all = every(
        &app,
        &app.admin_token,
        "tasks",
        "TaskFilter",
        json!({}),
        "id assignee { id } village { id }",
    )
    .await;
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|t| {
            t["assignee"]["id"] == p.id.as_str()
                || t["village"]["id"]
                    .as_str()
                    .is_some_and(|v| p.reach.contains(v))
        })
        .map(id)
        .collect();
    let seen = every(
        &app,
        &p.token,
        "tasks",
        "TaskFilter",
        json!({}),
        "id village { id }",
    )
    .await;
    assert_eq!(
        ids(&seen),
        expected,
        "[{db}] the partner's tasks: assigned to it, or on its assigned villages"
    );
    let count = total(
        &app,
        &p.token,
        "{ tasks { totalCount } }",
        json!({}),
        "tasks",
    )
    .await;
    assert_eq!(count, expected.len() as u64, "[{db}] totalCount agrees");
    for t in &seen {
        let village = &t["village"];
        assert!(
            village.is_null() || village["id"].as_str().is_some_and(|v| p.reach.contains(v)),
            "[{db}] a task's village outside the reach must be null to the partner: {t}"
        );
    }
}

#[tokio::test]
async fn a_department_sees_only_tasks_assigned_to_or_raised_by_it() {
    each_backend(a_department_sees_only_tasks_assigned_to_or_raised_by_it_on).await;
}

async fn a_department_sees_only_tasks_assigned_to_or_raised_by_it_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let orgs = app
        .data(
            "{ organisations(filter: { kind: DEPARTMENT, department: HEALTH }, first: 100) {
                edges { node { id code state { lgdCode } } } } }",
            json!({}),
        )
        .await;
    let health = orgs["organisations"]["edges"]
        .as_array()
        .expect("organisations")
        .iter()
        .map(|e| e["node"].clone())
        .find(|o| o["state"]["lgdCode"] == 22)
        .expect("a HEALTH department in Chhattisgarh");
    let (h, code) = (
        id(&health),
        health["code"].as_str().expect("code").to_owned(),
    );
    let token = app
        .token(ClientSpec::new(Role::Department).org(&code).states(&[22]))
        .await;
    let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();

    let all = every(
        &app,
        &app.admin_token,
        "tasks",
        "TaskFilter",
        json!({ "within": cg }),
        "id assignee { id } raisedBy { id } village { id }",
    )
    .await;
    let mine = |t: &&Value| t["assignee"]["id"] == h.as_str() || t["raisedBy"]["id"] == h.as_str();
    let expected: BTreeSet<String> = all.iter().filter(mine).map(id).collect();
    assert!(
        !expected.is_empty(),
        "[{db}] the demo data has tasks for Health in Chhattisgarh"
    );
    assert!(
        expected.len() < all.len(),
        "[{db}] and tasks of other departments"
    );

    let count = total(&app, &token, "{ tasks { totalCount } }", json!({}), "tasks").await;
    assert_eq!(
        count,
        expected.len() as u64,
        "[{db}] the department's totalCount counts only its tasks"
    );
    let seen = ids(&every(&app, &token, "tasks", "TaskFilter", json!({}), "id").await);
    assert_eq!(
        seen, expected,
        "[{db}] the department lists only tasks assigned to or raised by it"
    );

    let others: Vec<&Value> = all.iter().filter(|t| !mine(t)).collect();
    for t in others.iter().take(5) {
        let res = app
            .post_as(
                &token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": t["id"] }),
            )
            .await;
        assert!(
            res.get("errors").is_none() && res["data"]["node"].is_null(),
            "[{db}] another department's task must be null: {res:#}"
        );
    }
    let own = all.iter().find(mine).expect("a Health task");
    let res = app
        .post_as(
            &token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": own["id"] }),
        )
        .await;
    assert_eq!(
        res["data"]["node"]["id"], own["id"],
        "[{db}] the control: its own task by node(id): {res:#}"
    );

    // A village with tasks of several departments shows the department only its own.
    let shared = all
        .iter()
        .filter(|t| !mine(t))
        .filter_map(|t| t["village"]["id"].as_str())
        .find(|v| all.iter().any(|t| mine(&t) && t["village"]["id"] == *v));
    if let Some(village) = shared {
        let res = app
            .post_as(
                &token,
                "query($id: ID!) { node(id: $id) { ... on Village { tasks { id } } } }",
                json!({ "id": village }),
            )
            .await;
        assert!(res.get("errors").is_none(), "[{db}] {res:#}");
        let listed = ids(res["data"]["node"]["tasks"]
            .as_array()
            .expect("the village is in the department's state"));
        let on_village: BTreeSet<String> = all
            .iter()
            .filter(mine)
            .filter(|t| t["village"]["id"] == village)
            .map(id)
            .collect();
        assert_eq!(
            listed, on_village,
            "[{db}] a village's tasks show the department only its own"
        );
    }
}

/// Ends today all of `org`'s active assignments on `village` (yesterday was their last day),
/// directly in the database; returns how many there were.
async fn end_assignments(app: &TestApp, org_code: &str, village_lgd: i32) -> u64 {
    let db = &app.t.db;
    let org = organisation::Entity::find()
        .filter(organisation::Column::Code.eq(org_code))
        .one(db)
        .await
        .expect("db")
        .expect("the partner organisation");
    let v = village::Entity::find()
        .filter(village::Column::LgdCode.eq(village_lgd))
        .one(db)
        .await
        .expect("db")
        .expect("the village");
    let today = api::service::today_ist();
    let yesterday = today.checked_sub_days(Days::new(1)).expect("a date");
    let done = assignment::Entity::update_many()
        .col_expr(assignment::Column::EndsOn, Expr::value(yesterday))
        .filter(assignment::Column::OrganisationId.eq(org.id))
        .filter(assignment::Column::VillageId.eq(v.id))
        .filter(assignment::Column::StartsOn.lte(today))
        .filter(
            Condition::any()
                .add(assignment::Column::EndsOn.is_null())
                .add(assignment::Column::EndsOn.gte(today)),
        )
        .exec(db)
        .await
        .expect("end the assignments");
    done.rows_affected
}

#[tokio::test]
async fn an_ended_assignment_takes_the_village_away_on_the_next_request() {
    each_backend(an_ended_assignment_takes_the_village_away_on_the_next_request_on).await;
}

async fn an_ended_assignment_takes_the_village_away_on_the_next_request_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let p = partner(&app).await;
    let w_id = p.reach.iter().next().expect("an assigned village").clone();
    let w = village_detail(&app, &w_id).await;
    let sees = |query: &'static str, vars: Value| {
        let (app, token) = (&app, p.token.clone());
        async move {
            let res = app.post_as(&token, query, vars).await;
            assert!(res.get("errors").is_none(), "{res:#}");
            res["data"].clone()
        }
    };
    let probe = "query($w: ID!, $c: Int!, $name: String!) { node(id: $w) { id }
        village(lgdCode: $c) { id } villages { totalCount } search: villages(filter: {
        search: $name }, first: 100) { edges { node { id } } } progress(level: STATE) {
        parent { villages } } }";
    let vars = json!({ "w": w_id, "c": w["lgdCode"], "name": w["name"] });
    let before = sees(probe, vars.clone()).await;
    assert_eq!(
        before["node"]["id"],
        w_id.as_str(),
        "[{db}] the partner sees W while assigned"
    );
    assert_eq!(before["village"]["id"], w_id.as_str(), "[{db}] {before:#}");
    assert_eq!(
        before["villages"]["totalCount"],
        p.reach.len(),
        "[{db}] {before:#}"
    );
    assert!(
        before["search"].to_string().contains(&w_id),
        "[{db}] W is found by name: {before:#}"
    );

    let ended = end_assignments(
        &app,
        &p.code,
        w["lgdCode"]
            .as_i64()
            .and_then(|c| i32::try_from(c).ok())
            .expect("lgd code"),
    )
    .await;
    assert!(
        ended >= 1,
        "[{db}] the partner had an active assignment on W"
    );

    let after = sees(probe, vars).await;
    assert!(
        after["node"].is_null(),
        "[{db}] node(W) after the assignment ended: {after:#}"
    );
    assert!(
        after["village"].is_null(),
        "[{db}] village(lgdCode) of W after the assignment ended: {after:#}"
    );
    assert_eq!(
        after["villages"]["totalCount"],
        p.reach.len() - 1,
        "[{db}] totalCount drops by W: {after:#}"
    );
    assert!(
        !after["search"].to_string().contains(&w_id),
        "[{db}] W is no longer found by name: {after:#}"
    );
    assert_eq!(
        after["progress"]["parent"]["villages"],
        p.reach.len() - 1,
        "[{db}] progress drops W: {after:#}"
    );
    let listed = ids(&every(&app, &p.token, "villages", "VillageFilter", json!({}), "id").await);
    assert!(!listed.contains(&w_id), "[{db}] W is no longer listed");
    assert_eq!(
        listed.len(),
        p.reach.len() - 1,
        "[{db}] every other village stays"
    );

    let tasks_on_w = w["tasks"].as_array().expect("tasks");
    let still = tasks_on_w
        .iter()
        .filter(|t| t["assignee"]["id"] == p.id.as_str())
        .count();
    let res = sees(
        "query($w: ID!) { tasks(filter: { village: $w }) { totalCount } }",
        json!({ "w": w_id }),
    )
    .await;
    assert_eq!(
        res["tasks"]["totalCount"], still,
        "[{db}] of W's tasks only those assigned to the partner stay visible"
    );
}
