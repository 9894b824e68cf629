//! Scheme works: components and their progress, quality inspections and findings, inspection
//! agencies' assignments, the handover to the Gram Panchayat, and works in progress reports.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entities::{
    works::{
        ComponentKind, ComponentUnit, FindingSeverity, InspectionStage, InspectionVerdict,
        OmFundsSource,
    },
    *,
};

use super::{Organisation, Scheme, Task, personal};
use crate::{
    error::ApiResult,
    graphql::{
        ids::{Kind, encode},
        loaders,
        scalars::Money,
    },
    service::schemes::progress::WorksTotals,
};

/// A physical component of a scheme, planned in its unit, with the latest progress.
pub struct SchemeComponent(pub scheme_component::Model);

#[Object]
impl SchemeComponent {
    pub async fn id(&self) -> ID {
        encode(Kind::SchemeComponent, self.0.id)
    }
    async fn kind(&self) -> ComponentKind {
        self.0.kind
    }
    async fn unit(&self) -> ComponentUnit {
        self.0.unit
    }
    async fn planned_quantity(&self) -> f64 {
        self.0.planned_quantity
    }
    /// The latest recorded quantity done.
    async fn quantity_done(&self) -> f64 {
        self.0.quantity_done
    }
    /// Quantity done in percent of the plan (at most 100).
    async fn percent_done(&self) -> f64 {
        if self.0.planned_quantity > 0.0 {
            (self.0.quantity_done * 100.0 / self.0.planned_quantity).min(100.0)
        } else {
            100.0
        }
    }
    /// Estimated cost: the component's weight in the scheme's physical progress.
    async fn estimated_cost(&self) -> Money {
        Money(self.0.cost_paise)
    }
    /// Day of the latest progress record.
    async fn progress_as_of(&self) -> Option<NaiveDate> {
        self.0.progress_as_of
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// Every progress record, oldest first (append-only; the last is current).
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn history(&self, ctx: &Context<'_>) -> ApiResult<Vec<SchemeProgressRecord>> {
        let rows = loaders::children::<scheme_progress::Entity>(
            ctx,
            scheme_progress::Column::ComponentId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(SchemeProgressRecord).collect())
    }
}

/// One progress record of a component.
pub struct SchemeProgressRecord(pub scheme_progress::Model);

#[Object]
impl SchemeProgressRecord {
    async fn quantity_done(&self) -> f64 {
        self.0.quantity_done
    }
    /// The quantity done before this record.
    async fn previous_quantity(&self) -> f64 {
        self.0.previous_quantity
    }
    async fn as_of(&self) -> NaiveDate {
        self.0.as_of
    }
    async fn evidence_url(&self) -> Option<&str> {
        self.0.evidence_url.as_deref()
    }
    /// Why the quantity fell (required for a decrease; free text, personal data).
    async fn reason(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.reason.clone())
    }
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

/// A quality inspection of a scheme's works (or one component).
pub struct SchemeInspection(pub scheme_inspection::Model);

#[Object]
impl SchemeInspection {
    pub async fn id(&self) -> ID {
        encode(Kind::SchemeInspection, self.0.id)
    }
    async fn inspected_on(&self) -> NaiveDate {
        self.0.inspected_on
    }
    async fn stage(&self) -> InspectionStage {
        self.0.stage
    }
    async fn verdict(&self) -> InspectionVerdict {
        self.0.verdict
    }
    async fn evidence_url(&self) -> Option<&str> {
        self.0.evidence_url.as_deref()
    }
    /// The component inspected; null when the whole scheme was.
    async fn component(&self, ctx: &Context<'_>) -> ApiResult<Option<SchemeComponent>> {
        let Some(c) = self.0.component_id else {
            return Ok(None);
        };
        Ok(loaders::one::<scheme_component::Entity>(ctx, c)
            .await?
            .map(SchemeComponent))
    }
    /// The inspection agency (or PHED) that inspected.
    async fn inspector(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        Ok(
            loaders::one::<organisation::Entity>(ctx, self.0.organisation_id)
                .await?
                .map(Organisation),
        )
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn findings(&self, ctx: &Context<'_>) -> ApiResult<Vec<InspectionFinding>> {
        let rows = loaders::children::<inspection_finding::Entity>(
            ctx,
            inspection_finding::Column::InspectionId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(InspectionFinding).collect())
    }
    /// The rectification task a RECTIFY or FAIL verdict opened (null for those who may not
    /// read it).
    async fn rectification_task(&self, ctx: &Context<'_>) -> ApiResult<Option<Task>> {
        let Some(t) = self.0.rectification_task_id else {
            return Ok(None);
        };
        Ok(loaders::one::<task::Entity>(ctx, t).await?.map(Task))
    }
}

/// One finding of an inspection.
pub struct InspectionFinding(pub inspection_finding::Model);

#[Object]
impl InspectionFinding {
    /// What was checked, e.g. "concrete cube strength" or "pipe wall thickness".
    async fn parameter(&self) -> &str {
        &self.0.parameter
    }
    async fn observation(&self) -> &str {
        &self.0.observation
    }
    async fn severity(&self) -> FindingSeverity {
        self.0.severity
    }
    /// Open until a passing re-inspection of the same work closes it.
    async fn open(&self) -> bool {
        self.0.open
    }
}

/// An inspection agency's assignment to inspect a scheme.
pub struct SchemeInspectorAssignment(pub scheme_inspector::Model);

#[Object]
impl SchemeInspectorAssignment {
    async fn agency(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        Ok(
            loaders::one::<organisation::Entity>(ctx, self.0.organisation_id)
                .await?
                .map(Organisation),
        )
    }
    async fn starts_on(&self) -> NaiveDate {
        self.0.starts_on
    }
    async fn ends_on(&self) -> Option<NaiveDate> {
        self.0.ends_on
    }
    async fn is_active(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let today = crate::graphql::context::CtxExt::svc(ctx)?.today();
        Ok(self.0.starts_on <= today && self.0.ends_on.is_none_or(|e| e >= today))
    }
}

/// The Gram Panchayat's resolution to take a scheme over.
#[derive(SimpleObject)]
pub struct GramPanchayatResolution {
    pub date: NaiveDate,
    pub number: String,
    pub evidence_url: Option<String>,
}

/// The Village Water and Sanitation Committee that runs the scheme.
#[derive(SimpleObject)]
pub struct Vwsc {
    pub members: i32,
    pub women_members: i32,
}

/// How operation and maintenance is paid for.
#[derive(SimpleObject)]
pub struct OmArrangement {
    pub user_charge_per_household_per_month: Money,
    pub funds_source: OmFundsSource,
}

/// A scheme's handover to the Gram Panchayat for operation and maintenance.
pub struct SchemeHandover(pub scheme_handover::Model);

#[Object]
impl SchemeHandover {
    async fn handed_over_on(&self) -> NaiveDate {
        self.0.handed_over_on
    }
    async fn gram_panchayat_resolution(&self) -> GramPanchayatResolution {
        GramPanchayatResolution {
            date: self.0.resolution_date,
            number: self.0.resolution_number.clone(),
            evidence_url: self.0.resolution_evidence_url.clone(),
        }
    }
    async fn vwsc(&self) -> Vwsc {
        Vwsc {
            members: self.0.vwsc_members,
            women_members: self.0.vwsc_women_members,
        }
    }
    /// Whether a pump operator has been trained.
    async fn operator_trained(&self) -> bool {
        self.0.operator_trained
    }
    /// The trained operator's name (personal data).
    async fn operator_name(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.operator_name.clone())
    }
    async fn om_arrangement(&self) -> OmArrangement {
        OmArrangement {
            user_charge_per_household_per_month: Money(self.0.user_charge_paise),
            funds_source: self.0.om_funds_source,
        }
    }
}

/// Open inspection findings by severity.
#[derive(SimpleObject)]
pub struct FindingCounts {
    pub minor: i64,
    pub major: i64,
    pub critical: i64,
    pub total: i64,
}

/// Scheme works of an area in a progress report.
pub struct SchemeWorksProgress(pub WorksTotals);

#[Object]
impl SchemeWorksProgress {
    /// Schemes with components (whose physical progress is measured), cancelled ones left out.
    async fn schemes_measured(&self) -> i64 {
        self.0.measured
    }
    /// Average physical progress of those schemes, in percent (cost-weighted within each
    /// scheme); null when none is measured.
    async fn physical_progress_average(&self) -> Option<f64> {
        self.0.average_percent()
    }
    /// Measured schemes below 50 % physical progress.
    async fn schemes_below_half(&self) -> i64 {
        self.0.below_half
    }
    /// Measured schemes with every component done.
    async fn schemes_physically_complete(&self) -> i64 {
        self.0.complete
    }
    /// Schemes past their target completion date and not yet completed.
    async fn schemes_overdue(&self) -> i64 {
        self.0.overdue
    }
    async fn open_findings(&self) -> FindingCounts {
        FindingCounts {
            minor: self.0.findings_minor,
            major: self.0.findings_major,
            critical: self.0.findings_critical,
            total: self.0.findings_minor + self.0.findings_major + self.0.findings_critical,
        }
    }
    /// Schemes commissioned, including those since handed over.
    async fn schemes_commissioned(&self) -> i64 {
        self.0.commissioned
    }
    async fn schemes_handed_over(&self) -> i64 {
        self.0.handed_over
    }
    /// Schemes handed over, in percent of those commissioned.
    async fn handed_over_percent(&self) -> Option<f64> {
        (self.0.commissioned > 0)
            .then(|| self.0.handed_over as f64 * 100.0 / self.0.commissioned as f64)
    }
}

/// The works fields of a scheme.
impl Scheme {
    pub(crate) async fn works_components(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<SchemeComponent>> {
        let rows = loaders::children::<scheme_component::Entity>(
            ctx,
            scheme_component::Column::SchemeId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(SchemeComponent).collect())
    }

    pub(crate) async fn works_inspections(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<SchemeInspection>> {
        let rows = loaders::children::<scheme_inspection::Entity>(
            ctx,
            scheme_inspection::Column::SchemeId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(SchemeInspection).collect())
    }

    pub(crate) async fn works_inspectors(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<SchemeInspectorAssignment>> {
        let rows = loaders::children::<scheme_inspector::Entity>(
            ctx,
            scheme_inspector::Column::SchemeId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(SchemeInspectorAssignment).collect())
    }

    pub(crate) async fn works_handover(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<SchemeHandover>> {
        let rows = loaders::children::<scheme_handover::Entity>(
            ctx,
            scheme_handover::Column::SchemeId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().next().map(SchemeHandover))
    }

    pub(crate) fn open_findings_counts(&self) -> FindingCounts {
        let (a, b, c) = (
            i64::from(self.0.open_findings_minor),
            i64::from(self.0.open_findings_major),
            i64::from(self.0.open_findings_critical),
        );
        FindingCounts {
            minor: a,
            major: b,
            critical: c,
            total: a + b + c,
        }
    }
}
