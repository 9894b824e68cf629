//! Starting and stopping the HTTP server.

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use crate::{
    config::ServeArgs,
    db,
    graphql::{self, Limits},
    http::{AppState, router},
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
    let db = db::connect(&args.db.database_url, args.db.db_max_connections).await?;
    Migrator::up(&db, None).await.context("applying migrations")?;
    if args.demo {
        if seed::is_seeded(&db).await? {
            tracing::info!("database already holds data; demo seed skipped");
        } else {
            let summary = seed::demo(&db, crate::service::today_ist()).await.context("seeding demo data")?;
            tracing::info!(?summary, "demo data loaded");
        }
    }
    let schema = graphql::schema(Limits { max_page_size: args.max_page_size });
    let app = router(AppState { db: db.clone(), schema });
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    tracing::info!("listening on http://{local}/graphql");
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
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
