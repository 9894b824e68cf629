//! The filters officers asked for, each checked against the same answer worked out from the
//! unfiltered rows; and filters that look into tasks, tests or assignments see only what the
//! caller may read.

use std::collections::BTreeSet;

use api::principal::Role;
use serde_json::{Value, json};
use tests::{ClientSpec, TestApp, each_backend};

/// Every node of `list` matching `filter`, with `fields`.
async fn all(
    app: &TestApp,
    list: &str,
    filter_type: &str,
    filter: Value,
    fields: &str,
) -> Vec<Value> {
    all_as(app, None, list, filter_type, filter, fields).await
}

async fn all_as(
    app: &TestApp,
    token: Option<&str>,
    list: &str,
    filter_type: &str,
    filter: Value,
    fields: &str,
) -> Vec<Value> {
    let q = format!(
        "query($c: String, $f: {filter_type}) {{ {list}(first: 100, after: $c, filter: $f) {{
            pageInfo {{ endCursor hasNextPage }} edges {{ node {{ id {fields} }} }} }} }}"
    );
    let mut out = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let vars = json!({ "c": cursor, "f": filter });
        let res = match token {
            Some(t) => app.post_as(t, &q, vars).await,
            None => app.post(&q, vars).await,
        };
        assert!(res.get("errors").is_none(), "{list} {filter}: {res:#}");
        let page = &res["data"][list];
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
        cursor = page["pageInfo"]["endCursor"].clone();
    }
}

fn ids(nodes: &[Value]) -> BTreeSet<String> {
    nodes
        .iter()
        .map(|n| n["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn first_district(app: &TestApp) -> Value {
    app.data(
        "{ districts(first: 1) { edges { node { id } } } }",
        json!({}),
    )
    .await["districts"]["edges"][0]["node"]["id"]
        .clone()
}

#[tokio::test]
async fn village_filters_match_what_the_rows_say() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let d = first_district(&app).await;
        let villages = all(
            &app,
            "villages",
            "VillageFilter",
            json!({ "within": d }),
            "latestWaterQualityTest { contaminated } hgjReport { reportedOn } hgjCertification { certifiedOn }",
        )
        .await;

        // Open tasks by kind, and overdue ones by department.
        let open = ["OPEN", "IN_PROGRESS", "BLOCKED"];
        let tasks = all(
            &app,
            "tasks",
            "TaskFilter",
            json!({ "within": d, "status": open }),
            "kind isOverdue village { id } assignee { id department }",
        )
        .await;
        let with_task = |pred: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
            tasks
                .iter()
                .filter(|t| pred(t) && !t["village"].is_null())
                .map(|t| t["village"]["id"].as_str().expect("id").to_owned())
                .collect()
        };
        let on_village = tasks.iter().find(|t| !t["village"].is_null()).expect("a village task");
        let kind = on_village["kind"].clone();
        let expected = with_task(&|t| t["kind"] == kind);
        assert!(!expected.is_empty());
        let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "withOpenTasks": { "kind": [kind] } }), "").await;
        assert_eq!(ids(&got), expected, "villages with open {kind} tasks");

        let expected = with_task(&|t| t["isOverdue"] == true && t["assignee"]["department"] == "PHED");
        assert!(!expected.is_empty(), "the demo has overdue PHED tasks");
        let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "withOpenTasks": { "overdue": true, "department": "PHED" } }), "").await;
        assert_eq!(ids(&got), expected, "villages with overdue PHED tasks");

        let assignee = on_village["assignee"]["id"].clone();
        let expected = with_task(&|t| t["assignee"]["id"] == assignee);
        let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "withOpenTasks": { "assignee": assignee } }), "").await;
        assert_eq!(ids(&got), expected, "villages with open tasks of one assignee");

        // The latest test, contaminated or clean; never-tested villages are neither.
        for flag in [true, false] {
            let expected: BTreeSet<String> = villages
                .iter()
                .filter(|v| v["latestWaterQualityTest"]["contaminated"] == flag)
                .map(|v| v["id"].as_str().expect("id").to_owned())
                .collect();
            assert!(!expected.is_empty(), "some latest tests are contaminated={flag}");
            let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "latestTestContaminated": flag }), "").await;
            assert_eq!(ids(&got), expected, "latest test contaminated = {flag}");
        }

        // Har Ghar Jal date ranges.
        let mut dates: Vec<&str> = villages
            .iter()
            .filter_map(|v| v["hgjReport"]["reportedOn"].as_str())
            .collect();
        dates.sort();
        let (from, to) = (dates[dates.len() / 4], dates[dates.len() * 3 / 4]);
        let expected: BTreeSet<String> = villages
            .iter()
            .filter(|v| v["hgjReport"]["reportedOn"].as_str().is_some_and(|r| r >= from && r <= to))
            .map(|v| v["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "reportedFrom": from, "reportedTo": to }), "").await;
        assert_eq!(ids(&got), expected, "reported between {from} and {to}");
        let since = villages
            .iter()
            .filter_map(|v| v["hgjCertification"]["certifiedOn"].as_str())
            .min()
            .expect("a certified village");
        let expected: BTreeSet<String> = villages
            .iter()
            .filter(|v| v["hgjCertification"]["certifiedOn"].as_str().is_some_and(|c| c > since))
            .map(|v| v["id"].as_str().expect("id").to_owned())
            .collect();
        let after = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d").expect("date").succ_opt().expect("next");
        let got = all(&app, "villages", "VillageFilter", json!({ "within": d, "certifiedFrom": after.to_string() }), "").await;
        assert_eq!(ids(&got), expected, "certified after {since}");

        let err = app
            .error(
                "query($f: VillageFilter) { villages(filter: $f) { totalCount } }",
                json!({ "f": { "reportedFrom": "2025-02-01", "reportedTo": "2025-01-01" } }),
            )
            .await;
        assert_eq!(err["extensions"]["argument"], "filter.reportedFrom", "{err:#}");
    })
    .await;
}

#[tokio::test]
async fn villages_by_assigned_partner_are_its_active_assignments() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let assignments = all(
            &app,
            "assignments",
            "AssignmentFilter",
            json!({ "active": true }),
            "organisation { id } village { id }",
        )
        .await;
        let partner = assignments[0]["organisation"]["id"].clone();
        let expected: BTreeSet<String> = assignments
            .iter()
            .filter(|a| a["organisation"]["id"] == partner)
            .map(|a| a["village"]["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(
            &app,
            "villages",
            "VillageFilter",
            json!({ "assignedPartner": partner }),
            "",
        )
        .await;
        assert_eq!(ids(&got), expected);
    })
    .await;
}

#[tokio::test]
async fn task_assignment_and_test_filters_match_what_the_rows_say() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let d = first_district(&app).await;
        let tasks = all(
            &app,
            "tasks",
            "TaskFilter",
            json!({ "within": d }),
            "dueOn title description raisedBy { id }",
        )
        .await;

        let mut due: Vec<&str> = tasks.iter().filter_map(|t| t["dueOn"].as_str()).collect();
        due.sort();
        let (from, to) = (due[due.len() / 3], due[due.len() * 2 / 3]);
        let expected: BTreeSet<String> = tasks
            .iter()
            .filter(|t| t["dueOn"].as_str().is_some_and(|x| x >= from && x <= to))
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(
            &app,
            "tasks",
            "TaskFilter",
            json!({ "within": d, "dueFrom": from, "dueTo": to }),
            "",
        )
        .await;
        assert_eq!(ids(&got), expected, "due between {from} and {to}");

        // A word from a title, searched in another case.
        let word = tasks[0]["title"]
            .as_str()
            .expect("title")
            .split_whitespace()
            .next()
            .expect("word")
            .to_lowercase();
        let expected: BTreeSet<String> = tasks
            .iter()
            .filter(|t| {
                t["title"]
                    .as_str()
                    .expect("title")
                    .to_lowercase()
                    .contains(&word)
                    || t["description"]
                        .as_str()
                        .expect("description")
                        .to_lowercase()
                        .contains(&word)
            })
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(
            &app,
            "tasks",
            "TaskFilter",
            json!({ "within": d, "search": word.to_uppercase() }),
            "",
        )
        .await;
        assert_eq!(ids(&got), expected, "text {word}");

        let raiser = tasks
            .iter()
            .find(|t| !t["raisedBy"].is_null())
            .expect("a raised task")["raisedBy"]["id"]
            .clone();
        let expected: BTreeSet<String> = tasks
            .iter()
            .filter(|t| t["raisedBy"]["id"] == raiser)
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(
            &app,
            "tasks",
            "TaskFilter",
            json!({ "within": d, "raisedBy": raiser }),
            "",
        )
        .await;
        assert_eq!(ids(&got), expected, "raised by {raiser}");

        // Assignments by theme and status.
        let assignments = all(
            &app,
            "assignments",
            "AssignmentFilter",
            json!({}),
            "theme isActive startsOn endsOn",
        )
        .await;
        let theme = assignments[0]["theme"].clone();
        let today = (chrono::Utc::now() + chrono::TimeDelta::minutes(330))
            .date_naive()
            .to_string();
        let active = |a: &Value| a["isActive"] == true;
        let ended = |a: &Value| a["endsOn"].as_str().is_some_and(|e| e < today.as_str());
        for (status, pred) in [
            ("ACTIVE", &active as &dyn Fn(&Value) -> bool),
            ("ENDED", &ended),
        ] {
            let expected: BTreeSet<String> = assignments
                .iter()
                .filter(|a| a["theme"] == theme && pred(a))
                .map(|a| a["id"].as_str().expect("id").to_owned())
                .collect();
            let got = all(
                &app,
                "assignments",
                "AssignmentFilter",
                json!({ "themes": [theme], "status": [status] }),
                "",
            )
            .await;
            assert_eq!(ids(&got), expected, "{theme} {status}");
        }

        // Tests by a parameter that exceeded its limit.
        let tests = all(
            &app,
            "waterQualityTests",
            "WaterQualityTestFilter",
            json!({ "within": d }),
            "results { parameter exceeds }",
        )
        .await;
        let parameter = tests
            .iter()
            .flat_map(|t| t["results"].as_array().expect("results").iter())
            .find(|r| r["exceeds"] == true)
            .expect("a contaminated result")["parameter"]
            .clone();
        let expected: BTreeSet<String> = tests
            .iter()
            .filter(|t| {
                t["results"]
                    .as_array()
                    .expect("results")
                    .iter()
                    .any(|r| r["parameter"] == parameter && r["exceeds"] == true)
            })
            .map(|t| t["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all(
            &app,
            "waterQualityTests",
            "WaterQualityTestFilter",
            json!({ "within": d, "exceeding": [parameter] }),
            "",
        )
        .await;
        assert_eq!(ids(&got), expected, "exceeding {parameter}");
    })
    .await;
}

#[tokio::test]
async fn filters_look_only_into_rows_the_caller_may_read() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;
        let partner = app
            .data("{ organisations(first: 1, filter: { kind: SECTOR_PARTNER }) { edges { node { id } } } }", json!({}))
            .await["organisations"]["edges"][0]["node"]["id"]
            .clone();
        for filter in [
            json!({ "withOpenTasks": { "overdue": true } }),
            json!({ "assignedPartner": partner }),
        ] {
            let res = app
                .post_as(
                    &dashboard,
                    "query($f: VillageFilter) { villages(filter: $f) { totalCount } }",
                    json!({ "f": filter }),
                )
                .await;
            assert_eq!(
                res["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{filter}: {res:#}"
            );
        }

        // A department sees villages through its own tasks only.
        let health = all(
            &app,
            "organisations",
            "OrganisationFilter",
            json!({ "department": "HEALTH" }),
            "code state { lgdCode }",
        )
        .await;
        let health = health
            .iter()
            .find(|o| o["state"]["lgdCode"] == 22)
            .expect("CG health");
        let token = app
            .token(
                ClientSpec::new(Role::Department)
                    .org(health["code"].as_str().expect("code"))
                    .states(&[22]),
            )
            .await;
        let own = all_as(
            &app,
            Some(&token),
            "tasks",
            "TaskFilter",
            json!({ "status": ["OPEN", "IN_PROGRESS", "BLOCKED"] }),
            "village { id }",
        )
        .await;
        let expected: BTreeSet<String> = own
            .iter()
            .filter(|t| !t["village"].is_null())
            .map(|t| t["village"]["id"].as_str().expect("id").to_owned())
            .collect();
        let got = all_as(
            &app,
            Some(&token),
            "villages",
            "VillageFilter",
            json!({ "withOpenTasks": {} }),
            "",
        )
        .await;
        assert_eq!(
            ids(&got),
            expected,
            "a department's villages with open tasks are its tasks' villages"
        );
        let everyone = all(
            &app,
            "villages",
            "VillageFilter",
            json!({ "withOpenTasks": {}, "within": tests::global_id("State", 1) }),
            "",
        )
        .await;
        assert!(
            ids(&everyone).len() > ids(&got).len(),
            "an administrator sees more"
        );
    })
    .await;
}
