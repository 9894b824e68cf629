//! The per-webhook cap (`--webhook-concurrency-per-webhook`): one receiver never has more of an
//! instance's deliveries at once than the cap, however high the total; a webhook with a long
//! backlog does not hold up the others; and failed attempts give their place back.

use std::{collections::BTreeSet, time::Duration};

use api::webhooks::{Settings, Webhooks};
use tests::{Backend, TestApp, TestDb, each_backend};

use crate::webhooks::{
    Answer, Received, Receiver, comment, create_task, deliveries, register, village_and_task,
};

/// The demo app with its webhook workers sending `concurrency` at once in all and at most
/// `per_webhook` of one webhook.
async fn app_with(backend: Backend, concurrency: usize, per_webhook: usize) -> TestApp {
    let settings = Settings {
        concurrency,
        per_webhook,
        ..Settings::for_tests()
    };
    TestApp::with_webhooks(
        TestDb::demo(backend).await,
        Default::default(),
        Default::default(),
        api::auth::AuthSettings::embedded(tests::ISSUER),
        Webhooks::new(settings),
    )
    .await
}

fn distinct(got: &[Received]) -> usize {
    got.iter().map(Received::id).collect::<BTreeSet<_>>().len()
}

#[tokio::test]
async fn a_slow_receiver_never_has_more_than_the_per_webhook_cap_at_once() {
    each_backend(cap_holds_on).await;
}

/// A backlog for one slow receiver, with far more sending slots than the cap: without the cap
/// every delivery would be in flight at once.
async fn cap_holds_on(backend: Backend) {
    const CAP: usize = 3;
    const EVENTS: usize = 24;
    let app = app_with(backend, 64, CAP).await;
    let db = app.t.backend.name();
    let receiver = Receiver::start(|_| Answer::After(300)).await;
    let (_, task) = village_and_task(&app, &[]).await;
    let (hook, _) = register(&app, &app.admin_token, &receiver.url, &["TASK_COMMENTED"]).await;
    for n in 0..EVENTS {
        comment(&app, &app.admin_token, &task, &format!("note {n}")).await;
    }
    app.start_webhooks();

    receiver
        .wait_for(Duration::from_secs(60), "every delivery", |g| {
            g.len() >= EVENTS
        })
        .await;
    // A delivery sent twice would arrive in this time.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.got();
    assert_eq!(got.len(), EVENTS, "[{db}] each delivery once: {got:#?}");
    assert_eq!(distinct(&got), EVENTS, "[{db}] {got:#?}");
    // At the cap, and never above it (below it, the test would prove nothing).
    assert_eq!(
        receiver.peak(),
        CAP,
        "[{db}] most requests open at the receiver at once"
    );
    for d in deliveries(&app, &app.admin_token, &hook).await {
        assert_eq!(d["status"], "DELIVERED", "[{db}] {d:#}");
        assert_eq!(d["attemptCount"], 1, "[{db}] {d:#}");
    }
}

#[tokio::test]
async fn a_webhook_with_a_backlog_does_not_hold_up_another() {
    each_backend(no_starving_on).await;
}

/// Webhook A's slow receiver has a backlog older than anything B gets, and there are only a few
/// sending slots: taking the oldest due deliveries alone, every claim would be A's until its
/// backlog was gone, and B would wait for it.
async fn no_starving_on(backend: Backend) {
    const CAP: usize = 2;
    const BACKLOG: usize = 60;
    const FOR_B: usize = 3;
    let app = app_with(backend, 4, CAP).await;
    let db = app.t.backend.name();
    let slow = Receiver::start(|_| Answer::After(300)).await;
    let fast = Receiver::start(|_| Answer::Status(200)).await;
    let (village, task) = village_and_task(&app, &[]).await;
    register(&app, &app.admin_token, &slow.url, &["TASK_COMMENTED"]).await;
    register(&app, &app.admin_token, &fast.url, &["TASK_CREATED"]).await;
    for n in 0..BACKLOG {
        comment(&app, &app.admin_token, &task, &format!("note {n}")).await;
    }
    app.start_webhooks();
    slow.wait_for(Duration::from_secs(30), "A's first deliveries", |g| {
        g.len() >= CAP
    })
    .await;

    // B's events come after all of A's backlog.
    for _ in 0..FOR_B {
        create_task(&app, &app.admin_token, &village).await;
    }
    fast.wait_for(Duration::from_secs(60), "B's deliveries", |g| {
        distinct(g) >= FOR_B
    })
    .await;
    let to_come = BACKLOG.saturating_sub(slow.count());
    // A sends 2 every 300 ms, so most of its backlog is still to come; behind it, B would have
    // waited for all but the last claim's few.
    assert!(
        to_come >= 20,
        "[{db}] B's deliveries waited behind A's backlog: only {to_come} of A's {BACKLOG} were \
         still to come"
    );
    assert!(slow.peak() <= CAP, "[{db}] A's peak {}", slow.peak());
}

#[tokio::test]
async fn failed_attempts_give_their_place_back_and_deliveries_keep_flowing() {
    each_backend(failures_on).await;
}

/// The receiver fails more attempts than the cap before it answers 200: were a failed
/// attempt's place under the cap not given back, the webhook would stop being claimed. Its
/// answers are slow, so that the attempts overlap and the cap is what keeps them apart.
async fn failures_on(backend: Backend) {
    const CAP: usize = 2;
    const FAILURES: usize = 8;
    const EVENTS: usize = 6;
    let app = app_with(backend, 64, CAP).await;
    let db = app.t.backend.name();
    let receiver = Receiver::start(|n| {
        if n < FAILURES {
            Answer::StatusAfter(500, 200)
        } else {
            Answer::After(200)
        }
    })
    .await;
    let (_, task) = village_and_task(&app, &[]).await;
    let (hook, _) = register(&app, &app.admin_token, &receiver.url, &["TASK_COMMENTED"]).await;
    for n in 0..EVENTS {
        comment(&app, &app.admin_token, &task, &format!("note {n}")).await;
    }
    app.start_webhooks();

    receiver
        .wait_for(
            Duration::from_secs(60),
            "every delivery after the failures",
            |g| g.len() >= FAILURES + EVENTS,
        )
        .await;
    // Still flowing afterwards: one more event arrives.
    comment(&app, &app.admin_token, &task, "after the failures").await;
    receiver
        .wait_for(Duration::from_secs(30), "the next event", |g| {
            distinct(g) > EVENTS
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = receiver.got();
    assert_eq!(got.len(), FAILURES + EVENTS + 1, "[{db}] {got:#?}");
    let list = deliveries(&app, &app.admin_token, &hook).await;
    assert_eq!(list.len(), EVENTS + 1, "[{db}] {list:#?}");
    for d in &list {
        assert_eq!(d["status"], "DELIVERED", "[{db}] {d:#}");
    }
    let attempts: usize = list
        .iter()
        .map(|d| d["attemptCount"].as_u64().unwrap_or(0) as usize)
        .sum();
    assert_eq!(attempts, FAILURES + EVENTS + 1, "[{db}] {list:#?}");
    assert_eq!(receiver.peak(), CAP, "[{db}] most requests open at once");
}
