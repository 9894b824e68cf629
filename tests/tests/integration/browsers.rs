//! Browsers and slow links: CORS (preflight and the WebSocket origin check) and compression.

use std::io::Write;

use api::{auth::AuthSettings, browsers::AllowedOrigins, graphql::Limits, http::HttpOptions};
use axum::{
    body::Body,
    http::{Method, Request, StatusCode, header},
};
use serde_json::json;
use tests::{Backend, ISSUER, TestApp, TestDb};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{client::IntoClientRequest, http::HeaderValue},
};

const DASHBOARD: &str = "https://dashboard.jjm.example.in";

async fn app_with(origins: &[&str]) -> TestApp {
    let list: Vec<String> = origins.iter().map(|s| s.to_string()).collect();
    let options = HttpOptions {
        allowed_origins: AllowedOrigins::parse(&list).expect("origins"),
        ..HttpOptions::default()
    };
    TestApp::with(
        TestDb::demo(Backend::Sqlite).await,
        Limits::default(),
        options,
        AuthSettings::embedded(ISSUER),
    )
    .await
}

fn preflight(origin: &str) -> Request<Body> {
    Request::builder()
        .method(Method::OPTIONS)
        .uri("/graphql")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, x-request-id, idempotency-key, apollo-require-preflight",
        )
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn cors_preflight_and_responses_for_allowed_origins() {
    let app = app_with(&[DASHBOARD]).await;
    let r = app.send(preflight(DASHBOARD)).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], DASHBOARD);
    let allowed = r.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .expect("headers")
        .to_ascii_lowercase();
    for h in [
        "authorization",
        "content-type",
        "x-request-id",
        "idempotency-key",
        "apollo-require-preflight",
    ] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    assert!(
        r.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .expect("methods")
            .contains("POST")
    );

    let req = Request::post("/graphql")
        .header(header::ORIGIN, DASHBOARD)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
        .body(Body::from(
            json!({ "query": "{ viewer { role } }" }).to_string(),
        ))
        .expect("request");
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], DASHBOARD);

    // Another origin gets no CORS header, so its browser refuses the answer.
    let r = app.send(preflight("https://evil.example")).await;
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    // By default, no origin is allowed.
    let closed = app_with(&[]).await;
    let r = closed.send(preflight(DASHBOARD)).await;
    assert!(!r.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    // `*` allows any.
    let open = app_with(&["*"]).await;
    let r = open.send(preflight("https://anyone.example")).await;
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}

#[tokio::test]
async fn websocket_upgrades_check_the_origin() {
    let app = app_with(&[DASHBOARD]).await;
    let base = app.serve().await;
    let open = |origin: Option<&'static str>| {
        let url = format!("{}/graphql/ws", base.replacen("http", "ws", 1));
        async move {
            let mut req = url.into_client_request().expect("ws request");
            req.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_static("graphql-transport-ws"),
            );
            if let Some(o) = origin {
                req.headers_mut()
                    .insert("origin", HeaderValue::from_static(o));
            }
            connect_async(req).await
        }
    };
    assert!(open(Some(DASHBOARD)).await.is_ok());
    assert!(
        open(None).await.is_ok(),
        "non-browser clients send no Origin"
    );
    let refused = open(Some("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 403)
        }
        other => panic!("expected 403, got {other:?}"),
    }
}

#[tokio::test]
async fn responses_are_compressed_and_gzip_bodies_accepted() {
    let app = app_with(&[]).await;
    let query =
        json!({ "query": "{ villages(first: 100) { nodes { id name nameHi households } } }" })
            .to_string();
    for encoding in ["gzip", "br", "zstd"] {
        let req = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT_ENCODING, encoding)
            .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
            .body(Body::from(query.clone()))
            .expect("request");
        let r = app.send(req).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers[header::CONTENT_ENCODING], encoding);
    }
    // Small answers are sent as they are.
    let req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
        .body(Body::from(
            json!({ "query": "{ viewer { role } }" }).to_string(),
        ))
        .expect("request");
    let r = app.send(req).await;
    assert!(!r.headers.contains_key(header::CONTENT_ENCODING));

    // A gzip request body.
    let gz = stored_gzip(
        json!({ "query": "{ viewer { role } }" })
            .to_string()
            .as_bytes(),
    );
    let req = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_ENCODING, "gzip")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.admin_token))
        .body(Body::from(gz))
        .expect("request");
    let r = app.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["data"]["viewer"]["role"], "state_admin");
}

/// A gzip member with stored (uncompressed) deflate blocks: enough for a decoder to read, and
/// no compression crate needed in the tests.
fn stored_gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        let len = chunk.len() as u16;
        out.write_all(&len.to_le_bytes()).expect("write");
        out.write_all(&(!len).to_le_bytes()).expect("write");
        out.write_all(chunk).expect("write");
    }
    out.write_all(&crc32(data).to_le_bytes()).expect("write");
    out.write_all(&(data.len() as u32).to_le_bytes())
        .expect("write");
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
