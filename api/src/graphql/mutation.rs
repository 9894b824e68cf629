//! The root mutation. Every mutation runs in one transaction, accepts an idempotency key
//! (`clientMutationId`, or the `Idempotency-Key` header), and returns the changed object.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use entities::enums::*;

use super::{
    context::CtxExt,
    ids::{Kind, decode_one},
    types::{Assignment, Task, Village, WaterQualityTest},
};
use crate::{
    error::{ApiError, ApiResult},
    service::{
        assignments::{AssignmentTarget, NewAssignment},
        quality::{NewTest, Reading},
        tasks::{NewTask, TaskEdit},
        villages::{Certification, CoverageUpdate, Report},
    },
};

/// The `Idempotency-Key` header of the request, when it has one.
#[derive(Debug, Clone)]
pub struct IdempotencyHeader(pub String);

/// The key a mutation is deduplicated by: its `clientMutationId`, else the request header.
pub(super) fn key(ctx: &Context<'_>, client_mutation_id: &Option<String>) -> Option<String> {
    client_mutation_id
        .clone()
        .or_else(|| ctx.data_opt::<IdempotencyHeader>().map(|h| h.0.clone()))
}

pub(super) fn id_of(field: &str, id: &ID, kind: Kind) -> ApiResult<i64> {
    decode_one(field, id, kind)
}

fn opt_id(field: &str, id: &Option<ID>, kind: Kind) -> ApiResult<Option<i64>> {
    id.as_ref().map(|id| id_of(field, id, kind)).transpose()
}

#[derive(InputObject)]
pub struct CreateTaskInput {
    pub kind: TaskKind,
    pub title: String,
    #[graphql(default)]
    pub description: String,
    /// The village the work is in (or give `scheme`).
    pub village: Option<ID>,
    /// The scheme the work is on (or give `village`).
    pub scheme: Option<ID>,
    /// The organisation that will do the work; a partner's tasks go to the state's PHED by default.
    pub assignee: Option<ID>,
    #[graphql(default_with = "TaskPriority::Medium")]
    pub priority: TaskPriority,
    pub due_on: Option<NaiveDate>,
    /// Idempotency key: a retry with the same key returns the first result.
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateTaskInput {
    pub id: ID,
    pub expected_version: i32,
    pub title: Option<String>,
    pub description: Option<String>,
    pub priority: Option<TaskPriority>,
    pub due_on: Option<NaiveDate>,
    /// Remove the due date.
    #[graphql(default)]
    pub clear_due_on: bool,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct AttachEvidenceInput {
    pub task: ID,
    /// Where the file lives (the department's own storage).
    pub url: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    pub caption: Option<String>,
    pub client_mutation_id: Option<String>,
}

/// The task `input` asks for; ids that do not decode are BAD_USER_INPUT on `at.field`.
pub(super) fn new_task(input: CreateTaskInput, at: &str) -> ApiResult<NewTask> {
    Ok(NewTask {
        kind: input.kind,
        title: input.title,
        description: input.description,
        village: opt_id(&format!("{at}.village"), &input.village, Kind::Village)?,
        scheme: opt_id(&format!("{at}.scheme"), &input.scheme, Kind::Scheme)?,
        assignee: opt_id(
            &format!("{at}.assignee"),
            &input.assignee,
            Kind::Organisation,
        )?,
        priority: input.priority,
        due_on: input.due_on,
    })
}

/// A changed task.
#[derive(SimpleObject)]
pub struct TaskPayload {
    pub task: Task,
    pub client_mutation_id: Option<String>,
}

fn task_payload(t: entities::task::Model, client_mutation_id: Option<String>) -> TaskPayload {
    TaskPayload {
        task: Task(t),
        client_mutation_id,
    }
}

#[derive(InputObject)]
pub struct AssignPartnerInput {
    /// The sector partner.
    pub organisation: ID,
    /// Villages to assign (or give `gramPanchayat` or `block`).
    pub villages: Option<Vec<ID>>,
    /// Every village of this gram panchayat within the caller's reach.
    pub gram_panchayat: Option<ID>,
    /// Every village of this block within the caller's reach.
    pub block: Option<ID>,
    pub theme: Theme,
    /// First day (default today).
    pub starts_on: Option<NaiveDate>,
    /// Last day, inclusive (open-ended when omitted).
    pub ends_on: Option<NaiveDate>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AssignPartnerPayload {
    /// One assignment per village (existing ones for the same period are returned as they are).
    pub assignments: Vec<Assignment>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AssignmentPayload {
    pub assignment: Assignment,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct ResultInput {
    pub parameter: WqParameter,
    /// In the parameter's BIS unit (mg/L, NTU, pH, CFU/100mL).
    pub value: f64,
}

#[derive(InputObject)]
pub struct RecordWaterQualityTestInput {
    pub village: ID,
    pub source_name: String,
    pub source_type: WaterSourceType,
    pub sampled_on: NaiveDate,
    pub method: WqMethod,
    pub lab_name: Option<String>,
    /// Who tested (personal data).
    pub tested_by: Option<String>,
    pub results: Vec<ResultInput>,
    pub client_mutation_id: Option<String>,
}

/// What a test meant for the village's open retest tasks.
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum RetestOutcome {
    /// The village had no open retest task this sample answers.
    NotARetest,
    /// A clean retest: the open retest tasks are DONE (`tasksClosed`).
    Cleared,
    /// A contaminated retest: the remediation and retest tasks stay open (`tasksKeptOpen`).
    StillContaminated,
}

#[derive(SimpleObject)]
pub struct RecordWaterQualityTestPayload {
    pub test: WaterQualityTest,
    /// Remediation (PHED) and retest (Health) tasks opened because the sample was contaminated.
    pub tasks_opened: Vec<Task>,
    /// Retest tasks this clean sample moved to DONE (each linked to it by `closedByTest`).
    pub tasks_closed: Vec<Task>,
    /// Open remediation and retest tasks this contaminated retest left open (their history
    /// says so); no new tasks are opened beside them.
    pub tasks_kept_open: Vec<Task>,
    pub retest: RetestOutcome,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateVillageCoverageInput {
    pub village: ID,
    pub expected_version: i32,
    pub households: i32,
    pub tap_connections: i32,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct ReportHarGharJalInput {
    pub village: ID,
    pub expected_version: i32,
    /// Default today.
    pub reported_on: Option<NaiveDate>,
    pub completion_certificate_url: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct CertifyHarGharJalInput {
    pub village: ID,
    pub expected_version: i32,
    pub gram_sabha_resolution_date: NaiveDate,
    pub resolution_url: Option<String>,
    /// The video of the Gram Sabha.
    pub video_url: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct VillagePayload {
    pub village: Village,
    pub client_mutation_id: Option<String>,
}

pub struct Mutation;

#[Object(name = "DomainMutation")]
impl Mutation {
    /// Raise a convergence task on a village or a scheme.
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let client_mutation_id = input.client_mutation_id.clone();
        let new = new_task(input, "input")?;
        let t = ctx.svc()?.create_task(new, k.as_deref()).await?;
        Ok(task_payload(t, client_mutation_id))
    }

    /// Change a task's title, description, priority or due date.
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        input: UpdateTaskInput,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let id = id_of("input.id", &input.id, Kind::Task)?;
        if input.clear_due_on && input.due_on.is_some() {
            return Err(ApiError::bad_input(
                "input.clearDueOn",
                "give either `dueOn` or `clearDueOn`",
            ));
        }
        let edit = TaskEdit {
            title: input.title,
            description: input.description,
            priority: input.priority,
            due_on: if input.clear_due_on {
                Some(None)
            } else {
                input.due_on.map(Some)
            },
        };
        let t = ctx
            .svc()?
            .update_task(id, input.expected_version, edit, k.as_deref())
            .await?;
        Ok(task_payload(t, input.client_mutation_id))
    }

    /// Move a task through its workflow. A stale `expectedVersion` is a CONFLICT; an illegal
    /// move is BAD_USER_INPUT listing the legal ones.
    async fn transition_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        to: TaskStatus,
        note: Option<String>,
        client_mutation_id: Option<String>,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &client_mutation_id);
        let id = id_of("id", &id, Kind::Task)?;
        let t = ctx
            .svc()?
            .transition_task(id, expected_version, to, note, k.as_deref())
            .await?;
        Ok(task_payload(t, client_mutation_id))
    }

    /// Hand a task to another department or partner.
    async fn reassign_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        assignee: ID,
        note: Option<String>,
        client_mutation_id: Option<String>,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &client_mutation_id);
        let id = id_of("id", &id, Kind::Task)?;
        let assignee = id_of("assignee", &assignee, Kind::Organisation)?;
        let t = ctx
            .svc()?
            .reassign_task(id, expected_version, assignee, note, k.as_deref())
            .await?;
        Ok(task_payload(t, client_mutation_id))
    }

    /// Add a comment to a task's history.
    async fn comment_on_task(
        &self,
        ctx: &Context<'_>,
        id: ID,
        text: String,
        client_mutation_id: Option<String>,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &client_mutation_id);
        let id = id_of("id", &id, Kind::Task)?;
        let t = ctx.svc()?.comment_on_task(id, text, k.as_deref()).await?;
        Ok(task_payload(t, client_mutation_id))
    }

    /// Attach evidence (a link and its SHA-256; the file stays in the department's storage).
    async fn attach_evidence(
        &self,
        ctx: &Context<'_>,
        input: AttachEvidenceInput,
    ) -> ApiResult<TaskPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let id = id_of("input.task", &input.task, Kind::Task)?;
        let t = ctx
            .svc()?
            .attach_evidence(id, input.url, input.sha256, input.caption, k.as_deref())
            .await?;
        Ok(task_payload(t, input.client_mutation_id))
    }

    /// Assign a sector partner to villages for a theme.
    async fn assign_partner(
        &self,
        ctx: &Context<'_>,
        input: AssignPartnerInput,
    ) -> ApiResult<AssignPartnerPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let target = match (&input.villages, &input.gram_panchayat, &input.block) {
            (Some(v), None, None) => AssignmentTarget::Villages(
                v.iter()
                    .map(|id| id_of("input.villages", id, Kind::Village))
                    .collect::<ApiResult<_>>()?,
            ),
            (None, Some(gp), None) => AssignmentTarget::GramPanchayat(id_of(
                "input.gramPanchayat",
                gp,
                Kind::GramPanchayat,
            )?),
            (None, None, Some(b)) => AssignmentTarget::Block(id_of("input.block", b, Kind::Block)?),
            _ => {
                return Err(ApiError::bad_input(
                    "input.villages",
                    "give exactly one of `villages`, `gramPanchayat` and `block`",
                ));
            }
        };
        let svc = ctx.svc()?;
        let new = NewAssignment {
            organisation: id_of(
                "input.organisation",
                &input.organisation,
                Kind::Organisation,
            )?,
            target,
            theme: input.theme,
            starts_on: input.starts_on.unwrap_or_else(|| svc.today()),
            ends_on: input.ends_on,
        };
        let rows = svc.assign_partner(new, k.as_deref()).await?;
        Ok(AssignPartnerPayload {
            assignments: rows.into_iter().map(Assignment).collect(),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// End an assignment; by default the partner loses the village at once.
    async fn end_assignment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        #[graphql(desc = "Last day of the assignment (default yesterday).")] ends_on: Option<
            NaiveDate,
        >,
        client_mutation_id: Option<String>,
    ) -> ApiResult<AssignmentPayload> {
        let k = key(ctx, &client_mutation_id);
        let id = id_of("id", &id, Kind::Assignment)?;
        let a = ctx
            .svc()?
            .end_assignment(id, expected_version, ends_on, k.as_deref())
            .await?;
        Ok(AssignmentPayload {
            assignment: Assignment(a),
            client_mutation_id,
        })
    }

    /// Record a water-quality test; each result is judged against BIS 10500. A contaminated
    /// sample opens remediation and retest tasks; a clean retest closes the village's open
    /// retest tasks; a contaminated retest keeps them and the remediation open.
    async fn record_water_quality_test(
        &self,
        ctx: &Context<'_>,
        input: RecordWaterQualityTestInput,
    ) -> ApiResult<RecordWaterQualityTestPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let new = NewTest {
            village: id_of("input.village", &input.village, Kind::Village)?,
            source_name: input.source_name,
            source_type: input.source_type,
            sampled_on: input.sampled_on,
            method: input.method,
            lab_name: input.lab_name,
            tested_by: input.tested_by,
            sample_id: None,
            results: input
                .results
                .into_iter()
                .map(|r| Reading {
                    parameter: r.parameter,
                    value: r.value,
                })
                .collect(),
        };
        let done = ctx
            .svc()?
            .record_water_quality_test(new, k.as_deref())
            .await?;
        let retest = if !done.closed.is_empty() {
            RetestOutcome::Cleared
        } else if !done.kept_open.is_empty() {
            RetestOutcome::StillContaminated
        } else {
            RetestOutcome::NotARetest
        };
        Ok(RecordWaterQualityTestPayload {
            test: WaterQualityTest::from(done.test),
            tasks_opened: done.tasks.into_iter().map(Task).collect(),
            tasks_closed: done.closed.into_iter().map(Task).collect(),
            tasks_kept_open: done.kept_open.into_iter().map(Task).collect(),
            retest,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Update a village's households and tap connections (taps never exceed households).
    async fn update_village_coverage(
        &self,
        ctx: &Context<'_>,
        input: UpdateVillageCoverageInput,
    ) -> ApiResult<VillagePayload> {
        let k = key(ctx, &input.client_mutation_id);
        let id = id_of("input.village", &input.village, Kind::Village)?;
        let update = CoverageUpdate {
            households: input.households,
            tap_connections: input.tap_connections,
        };
        let v = ctx
            .svc()?
            .update_village_coverage(id, input.expected_version, update, k.as_deref())
            .await?;
        Ok(VillagePayload {
            village: Village::from(v),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Report a village Har Ghar Jal: only when every household has a tap and the latest
    /// water-quality test is not contaminated.
    async fn report_har_ghar_jal(
        &self,
        ctx: &Context<'_>,
        input: ReportHarGharJalInput,
    ) -> ApiResult<VillagePayload> {
        let k = key(ctx, &input.client_mutation_id);
        let id = id_of("input.village", &input.village, Kind::Village)?;
        let svc = ctx.svc()?;
        let report = Report {
            reported_on: input.reported_on.unwrap_or_else(|| svc.today()),
            completion_certificate_url: input.completion_certificate_url,
        };
        let v = svc
            .report_har_ghar_jal(id, input.expected_version, report, k.as_deref())
            .await?;
        Ok(VillagePayload {
            village: Village::from(v),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Record the Gram Sabha's certification of a reported village (refused while its latest
    /// water-quality test is contaminated).
    async fn certify_har_ghar_jal(
        &self,
        ctx: &Context<'_>,
        input: CertifyHarGharJalInput,
    ) -> ApiResult<VillagePayload> {
        let k = key(ctx, &input.client_mutation_id);
        let id = id_of("input.village", &input.village, Kind::Village)?;
        let cert = Certification {
            gram_sabha_resolution_date: input.gram_sabha_resolution_date,
            resolution_url: input.resolution_url,
            video_url: input.video_url,
        };
        let v = ctx
            .svc()?
            .certify_har_ghar_jal(id, input.expected_version, cert, k.as_deref())
            .await?;
        Ok(VillagePayload {
            village: Village::from(v),
            client_mutation_id: input.client_mutation_id,
        })
    }
}
