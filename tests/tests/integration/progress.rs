//! Progress aggregates add up, and each row is compared with its parent.

use serde_json::{Value, json};
use tests::{TestApp, each_backend};

const REPORT: &str = "query($level: AreaLevel!, $within: ID) { progress(level: $level, within: $within) {
    level
    parent { areaId villages households tapConnections coveragePercent villagesReported villagesCertified
             reportedPercent schemes schemesByStatus { status count } tasksOpen tasksOverdue coverageDifference }
    rows { areaId area { __typename ... on District { name } ... on State { name } ... on Division { name } ... on GramPanchayat { name } }
           villages households tapConnections coveragePercent villagesReported villagesCertified reportedPercent
           schemes schemesByStatus { status count } tasksOpen tasksOverdue coverageDifference reportedDifference } } }";

fn sum(rows: &[Value], field: &str) -> i64 {
    rows.iter().map(|r| r[field].as_i64().expect(field)).sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

async fn state_id(app: &TestApp, lgd: i64) -> Value {
    app.data(
        "query($c: Int!) { state(lgdCode: $c) { id } }",
        json!({ "c": lgd }),
    )
    .await["state"]["id"]
        .clone()
}

#[tokio::test]
async fn district_rows_add_up_to_their_state() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let cg = state_id(&app, 22).await;
        let data = app.data(REPORT, json!({ "level": "DISTRICT", "within": cg })).await;
        let report = &data["progress"];
        let rows = report["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 12, "Chhattisgarh's demo districts: Bastar (7) and Raipur (5) divisions");
        let parent = &report["parent"];
        assert_eq!(parent["areaId"], cg);
        for f in ["villages", "households", "tapConnections", "villagesReported", "villagesCertified", "tasksOpen", "tasksOverdue", "schemes"] {
            assert_eq!(sum(rows, f), parent[f].as_i64().expect(f), "{f} does not add up");
        }
        let parent_cov = parent["coveragePercent"].as_f64().expect("coverage");
        for r in rows {
            assert_eq!(r["area"]["__typename"], "District");
            let cov = r["coveragePercent"].as_f64().expect("coverage");
            assert!(close(r["coverageDifference"].as_f64().expect("diff"), cov - parent_cov), "{r:#}");
            let expect = r["tapConnections"].as_f64().expect("taps") * 100.0 / r["households"].as_f64().expect("hh");
            assert!(close(cov, expect));
            let by_status: i64 = r["schemesByStatus"].as_array().expect("list").iter().map(|s| s["count"].as_i64().expect("n")).sum();
            assert_eq!(by_status, r["schemes"].as_i64().expect("schemes"));
        }
        assert!(rows.iter().any(|r| r["coverageDifference"].as_f64().expect("d") < 0.0), "some district is below the state average");

        // The same numbers as the lists give.
        let lists = app
            .data(
                "query($s: ID!) { villages(filter: { within: $s }) { totalCount }
                   reported: villages(filter: { within: $s, hgjStatus: [REPORTED, CERTIFIED] }) { totalCount }
                   overdue: tasks(filter: { within: $s, overdue: true }) { totalCount }
                   schemes(filter: { within: $s }) { totalCount } }",
                json!({ "s": cg }),
            )
            .await;
        assert_eq!(lists["villages"]["totalCount"], parent["villages"]);
        assert_eq!(lists["reported"]["totalCount"], parent["villagesReported"]);
        assert_eq!(lists["overdue"]["totalCount"], parent["tasksOverdue"]);
        assert_eq!(lists["schemes"]["totalCount"], parent["schemes"], "progress counts the schemes the list shows");
    })
    .await;
}

#[tokio::test]
async fn national_state_division_and_gp_levels() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let national = app.data(REPORT, json!({ "level": "STATE" })).await;
        let rows = national["progress"]["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 2);
        assert!(national["progress"]["parent"]["areaId"].is_null());
        assert_eq!(
            sum(rows, "households"),
            national["progress"]["parent"]["households"]
                .as_i64()
                .expect("hh")
        );

        let mp = state_id(&app, 23).await;
        let divisions = app
            .data(REPORT, json!({ "level": "DIVISION", "within": mp }))
            .await;
        let rows = divisions["progress"]["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 1, "the demo has MP's Indore division");
        assert_eq!(rows[0]["area"]["name"], "Indore");
        assert_eq!(
            rows[0]["villages"],
            divisions["progress"]["parent"]["villages"]
        );

        let block = app
            .data(
                "{ blocks(first: 1) { edges { node { id gramPanchayats { id } } } } }",
                json!({}),
            )
            .await;
        let block = &block["blocks"]["edges"][0]["node"];
        let gps = app
            .data(
                REPORT,
                json!({ "level": "GRAM_PANCHAYAT", "within": block["id"] }),
            )
            .await;
        let rows = gps["progress"]["rows"].as_array().expect("rows");
        assert_eq!(
            rows.len(),
            block["gramPanchayats"].as_array().expect("gps").len()
        );
        assert_eq!(
            sum(rows, "villages"),
            gps["progress"]["parent"]["villages"]
                .as_i64()
                .expect("villages")
        );
    })
    .await;
}

#[tokio::test]
async fn a_report_counts_only_what_its_query_selects() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let cg = state_id(&app, 22).await;
        let vars = json!({ "level": "DISTRICT", "within": cg });
        let full = app.data(REPORT, vars.clone()).await;
        let full_rows = full["progress"]["rows"].as_array().expect("rows").clone();
        assert!(sum(&full_rows, "tasksOpen") > 0 && sum(&full_rows, "schemes") > 0);

        // Fields asked for through a fragment (and on the parent only) are still counted.
        let through_fragment = "query($level: AreaLevel!, $within: ID) { progress(level: $level, within: $within) {
            parent { tasksOpen } rows { ...Counts } } }
            fragment Counts on ProgressRow { villages schemes tasksOverdue }";
        let data = app.data(through_fragment, vars.clone()).await;
        let rows = data["progress"]["rows"].as_array().expect("rows");
        for f in ["villages", "schemes", "tasksOverdue"] {
            assert_eq!(sum(rows, f), sum(&full_rows, f), "{f}");
        }
        assert_eq!(data["progress"]["parent"]["tasksOpen"], full["progress"]["parent"]["tasksOpen"]);

        // A coverage-only report skips the scheme statement (and any task statement).
        let report = |extra: &str| {
            format!("query($level: AreaLevel!, $within: ID) {{ progress(level: $level, within: $within) {{
                rows {{ villages households coveragePercent {extra} }} }} }}")
        };
        let before = app.t.statement_count();
        app.data(&report("schemes tasksOpen"), vars.clone()).await;
        let all = app.t.statement_count() - before;
        let before = app.t.statement_count();
        let data = app.data(&report(""), vars).await;
        let fewer = app.t.statement_count() - before;
        assert_eq!(sum(data["progress"]["rows"].as_array().expect("rows"), "villages"), sum(&full_rows, "villages"));
        assert!(fewer < all, "coverage only: {fewer} statements, with schemes and tasks: {all}");
    })
    .await;
}

/// A row whose selection is plain values only is answered without its field resolvers
/// (`ProgressRow` in graphql/types/progress.rs); wrapped in an inline fragment on its own type,
/// the same selection goes through them. The two answers must be the same text: values, nulls,
/// aliases, a field selected twice, `__typename`, applied `@skip`/`@include`, and key order.
#[tokio::test]
async fn plain_rows_answer_as_their_resolvers_do() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let cg = state_id(&app, 22).await;
        let row = "tasksOverdue areaId id: areaId kind: __typename villages households tapConnections
            coveragePercent villagesReported villagesCertified reportedPercent schemes tasksOpen
            coverageDifference reportedDifference villages
            hidden: households @skip(if: true) shown: households @include(if: $yes)";
        let parent = "coverageDifference __typename areaId coveragePercent villages";
        let text = |query: String| {
            let app = &app;
            let vars = json!({ "level": "DISTRICT", "within": cg, "yes": true });
            async move {
                let reply = app.send(app.graphql_request(Some(&app.admin_token), &query, vars)).await;
                assert_eq!(reply.status, 200, "{}", reply.body);
                reply.body
            }
        };
        let query = |parent: &str, row: &str| {
            format!("query($level: AreaLevel!, $within: ID, $yes: Boolean!) {{ progress(level: $level, within: $within) {{
                parent {{ {parent} }} rows {{ {row} }} }} }}")
        };
        let plain = text(query(parent, row)).await;
        let resolved = text(query(
            &format!("... on ProgressRow {{ {parent} }}"),
            &format!("... on ProgressRow {{ {row} }}"),
        ))
        .await;
        assert_eq!(plain, resolved);

        let answer: Value = serde_json::from_str(&plain).expect("json");
        assert!(answer.get("errors").is_none(), "{plain}");
        let rows = answer["data"]["progress"]["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 12);
        let first = rows[0].as_object().expect("row");
        assert_eq!(first["kind"], "ProgressRow");
        assert_eq!(first["id"], first["areaId"]);
        assert_eq!(first["shown"], first["households"]);
        assert!(!first.contains_key("hidden"));
        assert!(answer["data"]["progress"]["parent"]["coverageDifference"].is_null());
        // Key order, as text (serde_json's map here sorts keys), in the first row.
        let row = &plain[plain.find("\"rows\":").expect("rows")..];
        let at = |k: &str| row.find(&format!("\"{k}\":")).expect("key");
        assert!(at("tasksOverdue") < at("areaId") && at("areaId") < at("kind") && at("reportedDifference") < at("shown"), "{plain}");
    })
    .await;
}
