//! Test harness: a fresh database per test, on SQLite always and on PostgreSQL when
//! `TEST_DATABASE_URL` points at a server (each test creates and drops its own database).

pub mod process;
pub mod tokens;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use api::{
    auth::{AuthSettings, Authenticator, clients},
    graphql::{self, Limits},
    http::{AppState, HttpOptions, router},
    principal::{Role, Scope},
};
use axum::{
    Router,
    body::{Body, to_bytes},
    http::{HeaderMap, Request, StatusCode, header},
};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Where a test's database lives.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    /// An administrative URL of a PostgreSQL server; tests create databases on it.
    Postgres(String),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// SQLite, plus PostgreSQL when `TEST_DATABASE_URL` is set.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("TEST_DATABASE_URL")
        && !url.is_empty()
    {
        all.push(Backend::Postgres(url));
    }
    all
}

/// Runs `check` once per backend, each time against a fresh database.
pub async fn each_backend<F, Fut>(check: F)
where
    F: Fn(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        check(backend).await;
    }
}

/// Drops a PostgreSQL test database when the test ends, pass or fail.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
        let name = format!(
            "sangam_test_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await?;
        admin.close().await?;
        let url = replace_db_name(admin_url, &name);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    /// The database's name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `postgres://user@host:port/db?x` with `db` replaced.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs inside the test's runtime; a separate thread with its own runtime can block.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = Database::connect(&admin_url).await.ok()?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .ok()?;
                admin.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}

/// A migrated database for one test.
pub struct TestDb {
    pub db: DatabaseConnection,
    pub url: String,
    /// SQL statements run so far (counted by sea-orm's metric callback).
    pub statements: Arc<AtomicUsize>,
    pub backend: Backend,
    _pg: Option<PgDatabase>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        let (url, pg) = match &backend {
            Backend::Sqlite => ("sqlite::memory:".to_owned(), None),
            Backend::Postgres(admin) => {
                let pg = PgDatabase::create(admin)
                    .await
                    .expect("create test database");
                (pg.url.clone(), Some(pg))
            }
        };
        let mut t = Self::new_at(&url).await;
        t.backend = backend;
        t._pg = pg;
        t
    }

    /// A migrated database at `url`, which the caller owns.
    pub async fn new_at(url: &str) -> Self {
        let mut db = api::db::connect(url, 4).await.expect("open test database");
        let statements = Arc::new(AtomicUsize::new(0));
        let counter = statements.clone();
        db.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Migrator::up(&db, None).await.expect("run migrations");
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres(url.to_owned())
        };
        Self {
            db,
            url: url.to_owned(),
            statements,
            backend,
            _pg: None,
        }
    }

    /// A fresh database holding the demo dataset.
    pub async fn demo(backend: Backend) -> Self {
        let t = Self::new(backend).await;
        api::seed::demo(&t.db, api::service::today_ist())
            .await
            .expect("seed demo data");
        t
    }

    pub fn statement_count(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }
}

/// The issuer of test servers' own tokens.
pub const ISSUER: &str = "http://sangam.test";

/// The real router over a test database, with a state administrator's token at hand.
pub struct TestApp {
    pub t: TestDb,
    pub router: Router,
    pub auth: Arc<Authenticator>,
    /// The bus the app's subscribers listen on (its shared reads are what fan-out tests count).
    pub bus: api::events::EventBus,
    /// A state administrator over the demo states (LGD 22 and 23), with every scope.
    pub admin_token: String,
    /// Webhook settings the app registers with; `start_webhooks` runs its workers.
    pub webhooks: api::webhooks::Webhooks,
}

/// What a test client is.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub role: Role,
    pub org: Option<String>,
    pub states: Vec<i32>,
    pub districts: Vec<i32>,
    /// `None`: every scope the role may hold.
    pub scopes: Option<Vec<Scope>>,
}

impl ClientSpec {
    pub fn new(role: Role) -> Self {
        Self {
            role,
            org: None,
            states: vec![],
            districts: vec![],
            scopes: None,
        }
    }
    pub fn org(mut self, code: &str) -> Self {
        self.org = Some(code.to_owned());
        self
    }
    pub fn states(mut self, codes: &[i32]) -> Self {
        self.states = codes.to_vec();
        self
    }
    pub fn districts(mut self, codes: &[i32]) -> Self {
        self.districts = codes.to_vec();
        self
    }
    pub fn scopes(mut self, scopes: &[Scope]) -> Self {
        self.scopes = Some(scopes.to_vec());
        self
    }
}

pub struct HttpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl HttpReply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl TestApp {
    pub async fn over(t: TestDb) -> Self {
        Self::with(
            t,
            Limits::default(),
            HttpOptions::default(),
            AuthSettings::embedded(ISSUER),
        )
        .await
    }

    pub async fn with(
        t: TestDb,
        limits: Limits,
        options: HttpOptions,
        settings: AuthSettings,
    ) -> Self {
        let webhooks = api::webhooks::Webhooks::new(api::webhooks::Settings::for_tests());
        Self::build(t, limits, options, settings, None, webhooks).await
    }

    /// The router over `t` with queries routed to the replica `reads` stands for.
    pub async fn with_reads(t: TestDb, reads: api::replica::Reads) -> Self {
        Self::build(
            t,
            Limits::default(),
            HttpOptions::default(),
            AuthSettings::embedded(ISSUER),
            Some(reads),
            api::webhooks::Webhooks::new(api::webhooks::Settings::for_tests()),
        )
        .await
    }

    /// Like [`TestApp::with`], with these webhook settings.
    pub async fn with_webhooks(
        t: TestDb,
        limits: Limits,
        options: HttpOptions,
        settings: AuthSettings,
        webhooks: api::webhooks::Webhooks,
    ) -> Self {
        Self::build(t, limits, options, settings, None, webhooks).await
    }

    async fn build(
        t: TestDb,
        limits: Limits,
        options: HttpOptions,
        settings: AuthSettings,
        reads: Option<api::replica::Reads>,
        webhooks: api::webhooks::Webhooks,
    ) -> Self {
        let auth = Arc::new(
            Authenticator::new(t.db.clone(), settings)
                .await
                .expect("authenticator"),
        );
        let bus = api::events::EventBus::start(&t.db, &t.url);
        let state = AppState {
            db: t.db.clone(),
            schema: graphql::schema(limits),
            auth: auth.clone(),
            options,
            bus: bus.clone(),
            reads,
            webhooks: webhooks.clone(),
        };
        let router = router(state);
        let mut app = Self {
            t,
            router,
            auth,
            bus,
            admin_token: String::new(),
            webhooks,
        };
        app.admin_token = app
            .token(ClientSpec::new(Role::StateAdmin).states(&[22, 23]))
            .await;
        app
    }

    pub async fn demo(backend: Backend) -> Self {
        Self::over(TestDb::demo(backend).await).await
    }

    /// Runs this app's webhook dispatcher and delivery worker in the background.
    /// They are not stopped: a dropped handle leaves them running until the test's runtime ends.
    pub fn start_webhooks(&self) {
        drop(self.webhooks.start(self.t.db.clone(), self.bus.clone()));
    }

    /// Registers a client and returns its id and secret.
    pub async fn client(&self, spec: ClientSpec) -> (String, String) {
        let scopes = spec
            .scopes
            .clone()
            .unwrap_or_else(|| spec.role.allowed_scopes().to_vec());
        let new = clients::NewClient {
            client_id: None,
            name: format!("test {}", spec.role.as_str()),
            role: spec.role,
            organisation: spec.org,
            states: spec.states,
            districts: spec.districts,
            scopes: scopes.into_iter().collect(),
        };
        let (c, secret) = clients::add(&self.t.db, new)
            .await
            .expect("register client");
        (c.client_id, secret)
    }

    /// A token for a new client of this kind, issued the way the token endpoint does.
    pub async fn token(&self, spec: ClientSpec) -> String {
        let (id, _) = self.client(spec).await;
        let client = clients::find(&self.t.db, &id)
            .await
            .expect("db")
            .expect("client");
        let scopes = Scope::parse_list(&client.scopes).expect("scopes");
        self.auth.issue(&client, &scopes).await.expect("issue").0
    }

    /// Serves the router on a free local port; returns its base URL.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = self.router.clone();
        tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        format!("http://{addr}")
    }

    pub async fn send(&self, req: Request<Body>) -> HttpReply {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("read body");
        HttpReply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, uri: &str) -> HttpReply {
        self.send(Request::get(uri).body(Body::empty()).expect("request"))
            .await
    }

    /// POSTs a GraphQL request as the state administrator; returns `data` and `errors`.
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        self.post_as(&self.admin_token, query, variables).await
    }

    /// POSTs a GraphQL request with `token`.
    pub async fn post_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let reply = self
            .send(self.graphql_request(Some(token), query, variables))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json()
    }

    pub fn graphql_request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Request<Body> {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let mut req = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        req.body(Body::from(body)).expect("request")
    }

    /// A GraphQL multipart request (an upload): `query` with `variables`, the file `name` with
    /// `bytes` sent as the variable `file`; `token` as the bearer token when given.
    pub fn upload_request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        name: &str,
        bytes: &[u8],
    ) -> Request<Body> {
        let boundary = "sangam-test-boundary-7f3a";
        let operations = json!({ "query": query, "variables": variables }).to_string();
        let mut body = Vec::new();
        let part = |body: &mut Vec<u8>, head: &str, content: &[u8]| {
            body.extend_from_slice(format!("--{boundary}\r\n{head}\r\n\r\n").as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        part(
            &mut body,
            "Content-Disposition: form-data; name=\"operations\"",
            operations.as_bytes(),
        );
        part(
            &mut body,
            "Content-Disposition: form-data; name=\"map\"",
            br#"{ "0": ["variables.file"] }"#,
        );
        part(
            &mut body,
            &format!(
                "Content-Disposition: form-data; name=\"0\"; filename=\"{name}\"\r\n\
                 Content-Type: application/octet-stream"
            ),
            bytes,
        );
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let mut req = Request::post("/graphql")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(header::CONTENT_LENGTH, body.len());
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        req.body(Body::from(body)).expect("request")
    }

    /// Uploads `bytes` as the file `name` with `token` (see [`TestApp::upload_request`]).
    pub async fn upload_as(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        name: &str,
        bytes: &[u8],
    ) -> HttpReply {
        self.send(self.upload_request(Some(token), query, variables, name, bytes))
            .await
    }

    /// `get` with the administrator's token.
    pub async fn get_authed(&self, uri: &str) -> HttpReply {
        let req = Request::get(uri)
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.admin_token),
            )
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    /// Runs a query that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let res = self.post(query, variables).await;
        assert!(
            res.get("errors").is_none(),
            "[{}] unexpected errors: {res:#}",
            self.t.backend.name()
        );
        res["data"].clone()
    }

    /// Runs a query that must fail and returns its first error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let res = self.post(query, variables).await;
        res["errors"][0].clone()
    }
}

/// A global id as the API encodes it (for probing with ids the API never handed out).
pub fn global_id(kind: &str, id: i64) -> String {
    use api::graphql::ids::{Kind, encode};
    let kind = match kind {
        "State" => Kind::State,
        "District" => Kind::District,
        "Block" => Kind::Block,
        "GramPanchayat" => Kind::GramPanchayat,
        "Village" => Kind::Village,
        "Scheme" => Kind::Scheme,
        "Task" => Kind::Task,
        other => panic!("unknown kind {other}"),
    };
    encode(kind, id).0
}
