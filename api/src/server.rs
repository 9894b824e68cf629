//! Starting and stopping the HTTP server.

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use std::sync::Arc;

use crate::{
    auth::{Authenticator, demo},
    config::ServeArgs,
    db,
    events::EventBus,
    graphql::{self, Limits, limits::QueryLimits},
    http::{AppState, HttpOptions, router},
    seed,
};

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(
        listen = %args.listen,
        database_url = %db::mask_url(&args.db.database_url),
        db_max_connections = args.db.db_max_connections,
        demo = args.demo,
        max_page_size = args.max_page_size,
        "starting sangam {}",
        env!("CARGO_PKG_VERSION"),
    );
    let mut db = db::connect(&args.db.database_url, args.db.db_max_connections).await?;
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
        "authentication"
    );
    let auth = Arc::new(Authenticator::new(db.clone(), settings).await?);
    let mut options = HttpOptions {
        public_schema: args.auth.public_schema,
        graphiql_client: None,
        batch_window: std::time::Duration::from_millis(args.batch_window_ms),
        max_batch: args.max_batch,
        max_body_bytes: args.max_body_bytes,
        request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
        allow_list: args.allow_list,
    };
    if args.demo && auth.settings.embedded {
        let clients = demo::ensure_clients(&db)
            .await
            .context("creating demo clients")?;
        print_demo_clients(&clients, local);
        options.public_schema = true;
        options.graphiql_client = Some("demo-state-admin".to_owned());
    }
    let schema = graphql::schema(Limits {
        max_page_size: args.max_page_size,
        query: QueryLimits {
            max_depth: args.max_depth,
            max_complexity: args.max_complexity,
            max_aliases: args.max_aliases,
        },
    });
    let bus = EventBus::start(&db, &args.db.database_url);
    tokio::spawn(crate::service::rollup::keep_overdue_current(db.clone()));
    let webhooks = crate::webhooks::Webhooks::new(args.webhooks.settings());
    tracing::info!(
        allow_private = webhooks.settings.reach.allow_private,
        allow_http = webhooks.settings.reach.allow_http,
        retry_window_secs = webhooks.settings.retry_window.as_secs(),
        "webhooks"
    );
    webhooks.start(db.clone(), bus.clone());
    let app = router(AppState {
        db: db.clone(),
        schema,
        auth,
        options,
        bus,
        webhooks,
    });
    tracing::info!("listening on http://{local}/graphql");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
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
