//! Departments, sector partners, and partners' village assignments.

use async_graphql::{Context, ID, Object};
use chrono::NaiveDate;
use entities::{enums::*, *};

use super::{State, Village, personal};
use crate::{
    error::ApiResult,
    graphql::{
        context::CtxExt,
        ids::{Kind, encode},
        loaders,
    },
    service::filters::active_assignment_on,
};

/// A line department of a state, or a sector partner (NGO, trust, UN agency, institute).
pub struct Organisation(pub organisation::Model);

#[Object]
impl Organisation {
    pub async fn id(&self) -> ID {
        encode(Kind::Organisation, self.0.id)
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn kind(&self) -> OrganisationKind {
        self.0.kind
    }
    /// For departments: which one.
    async fn department(&self) -> Option<Department> {
        self.0.department
    }
    /// For sector partners: what kind of organisation.
    async fn partner_type(&self) -> Option<PartnerType> {
        self.0.partner_type
    }
    /// The state a department belongs to (partners work across states).
    async fn state(&self, ctx: &Context<'_>) -> ApiResult<Option<State>> {
        let Some(id) = self.0.state_id else {
            return Ok(None);
        };
        Ok(loaders::one::<state::Entity>(ctx, id).await?.map(State))
    }
    /// Themes a sector partner works on.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn themes(&self, ctx: &Context<'_>) -> ApiResult<Vec<Theme>> {
        let rows = loaders::children::<organisation_theme::Entity>(
            ctx,
            organisation_theme::Column::OrganisationId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(|t| t.theme).collect())
    }
    /// Contact person (personal data).
    async fn contact_name(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.contact_name.clone())
    }
    /// Contact phone number (personal data).
    async fn contact_phone(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.contact_phone.clone())
    }
    /// The organisation's village assignments the caller may see; active ones unless
    /// `includeInactive`.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn assignments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> ApiResult<Vec<Assignment>> {
        let today = ctx.svc()?.today();
        let rows = loaders::children::<assignment::Entity>(
            ctx,
            assignment::Column::OrganisationId,
            self.0.id,
        )
        .await?;
        Ok(rows
            .into_iter()
            .filter(|a| include_inactive || active_assignment_on(a, today))
            .map(Assignment)
            .collect())
    }
}

/// A sector partner assigned to a village for a theme, for a period.
pub struct Assignment(pub assignment::Model);

#[Object]
impl Assignment {
    pub async fn id(&self) -> ID {
        encode(Kind::Assignment, self.0.id)
    }
    async fn theme(&self) -> Theme {
        self.0.theme
    }
    async fn starts_on(&self) -> NaiveDate {
        self.0.starts_on
    }
    /// Last day of the assignment (inclusive); null while open-ended.
    async fn ends_on(&self) -> Option<NaiveDate> {
        self.0.ends_on
    }
    /// Whether the assignment is in force today.
    async fn is_active(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(active_assignment_on(&self.0, ctx.svc()?.today()))
    }
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        Ok(
            loaders::one::<organisation::Entity>(ctx, self.0.organisation_id)
                .await?
                .map(Organisation),
        )
    }
    async fn village(&self, ctx: &Context<'_>) -> ApiResult<Option<Village>> {
        Ok(loaders::one::<village::Entity>(ctx, self.0.village_id)
            .await?
            .map(Village::from))
    }
}
