//! The policy matrix of ACCESS.md as one table: for every root field of the schema, whether each
//! of the five roles may use it. A token holds every scope its role may hold, so a FORBIDDEN can
//! only come from the role. Deny means a FORBIDDEN error; allow means the representative call
//! (valid arguments, a row in the caller's reach) runs without any error.
//!
//! The table is checked against the schema by introspection: a new root field without a row,
//! or a row for a field that is gone, fails the build of the matrix.

use std::{collections::BTreeSet, sync::Mutex};

use api::principal::{Role, Scope};
use serde_json::{Value, json};
use tests::{Backend, ClientSpec, TestApp, TestDb, each_backend, global_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Allow,
    Deny,
}

const Y: Rule = Rule::Allow;
const N: Rule = Rule::Deny;

/// The table's columns.
const ROLES: [Role; 5] = [
    Role::StateAdmin,
    Role::DistrictCoordinator,
    Role::Department,
    Role::Partner,
    Role::Dashboard,
];

/// What a cell runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// The root query field itself, with valid arguments.
    Read,
    /// `node(id:)` of a task the caller could otherwise work on.
    NodeTask,
    /// `node(id:)` of one of the partner's assignments.
    NodeAssignment,
    /// Raise a task on a village in reach.
    Raise,
    /// Edit a task the caller raised (any task for coordinators).
    Edit,
    /// OPEN → IN_PROGRESS on a task assigned to the caller's organisation.
    Start,
    /// Cancel a task the caller raised.
    Cancel,
    /// DONE → VERIFIED on a task assigned to the caller's organisation.
    Verify,
    /// Hand a task the caller raised to another department.
    Reassign,
    /// Comment on a task assigned to the caller's organisation.
    Comment,
    /// Attach evidence to a task assigned to the caller's organisation.
    Evidence,
    /// Assign the sector partner to a village in reach.
    Assign,
    /// End a partner assignment on a village in reach.
    EndAssignment,
    /// Record a clean water-quality test in a village in reach.
    RecordTest,
    /// Update households and taps of a village in reach.
    Coverage,
    /// Report a saturated village in reach Har Ghar Jal.
    Report,
    /// Record the Gram Sabha's certification of a reported village in reach.
    Certify,
    /// The deliveries of a webhook the caller registered.
    Deliveries,
    /// Register a webhook for village coverage events (what every role, dashboards included,
    /// may read).
    CreateWebhook,
    /// Pause a webhook the caller registered.
    UpdateWebhook,
    /// Remove a webhook the caller registered.
    DeleteWebhook,
    /// Rotate the secret of a webhook the caller registered.
    RotateWebhook,
    /// Queue a delivery of a webhook the caller registered again.
    Redeliver,
    /// `createTasks`: raise a task on a village in reach, as a batch of one.
    RaiseMany,
    /// `transitionTasks`: OPEN → IN_PROGRESS on a task assigned to the caller's organisation,
    /// as a batch of one.
    StartMany,
    /// Put a Raipur scheme on hold (or resume it).
    SchemeMove,
    /// Add a component to an in-progress Raipur scheme.
    SchemeComponent,
    /// Record progress of a component of an in-progress Raipur scheme.
    SchemeProgress,
    /// Assign the Chhattisgarh inspection agency to a Raipur scheme.
    SchemeInspector,
    /// A passing inspection of an in-progress Raipur scheme the agency is assigned to.
    SchemeInspection,
    /// Hand a commissioned Raipur scheme over to its Gram Panchayat.
    SchemeHandover,
    /// Upload (dry run) an LGD states file naming Chhattisgarh.
    ImportLgd,
    /// Upload (dry run) IMIS coverage of a village in reach.
    ImportCoverage,
    /// Upload (dry run) a clean water-quality sample of a village in reach.
    ImportWaterQuality,
    /// Upload (dry run) a progress abstract of a scheme's component (PHED, `schemes:write`).
    ImportSchemeProgress,
}

use Probe::*;

/// Root query fields. Every role reads geography, villages, schemes, organisations and
/// progress (ACCESS.md; a partner only its assigned villages, which is row scope, not policy).
/// Dashboards get counts through `progress`, never task rows, assignments or the audit trail
/// (`service::scope::readable`).
const QUERY: &[(&str, Probe, [Rule; 5])] = &[
    ("node", Read, [Y, Y, Y, Y, Y]),
    ("node", NodeTask, [Y, Y, Y, Y, N]),
    ("node", NodeAssignment, [Y, Y, Y, Y, N]),
    ("nodes", Read, [Y, Y, Y, Y, Y]),
    ("viewer", Read, [Y, Y, Y, Y, Y]),
    ("state", Read, [Y, Y, Y, Y, Y]),
    ("division", Read, [Y, Y, Y, Y, Y]),
    ("district", Read, [Y, Y, Y, Y, Y]),
    ("block", Read, [Y, Y, Y, Y, Y]),
    ("gramPanchayat", Read, [Y, Y, Y, Y, Y]),
    ("village", Read, [Y, Y, Y, Y, Y]),
    ("scheme", Read, [Y, Y, Y, Y, Y]),
    ("organisation", Read, [Y, Y, Y, Y, Y]),
    ("states", Read, [Y, Y, Y, Y, Y]),
    ("divisions", Read, [Y, Y, Y, Y, Y]),
    ("districts", Read, [Y, Y, Y, Y, Y]),
    ("blocks", Read, [Y, Y, Y, Y, Y]),
    ("gramPanchayats", Read, [Y, Y, Y, Y, Y]),
    ("villages", Read, [Y, Y, Y, Y, Y]),
    ("schemes", Read, [Y, Y, Y, Y, Y]),
    ("organisations", Read, [Y, Y, Y, Y, Y]),
    ("assignments", Read, [Y, Y, Y, Y, N]),
    ("tasks", Read, [Y, Y, Y, Y, N]),
    ("waterQualityTests", Read, [Y, Y, Y, Y, Y]),
    ("auditLog", Read, [Y, Y, Y, Y, N]),
    ("progress", Read, [Y, Y, Y, Y, Y]),
    ("webhooks", Read, [Y, Y, Y, Y, Y]),
    ("webhookDeliveries", Deliveries, [Y, Y, Y, Y, Y]),
];

/// Root mutation fields (ACCESS.md's matrix; editing and evidence follow `service::workflow`).
/// The department column is a HEALTH department: it records water-quality tests but does not
/// certify Har Ghar Jal (that is PANCHAYATI_RAJ's).
const MUTATION: &[(&str, Probe, [Rule; 5])] = &[
    ("createTask", Raise, [Y, Y, Y, Y, N]),
    ("updateTask", Edit, [Y, Y, Y, Y, N]),
    ("transitionTask", Start, [Y, Y, Y, Y, N]),
    ("transitionTask", Cancel, [Y, Y, Y, N, N]),
    ("transitionTask", Verify, [Y, Y, N, N, N]),
    ("reassignTask", Reassign, [Y, Y, Y, Y, N]),
    ("commentOnTask", Comment, [Y, Y, Y, Y, N]),
    ("attachEvidence", Evidence, [Y, Y, Y, Y, N]),
    ("assignPartner", Assign, [Y, Y, N, N, N]),
    ("endAssignment", EndAssignment, [Y, Y, N, N, N]),
    ("recordWaterQualityTest", RecordTest, [Y, Y, Y, N, N]),
    ("updateVillageCoverage", Coverage, [Y, Y, N, N, N]),
    ("reportHarGharJal", Report, [Y, Y, N, N, N]),
    ("certifyHarGharJal", Certify, [Y, Y, N, N, N]),
    ("createWebhook", CreateWebhook, [Y, Y, Y, Y, Y]),
    ("updateWebhook", UpdateWebhook, [Y, Y, Y, Y, Y]),
    ("deleteWebhook", DeleteWebhook, [Y, Y, Y, Y, Y]),
    ("rotateWebhookSecret", RotateWebhook, [Y, Y, Y, Y, Y]),
    ("redeliverWebhookEvent", Redeliver, [Y, Y, Y, Y, Y]),
    ("createTasks", RaiseMany, [Y, Y, Y, Y, N]),
    ("transitionTasks", StartMany, [Y, Y, Y, Y, N]),
    // Scheme works: PHED (administrators, coordinators, PHED officers) moves schemes; the
    // department column is HEALTH, which does none of it.
    ("transitionScheme", SchemeMove, [Y, Y, N, N, N]),
    ("addSchemeComponent", SchemeComponent, [Y, Y, N, N, N]),
    ("recordSchemeProgress", SchemeProgress, [Y, Y, N, N, N]),
    ("assignSchemeInspector", SchemeInspector, [Y, Y, N, N, N]),
    ("recordInspection", SchemeInspection, [Y, Y, N, N, N]),
    ("handOverScheme", SchemeHandover, [Y, Y, N, N, N]),
    ("importFile", ImportLgd, [Y, N, N, N, N]),
    ("importFile", ImportCoverage, [Y, Y, N, N, N]),
    ("importFile", ImportWaterQuality, [Y, Y, Y, N, N]),
    // The department column is HEALTH: progress is PHED's.
    ("importFile", ImportSchemeProgress, [Y, Y, N, N, N]),
];

/// The `inspection_agency` role's column (ACCESS.md, "Scheme works"), for every row of the two
/// tables above: it reads the schemes it is assigned to inspect, their districts and states,
/// organisations and the tasks it raised, and records inspections; nothing about villages.
const AGENCY: &[(&str, Probe, Rule)] = &[
    ("node", Read, N),
    ("node", NodeTask, Y),
    ("node", NodeAssignment, N),
    ("nodes", Read, N),
    ("viewer", Read, Y),
    ("state", Read, Y),
    ("division", Read, Y),
    ("district", Read, Y),
    ("block", Read, N),
    ("gramPanchayat", Read, N),
    ("village", Read, N),
    ("scheme", Read, Y),
    ("organisation", Read, Y),
    ("states", Read, Y),
    ("divisions", Read, Y),
    ("districts", Read, Y),
    ("blocks", Read, N),
    ("gramPanchayats", Read, N),
    ("villages", Read, N),
    ("schemes", Read, Y),
    ("organisations", Read, Y),
    ("assignments", Read, N),
    ("tasks", Read, Y),
    ("waterQualityTests", Read, N),
    ("auditLog", Read, Y),
    ("progress", Read, N),
    ("webhooks", Read, N),
    ("webhookDeliveries", Deliveries, N),
    ("createTask", Raise, N),
    ("updateTask", Edit, N),
    ("transitionTask", Start, N),
    ("transitionTask", Cancel, N),
    ("transitionTask", Verify, N),
    ("reassignTask", Reassign, N),
    ("commentOnTask", Comment, N),
    ("attachEvidence", Evidence, N),
    ("assignPartner", Assign, N),
    ("endAssignment", EndAssignment, N),
    ("recordWaterQualityTest", RecordTest, N),
    ("updateVillageCoverage", Coverage, N),
    ("reportHarGharJal", Report, N),
    ("certifyHarGharJal", Certify, N),
    ("createWebhook", CreateWebhook, N),
    ("updateWebhook", UpdateWebhook, N),
    ("deleteWebhook", DeleteWebhook, N),
    ("rotateWebhookSecret", RotateWebhook, N),
    ("redeliverWebhookEvent", Redeliver, N),
    ("transitionScheme", SchemeMove, N),
    ("addSchemeComponent", SchemeComponent, N),
    ("recordSchemeProgress", SchemeProgress, N),
    ("assignSchemeInspector", SchemeInspector, N),
    ("recordInspection", SchemeInspection, Y),
    ("handOverScheme", SchemeHandover, N),
    ("createTasks", RaiseMany, N),
    ("transitionTasks", StartMany, N),
    ("importFile", ImportLgd, N),
    ("importFile", ImportCoverage, N),
    ("importFile", ImportWaterQuality, N),
    ("importFile", ImportSchemeProgress, N),
];

const IMPORT: &str = "mutation($kind: ImportKind!, $file: Upload!) { importFile(kind: $kind,
    file: $file, dryRun: true) { written files { rows rejected } } }";

/// The file an upload probe sends, if the probe is one.
fn upload(w: &World, role: Role, probe: Probe) -> Option<(&'static str, String)> {
    let v = w.village(role);
    let code = &v["lgdCode"];
    match probe {
        ImportLgd => Some((
            "states.csv",
            "State Code,State Name (In English),State Name\n22,CHHATTISGARH,छत्तीसगढ़\n".into(),
        )),
        ImportCoverage => Some((
            "coverage.csv",
            format!(
                "Village LGD Code,Total Households,Households with FHTC\n{code},{},{}\n",
                v["households"], v["tapConnections"]
            ),
        )),
        ImportWaterQuality => Some((
            "water-quality.csv",
            format!(
                "Sample ID,Village LGD Code,Sampled On,Test Type,Source Name,Source Type,pH,\
                 Nitrate\nPOLICY-{},{code},{},FTK,Handpump near the school,Handpump,7.2,12\n",
                role.as_str(),
                today()
            ),
        )),
        ImportSchemeProgress => Some((
            "progress.csv",
            format!(
                "Scheme ID,Component,Cumulative Quantity,As on Date
CG-RPWSS-000007,OHT,1,{}
",
                today()
            ),
        )),
        _ => None,
    }
}

fn names(fields: &Value) -> BTreeSet<String> {
    fields
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|f| f["name"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn rows(table: &[(&str, Probe, [Rule; 5])]) -> BTreeSet<String> {
    table
        .iter()
        .map(|(field, _, _)| (*field).to_owned())
        .collect()
}

#[tokio::test]
async fn the_policy_table_covers_every_root_field() {
    let app = TestApp::over(TestDb::new(Backend::Sqlite).await).await;
    let schema = app
        .data(
            "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    for (kind, table, fields) in [
        (
            "Query",
            rows(QUERY),
            names(&schema["__schema"]["queryType"]["fields"]),
        ),
        (
            "Mutation",
            rows(MUTATION),
            names(&schema["__schema"]["mutationType"]["fields"]),
        ),
    ] {
        let missing: Vec<_> = fields.difference(&table).collect();
        assert!(
            missing.is_empty(),
            "{kind} fields with no row in the policy table: {missing:?}"
        );
        let stale: Vec<_> = table.difference(&fields).collect();
        assert!(
            stale.is_empty(),
            "policy rows for {kind} fields the schema does not have: {stale:?}"
        );
    }
}

#[derive(Debug, Clone)]
struct Org {
    id: String,
    code: String,
}

/// What the administrator finds in the demo data for the probes.
struct World {
    cg: String,
    health: Org,
    phed: Org,
    partner: Org,
    /// A Raipur village no active assignment gives the partner (every other role reaches it).
    home: Value,
    /// A village of one of the partner's active assignments.
    assigned: Value,
    /// One of the partner's active assignments (on `assigned`).
    assignment: String,
    division: String,
    scheme: String,
    /// Raipur villages not yet saturated, for Har Ghar Jal reports and certifications.
    unsaturated: Mutex<Vec<Value>>,
    /// The Chhattisgarh inspection agency.
    agency: Org,
    /// Raipur schemes, taken in turn by the scheme-works probes.
    raipur_schemes: Mutex<std::collections::VecDeque<Value>>,
}

const VILLAGE_FIELDS: &str = "id lgdCode name version households tapConnections hgjStatus \
    block { lgdCode } gramPanchayat { lgdCode }";

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v:#}"))
        .to_owned()
}

async fn org(app: &TestApp, filter: Value, state: Option<i32>) -> Org {
    let data = app
        .data(
            "query($f: OrganisationFilter) { organisations(filter: $f, first: 100) { edges {
                node { id code state { lgdCode } } } } }",
            json!({ "f": filter }),
        )
        .await;
    let node = data["organisations"]["edges"]
        .as_array()
        .expect("organisations")
        .iter()
        .map(|e| &e["node"])
        .find(|o| state.is_none_or(|s| o["state"]["lgdCode"] == s))
        .unwrap_or_else(|| {
            panic!("no organisation matching {filter} in state {state:?}: {data:#}")
        });
    Org {
        id: id(node),
        code: node["code"].as_str().expect("code").to_owned(),
    }
}

impl World {
    async fn discover(app: &TestApp) -> Self {
        let cg = id(&app.data("{ state(lgdCode: 22) { id } }", json!({})).await["state"]);
        let raipur = id(&app
            .data("{ district(lgdCode: 387) { id } }", json!({}))
            .await["district"]);
        let health = org(
            app,
            json!({ "kind": "DEPARTMENT", "department": "HEALTH" }),
            Some(22),
        )
        .await;
        let phed = org(
            app,
            json!({ "kind": "DEPARTMENT", "department": "PHED" }),
            Some(22),
        )
        .await;

        // A sector partner with an active assignment, preferably in Raipur.
        let partners = app
            .data(
                "{ organisations(filter: { kind: SECTOR_PARTNER }, first: 100) { edges {
                    node { id code } } } }",
                json!({}),
            )
            .await;
        let assignments_of = format!(
            "query($o: ID!) {{ assignments(filter: {{ organisation: $o, active: true }},
                first: 100) {{ edges {{ node {{ id village {{ {VILLAGE_FIELDS} district {{
                lgdCode }} }} }} }} }} }}"
        );
        let mut found = None;
        for p in partners["organisations"]["edges"]
            .as_array()
            .expect("partners")
        {
            let p = &p["node"];
            let data = app.data(&assignments_of, json!({ "o": p["id"] })).await;
            let active = data["assignments"]["edges"]
                .as_array()
                .expect("assignments")
                .clone();
            let Some(pick) = active
                .iter()
                .find(|a| a["node"]["village"]["district"]["lgdCode"] == 387)
                .or_else(|| active.first())
            else {
                continue;
            };
            let partner = Org {
                id: id(p),
                code: p["code"].as_str().expect("code").to_owned(),
            };
            found = Some((partner, pick["node"].clone()));
            break;
        }
        let (partner, pick) =
            found.expect("the demo data has a sector partner with an active assignment");
        let assigned = pick["village"].clone();
        let assignment = id(&pick);
        let partner_token = app
            .token(ClientSpec::new(Role::Partner).org(&partner.code))
            .await;

        let raipur_villages = app
            .data(
                &format!(
                    "query($d: ID!) {{ villages(filter: {{ within: $d }}, first: 100) {{
                        edges {{ node {{ {VILLAGE_FIELDS} }} }} }} }}"
                ),
                json!({ "d": raipur }),
            )
            .await;
        let mut home = None;
        let mut unsaturated = Vec::new();
        for v in raipur_villages["villages"]["edges"]
            .as_array()
            .expect("villages")
        {
            let v = &v["node"];
            if v["id"] == assigned["id"] {
                continue;
            }
            let seen = app
                .post_as(
                    &partner_token,
                    "query($id: ID!) { node(id: $id) { id } }",
                    json!({ "id": v["id"] }),
                )
                .await;
            if !seen["data"]["node"].is_null() {
                continue;
            }
            if home.is_none() {
                home = Some(v.clone());
            } else if v["hgjStatus"] == "NOT_SATURATED"
                && v["households"].as_i64().is_some_and(|h| h > 0)
            {
                unsaturated.push(v.clone());
                if unsaturated.len() == 4 {
                    break;
                }
            }
        }
        let home = home.expect("a Raipur village outside the partner's assignments");
        assert!(
            unsaturated.len() >= 4,
            "four unsaturated Raipur villages for the Har Ghar Jal probes, found {}",
            unsaturated.len()
        );

        let division = app
            .data(
                "query($s: ID!) { divisions(filter: { within: $s }, first: 1) { edges { node
                    { code } } } }",
                json!({ "s": cg }),
            )
            .await["divisions"]["edges"][0]["node"]["code"]
            .as_str()
            .unwrap_or("NO-DIVISION")
            .to_owned();
        let schemes = app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Village { schemes { code } } }
                    schemes(first: 1) { edges { node { code } } } }",
                json!({ "id": assigned["id"] }),
            )
            .await;
        let scheme = schemes["node"]["schemes"][0]["code"]
            .as_str()
            .or_else(|| schemes["schemes"]["edges"][0]["node"]["code"].as_str())
            .expect("the demo data has schemes")
            .to_owned();

        let agency = org(app, json!({ "kind": "INSPECTION_AGENCY" }), Some(22)).await;
        let listed = app
            .data(
                "query($d: ID!) { schemes(filter: { within: $d }, first: 40) { edges { node { id } } } }",
                json!({ "d": raipur }),
            )
            .await;
        let raipur_schemes = listed["schemes"]["edges"]
            .as_array()
            .expect("schemes")
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();

        Self {
            cg,
            health,
            phed,
            partner,
            home,
            assigned,
            assignment,
            division,
            scheme,
            unsaturated: Mutex::new(unsaturated),
            agency,
            raipur_schemes: Mutex::new(raipur_schemes),
        }
    }

    /// The next Raipur scheme, put in `status` with no open finding (probe setup writes the
    /// row directly; the policy is what is probed, not the lifecycle); returns its id and
    /// version.
    async fn scheme_in(&self, app: &TestApp, status: &str) -> (Value, i64) {
        use sea_orm::ConnectionTrait;
        let id = {
            let mut pool = self.raipur_schemes.lock().expect("lock");
            let id = pool.pop_front().expect("Raipur schemes");
            pool.push_back(id.clone());
            id
        };
        let (_, n) = api::graphql::ids::decode("id", &id.as_str().expect("id").to_owned().into())
            .expect("scheme id");
        let db = &app.t.db;
        db.execute_unprepared(&format!(
            "UPDATE scheme SET status = '{status}', open_findings_minor = 0, \
             open_findings_major = 0, open_findings_critical = 0, commissioned_on = NULL, \
             target_completion_on = NULL, sanctioned_on = NULL WHERE id = {n}"
        ))
        .await
        .expect("put the scheme in place");
        db.execute_unprepared(&format!(
            "UPDATE inspection_finding SET open = FALSE WHERE scheme_id = {n}"
        ))
        .await
        .expect("close findings");
        let v = app
            .data(
                "query($id: ID!) { node(id: $id) { ... on Scheme { version } } }",
                json!({ "id": id }),
            )
            .await["node"]["version"]
            .as_i64()
            .expect("version");
        (id, v)
    }

    fn spec(&self, role: Role) -> ClientSpec {
        let spec = ClientSpec::new(role);
        match role {
            Role::StateAdmin => spec.states(&[22, 23]),
            Role::DistrictCoordinator => spec.districts(&[387]),
            Role::Department => spec.org(&self.health.code).states(&[22]),
            Role::Partner => spec.org(&self.partner.code),
            Role::InspectionAgency => spec.org(&self.agency.code),
            // The public reader holds no token (public_progress.rs probes it).
            Role::Dashboard | Role::Public => spec,
        }
    }

    /// The village a role's probes work on: one it reaches.
    fn village(&self, role: Role) -> &Value {
        if role == Role::Partner {
            &self.assigned
        } else {
            &self.home
        }
    }

    /// The organisation tasks "assigned to the caller" go to.
    fn own_org(&self, role: Role) -> &Org {
        match role {
            Role::Department => &self.health,
            Role::Partner => &self.partner,
            _ => &self.phed,
        }
    }

    fn next_unsaturated(&self) -> Value {
        self.unsaturated
            .lock()
            .expect("lock")
            .pop()
            .expect("an unsaturated village left for the probe")
    }
}

const CREATE: &str =
    "mutation($in: CreateTaskInput!) { createTask(input: $in) { task { id version } } }";
const MOVE: &str = "mutation($id: ID!, $v: Int!, $to: TaskStatus!, $note: String) {
    transitionTask(id: $id, expectedVersion: $v, to: $to, note: $note) { task { id status
    version } } }";
const ASSIGN: &str = "mutation($org: ID!, $v: ID!, $theme: Theme!) { assignPartner(input: {
    organisation: $org, villages: [$v], theme: $theme }) { assignments { id version } } }";
const COVERAGE: &str = "mutation($v: ID!, $ver: Int!, $hh: Int!, $taps: Int!) {
    updateVillageCoverage(input: { village: $v, expectedVersion: $ver, households: $hh,
    tapConnections: $taps }) { village { id version } } }";
const REPORT: &str = "mutation($v: ID!, $ver: Int!) { reportHarGharJal(input: { village: $v,
    expectedVersion: $ver }) { village { id version hgjStatus } } }";

/// Runs a write that must succeed and returns its `data`.
async fn write(app: &TestApp, token: &str, query: &str, vars: Value, what: &str) -> Value {
    let res = app.post_as(token, query, vars).await;
    assert!(
        res.get("errors").is_none(),
        "[{}] setting up ({what}) failed: {res:#}",
        app.t.backend.name()
    );
    res["data"].clone()
}

/// A task on `village` assigned to `assignee` (or PHED by default, for a partner), raised with
/// `token`; returns its id.
async fn task(app: &TestApp, token: &str, village: &Value, assignee: Option<&Org>) -> String {
    let input = json!({
        "kind": "OTHER",
        "title": "Policy probe",
        "village": village["id"],
        "assignee": assignee.map(|o| &o.id),
    });
    let data = write(app, token, CREATE, json!({ "in": input }), "raise a task").await;
    id(&data["createTask"]["task"])
}

/// A task `role` raised itself; coordinators (who may edit any task) get the administrator's.
async fn raised_by(app: &TestApp, w: &World, role: Role, token: &str) -> String {
    match role {
        Role::Department => task(app, token, &w.home, Some(&w.phed)).await,
        Role::Partner => task(app, token, &w.assigned, None).await,
        _ => task(app, &app.admin_token, &w.home, Some(&w.phed)).await,
    }
}

/// A task assigned to `role`'s organisation on a village it reaches.
async fn assigned_to(app: &TestApp, w: &World, role: Role) -> String {
    task(
        app,
        &app.admin_token,
        w.village(role),
        Some(w.own_org(role)),
    )
    .await
}

/// The village's current version, households and taps.
async fn village_now(app: &TestApp, village: &Value) -> Value {
    app.data(
        "query($id: ID!) { node(id: $id) { ... on Village { id version households
            tapConnections } } }",
        json!({ "id": village["id"] }),
    )
    .await["node"]
        .clone()
}

/// A village in the administrator's reach, saturated and then reported Har Ghar Jal.
async fn saturated(app: &TestApp, w: &World) -> Value {
    let v = w.next_unsaturated();
    let now = village_now(app, &v).await;
    let hh = now["households"].clone();
    let vars = json!({ "v": v["id"], "ver": now["version"], "hh": hh, "taps": hh });
    let done = write(app, &app.admin_token, COVERAGE, vars, "saturate a village").await;
    done["updateVillageCoverage"]["village"].clone()
}

fn today() -> String {
    api::service::today_ist().to_string()
}

const ADD_COMPONENT: &str = "mutation($in: AddSchemeComponentInput!) {
    addSchemeComponent(input: $in) { component { id } } }";
const ASSIGN_INSPECTOR: &str = "mutation($s: ID!, $o: ID!) { assignSchemeInspector(input: {
    scheme: $s, organisation: $o }) { assignment { isActive } } }";

const CREATE_WEBHOOK: &str = "mutation($url: String!) { createWebhook(input: { url: $url,
    eventKinds: [VILLAGE_COVERAGE_UPDATED] }) { webhook { id version } secret } }";

/// A webhook registered with `token`; returns its id.
async fn webhook(app: &TestApp, token: &str) -> String {
    let vars = json!({ "url": "https://hooks.example.org/sangam" });
    let data = write(app, token, CREATE_WEBHOOK, vars, "register a webhook").await;
    id(&data["createWebhook"]["webhook"])
}

/// A delivery of a webhook registered with `token` (as the dispatcher would queue it); returns
/// its id.
async fn delivery(app: &TestApp, token: &str) -> String {
    use entities::webhook_delivery::{ActiveModel, WebhookDeliveryStatus};
    use sea_orm::{ActiveModelTrait, Set};
    let hook = webhook(app, token).await;
    let (_, hook_id) = api::graphql::ids::decode("webhook", &hook.clone().into()).expect("id");
    let now = chrono::Utc::now();
    let row = ActiveModel {
        webhook_id: Set(hook_id),
        event_id: Set(1),
        event_kind: Set("village.coverage_updated".into()),
        message_id: Set(format!("msg_1_{hook_id}")),
        entity: Set("village".into()),
        entity_id: Set(1),
        payload: Set("{}".into()),
        status: Set(WebhookDeliveryStatus::Failed),
        attempts: Set(1),
        next_attempt_at: Set(now),
        retry_until: Set(now),
        created_at: Set(now),
        finished_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(&app.t.db)
    .await
    .expect("queue a delivery");
    api::graphql::ids::encode(api::graphql::ids::Kind::WebhookDelivery, row.id).0
}

/// The query and variables of one cell, after any setup it needs.
async fn probe(
    app: &TestApp,
    w: &World,
    field: &str,
    probe: Probe,
    role: Role,
    token: &str,
) -> (String, Value) {
    let v = w.village(role);
    let admin = app.admin_token.as_str();
    let (query, vars): (String, Value) = match probe {
        Read => return read(w, field, role),
        ImportLgd => (IMPORT.into(), json!({ "kind": "LGD", "file": null })),
        ImportCoverage => (IMPORT.into(), json!({ "kind": "COVERAGE", "file": null })),
        ImportWaterQuality => (
            IMPORT.into(),
            json!({ "kind": "WATER_QUALITY", "file": null }),
        ),
        ImportSchemeProgress => (
            IMPORT.into(),
            json!({ "kind": "SCHEME_PROGRESS", "file": null }),
        ),
        Deliveries => (
            "query($w: ID!) { webhookDeliveries(webhook: $w, first: 5) { totalCount edges {
                node { id status attempts { number } } } } }"
                .into(),
            json!({ "w": webhook(app, token).await }),
        ),
        CreateWebhook => (
            CREATE_WEBHOOK.into(),
            json!({ "url": "https://hooks.example.org/sangam" }),
        ),
        UpdateWebhook => (
            "mutation($id: ID!) { updateWebhook(input: { id: $id, expectedVersion: 1,
                enabled: false }) { webhook { id enabled } } }"
                .into(),
            json!({ "id": webhook(app, token).await }),
        ),
        DeleteWebhook => (
            "mutation($id: ID!) { deleteWebhook(id: $id) { deletedId } }".into(),
            json!({ "id": webhook(app, token).await }),
        ),
        RotateWebhook => (
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }".into(),
            json!({ "id": webhook(app, token).await }),
        ),
        Redeliver => (
            "mutation($d: ID!) { redeliverWebhookEvent(delivery: $d) { delivery { status } } }"
                .into(),
            json!({ "d": delivery(app, token).await }),
        ),
        NodeTask => (
            "query($id: ID!) { node(id: $id) { id ... on Task { title } } }".into(),
            json!({ "id": assigned_to(app, w, role).await }),
        ),
        NodeAssignment => (
            "query($id: ID!) { node(id: $id) { id ... on Assignment { theme } } }".into(),
            json!({ "id": w.assignment }),
        ),
        Raise => {
            let assignee = (role != Role::Partner).then_some(&w.phed.id);
            let input = json!({
                "kind": "IEC",
                "title": "Wall painting on water conservation",
                "village": v["id"],
                "assignee": assignee,
            });
            (CREATE.into(), json!({ "in": input }))
        }
        Edit => (
            "mutation($id: ID!) { updateTask(input: { id: $id, expectedVersion: 1, title:
                \"Policy probe, edited\" }) { task { id } } }"
                .into(),
            json!({ "id": raised_by(app, w, role, token).await }),
        ),
        RaiseMany => {
            let assignee = (role != Role::Partner).then_some(&w.phed.id);
            let input = json!({
                "kind": "IEC",
                "title": "Wall painting on water conservation",
                "village": v["id"],
                "assignee": assignee,
            });
            (
                "mutation($items: [CreateTaskInput!]!) { createTasks(items: $items) { results {
                    task { id } error { code message } } } }"
                    .into(),
                json!({ "items": [input] }),
            )
        }
        StartMany => (
            "mutation($id: ID!) { transitionTasks(items: [{ id: $id, expectedVersion: 1,
                to: IN_PROGRESS }]) { results { task { id status } error { code message } } } }"
                .into(),
            json!({ "id": assigned_to(app, w, role).await }),
        ),
        Start => (
            MOVE.into(),
            json!({ "id": assigned_to(app, w, role).await, "v": 1, "to": "IN_PROGRESS" }),
        ),
        Cancel => (
            MOVE.into(),
            json!({
                "id": raised_by(app, w, role, token).await,
                "v": 1,
                "to": "CANCELLED",
                "note": "raised twice",
            }),
        ),
        Verify => {
            let t = assigned_to(app, w, role).await;
            write(
                app,
                admin,
                MOVE,
                json!({ "id": t, "v": 1, "to": "IN_PROGRESS" }),
                "start the task",
            )
            .await;
            write(
                app,
                admin,
                MOVE,
                json!({ "id": t, "v": 2, "to": "DONE" }),
                "finish the task",
            )
            .await;
            (MOVE.into(), json!({ "id": t, "v": 3, "to": "VERIFIED" }))
        }
        Reassign => (
            "mutation($id: ID!, $to: ID!) { reassignTask(id: $id, expectedVersion: 1,
                assignee: $to) { task { id } } }"
                .into(),
            json!({ "id": raised_by(app, w, role, token).await, "to": w.health.id }),
        ),
        Comment => (
            "mutation($id: ID!) {
                commentOnTask(id: $id, text: \"Gram Sabha meets on Friday\") { task { id } } }"
                .into(),
            json!({ "id": assigned_to(app, w, role).await }),
        ),
        Evidence => (
            "mutation($id: ID!, $sha: String!) { attachEvidence(input: { task: $id, url:
                \"https://evidence.example/wall.jpg\", sha256: $sha }) { task { id } } }"
                .into(),
            json!({ "id": assigned_to(app, w, role).await, "sha": "ab".repeat(32) }),
        ),
        Assign => (
            ASSIGN.into(),
            json!({ "org": w.partner.id, "v": v["id"], "theme": "DOCUMENTATION" }),
        ),
        EndAssignment => {
            let vars = json!({ "org": w.partner.id, "v": w.home["id"], "theme": "SOCIAL_AUDIT" });
            let made = write(app, admin, ASSIGN, vars, "assign the partner").await;
            let a = made["assignPartner"]["assignments"][0].clone();
            (
                "mutation($id: ID!, $v: Int!) { endAssignment(id: $id, expectedVersion: $v)
                    { assignment { id isActive } } }"
                    .into(),
                json!({ "id": a["id"], "v": a["version"] }),
            )
        }
        RecordTest => (
            "mutation($v: ID!, $d: NaiveDate!) { recordWaterQualityTest(input: { village:
                $v, sourceName: \"Handpump near the school\", sourceType: HANDPUMP,
                sampledOn: $d, method: FTK, results: [{ parameter: NITRATE, value: 12.0 }]
                }) { test { id } } }"
                .into(),
            json!({ "v": v["id"], "d": today() }),
        ),
        Coverage => {
            let now = village_now(app, v).await;
            (
                COVERAGE.into(),
                json!({
                    "v": v["id"],
                    "ver": now["version"],
                    "hh": now["households"],
                    "taps": now["tapConnections"],
                }),
            )
        }
        Report => {
            let target = if matches!(role, Role::StateAdmin | Role::DistrictCoordinator) {
                saturated(app, w).await
            } else {
                village_now(app, v).await
            };
            (
                REPORT.into(),
                json!({ "v": target["id"], "ver": target["version"] }),
            )
        }
        SchemeMove => {
            let (s, v) = w.scheme_in(app, "IN_PROGRESS").await;
            (
                "mutation($id: ID!, $v: Int!) { transitionScheme(id: $id, expectedVersion: $v,
                    to: ON_HOLD, note: \"Monsoon\") { scheme { id status } } }"
                    .into(),
                json!({ "id": s, "v": v }),
            )
        }
        SchemeComponent => {
            let (s, v) = w.scheme_in(app, "IN_PROGRESS").await;
            (
                ADD_COMPONENT.into(),
                json!({ "in": { "scheme": s, "expectedVersion": v, "kind": "PUMP_HOUSE",
                    "plannedQuantity": 1.0, "estimatedCost": "300000.00" } }),
            )
        }
        SchemeProgress => {
            let (s, v) = w.scheme_in(app, "IN_PROGRESS").await;
            let vars = json!({ "in": { "scheme": s, "expectedVersion": v, "kind": "RISING_MAIN",
                "plannedQuantity": 3.0, "estimatedCost": "900000.00" } });
            let made = write(app, admin, ADD_COMPONENT, vars, "add a component").await;
            (
                "mutation($s: ID!, $c: ID!, $d: NaiveDate!) { recordSchemeProgress(input: {
                    scheme: $s, component: $c, quantityDone: 1.5, asOf: $d }) { scheme { id } } }"
                    .into(),
                json!({ "s": s, "c": made["addSchemeComponent"]["component"]["id"], "d": today() }),
            )
        }
        SchemeInspector => {
            let (s, _) = w.scheme_in(app, "IN_PROGRESS").await;
            (ASSIGN_INSPECTOR.into(), json!({ "s": s, "o": w.agency.id }))
        }
        SchemeInspection => {
            let (s, _) = w.scheme_in(app, "IN_PROGRESS").await;
            let vars = json!({ "s": s, "o": w.agency.id });
            write(app, admin, ASSIGN_INSPECTOR, vars, "assign the agency").await;
            (
                "mutation($s: ID!, $d: NaiveDate!) { recordInspection(input: { scheme: $s,
                    inspectedOn: $d, stage: CONSTRUCTION, verdict: PASS }) { inspection { id } } }"
                    .into(),
                json!({ "s": s, "d": today() }),
            )
        }
        SchemeHandover => {
            let (s, v) = w.scheme_in(app, "COMMISSIONED").await;
            (
                "mutation($s: ID!, $v: Int!, $d: NaiveDate!) { handOverScheme(input: { id: $s,
                    expectedVersion: $v, handedOverOn: $d, gramPanchayatResolution: { date: $d,
                    number: \"GP/14\" }, vwsc: { members: 12, womenMembers: 6 }, operator: {
                    trained: true, name: \"Dilip Kumar Sahu\" }, omArrangement: {
                    userChargePerHouseholdPerMonth: \"50.00\", fundsSource: USER_CHARGES } })
                    { scheme { id status } } }"
                    .into(),
                json!({ "s": s, "v": v, "d": today() }),
            )
        }
        Certify => {
            let target = if matches!(role, Role::StateAdmin | Role::DistrictCoordinator) {
                let s = saturated(app, w).await;
                let vars = json!({ "v": s["id"], "ver": s["version"] });
                let done = write(app, admin, REPORT, vars, "report the village").await;
                done["reportHarGharJal"]["village"].clone()
            } else {
                village_now(app, v).await
            };
            (
                "mutation($v: ID!, $ver: Int!, $d: NaiveDate!) { certifyHarGharJal(input: {
                    village: $v, expectedVersion: $ver, gramSabhaResolutionDate: $d,
                    videoUrl: \"https://video.example/gram-sabha.mp4\" }) { village { id
                    hgjStatus } } }"
                    .into(),
                json!({ "v": target["id"], "ver": target["version"], "d": today() }),
            )
        }
    };
    (query, vars)
}

/// The representative read of a root query field.
fn read(w: &World, field: &str, role: Role) -> (String, Value) {
    let v = w.village(role);
    let (query, vars) = match field {
        "node" => (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": v["id"] }),
        ),
        "nodes" => (
            "query($id: ID!) { nodes(ids: [$id]) { id } }",
            json!({ "id": v["id"] }),
        ),
        "viewer" => ("{ viewer { role scopes } }", json!({})),
        "state" => ("{ state(lgdCode: 22) { id name } }", json!({})),
        "division" => (
            "query($c: String!) { division(code: $c) { id name } }",
            json!({ "c": w.division }),
        ),
        "district" => ("{ district(lgdCode: 387) { id name } }", json!({})),
        "block" => (
            "query($c: Int!) { block(lgdCode: $c) { id name } }",
            json!({ "c": v["block"]["lgdCode"] }),
        ),
        "gramPanchayat" => (
            "query($c: Int!) { gramPanchayat(lgdCode: $c) { id name } }",
            json!({ "c": v["gramPanchayat"]["lgdCode"] }),
        ),
        "village" => (
            "query($c: Int!) { village(lgdCode: $c) { id name } }",
            json!({ "c": v["lgdCode"] }),
        ),
        "scheme" => (
            "query($c: String!) { scheme(code: $c) { id name } }",
            json!({ "c": w.scheme }),
        ),
        "organisation" => (
            "query($c: String!) { organisation(code: $c) { id name } }",
            json!({ "c": w.partner.code }),
        ),
        "states" | "divisions" | "districts" | "blocks" | "gramPanchayats" | "villages"
        | "schemes" | "organisations" => {
            return (
                format!("{{ {field}(first: 5) {{ totalCount edges {{ node {{ id }} }} }} }}"),
                json!({}),
            );
        }
        "assignments" => (
            "{ assignments(first: 5) { totalCount edges { node { id theme isActive } } } }",
            json!({}),
        ),
        "tasks" => (
            "{ tasks(first: 5) { totalCount edges { node { id title status } } } }",
            json!({}),
        ),
        "waterQualityTests" => (
            "query($s: ID!) { waterQualityTests(first: 5, filter: { within: $s }) {
                totalCount edges { node { id sourceName contaminated } } } }",
            json!({ "s": w.cg }),
        ),
        "auditLog" => (
            "{ auditLog(first: 5) { totalCount edges { node { operation entity } } } }",
            json!({}),
        ),
        "webhooks" => ("{ webhooks { id url eventKinds enabled } }", json!({})),
        "progress" => (
            "{ progress(level: DISTRICT) { parent { villages tasksOpen } rows { areaId
                villages } } }",
            json!({}),
        ),
        other => panic!("the policy table has no representative read for `{other}`"),
    };
    (query.to_owned(), vars)
}

fn codes(res: &Value) -> Vec<String> {
    res["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What is wrong with a cell's response, if anything. Deny: a FORBIDDEN error that names what
/// is needed, and no data. Allow: no error at all.
fn judge(rule: Rule, res: &Value, field: &str) -> Option<String> {
    let errors = res["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let forbidden = errors
        .iter()
        .find(|e| e["extensions"]["code"] == "FORBIDDEN");
    match (rule, forbidden) {
        (Rule::Deny, None) => Some(format!("must be FORBIDDEN, got {res}")),
        (Rule::Deny, Some(e)) if e["extensions"]["needs"].as_str().is_none_or(str::is_empty) => {
            Some(format!("a FORBIDDEN error must name what is needed: {e}"))
        }
        (Rule::Deny, Some(_)) if !res["data"][field].is_null() => {
            Some(format!("a refused call must return no data: {res}"))
        }
        (Rule::Allow, _) if !errors.is_empty() => Some(format!(
            "must be allowed and succeed, got {:?}: {res}",
            codes(res)
        )),
        // A batch reports each item's refusal in its result.
        (Rule::Allow, _)
            if res["data"][field]["results"]
                .as_array()
                .is_some_and(|items| items.iter().any(|i| !i["error"].is_null())) =>
        {
            Some(format!("every item must succeed: {res}"))
        }
        _ => None,
    }
}

#[tokio::test]
async fn every_role_may_do_exactly_what_the_policy_matrix_says() {
    each_backend(every_role_may_do_exactly_what_the_policy_matrix_says_on).await;
}

async fn every_role_may_do_exactly_what_the_policy_matrix_says_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let w = World::discover(&app).await;
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push(app.token(w.spec(role)).await);
    }
    let mut wrong = Vec::new();
    for (kind, table) in [("query", QUERY), ("mutation", MUTATION)] {
        for (field, which, rules) in table {
            for ((role, rule), token) in ROLES.iter().zip(rules).zip(&tokens) {
                let (query, vars) = probe(&app, &w, field, *which, *role, token).await;
                let res = match upload(&w, *role, *which) {
                    Some((name, file)) => {
                        let reply = app
                            .upload_as(token, &query, vars, name, file.as_bytes())
                            .await;
                        reply.json()
                    }
                    None => app.post_as(token, &query, vars).await,
                };
                let cell = format!("{kind} {field} ({which:?}) as {}", role.as_str());
                if let Some(problem) = judge(*rule, &res, field) {
                    wrong.push(format!("{cell}: {problem}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "[{db}] {} cells of the policy matrix are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_inspection_agency_column_covers_every_row() {
    let mut rows: Vec<(&str, Probe)> = QUERY
        .iter()
        .chain(MUTATION)
        .map(|(f, p, _)| (*f, *p))
        .collect();
    let mut column: Vec<(&str, Probe)> = AGENCY.iter().map(|(f, p, _)| (*f, *p)).collect();
    let key = |r: &(&str, Probe)| format!("{} {:?}", r.0, r.1);
    rows.sort_by_key(key);
    column.sort_by_key(key);
    assert_eq!(
        rows, column,
        "AGENCY needs one cell per row of QUERY and MUTATION"
    );
}

#[tokio::test]
async fn an_inspection_agency_may_do_exactly_what_its_column_says() {
    each_backend(an_inspection_agency_may_do_exactly_what_its_column_says_on).await;
}

async fn an_inspection_agency_may_do_exactly_what_its_column_says_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let w = World::discover(&app).await;
    let role = Role::InspectionAgency;
    let token = app.token(w.spec(role)).await;
    use api::graphql::ids::{Kind, encode};
    let bogus = encode(Kind::Webhook, 999_999).0;
    let bogus_delivery = encode(Kind::WebhookDelivery, 999_999).0;
    let mut wrong = Vec::new();
    for (field, which, rule) in AGENCY {
        // It holds no `webhooks:write`, so it has no webhook of its own to set up: the probe
        // names one that does not exist, and the scope is checked first.
        let (query, vars) = match which {
            Deliveries => (
                "query($w: ID!) { webhookDeliveries(webhook: $w, first: 5) { totalCount } }".into(),
                json!({ "w": bogus }),
            ),
            UpdateWebhook => (
                "mutation($id: ID!) { updateWebhook(input: { id: $id, expectedVersion: 1,
                    enabled: false }) { webhook { id } } }"
                    .into(),
                json!({ "id": bogus }),
            ),
            DeleteWebhook => (
                "mutation($id: ID!) { deleteWebhook(id: $id) { deletedId } }".into(),
                json!({ "id": bogus }),
            ),
            RotateWebhook => (
                "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }".into(),
                json!({ "id": bogus }),
            ),
            Redeliver => (
                "mutation($d: ID!) { redeliverWebhookEvent(delivery: $d) { delivery { status } } }"
                    .into(),
                json!({ "d": bogus_delivery }),
            ),
            _ => probe(&app, &w, field, *which, role, &token).await,
        };
        // Uploads go as multipart requests, like the other roles' (the file as the agency
        // would send it, naming a village of the state's).
        let res = match upload(&w, Role::StateAdmin, *which) {
            Some((name, file)) => app
                .upload_as(&token, &query, vars, name, file.as_bytes())
                .await
                .json(),
            None => app.post_as(&token, &query, vars).await,
        };
        if let Some(problem) = judge(*rule, &res, field) {
            wrong.push(format!(
                "{field} ({which:?}) as inspection_agency: {problem}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "[{db}] {} cells of the agency's column are wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn a_token_without_a_scope_is_forbidden_and_told_which_scope() {
    each_backend(a_token_without_a_scope_is_forbidden_and_told_which_scope_on).await;
}

async fn a_token_without_a_scope_is_forbidden_and_told_which_scope_on(backend: Backend) {
    let app = TestApp::over(TestDb::new(backend).await).await;
    let db = app.t.backend.name();
    let token = app
        .token(
            ClientSpec::new(Role::StateAdmin)
                .states(&[22, 23])
                .scopes(&[Scope::VillagesRead]),
        )
        .await;
    let ok = app
        .post_as(
            &token,
            "{ villages { totalCount } states { totalCount } }",
            json!({}),
        )
        .await;
    assert!(
        ok.get("errors").is_none(),
        "[{db}] villages:read reads geography: {ok:#}"
    );
    let cases = [
        ("tasks", "{ tasks { totalCount } }", "tasks:read"),
        (
            "assignments",
            "{ assignments { totalCount } }",
            "assignments:read",
        ),
        (
            "waterQualityTests",
            "{ waterQualityTests { totalCount } }",
            "quality:read",
        ),
        (
            "progress",
            "{ progress(level: STATE) { parent { villages } } }",
            "progress:read",
        ),
        ("auditLog", "{ auditLog { totalCount } }", "audit:read"),
    ];
    for (field, query, scope) in cases {
        let res = app.post_as(&token, query, json!({})).await;
        let err = &res["errors"][0];
        assert_eq!(
            err["extensions"]["code"], "FORBIDDEN",
            "[{db}] {field} without {scope}: {res:#}"
        );
        assert_eq!(
            err["extensions"]["needs"], scope,
            "[{db}] the error names the missing scope: {res:#}"
        );
        assert_eq!(err["path"], json!([field]), "[{db}] {res:#}");
    }
    let write = app
        .post_as(
            &token,
            "mutation($v: ID!) { createTask(input: { kind: IEC, title: \"x\", village: $v })
                { task { id } } }",
            json!({ "v": global_id("Village", 1) }),
        )
        .await;
    assert_eq!(
        write["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "[{db}] writing needs tasks:write: {write:#}"
    );
    assert_eq!(
        write["errors"][0]["extensions"]["needs"], "tasks:write",
        "[{db}] {write:#}"
    );
}

#[tokio::test]
async fn personal_data_is_hidden_from_dashboards() {
    each_backend(personal_data_is_hidden_from_dashboards_on).await;
}

async fn personal_data_is_hidden_from_dashboards_on(backend: Backend) {
    let app = TestApp::demo(backend).await;
    let db = app.t.backend.name();
    let query = "{ organisations(first: 100) { edges { node { code contactPhone } } } }";
    let admin = app.post(query, json!({})).await;
    assert!(
        admin.get("errors").is_none(),
        "[{db}] a state administrator reads contact phones: {admin:#}"
    );
    let edges = admin["data"]["organisations"]["edges"]
        .as_array()
        .expect("organisations")
        .clone();
    assert!(
        edges.iter().any(|e| e["node"]["contactPhone"].is_string()),
        "[{db}] the demo data has organisations with a contact phone: {admin:#}"
    );

    let dashboard = app.token(ClientSpec::new(Role::Dashboard)).await;
    let res = app.post_as(&dashboard, query, json!({})).await;
    let seen = res["data"]["organisations"]["edges"]
        .as_array()
        .expect("a dashboard lists organisations");
    assert_eq!(
        seen.len(),
        edges.len(),
        "[{db}] organisations are public facts"
    );
    for e in seen {
        assert!(e["node"]["code"].is_string(), "[{db}] {e}");
        assert!(
            e["node"]["contactPhone"].is_null(),
            "[{db}] a dashboard must not read a phone number: {e}"
        );
    }
    let errors = res["errors"]
        .as_array()
        .expect("hiding personal data is reported as errors");
    let phones = edges
        .iter()
        .filter(|e| e["node"]["contactPhone"].is_string())
        .count();
    assert!(
        errors.len() >= phones,
        "[{db}] one error per hidden phone at least: {res:#}"
    );
    for e in errors {
        assert_eq!(e["extensions"]["code"], "FORBIDDEN", "[{db}] {e}");
        assert_eq!(e["extensions"]["needs"], "personal data", "[{db}] {e}");
        assert_eq!(
            e["path"].as_array().and_then(|p| p.last()),
            Some(&json!("contactPhone")),
            "[{db}] {e}"
        );
    }
    let text = res.to_string();
    for e in &edges {
        if let Some(phone) = e["node"]["contactPhone"].as_str() {
            assert!(
                !text.contains(phone),
                "[{db}] the phone number {phone} leaked to a dashboard: {text}"
            );
        }
    }
}
