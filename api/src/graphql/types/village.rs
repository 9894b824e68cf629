//! Villages: the unit where every department's work meets.

use std::sync::Arc;

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use entities::{enums::*, *};

use super::{
    Assignment, Block, District, GramPanchayat, Scheme, State, Task, WaterQualityTest,
    plain::PlainList,
    quality::{HgjCertification, HgjReport},
};
use crate::{
    error::ApiResult,
    graphql::{
        context::CtxExt,
        ids::{Kind, encode},
        loaders,
    },
    service::filters::active_assignment_on,
};

/// A revenue village, with its household tap coverage and Har Ghar Jal status.
pub struct Village(pub village::Model, Option<Box<Preloaded>>);

/// Children read in the same statement as the village, for the query shapes the resolvers
/// recognise by look-ahead (`graphql/lookahead.rs`). What is `None` was not read that way and
/// comes through the loaders, as for every other village.
#[derive(Default)]
pub struct Preloaded {
    /// The latest water-quality test (`Some(None)`: the village has none within reach).
    pub latest_test: Option<Option<WaterQualityTest>>,
    /// Every scheme serving the village, in id order.
    pub schemes: Option<Vec<scheme::Model>>,
    /// The village's tasks within reach, in id order.
    pub tasks: Option<PreloadedTasks>,
}

/// A village's tasks read ahead: every one, or only those in some statuses.
pub struct PreloadedTasks {
    /// `None`: every task was read.
    pub statuses: Option<Arc<[TaskStatus]>>,
    pub rows: Vec<task::Model>,
}

impl PreloadedTasks {
    /// Whether these rows hold every task a `tasks(status: wanted)` field answers with.
    fn cover(&self, wanted: Option<&[TaskStatus]>) -> bool {
        match (&self.statuses, wanted) {
            (None, _) => true,
            (Some(read), Some(wanted)) => wanted.iter().all(|s| read.contains(s)),
            (Some(_), None) => false,
        }
    }
}

impl From<village::Model> for Village {
    fn from(row: village::Model) -> Self {
        Self(row, None)
    }
}

impl Village {
    pub fn preloaded(row: village::Model, preloaded: Preloaded) -> Self {
        // Boxed: most villages carry nothing read ahead, and `Node` holds a `Village` inline.
        Self(row, Some(Box::new(preloaded)))
    }

    fn read_ahead(&self) -> Option<&Preloaded> {
        self.1.as_deref()
    }
}

#[Object]
impl Village {
    pub async fn id(&self) -> ID {
        encode(Kind::Village, self.0.id)
    }
    /// LGD village code (carried over from the Census 2011 code).
    async fn lgd_code(&self) -> i32 {
        self.0.lgd_code
    }
    /// The village's id in JJM-IMIS, where it is mapped.
    async fn imis_id(&self) -> Option<i64> {
        self.0.imis_id
    }
    /// The name in a readable case: LGD's ALL-CAPS names in title case (`EAST SINGHBUM` is
    /// shown as `East Singhbum`); names with lower-case letters as stored.
    async fn name(&self) -> String {
        crate::ingest::parse::display_name(&self.0.name).into_owned()
    }
    async fn name_hi(&self) -> &str {
        &self.0.name_hi
    }
    /// Rural households in the village.
    async fn households(&self) -> i32 {
        self.0.households
    }
    /// Households with a functional household tap connection (FHTC).
    async fn tap_connections(&self) -> i32 {
        self.0.tap_connections
    }
    /// Households still without a tap.
    async fn households_without_tap(&self) -> i32 {
        self.0.households - self.0.tap_connections
    }
    /// Share of households with a tap, in percent (null when the village has no households).
    async fn coverage_percent(&self) -> Option<f64> {
        (self.0.households > 0)
            .then(|| f64::from(self.0.tap_connections) * 100.0 / f64::from(self.0.households))
    }
    async fn hgj_status(&self) -> HgjStatus {
        self.0.hgj_status
    }
    async fn latitude(&self) -> Option<f64> {
        self.0.latitude
    }
    async fn longitude(&self) -> Option<f64> {
        self.0.longitude
    }
    /// Row version, for optimistic concurrency on updates.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn gram_panchayat(&self, ctx: &Context<'_>) -> ApiResult<Option<GramPanchayat>> {
        Ok(
            loaders::one::<gram_panchayat::Entity>(ctx, self.0.gram_panchayat_id)
                .await?
                .map(GramPanchayat),
        )
    }
    async fn block(&self, ctx: &Context<'_>) -> ApiResult<Option<Block>> {
        Ok(loaders::one::<block::Entity>(ctx, self.0.block_id)
            .await?
            .map(Block))
    }
    async fn district(&self, ctx: &Context<'_>) -> ApiResult<Option<District>> {
        Ok(loaders::one::<district::Entity>(ctx, self.0.district_id)
            .await?
            .map(District))
    }
    async fn state(&self, ctx: &Context<'_>) -> ApiResult<Option<State>> {
        Ok(loaders::one::<state::Entity>(ctx, self.0.state_id)
            .await?
            .map(State))
    }
    /// Schemes serving the village.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn schemes(&self, ctx: &Context<'_>) -> ApiResult<PlainList<Scheme>> {
        let rows = match self.read_ahead().and_then(|p| p.schemes.as_ref()) {
            Some(rows) => rows.clone(),
            None => loaders::schemes_of_village(ctx, self.0.id).await?,
        };
        Ok(PlainList(rows.into_iter().map(Scheme).collect()))
    }
    /// Partner assignments on the village; only active ones unless `includeInactive`.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn assignments(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = false)] include_inactive: bool,
    ) -> ApiResult<Vec<Assignment>> {
        let today = ctx.svc()?.today();
        let rows =
            loaders::children::<assignment::Entity>(ctx, assignment::Column::VillageId, self.0.id)
                .await?;
        Ok(rows
            .into_iter()
            .filter(|a| include_inactive || active_assignment_on(a, today))
            .map(Assignment)
            .collect())
    }
    /// Convergence tasks on the village, optionally only those in the given statuses.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<TaskStatus>>,
    ) -> ApiResult<PlainList<Task>> {
        let wanted = |t: &task::Model| status.as_ref().is_none_or(|s| s.contains(&t.status));
        let read = self.read_ahead().and_then(|p| p.tasks.as_ref());
        let tasks = match read.filter(|r| r.cover(status.as_deref())) {
            Some(read) => read
                .rows
                .iter()
                .filter(|t| wanted(t))
                .cloned()
                .map(Task)
                .collect(),
            None => {
                let rows =
                    loaders::children::<task::Entity>(ctx, task::Column::VillageId, self.0.id)
                        .await?;
                rows.into_iter().filter(|t| wanted(t)).map(Task).collect()
            }
        };
        Ok(PlainList(tasks))
    }
    /// The most recent water-quality test of any source in the village.
    async fn latest_water_quality_test(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Option<WaterQualityTest>> {
        if let Some(latest) = self.read_ahead().and_then(|p| p.latest_test.as_ref()) {
            return Ok(latest.clone());
        }
        Ok(loaders::latest_test(ctx, self.0.id)
            .await?
            .map(WaterQualityTest::from))
    }
    /// Every water-quality test of the village, oldest first.
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn water_quality_tests(&self, ctx: &Context<'_>) -> ApiResult<Vec<WaterQualityTest>> {
        let mut rows = loaders::children::<water_quality_test::Entity>(
            ctx,
            water_quality_test::Column::VillageId,
            self.0.id,
        )
        .await?;
        rows.sort_by_key(|t| (t.sampled_on, t.id));
        Ok(rows.into_iter().map(WaterQualityTest::from).collect())
    }
    /// The department's Har Ghar Jal report, once every household has a tap.
    async fn hgj_report(&self, ctx: &Context<'_>) -> ApiResult<Option<HgjReport>> {
        let rows =
            loaders::children::<hgj_report::Entity>(ctx, hgj_report::Column::VillageId, self.0.id)
                .await?;
        Ok(rows.into_iter().next().map(HgjReport))
    }
    /// The Gram Sabha's certification, after the report.
    async fn hgj_certification(&self, ctx: &Context<'_>) -> ApiResult<Option<HgjCertification>> {
        let rows = loaders::children::<hgj_certification::Entity>(
            ctx,
            hgj_certification::Column::VillageId,
            self.0.id,
        )
        .await?;
        Ok(rows.into_iter().next().map(HgjCertification))
    }
}
