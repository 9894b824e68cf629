//! The real `sangam` binary: serve the demo over HTTP, stop cleanly on SIGTERM; the CLI.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tests::process::{self, Server};

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sangam-{}-{name}", std::process::id()))
}

fn start_demo(db_file: &std::path::Path) -> Server {
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    process::serve(&["--demo"], &[("DATABASE_URL", url.as_str())])
}

/// The demo state administrator's secret, from the curl line the demo prints.
fn admin_secret(server: &Server) -> String {
    let line = server
        .log_line("-u demo-state-admin:")
        .expect("the demo prints its clients");
    let rest =
        &line[line.find("-u demo-state-admin:").expect("found") + "-u demo-state-admin:".len()..];
    rest.split_whitespace().next().expect("secret").to_owned()
}

/// A token for the demo state administrator, from the server's token endpoint.
pub(crate) async fn admin_token(client: &reqwest::Client, server: &Server) -> String {
    let res: Value = client
        .post(format!("{}/oauth/token", server.base))
        .basic_auth("demo-state-admin", Some(admin_secret(server)))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    res["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {res}"))
        .to_owned()
}

#[tokio::test]
async fn serve_demo_answers_over_http_and_stops_on_sigterm() {
    let db_file = temp_path("serve.db");
    let _ = std::fs::remove_file(&db_file);
    let mut server = start_demo(&db_file);
    let client = reqwest::Client::new();

    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), 200);

    let query = "{ state(lgdCode: 22) { name nameHi districts { name } } villages { totalCount } }";
    let anonymous = client
        .post(format!("{}/graphql", server.base))
        .json(&json!({ "query": query }))
        .send()
        .await;
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
    assert!(
        res["data"]["villages"]["totalCount"]
            .as_u64()
            .expect("count")
            > 1000
    );

    let pid = server.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
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
    let server = start_demo(&db_file);
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
    let path = out.to_string_lossy().into_owned();
    assert!(
        process::run(&["export-schema", &path], &[])
            .status
            .success()
    );
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
        let out = process::run(args, &[("DATABASE_URL", url.as_str())]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["migrate", "up"]);
    assert!(!run(&["migrate", "status"]).contains("Pending"));
    run(&["migrate", "down", "--steps", "100"]);
    assert!(!run(&["migrate", "status"]).contains("Applied"));
    let _ = std::fs::remove_file(&db_file);
}

#[test]
fn clients_are_managed_from_the_cli_and_secrets_are_never_stored() {
    let db_file = temp_path("clients.db");
    let _ = std::fs::remove_file(&db_file);
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    let env = [("DATABASE_URL", url.as_str())];
    let added = process::run(
        &[
            "client",
            "add",
            "--name",
            "State dashboard",
            "--role",
            "dashboard",
            "--scopes",
            "villages:read,progress:read",
        ],
        &env,
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let text = String::from_utf8_lossy(&added.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    let listed =
        String::from_utf8_lossy(&process::run(&["client", "list"], &env).stdout).into_owned();
    assert!(
        listed.contains(&id) && listed.contains("enabled"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "a secret must never be listed");
    for suffix in ["", "-wal"] {
        let bytes = std::fs::read(format!("{}{suffix}", db_file.display())).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&secret),
            "only a hash of the secret is stored"
        );
    }

    let refused = process::run(
        &[
            "client",
            "add",
            "--name",
            "x",
            "--role",
            "dashboard",
            "--scopes",
            "tasks:write",
        ],
        &env,
    );
    assert!(
        !refused.status.success(),
        "a dashboard may not hold tasks:write"
    );
    assert!(
        process::run(&["client", "disable", &id], &env)
            .status
            .success()
    );
    let listed =
        String::from_utf8_lossy(&process::run(&["client", "list"], &env).stdout).into_owned();
    assert!(listed.contains("disabled"), "{listed}");
    let rotated = process::run(&["client", "rotate-secret", &id], &env);
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("client_secret:"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db_file.display()));
    }
}

/// Stops within `limit` of SIGTERM, successfully.
pub(crate) fn stops_on_sigterm(server: &mut Server, limit: Duration, what: &str) {
    let pid = server.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            assert!(exit.success(), "{what}: sangam exited with {exit}");
            return;
        }
        if Instant::now() >= deadline {
            let log = server.log.lock().map(|l| l.join("\n")).unwrap_or_default();
            panic!("{what}: sangam did not stop within {limit:?} of SIGTERM\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// On PostgreSQL the server holds more than a pool (the event listener, the revocation
/// listener, the webhook workers): SIGTERM still stops it, and so it does when its database has
/// gone away underneath it (the workers then fail and retry, and must not hold the exit up).
#[tokio::test]
async fn on_postgresql_sigterm_stops_the_server_even_with_its_database_gone() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    let client = reqwest::Client::new();
    for gone in [false, true] {
        let db = tests::PgDatabase::create(&admin).await.expect("database");
        let mut server = process::serve(&[], &[("DATABASE_URL", db.url.as_str())]);
        let ready = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .expect("readyz");
        assert_eq!(ready.status(), 200);
        if gone {
            let admin_db = sea_orm::Database::connect(&admin).await.expect("admin");
            sea_orm::ConnectionTrait::execute_unprepared(
                &admin_db,
                &format!("DROP DATABASE \"{}\" WITH (FORCE)", db.name()),
            )
            .await
            .expect("drop");
            admin_db.close().await.ok();
            // Let the workers notice and start retrying.
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        stops_on_sigterm(
            &mut server,
            Duration::from_secs(20),
            if gone {
                "database dropped"
            } else {
                "database up"
            },
        );
    }
}
