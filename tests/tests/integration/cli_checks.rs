//! The CLI refuses what would leave an operator with something broken, and says what to do
//! next: unknown places, invalid persisted operations, a key grace shorter than the tokens it
//! must outlive, a rollback that would drop data; looking at migrations creates nothing; logs
//! to a pipe carry no colour codes.

use std::{path::PathBuf, process::Output};

use tests::process;

/// A SQLite file for one test, removed (with its WAL files) when dropped.
struct DbFile(PathBuf);

impl DbFile {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("sangam-cli-{}-{name}.db", std::process::id()));
        let file = Self(path);
        file.remove();
        file
    }
    fn url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.display())
    }
    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for DbFile {
    fn drop(&mut self) {
        self.remove();
    }
}

fn sangam(db: &DbFile, args: &[&str]) -> Output {
    process::run(args, &[("DATABASE_URL", db.url().as_str())])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} should succeed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn refused(out: &Output, what: &str, says: &str) {
    assert!(
        !out.status.success(),
        "{what} should be refused: {}",
        text(&out.stdout)
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(says),
        "{what}: the refusal should say {says:?}: {err}"
    );
    assert!(
        !err.contains('\u{1b}'),
        "{what}: logs written to a pipe carry no ANSI colour codes: {err:?}"
    );
}

#[test]
fn a_seeded_database_guards_its_clients_and_its_data() {
    let db = DbFile::new("seeded");
    let seeded = sangam(&db, &["seed", "demo"]);
    ok(&seeded, "seed demo");
    let hint = text(&seeded.stderr);
    assert!(
        hint.contains("sangam client add") && hint.contains("serve --demo"),
        "seeding says how to get a client: {hint}"
    );

    let add = |places: &[&str]| {
        let mut args = vec![
            "client",
            "add",
            "--name",
            "Raipur DWSM",
            "--role",
            "district_coordinator",
            "--scopes",
            "villages:read",
        ];
        args.extend_from_slice(places);
        sangam(&db, &args)
    };
    refused(
        &add(&["--districts", "99999"]),
        "a client of a district that does not exist",
        "no district with LGD code 99999",
    );
    refused(
        &add(&["--states", "98", "--districts", "387"]),
        "a client of a state that does not exist",
        "no state with LGD code 98",
    );
    ok(&add(&["--districts", "387"]), "a client of Raipur");

    refused(
        &sangam(&db, &["migrate", "down"]),
        "rolling back a database that holds data",
        "--yes",
    );
    let status = ok(&sangam(&db, &["migrate", "status"]), "migrate status");
    assert!(
        !status.contains("Pending"),
        "nothing was rolled back: {status}"
    );
    ok(
        &sangam(&db, &["migrate", "down", "--yes"]),
        "rolling back with --yes",
    );
    let status = ok(&sangam(&db, &["migrate", "status"]), "migrate status");
    assert!(
        status.contains("Pending"),
        "one migration rolled back: {status}"
    );
}

#[test]
fn migrate_status_creates_no_database() {
    let db = DbFile::new("nothing");
    let status = ok(&sangam(&db, &["migrate", "status"]), "migrate status");
    assert!(
        status.lines().count() >= 5 && status.lines().all(|l| l.starts_with("Pending")),
        "every migration is pending: {status}"
    );
    assert!(
        !db.0.exists(),
        "looking at migrations created {}",
        db.0.display()
    );
}

#[test]
fn persisted_queries_are_validated_listed_and_removed() {
    let db = DbFile::new("persisted");
    let dir = std::env::temp_dir();
    let file = |name: &str, body: &str| {
        let path = dir.join(format!("sangam-cli-{}-{name}.graphql", std::process::id()));
        std::fs::write(&path, body).expect("write the operation");
        path.display().to_string()
    };
    let no_file = sangam(&db, &["persisted-query", "add"]);
    assert_eq!(
        no_file.status.code(),
        Some(2),
        "no file is a usage error: {}",
        text(&no_file.stderr)
    );
    assert!(text(&no_file.stderr).to_lowercase().contains("usage"));

    let good = file("good", "query Districts { state(lgdCode: 22) { name } }");
    let bad_field = file("bad-field", "{ state(lgdCode: 22) { nosuchfield } }");
    let mixed = file(
        "mixed",
        "query Fine { viewer { role } }\nquery Broken($id: ID!) { node(id: $id) { nosuchfield } }",
    );
    let bad_args = file("bad-args", "{ villages(first: \"ten\") { totalCount } }");
    for (path, why) in [
        (&bad_field, "nosuchfield"),
        (&mixed, "Broken"),
        (&bad_args, "first"),
    ] {
        refused(
            &sangam(&db, &["persisted-query", "add", path]),
            &format!("registering {path}"),
            why,
        );
    }
    refused(
        &sangam(&db, &["persisted-query", "add", &good, &bad_field]),
        "a valid file beside an invalid one",
        "nosuchfield",
    );
    let listed = ok(&sangam(&db, &["persisted-query", "list"]), "list");
    assert_eq!(
        listed.trim(),
        "",
        "nothing invalid (nor its valid companion) was registered"
    );

    let added = ok(
        &sangam(&db, &["persisted-query", "add", &good]),
        "a valid operation",
    );
    let hash = added
        .split_whitespace()
        .next()
        .expect("the hash")
        .to_owned();
    assert_eq!(hash.len(), 64, "{added}");
    let listed = ok(&sangam(&db, &["persisted-query", "list"]), "list");
    assert!(
        listed.contains(&hash) && listed.contains("Districts"),
        "the list names the hash and the operation: {listed}"
    );
    ok(
        &sangam(&db, &["persisted-query", "remove", &hash]),
        "remove",
    );
    let listed = ok(&sangam(&db, &["persisted-query", "list"]), "list");
    assert!(!listed.contains(&hash), "{listed}");
    refused(
        &sangam(&db, &["persisted-query", "remove", &hash]),
        "removing it twice",
        "no registered operation",
    );
    for f in [good, bad_field, mixed, bad_args] {
        let _ = std::fs::remove_file(f);
    }
}

#[test]
fn a_key_grace_shorter_than_the_token_lifetime_is_refused() {
    let db = DbFile::new("keys");
    refused(
        &sangam(&db, &["key", "rotate", "--grace-secs", "300"]),
        "a grace of 300 s for 900 s tokens",
        "shorter than the token lifetime",
    );
    let keys = ok(&sangam(&db, &["key", "list"]), "key list");
    let before = keys.lines().count();
    ok(
        &sangam(
            &db,
            &[
                "key",
                "rotate",
                "--grace-secs",
                "300",
                "--token-ttl-secs",
                "200",
            ],
        ),
        "a grace of 300 s for 200 s tokens and 60 s of skew",
    );
    ok(&sangam(&db, &["key", "rotate"]), "the default grace");
    let keys = ok(&sangam(&db, &["key", "list"]), "key list");
    assert_eq!(keys.lines().count(), before + 2, "{keys}");
}

#[test]
fn serving_a_database_without_clients_says_how_to_get_one() {
    let db = DbFile::new("serve");
    ok(&sangam(&db, &["seed", "demo"]), "seed demo");
    let url = db.url();
    let server = process::serve(&[], &[("DATABASE_URL", url.as_str())]);
    let hint = server
        .log_line("no OAuth clients")
        .expect("serve warns that no client can get a token");
    assert!(
        hint.contains("sangam client add") && hint.contains("--demo"),
        "{hint}"
    );
}
