//! GraphiQL, served entirely from the binary (no CDN: state data centres often have no
//! internet), and the index page at `/`.
//!
//! The browser assets are vendored npm releases (`api/assets/graphiql/`, written by
//! `tools/update-graphiql.sh`, licences beside them), stored gzipped: they are sent as they
//! are to every client that accepts gzip, and inflated only for one that refuses it.

use std::io::Read;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::http::AppState;

/// A vendored asset: its name under `/graphiql/assets/`, media type and gzipped bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzipped: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:literal) => {
        Asset {
            name: $name,
            content_type: $type,
            gzipped: include_bytes!(concat!("../../assets/graphiql/", $name, ".gz")),
        }
    };
}

static ASSETS: [Asset; 4] = [
    asset!("graphiql.min.js", "text/javascript; charset=utf-8"),
    asset!("graphiql.min.css", "text/css; charset=utf-8"),
    asset!("react.production.min.js", "text/javascript; charset=utf-8"),
    asset!(
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8"
    ),
];

const LICENCES: &str = include_str!("../../assets/graphiql/licenses/THIRD-PARTY.txt");
const PAGE: &str = include_str!("page.html");
const INDEX: &str = include_str!("index.html");
const README: &str = include_str!("../../../README.md");
const ACCESS: &str = include_str!("../../../docs/ACCESS.md");

/// The routes of this module: `/`, the assets, the docs and (demo only) the token refresh.
pub fn routes(st: &AppState) -> Router<AppState> {
    let mut r = Router::new()
        .route("/", get(index))
        .route("/graphiql/assets/{name}", get(asset))
        .route("/docs/{name}", get(doc));
    if st.options.graphiql_client.is_some() {
        r = r.route("/graphiql/token", get(refresh_token));
    }
    r
}

/// The README's example query: the first `graphql` block under "An example query", so that
/// GraphiQL opens on exactly what the README shows.
pub fn example_query() -> &'static str {
    let block = README
        .split_once("## An example query")
        .and_then(|(_, rest)| rest.split_once("```graphql\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(query, _)| query);
    block.unwrap_or("{ viewer { sub role scopes } }")
}

/// The GraphiQL page, with the demo client's fresh token in its headers editor when there is
/// one (`serve --demo`).
pub async fn page(st: &AppState) -> Response {
    let token = match &st.options.graphiql_client {
        Some(client_id) => demo_token(st, client_id).await,
        None => None,
    };
    let config = json!({
        "endpoint": "/graphql",
        "subscriptionEndpoint": "/graphql/ws",
        "query": example_query(),
        "token": token.as_ref().map(|(t, ttl)| json!({ "access_token": t, "expires_in": ttl })),
        "tokenUrl": token.as_ref().map(|_| "/graphiql/token"),
    });
    // JSON inside <script>: no `<` may close the element early.
    let config = config.to_string().replace('<', "\\u003c");
    no_store(Html(PAGE.replace("{{CONFIG}}", &config)).into_response())
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// A fresh token of the demo client, with its lifetime in seconds.
async fn demo_token(st: &AppState, client_id: &str) -> Option<(String, u64)> {
    let client = crate::auth::clients::find(&st.db, client_id)
        .await
        .ok()
        .flatten()?;
    let scopes = crate::principal::Scope::parse_list(&client.scopes).ok()?;
    match st.auth.issue(&client, &scopes).await {
        Ok(issued) => Some(issued),
        Err(e) => {
            tracing::warn!(error = %e, "cannot issue the demo token for GraphiQL");
            None
        }
    }
}

/// Demo only: the next token for GraphiQL's headers, fetched by the page before the last one
/// expires.
async fn refresh_token(State(st): State<AppState>) -> Response {
    let Some(client_id) = st.options.graphiql_client.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match demo_token(&st, client_id).await {
        Some((token, ttl)) => no_store(
            Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl }))
                .into_response(),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": "the demo token cannot be issued now" })),
        )
            .into_response(),
    }
}

/// Whether the client takes gzip (RFC 9110 §12.5.3: no `Accept-Encoding` at all means any
/// coding is acceptable).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::ACCEPT_ENCODING) else {
        return true;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => any = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == "THIRD-PARTY.txt" {
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            LICENCES,
        )
            .into_response();
    }
    let Some(a) = ASSETS.iter().find(|a| a.name == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let common = [
        (header::CONTENT_TYPE, a.content_type),
        (header::CACHE_CONTROL, "public, max-age=86400"),
        (header::VARY, "accept-encoding"),
    ];
    if accepts_gzip(&headers) {
        return (common, [(header::CONTENT_ENCODING, "gzip")], a.gzipped).into_response();
    }
    let mut plain = Vec::new();
    match flate2::read::GzDecoder::new(a.gzipped).read_to_end(&mut plain) {
        Ok(_) => (common, plain).into_response(),
        Err(e) => {
            tracing::error!(error = %e, asset = a.name, "a vendored asset does not inflate");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn doc(Path(name): Path<String>) -> Response {
    let text = match name.as_str() {
        "README.md" => README,
        "ACCESS.md" => ACCESS,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        text,
    )
        .into_response()
}

async fn index(State(st): State<AppState>) -> Response {
    let needs_token = if st.options.public_schema {
        ""
    } else {
        " (needs a token: this server's schema is not public)"
    };
    let oauth = if st.auth.settings.embedded {
        "<li>Tokens: <code>POST /oauth/token</code> (client credentials), \
         <a href=\"/.well-known/oauth-authorization-server\">the authorization server's metadata</a>, \
         <a href=\"/.well-known/jwks.json\">its keys</a></li>\n"
    } else {
        ""
    };
    let page = INDEX
        .replace("{{GRAPHIQL_NOTE}}", needs_token)
        .replace("{{SDL_NOTE}}", needs_token)
        .replace("{{OAUTH}}", oauth)
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"));
    Html(page).into_response()
}
