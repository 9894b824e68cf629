//! Mutations of scheme works: the lifecycle, components and progress, inspection agencies and
//! inspections, and the handover to the Gram Panchayat. Each runs through the one write path
//! (`service::schemes`), with an idempotency key (`clientMutationId` or the `Idempotency-Key`
//! header).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::NaiveDate;
use entities::{
    enums::SchemeStatus,
    task,
    works::{ComponentKind, FindingSeverity, InspectionStage, InspectionVerdict, OmFundsSource},
};

use super::{
    context::CtxExt,
    ids::{Kind, decode_one},
    loaders,
    mutation::IdempotencyHeader,
    scalars::Money,
    types::{
        Scheme, Task,
        works::{SchemeComponent, SchemeHandover, SchemeInspection, SchemeInspectorAssignment},
    },
};
use crate::{
    error::ApiResult,
    service::schemes::{
        StageDates,
        components::{NewComponent, NewProgress},
        handover::NewHandover,
        inspections::{Finding, NewInspection},
    },
};

fn key(ctx: &Context<'_>, client_mutation_id: &Option<String>) -> Option<String> {
    client_mutation_id
        .clone()
        .or_else(|| ctx.data_opt::<IdempotencyHeader>().map(|h| h.0.clone()))
}

/// Dates that go with a lifecycle move.
#[derive(InputObject, Default)]
pub struct SchemeStageDatesInput {
    /// The day the scheme reached the new stage (today when omitted): recorded as the sanction,
    /// work order, completion or commissioning date.
    pub on: Option<NaiveDate>,
    /// A new target completion date (required by the time the work order is issued).
    pub target_completion_on: Option<NaiveDate>,
}

#[derive(InputObject)]
pub struct AddSchemeComponentInput {
    pub scheme: ID,
    pub expected_version: i32,
    pub kind: ComponentKind,
    /// In the kind's unit (km of pipeline, kL of storage, connections…).
    pub planned_quantity: f64,
    /// The component's estimated cost: its weight in the scheme's physical progress.
    pub estimated_cost: Money,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct RecordSchemeProgressInput {
    pub scheme: ID,
    pub component: ID,
    /// The quantity done so far, in the component's unit.
    pub quantity_done: f64,
    /// The day measured.
    pub as_of: NaiveDate,
    /// A photograph or measurement book entry (http(s) URL).
    pub evidence_url: Option<String>,
    /// Required when the quantity falls (a corrected measurement, dismantled work).
    pub reason: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct AssignSchemeInspectorInput {
    pub scheme: ID,
    /// An organisation of kind INSPECTION_AGENCY.
    pub organisation: ID,
    /// First day (default today).
    pub starts_on: Option<NaiveDate>,
    /// Last day, inclusive (open-ended when omitted).
    pub ends_on: Option<NaiveDate>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct InspectionFindingInput {
    /// What was checked, e.g. "concrete cube strength".
    pub parameter: String,
    pub observation: String,
    pub severity: FindingSeverity,
}

#[derive(InputObject)]
pub struct RecordInspectionInput {
    pub scheme: ID,
    /// The component inspected (omit for the whole scheme).
    pub component: Option<ID>,
    pub inspected_on: NaiveDate,
    pub stage: InspectionStage,
    #[graphql(default)]
    pub findings: Vec<InspectionFindingInput>,
    /// RECTIFY and FAIL open a rectification task for PHED; PASS closes the open findings on
    /// the same work and verifies their tasks.
    pub verdict: InspectionVerdict,
    pub evidence_url: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct GramPanchayatResolutionInput {
    pub date: NaiveDate,
    pub number: String,
    pub evidence_url: Option<String>,
}

#[derive(InputObject)]
pub struct VwscInput {
    /// 10 to 15 members.
    pub members: i32,
    /// At least half of the members.
    pub women_members: i32,
}

#[derive(InputObject)]
pub struct OperatorInput {
    pub trained: bool,
    /// The operator's name (personal data).
    pub name: Option<String>,
}

#[derive(InputObject)]
pub struct OmArrangementInput {
    pub user_charge_per_household_per_month: Money,
    pub funds_source: OmFundsSource,
}

#[derive(InputObject)]
pub struct HandOverSchemeInput {
    pub id: ID,
    pub expected_version: i32,
    pub handed_over_on: NaiveDate,
    pub gram_panchayat_resolution: GramPanchayatResolutionInput,
    pub vwsc: VwscInput,
    pub operator: OperatorInput,
    pub om_arrangement: OmArrangementInput,
    pub client_mutation_id: Option<String>,
}

/// A changed scheme.
#[derive(SimpleObject)]
pub struct SchemePayload {
    pub scheme: Scheme,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct SchemeComponentPayload {
    pub scheme: Scheme,
    pub component: SchemeComponent,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AssignSchemeInspectorPayload {
    pub assignment: SchemeInspectorAssignment,
    pub scheme: Scheme,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct RecordInspectionPayload {
    pub inspection: SchemeInspection,
    pub scheme: Scheme,
    /// The rectification task a RECTIFY or FAIL verdict opened.
    pub rectification_task: Option<Task>,
    /// Rectification tasks a PASS verdict verified (those the caller may read).
    pub closed_tasks: Vec<Task>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct HandOverSchemePayload {
    pub scheme: Scheme,
    pub handover: SchemeHandover,
    pub client_mutation_id: Option<String>,
}

/// Tasks as the caller may read them (a task the write touched may be outside its reach).
async fn readable(ctx: &Context<'_>, tasks: &[task::Model]) -> ApiResult<Vec<Task>> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let svc = ctx.svc()?;
    if crate::service::scope::may_read::<task::Entity>(svc.principal()).is_err() {
        return Ok(Vec::new());
    }
    let rows = loaders::many::<task::Entity>(ctx, tasks.iter().map(|t| t.id)).await?;
    Ok(rows.into_iter().map(Task).collect())
}

#[derive(Default)]
pub struct WorksMutation;

#[Object]
impl WorksMutation {
    /// Move a scheme through its lifecycle (PROPOSED → … → IN_PROGRESS ⇄ ON_HOLD → COMPLETED →
    /// COMMISSIONED; CANCELLED from any open state). ON_HOLD and CANCELLED need a reason in
    /// `note`; an illegal move is BAD_USER_INPUT listing the legal ones; a stale
    /// `expectedVersion` is a CONFLICT.
    #[allow(clippy::too_many_arguments)]
    async fn transition_scheme(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expected_version: i32,
        to: SchemeStatus,
        note: Option<String>,
        dates: Option<SchemeStageDatesInput>,
        client_mutation_id: Option<String>,
    ) -> ApiResult<SchemePayload> {
        let k = key(ctx, &client_mutation_id);
        let id = decode_one("id", &id, Kind::Scheme)?;
        let dates = dates.unwrap_or_default();
        let s = ctx
            .svc()?
            .transition_scheme(
                id,
                expected_version,
                to,
                note,
                StageDates {
                    on: dates.on,
                    target_completion_on: dates.target_completion_on,
                },
                k.as_deref(),
            )
            .await?;
        Ok(SchemePayload {
            scheme: Scheme(s),
            client_mutation_id,
        })
    }

    /// Add a physical component to a scheme's plan.
    async fn add_scheme_component(
        &self,
        ctx: &Context<'_>,
        input: AddSchemeComponentInput,
    ) -> ApiResult<SchemeComponentPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let new = NewComponent {
            scheme: decode_one("input.scheme", &input.scheme, Kind::Scheme)?,
            kind: input.kind,
            planned_quantity: input.planned_quantity,
            cost_paise: input.estimated_cost.0,
        };
        let done = ctx
            .svc()?
            .add_scheme_component(new, input.expected_version, k.as_deref())
            .await?;
        Ok(SchemeComponentPayload {
            scheme: Scheme(done.scheme),
            component: SchemeComponent(done.component),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Record how much of a component is done (append-only; the latest is current; a
    /// decrease needs a reason).
    async fn record_scheme_progress(
        &self,
        ctx: &Context<'_>,
        input: RecordSchemeProgressInput,
    ) -> ApiResult<SchemeComponentPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let new = NewProgress {
            scheme: decode_one("input.scheme", &input.scheme, Kind::Scheme)?,
            component: decode_one("input.component", &input.component, Kind::SchemeComponent)?,
            quantity_done: input.quantity_done,
            as_of: input.as_of,
            evidence_url: input.evidence_url,
            reason: input.reason,
        };
        let done = ctx.svc()?.record_scheme_progress(new, k.as_deref()).await?;
        Ok(SchemeComponentPayload {
            scheme: Scheme(done.scheme),
            component: SchemeComponent(done.component),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Assign an inspection agency to inspect a scheme (it then reaches that scheme).
    async fn assign_scheme_inspector(
        &self,
        ctx: &Context<'_>,
        input: AssignSchemeInspectorInput,
    ) -> ApiResult<AssignSchemeInspectorPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let scheme = decode_one("input.scheme", &input.scheme, Kind::Scheme)?;
        let org = decode_one(
            "input.organisation",
            &input.organisation,
            Kind::Organisation,
        )?;
        let done = ctx
            .svc()?
            .assign_scheme_inspector(scheme, org, input.starts_on, input.ends_on, k.as_deref())
            .await?;
        Ok(AssignSchemeInspectorPayload {
            assignment: SchemeInspectorAssignment(done.assignment),
            scheme: Scheme(done.scheme),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Record a quality inspection. RECTIFY or FAIL opens a SCHEME_WORK rectification task for
    /// PHED; a PASS of the same work closes the open findings and verifies their tasks.
    async fn record_inspection(
        &self,
        ctx: &Context<'_>,
        input: RecordInspectionInput,
    ) -> ApiResult<RecordInspectionPayload> {
        let k = key(ctx, &input.client_mutation_id);
        let component = input
            .component
            .as_ref()
            .map(|c| decode_one("input.component", c, Kind::SchemeComponent))
            .transpose()?;
        let new = NewInspection {
            scheme: decode_one("input.scheme", &input.scheme, Kind::Scheme)?,
            component,
            inspected_on: input.inspected_on,
            stage: input.stage,
            verdict: input.verdict,
            findings: input
                .findings
                .into_iter()
                .map(|f| Finding {
                    parameter: f.parameter,
                    observation: f.observation,
                    severity: f.severity,
                })
                .collect(),
            evidence_url: input.evidence_url,
        };
        let done = ctx.svc()?.record_inspection(new, k.as_deref()).await?;
        let opened: Vec<task::Model> = done.opened.into_iter().collect();
        Ok(RecordInspectionPayload {
            inspection: SchemeInspection(done.inspection),
            scheme: Scheme(done.scheme),
            rectification_task: readable(ctx, &opened).await?.into_iter().next(),
            closed_tasks: readable(ctx, &done.closed).await?,
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Hand a COMMISSIONED scheme over to the Gram Panchayat. Refused while a CRITICAL
    /// inspection finding is open, and for a VWSC outside 10–15 members or with fewer than
    /// half women.
    async fn hand_over_scheme(
        &self,
        ctx: &Context<'_>,
        input: HandOverSchemeInput,
    ) -> ApiResult<HandOverSchemePayload> {
        let k = key(ctx, &input.client_mutation_id);
        let new = NewHandover {
            scheme: decode_one("input.id", &input.id, Kind::Scheme)?,
            handed_over_on: input.handed_over_on,
            resolution_date: input.gram_panchayat_resolution.date,
            resolution_number: input.gram_panchayat_resolution.number,
            resolution_evidence_url: input.gram_panchayat_resolution.evidence_url,
            vwsc_members: input.vwsc.members,
            vwsc_women_members: input.vwsc.women_members,
            operator_trained: input.operator.trained,
            operator_name: input.operator.name,
            user_charge_paise: input.om_arrangement.user_charge_per_household_per_month.0,
            om_funds_source: input.om_arrangement.funds_source,
        };
        let done = ctx
            .svc()?
            .hand_over_scheme(new, input.expected_version, k.as_deref())
            .await?;
        Ok(HandOverSchemePayload {
            scheme: Scheme(done.scheme),
            handover: SchemeHandover(done.handover),
            client_mutation_id: input.client_mutation_id,
        })
    }
}
