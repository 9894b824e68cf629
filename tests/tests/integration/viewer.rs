//! `viewer` says who the caller is: organisation, jurisdiction with names, token expiry, and
//! each scope with what it allows.

use api::principal::{Role, Scope};
use serde_json::json;
use tests::{ClientSpec, TestApp, each_backend};

const VIEWER: &str = "{ viewer { sub role department expiresAt
    organisation { name code department }
    jurisdiction { national states { lgdCode name } districts { lgdCode name } }
    grants { scope description } scopes } }";

#[tokio::test]
async fn a_department_officer_sees_its_organisation_jurisdiction_expiry_and_grants() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let health = app
            .data(
                "{ organisations(filter: { department: HEALTH }, first: 10) { edges { node { code name state { lgdCode } } } } }",
                json!({}),
            )
            .await;
        let org = health["organisations"]["edges"]
            .as_array()
            .expect("orgs")
            .iter()
            .map(|e| &e["node"])
            .find(|o| o["state"]["lgdCode"] == 22)
            .expect("CG health")
            .clone();
        let token = app
            .token(
                ClientSpec::new(Role::Department)
                    .org(org["code"].as_str().expect("code"))
                    .states(&[22])
                    .scopes(&[Scope::VillagesRead, Scope::QualityWrite]),
            )
            .await;
        let res = app.post_as(&token, VIEWER, json!({})).await;
        assert!(res.get("errors").is_none(), "{res:#}");
        let v = &res["data"]["viewer"];
        assert_eq!(v["role"], "department");
        assert_eq!(v["organisation"]["code"], org["code"]);
        assert_eq!(v["organisation"]["name"], org["name"]);
        assert_eq!(v["organisation"]["department"], "HEALTH");
        assert_eq!(v["jurisdiction"]["national"], false);
        assert_eq!(v["jurisdiction"]["states"], json!([{ "lgdCode": 22, "name": "Chhattisgarh" }]));
        assert_eq!(v["jurisdiction"]["districts"], json!([]));
        let expires = chrono::DateTime::parse_from_rfc3339(v["expiresAt"].as_str().expect("expiresAt"))
            .expect("a date-time");
        assert!(expires > chrono::Utc::now(), "{expires}");
        let grants = v["grants"].as_array().expect("grants");
        assert_eq!(grants.len(), 2, "{grants:?}");
        assert_eq!(grants[0]["scope"], "villages:read");
        assert_eq!(grants[1]["scope"], "quality:write");
        assert!(grants.iter().all(|g| g["description"].as_str().is_some_and(|d| d.len() > 10)));
    })
    .await;
}

#[tokio::test]
async fn a_district_coordinator_sees_its_districts_and_their_states() {
    each_backend(|backend| async move {
        let app = TestApp::demo(backend).await;
        let d = app
            .data("{ districts(first: 2) { edges { node { lgdCode name state { lgdCode name } } } } }", json!({}))
            .await;
        let edges = d["districts"]["edges"].as_array().expect("districts");
        let codes: Vec<i32> = edges.iter().map(|e| e["node"]["lgdCode"].as_i64().expect("code") as i32).collect();
        let token = app.token(ClientSpec::new(Role::DistrictCoordinator).districts(&codes)).await;
        let v = &app.post_as(&token, VIEWER, json!({})).await["data"]["viewer"];
        let names: Vec<&str> = v["jurisdiction"]["districts"]
            .as_array()
            .expect("districts")
            .iter()
            .map(|d| d["name"].as_str().expect("name"))
            .collect();
        let expected: Vec<&str> = edges.iter().map(|e| e["node"]["name"].as_str().expect("name")).collect();
        assert_eq!(names, expected);
        assert_eq!(v["jurisdiction"]["states"][0]["name"], edges[0]["node"]["state"]["name"]);
        assert_eq!(v["organisation"], serde_json::Value::Null);
        assert_eq!(v["grants"].as_array().expect("grants").len(), Scope::ALL.len());
    })
    .await;
}
