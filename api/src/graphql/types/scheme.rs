//! Rural piped water supply schemes.

use async_graphql::{Context, ID, InputType, Object, Value};
use chrono::NaiveDate;
use entities::{enums::*, *};

use super::{District, Task, Village, plain::Plain};
use crate::{
    error::ApiResult,
    graphql::{
        ids::{Kind, encode},
        loaders,
        scalars::Money,
    },
};

/// A rural piped water supply scheme: single-village (SVS), multi-village (MVS) and others.
pub struct Scheme(pub scheme::Model);

/// The fields that read the row alone, for a page's schemes answered in one pass
/// (`plain.rs`): each made as its resolver below makes it.
impl Plain for Scheme {
    fn plain(&self, name: &str) -> Option<Value> {
        let s = &self.0;
        Some(match name {
            "id" => encode(Kind::Scheme, s.id).to_value(),
            "code" => Value::String(s.code.clone()),
            "name" => Value::String(s.name.clone()),
            "nameHi" => Value::String(s.name_hi.clone()),
            "type" => s.scheme_type.to_value(),
            "status" => s.status.to_value(),
            "implementingAgency" => s.implementing_agency.to_value(),
            "sanctionedOn" => s.sanctioned_on.to_value(),
            "targetCompletionOn" => s.target_completion_on.to_value(),
            "completedOn" => s.completed_on.to_value(),
            "fhtcTarget" => s.fhtc_target.to_value(),
            "version" => s.version.to_value(),
            "workOrderOn" => s.work_order_on.to_value(),
            "commissionedOn" => s.commissioned_on.to_value(),
            "handedOverOn" => s.handed_over_on.to_value(),
            _ => return None,
        })
    }
}

#[Object]
impl Scheme {
    pub async fn id(&self) -> ID {
        encode(Kind::Scheme, self.0.id)
    }
    /// Scheme code (the state's RPWSS id).
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    #[graphql(name = "type")]
    async fn scheme_type(&self) -> SchemeType {
        self.0.scheme_type
    }
    async fn status(&self) -> SchemeStatus {
        self.0.status
    }
    async fn implementing_agency(&self) -> ImplementingAgency {
        self.0.implementing_agency
    }
    /// Sanctioned estimate.
    async fn estimated_cost(&self) -> Money {
        Money(self.0.estimated_cost_paise)
    }
    /// Spent so far.
    async fn expenditure(&self) -> Money {
        Money(self.0.expenditure_paise)
    }
    /// Share of the estimate spent, in percent.
    async fn expenditure_percent(&self) -> Option<f64> {
        (self.0.estimated_cost_paise > 0)
            .then(|| self.0.expenditure_paise as f64 * 100.0 / self.0.estimated_cost_paise as f64)
    }
    async fn sanctioned_on(&self) -> Option<NaiveDate> {
        self.0.sanctioned_on
    }
    async fn target_completion_on(&self) -> Option<NaiveDate> {
        self.0.target_completion_on
    }
    async fn completed_on(&self) -> Option<NaiveDate> {
        self.0.completed_on
    }
    /// Household tap connections the scheme is to provide.
    async fn fhtc_target(&self) -> i32 {
        self.0.fhtc_target
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// District whose PHED division implements the scheme.
    async fn district(&self, ctx: &Context<'_>) -> ApiResult<Option<District>> {
        Ok(loaders::one::<district::Entity>(ctx, self.0.district_id)
            .await?
            .map(District))
    }
    /// Villages the scheme serves (those the caller may see).
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn villages(&self, ctx: &Context<'_>) -> ApiResult<Vec<Village>> {
        let links = loaders::children::<scheme_village::Entity>(
            ctx,
            scheme_village::Column::SchemeId,
            self.0.id,
        )
        .await?;
        let rows =
            loaders::many::<village::Entity>(ctx, links.iter().map(|l| l.village_id)).await?;
        Ok(rows.into_iter().map(Village::from).collect())
    }
    /// Tasks raised on the scheme itself.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn tasks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Task>> {
        let rows =
            loaders::children::<task::Entity>(ctx, task::Column::SchemeId, self.0.id).await?;
        Ok(rows.into_iter().map(Task).collect())
    }
    /// Day the work order was issued.
    async fn work_order_on(&self) -> Option<NaiveDate> {
        self.0.work_order_on
    }
    async fn commissioned_on(&self) -> Option<NaiveDate> {
        self.0.commissioned_on
    }
    async fn handed_over_on(&self) -> Option<NaiveDate> {
        self.0.handed_over_on
    }
    /// Why the scheme is on hold or cancelled (free text, personal data).
    async fn status_reason(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        super::personal(ctx, self.0.status_reason.clone())
    }
    /// Physical progress in percent: the cost-weighted share of the components done; null
    /// for a scheme without components.
    async fn physical_progress(&self) -> Option<f64> {
        self.0.physical_progress_bp.map(|bp| f64::from(bp) / 100.0)
    }
    /// Past its target completion date and not yet completed.
    async fn overdue(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        let today = crate::graphql::context::CtxExt::svc(ctx)?.today();
        Ok(
            crate::service::schemes::rollup::BUILDING.contains(&self.0.status)
                && self.0.target_completion_on.is_some_and(|t| t < today),
        )
    }
    /// Open inspection findings by severity.
    async fn open_findings(&self) -> super::works::FindingCounts {
        self.open_findings_counts()
    }
    /// Physical components with planned quantities and the latest progress.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn components(&self, ctx: &Context<'_>) -> ApiResult<Vec<super::works::SchemeComponent>> {
        self.works_components(ctx).await
    }
    /// Quality inspections, oldest first.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn inspections(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<super::works::SchemeInspection>> {
        self.works_inspections(ctx).await
    }
    /// Inspection agencies assigned to inspect the scheme (an agency sees its own).
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn inspectors(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<super::works::SchemeInspectorAssignment>> {
        self.works_inspectors(ctx).await
    }
    /// The handover to the Gram Panchayat, once made.
    async fn handover(&self, ctx: &Context<'_>) -> ApiResult<Option<super::works::SchemeHandover>> {
        self.works_handover(ctx).await
    }
}
