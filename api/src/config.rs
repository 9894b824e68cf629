//! Command line and environment. Every flag can also come from the environment.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "sangam",
    version,
    about = "Sangam: the Jal Jeevan Mission convergence GraphQL API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log format.
    #[arg(
        long,
        env = "SANGAM_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Load data into the database.
    Seed {
        #[command(subcommand)]
        dataset: SeedDataset,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Import LGD geography or IMIS-style data from CSV or .xlsx files.
    Import(Box<crate::cli::import::ImportArgs>),
    /// Print the GraphQL SDL, or write it to PATH.
    ExportSchema { path: Option<PathBuf> },
    /// Manage clients of the embedded authorization server.
    Client {
        #[command(subcommand)]
        action: ClientAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Register operations for the allow-list mode (`--allow-list`).
    PersistedQuery {
        #[command(subcommand)]
        action: PersistedQueryAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Manage the embedded authorization server's signing keys.
    Key {
        #[command(subcommand)]
        action: KeyAction,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Maintain the durable event log that subscriptions resume from.
    Events {
        #[command(subcommand)]
        action: EventsAction,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// Delete events older than the retention window (a server also does this every hour).
    Prune {
        #[command(flatten)]
        retention: RetentionArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RetentionArgs {
    /// Days the event log keeps events: a subscription may resume (`after:`) within them;
    /// older cursors get EVENTS_EXPIRED.
    #[arg(long, env = "SANGAM_EVENT_RETENTION_DAYS", default_value_t = 30)]
    pub event_retention_days: u32,
}

impl RetentionArgs {
    pub fn window(&self) -> chrono::TimeDelta {
        chrono::TimeDelta::days(i64::from(self.event_retention_days))
    }
}

#[derive(Debug, Subcommand)]
pub enum ClientAction {
    /// Register a client; prints its secret once (only a hash is stored).
    Add {
        /// A name people recognise, e.g. "Raipur DWSM dashboard".
        #[arg(long)]
        name: String,
        /// state_admin, district_coordinator, department, partner or dashboard.
        #[arg(long)]
        role: String,
        /// Space- or comma-separated scopes the client may ask for.
        #[arg(long)]
        scopes: String,
        /// Organisation code (required for department and partner).
        #[arg(long)]
        org: Option<String>,
        /// State LGD codes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        states: Vec<i32>,
        /// District LGD codes, comma-separated.
        #[arg(long, value_delimiter = ',')]
        districts: Vec<i32>,
        /// Choose the client id (default: generated).
        #[arg(long)]
        client_id: Option<String>,
    },
    /// List clients (never their secrets).
    List,
    /// Refuse the client new tokens and the tokens it holds.
    Disable { client_id: String },
    /// Allow a disabled client again.
    Enable { client_id: String },
    /// Replace the client's secret; prints the new one once.
    RotateSecret { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum PersistedQueryAction {
    /// Register the operations in these files (one document per file); prints each hash.
    /// Every operation is validated against the schema first: an invalid one registers nothing.
    Add {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the registered operations: hash, operation names, registration time.
    List,
    /// Take an operation off the allow-list, by the hash `add` printed.
    Remove { sha256: String },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Start signing with a new key; older keys verify until their tokens expire.
    Rotate {
        /// How long old keys keep verifying (at least the token lifetime plus clock skew).
        #[arg(long, env = "SANGAM_KEY_GRACE_SECS", default_value_t = 960)]
        grace_secs: u64,
        /// The servers' access-token lifetime (`serve --token-ttl-secs`), in seconds.
        #[arg(long, env = "SANGAM_TOKEN_TTL_SECS", default_value_t = 900)]
        token_ttl_secs: u64,
        /// The servers' allowed clock skew (`serve --clock-skew-secs`), in seconds.
        #[arg(long, env = "SANGAM_CLOCK_SKEW_SECS", default_value_t = 60)]
        clock_skew_secs: u64,
    },
    /// List signing keys.
    List,
}

/// How callers authenticate.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// `iss` of the embedded authorization server's tokens (default: http://LISTEN).
    #[arg(long, env = "SANGAM_ISSUER")]
    pub issuer: Option<String>,
    /// `aud` the embedded server's tokens carry and require.
    #[arg(long, env = "SANGAM_AUDIENCE", default_value = "sangam")]
    pub audience: String,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, env = "SANGAM_TOKEN_TTL_SECS", default_value_t = 900)]
    pub token_ttl_secs: u64,
    /// Clock skew allowed when checking token times, in seconds.
    #[arg(long, env = "SANGAM_CLOCK_SKEW_SECS", default_value_t = 60)]
    pub clock_skew_secs: u64,
    /// Turn the embedded authorization server off (use an external provider only).
    #[arg(long, env = "SANGAM_NO_EMBEDDED_AUTH")]
    pub no_embedded_auth: bool,
    /// Serve the SDL, GraphiQL and introspection without a token.
    #[arg(long, env = "SANGAM_PUBLIC_SCHEMA")]
    pub public_schema: bool,
    /// Issuer of an external OpenID/OAuth provider whose JWTs are accepted.
    #[arg(long, env = "SANGAM_OIDC_ISSUER", requires = "oidc_jwks_url")]
    pub oidc_issuer: Option<String>,
    /// The external provider's JWKS URL.
    #[arg(long, env = "SANGAM_OIDC_JWKS_URL", requires = "oidc_issuer")]
    pub oidc_jwks_url: Option<String>,
    /// Audience the external provider's tokens must carry.
    #[arg(long, env = "SANGAM_OIDC_AUDIENCE", default_value = "sangam")]
    pub oidc_audience: String,
    /// RFC 7662 introspection endpoint for opaque tokens.
    #[arg(long, env = "SANGAM_INTROSPECTION_URL", requires_all = ["introspection_client_id", "introspection_client_secret"])]
    pub introspection_url: Option<String>,
    #[arg(long, env = "SANGAM_INTROSPECTION_CLIENT_ID")]
    pub introspection_client_id: Option<String>,
    #[arg(
        long,
        env = "SANGAM_INTROSPECTION_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub introspection_client_secret: Option<String>,
    /// Audience an introspected token must name (default: `--oidc-audience`).
    #[arg(long, env = "SANGAM_INTROSPECTION_AUDIENCE")]
    pub introspection_audience: Option<String>,
    /// Accept introspected tokens that name no audience at all (refused by default).
    #[arg(long, env = "SANGAM_INTROSPECTION_ALLOW_NO_AUDIENCE")]
    pub introspection_allow_no_audience: bool,
    /// Claim (dotted path) carrying the role in external tokens, e.g. `realm_access.roles`.
    #[arg(long, env = "SANGAM_CLAIM_ROLE", default_value = "role")]
    pub claim_role: String,
    /// Claim carrying the organisation code.
    #[arg(long, env = "SANGAM_CLAIM_ORG", default_value = "org")]
    pub claim_org: String,
    /// Claim carrying the department.
    #[arg(long, env = "SANGAM_CLAIM_DEPARTMENT", default_value = "department")]
    pub claim_department: String,
    /// Claim carrying state LGD codes.
    #[arg(long, env = "SANGAM_CLAIM_STATES", default_value = "states")]
    pub claim_states: String,
    /// Claim carrying district LGD codes.
    #[arg(long, env = "SANGAM_CLAIM_DISTRICTS", default_value = "districts")]
    pub claim_districts: String,
    /// Claim carrying the scopes (space-separated string or array).
    #[arg(long, env = "SANGAM_CLAIM_SCOPE", default_value = "scope")]
    pub claim_scope: String,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the last applied migration (or `--steps N`). Rolling back drops tables or
    /// columns: on a database that holds data it needs `--yes`.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
        /// Roll back even though data will be lost.
        #[arg(long)]
        yes: bool,
    },
    /// List migrations and whether each is applied.
    Status,
    /// Recount the per-district rollups from the rows they summarise: needed only after rows
    /// were written by something other than Sangam (the API keeps them exact as it writes).
    Rollups,
}

#[derive(Debug, Subcommand)]
pub enum SeedDataset {
    /// The deterministic demo dataset (Chhattisgarh and Madhya Pradesh); needs an empty database.
    Demo,
    /// A deterministic synthetic dataset for load tests, bulk-loaded into an empty database.
    Synthetic {
        #[arg(long, value_enum, default_value = "state")]
        scale: crate::seed::synthetic::Scale,
        #[arg(long, default_value_t = 2019)]
        seed: u64,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded default) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://sangam.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "SANGAM_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,
    /// PostgreSQL: a pooled connection idle for at least this long is pinged before it is
    /// handed out, in milliseconds; 0 pings every one.
    #[arg(
        long,
        env = "SANGAM_DB_PING_AFTER_IDLE_MS",
        default_value_t = crate::db::DEFAULT_PING_AFTER_IDLE_MS,
        global = true
    )]
    pub db_ping_after_idle_ms: u64,
}

impl DbArgs {
    /// The pool these arguments describe, holding at most `max_connections`.
    pub fn pool(&self, max_connections: u32) -> crate::db::Pool {
        crate::db::Pool {
            max_connections,
            ping_after_idle: std::time::Duration::from_millis(self.db_ping_after_idle_ms),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SANGAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// A PostgreSQL replica (e.g. HAProxy's replica port) that queries may read from when it
    /// has replayed the caller's consistency token and is within `--replica-max-lag-secs`.
    #[arg(long, env = "SANGAM_DATABASE_READ_URL")]
    pub database_read_url: Option<String>,
    /// Furthest behind the primary, in seconds, a replica may be and still serve reads.
    #[arg(long, env = "SANGAM_REPLICA_MAX_LAG_SECS", default_value_t = 5.0)]
    pub replica_max_lag_secs: f64,
    /// Load the demo dataset on start when the database is empty.
    #[arg(long, env = "SANGAM_DEMO")]
    pub demo: bool,
    /// Largest `first`/`last` a client may ask for.
    #[arg(long, env = "SANGAM_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u64,
    /// Deepest query accepted.
    #[arg(long, env = "SANGAM_MAX_DEPTH", default_value_t = 16)]
    pub max_depth: usize,
    /// Highest query complexity accepted (fields, times page sizes and list fan-out).
    #[arg(long, env = "SANGAM_MAX_COMPLEXITY", default_value_t = 250_000)]
    pub max_complexity: usize,
    /// Most aliases in one query.
    #[arg(long, env = "SANGAM_MAX_ALIASES", default_value_t = 50)]
    pub max_aliases: usize,
    /// Most operations in one batched request.
    #[arg(long, env = "SANGAM_MAX_BATCH", default_value_t = 10)]
    pub max_batch: usize,
    /// Largest request body, in bytes.
    #[arg(long, env = "SANGAM_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest upload (a GraphQL multipart request, `importFile`), in bytes; other requests
    /// keep `--max-body-bytes`.
    #[arg(long, env = "SANGAM_MAX_UPLOAD_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub max_upload_bytes: usize,
    /// Longest a request may run, in seconds.
    #[arg(long, env = "SANGAM_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Log a line (operation name, request id, time) for each operation slower than this, in
    /// milliseconds.
    #[arg(long, env = "SANGAM_SLOW_REQUEST_MS", default_value_t = 1000)]
    pub slow_request_ms: u64,
    /// Run only registered persisted queries (an allow-list, for production).
    #[arg(long, env = "SANGAM_ALLOW_LIST")]
    pub allow_list: bool,
    /// How long a DataLoader collects keys before it queries, in milliseconds; 0 (the default):
    /// until the request has nothing else to do, which never waits and never splits a list.
    #[arg(long, env = "SANGAM_BATCH_WINDOW_MS", default_value_t = 0)]
    pub batch_window_ms: u64,
    /// Let anyone read progress aggregates and area names (never people, tasks or comments)
    /// without a token, for the public progress page.
    #[arg(long, env = "SANGAM_PUBLIC_PROGRESS")]
    pub public_progress: bool,
    /// Client id of the progress page at the external OpenID provider (`--oidc-issuer`): a
    /// public client signing in with the authorisation-code flow and PKCE.
    #[arg(
        long,
        env = "SANGAM_DASHBOARD_OIDC_CLIENT_ID",
        requires = "oidc_issuer"
    )]
    pub dashboard_oidc_client_id: Option<String>,
    /// Browser origins allowed to call the API and open `/graphql/ws`: comma-separated
    /// `scheme://host[:port]`, or `*` for any. Default: none (any with `--demo`).
    #[arg(long, env = "SANGAM_CORS_ALLOW_ORIGINS", value_delimiter = ',')]
    pub cors_allow_origins: Vec<String>,
    /// How long to keep trying to reach the database on start, in seconds.
    #[arg(long, env = "SANGAM_DB_CONNECT_TIMEOUT", default_value_t = 30)]
    pub db_connect_timeout: u64,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub otlp: OtlpArgs,
}

/// Where tracing spans go (off by default).
#[derive(Debug, Clone, Args)]
pub struct OtlpArgs {
    /// Export tracing spans (each request, GraphQL resolver and SQL statement) over OTLP/HTTP
    /// with the JSON encoding to this collector, e.g. `http://127.0.0.1:4318` (spans are
    /// POSTed to `URL/v1/traces`). A request's W3C `traceparent` header is continued.
    #[arg(long, env = "SANGAM_OTLP_ENDPOINT", value_parser = crate::telemetry::otlp::parse_endpoint)]
    pub otlp_endpoint: Option<reqwest::Url>,
    /// A header sent with every export, `NAME=VALUE` (a collector's API key, say); repeat the
    /// flag, or separate them with commas in the variable.
    #[arg(
        long = "otlp-header",
        env = "SANGAM_OTLP_HEADERS",
        value_delimiter = ',',
        hide_env_values = true,
        requires = "otlp_endpoint",
        value_parser = crate::telemetry::otlp::parse_header
    )]
    pub otlp_headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
}

impl OtlpArgs {
    /// The exporter's settings, when spans are exported.
    pub fn settings(&self) -> Option<crate::telemetry::otlp::Settings> {
        let url = self.otlp_endpoint.clone()?;
        Some(crate::telemetry::otlp::Settings {
            url,
            headers: self.otlp_headers.iter().cloned().collect(),
        })
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Allow webhook URLs on loopback, private, link-local and other non-public addresses
    /// (tests, closed networks). Off by default: a client could otherwise reach internal services.
    #[arg(long, env = "SANGAM_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,
    /// Allow plain `http://` webhook URLs.
    #[arg(long, env = "SANGAM_WEBHOOK_ALLOW_HTTP")]
    pub webhook_allow_http: bool,
    /// Longest one delivery attempt may take, in seconds.
    #[arg(long, env = "SANGAM_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// Delay before the first retry, in milliseconds; each retry doubles it, with jitter.
    #[arg(long, env = "SANGAM_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000)]
    pub webhook_retry_base_ms: u64,
    /// Longest delay between two attempts, in seconds.
    #[arg(long, env = "SANGAM_WEBHOOK_MAX_DELAY_SECS", default_value_t = 7200)]
    pub webhook_max_delay_secs: u64,
    /// How long a delivery is retried before it fails (is dead-lettered), in seconds.
    #[arg(
        long,
        env = "SANGAM_WEBHOOK_RETRY_WINDOW_SECS",
        default_value_t = 86_400
    )]
    pub webhook_retry_window_secs: u64,
    /// A webhook whose every attempt failed for this long is disabled, in seconds.
    #[arg(
        long,
        env = "SANGAM_WEBHOOK_DISABLE_AFTER_SECS",
        default_value_t = 259_200
    )]
    pub webhook_disable_after_secs: u64,
    /// How long an instance holds a delivery it is sending before others may retry it, in
    /// seconds (longer than the timeout).
    #[arg(long, env = "SANGAM_WEBHOOK_LEASE_SECS", default_value_t = 60)]
    pub webhook_lease_secs: u64,
    /// How often idle workers look for due deliveries, in milliseconds.
    #[arg(long, env = "SANGAM_WEBHOOK_POLL_MS", default_value_t = 500)]
    pub webhook_poll_ms: u64,
    /// Most deliveries one instance sends at once, over every webhook.
    // 256 kept up with 5,000 deliveries a second on a release build (BENCHMARKS.md), where 32
    // fell behind; it is safe as a default only because one webhook gets at most
    // `webhook_concurrency_per_webhook` of them.
    #[arg(
        long,
        env = "SANGAM_WEBHOOK_CONCURRENCY",
        default_value_t = 256,
        value_parser = at_least_one()
    )]
    pub webhook_concurrency: usize,
    /// Most deliveries of one webhook one instance has in flight at once (claimed and not yet
    /// recorded).
    // 8: a department's server is often one small machine behind a web server with a few dozen
    // workers, shared with its own users; 8 requests at once from each Sangam instance leaves it
    // room, and is more than the browsers' 6 connections per host that servers are sized for.
    // At a 50 ms round trip, 8 at once still carry about 100 deliveries a second per webhook.
    #[arg(
        long,
        env = "SANGAM_WEBHOOK_CONCURRENCY_PER_WEBHOOK",
        default_value_t = 8,
        value_parser = at_least_one()
    )]
    pub webhook_concurrency_per_webhook: usize,
}

/// A count of things at once: 0 would deliver nothing, and is refused rather than read as 1.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::new().range(1..)
}

impl WebhookArgs {
    pub fn settings(&self) -> crate::webhooks::Settings {
        use std::time::Duration;
        crate::webhooks::Settings {
            reach: crate::webhooks::ssrf::Reach {
                allow_private: self.webhook_allow_private,
                allow_http: self.webhook_allow_http,
            },
            timeout: Duration::from_secs(self.webhook_timeout_secs.max(1)),
            retry_base: Duration::from_millis(self.webhook_retry_base_ms.max(1)),
            max_delay: Duration::from_secs(self.webhook_max_delay_secs.max(1)),
            retry_window: Duration::from_secs(self.webhook_retry_window_secs),
            disable_after: Duration::from_secs(self.webhook_disable_after_secs),
            lease: Duration::from_secs(self.webhook_lease_secs.max(1)),
            poll: Duration::from_millis(self.webhook_poll_ms.max(10)),
            concurrency: self.webhook_concurrency.max(1),
            per_webhook: self.webhook_concurrency_per_webhook.max(1),
            ..crate::webhooks::Settings::default()
        }
    }
}

impl AuthArgs {
    /// The authentication settings for a server listening on `listen`.
    pub fn settings(&self, listen: SocketAddr) -> crate::auth::AuthSettings {
        use std::time::Duration;

        use crate::auth::{AuthSettings, ClaimNames, ExternalSettings, IntrospectionSettings};
        let claims = ClaimNames {
            role: self.claim_role.clone(),
            organisation: self.claim_org.clone(),
            department: self.claim_department.clone(),
            states: self.claim_states.clone(),
            districts: self.claim_districts.clone(),
            scope: self.claim_scope.clone(),
        };
        AuthSettings {
            issuer: self
                .issuer
                .clone()
                .unwrap_or_else(|| format!("http://{listen}")),
            audience: self.audience.clone(),
            token_ttl: Duration::from_secs(self.token_ttl_secs),
            leeway: Duration::from_secs(self.clock_skew_secs),
            embedded: !self.no_embedded_auth,
            external: self
                .oidc_issuer
                .clone()
                .zip(self.oidc_jwks_url.clone())
                .map(|(issuer, jwks_url)| ExternalSettings {
                    issuer,
                    jwks_url,
                    audience: self.oidc_audience.clone(),
                    claims: claims.clone(),
                }),
            introspection: match (
                &self.introspection_url,
                &self.introspection_client_id,
                &self.introspection_client_secret,
            ) {
                (Some(url), Some(id), Some(secret)) => Some(IntrospectionSettings {
                    url: url.clone(),
                    client_id: id.clone(),
                    client_secret: secret.clone(),
                    audience: self
                        .introspection_audience
                        .clone()
                        .unwrap_or_else(|| self.oidc_audience.clone()),
                    allow_no_audience: self.introspection_allow_no_audience,
                    claims,
                }),
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn introspection(args: &[&str]) -> crate::auth::IntrospectionSettings {
        let mut all = vec![
            "sangam",
            "serve",
            "--introspection-url",
            "https://idp.example/introspect",
            "--introspection-client-id",
            "sangam",
            "--introspection-client-secret",
            "s",
        ];
        all.extend_from_slice(args);
        let Command::Serve(serve) = Cli::try_parse_from(all).expect("valid arguments").command
        else {
            panic!("serve");
        };
        serve
            .auth
            .settings(serve.listen)
            .introspection
            .expect("introspection is configured")
    }

    #[test]
    fn the_introspection_audience_defaults_to_the_oidc_audience() {
        let s = introspection(&[]);
        assert_eq!(
            (s.audience.as_str(), s.allow_no_audience),
            ("sangam", false)
        );
        assert_eq!(
            introspection(&["--oidc-audience", "jjm-api"]).audience,
            "jjm-api"
        );
        let s = introspection(&[
            "--oidc-audience",
            "jjm-api",
            "--introspection-audience",
            "gateway",
            "--introspection-allow-no-audience",
        ]);
        assert_eq!(
            (s.audience.as_str(), s.allow_no_audience),
            ("gateway", true)
        );
    }
}
