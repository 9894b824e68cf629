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

/// The first delivery of `kind` (`scheme.inspected`, …) a receiver got, as JSON.
fn of_type(got: &[crate::webhooks::Received], kind: &str) -> Option<Value> {
    got.iter().map(|r| r.json()).find(|m| m["type"] == kind)
}

const ALL_KINDS: [&str; 5] = [
    "SCHEME_TRANSITIONED",
    "SCHEME_COMPONENT_ADDED",
    "SCHEME_PROGRESS_RECORDED",
    "SCHEME_INSPECTED",
    "SCHEME_HANDED_OVER",
];

#[tokio::test]
async fn components_inspections_and_handovers_reach_owners_as_they_read_them() {
    each_backend(works_events_on).await;
}

/// A component added, a RECTIFY inspection and a hold on one scheme, a handover of another:
/// each body carries what the event is about (WEBHOOKS.md, "Event kinds"), read as the owner
/// reads it: the operator's name for no one, a free-text reason not for a dashboard.
async fn works_events_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let schemes = crate::scheme_works::raipur_schemes(&app).await;
    let (works, handed) = (schemes[2]["id"].clone(), schemes[3]["id"].clone());
    let v = crate::scheme_works::force(&app, &works, "IN_PROGRESS").await;
    let hv = crate::scheme_works::force(&app, &handed, "COMMISSIONED").await;

    // A dashboard may read schemes (ACCESS.md, "Scheme works"), so it may ask for their events.
    let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;
    let admin_receiver = Receiver::start(|_| Answer::Status(200)).await;
    let dashboard_receiver = Receiver::start(|_| Answer::Status(200)).await;
    register(&app, &app.admin_token, &admin_receiver.url, &ALL_KINDS).await;
    register(&app, &dashboard, &dashboard_receiver.url, &ALL_KINDS).await;
    app.start_webhooks();

    let today = api::service::today_ist().to_string();
    let yesterday = (api::service::today_ist() - chrono::Days::new(1)).to_string();
    let added = app
        .data(
            "mutation($in: AddSchemeComponentInput!) { addSchemeComponent(input: $in) {
                scheme { version } component { id } } }",
            json!({ "in": { "scheme": works, "expectedVersion": v, "kind": "OVERHEAD_RESERVOIR",
                "plannedQuantity": 60.0, "estimatedCost": "4000000.00" } }),
        )
        .await;
    let added_version = added["addSchemeComponent"]["scheme"]["version"].clone();
    let tank = added["addSchemeComponent"]["component"]["id"].clone();
    let inspected = app
        .data(
            "mutation($in: RecordInspectionInput!) { recordInspection(input: $in) {
                inspection { id } scheme { version } } }",
            json!({ "in": { "scheme": works, "component": tank, "inspectedOn": today,
                "stage": "CONSTRUCTION", "verdict": "RECTIFY", "findings": [
                    { "parameter": "Concrete cube strength (M25)", "observation": "16 N/mm²",
                      "severity": "MAJOR" },
                    { "parameter": "Curing register", "observation": "Not kept",
                      "severity": "MINOR" } ],
                "evidenceUrl": "https://tpia.example/report.pdf" } }),
        )
        .await;
    let inspection = inspected["recordInspection"]["inspection"]["id"].clone();
    let inspected_version = inspected["recordInspection"]["scheme"]["version"].clone();
    // A hold's note is free text (a person may be named): personal data for a dashboard.
    let note = "Contractor Ramesh Verma left the site";
    let held = app
        .data(
            "mutation($id: ID!, $v: Int!, $note: String) { transitionScheme(id: $id,
                expectedVersion: $v, to: ON_HOLD, note: $note) { scheme { version statusReason } } }",
            json!({ "id": works, "v": inspected_version, "note": note }),
        )
        .await;
    assert_eq!(
        held["transitionScheme"]["scheme"]["statusReason"], note,
        "[{db}]"
    );
    let handover = app
        .data(
            "mutation($in: HandOverSchemeInput!) { handOverScheme(input: $in) {
                scheme { version } handover { operatorName } } }",
            json!({ "in": { "id": handed, "expectedVersion": hv, "handedOverOn": today,
                "gramPanchayatResolution": { "date": yesterday, "number": "GP/2026/14",
                    "evidenceUrl": "https://gp.example/resolution.pdf" },
                "vwsc": { "members": 11, "womenMembers": 6 },
                "operator": { "trained": true, "name": "Dilip Kumar Sahu" },
                "omArrangement": { "userChargePerHouseholdPerMonth": "50.00",
                    "fundsSource": "USER_CHARGES" } } }),
        )
        .await;
    // The administrator reads the name in the API; a webhook body carries it for no one.
    assert_eq!(
        handover["handOverScheme"]["handover"]["operatorName"], "Dilip Kumar Sahu",
        "[{db}]"
    );
    let handed_version = handover["handOverScheme"]["scheme"]["version"].clone();

    let types = [
        "scheme.component_added",
        "scheme.inspected",
        "scheme.transitioned",
        "scheme.handed_over",
    ];
    for (who, receiver) in [
        ("administrator", &admin_receiver),
        ("dashboard", &dashboard_receiver),
    ] {
        receiver
            .wait_for(Duration::from_secs(30), "the four works events", |got| {
                types.iter().all(|t| of_type(got, t).is_some())
            })
            .await;
        let got = receiver.got();
        assert_eq!(got.len(), types.len(), "[{db}] {who}: {got:#?}");
        for r in &got {
            assert!(!r.body.contains("Dilip"), "[{db}] {who}: {r:#?}");
            assert!(!r.body.contains("operatorName"), "[{db}] {who}: {r:#?}");
        }

        let m = of_type(&got, "scheme.component_added").expect("component_added");
        assert_eq!(m["data"]["entity"], "scheme", "[{db}] {who}: {m:#}");
        assert_eq!(m["data"]["id"], works, "[{db}] {who}: {m:#}");
        assert_eq!(
            m["data"]["eventVersion"], added_version,
            "[{db}] {who}: {m:#}"
        );
        let c = &m["data"]["changes"]["component"];
        assert_eq!(c["id"], tank, "[{db}] {who}: {m:#}");
        assert_eq!(c["kind"], "OVERHEAD_RESERVOIR", "[{db}] {who}: {m:#}");
        assert_eq!(
            c["plannedQuantity"].as_f64(),
            Some(60.0),
            "[{db}] {who}: {m:#}"
        );
        assert!(c["unit"].is_string(), "[{db}] {who}: {m:#}");
        assert!(
            m["data"]["changes"].get("components").is_none(),
            "[{db}] {who}: only the one component: {m:#}"
        );

        let m = of_type(&got, "scheme.inspected").expect("inspected");
        assert_eq!(m["data"]["id"], works, "[{db}] {who}: {m:#}");
        assert_eq!(
            m["data"]["eventVersion"], inspected_version,
            "[{db}] {who}: {m:#}"
        );
        assert!(
            m["data"]["version"].as_i64() >= inspected_version.as_i64(),
            "[{db}] {who}: {m:#}"
        );
        let changes = &m["data"]["changes"];
        assert_eq!(
            changes["openFindings"],
            json!({ "minor": 1, "major": 1, "critical": 0, "total": 2 }),
            "[{db}] {who}: {m:#}"
        );
        let i = &changes["inspection"];
        assert_eq!(i["id"], inspection, "[{db}] {who}: {m:#}");
        assert_eq!(i["verdict"], "RECTIFY", "[{db}] {who}: {m:#}");
        assert_eq!(i["stage"], "CONSTRUCTION", "[{db}] {who}: {m:#}");
        assert_eq!(i["inspectedOn"], today, "[{db}] {who}: {m:#}");
        assert_eq!(i["component"]["id"], tank, "[{db}] {who}: {m:#}");
        let mut findings: Vec<(String, String, bool)> = i["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("[{db}] {who}: findings: {m:#}"))
            .iter()
            .map(|f| {
                (
                    f["severity"].as_str().unwrap_or_default().to_owned(),
                    f["parameter"].as_str().unwrap_or_default().to_owned(),
                    f["open"] == true,
                )
            })
            .collect();
        findings.sort();
        assert_eq!(
            findings,
            vec![
                (
                    "MAJOR".to_owned(),
                    "Concrete cube strength (M25)".to_owned(),
                    true
                ),
                ("MINOR".to_owned(), "Curing register".to_owned(), true),
            ],
            "[{db}] {who}: {m:#}"
        );
        assert!(
            changes.get("inspections").is_none(),
            "[{db}] {who}: only the one inspection: {m:#}"
        );

        let m = of_type(&got, "scheme.transitioned").expect("transitioned");
        assert_eq!(m["data"]["id"], works, "[{db}] {who}: {m:#}");
        assert_eq!(
            m["data"]["changes"]["status"], "ON_HOLD",
            "[{db}] {who}: {m:#}"
        );
        if who == "dashboard" {
            assert!(
                m["data"]["changes"].get("statusReason").is_none(),
                "[{db}] {who}: {m:#}"
            );
            assert!(!m.to_string().contains("Ramesh"), "[{db}] {who}: {m:#}");
        } else {
            assert_eq!(
                m["data"]["changes"]["statusReason"], note,
                "[{db}] {who}: {m:#}"
            );
        }

        let m = of_type(&got, "scheme.handed_over").expect("handed_over");
        assert_eq!(m["data"]["entity"], "scheme", "[{db}] {who}: {m:#}");
        assert_eq!(m["data"]["id"], handed, "[{db}] {who}: {m:#}");
        assert_eq!(
            m["data"]["eventVersion"], handed_version,
            "[{db}] {who}: {m:#}"
        );
        assert_eq!(m["data"]["version"], handed_version, "[{db}] {who}: {m:#}");
        let changes = &m["data"]["changes"];
        assert_eq!(
            changes["status"], "HANDED_OVER_TO_GP",
            "[{db}] {who}: {m:#}"
        );
        assert_eq!(changes["handedOverOn"], today, "[{db}] {who}: {m:#}");
        if who == "dashboard" {
            assert!(changes.get("statusReason").is_none(), "[{db}] {who}: {m:#}");
        }
        assert_eq!(
            changes["handover"],
            json!({ "handedOverOn": today, "vwsc": { "members": 11, "womenMembers": 6 },
                "operatorTrained": true, "omArrangement": {
                    "userChargePerHouseholdPerMonth": "50.00", "fundsSource": "USER_CHARGES" } }),
            "[{db}] {who}: {m:#}"
        );
    }
}
