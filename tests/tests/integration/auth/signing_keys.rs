//! The embedded server's signing keys rotate without downtime: old keys verify until their
//! grace ends, new ones at once.

use std::time::Duration;

use api::{auth::keys, principal::Role};
use tests::{ClientSpec, TestApp, TestDb, each_backend, tokens::*};

#[tokio::test]
async fn signing_keys_rotate_without_downtime() {
    each_backend(|backend| async move {
        let app = TestApp::over(TestDb::new(backend).await).await;
        let db = app.t.backend.name();
        let spec = || ClientSpec::new(Role::Dashboard);
        let a = app.token(spec()).await;
        keys::rotate(&app.t.db, Duration::from_secs(600))
            .await
            .expect("rotate the signing key");
        let b = app.token(spec()).await;
        let (kid_a, kid_b) = (kid_of(&a), kid_of(&b));
        assert_ne!(
            kid_a, kid_b,
            "[{db}] tokens after the rotation are signed by the new key"
        );

        viewer(&app, &b, &format!("[{db}] token B, signed by the new key")).await;
        viewer(
            &app,
            &a,
            &format!("[{db}] token A, signed by the retired key within its grace"),
        )
        .await;
        let kids = published_kids(&app).await;
        assert!(
            kids.contains(&kid_a) && kids.contains(&kid_b),
            "[{db}] the JWK Set lists both keys: {kids:?}"
        );

        expire_key(&app, &kid_a).await;
        app.auth.keys.forget().await;
        assert_refused(
            &app,
            &a,
            &format!("[{db}] token A once its key's grace is over"),
        )
        .await;
        viewer(
            &app,
            &b,
            &format!("[{db}] token B after the old key expired"),
        )
        .await;
        let kids = published_kids(&app).await;
        assert!(
            !kids.contains(&kid_a),
            "[{db}] an expired key leaves the JWK Set: {kids:?}"
        );
        assert!(kids.contains(&kid_b), "[{db}] {kids:?}");
    })
    .await;
}

#[tokio::test]
async fn a_token_of_a_freshly_rotated_key_is_accepted_at_once() {
    let app = app().await;
    let a = app.token(ClientSpec::new(Role::Dashboard)).await;
    // Verifying A loads the verifier's key cache, as any busy server has it loaded.
    viewer(&app, &a, "token A before the rotation").await;
    keys::rotate(&app.t.db, Duration::from_secs(600))
        .await
        .expect("rotate the signing key");
    let b = app.token(ClientSpec::new(Role::Dashboard)).await;
    assert_ne!(kid_of(&a), kid_of(&b), "B is signed by the new key");
    viewer(
        &app,
        &b,
        "token B, issued and used right after the rotation (no downtime)",
    )
    .await;
    viewer(&app, &a, "token A within its grace period").await;
}
