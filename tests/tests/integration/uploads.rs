//! Uploads over the API: `importFile` as a real GraphQL multipart request. A district
//! coordinator's rows outside its districts are rejected by line; a dry run writes nothing;
//! Health uploads water-quality results and nothing else; an upload over the upload limit is
//! refused with PAYLOAD_TOO_LARGE while JSON requests keep their own, smaller limit; a
//! multipart request without a header that forces a CORS preflight is refused (CSRF).

use api::{
    auth::AuthSettings,
    graphql::Limits,
    http::HttpOptions,
    principal::{Role, Scope},
};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use tests::{ClientSpec, ISSUER, TestApp, TestDb, each_backend};

const IMPORT: &str = "mutation($kind: ImportKind!, $file: Upload!, $dry: Boolean!) {
    importFile(kind: $kind, file: $file, dryRun: $dry) { dryRun written files { kind rows
    inserted updated unchanged rejected rejections { line column reason } } } }";

/// Two villages of Raipur (LGD 387) and one of another Chhattisgarh district, each with
/// `lgdCode households tapConnections`.
async fn villages(app: &TestApp) -> (Vec<Value>, Value) {
    let fields = "lgdCode households tapConnections district { lgdCode }";
    let raipur = app
        .data("{ district(lgdCode: 387) { id } }", json!({}))
        .await["district"]["id"]
        .clone();
    let cg = app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]["id"].clone();
    let q = format!(
        "query($w: ID!) {{ villages(first: 50, filter: {{ within: $w }}) {{ edges {{ node {{ {fields} }} }} }} }}"
    );
    let nodes = |d: &Value| -> Vec<Value> {
        d["villages"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    };
    let inside = nodes(&app.data(&q, json!({ "w": raipur })).await);
    let outside = nodes(&app.data(&q, json!({ "w": cg })).await)
        .into_iter()
        .find(|v| v["district"]["lgdCode"] != 387)
        .expect("a Chhattisgarh village outside Raipur");
    (inside[..2].to_vec(), outside)
}

fn coverage_row(v: &Value, extra_taps: i64) -> String {
    let hh = v["households"].as_i64().expect("households");
    let taps = v["tapConnections"].as_i64().expect("taps");
    format!("{},{},{}\n", v["lgdCode"], hh, (taps + extra_taps).min(hh))
}

fn coverage_file(rows: &[String]) -> String {
    let mut text = "Village LGD Code,Total Households,Households with FHTC\n".to_owned();
    for r in rows {
        text.push_str(r);
    }
    text
}

async fn taps(app: &TestApp, code: &Value) -> Value {
    app.data(
        "query($c: Int!) { village(lgdCode: $c) { tapConnections } }",
        json!({ "c": code }),
    )
    .await["village"]["tapConnections"]
        .clone()
}

async fn upload(
    app: &TestApp,
    token: &str,
    kind: &str,
    dry: bool,
    name: &str,
    text: &str,
) -> Value {
    let reply = app
        .upload_as(
            token,
            IMPORT,
            json!({ "kind": kind, "file": null, "dry": dry }),
            name,
            text.as_bytes(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

#[tokio::test]
async fn a_coordinator_uploads_coverage_within_its_districts_only() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (inside, outside) = villages(&app).await;
        // Find a village with a household still to connect, so the upload changes it.
        let target = inside
            .iter()
            .find(|v| v["tapConnections"].as_i64() < v["households"].as_i64())
            .unwrap_or(&inside[0])
            .clone();
        let coordinator = app
            .token(ClientSpec::new(Role::DistrictCoordinator).districts(&[387]))
            .await;
        let file = coverage_file(&[coverage_row(&target, 1), coverage_row(&outside, 0)]);
        let res = upload(&app, &coordinator, "COVERAGE", false, "coverage.csv", &file).await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let report = &res["data"]["importFile"];
        assert_eq!(report["written"], false, "{report:#}");
        let f = &report["files"][0];
        assert_eq!(f["rejected"], 1);
        assert_eq!(f["rejections"][0]["line"], 3);
        assert_eq!(f["rejections"][0]["column"], "Village LGD Code");
        assert_eq!(f["rejections"][0]["reason"], "outside your jurisdiction");
        let before = taps(&app, &target["lgdCode"]).await;
        // Inside only, as a dry run: reported, not written.
        let file = coverage_file(&[coverage_row(&target, 1)]);
        let res = upload(&app, &coordinator, "COVERAGE", true, "coverage.csv", &file).await;
        let report = &res["data"]["importFile"];
        assert_eq!(report["dryRun"], true);
        assert_eq!(report["written"], false);
        assert_eq!(taps(&app, &target["lgdCode"]).await, before);
        // Written.
        let res = upload(&app, &coordinator, "COVERAGE", false, "coverage.csv", &file).await;
        let report = &res["data"]["importFile"];
        assert_eq!(report["written"], true, "{res:#}");
        let changed = target["tapConnections"] != taps(&app, &target["lgdCode"]).await;
        assert_eq!(
            report["files"][0]["updated"],
            u64::from(changed),
            "{report:#}"
        );
        // The same upload again changes nothing and says so.
        let res = upload(&app, &coordinator, "COVERAGE", false, "coverage.csv", &file).await;
        let f = &res["data"]["importFile"]["files"][0];
        assert_eq!(
            (f["updated"].clone(), f["unchanged"].clone()),
            (json!(0), json!(1))
        );
        // LGD geography is for state administrators only.
        let res = upload(
            &app,
            &coordinator,
            "LGD",
            true,
            "states.csv",
            "State Code,State Name\n22,CHHATTISGARH\n",
        )
        .await;
        assert_eq!(
            res["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{res:#}"
        );
        assert!(res["data"].is_null() || res["data"]["importFile"].is_null());
    })
    .await;
}

#[tokio::test]
async fn health_uploads_water_quality_results_and_nothing_else() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let (inside, _) = villages(&app).await;
        let health = app
            .data(
                "{ organisations(filter: { department: HEALTH }, first: 50) { edges { node { code state { lgdCode } } } } }",
                json!({}),
            )
            .await["organisations"]["edges"]
            .as_array()
            .expect("orgs")
            .iter()
            .map(|e| e["node"].clone())
            .find(|o| o["state"]["lgdCode"] == 22)
            .expect("Health in Chhattisgarh")["code"]
            .as_str()
            .expect("code")
            .to_owned();
        let token = app
            .token(ClientSpec::new(Role::Department).org(&health).states(&[22]))
            .await;
        let today = api::service::today_ist();
        let file = format!(
            "Sample ID,Village LGD Code,Sampled On,Test Type,Source Name,Source Type,Nitrate (mg/L)\n\
             UP-1,{},{today},FTK,Handpump near the school,Handpump,60\n",
            inside[0]["lgdCode"]
        );
        let res = upload(&app, &token, "WATER_QUALITY", false, "wq.csv", &file).await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let report = &res["data"]["importFile"];
        assert_eq!(report["written"], true, "{report:#}");
        assert_eq!(report["files"][0]["inserted"], 1);
        let opened = app
            .data(
                "{ tasks(first: 10, filter: { kind: [WATER_QUALITY_REMEDIATION] }) { totalCount } }",
                json!({}),
            )
            .await;
        assert!(opened["tasks"]["totalCount"].as_i64() >= Some(1), "{opened:#}");
        let res = upload(&app, &token, "COVERAGE", false, "c.csv", &coverage_file(&[coverage_row(&inside[0], 0)])).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res:#}");
        // import:write alone does not record tests: the token needs quality:write too.
        let narrow = app
            .token(
                ClientSpec::new(Role::Department)
                    .org(&health)
                    .states(&[22])
                    .scopes(&[Scope::ImportWrite]),
            )
            .await;
        let res = upload(&app, &narrow, "WATER_QUALITY", true, "wq.csv", &file).await;
        assert_eq!(res["errors"][0]["extensions"]["needs"], "quality:write", "{res:#}");
    })
    .await;
}

#[tokio::test]
async fn uploads_have_their_own_size_limit_and_need_a_preflight_header() {
    let t = TestDb::demo(tests::Backend::Sqlite).await;
    let app = TestApp::with(
        t,
        Limits::default(),
        HttpOptions {
            max_body_bytes: 4 * 1024,
            max_upload_bytes: 64 * 1024,
            ..HttpOptions::default()
        },
        AuthSettings::embedded(ISSUER),
    )
    .await;
    let token = app.admin_token.clone();
    let vars = json!({ "kind": "COVERAGE", "file": null, "dry": true });
    let header = "Village LGD Code,Total Households,Households with FHTC\n";
    // 20 KiB: over the JSON body limit, within the upload limit.
    let mut medium = header.to_owned();
    while medium.len() < 20 * 1024 {
        medium.push_str("1,10,5\n");
    }
    let reply = app
        .upload_as(&token, IMPORT, vars.clone(), "c.csv", medium.as_bytes())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.json()["data"]["importFile"]["files"][0]["rows"].as_u64() > Some(1000));
    let big = "x".repeat(70 * 1024);
    let reply = app
        .upload_as(&token, IMPORT, vars.clone(), "c.csv", big.as_bytes())
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    assert_eq!(
        reply.json()["errors"][0]["extensions"]["code"],
        "PAYLOAD_TOO_LARGE"
    );
    // A JSON request keeps the body limit.
    let json_body =
        json!({ "query": format!("{{ states {{ totalCount }} }} #{}", "x".repeat(8 * 1024)) });
    let req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(json_body.to_string()))
        .expect("request");
    let reply = app.send(req).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    // Without Authorization or GraphQL-Require-Preflight a browser form could send it: refused.
    let req = app.upload_request(None, IMPORT, vars.clone(), "c.csv", medium.as_bytes());
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(
        reply.body.contains("GraphQL-Require-Preflight"),
        "{}",
        reply.body
    );
    // With the preflight header but no token: the usual 401.
    let mut req = app.upload_request(None, IMPORT, vars, "c.csv", medium.as_bytes());
    req.headers_mut()
        .insert("graphql-require-preflight", "1".parse().expect("header"));
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
}
