use std::path::Path;

use tests::{Backend, TestApp, TestDb};

fn committed() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    std::fs::read_to_string(&path).unwrap_or_default()
}

#[test]
fn committed_schema_matches_the_code() {
    let sdl = api::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
        std::fs::write(path, &sdl).expect("write schema.graphql");
        return;
    }
    assert!(
        committed() == sdl,
        "schema.graphql is stale: run `cargo run -- export-schema schema.graphql` and commit it"
    );
}

#[tokio::test]
async fn served_schema_is_the_committed_one() {
    let app = TestApp::over(TestDb::new(Backend::Sqlite).await).await;
    let reply = app.get_authed("/schema.graphql").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, committed());
}
