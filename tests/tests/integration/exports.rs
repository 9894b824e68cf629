//! `GET /export/…`: the same rows as GraphQL for each role, CSV with a byte-order mark and
//! `.xlsx`, and a round trip (export the villages, import them as coverage: all unchanged).

use api::{
    ingest::{Kind, Source},
    principal::Role,
};
use axum::{
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
};
use tests::{Backend, ClientSpec, TestApp, TestDb, each_backend};
use tower::ServiceExt;

use super::imports::{import, load_samples, source};

async fn export(app: &TestApp, token: Option<&str>, uri: &str) -> (StatusCode, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("router");
    let status = res.status();
    let bytes = to_bytes(res.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body");
    (status, bytes.to_vec())
}

fn csv_lines(bytes: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(text.starts_with('\u{feff}'), "a byte-order mark for Excel");
    text.trim_start_matches('\u{feff}')
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn exported_villages_import_back_unchanged_as_csv_and_xlsx() {
    each_backend(|backend: Backend| async move {
        let t = TestDb::new(backend).await;
        load_samples(&t.db).await;
        import(&t.db, Kind::Coverage, vec![source("coverage.csv")]).await;
        let app = TestApp::over(t).await;
        let token = app
            .token(ClientSpec::new(Role::StateAdmin).states(&[20]))
            .await;
        let (status, csv) = export(&app, Some(&token), "/export/villages.csv").await;
        assert_eq!(status, StatusCode::OK);
        let lines = csv_lines(&csv);
        assert_eq!(lines.len(), 61, "a header and 60 villages");
        assert!(
            lines[0].starts_with("Village LGD Code,Village Name,"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].starts_with("7000001,Patewa A,पटेवा क,20,322,3064,900001,84,79,"),
            "{}",
            lines[1]
        );
        let r = import(
            &app.t.db,
            Kind::Coverage,
            vec![Source {
                name: "villages.csv".into(),
                bytes: csv,
            }],
        )
        .await;
        assert_eq!(
            [
                r.files[0].updated,
                r.files[0].unchanged,
                r.files[0].rejected
            ],
            [0, 60, 0],
            "{}",
            r.summary(10)
        );
        let (status, xlsx) = export(&app, Some(&token), "/export/villages.xlsx").await;
        assert_eq!(status, StatusCode::OK);
        assert!(xlsx.starts_with(b"PK"), "a zip");
        let r = import(
            &app.t.db,
            Kind::Coverage,
            vec![Source {
                name: "villages.xlsx".into(),
                bytes: xlsx,
            }],
        )
        .await;
        assert_eq!(
            [r.files[0].rows, r.files[0].unchanged, r.files[0].rejected],
            [60, 60, 0],
            "{}",
            r.summary(10)
        );

        // Filters are the GraphQL list's.
        let (_, some) = export(
            &app,
            Some(&token),
            "/export/villages.csv?search=patewa&coverageMin=90",
        )
        .await;
        let lines = csv_lines(&some);
        assert_eq!(
            lines.len(),
            3,
            "two villages are called Patewa A: {lines:?}"
        );
        let (status, _) = export(&app, Some(&token), "/export/villages.csv?coverageMin=120").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    })
    .await;
}

#[tokio::test]
async fn each_role_exports_the_rows_it_reads() {
    each_backend(|backend: Backend| async move {
        let app = TestApp::demo(backend).await;
        let (status, _) = export(&app, None, "/export/villages.csv").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = export(&app, Some(&app.admin_token), "/export/schemes.csv").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let count = |q: serde_json::Value, list: &str| {
            q["data"][list]["totalCount"].as_u64().expect("count") as usize
        };
        for spec in [
            ClientSpec::new(Role::StateAdmin).states(&[22]),
            ClientSpec::new(Role::DistrictCoordinator).districts(&[387]),
            ClientSpec::new(Role::Department)
                .org("CG-HEALTH")
                .states(&[22]),
        ] {
            let token = app.token(spec).await;
            for (file, list) in [
                ("villages.csv", "villages"),
                ("tasks.csv", "tasks"),
                ("water-quality-tests.csv", "waterQualityTests"),
            ] {
                let q = format!("{{ {list} {{ totalCount }} }}");
                let res = app.post_as(&token, &q, serde_json::json!({})).await;
                let (status, body) = export(&app, Some(&token), &format!("/export/{file}")).await;
                assert_eq!(status, StatusCode::OK, "{file}");
                assert_eq!(csv_lines(&body).len() - 1, count(res, list), "{file}");
            }
        }
        // A dashboard reads tests, but not who took them; it reads no tasks.
        let dash = app
            .token(ClientSpec::new(Role::Dashboard).states(&[22]))
            .await;
        let (status, body) = export(&app, Some(&dash), "/export/water-quality-tests.csv").await;
        assert_eq!(status, StatusCode::OK);
        assert!(!csv_lines(&body)[0].contains("Tested By"));
        let (status, _) = export(&app, Some(&dash), "/export/assignments.csv").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = export(&app, Some(&app.admin_token), "/export/progress.xlsx").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with(b"PK"));
    })
    .await;
}
