//! Water-quality tests and Har Ghar Jal reporting and certification.

use async_graphql::{Context, ID, Object};
use chrono::NaiveDate;
use entities::{enums::*, *};

use super::{Village, personal};
use crate::{
    error::ApiResult,
    graphql::{
        ids::{Kind, encode},
        loaders,
    },
    service::bis,
};

/// A water sample from one source, tested by field test kit (FTK) or in a laboratory.
#[derive(Clone)]
pub struct WaterQualityTest(
    pub water_quality_test::Model,
    /// Its results, when read in the same statement as the test (`graphql/lookahead.rs`);
    /// otherwise the loaders read them.
    Option<Vec<water_quality_result::Model>>,
);

impl From<water_quality_test::Model> for WaterQualityTest {
    fn from(row: water_quality_test::Model) -> Self {
        Self(row, None)
    }
}

impl WaterQualityTest {
    pub fn preloaded(
        row: water_quality_test::Model,
        results: Option<Vec<water_quality_result::Model>>,
    ) -> Self {
        Self(row, results)
    }
}

#[Object]
impl WaterQualityTest {
    pub async fn id(&self) -> ID {
        encode(Kind::WaterQualityTest, self.0.id)
    }
    async fn source_name(&self) -> &str {
        &self.0.source_name
    }
    async fn source_type(&self) -> WaterSourceType {
        self.0.source_type
    }
    async fn sampled_on(&self) -> NaiveDate {
        self.0.sampled_on
    }
    async fn method(&self) -> WqMethod {
        self.0.method
    }
    async fn lab_name(&self) -> Option<&str> {
        self.0.lab_name.as_deref()
    }
    /// Who tested the sample, e.g. a Jal Sakhi or ASHA (personal data).
    async fn tested_by(&self, ctx: &Context<'_>) -> ApiResult<Option<String>> {
        personal(ctx, self.0.tested_by.clone())
    }
    /// Whether any parameter exceeded its BIS 10500 acceptable limit.
    async fn contaminated(&self) -> bool {
        self.0.contaminated
    }
    async fn village(&self, ctx: &Context<'_>) -> ApiResult<Option<Village>> {
        Ok(loaders::one::<village::Entity>(ctx, self.0.village_id)
            .await?
            .map(Village::from))
    }
    #[graphql(complexity = "crate::graphql::limits::FANOUT * child_complexity")]
    async fn results(&self, ctx: &Context<'_>) -> ApiResult<Vec<WaterQualityResult>> {
        let rows = match &self.1 {
            Some(rows) => rows.clone(),
            None => {
                loaders::children::<water_quality_result::Entity>(
                    ctx,
                    water_quality_result::Column::TestId,
                    self.0.id,
                )
                .await?
            }
        };
        Ok(rows.into_iter().map(WaterQualityResult).collect())
    }
}

/// One measured parameter.
pub struct WaterQualityResult(pub water_quality_result::Model);

#[Object]
impl WaterQualityResult {
    async fn parameter(&self) -> WqParameter {
        self.0.parameter
    }
    async fn value(&self) -> f64 {
        self.0.value
    }
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// Whether the value is outside the BIS 10500 acceptable limit.
    async fn exceeds(&self) -> bool {
        self.0.exceeds
    }
    /// The BIS 10500 acceptable limit, for people reading the result.
    async fn acceptable_limit(&self) -> String {
        bis::limit(self.0.parameter).describe()
    }
}

/// The implementing department's report that every household has a tap.
pub struct HgjReport(pub hgj_report::Model);

#[Object]
impl HgjReport {
    async fn reported_on(&self) -> NaiveDate {
        self.0.reported_on
    }
    async fn completion_certificate_url(&self) -> Option<&str> {
        self.0.completion_certificate_url.as_deref()
    }
    /// Who reported it (personal data).
    async fn reported_by(&self, ctx: &Context<'_>) -> ApiResult<String> {
        personal(ctx, self.0.reported_by.clone())
    }
}

/// The Gram Sabha's certification that every household gets regular, potable tap water.
pub struct HgjCertification(pub hgj_certification::Model);

#[Object]
impl HgjCertification {
    async fn gram_sabha_resolution_date(&self) -> NaiveDate {
        self.0.gram_sabha_resolution_date
    }
    async fn resolution_url(&self) -> Option<&str> {
        self.0.resolution_url.as_deref()
    }
    /// The video of the Gram Sabha, which JJM requires for certification.
    async fn video_url(&self) -> Option<&str> {
        self.0.video_url.as_deref()
    }
    async fn certified_on(&self) -> NaiveDate {
        self.0.certified_on
    }
    /// Who recorded the certification (personal data).
    async fn certified_by(&self, ctx: &Context<'_>) -> ApiResult<String> {
        personal(ctx, self.0.certified_by.clone())
    }
}
