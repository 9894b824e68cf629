//! The real `sangam` binary: serve the demo over HTTP, stop cleanly on SIGTERM; the CLI.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{OnceLock, mpsc},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

/// `target/<profile>/sangam`, next to this test's own `deps/` directory. Test runners build
/// test targets only, so the binary is built here (a no-op when it is up to date).
fn sangam() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("test path");
            let dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
            let release = dir.file_name().is_some_and(|n| n == "release");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "-p", "api", "--bin", "sangam"]);
            if release {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building sangam failed");
            let bin = dir.join(format!("sangam{}", std::env::consts::EXE_SUFFIX));
            assert!(bin.exists(), "{} is missing after the build", bin.display());
            bin
        })
        .clone()
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sangam-{}-{name}", std::process::id()))
}

struct Server {
    child: Child,
    base: String,
    /// The demo state administrator's secret, as printed at start.
    admin_secret: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sangam serve --demo` on a free port and waits for it to listen.
fn start(db_file: &PathBuf) -> Server {
    let mut child = Command::new(sangam())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", db_file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sangam");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut secret = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(start) = line.find("-u demo-state-admin:") {
                let rest = &line[start + "-u demo-state-admin:".len()..];
                secret = rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
            if let Some(start) = line.find("listening on http://") {
                let url = &line[start + "listening on ".len()..];
                let end = url.find("/graphql").unwrap_or(url.len());
                let _ = tx.send((url[..end].to_owned(), secret.clone()));
            }
        }
    });
    let (base, admin_secret) = rx.recv_timeout(Duration::from_secs(120)).expect("sangam did not start listening");
    assert!(!admin_secret.is_empty(), "the demo printed no client secret");
    Server { child, base, admin_secret }
}

/// A token for the demo state administrator, from the server's token endpoint.
async fn admin_token(client: &reqwest::Client, server: &Server) -> String {
    let res: Value = client
        .post(format!("{}/oauth/token", server.base))
        .basic_auth("demo-state-admin", Some(&server.admin_secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    res["access_token"].as_str().unwrap_or_else(|| panic!("no token: {res}")).to_owned()
}

#[tokio::test]
async fn serve_demo_answers_over_http_and_stops_on_sigterm() {
    let db_file = temp_path("serve.db");
    let _ = std::fs::remove_file(&db_file);
    let mut server = start(&db_file);
    let client = reqwest::Client::new();

    let ready = client.get(format!("{}/readyz", server.base)).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);

    let query = "{ state(lgdCode: 22) { name nameHi districts { name } } villages { totalCount } }";
    let anonymous = client.post(format!("{}/graphql", server.base)).json(&json!({ "query": query })).send().await;
    assert_eq!(anonymous.expect("post").status(), 401, "data needs a token");
    let token = admin_token(&client, &server).await;
    let res: Value = client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(res["data"]["state"]["name"], "Chhattisgarh", "{res:#}");
    assert!(res["data"]["villages"]["totalCount"].as_u64().expect("count") > 1000);

    let pid = server.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            assert!(exit.success(), "sangam exited with {exit}");
            break;
        }
        assert!(Instant::now() < deadline, "sangam did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }

    // A second start keeps the data and does not seed twice.
    let server = start(&db_file);
    let token = admin_token(&client, &server).await;
    let res: Value = client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ states { totalCount } }" }))
        .send()
        .await
        .expect("post")
        .json()
        .await
        .expect("json");
    assert_eq!(res["data"]["states"]["totalCount"], 2);
    drop(server);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_file.display()));
    }
}

#[test]
fn export_schema_writes_the_committed_sdl() {
    let out = temp_path("schema.graphql");
    let status = Command::new(sangam()).arg("export-schema").arg(&out).status().expect("run");
    assert!(status.success());
    let written = std::fs::read_to_string(&out).expect("written");
    let _ = std::fs::remove_file(&out);
    assert_eq!(written, api::graphql::sdl());
}

#[test]
fn migrate_up_status_and_down() {
    let db_file = temp_path("migrate.db");
    let _ = std::fs::remove_file(&db_file);
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    let run = |args: &[&str]| {
        let out = Command::new(sangam()).args(args).env("DATABASE_URL", &url).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["migrate", "up"]);
    assert!(run(&["migrate", "status"]).contains("Applied"));
    run(&["migrate", "down"]);
    assert!(run(&["migrate", "status"]).contains("Pending"));
    let _ = std::fs::remove_file(&db_file);
}
