//! Logging setup (compact text for people, JSON for log collectors) and, with
//! `--otlp-endpoint`, tracing spans exported over OTLP ([`otlp`]).
//!
//! Spans meant for export have targets under `sangam::` (the HTTP request `sangam::http`, a
//! GraphQL operation and its resolvers `sangam::graphql`, SQL statements `sangam::sql`). The
//! operation, resolver and statement spans are DEBUG, so the log filter's default (`info`)
//! leaves them out of the logs while the OTLP layer, which has a filter of its own, sees them;
//! and they are only made at all while exporting ([`exporting`]), so without the flag a request
//! costs what it did before.

pub mod otlp;

use std::{
    io::IsTerminal,
    sync::atomic::{AtomicBool, Ordering},
};

use tracing_subscriber::{
    EnvFilter, Layer, filter::Targets, fmt, layer::SubscriberExt, util::SubscriberInitExt,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (`--otlp-endpoint`): the code that makes spans only for export
/// asks first, so that without it no span is made.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Installs the global subscriber. `RUST_LOG` overrides the default log filter. With `otlp`,
/// the OTLP layer is installed too and its exporter returned, to be started on the runtime
/// ([`otlp::Exporter::start`]).
pub fn init(format: LogFormat, otlp: Option<otlp::Settings>) -> Option<otlp::Exporter> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // Colour only for a person at a terminal: a file or a pipe gets plain text (and NO_COLOR,
    // https://no-color.org, turns it off everywhere).
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = fmt::layer().with_writer(std::io::stderr).with_ansi(colour);
    // The log filter is the log layer's own, so the OTLP layer can see spans the logs leave out.
    let logs = match format {
        LogFormat::Pretty => logs.compact().with_filter(filter).boxed(),
        LogFormat::Json => logs.json().with_filter(filter).boxed(),
    };
    let (layer, exporter) = match otlp {
        Some(settings) => {
            let (layer, exporter) = otlp::pipeline(settings);
            // `Targets` decides per call site, once: every other span and event (sqlx, hyper,
            // our own logs) is never offered to the OTLP layer again.
            let only_ours = Targets::new().with_target("sangam", tracing::Level::DEBUG);
            (Some(layer.with_filter(only_ours)), Some(exporter))
        }
        None => (None, None),
    };
    // A second init (e.g. in tests) is harmless, so the error is ignored on purpose.
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(layer)
        .try_init()
        .is_ok();
    if installed && exporter.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    exporter.filter(|_| installed)
}
