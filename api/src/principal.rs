//! Who is asking. Every service call takes a principal; row scope (`service::scope`) reads it.

use std::collections::BTreeSet;

use entities::{
    enums::{Department, OrganisationKind},
    organisation,
};

/// The roles of `ACCESS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    StateAdmin,
    DistrictCoordinator,
    Department,
    Partner,
    Dashboard,
    /// A third-party agency inspecting scheme works: reaches only the schemes it is assigned
    /// to inspect (`scheme_inspector`).
    InspectionAgency,
    /// Anyone, without a token, when `--public-progress` is on: progress aggregates and area
    /// names only. Never held by a token: it is not in [`Role::ALL`], so no client or claim
    /// can name it.
    Public,
}

impl Role {
    /// The roles a client or a token may hold.
    pub const ALL: [Role; 6] = [
        Self::StateAdmin,
        Self::DistrictCoordinator,
        Self::Department,
        Self::Partner,
        Self::Dashboard,
        Self::InspectionAgency,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The scopes a token of this role may carry (ACCESS.md's matrix); others are dropped.
    pub fn allowed_scopes(self) -> &'static [Scope] {
        use Scope::*;
        match self {
            Self::StateAdmin | Self::DistrictCoordinator => &Scope::ALL,
            Self::Department => &[
                VillagesRead,
                TasksRead,
                TasksWrite,
                AssignmentsRead,
                QualityRead,
                QualityWrite,
                CertificationWrite,
                ProgressRead,
                AuditRead,
                WebhooksWrite,
                // Health imports water-quality results.
                ImportWrite,
                // PHED moves schemes and inspects them; Panchayati Raj records handovers.
                SchemesWrite,
                InspectionsWrite,
            ],
            Self::Partner => &[
                VillagesRead,
                TasksRead,
                TasksWrite,
                AssignmentsRead,
                QualityRead,
                ProgressRead,
                AuditRead,
                WebhooksWrite,
            ],
            Self::Dashboard => &[
                VillagesRead,
                TasksRead,
                QualityRead,
                ProgressRead,
                WebhooksWrite,
            ],
            Self::InspectionAgency => &[VillagesRead, TasksRead, InspectionsWrite, AuditRead],
            Self::Public => &[VillagesRead, ProgressRead],
        }
    }

    /// Roles whose reach is a jurisdiction must name one; a partner's reach is its assignments
    /// and a dashboard may be national.
    pub fn needs_jurisdiction(self) -> bool {
        matches!(
            self,
            Self::StateAdmin | Self::DistrictCoordinator | Self::Department
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateAdmin => "state_admin",
            Self::DistrictCoordinator => "district_coordinator",
            Self::Department => "department",
            Self::Partner => "partner",
            Self::Dashboard => "dashboard",
            Self::InspectionAgency => "inspection_agency",
            Self::Public => "public",
        }
    }
}

/// The OAuth scopes of `ACCESS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    VillagesRead,
    TasksRead,
    TasksWrite,
    AssignmentsRead,
    AssignmentsWrite,
    QualityRead,
    QualityWrite,
    CertificationWrite,
    ProgressRead,
    AuditRead,
    /// Register webhooks and read their deliveries.
    WebhooksWrite,
    ImportWrite,
    /// Move schemes through their lifecycle, record physical progress and hand schemes over.
    SchemesWrite,
    /// Record quality inspections of scheme works.
    InspectionsWrite,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Parses a space-separated scope list (RFC 6749 §3.3); the error names the first unknown scope.
    pub fn parse_list(s: &str) -> Result<BTreeSet<Scope>, String> {
        s.split_whitespace()
            .map(|x| Self::parse(x).ok_or_else(|| x.to_owned()))
            .collect()
    }

    pub fn join(scopes: &BTreeSet<Scope>) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub const ALL: [Scope; 14] = [
        Self::VillagesRead,
        Self::TasksRead,
        Self::TasksWrite,
        Self::AssignmentsRead,
        Self::AssignmentsWrite,
        Self::QualityRead,
        Self::QualityWrite,
        Self::CertificationWrite,
        Self::ProgressRead,
        Self::AuditRead,
        Self::WebhooksWrite,
        Self::ImportWrite,
        Self::SchemesWrite,
        Self::InspectionsWrite,
    ];

    /// What the scope lets a token do, in a line a screen can show.
    pub fn description(self) -> &'static str {
        match self {
            Self::VillagesRead => {
                "Read geography, villages, schemes and organisations within your reach"
            }
            Self::TasksRead => "Read convergence tasks and their history",
            Self::TasksWrite => "Create, edit, move and comment on convergence tasks",
            Self::AssignmentsRead => "Read which partners are assigned to which villages",
            Self::AssignmentsWrite => "Create and end partner assignments",
            Self::QualityRead => "Read water-quality tests and their results",
            Self::QualityWrite => "Record water-quality tests",
            Self::CertificationWrite => {
                "Update village coverage, report Har Ghar Jal and record Gram Sabha certification"
            }
            Self::ProgressRead => "Read progress aggregates for review meetings and dashboards",
            Self::AuditRead => "Read the audit trail",
            Self::WebhooksWrite => "Register webhooks for the events you could read anyway",
            Self::ImportWrite => {
                "Import coverage, schemes and water-quality results in your jurisdiction"
            }
            Self::SchemesWrite => {
                "Move schemes through their lifecycle, record physical progress and hand schemes over"
            }
            Self::InspectionsWrite => "Record quality inspections of scheme works",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::VillagesRead => "villages:read",
            Self::TasksRead => "tasks:read",
            Self::TasksWrite => "tasks:write",
            Self::AssignmentsRead => "assignments:read",
            Self::AssignmentsWrite => "assignments:write",
            Self::QualityRead => "quality:read",
            Self::QualityWrite => "quality:write",
            Self::CertificationWrite => "certification:write",
            Self::ProgressRead => "progress:read",
            Self::AuditRead => "audit:read",
            Self::WebhooksWrite => "webhooks:write",
            Self::ImportWrite => "import:write",
            Self::SchemesWrite => "schemes:write",
            Self::InspectionsWrite => "inspections:write",
        }
    }
}

/// The states or districts a principal works in, by LGD code (as tokens carry them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jurisdiction {
    /// Every row, e.g. a national dashboard or the operator's own CLI.
    All,
    States(Vec<i32>),
    Districts(Vec<i32>),
}

#[derive(Debug, Clone)]
pub struct Principal {
    /// Subject of the token (a client id or a person).
    pub sub: String,
    pub client_id: Option<String>,
    pub role: Role,
    pub organisation_id: Option<i64>,
    /// For the `department` role: which line department the token speaks for.
    pub department: Option<Department>,
    pub jurisdiction: Jurisdiction,
    pub scopes: BTreeSet<Scope>,
    /// When the token stops being valid (unix seconds); a subscription ends then.
    pub expires_at: Option<i64>,
}

impl Principal {
    /// The principal used until tokens are required: a state administrator over every state with
    /// every scope. Service code treats it like any other principal, so row scope is already
    /// applied in the one place that will enforce tokens.
    pub fn all_access() -> Self {
        Self {
            sub: "sangam:all-access".to_owned(),
            client_id: None,
            role: Role::StateAdmin,
            organisation_id: None,
            department: None,
            jurisdiction: Jurisdiction::All,
            scopes: Scope::ALL.into_iter().collect(),
            expires_at: None,
        }
    }

    /// An anonymous reader of the public progress page (`--public-progress`): national reach,
    /// but row scope lets it read only areas and progress aggregates (`scope::readable`).
    pub fn public() -> Self {
        Self {
            sub: "sangam:public".to_owned(),
            client_id: None,
            role: Role::Public,
            organisation_id: None,
            department: None,
            jurisdiction: Jurisdiction::All,
            scopes: Role::Public.allowed_scopes().iter().copied().collect(),
            expires_at: None,
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// An organisation acting as itself, with the broadest reach its own tokens could have:
    /// its role by kind and its state (LGD code `state`) as its jurisdiction. Row scope applied
    /// to it answers whether the organisation can see a row at all, e.g. a task handed to it.
    pub fn of_organisation(org: &organisation::Model, state: Option<i32>) -> Self {
        let role = match org.kind {
            OrganisationKind::Department => Role::Department,
            OrganisationKind::SectorPartner => Role::Partner,
            OrganisationKind::InspectionAgency => Role::InspectionAgency,
        };
        Self {
            sub: format!("organisation:{}", org.code),
            client_id: None,
            role,
            organisation_id: Some(org.id),
            department: org.department,
            jurisdiction: state.map_or(Jurisdiction::All, |s| Jurisdiction::States(vec![s])),
            scopes: [Scope::TasksRead, Scope::VillagesRead]
                .into_iter()
                .collect(),
            expires_at: None,
        }
    }
}
