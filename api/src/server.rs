//! Starting and stopping the HTTP server.

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::{
    auth::{Authenticator, demo},
    browsers::AllowedOrigins,
    config::ServeArgs,
    db,
    events::EventBus,
    graphql::{self, Limits, limits::QueryLimits},
    http::{AppState, HttpOptions, router},
    seed,
    ws::Shutdown,
};

/// Serves until a stop signal; `exporter` (with `--otlp-endpoint`) sends the spans.
pub async fn serve(
    args: ServeArgs,
    exporter: Option<crate::telemetry::otlp::Exporter>,
) -> anyhow::Result<()> {
    let spans = exporter
        .map(crate::telemetry::otlp::Exporter::start)
        .transpose()?;
    tracing::info!(
        listen = %args.listen,
        database_url = %db::mask_url(&args.db.database_url),
        db_max_connections = args.db.db_max_connections,
        demo = args.demo,
        max_page_size = args.max_page_size,
        "starting sangam {}",
        env!("CARGO_PKG_VERSION"),
    );
    let mut allowed_origins = AllowedOrigins::parse(&args.cors_allow_origins)?;
    let mut db = db::connect_patiently(
        &args.db.database_url,
        args.db.pool(args.db.db_max_connections),
        std::time::Duration::from_secs(args.db_connect_timeout),
    )
    .await?;
    crate::metrics::count_statements(&mut db);
    Migrator::up(&db, None)
        .await
        .context("applying migrations")?;
    if args.demo {
        if seed::is_seeded(&db).await? {
            tracing::info!("database already holds data; demo seed skipped");
        } else {
            let summary = seed::demo(&db, crate::service::today_ist())
                .await
                .context("seeding demo data")?;
            tracing::info!(?summary, "demo data loaded");
        }
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    let settings = args.auth.settings(local);
    tracing::info!(
        issuer = %settings.issuer,
        audience = %settings.audience,
        token_ttl_secs = settings.token_ttl.as_secs(),
        embedded = settings.embedded,
        external_issuer = settings.external.as_ref().map(|e| e.issuer.as_str()),
        introspection_url = settings.introspection.as_ref().map(|i| i.url.as_str()),
        public_schema = args.auth.public_schema || args.demo,
        public_progress = args.public_progress,
        "authentication"
    );
    let auth = Arc::new(Authenticator::new(db.clone(), settings).await?);
    let mut options = HttpOptions {
        public_schema: args.auth.public_schema,
        graphiql_client: None,
        batch_window: std::time::Duration::from_millis(args.batch_window_ms),
        max_batch: args.max_batch,
        max_body_bytes: args.max_body_bytes,
        max_upload_bytes: args.max_upload_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
        slow_request: std::time::Duration::from_millis(args.slow_request_ms),
        allow_list: args.allow_list,
        dashboard: crate::dashboard::DashboardOptions {
            public_progress: args.public_progress,
            oidc_client_id: args.dashboard_oidc_client_id.clone(),
        },
        allowed_origins: AllowedOrigins::None,
        shutdown: Shutdown::default(),
    };
    if !args.demo && auth.settings.embedded && crate::auth::clients::list(&db).await?.is_empty() {
        tracing::warn!(
            "no OAuth clients are registered, so no one can get a token: run `sangam client add` \
             (see `sangam client add --help`), or start with --demo for one client per role"
        );
    }
    if args.demo && auth.settings.embedded {
        let clients = demo::ensure_clients(&db)
            .await
            .context("creating demo clients")?;
        print_demo_clients(&clients, local);
        options.public_schema = true;
        options.graphiql_client = Some("demo-state-admin".to_owned());
        if matches!(allowed_origins, AllowedOrigins::None) {
            allowed_origins = AllowedOrigins::Any;
        }
    }
    tracing::info!(?allowed_origins, "browser origins (CORS, WebSocket)");
    options.allowed_origins = allowed_origins;
    let (trigger, shutdown) = Shutdown::new();
    options.shutdown = shutdown;
    let schema = graphql::schema(Limits {
        max_page_size: args.max_page_size,
        query: QueryLimits {
            max_depth: args.max_depth,
            max_complexity: args.max_complexity,
            max_aliases: args.max_aliases,
        },
    });
    let reads = match &args.database_read_url {
        Some(url) => Some(read_replica(url, &args).await?),
        None => None,
    };
    let bus = EventBus::start(&db, &args.db.database_url);
    tokio::spawn(crate::service::rollup::keep_overdue_current(db.clone()));
    tokio::spawn(crate::events::keep_pruned(
        db.clone(),
        args.retention.window(),
    ));
    let webhooks = crate::webhooks::Webhooks::new(args.webhooks.settings());
    tracing::info!(
        allow_private = webhooks.settings.reach.allow_private,
        allow_http = webhooks.settings.reach.allow_http,
        retry_window_secs = webhooks.settings.retry_window.as_secs(),
        "webhooks"
    );
    let workers = webhooks.start(db.clone(), bus.clone());
    // Sends in flight get their timeout to finish, and the recorder a few seconds to write.
    let workers_limit = webhooks.settings.timeout + std::time::Duration::from_secs(5);
    let app = router(AppState {
        db: db.clone(),
        schema,
        auth,
        options,
        bus,
        reads,
        webhooks,
    });
    tracing::info!("listening on http://{local}/graphql");
    tracing::info!("progress page at http://{local}/dashboard");
    // Connection info gives the token endpoint the source address it rate-limits failures by.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopping = async move {
        shutdown_signal().await;
        let _ = stop_tx.send(());
    };
    // WebSockets are upgraded connections the HTTP server no longer tracks: they are told to
    // close (1001) as soon as the signal comes, and waited for once requests have drained.
    let served = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(stopping)
            .await
    });
    let _ = stop_rx.await;
    trigger.start();
    // The webhook workers stop while requests drain: they need the pool until their last
    // outcome is written, so they must be done before it closes. Events that draining requests
    // commit are in the log for the next start.
    let workers = tokio::spawn(workers.stop(workers_limit));
    // Each step of the stop is bounded: a request or a background worker stuck on a database
    // that has gone away must not keep the process from exiting (an orchestrator would have to
    // kill it, and a drain that never ends looks like a hang).
    let served = match tokio::time::timeout(DRAIN, served).await {
        Ok(served) => served,
        Err(_) => {
            tracing::warn!(after = ?DRAIN, "requests still running at shutdown; stopping anyway");
            Ok(Ok(()))
        }
    };
    // Bounded by `workers_limit` inside; a panicked worker has nothing left to wait for.
    let _ = workers.await;
    served??;
    trigger.drained(std::time::Duration::from_secs(5)).await;
    if tokio::time::timeout(std::time::Duration::from_secs(5), db.close())
        .await
        .is_err()
    {
        tracing::warn!("database connections still in use at shutdown; stopping anyway");
    }
    // Last, so the spans of the requests that drained are sent too.
    if let Some(spans) = spans {
        spans.shutdown(std::time::Duration::from_secs(5)).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// How long in-flight requests get to finish after a stop signal.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(20);

/// The read replica's pool, for `--database-read-url`: PostgreSQL only (a replica of the
/// primary behind `--database-url`).
async fn read_replica(url: &str, args: &ServeArgs) -> anyhow::Result<crate::replica::Reads> {
    anyhow::ensure!(
        url.starts_with("postgres"),
        "--database-read-url must be a PostgreSQL URL (a replica of the primary)"
    );
    anyhow::ensure!(
        args.db.database_url.starts_with("postgres"),
        "--database-read-url needs a PostgreSQL --database-url"
    );
    anyhow::ensure!(
        args.replica_max_lag_secs.is_finite() && args.replica_max_lag_secs >= 0.0,
        "--replica-max-lag-secs must be a number of seconds, at least 0"
    );
    let mut replica = db::connect_pool(url, args.db.pool(args.db.db_max_connections)).await?;
    crate::metrics::count_statements(&mut replica);
    tracing::info!(
        database_read_url = %db::mask_url(url),
        replica_max_lag_secs = args.replica_max_lag_secs,
        "queries may read from the replica"
    );
    Ok(crate::replica::Reads::new(
        replica,
        std::time::Duration::from_secs_f64(args.replica_max_lag_secs),
    ))
}

/// Demo only: how to get a token for each role (the secrets are new every start).
fn print_demo_clients(clients: &[demo::DemoClient], local: std::net::SocketAddr) {
    let mut text =
        String::from("\nDemo clients (new secrets on every start). Get a token with curl:\n");
    for c in clients {
        text.push_str(&format!(
            "  {:<22} curl -s -u {}:{} -d grant_type=client_credentials http://{local}/oauth/token\n",
            c.role.as_str(),
            c.client_id,
            c.secret
        ));
    }
    text.push_str(&format!(
        "then: curl -s http://{local}/graphql -H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' -d '{{\"query\":\"{{ viewer {{ role scopes }} }}\"}}'\n\
         GraphiQL at http://{local}/graphql opens with a state administrator's token.\n"
    ));
    eprintln!("{text}");
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before the server stops.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received, draining requests");
}
