//! States, divisions, districts, blocks and gram panchayats.

use async_graphql::{Context, ID, Object};
use entities::{enums::StateCategory, *};

use super::Village;
use crate::{
    error::ApiResult,
    graphql::{
        ids::{Kind, encode},
        loaders,
    },
};

/// A State or Union Territory.
pub struct State(pub state::Model);

#[Object]
impl State {
    pub async fn id(&self) -> ID {
        encode(Kind::State, self.0.id)
    }
    /// LGD state code (same as the Census 2011 code).
    async fn lgd_code(&self) -> i32 {
        self.0.lgd_code
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    /// Name in Hindi (Devanagari).
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    /// Funding category (general, north-east, Himalayan, union territory).
    async fn category(&self) -> StateCategory {
        self.0.category
    }
    /// Revenue divisions of the state, where it has them.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn divisions(&self, ctx: &Context<'_>) -> ApiResult<Vec<Division>> {
        let rows = loaders::children::<division::Entity>(ctx, division::Column::StateId, self.0.id)
            .await?;
        Ok(rows.into_iter().map(Division).collect())
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn districts(&self, ctx: &Context<'_>) -> ApiResult<Vec<District>> {
        let rows = loaders::children::<district::Entity>(ctx, district::Column::StateId, self.0.id)
            .await?;
        Ok(rows.into_iter().map(District).collect())
    }
}

/// A revenue division (sambhag, संभाग): a group of districts under a commissioner. Divisions
/// have no LGD code, so `code` is Sangam's own.
pub struct Division(pub division::Model);

#[Object]
impl Division {
    pub async fn id(&self) -> ID {
        encode(Kind::Division, self.0.id)
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    async fn state(&self, ctx: &Context<'_>) -> ApiResult<Option<State>> {
        Ok(loaders::one::<state::Entity>(ctx, self.0.state_id)
            .await?
            .map(State))
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn districts(&self, ctx: &Context<'_>) -> ApiResult<Vec<District>> {
        let rows =
            loaders::children::<district::Entity>(ctx, district::Column::DivisionId, self.0.id)
                .await?;
        Ok(rows.into_iter().map(District).collect())
    }
}

/// A district.
pub struct District(pub district::Model);

#[Object]
impl District {
    pub async fn id(&self) -> ID {
        encode(Kind::District, self.0.id)
    }
    /// LGD district code.
    async fn lgd_code(&self) -> i32 {
        self.0.lgd_code
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    /// One of the NITI Aayog aspirational districts.
    async fn is_aspirational(&self) -> bool {
        self.0.is_aspirational
    }
    async fn state(&self, ctx: &Context<'_>) -> ApiResult<Option<State>> {
        Ok(loaders::one::<state::Entity>(ctx, self.0.state_id)
            .await?
            .map(State))
    }
    async fn division(&self, ctx: &Context<'_>) -> ApiResult<Option<Division>> {
        let Some(id) = self.0.division_id else {
            return Ok(None);
        };
        Ok(loaders::one::<division::Entity>(ctx, id)
            .await?
            .map(Division))
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn blocks(&self, ctx: &Context<'_>) -> ApiResult<Vec<Block>> {
        let rows =
            loaders::children::<block::Entity>(ctx, block::Column::DistrictId, self.0.id).await?;
        Ok(rows.into_iter().map(Block).collect())
    }
}

/// A development block (janpad panchayat in Madhya Pradesh and Chhattisgarh).
pub struct Block(pub block::Model);

#[Object]
impl Block {
    pub async fn id(&self) -> ID {
        encode(Kind::Block, self.0.id)
    }
    /// LGD block code.
    async fn lgd_code(&self) -> i32 {
        self.0.lgd_code
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    async fn district(&self, ctx: &Context<'_>) -> ApiResult<Option<District>> {
        Ok(loaders::one::<district::Entity>(ctx, self.0.district_id)
            .await?
            .map(District))
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn gram_panchayats(&self, ctx: &Context<'_>) -> ApiResult<Vec<GramPanchayat>> {
        let rows = loaders::children::<gram_panchayat::Entity>(
            ctx,
            gram_panchayat::Column::BlockId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().map(GramPanchayat).collect())
    }
    /// Every village of the block the caller may see, in id order.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn villages(&self, ctx: &Context<'_>) -> ApiResult<Vec<Village>> {
        let rows =
            loaders::children::<village::Entity>(ctx, village::Column::BlockId, self.0.id).await?;
        Ok(rows.into_iter().map(Village::from).collect())
    }
}

/// A gram panchayat: the village council that runs the Gram Sabha and, through its VWSC,
/// operates the water supply.
pub struct GramPanchayat(pub gram_panchayat::Model);

#[Object]
impl GramPanchayat {
    pub async fn id(&self) -> ID {
        encode(Kind::GramPanchayat, self.0.id)
    }
    /// Six-digit LGD local-body code.
    async fn lgd_code(&self) -> i32 {
        self.0.lgd_code
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    async fn block(&self, ctx: &Context<'_>) -> ApiResult<Option<Block>> {
        Ok(loaders::one::<block::Entity>(ctx, self.0.block_id)
            .await?
            .map(Block))
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn villages(&self, ctx: &Context<'_>) -> ApiResult<Vec<Village>> {
        let rows =
            loaders::children::<village::Entity>(ctx, village::Column::GramPanchayatId, self.0.id)
                .await?;
        Ok(rows.into_iter().map(Village::from).collect())
    }
}
