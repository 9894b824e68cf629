//! The progress page (`/dashboard`): a static page and its assets, compiled into the binary so
//! it works on a network without internet, reading only the public GraphQL API.
//!
//! The page learns how to sign in from `/dashboard/config.json`: whether anonymous readers get
//! the public aggregates (`--public-progress`), and the external OpenID provider's issuer and
//! the page's public client id (`--dashboard-oidc-client-id`), for the authorisation-code flow
//! with PKCE. It holds no secret: a public client has none.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use serde_json::json;

use crate::{http::AppState, principal::Principal};

/// How the progress page is offered.
#[derive(Debug, Clone, Default)]
pub struct DashboardOptions {
    /// Anyone may read progress aggregates and area names without a token.
    pub public_progress: bool,
    /// Client id of the page at the external OpenID provider (a public client, PKCE).
    pub oidc_client_id: Option<String>,
}

/// The principal an anonymous request runs as: the public reader when `--public-progress` is
/// on, otherwise none (the request needs a token).
pub fn anonymous(options: &DashboardOptions) -> Option<Principal> {
    options.public_progress.then(Principal::public)
}

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: [Asset; 5] = [
    Asset {
        path: "/dashboard/",
        content_type: "text/html; charset=utf-8",
        body: include_str!("../assets/dashboard/index.html"),
    },
    Asset {
        path: "/dashboard/app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/dashboard/app.js"),
    },
    Asset {
        path: "/dashboard/api.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/dashboard/api.js"),
    },
    Asset {
        path: "/dashboard/i18n.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../assets/dashboard/i18n.js"),
    },
    Asset {
        path: "/dashboard/style.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../assets/dashboard/style.css"),
    },
];

/// The page's routes, merged into the main router.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route(
            "/dashboard",
            get(|| async { Redirect::permanent("/dashboard/") }),
        )
        .route("/dashboard/config.json", get(config));
    for asset in &ASSETS {
        let (content_type, body) = (asset.content_type, asset.body);
        r = r.route(
            asset.path,
            get(move |State(st): State<AppState>| async move {
                with_headers(&st, content_type, body.into_response())
            }),
        );
    }
    r
}

/// What the page needs to know to sign in; never a secret.
async fn config(State(st): State<AppState>) -> Response {
    let d = &st.options.dashboard;
    let oidc = match (&st.auth.settings.external, &d.oidc_client_id) {
        (Some(ext), Some(client_id)) => json!({ "issuer": ext.issuer, "clientId": client_id }),
        _ => serde_json::Value::Null,
    };
    let body = json!({
        "publicProgress": d.public_progress,
        "oidc": oidc,
    });
    with_headers(&st, "application/json", Json(body).into_response())
}

/// The page may talk to this server and, when one is configured, to the OpenID provider
/// (discovery and the token endpoint); nothing else loads or runs.
fn with_headers(st: &AppState, content_type: &'static str, mut res: Response) -> Response {
    let provider = st
        .options
        .dashboard
        .oidc_client_id
        .as_ref()
        .and(st.auth.settings.external.as_ref())
        .and_then(|ext| origin(&ext.issuer))
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'{provider}; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The page changes with the binary; revalidating is cheap and keeps it current.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The sign-in callback carries a code in the URL; no other site may see it.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

/// `scheme://host[:port]` of a URL, for the CSP.
fn origin(url: &str) -> Option<String> {
    let o = reqwest::Url::parse(url).ok()?.origin();
    o.is_tuple().then(|| o.ascii_serialization())
}
