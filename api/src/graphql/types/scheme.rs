//! Rural piped water supply schemes.

use async_graphql::{Context, ID, Object};
use chrono::NaiveDate;
use entities::{enums::*, *};

use super::{District, Task, Village};
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
        Ok(rows.into_iter().map(Village).collect())
    }
    /// Tasks raised on the scheme itself.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn tasks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Task>> {
        let rows =
            loaders::children::<task::Entity>(ctx, task::Column::SchemeId, self.0.id).await?;
        Ok(rows.into_iter().map(Task).collect())
    }
}
