//! Vocabularies stored as short strings, so both SQLite and PostgreSQL hold them the same way.
//! With the `graphql` feature they are also the API's GraphQL enums: one list, not two.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// NE-Himalayan or general state, or union territory; decides the funding pattern.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateCategory {
    #[sea_orm(string_value = "GENERAL")]
    General,
    #[sea_orm(string_value = "NORTH_EAST")]
    NorthEast,
    #[sea_orm(string_value = "HIMALAYAN")]
    Himalayan,
    #[sea_orm(string_value = "UT_WITH_LEGISLATURE")]
    UtWithLegislature,
    #[sea_orm(string_value = "UT")]
    Ut,
}

/// Har Ghar Jal status of a village: every household has a tap (reported), then certified by the Gram Sabha.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HgjStatus {
    #[sea_orm(string_value = "NOT_SATURATED")]
    NotSaturated,
    #[sea_orm(string_value = "REPORTED")]
    Reported,
    #[sea_orm(string_value = "CERTIFIED")]
    Certified,
}

/// Kind of rural piped water supply scheme.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SchemeType {
    #[sea_orm(string_value = "SVS")]
    Svs,
    #[sea_orm(string_value = "MVS")]
    Mvs,
    #[sea_orm(string_value = "RETROFIT")]
    Retrofit,
    #[sea_orm(string_value = "NEW")]
    New,
    #[sea_orm(string_value = "SOLAR")]
    Solar,
    #[sea_orm(string_value = "REVISED")]
    Revised,
    #[sea_orm(string_value = "RENOVATION")]
    Renovation,
    #[sea_orm(string_value = "CWPP")]
    Cwpp,
}

/// Lifecycle of a scheme, from proposal to hand-over to the Gram Panchayat.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SchemeStatus {
    #[sea_orm(string_value = "PROPOSED")]
    Proposed,
    #[sea_orm(string_value = "DPR_PREPARED")]
    DprPrepared,
    #[sea_orm(string_value = "TECH_SANCTIONED")]
    TechSanctioned,
    #[sea_orm(string_value = "ADMIN_APPROVED")]
    AdminApproved,
    #[sea_orm(string_value = "TENDERED")]
    Tendered,
    #[sea_orm(string_value = "WORK_ORDER_ISSUED")]
    WorkOrderIssued,
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "ON_HOLD")]
    OnHold,
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "COMMISSIONED")]
    Commissioned,
    #[sea_orm(string_value = "HANDED_OVER_TO_GP")]
    HandedOverToGp,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// Who builds the scheme.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImplementingAgency {
    #[sea_orm(string_value = "PHED")]
    Phed,
    #[sea_orm(string_value = "JAL_NIGAM")]
    JalNigam,
    #[sea_orm(string_value = "GRAM_PANCHAYAT")]
    GramPanchayat,
}

/// A line department of the state, or a sector partner.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrganisationKind {
    #[sea_orm(string_value = "DEPARTMENT")]
    Department,
    #[sea_orm(string_value = "SECTOR_PARTNER")]
    SectorPartner,
    /// A third-party agency inspecting the quality of scheme works.
    #[sea_orm(string_value = "INSPECTION_AGENCY")]
    InspectionAgency,
}

/// Line departments that converge on JJM.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Department {
    #[sea_orm(string_value = "PHED")]
    Phed,
    #[sea_orm(string_value = "HEALTH")]
    Health,
    #[sea_orm(string_value = "WCD")]
    Wcd,
    #[sea_orm(string_value = "ELECTRICITY")]
    Electricity,
    #[sea_orm(string_value = "EDUCATION")]
    Education,
    #[sea_orm(string_value = "PANCHAYATI_RAJ")]
    PanchayatiRaj,
}

/// Kind of sector partner organisation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartnerType {
    #[sea_orm(string_value = "NGO")]
    Ngo,
    #[sea_orm(string_value = "TRUST_FOUNDATION")]
    TrustFoundation,
    #[sea_orm(string_value = "UN_AGENCY")]
    UnAgency,
    #[sea_orm(string_value = "RND_INSTITUTE")]
    RndInstitute,
    #[sea_orm(string_value = "CSR")]
    Csr,
    #[sea_orm(string_value = "CBO_SHG")]
    CboShg,
    #[sea_orm(string_value = "KRC")]
    Krc,
}

/// What a sector partner works on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Theme {
    #[sea_orm(string_value = "COMMUNITY_MOBILIZATION")]
    CommunityMobilization,
    #[sea_orm(string_value = "BASELINE_SURVEY")]
    BaselineSurvey,
    #[sea_orm(string_value = "PRA")]
    Pra,
    #[sea_orm(string_value = "VAP")]
    Vap,
    #[sea_orm(string_value = "CAPACITY_BUILDING")]
    CapacityBuilding,
    #[sea_orm(string_value = "SKILL_TRAINING")]
    SkillTraining,
    #[sea_orm(string_value = "IEC")]
    Iec,
    #[sea_orm(string_value = "WATER_QUALITY")]
    WaterQuality,
    #[sea_orm(string_value = "WATER_CONSERVATION_SOURCE_SUSTAINABILITY")]
    WaterConservationSourceSustainability,
    #[sea_orm(string_value = "GREYWATER")]
    Greywater,
    #[sea_orm(string_value = "MONITORING")]
    Monitoring,
    #[sea_orm(string_value = "DOCUMENTATION")]
    Documentation,
    #[sea_orm(string_value = "ADVOCACY")]
    Advocacy,
    #[sea_orm(string_value = "SOCIAL_AUDIT")]
    SocialAudit,
}

/// What a convergence task is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskKind {
    #[sea_orm(string_value = "COMMUNITY_MOBILIZATION")]
    CommunityMobilization,
    #[sea_orm(string_value = "BASELINE_SURVEY")]
    BaselineSurvey,
    #[sea_orm(string_value = "VAP")]
    Vap,
    #[sea_orm(string_value = "CAPACITY_BUILDING")]
    CapacityBuilding,
    #[sea_orm(string_value = "IEC")]
    Iec,
    #[sea_orm(string_value = "WATER_QUALITY_TEST")]
    WaterQualityTest,
    #[sea_orm(string_value = "WATER_QUALITY_REMEDIATION")]
    WaterQualityRemediation,
    #[sea_orm(string_value = "POWER_CONNECTION")]
    PowerConnection,
    #[sea_orm(string_value = "SCHOOL_AWC_CONNECTION")]
    SchoolAwcConnection,
    #[sea_orm(string_value = "SOURCE_SUSTAINABILITY")]
    SourceSustainability,
    #[sea_orm(string_value = "GREYWATER")]
    Greywater,
    #[sea_orm(string_value = "HGJ_CERTIFICATION")]
    HgjCertification,
    #[sea_orm(string_value = "SCHEME_WORK")]
    SchemeWork,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// Where a convergence task is in its workflow.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    #[sea_orm(string_value = "OPEN")]
    Open,
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "BLOCKED")]
    Blocked,
    #[sea_orm(string_value = "DONE")]
    Done,
    #[sea_orm(string_value = "VERIFIED")]
    Verified,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

/// How urgent a task is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskPriority {
    #[sea_orm(string_value = "LOW")]
    Low,
    #[sea_orm(string_value = "MEDIUM")]
    Medium,
    #[sea_orm(string_value = "HIGH")]
    High,
    #[sea_orm(string_value = "CRITICAL")]
    Critical,
}

/// What happened to a task.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskEventKind {
    #[sea_orm(string_value = "CREATED")]
    Created,
    #[sea_orm(string_value = "UPDATED")]
    Updated,
    #[sea_orm(string_value = "STATUS_CHANGED")]
    StatusChanged,
    #[sea_orm(string_value = "REASSIGNED")]
    Reassigned,
    #[sea_orm(string_value = "COMMENTED")]
    Commented,
    #[sea_orm(string_value = "EVIDENCE_ATTACHED")]
    EvidenceAttached,
}

/// Where a water sample was drawn.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaterSourceType {
    #[sea_orm(string_value = "HANDPUMP")]
    Handpump,
    #[sea_orm(string_value = "BOREWELL")]
    Borewell,
    #[sea_orm(string_value = "TUBEWELL")]
    Tubewell,
    #[sea_orm(string_value = "OPEN_WELL")]
    OpenWell,
    #[sea_orm(string_value = "SPRING")]
    Spring,
    #[sea_orm(string_value = "RIVER")]
    River,
    #[sea_orm(string_value = "RESERVOIR")]
    Reservoir,
    #[sea_orm(string_value = "POND")]
    Pond,
    #[sea_orm(string_value = "TAP")]
    Tap,
    #[sea_orm(string_value = "ESR")]
    Esr,
}

/// How a water sample was tested.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WqMethod {
    #[sea_orm(string_value = "FTK")]
    Ftk,
    #[sea_orm(string_value = "LAB")]
    Lab,
}

/// Water-quality parameters judged against BIS IS 10500:2012.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(48))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WqParameter {
    #[sea_orm(string_value = "PH")]
    Ph,
    #[sea_orm(string_value = "TURBIDITY")]
    Turbidity,
    #[sea_orm(string_value = "TDS")]
    Tds,
    #[sea_orm(string_value = "TOTAL_HARDNESS")]
    TotalHardness,
    #[sea_orm(string_value = "CHLORIDE")]
    Chloride,
    #[sea_orm(string_value = "FLUORIDE")]
    Fluoride,
    #[sea_orm(string_value = "NITRATE")]
    Nitrate,
    #[sea_orm(string_value = "IRON")]
    Iron,
    #[sea_orm(string_value = "ARSENIC")]
    Arsenic,
    #[sea_orm(string_value = "LEAD")]
    Lead,
    #[sea_orm(string_value = "MANGANESE")]
    Manganese,
    #[sea_orm(string_value = "RESIDUAL_CHLORINE")]
    ResidualChlorine,
    #[sea_orm(string_value = "E_COLI")]
    EColi,
    #[sea_orm(string_value = "TOTAL_COLIFORM")]
    TotalColiform,
}
