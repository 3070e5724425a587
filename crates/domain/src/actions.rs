//! The actions of the log and the payloads they carry: the contract between the server that
//! writes events and every projection, report and verifier that reads them.

use serde::{Deserialize, Serialize};

use crate::roles::Role;
use crate::signature::Meaning;

pub const USER_CREATE: &str = "user.create";
pub const USER_ROLE_CHANGE: &str = "user.role_change";
pub const USER_LOCK: &str = "user.lock";
pub const USER_UNLOCK: &str = "user.unlock";
pub const USER_PASSWORD_SET: &str = "user.password_set";
pub const AUTH_LOGIN: &str = "auth.login";
pub const AUTH_LOGIN_FAILED: &str = "auth.login_failed";
pub const AUTH_LOGOUT: &str = "auth.logout";
pub const ACCESS_DENIED: &str = "access.denied";
pub const TOKEN_ISSUE: &str = "token.issue";
pub const TOKEN_REVOKE: &str = "token.revoke";
pub const SECURITY_ALERT: &str = "security.alert";
pub const RECORD_CREATE: &str = "record.create";
pub const RECORD_UPDATE: &str = "record.update";
pub const RECORD_VOID: &str = "record.void";
pub const RECORD_SIGN: &str = "record.sign";
pub const RECORD_TRANSITION: &str = "record.transition";
pub const RECORD_SIGNATURE_REQUEST: &str = "record.signature_request";
pub const CAPA_OVERDUE: &str = "capa.overdue";
pub const WEBHOOK_SUBSCRIBE: &str = "webhook.subscribe";
pub const WEBHOOK_UNSUBSCRIBE: &str = "webhook.unsubscribe";
pub const WEBHOOK_ATTEMPT: &str = "webhook.attempt";
pub const LINEAGE_RUN_EVENT: &str = "lineage.run_event";
/// A prediction of a deployed model (`decisions::Recorded`), record `decision`/request id.
pub const DECISION_RECORD: &str = "decision.record";
/// A person's signed review of an undecided decision (`decisions::Reviewed`).
pub const DECISION_REVIEW: &str = "decision.review";
pub const REPORT_GENERATED: &str = "report.generated";
/// The report of an installation/operational qualification run (`modeltrail selftest`).
pub const SYSTEM_QUALIFICATION: &str = "system.qualification";

/// Whether a user is a person (logs in with a password) or a service account (API tokens only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    Person,
    Service,
}

/// `user.create`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserCreated {
    pub user: String,
    pub name: String,
    pub role: Role,
    pub kind: UserKind,
    /// The first password is temporary: it must be changed at the first login.
    pub must_change_password: bool,
}

/// `user.role_change`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChanged {
    pub user: String,
    pub from: Role,
    pub to: Role,
}

/// Why an account was locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockCause {
    FailedLogins,
    Administrator,
}

/// `user.lock`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserLocked {
    pub user: String,
    pub cause: LockCause,
}

/// `user.unlock`, `auth.login`, `auth.logout`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRef {
    pub user: String,
}

/// `user.password_set`: the password changed. The hash is kept beside the log, never in it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSet {
    pub user: String,
    /// Set by an administrator (a reset): temporary, to be changed at the next login.
    pub must_change: bool,
}

/// Why a login failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginFailure {
    UnknownUser,
    WrongPassword,
    Locked,
    NotAPerson,
}

/// `auth.login_failed`: the user id exactly as it was tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginFailed {
    pub username: String,
    pub failure: LoginFailure,
}

/// `access.denied`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessDenied {
    pub method: String,
    pub path: String,
    pub reason: String,
}

/// `report.generated`: a report handed out, tied to the log by the checkpoint it was drawn at
/// and to its bytes by their SHA-256 (the document is kept as a blob of that digest).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportGenerated {
    /// The id printed on every page.
    pub report_id: String,
    /// What report: `dossier`.
    pub report: String,
    pub model_version: String,
    /// `pdf` or `html`.
    pub format: String,
    /// When the report was drawn (UTC), as printed on it.
    pub generated_at: modeltrail_ledger::Timestamp,
    /// The signed checkpoint the report was drawn at.
    pub checkpoint_size: u64,
    pub checkpoint_root: String,
    pub sha256: String,
    pub bytes: u64,
    /// Pages of a PDF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<u64>,
}

/// `token.issue`: the token itself is shown once to the caller; the log holds its SHA-256.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIssued {
    pub user: String,
    pub token_id: String,
    pub digest: modeltrail_ledger::Hash,
    pub label: String,
}

/// `token.revoke`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRevoked {
    pub user: String,
    pub token_id: String,
}

/// `security.alert`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityAlert {
    pub kind: String,
    pub username: String,
    pub failures: u32,
    pub message: String,
}

/// `record.sign`: the event's `record` names the version and `target` its leaf hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub meaning: Meaning,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `record.transition`: a record moved from one workflow state to the next. The event names
/// the record at the version the step was taken on, and that version's leaf as its target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transitioned {
    pub from: String,
    pub to: String,
}
