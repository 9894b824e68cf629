//! `--public-progress`: a request without a token reads as the public principal, which row scope
//! (`service::scope`) lets read areas, villages' coverage and the progress aggregates, and
//! nothing else: no scheme, organisation, assignment, task, water-quality test, Har Ghar Jal
//! report, audit record or personal data, and no write.

use std::collections::BTreeSet;

use api::{
    dashboard::DashboardOptions,
    graphql::Limits,
    http::HttpOptions,
    principal::{Role, Scope},
};
use axum::http::StatusCode;
use serde_json::{Value, json};
use tests::{Backend, ISSUER, TestApp, TestDb, each_backend};

async fn public_app(backend: Backend) -> TestApp {
    TestApp::with(
        TestDb::demo(backend).await,
        Limits::default(),
        HttpOptions {
            dashboard: DashboardOptions {
                public_progress: true,
                oidc_client_id: None,
            },
            ..HttpOptions::default()
        },
        api::auth::AuthSettings::embedded(ISSUER),
    )
    .await
}

async fn anonymous(app: &TestApp, query: &str, variables: Value) -> (StatusCode, Value) {
    let reply = app.send(app.graphql_request(None, query, variables)).await;
    let body = if reply.body.is_empty() {
        Value::Null
    } else {
        reply.json()
    };
    (reply.status, body)
}

/// What the anonymous reader gets for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Data, no error.
    Read,
    /// A FORBIDDEN error and no data under the field.
    Refused,
}

use Outcome::*;

/// Every root query field, with a probe and what the public reader gets. Ids in `$…` come from
/// the administrator's view of the demo (see `ids`).
const ROOT: &[(&str, &str, Outcome)] = &[
    ("node", "{ node(id: $district) { id } }", Read),
    ("node", "{ node(id: $task) { id } }", Refused),
    ("node", "{ node(id: $scheme) { id } }", Refused),
    ("node", "{ node(id: $organisation) { id } }", Refused),
    ("node", "{ node(id: $test) { id } }", Refused),
    ("nodes", "{ nodes(ids: [$task, $scheme]) { id } }", Refused),
    ("viewer", "{ viewer { role scopes } }", Read),
    ("state", "{ state(lgdCode: 22) { name nameHi } }", Read),
    (
        "division",
        "{ division(code: $divisionCode) { name } }",
        Read,
    ),
    (
        "district",
        "{ district(lgdCode: $districtLgd) { name } }",
        Read,
    ),
    ("block", "{ block(lgdCode: $blockLgd) { name } }", Read),
    (
        "gramPanchayat",
        "{ gramPanchayat(lgdCode: $gpLgd) { name } }",
        Read,
    ),
    (
        "village",
        "{ village(lgdCode: $villageLgd) { name households tapConnections coveragePercent hgjStatus } }",
        Read,
    ),
    ("scheme", "{ scheme(code: $schemeCode) { name } }", Refused),
    (
        "organisation",
        "{ organisation(code: $organisationCode) { name } }",
        Refused,
    ),
    (
        "states",
        "{ states(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "divisions",
        "{ divisions(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "districts",
        "{ districts(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "blocks",
        "{ blocks(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "gramPanchayats",
        "{ gramPanchayats(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "villages",
        "{ villages(first: 5) { totalCount nodes { name } } }",
        Read,
    ),
    (
        "schemes",
        "{ schemes(first: 5) { totalCount nodes { name } } }",
        Refused,
    ),
    (
        "organisations",
        "{ organisations(first: 5) { totalCount nodes { name contactName } } }",
        Refused,
    ),
    (
        "assignments",
        "{ assignments(first: 5) { totalCount nodes { id } } }",
        Refused,
    ),
    (
        "tasks",
        "{ tasks(first: 5) { totalCount nodes { title } } }",
        Refused,
    ),
    (
        "waterQualityTests",
        "{ waterQualityTests(first: 5) { totalCount nodes { testedBy } } }",
        Refused,
    ),
    (
        "auditLog",
        "{ auditLog(first: 5) { totalCount nodes { actor } } }",
        Refused,
    ),
    (
        "progress",
        "{ progress(level: DISTRICT) { parent { households } rows { villages tasksOpen } } }",
        Read,
    ),
    (
        "progress",
        "{ progress(level: BLOCK, within: $district) { parent { works { schemesMeasured
            physicalProgressAverage schemesOverdue openFindings { total } schemesHandedOver } }
            rows { works { schemesBelowHalf } } } }",
        Read,
    ),
    ("webhooks", "{ webhooks { id url } }", Refused),
    (
        "webhookDeliveries",
        "{ webhookDeliveries(webhook: $district) { totalCount } }",
        Refused,
    ),
];

/// What hangs off a village the reader may see: only its areas.
const VILLAGE_FIELDS: &[(&str, Outcome)] = &[
    ("gramPanchayat { name }", Read),
    ("block { name district { name state { name } } }", Read),
    ("schemes { name }", Refused),
    ("assignments { id }", Refused),
    ("tasks { title }", Refused),
    ("latestWaterQualityTest { testedBy }", Refused),
    ("waterQualityTests { testedBy }", Refused),
    ("hgjReport { reportedBy }", Refused),
    ("hgjCertification { certifiedOn }", Refused),
];

/// Ids and codes the probes use, as the administrator sees them.
async fn ids(app: &TestApp) -> Vec<(String, Value)> {
    let d = app
        .data(
            "{ districts(first: 1) { nodes { id lgdCode } }
               divisions(first: 1) { nodes { code } }
               blocks(first: 1) { nodes { lgdCode } }
               gramPanchayats(first: 1) { nodes { lgdCode } }
               villages(first: 1, filter: { hgjStatus: [CERTIFIED] }) { nodes { id lgdCode } }
               tasks(first: 1) { nodes { id } }
               schemes(first: 1) { nodes { id code } }
               organisations(first: 1) { nodes { id code } }
               waterQualityTests(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    let one = |field: &str, key: &str| d[field]["nodes"][0][key].clone();
    vec![
        ("district".into(), one("districts", "id")),
        ("districtLgd".into(), one("districts", "lgdCode")),
        ("divisionCode".into(), one("divisions", "code")),
        ("blockLgd".into(), one("blocks", "lgdCode")),
        ("gpLgd".into(), one("gramPanchayats", "lgdCode")),
        ("village".into(), one("villages", "id")),
        ("villageLgd".into(), one("villages", "lgdCode")),
        ("task".into(), one("tasks", "id")),
        ("scheme".into(), one("schemes", "id")),
        ("schemeCode".into(), one("schemes", "code")),
        ("organisation".into(), one("organisations", "id")),
        ("organisationCode".into(), one("organisations", "code")),
        ("test".into(), one("waterQualityTests", "id")),
    ]
}

/// `query` with each `$name` replaced by its value as a GraphQL literal.
fn fill(query: &str, ids: &[(String, Value)]) -> String {
    let mut q = query.to_owned();
    // Longest names first, so `$village` does not eat the start of `$villageLgd`.
    let mut sorted: Vec<_> = ids.iter().collect();
    sorted.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    for (k, v) in sorted {
        assert!(!v.is_null(), "the demo has no {k}");
        q = q.replace(&format!("${k}"), &v.to_string());
    }
    q
}

/// Checks a probe's answer; `refused` is where the refused value would be in `data`.
fn check(outcome: Outcome, what: &str, status: StatusCode, body: &Value, refused: &[&str]) {
    assert_eq!(status, StatusCode::OK, "{what}: {body}");
    match outcome {
        Read => {
            assert!(body.get("errors").is_none(), "{what}: {body:#}");
            assert!(!body["data"].is_null(), "{what}: {body:#}");
        }
        Refused => {
            let codes: Vec<_> = body["errors"]
                .as_array()
                .map(|e| e.iter().map(|e| e["extensions"]["code"].clone()).collect())
                .unwrap_or_default();
            assert!(
                !codes.is_empty() && codes.iter().all(|c| c == "FORBIDDEN"),
                "{what}: {body:#}"
            );
            // Nothing of the refused rows comes back beside the error.
            let value = refused.iter().fold(&body["data"], |v, k| &v[*k]);
            let empty = match value {
                Value::Array(items) => items.iter().all(Value::is_null),
                other => other.is_null(),
            };
            assert!(empty, "{what} leaked {value}");
        }
    }
}

#[tokio::test]
async fn without_public_progress_an_anonymous_reader_gets_401() {
    let app = TestApp::over(TestDb::demo(Backend::Sqlite).await).await;
    let (status, _) = anonymous(
        &app,
        "{ progress(level: STATE) { rows { villages } } }",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_public_reader_cannot_be_named_by_a_token_or_a_client() {
    assert_eq!(Role::parse("public"), None);
    assert!(!Role::ALL.contains(&Role::Public));
    let writes = [
        Scope::TasksWrite,
        Scope::AssignmentsWrite,
        Scope::QualityWrite,
        Scope::CertificationWrite,
        Scope::AuditRead,
        Scope::TasksRead,
        Scope::QualityRead,
        Scope::AssignmentsRead,
    ];
    for s in writes {
        assert!(!Role::Public.allowed_scopes().contains(&s), "{s:?}");
    }
}

#[tokio::test]
async fn the_public_table_covers_every_root_field() {
    let app = TestApp::over(TestDb::new(Backend::Sqlite).await).await;
    let schema = app
        .data("{ __schema { queryType { fields { name } } } }", json!({}))
        .await;
    let fields: BTreeSet<String> = schema["__schema"]["queryType"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect();
    let table: BTreeSet<String> = ROOT.iter().map(|(f, _, _)| (*f).to_owned()).collect();
    assert_eq!(
        fields, table,
        "every root field needs a row saying what the public reader gets"
    );
}

#[tokio::test]
async fn the_public_reader_reads_areas_and_aggregates_and_nothing_else() {
    each_backend(|backend| async move {
        let app = public_app(backend).await;
        let ids = ids(&app).await;
        for (field, query, outcome) in ROOT {
            let q = fill(query, &ids);
            let (status, body) = anonymous(&app, &q, json!({})).await;
            check(*outcome, &format!("{field}: {q}"), status, &body, &[field]);
        }
        for (field, outcome) in VILLAGE_FIELDS {
            let q = fill(
                &format!("{{ node(id: $village) {{ ... on Village {{ name {field} }} }} }}"),
                &ids,
            );
            let (status, body) = anonymous(&app, &q, json!({})).await;
            let key = field.split_whitespace().next().unwrap_or_default();
            let what = format!("village.{field}");
            check(*outcome, &what, status, &body, &["node", key]);
        }
        let (_, viewer) = anonymous(&app, "{ viewer { role scopes } }", json!({})).await;
        assert_eq!(viewer["data"]["viewer"]["role"], "public");
    })
    .await;
}

#[tokio::test]
async fn public_aggregates_equal_the_administrators() {
    each_backend(|backend| async move {
        let app = public_app(backend).await;
        let query = "{ progress(level: DISTRICT) {
            parent { villages households tapConnections coveragePercent villagesReported
                     villagesCertified schemes tasksOpen tasksOverdue }
            rows { areaId villages households tapConnections coveragePercent coverageDifference
                   villagesReported villagesCertified schemes schemesByStatus { status count }
                   tasksOpen tasksOverdue area { ... on District { name nameHi } } } } }";
        let admin = app.data(query, json!({})).await;
        let (status, public) = anonymous(&app, query, json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(public.get("errors").is_none(), "{public:#}");
        assert_eq!(public["data"], admin);
        assert!(
            admin["progress"]["rows"].as_array().expect("rows").len() > 1,
            "the demo has districts"
        );
    })
    .await;
}

#[tokio::test]
async fn the_public_reader_cannot_write_or_introspect() {
    let app = public_app(Backend::Sqlite).await;
    let v = &app
        .data(
            "{ villages(first: 1) { nodes { id version households tapConnections } } }",
            json!({}),
        )
        .await["villages"]["nodes"][0];
    let taps = v["tapConnections"].as_i64().expect("taps");
    let (status, body) = anonymous(
        &app,
        "mutation($i: UpdateVillageCoverageInput!) { updateVillageCoverage(input: $i) { village { id } } }",
        json!({ "i": { "village": v["id"], "expectedVersion": v["version"],
                       "households": v["households"], "tapConnections": if taps > 0 { taps - 1 } else { 1 } } }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body:#}"
    );
    let after = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Village { version tapConnections } } }",
            json!({ "id": v["id"] }),
        )
        .await;
    assert_eq!(
        after["node"]["version"], v["version"],
        "nothing was written"
    );

    // Nor in batches.
    for (field, query, vars) in [
        (
            "createTasks",
            "mutation($v: ID!) { createTasks(items: [{ kind: IEC, title: \"x\", village: $v }]) { results { index } } }",
            json!({ "v": v["id"] }),
        ),
        (
            "transitionTasks",
            "mutation { transitionTasks(items: [{ id: \"VGFzazox\", expectedVersion: 1, to: IN_PROGRESS }]) { results { index } } }",
            json!({}),
        ),
    ] {
        let (status, body) = anonymous(&app, query, vars).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{field}: {body:#}"
        );
        assert!(
            body["data"].is_null() || body["data"][field].is_null(),
            "{body:#}"
        );
    }

    // Without `--public-schema` the schema stays private to token holders.
    let (_, body) = anonymous(&app, "{ __schema { types { name } } }", json!({})).await;
    assert!(body["data"]["__schema"].is_null(), "{body:#}");
    assert!(!body.to_string().contains("ProgressRow"), "{body:#}");
}

#[tokio::test]
async fn the_page_and_its_config_are_served_without_a_secret() {
    let app = public_app(Backend::Sqlite).await;
    let page = app.get("/dashboard/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("/dashboard/app.js"));
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert_eq!(
        app.get("/dashboard").await.status,
        StatusCode::PERMANENT_REDIRECT
    );
    for asset in ["app.js", "api.js", "i18n.js", "style.css"] {
        let r = app.get(&format!("/dashboard/{asset}")).await;
        assert_eq!(r.status, StatusCode::OK, "{asset}");
    }
    let config = app.get("/dashboard/config.json").await.json();
    assert_eq!(config, json!({ "publicProgress": true, "oidc": null }));
}

#[tokio::test]
async fn with_an_openid_provider_the_page_learns_its_issuer_and_public_client_id() {
    let mut settings = api::auth::AuthSettings::embedded(ISSUER);
    settings.external = Some(api::auth::ExternalSettings {
        issuer: "https://idp.example.in/realms/jjm".into(),
        // Never fetched: the page asks the provider, the server only names it.
        jwks_url: "http://127.0.0.1:9/jwks".into(),
        audience: "sangam".into(),
        claims: api::auth::ClaimNames::default(),
    });
    let app = TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions {
            dashboard: DashboardOptions {
                public_progress: false,
                oidc_client_id: Some("sangam-dashboard".into()),
            },
            ..HttpOptions::default()
        },
        settings,
    )
    .await;
    let reply = app.get("/dashboard/config.json").await;
    assert_eq!(
        reply.json(),
        json!({ "publicProgress": false,
                "oidc": { "issuer": "https://idp.example.in/realms/jjm", "clientId": "sangam-dashboard" } })
    );
    assert!(!reply.body.to_lowercase().contains("secret"));
    // The page may reach the provider (discovery, token endpoint) and nothing else.
    let csp = app.get("/dashboard/").await.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("connect-src 'self' https://idp.example.in;"),
        "{csp}"
    );
    // Without --public-progress an anonymous GraphQL request still needs a token.
    let (status, _) = anonymous(&app, "{ progress(level: STATE) { level } }", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
