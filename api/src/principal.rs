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
    pub const ALL: [Role; 5] = [
        Self::StateAdmin,
        Self::DistrictCoordinator,
        Self::Department,
        Self::Partner,
        Self::Dashboard,
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
                // Health imports water-quality results.
                ImportWrite,
            ],
            Self::Partner => &[
                VillagesRead,
                TasksRead,
                TasksWrite,
                AssignmentsRead,
                QualityRead,
                ProgressRead,
                AuditRead,
            ],
            Self::Dashboard => &[VillagesRead, TasksRead, QualityRead, ProgressRead],
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
    ImportWrite,
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

    pub const ALL: [Scope; 11] = [
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
        Self::ImportWrite,
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
            Self::ImportWrite => "import:write",
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

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
