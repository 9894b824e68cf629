//! `scheme.*` webhooks: a scheme's events reach an owner who may read the scheme, read as that
//! owner reads it (with the component, inspection or handover the event is about), and never an
//! owner who cannot read it.

use std::time::Duration;

use api::principal::Role;
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, each_backend};

use crate::webhooks::{Answer, Receiver, register};

const KINDS: [&str; 3] = [
    "SCHEME_TRANSITIONED",
    "SCHEME_PROGRESS_RECORDED",
    "SCHEME_INSPECTED",
];

/// A sector partner that can read at least one scheme: its token and those schemes.
async fn partner_with_schemes(app: &TestApp) -> (String, Vec<Value>) {
    let partners = app
        .data(
            "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 100) { edges { node { code } } } }",
            json!({}),
        )
        .await;
    for p in partners["organisations"]["edges"]
        .as_array()
        .expect("partners")
    {
        let token = app
            .token(ClientSpec::new(Role::Partner).org(p["node"]["code"].as_str().expect("code")))
            .await;
        let seen = app
            .post_as(
                &token,
                "{ schemes(first: 100) { edges { node { id status version } } } }",
                json!({}),
            )
            .await;
        let schemes: Vec<Value> = seen["data"]["schemes"]["edges"]
            .as_array()
            .map(|e| e.iter().map(|e| e["node"].clone()).collect())
            .unwrap_or_default();
        if !schemes.is_empty() {
            return (token, schemes);
        }
    }
    panic!("the demo data has a sector partner that reads a scheme");
}

/// A lifecycle move legal from `status` that needs nothing but a note (and a target date).
fn next_move(status: &str) -> Option<&'static str> {
    Some(match status {
        "PROPOSED" => "DPR_PREPARED",
        "DPR_PREPARED" => "TECH_SANCTIONED",
        "TECH_SANCTIONED" => "ADMIN_APPROVED",
        "ADMIN_APPROVED" => "TENDERED",
        "TENDERED" => "WORK_ORDER_ISSUED",
        "WORK_ORDER_ISSUED" => "IN_PROGRESS",
        "IN_PROGRESS" => "ON_HOLD",
        "ON_HOLD" => "IN_PROGRESS",
        "COMPLETED" => "COMMISSIONED",
        _ => return None,
    })
}

fn about(got: &[crate::webhooks::Received], id: &str) -> bool {
    got.iter().any(|r| r.json()["data"]["id"] == id)
}

#[tokio::test]
async fn scheme_events_reach_owners_who_may_read_the_scheme_and_no_one_else() {
    each_backend(scheme_events_on).await;
}

async fn scheme_events_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let (partner_token, visible) = partner_with_schemes(&app).await;
    // A scheme under way the partner cannot read, with a component not yet done.
    let all = app
        .data(
            "{ schemes(first: 100, filter: { status: [IN_PROGRESS] }) { edges { node { id code
                components { id plannedQuantity quantityDone } } } } }",
            json!({}),
        )
        .await;
    let (hidden, component, planned) = all["schemes"]["edges"]
        .as_array()
        .expect("schemes")
        .iter()
        .map(|e| &e["node"])
        .filter(|s| !visible.iter().any(|v| v["id"] == s["id"]))
        .find_map(|s| {
            let c = s["components"]
                .as_array()?
                .iter()
                .find(|c| c["quantityDone"].as_f64() < c["plannedQuantity"].as_f64())?;
            Some((
                s["id"].as_str()?.to_owned(),
                c["id"].clone(),
                c["plannedQuantity"].as_f64()?,
            ))
        })
        .expect("a scheme under way the partner cannot read");
    let mark = visible
        .iter()
        .find(|s| next_move(s["status"].as_str().unwrap_or_default()).is_some())
        .expect("a partner's scheme that can move")
        .clone();

    let partner_receiver = Receiver::start(|_| Answer::Status(200)).await;
    let admin_receiver = Receiver::start(|_| Answer::Status(200)).await;
    register(&app, &partner_token, &partner_receiver.url, &KINDS).await;
    register(&app, &app.admin_token, &admin_receiver.url, &KINDS).await;
    app.start_webhooks();

    // Progress on the hidden scheme...
    let today = api::service::today_ist().to_string();
    let res = app
        .post(
            "mutation($in: RecordSchemeProgressInput!) { recordSchemeProgress(input: $in) {
                component { id quantityDone } } }",
            json!({ "in": { "scheme": hidden, "component": component, "quantityDone": planned,
                "asOf": today, "evidenceUrl": "https://mb.example/secret-site.jpg" } }),
        )
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");
    // ...then a move of the partner's scheme, which it may read: the end of the events.
    let to = next_move(mark["status"].as_str().expect("status")).expect("a move");
    let target = (api::service::today_ist() + chrono::Days::new(300)).to_string();
    let res = app
        .post(
            "mutation($id: ID!, $v: Int!, $to: SchemeStatus!, $d: NaiveDate) {
                transitionScheme(id: $id, expectedVersion: $v, to: $to, note: \"Monsoon: site flooded\",
                dates: { targetCompletionOn: $d }) { scheme { id status } } }",
            json!({ "id": mark["id"], "v": mark["version"], "to": to, "d": target }),
        )
        .await;
    assert!(res.get("errors").is_none(), "[{db}] {res:#}");

    let mark_id = mark["id"].as_str().expect("id").to_owned();
    partner_receiver
        .wait_for(
            Duration::from_secs(20),
            "the partner's scheme's event",
            |got| about(got, &mark_id),
        )
        .await;
    admin_receiver
        .wait_for(
            Duration::from_secs(20),
            "both events for the administrator",
            |got| about(got, &hidden) && about(got, &mark_id),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for r in partner_receiver.got() {
        assert_ne!(
            r.json()["data"]["id"],
            hidden.as_str(),
            "[{db}] leaked: {r:#?}"
        );
        assert!(!r.body.contains("secret-site"), "[{db}] leaked: {r:#?}");
    }

    // What the administrator got: the scheme's new physical progress and the component.
    let progress = admin_receiver
        .got()
        .into_iter()
        .map(|r| r.json())
        .find(|m| m["data"]["id"] == hidden.as_str())
        .expect("the progress event");
    assert_eq!(
        progress["type"], "scheme.progress_recorded",
        "[{db}] {progress:#}"
    );
    assert_eq!(progress["data"]["entity"], "scheme", "[{db}] {progress:#}");
    let changes = &progress["data"]["changes"];
    assert!(
        changes["physicalProgress"].is_number(),
        "[{db}] {progress:#}"
    );
    assert_eq!(changes["component"]["id"], component, "[{db}] {progress:#}");
    assert_eq!(
        changes["component"]["quantityDone"].as_f64(),
        Some(planned),
        "[{db}] {progress:#}"
    );
    assert!(
        changes.get("components").is_none(),
        "[{db}] only the one component"
    );
    let moved = partner_receiver
        .got()
        .into_iter()
        .map(|r| r.json())
        .find(|m| m["data"]["id"] == mark["id"])
        .expect("the move");
    assert_eq!(moved["type"], "scheme.transitioned", "[{db}] {moved:#}");
    assert_eq!(moved["data"]["changes"]["status"], to, "[{db}] {moved:#}");
}
