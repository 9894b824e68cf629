//! GraphQL object types: thin wrappers over entity rows. Related rows come through the
//! per-request loaders, so nested pages cost a constant number of statements.

pub mod audit;
pub mod geography;
pub mod organisation;
pub mod plain;
pub mod progress;
pub mod quality;
pub mod scheme;
pub mod task;
pub mod viewer;
pub mod village;
pub mod works;

use async_graphql::{Context, Interface, Union};

use async_graphql::ID;

use super::context::CtxExt;
use crate::{
    error::{ApiError, ApiResult},
    service::scope::sees_personal_data,
};
pub use geography::{Block, District, Division, GramPanchayat, State};
pub use organisation::{Assignment, Organisation};
pub use quality::WaterQualityTest;
pub use scheme::Scheme;
pub use task::{Task, TaskEvent};
pub use village::Village;

/// Anything with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global, opaque id."))]
pub enum Node {
    State(State),
    Division(Division),
    District(District),
    Block(Block),
    GramPanchayat(GramPanchayat),
    Village(Village),
    Scheme(Scheme),
    Organisation(Organisation),
    Assignment(Assignment),
    Task(Task),
    TaskEvent(TaskEvent),
    WaterQualityTest(WaterQualityTest),
}

/// An area of the administrative hierarchy.
#[derive(Union)]
pub enum Area {
    State(State),
    Division(Division),
    District(District),
    Block(Block),
    GramPanchayat(GramPanchayat),
}

/// Personal data (names, phone numbers, free text) is released only to principals that may read
/// it; for others the field is null with a FORBIDDEN error.
pub(crate) fn personal<T>(ctx: &Context<'_>, value: T) -> ApiResult<T> {
    if sees_personal_data(ctx.svc()?.principal()) {
        Ok(value)
    } else {
        Err(ApiError::Forbidden {
            needs: "personal data".to_owned(),
        })
    }
}
