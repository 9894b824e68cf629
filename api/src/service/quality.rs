//! Recording water-quality tests. Each parameter is judged against BIS 10500 (`bis`); a
//! contaminated sample opens a remediation task for PHED and a retest task for Health in the
//! same transaction, so no contamination goes unanswered, and a clean retest closes the retest
//! task it answers ([`record_test`]).

use std::collections::{BTreeSet, HashMap};

use chrono::{Days, NaiveDate, Utc};
use entities::{
    enums::{
        Department, TaskEventKind, TaskKind, TaskPriority, TaskStatus, WaterSourceType, WqMethod,
        WqParameter,
    },
    organisation, task, task_event, task_test_link, village, water_quality_result,
    water_quality_test,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use super::{
    Service, bis, rollup,
    tasks::{moved_by_system, noted_by_system},
    text::{self, at_most, at_most_opt},
    write::Tx,
};
use crate::{
    error::{ApiError, ApiResult},
    events::{change::all_fields, log::NewEvent},
    principal::{Role, Scope},
};

pub struct Reading {
    pub parameter: WqParameter,
    pub value: f64,
}

pub struct NewTest {
    pub village: i64,
    pub source_name: String,
    pub source_type: WaterSourceType,
    pub sampled_on: NaiveDate,
    pub method: WqMethod,
    pub lab_name: Option<String>,
    pub tested_by: Option<String>,
    pub results: Vec<Reading>,
    /// The laboratory's or WQMIS's id of the sample (imports); none through the API.
    pub sample_id: Option<String>,
}

/// A test, its results, and what it did to the village's water-quality tasks.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    pub test: water_quality_test::Model,
    /// Remediation and retest tasks a contaminated sample opened.
    pub tasks: Vec<task::Model>,
    /// Retest tasks a clean sample closed (moved to DONE).
    #[serde(default)]
    pub closed: Vec<task::Model>,
    /// Open remediation and retest tasks a contaminated retest left open (with a note saying
    /// so in their history) instead of opening new ones.
    #[serde(default)]
    pub kept_open: Vec<task::Model>,
}

/// The state's organisation for a department.
/// A state's organisation of department `dept` (its PHED, its Health department), if it has one.
pub(super) async fn department_org<C: ConnectionTrait>(
    conn: &C,
    dept: Department,
    state_id: i64,
) -> ApiResult<Option<i64>> {
    Ok(organisation::Entity::find()
        .filter(organisation::Column::Department.eq(dept))
        .filter(organisation::Column::StateId.eq(state_id))
        .one(conn)
        .await?
        .map(|o| o.id))
}

impl Service {
    /// `recordWaterQualityTest`: [`record_test`] as one write.
    pub async fn record_water_quality_test(
        &self,
        new: NewTest,
        key: Option<&str>,
    ) -> ApiResult<Recorded> {
        self.write("recordWaterQualityTest", key, move |tx| {
            Box::pin(record_test(tx, new))
        })
        .await
    }
}

/// Records a water-quality test in `tx`, with everything that follows from it: the body of
/// `recordWaterQualityTest`, and what imports of test results call, so both apply the same
/// rules.
///
/// - A contaminated sample opens a PHED remediation task and a Health retest task, linked to
///   the test (`Task.openedByTest`).
/// - A clean sample moves the village's open retest tasks (those a contaminated sample sampled
///   on or before it opened) to DONE, linked to it (`Task.closedByTest`), with history, audit
///   and event like any transition.
/// - A contaminated sample while such a retest task is open is a failed retest: no new tasks;
///   the open remediation and retest tasks get a history entry saying the water is still
///   contaminated, and stay open. (With only a remediation open, its retest already passed:
///   a new contamination opens a new pair.)
pub async fn record_test(tx: &mut Tx<'_>, new: NewTest) -> ApiResult<Recorded> {
    let svc = tx.svc();
    svc.require(Scope::QualityWrite)?;
    let who = svc.principal().clone();
    let today = svc.today();
    let allowed = match who.role {
        Role::StateAdmin | Role::DistrictCoordinator => true,
        Role::Department => who.department == Some(Department::Health),
        _ => false,
    };
    if !allowed {
        return Err(ApiError::Forbidden {
            needs: "a coordinator, an administrator or Health to record tests".into(),
        });
    }
    if new.results.is_empty() {
        return Err(ApiError::bad_input(
            "input.results",
            "give at least one result",
        ));
    }
    let mut seen = BTreeSet::new();
    for r in &new.results {
        if !seen.insert(r.parameter as u8) {
            return Err(ApiError::bad_input(
                "input.results",
                format!("{:?} is given twice", r.parameter),
            ));
        }
        if !r.value.is_finite()
            || r.value < 0.0
            || (r.parameter == WqParameter::Ph && r.value > 14.0)
        {
            return Err(ApiError::bad_input(
                "input.results",
                format!("{:?} has an impossible value", r.parameter),
            ));
        }
    }
    if new.sampled_on > today {
        return Err(ApiError::bad_input(
            "input.sampledOn",
            "a sample cannot be taken in the future",
        ));
    }
    if new.source_name.trim().is_empty() {
        return Err(ApiError::bad_input(
            "input.sourceName",
            "name the source sampled",
        ));
    }
    at_most("input.sourceName", &new.source_name, text::NAME)?;
    at_most_opt("input.labName", new.lab_name.as_deref(), text::NAME)?;
    at_most_opt("input.testedBy", new.tested_by.as_deref(), text::NAME)?;
    let v = tx
        .visible::<village::Entity>(new.village, "village")
        .await?;
    let judged: Vec<(WqParameter, f64, bis::Limit, bool)> = new
        .results
        .iter()
        .map(|r| {
            let limit = bis::limit(r.parameter);
            (r.parameter, r.value, limit, limit.exceeded_by(r.value))
        })
        .collect();
    let failing: Vec<WqParameter> = judged.iter().filter(|j| j.3).map(|j| j.0).collect();
    let now = Utc::now();
    let test = water_quality_test::ActiveModel {
        village_id: Set(v.id),
        source_name: Set(new.source_name.trim().to_owned()),
        source_type: Set(new.source_type),
        sampled_on: Set(new.sampled_on),
        method: Set(new.method),
        lab_name: Set(new.lab_name),
        tested_by: Set(new.tested_by),
        contaminated: Set(!failing.is_empty()),
        created_at: Set(now),
        sample_id: Set(new.sample_id),
        ..Default::default()
    }
    .insert(tx.conn())
    .await?;
    for (parameter, value, limit, exceeds) in &judged {
        water_quality_result::ActiveModel {
            test_id: Set(test.id),
            parameter: Set(*parameter),
            value: Set(*value),
            unit: Set(limit.unit.to_owned()),
            exceeds: Set(*exceeds),
            ..Default::default()
        }
        .insert(tx.conn())
        .await?;
    }
    tx.audit(
        "water_quality_test",
        test.id,
        Some(v.district_id),
        None::<&water_quality_test::Model>,
        Some(&test),
    )
    .await?;
    // Who tested is personal data: it stays out of the event.
    tx.emit(NewEvent::water_quality(
        "water_quality.recorded",
        &test,
        &v,
        serde_json::json!({
            "village_id": v.id,
            "source_name": test.source_name,
            "source_type": test.source_type,
            "sampled_on": test.sampled_on,
            "method": test.method,
            "contaminated": test.contaminated,
            "exceeded": failing.iter().map(|p| format!("{p:?}")).collect::<Vec<_>>(),
        }),
    ));
    let names = failing
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut tasks = Vec::new();
    let mut closed = Vec::new();
    let mut kept_open = Vec::new();
    let pending = pending_retests(tx, v.id, &test).await?;
    if failing.is_empty() {
        // A clean sample is the retest the open retest tasks asked for: they are done.
        for (t, link) in pending
            .into_iter()
            .filter(|(t, _)| t.kind == TaskKind::WaterQualityTest)
        {
            let note = format!(
                "Done by the clean retest: water-quality test {} of {} sampled on {} is within BIS 10500",
                test.id, test.source_name, test.sampled_on
            );
            let after = moved_by_system(tx, &t, TaskStatus::Done, note).await?;
            let mut link = link.into_active_model();
            link.closed_by_test_id = Set(Some(test.id));
            link.update(tx.conn()).await?;
            closed.push(after);
        }
    } else if pending
        .iter()
        .any(|(t, _)| t.kind == TaskKind::WaterQualityTest)
    {
        // A contaminated retest: the remediation is not done. Its tasks stay open and say so,
        // rather than a second pair being opened beside them.
        for (t, _) in pending {
            let note = format!(
                "Still contaminated: retest {} of {} sampled on {} exceeds BIS 10500 for {names}; the remediation stays open",
                test.id, test.source_name, test.sampled_on
            );
            kept_open.push(noted_by_system(tx, &t, note).await?);
        }
    } else {
        // Bacteria and arsenic make water unsafe at once; other excesses are serious.
        let critical = failing.iter().any(|p| {
            matches!(
                p,
                WqParameter::EColi
                    | WqParameter::TotalColiform
                    | WqParameter::Arsenic
                    | WqParameter::Lead
            )
        });
        let priority = if critical {
            TaskPriority::Critical
        } else {
            TaskPriority::High
        };
        let plan = [
            (
                Department::Phed,
                TaskKind::WaterQualityRemediation,
                format!("Remediate {} at {} ({names})", test.source_name, v.name),
                14,
            ),
            (
                Department::Health,
                TaskKind::WaterQualityTest,
                format!(
                    "Retest {} at {} after remediation ({names})",
                    test.source_name, v.name
                ),
                30,
            ),
        ];
        for (dept, kind, title, days) in plan {
            let Some(assignee) = department_org(tx.conn(), dept, v.state_id).await? else {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "state {} has no {dept:?} organisation",
                    v.state_id
                )));
            };
            let t = task::ActiveModel {
                kind: Set(kind),
                title: Set(title),
                description: Set(format!(
                    "Opened automatically: water-quality test {} exceeded BIS 10500 for {names}.",
                    test.id
                )),
                village_id: Set(Some(v.id)),
                scheme_id: Set(None),
                district_id: Set(v.district_id),
                state_id: Set(v.state_id),
                assignee_organisation_id: Set(assignee),
                raised_by_organisation_id: Set(who.organisation_id),
                status: Set(TaskStatus::Open),
                priority: Set(priority),
                due_on: Set(today.checked_add_days(Days::new(days))),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
                ..Default::default()
            }
            .insert(tx.conn())
            .await?;
            task_event::ActiveModel {
                task_id: Set(t.id),
                kind: Set(TaskEventKind::Created),
                from_status: Set(None),
                to_status: Set(Some(TaskStatus::Open)),
                note: Set(Some(format!("opened by water-quality test {}", test.id))),
                actor_sub: Set(who.sub.clone()),
                actor_organisation_id: Set(who.organisation_id),
                at: Set(now),
                ..Default::default()
            }
            .insert(tx.conn())
            .await?;
            tx.audit(
                "task",
                t.id,
                Some(v.district_id),
                None::<&task::Model>,
                Some(&t),
            )
            .await?;
            rollup::task_changed(tx.conn(), None, &t).await?;
            tx.emit(NewEvent::task("task.created", &t, all_fields(&t)));
            task_test_link::ActiveModel {
                task_id: Set(t.id),
                opened_by_test_id: Set(test.id),
                closed_by_test_id: Set(None),
            }
            .insert(tx.conn())
            .await?;
            tasks.push(t);
        }
    }
    Ok(Recorded {
        test,
        tasks,
        closed,
        kept_open,
    })
}

/// The village's open remediation and retest tasks that a contaminated sample taken on or
/// before `test`'s opened, with their links, oldest first.
async fn pending_retests(
    tx: &Tx<'_>,
    village: i64,
    test: &water_quality_test::Model,
) -> ApiResult<Vec<(task::Model, task_test_link::Model)>> {
    let open = task::Entity::find()
        .filter(task::Column::VillageId.eq(village))
        .filter(task::Column::Status.is_in([
            TaskStatus::Open,
            TaskStatus::InProgress,
            TaskStatus::Blocked,
        ]))
        .filter(task::Column::Kind.is_in([
            TaskKind::WaterQualityTest,
            TaskKind::WaterQualityRemediation,
        ]))
        .order_by_asc(task::Column::Id)
        .all(tx.conn())
        .await?;
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let links: HashMap<i64, task_test_link::Model> = task_test_link::Entity::find()
        .filter(task_test_link::Column::TaskId.is_in(open.iter().map(|t| t.id)))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|l| (l.task_id, l))
        .collect();
    let openers: HashMap<i64, NaiveDate> = water_quality_test::Entity::find()
        .filter(water_quality_test::Column::Id.is_in(links.values().map(|l| l.opened_by_test_id)))
        .all(tx.conn())
        .await?
        .into_iter()
        .map(|t| (t.id, t.sampled_on))
        .collect();
    let mut out = Vec::new();
    for t in open {
        let Some(link) = links.get(&t.id) else {
            continue;
        };
        let answers = link.opened_by_test_id != test.id
            && openers
                .get(&link.opened_by_test_id)
                .is_some_and(|d| *d <= test.sampled_on);
        if answers {
            out.push((t, link.clone()));
        }
    }
    Ok(out)
}
