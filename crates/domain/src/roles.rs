//! Roles and what each may do: the one table every authority check reads.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A user's role. Each user has exactly one, so segregation of duties is plain to see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Users, roles, tokens, security alerts, metrics. Cannot write or sign records.
    Admin,
    /// Quality assurance: reviews, approves, reads the whole log.
    Qa,
    /// Data scientists and ML engineers: create and change records, sign as author.
    Developer,
    /// Reads records.
    Viewer,
    /// Inspectors: read-only, including the log, proofs and exports.
    Auditor,
}

/// What a request needs to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    ManageUsers,
    ViewSecurity,
    ReadRecords,
    WriteRecords,
    Sign,
    ReadLog,
    ReadMetrics,
    /// Subscribe webhooks to notifications and read their deliveries.
    ManageNotifications,
}

/// A role name that is not one of ours.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown role `{0}`: the roles are admin, qa, developer, viewer, auditor")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Qa,
        Role::Developer,
        Role::Viewer,
        Role::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Qa => "qa",
            Role::Developer => "developer",
            Role::Viewer => "viewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }

    /// Whether this role may do what `permission` guards.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => matches!(
                permission,
                ManageUsers
                    | ViewSecurity
                    | ReadRecords
                    | ReadLog
                    | ReadMetrics
                    | ManageNotifications
            ),
            Role::Qa => matches!(permission, ReadRecords | WriteRecords | Sign | ReadLog),
            Role::Developer => matches!(permission, ReadRecords | WriteRecords | Sign),
            Role::Viewer => matches!(permission, ReadRecords),
            Role::Auditor => matches!(permission, ReadRecords | ReadLog),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
