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
    Add { files: Vec<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum KeyAction {
    /// Start signing with a new key; older keys verify until their tokens expire.
    Rotate {
        /// How long old keys keep verifying (at least the token lifetime plus clock skew).
        #[arg(long, env = "SANGAM_KEY_GRACE_SECS", default_value_t = 960)]
        grace_secs: u64,
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
    /// Roll back the last applied migration (or `--steps N`).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
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
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SANGAM_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
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
    /// Longest a request may run, in seconds.
    #[arg(long, env = "SANGAM_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,
    /// Run only registered persisted queries (an allow-list, for production).
    #[arg(long, env = "SANGAM_ALLOW_LIST")]
    pub allow_list: bool,
    /// How long a DataLoader collects keys before it queries, in milliseconds; 0 (the default):
    /// until the request has nothing else to do, which never waits and never splits a list.
    #[arg(long, env = "SANGAM_BATCH_WINDOW_MS", default_value_t = 0)]
    pub batch_window_ms: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
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
                    claims,
                }),
                _ => None,
            },
        }
    }
}
