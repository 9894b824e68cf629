//! Who is asking. Every service call takes a principal; row scope (`service::scope`) reads it.

use std::collections::BTreeSet;

use entities::enums::Department;

/// The roles of `ACCESS.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    StateAdmin,
    DistrictCoordinator,
    Department,
    Partner,
    Dashboard,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateAdmin => "state_admin",
            Self::DistrictCoordinator => "district_coordinator",
            Self::Department => "department",
            Self::Partner => "partner",
            Self::Dashboard => "dashboard",
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
}

impl Scope {
    pub const ALL: [Scope; 10] = [
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
    ];

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
        }
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
