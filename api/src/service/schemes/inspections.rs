//! Quality inspections of scheme works, by third-party inspection agencies (on the schemes
//! they are assigned to inspect) and PHED quality officers. A RECTIFY or FAIL verdict opens a
//! SCHEME_WORK rectification task for the state's PHED in the same transaction; a passing
//! re-inspection of the same work closes the findings it answers and verifies their tasks.

use chrono::{Days, NaiveDate, Utc};
use entities::{
    enums::{
        Department, OrganisationKind, SchemeStatus, TaskEventKind, TaskKind, TaskPriority,
        TaskStatus,
    },
    inspection_finding, organisation, scheme, scheme_component, scheme_inspection,
    scheme_inspector, task, task_event,
    works::{FindingSeverity, InspectionStage, InspectionVerdict},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{components::check_url, components::lock, finish, scheme_event};
use crate::{
    error::{ApiError, ApiResult},
    events::{
        change::{all_fields, changed_fields},
        log::NewEvent,
    },
    principal::{Role, Scope},
    service::{
        Service,
        filters::OPEN_STATUSES,
        rollup,
        text::{self, at_most},
        write::Tx,
    },
};

pub struct Finding {
    pub parameter: String,
    pub observation: String,
    pub severity: FindingSeverity,
}

pub struct NewInspection {
    pub scheme: i64,
    pub component: Option<i64>,
    pub inspected_on: NaiveDate,
    pub stage: InspectionStage,
    pub verdict: InspectionVerdict,
    pub findings: Vec<Finding>,
    pub evidence_url: Option<String>,
}

/// An inspection, the scheme after it, the rectification task it opened and the tasks its
/// passing verdict closed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inspected {
    pub inspection: scheme_inspection::Model,
    pub scheme: scheme::Model,
    pub opened: Option<task::Model>,
    pub closed: Vec<task::Model>,
}

/// An inspection agency's assignment to a scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InspectorAssigned {
    pub assignment: scheme_inspector::Model,
    pub scheme: scheme::Model,
}

/// Most findings one inspection may list.
const MAX_FINDINGS: usize = 100;

/// Statuses in which there are works to inspect.
const INSPECTABLE: [SchemeStatus; 5] = [
    SchemeStatus::WorkOrderIssued,
    SchemeStatus::InProgress,
    SchemeStatus::OnHold,
    SchemeStatus::Completed,
    SchemeStatus::Commissioned,
];

/// Inspection agencies (on their assigned schemes), PHED officers, administrators and
/// district coordinators record inspections, with `inspections:write`.
fn inspector(svc: &Service) -> ApiResult<()> {
    svc.require(Scope::InspectionsWrite)?;
    let who = svc.principal();
    let ok = match who.role {
        Role::InspectionAgency | Role::StateAdmin | Role::DistrictCoordinator => true,
        Role::Department => who.department == Some(Department::Phed),
        _ => false,
    };
    if !ok {
        return Err(ApiError::Forbidden {
            needs: "an inspection agency or PHED to record inspections".into(),
        });
    }
    Ok(())
}

/// The state's PHED organisation.
async fn phed_of(tx: &Tx<'_>, state_id: i64) -> ApiResult<i64> {
    crate::service::quality::department_org(tx.conn(), Department::Phed, state_id)
        .await?
        .ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("state {state_id} has no PHED organisation"))
        })
}

fn severity_name(s: FindingSeverity) -> &'static str {
    match s {
        FindingSeverity::Minor => "MINOR",
        FindingSeverity::Major => "MAJOR",
        FindingSeverity::Critical => "CRITICAL",
    }
}

/// Recounts the scheme's open findings by severity onto the scheme row.
async fn store_open_findings(tx: &Tx<'_>, scheme_id: i64) -> ApiResult<scheme::Model> {
    let open = inspection_finding::Entity::find()
        .filter(inspection_finding::Column::SchemeId.eq(scheme_id))
        .filter(inspection_finding::Column::Open.eq(true))
        .all(tx.conn())
        .await?;
    let n = |s: FindingSeverity| open.iter().filter(|f| f.severity == s).count() as i32;
    scheme::Entity::update_many()
        .col_expr(
            scheme::Column::OpenFindingsMinor,
            Expr::value(n(FindingSeverity::Minor)),
        )
        .col_expr(
            scheme::Column::OpenFindingsMajor,
            Expr::value(n(FindingSeverity::Major)),
        )
        .col_expr(
            scheme::Column::OpenFindingsCritical,
            Expr::value(n(FindingSeverity::Critical)),
        )
        .filter(scheme::Column::Id.eq(scheme_id))
        .exec(tx.conn())
        .await?;
    scheme::Entity::find_by_id(scheme_id)
        .one(tx.conn())
        .await?
        .ok_or(ApiError::NotFound("scheme"))
}

/// A task's history entry, audit record, rollup and event, for a task this write opened or
/// moved on the inspection's behalf.
async fn task_written(
    tx: &mut Tx<'_>,
    before: Option<&task::Model>,
    after: &task::Model,
    note: String,
) -> ApiResult<()> {
    let who = tx.svc().principal().clone();
    task_event::ActiveModel {
        task_id: Set(after.id),
        kind: Set(if before.is_some() {
            TaskEventKind::StatusChanged
        } else {
            TaskEventKind::Created
        }),
        from_status: Set(before.map(|b| b.status)),
        to_status: Set(Some(after.status)),
        note: Set(Some(note.clone())),
        actor_sub: Set(who.sub.clone()),
        actor_organisation_id: Set(who.organisation_id),
        at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    tx.audit(
        "task",
        after.id,
        Some(after.district_id),
        before,
        Some(after),
    )
    .await?;
    rollup::task_changed(tx.conn(), before, after).await?;
    let event = match before {
        None => NewEvent::task("task.created", after, all_fields(after)),
        Some(b) => NewEvent::task(
            "task.transitioned",
            after,
            crate::events::change::with(changed_fields(b, after), json!({ "note": note })),
        ),
    };
    tx.emit(event);
    Ok(())
}

impl Service {
    /// Records an inspection; see the module documentation for what a verdict does.
    pub async fn record_inspection(
        &self,
        new: NewInspection,
        key: Option<&str>,
    ) -> ApiResult<Inspected> {
        self.write("recordInspection", key, move |tx| {
            Box::pin(async move {
                inspector(tx.svc())?;
                let today = tx.svc().today();
                let who = tx.svc().principal().clone();
                if new.inspected_on > today {
                    return Err(ApiError::bad_input(
                        "input.inspectedOn",
                        "an inspection cannot take place in the future",
                    ));
                }
                check_url("input.evidenceUrl", new.evidence_url.as_deref())?;
                if new.findings.len() > MAX_FINDINGS {
                    return Err(ApiError::bad_input(
                        "input.findings",
                        format!("at most {MAX_FINDINGS} findings"),
                    ));
                }
                for f in &new.findings {
                    if f.parameter.trim().is_empty() || f.observation.trim().is_empty() {
                        return Err(ApiError::bad_input(
                            "input.findings",
                            "each finding names its parameter and the observation",
                        ));
                    }
                    at_most("input.findings.parameter", &f.parameter, text::NAME)?;
                    at_most("input.findings.observation", &f.observation, text::NOTE)?;
                }
                let failing = new.verdict != InspectionVerdict::Pass;
                if failing && new.findings.is_empty() {
                    return Err(ApiError::bad_input(
                        "input.findings",
                        "a RECTIFY or FAIL verdict lists the findings to rectify",
                    ));
                }
                if !failing
                    && new
                        .findings
                        .iter()
                        .any(|f| f.severity == FindingSeverity::Critical)
                {
                    return Err(ApiError::bad_input(
                        "input.verdict",
                        "a PASS verdict cannot carry a CRITICAL finding",
                    ));
                }
                let seen = tx.visible::<scheme::Entity>(new.scheme, "scheme").await?;
                if !INSPECTABLE.contains(&seen.status) {
                    return Err(ApiError::bad_input(
                        "input.scheme",
                        format!(
                            "there are no works to inspect while a scheme is {}",
                            super::name(seen.status)
                        ),
                    ));
                }
                let before = lock(tx, &seen).await?;
                let component = match new.component {
                    Some(c) => Some(
                        scheme_component::Entity::find_by_id(c)
                            .filter(scheme_component::Column::SchemeId.eq(before.id))
                            .one(tx.conn())
                            .await?
                            .ok_or_else(|| {
                                ApiError::bad_input(
                                    "input.component",
                                    "the scheme has no such component",
                                )
                            })?,
                    ),
                    None => None,
                };
                let state_id = scheme_event(tx, "scheme.inspected", &before, json!({}))
                    .await?
                    .state_id;
                let phed = phed_of(tx, state_id).await?;
                // An agency inspects as itself; PHED officers and offices as the state's PHED.
                let inspector_org = match (who.role, who.organisation_id) {
                    (Role::InspectionAgency | Role::Department, Some(org)) => org,
                    _ => phed,
                };
                let now = Utc::now();
                let mut inspection = scheme_inspection::ActiveModel {
                    scheme_id: Set(before.id),
                    component_id: Set(component.as_ref().map(|c| c.id)),
                    organisation_id: Set(inspector_org),
                    inspected_on: Set(new.inspected_on),
                    stage: Set(new.stage),
                    verdict: Set(new.verdict),
                    evidence_url: Set(new.evidence_url.clone()),
                    rectification_task_id: Set(None),
                    recorded_by: Set(who.sub.clone()),
                    created_at: Set(now),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                for f in &new.findings {
                    inspection_finding::ActiveModel {
                        inspection_id: Set(inspection.id),
                        scheme_id: Set(before.id),
                        component_id: Set(inspection.component_id),
                        parameter: Set(f.parameter.trim().to_owned()),
                        observation: Set(f.observation.trim().to_owned()),
                        severity: Set(f.severity),
                        open: Set(failing),
                        closed_by_inspection_id: Set(None),
                        ..Default::default()
                    }
                    .insert(tx.conn())
                    .await?;
                }
                let what = component
                    .as_ref()
                    .map_or_else(|| "works".to_owned(), |c| format!("{:?}", c.kind));
                let mut opened = None;
                let mut closed = Vec::new();
                if failing {
                    let worst = new
                        .findings
                        .iter()
                        .map(|f| f.severity)
                        .max_by_key(|s| match s {
                            FindingSeverity::Minor => 0,
                            FindingSeverity::Major => 1,
                            FindingSeverity::Critical => 2,
                        });
                    let priority = match (new.verdict, worst) {
                        (InspectionVerdict::Fail, _) | (_, Some(FindingSeverity::Critical)) => {
                            TaskPriority::Critical
                        }
                        (_, Some(FindingSeverity::Major)) => TaskPriority::High,
                        _ => TaskPriority::Medium,
                    };
                    let list = new
                        .findings
                        .iter()
                        .map(|f| format!("{} ({})", f.parameter.trim(), severity_name(f.severity)))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let t = task::ActiveModel {
                        kind: Set(TaskKind::SchemeWork),
                        title: Set(format!(
                            "Rectify {what} of {} after inspection {} ({:?})",
                            before.code, inspection.id, new.verdict
                        )),
                        description: Set(format!(
                            "Opened automatically: inspection {} on {} found {list}. A passing \
                             re-inspection closes this task.",
                            inspection.id, new.inspected_on
                        )),
                        village_id: Set(None),
                        scheme_id: Set(Some(before.id)),
                        district_id: Set(before.district_id),
                        state_id: Set(state_id),
                        assignee_organisation_id: Set(phed),
                        raised_by_organisation_id: Set(Some(inspector_org)),
                        status: Set(TaskStatus::Open),
                        priority: Set(priority),
                        due_on: Set(today.checked_add_days(Days::new(30))),
                        created_at: Set(now),
                        updated_at: Set(now),
                        version: Set(1),
                        ..Default::default()
                    }
                    .insert(tx.conn())
                    .await?;
                    let note = format!("opened by inspection {}", inspection.id);
                    task_written(tx, None, &t, note).await?;
                    let mut linked: scheme_inspection::ActiveModel = inspection.clone().into();
                    linked.rectification_task_id = Set(Some(t.id));
                    inspection = linked.update(tx.conn()).await?;
                    opened = Some(t);
                } else {
                    // A pass answers the open findings on the same work: the component's, or
                    // every one of the scheme's when the whole scheme was inspected.
                    let mut answered = Condition::all()
                        .add(inspection_finding::Column::SchemeId.eq(before.id))
                        .add(inspection_finding::Column::Open.eq(true));
                    if let Some(c) = &component {
                        answered = answered.add(inspection_finding::Column::ComponentId.eq(c.id));
                    }
                    let findings = inspection_finding::Entity::find()
                        .filter(answered.clone())
                        .all(tx.conn())
                        .await?;
                    inspection_finding::Entity::update_many()
                        .col_expr(inspection_finding::Column::Open, Expr::value(false))
                        .col_expr(
                            inspection_finding::Column::ClosedByInspectionId,
                            Expr::value(inspection.id),
                        )
                        .filter(answered)
                        .exec(tx.conn())
                        .await?;
                    let mut earlier: Vec<i64> = findings.iter().map(|f| f.inspection_id).collect();
                    earlier.sort_unstable();
                    earlier.dedup();
                    let tasks: Vec<i64> = scheme_inspection::Entity::find()
                        .filter(scheme_inspection::Column::Id.is_in(earlier))
                        .all(tx.conn())
                        .await?
                        .into_iter()
                        .filter_map(|i| i.rectification_task_id)
                        .collect();
                    let mut closable = OPEN_STATUSES.to_vec();
                    closable.push(TaskStatus::Done);
                    for t in task::Entity::find()
                        .filter(task::Column::Id.is_in(tasks))
                        .filter(task::Column::Status.is_in(closable))
                        .all(tx.conn())
                        .await?
                    {
                        // Version-checked, so `t` is exactly the row replaced and the rollups
                        // move by its change; a task moved meanwhile is left to its people.
                        let done = task::Entity::update_many()
                            .col_expr(task::Column::Status, Expr::value(TaskStatus::Verified))
                            .col_expr(
                                task::Column::Version,
                                Expr::col(task::Column::Version).add(1),
                            )
                            .col_expr(task::Column::UpdatedAt, Expr::value(now))
                            .filter(task::Column::Id.eq(t.id))
                            .filter(task::Column::Version.eq(t.version))
                            .exec(tx.conn())
                            .await?;
                        if done.rows_affected == 0 {
                            continue;
                        }
                        let after = task::Entity::find_by_id(t.id)
                            .one(tx.conn())
                            .await?
                            .ok_or(ApiError::NotFound("task"))?;
                        let note = format!("verified by passing re-inspection {}", inspection.id);
                        task_written(tx, Some(&t), &after, note).await?;
                        closed.push(after);
                    }
                }
                let after = store_open_findings(tx, before.id).await?;
                tx.audit(
                    "scheme_inspection",
                    inspection.id,
                    Some(after.district_id),
                    None::<&scheme_inspection::Model>,
                    Some(&inspection),
                )
                .await?;
                finish(
                    tx,
                    &before,
                    &after,
                    "scheme.inspected",
                    json!({
                        "inspection_id": inspection.id,
                        "component_id": inspection.component_id,
                        "stage": inspection.stage,
                        "verdict": inspection.verdict,
                        "findings": new.findings.len(),
                        "rectification_task_id": inspection.rectification_task_id,
                        "closed_task_ids": closed.iter().map(|t| t.id).collect::<Vec<_>>(),
                    }),
                )
                .await?;
                Ok(Inspected {
                    inspection,
                    scheme: after,
                    opened,
                    closed,
                })
            })
        })
        .await
    }

    /// Assigns an inspection agency to inspect a scheme from `starts_on` (default today) to
    /// `ends_on` (open-ended when `None`).
    pub async fn assign_scheme_inspector(
        &self,
        scheme_id: i64,
        organisation_id: i64,
        starts_on: Option<NaiveDate>,
        ends_on: Option<NaiveDate>,
        key: Option<&str>,
    ) -> ApiResult<InspectorAssigned> {
        self.write("assignSchemeInspector", key, move |tx| {
            Box::pin(async move {
                let svc = tx.svc();
                svc.require(Scope::SchemesWrite)?;
                if !matches!(
                    svc.principal().role,
                    Role::StateAdmin | Role::DistrictCoordinator
                ) {
                    return Err(ApiError::Forbidden {
                        needs: "an administrator or a district coordinator to assign inspection \
                                agencies"
                            .into(),
                    });
                }
                let starts_on = starts_on.unwrap_or(svc.today());
                if ends_on.is_some_and(|e| e < starts_on) {
                    return Err(ApiError::bad_input(
                        "input.endsOn",
                        "an assignment cannot end before it starts",
                    ));
                }
                let org = organisation::Entity::find_by_id(organisation_id)
                    .one(tx.conn())
                    .await?
                    .ok_or_else(|| {
                        ApiError::bad_input("input.organisation", "no such organisation")
                    })?;
                if org.kind != OrganisationKind::InspectionAgency {
                    return Err(ApiError::bad_input(
                        "input.organisation",
                        format!("{} is not an inspection agency", org.code),
                    ));
                }
                let s = tx.visible::<scheme::Entity>(scheme_id, "scheme").await?;
                let row = scheme_inspector::ActiveModel {
                    scheme_id: Set(s.id),
                    organisation_id: Set(org.id),
                    starts_on: Set(starts_on),
                    ends_on: Set(ends_on),
                    created_at: Set(Utc::now()),
                    ..Default::default()
                }
                .insert(tx.conn())
                .await?;
                tx.audit(
                    "scheme_inspector",
                    row.id,
                    Some(s.district_id),
                    None::<&scheme_inspector::Model>,
                    Some(&row),
                )
                .await?;
                let event = scheme_event(
                    tx,
                    "scheme.inspector_assigned",
                    &s,
                    json!({
                        "organisation_id": org.id,
                        "starts_on": starts_on,
                        "ends_on": ends_on,
                    }),
                )
                .await?;
                tx.emit(event);
                Ok(InspectorAssigned {
                    assignment: row,
                    scheme: s,
                })
            })
        })
        .await
    }
}
