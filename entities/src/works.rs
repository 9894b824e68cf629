//! Enums of scheme works: components, inspections and handover.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A physical component of a piped water supply scheme.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComponentKind {
    /// Borewells, intake or other sources (number).
    #[sea_orm(string_value = "SOURCE_WORKS")]
    SourceWorks,
    /// Treatment capacity (MLD).
    #[sea_orm(string_value = "WATER_TREATMENT_PLANT")]
    WaterTreatmentPlant,
    /// Elevated service reservoir, ESR/OHT (kL).
    #[sea_orm(string_value = "OVERHEAD_RESERVOIR")]
    OverheadReservoir,
    /// Ground-level service reservoir or sump (kL).
    #[sea_orm(string_value = "GROUND_SERVICE_RESERVOIR")]
    GroundServiceReservoir,
    /// Rising main (km).
    #[sea_orm(string_value = "RISING_MAIN")]
    RisingMain,
    /// Distribution network (km).
    #[sea_orm(string_value = "DISTRIBUTION_PIPELINE")]
    DistributionPipeline,
    /// Functional household tap connections (connections).
    #[sea_orm(string_value = "HOUSEHOLD_TAP_CONNECTIONS")]
    HouseholdTapConnections,
    /// Pump houses (number).
    #[sea_orm(string_value = "PUMP_HOUSE")]
    PumpHouse,
    /// Solar pumping systems (kWp).
    #[sea_orm(string_value = "SOLAR_PUMPING")]
    SolarPumping,
}

/// The unit a component is planned and measured in (fixed by its kind).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComponentUnit {
    #[sea_orm(string_value = "NUMBER")]
    Number,
    #[sea_orm(string_value = "MLD")]
    Mld,
    #[sea_orm(string_value = "KL")]
    Kl,
    #[sea_orm(string_value = "KM")]
    Km,
    #[sea_orm(string_value = "CONNECTIONS")]
    Connections,
    #[sea_orm(string_value = "KWP")]
    Kwp,
}

/// When in the works an inspection took place.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InspectionStage {
    /// Materials at the factory or on arrival (pipes, cement, steel).
    #[sea_orm(string_value = "MATERIAL")]
    Material,
    /// Work in progress.
    #[sea_orm(string_value = "CONSTRUCTION")]
    Construction,
    /// Work reported complete.
    #[sea_orm(string_value = "COMPLETION")]
    Completion,
    /// Trial run before commissioning.
    #[sea_orm(string_value = "COMMISSIONING")]
    Commissioning,
}

/// How serious an inspection finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FindingSeverity {
    #[sea_orm(string_value = "MINOR")]
    Minor,
    #[sea_orm(string_value = "MAJOR")]
    Major,
    #[sea_orm(string_value = "CRITICAL")]
    Critical,
}

/// An inspection's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InspectionVerdict {
    /// The work meets the specification.
    #[sea_orm(string_value = "PASS")]
    Pass,
    /// Defects to be rectified and re-inspected.
    #[sea_orm(string_value = "RECTIFY")]
    Rectify,
    /// The work must be redone.
    #[sea_orm(string_value = "FAIL")]
    Fail,
}

/// Where the money for operation and maintenance comes from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OmFundsSource {
    /// Monthly user charges collected by the VWSC.
    #[sea_orm(string_value = "USER_CHARGES")]
    UserCharges,
    /// The Gram Panchayat's own revenue.
    #[sea_orm(string_value = "GP_OWN_FUNDS")]
    GpOwnFunds,
    /// 15th Finance Commission tied grants.
    #[sea_orm(string_value = "FINANCE_COMMISSION_GRANT")]
    FinanceCommissionGrant,
    /// A state O&M grant.
    #[sea_orm(string_value = "STATE_GRANT")]
    StateGrant,
    /// Another source.
    #[sea_orm(string_value = "OTHER")]
    Other,
}
