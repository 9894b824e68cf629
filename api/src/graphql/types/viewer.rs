//! `viewer`: who the caller is and what it may do, so a client can shape its screens.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entities::{enums::Department, *};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{District, Organisation, State};
use crate::{
    error::ApiResult,
    graphql::{
        context::CtxExt,
        ids::{Kind, encode},
        loaders,
    },
    principal::{Jurisdiction, Principal, Scope},
};

/// The caller, as its token describes it.
pub struct Viewer(pub Principal);

/// One scope the caller's token holds.
#[derive(SimpleObject)]
pub struct ScopeGrant {
    /// The OAuth scope, e.g. `tasks:write`.
    pub scope: String,
    /// What it allows, in one line.
    pub description: String,
}

/// Where the caller works: the states or districts its token names.
#[derive(SimpleObject)]
pub struct ViewerJurisdiction {
    /// True when the token is not limited to states or districts (a national dashboard).
    pub national: bool,
    /// The states worked in; for a district jurisdiction, the states of those districts.
    pub states: Vec<State>,
    /// The districts worked in, when the jurisdiction is a list of districts (empty otherwise).
    pub districts: Vec<District>,
}

#[Object]
impl Viewer {
    /// Subject of the caller's token.
    async fn sub(&self) -> &str {
        &self.0.sub
    }
    /// The caller's role: `state_admin`, `district_coordinator`, `department`, `partner` or
    /// `dashboard`.
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }
    /// The scopes the token holds.
    async fn scopes(&self) -> Vec<String> {
        self.0
            .scopes
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect()
    }
    /// The scopes the token holds, each with what it allows.
    async fn grants(&self) -> Vec<ScopeGrant> {
        self.0
            .scopes
            .iter()
            .map(|s: &Scope| ScopeGrant {
                scope: s.as_str().to_owned(),
                description: s.description().to_owned(),
            })
            .collect()
    }
    /// Global id of the caller's organisation.
    async fn organisation_id(&self) -> Option<ID> {
        self.0
            .organisation_id
            .map(|o| encode(Kind::Organisation, o))
    }
    /// The caller's organisation (name, department, code); organisations are public.
    async fn organisation(&self, ctx: &Context<'_>) -> ApiResult<Option<Organisation>> {
        let Some(id) = self.0.organisation_id else {
            return Ok(None);
        };
        Ok(loaders::one::<organisation::Entity>(ctx, id)
            .await?
            .map(Organisation))
    }
    /// For the `department` role: the line department the token speaks for.
    async fn department(&self) -> Option<Department> {
        self.0.department
    }
    /// When the token stops being valid; null for a token without expiry.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .expires_at
            .and_then(|t| DateTime::from_timestamp(t, 0))
    }
    /// The states and districts the caller works in, with their names.
    async fn jurisdiction(&self, ctx: &Context<'_>) -> ApiResult<ViewerJurisdiction> {
        // The caller's own jurisdiction, named in its token: reading it is not reading rows of
        // others, and a partner must see it even where it has no assigned village yet.
        let db = ctx.svc()?.db();
        Ok(match &self.0.jurisdiction {
            Jurisdiction::All => ViewerJurisdiction {
                national: true,
                states: Vec::new(),
                districts: Vec::new(),
            },
            Jurisdiction::States(codes) => ViewerJurisdiction {
                national: false,
                states: state::Entity::find()
                    .filter(state::Column::LgdCode.is_in(codes.iter().copied()))
                    .order_by_asc(state::Column::LgdCode)
                    .all(db)
                    .await?
                    .into_iter()
                    .map(State)
                    .collect(),
                districts: Vec::new(),
            },
            Jurisdiction::Districts(codes) => {
                let districts = district::Entity::find()
                    .filter(district::Column::LgdCode.is_in(codes.iter().copied()))
                    .order_by_asc(district::Column::LgdCode)
                    .all(db)
                    .await?;
                let states = state::Entity::find()
                    .filter(state::Column::Id.is_in(districts.iter().map(|d| d.state_id)))
                    .order_by_asc(state::Column::LgdCode)
                    .all(db)
                    .await?;
                ViewerJurisdiction {
                    national: false,
                    states: states.into_iter().map(State).collect(),
                    districts: districts.into_iter().map(District).collect(),
                }
            }
        })
    }
}
