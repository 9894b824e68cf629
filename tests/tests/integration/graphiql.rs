//! GraphiQL works where states run servers: every asset comes from the binary (no CDN), the
//! demo token is in the headers editor and can be refreshed, subscriptions go over
//! `/graphql/ws`, the page opens on the README's example query; `/` is an index page.

use std::io::Read;

use api::{auth::AuthSettings, graphql::Limits, http::HttpOptions, principal::Role};
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, HttpReply, ISSUER, TestApp, TestDb};

/// An app whose GraphiQL opens with a token of a dashboard client, as `serve --demo` does with
/// its state administrator.
async fn demo_app() -> TestApp {
    let mut app = TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions {
            public_schema: true,
            ..HttpOptions::default()
        },
        AuthSettings::embedded(ISSUER),
    )
    .await;
    let (client_id, _) = app.client(ClientSpec::new(Role::Dashboard)).await;
    let options = HttpOptions {
        public_schema: true,
        graphiql_client: Some(client_id),
        ..HttpOptions::default()
    };
    app.router = api::http::router(api::http::AppState {
        db: app.t.db.clone(),
        schema: api::graphql::schema(Limits::default()),
        auth: app.auth.clone(),
        options,
        bus: app.bus.clone(),
        reads: None,
        webhooks: api::webhooks::Webhooks::new(api::webhooks::Settings::for_tests()),
    });
    app
}

async fn page(app: &TestApp) -> HttpReply {
    let req = Request::get("/graphql")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let reply = app.send(req).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply
}

/// The page's configuration (the JSON it hands its script).
fn config(page: &str) -> Value {
    let start = page
        .find("id=\"sangam-graphiql\">")
        .map(|i| i + "id=\"sangam-graphiql\">".len())
        .expect("the page carries its configuration");
    let end = start
        + page[start..]
            .find("</script>")
            .expect("end of the configuration");
    serde_json::from_str(&page[start..end]).expect("the configuration is JSON")
}

/// Every `src="…"` and `href="…"` of the page.
fn references(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = page;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("closing quote");
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
    }
    out
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

async fn get_raw(
    app: &TestApp,
    uri: &str,
    accept_encoding: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::get(uri);
    if let Some(e) = accept_encoding {
        req = req.header(header::ACCEPT_ENCODING, e);
    }
    let res = tower::ServiceExt::oneshot(
        app.router.clone(),
        req.body(Body::empty()).expect("request"),
    )
    .await
    .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), 64 << 20)
        .await
        .expect("body");
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn graphiql_is_served_offline_from_the_binary() {
    let app = demo_app().await;
    let page = page(&app).await;
    let refs = references(&page.body);
    assert!(refs.len() >= 4, "the page loads its assets: {refs:?}");
    for r in &refs {
        assert!(
            r.starts_with("/graphiql/assets/"),
            "every asset comes from this server, none from a CDN: {r}"
        );
        let (status, headers, gz) = get_raw(&app, r, Some("gzip, deflate, br")).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip", "{r}");
        let plain = gunzip(&gz);
        let kind = headers[header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .to_owned();
        if r.ends_with(".js") {
            assert!(kind.starts_with("text/javascript"), "{r}: {kind}");
        } else {
            assert!(kind.starts_with("text/css"), "{r}: {kind}");
        }
        // A client that refuses gzip gets the same bytes, inflated.
        let (status, headers, inflated) = get_raw(&app, r, Some("identity")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers.get(header::CONTENT_ENCODING).is_none(), "{r}");
        assert_eq!(inflated, plain, "{r}");
    }
    let graphiql = refs
        .iter()
        .find(|r| r.ends_with("graphiql.min.js"))
        .expect("GraphiQL itself");
    let (_, _, gz) = get_raw(&app, graphiql, None).await;
    let js = String::from_utf8(gunzip(&gz)).expect("UTF-8");
    assert!(
        js.contains("createGraphiQLFetcher") || js.contains("createFetcher"),
        "the vendored bundle is GraphiQL's"
    );
    let licences = app.get("/graphiql/assets/THIRD-PARTY.txt").await;
    assert_eq!(licences.status, StatusCode::OK);
    for package in ["graphiql", "react", "react-dom", "graphql"] {
        assert!(
            licences.body.contains(&format!("\n{package} ")),
            "the licence of {package} is shipped"
        );
    }
    let missing = app.get("/graphiql/assets/nothing.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn graphiql_shows_a_refreshable_demo_token_and_opens_on_the_readme_query() {
    let app = demo_app().await;
    let page = page(&app).await;
    let cfg = config(&page.body);

    let readme = include_str!("../../../README.md");
    let example = readme
        .split_once("## An example query")
        .and_then(|(_, rest)| rest.split_once("```graphql\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(q, _)| q)
        .expect("the README has an example query");
    assert_eq!(
        cfg["query"], example,
        "GraphiQL opens on the README's example query"
    );
    assert_eq!(cfg["endpoint"], "/graphql");
    assert_eq!(
        cfg["subscriptionEndpoint"], "/graphql/ws",
        "subscriptions go over the WebSocket endpoint"
    );
    assert!(
        page.body.contains("subscriptionUrl"),
        "GraphiQL's fetcher is given the WebSocket URL"
    );
    assert!(
        page.body.contains("headers: headers") && page.body.contains("\"headers\""),
        "the token is put in the headers editor, shown to the user"
    );

    let token = cfg["token"]["access_token"]
        .as_str()
        .expect("the demo page carries a token")
        .to_owned();
    let ttl = cfg["token"]["expires_in"].as_u64().expect("its lifetime");
    assert!(ttl > 60, "{ttl}");
    let viewer = app.post_as(&token, "{ viewer { role } }", json!({})).await;
    assert_eq!(viewer["data"]["viewer"]["role"], "dashboard", "{viewer:#}");

    let refresh_url = cfg["tokenUrl"].as_str().expect("where to refresh it");
    let refreshed = app.get(refresh_url).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(refreshed.headers[header::CACHE_CONTROL], "no-store");
    let next = refreshed.json();
    let next_token = next["access_token"].as_str().expect("a new token");
    assert_ne!(next_token, token, "a fresh token");
    assert!(next["expires_in"].as_u64().is_some_and(|t| t > 60));
    let viewer = app
        .post_as(next_token, "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(viewer["data"]["viewer"]["role"], "dashboard");
}

#[tokio::test]
async fn without_a_demo_client_graphiql_has_no_token_and_no_refresh() {
    let app = TestApp::with(
        TestDb::new(Backend::Sqlite).await,
        Limits::default(),
        HttpOptions {
            public_schema: true,
            ..HttpOptions::default()
        },
        AuthSettings::embedded(ISSUER),
    )
    .await;
    let cfg = config(&page(&app).await.body);
    assert!(
        cfg["token"].is_null() && cfg["tokenUrl"].is_null(),
        "{cfg:#}"
    );
    assert_eq!(
        app.get("/graphiql/token").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_root_is_an_index_of_the_service() {
    let app = demo_app().await;
    let index = app.get("/").await;
    assert_eq!(index.status, StatusCode::OK, "{}", index.body);
    assert!(
        index.headers[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html")),
        "an HTML page"
    );
    let links = references(&index.body);
    for expected in [
        "/graphql",
        "/schema.graphql",
        "/healthz",
        "/readyz",
        "/docs/README.md",
        "/docs/ACCESS.md",
    ] {
        assert!(
            links.iter().any(|l| l == expected),
            "the index links {expected}: {links:?}"
        );
    }
    for link in &links {
        let reply = app.get(link).await;
        let followed = if link == "/graphql" {
            page(&app).await.status
        } else {
            reply.status
        };
        assert_eq!(followed, StatusCode::OK, "{link} answers: {}", reply.body);
    }
    let readme = app.get("/docs/README.md").await;
    assert!(readme.body.starts_with("# Sangam"), "the README itself");
    let access = app.get("/docs/ACCESS.md").await;
    assert!(access.body.contains("row scope"), "the access model");
}
