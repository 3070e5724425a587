//! The current state the server answers from, rebuilt from the log: users and their standing,
//! API tokens, records with their versions and signatures, security alerts. It is a pure fold
//! over events in log order; the log stays the only truth, and replaying it gives the same state.

use modeltrail_ledger::event::{Actor, Event};
use modeltrail_ledger::{Hash, Timestamp};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::actions::{self, LockCause, UserKind};
use crate::decisions::Decisions;
use crate::dossier::references;
use crate::lineage::Lineage;
use crate::mlflow::MlflowState;
use crate::notifications::Notifications;
use crate::roles::Role;
use crate::signature::{Manifestation, Meaning};
use crate::workflow::machine;

/// A user as the log has made them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub kind: UserKind,
    pub locked: bool,
    pub must_change_password: bool,
    pub password_set_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Consecutive failed logins since the last success or unlock.
    pub failed_logins: u32,
    pub last_login: Option<Timestamp>,
}

/// An API token, found by the digest of its secret.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ApiToken {
    pub token_id: String,
    pub user: String,
    pub label: String,
    pub issued_at: Timestamp,
    pub revoked: bool,
}

/// One version of a record: who, what, when, why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionInfo {
    pub version: u64,
    pub seq: u64,
    pub leaf: Hash,
    pub timestamp: Timestamp,
    pub action: String,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One workflow step a record took: from which state to which, on which version, by whom.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransitionInfo {
    pub from: String,
    pub to: String,
    /// The record's version the step was taken on.
    pub version: u64,
    pub seq: u64,
    pub timestamp: Timestamp,
    pub actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A record: its versions in order, every signature on any of them and, for kinds with a
/// workflow, its state and the steps that led there.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordState {
    pub kind: String,
    pub id: String,
    pub voided: bool,
    pub versions: Vec<VersionInfo>,
    pub signatures: Vec<Manifestation>,
    /// The workflow state, for kinds that have a workflow (`workflow::machine`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<TransitionInfo>,
    /// Signatures asked of users, on any version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signature_requests: Vec<SignatureRequestInfo>,
}

/// A signature someone asked of a user: on which version, with which meaning.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignatureRequestInfo {
    pub signer: String,
    pub meaning: Meaning,
    pub version: u64,
    pub seq: u64,
    pub requested_at: Timestamp,
    pub requested_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl RecordState {
    /// The latest version.
    pub fn head(&self) -> Option<&VersionInfo> {
        self.versions.last()
    }

    /// Whether the signature asked for has been given (by that signer, with that meaning, on
    /// that version).
    pub fn fulfils(&self, request: &SignatureRequestInfo) -> bool {
        self.signatures.iter().any(|s| {
            s.signer == request.signer
                && s.meaning == request.meaning
                && s.version == request.version
        })
    }

    pub fn version(&self, version: u64) -> Option<&VersionInfo> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.versions.get(index)
    }
}

/// A security alert raised for administrators.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub seq: u64,
    pub timestamp: Timestamp,
    pub kind: String,
    pub username: String,
    pub failures: u32,
    pub message: String,
}

/// An event the projection cannot read: the log holds something the server never writes.
#[derive(Debug, thiserror::Error)]
#[error("seq {seq} ({action}): {problem}")]
pub struct ProjectionError {
    pub seq: u64,
    pub action: String,
    pub problem: String,
}

/// The state folded from the log.
#[derive(Debug, Default)]
pub struct Projection {
    users: BTreeMap<String, User>,
    tokens: HashMap<Hash, ApiToken>,
    records: BTreeMap<(String, String), RecordState>,
    /// (kind, id) of a record -> the records whose content has named it at some version (kind
    /// `""` for fields that may name any kind). Readers re-check the content.
    referrers: HashMap<(String, String), BTreeSet<(String, String)>>,
    alerts: Vec<Alert>,
    /// Consecutive failures per user id tried, verbatim, whether or not it exists.
    failures: HashMap<String, u32>,
    /// The MLflow tracking and registry state (`mlflow.*` events).
    mlflow: MlflowState,
    /// Webhook subscriptions, deliveries and overdue reminders.
    notifications: Notifications,
    /// OpenLineage jobs, runs and datasets, and their links to records.
    lineage: Lineage,
    /// Every decision record, compactly: queries, the review queue, statistics.
    decisions: Decisions,
    size: u64,
}

impl Projection {
    pub fn new() -> Projection {
        Projection::default()
    }

    /// The MLflow view: experiments, runs, logged models, artifacts, the model registry.
    pub fn mlflow(&self) -> &MlflowState {
        &self.mlflow
    }

    /// Webhook subscriptions and deliveries: the notification outbox.
    pub fn notifications(&self) -> &Notifications {
        &self.notifications
    }

    /// OpenLineage jobs, runs and datasets (`lineage.run_event`), linked to records.
    pub fn lineage(&self) -> &Lineage {
        &self.lineage
    }

    /// Decision records and their reviews.
    pub fn decisions(&self) -> &Decisions {
        &self.decisions
    }

    /// Events applied so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn token(&self, digest: &Hash) -> Option<&ApiToken> {
        self.tokens.get(digest)
    }

    pub fn tokens_of<'a>(&'a self, user: &'a str) -> impl Iterator<Item = &'a ApiToken> + 'a {
        self.tokens.values().filter(move |t| t.user == user)
    }

    pub fn record(&self, kind: &str, id: &str) -> Option<&RecordState> {
        self.records.get(&(kind.to_owned(), id.to_owned()))
    }

    /// Records of one type, by id, starting after `after`.
    pub fn records_of<'a>(
        &'a self,
        kind: &'a str,
        after: Option<&'a str>,
    ) -> impl Iterator<Item = &'a RecordState> + 'a {
        let start = (kind.to_owned(), after.unwrap_or("").to_owned());
        self.records
            .range(start..)
            .take_while(move |((k, _), _)| k == kind)
            .filter(move |((_, id), _)| Some(id.as_str()) != after)
            .map(|(_, r)| r)
    }

    /// The records whose content has named record (`kind`, `id`) (kind `""`: fields that may
    /// name any kind), in kind and id order.
    pub fn referrers(&self, kind: &str, id: &str) -> impl Iterator<Item = &RecordState> {
        self.referrers
            .get(&(kind.to_owned(), id.to_owned()))
            .into_iter()
            .flatten()
            .filter_map(|key| self.records.get(key))
    }

    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }

    /// Consecutive failed logins for a user id as tried.
    pub fn failures(&self, username: &str) -> u32 {
        self.failures.get(username).copied().unwrap_or(0)
    }

    /// Folds one event in. Events must come in log order; actions this projection does not
    /// know are counted and otherwise left alone.
    pub fn apply(&mut self, event: &Event, leaf: Hash) -> Result<(), ProjectionError> {
        let err = |problem: String| ProjectionError {
            seq: event.seq,
            action: event.action.clone(),
            problem,
        };
        if event.seq != self.size {
            return Err(err(format!("expected seq {}", self.size)));
        }
        self.size += 1;
        let at = event.timestamp;
        self.notifications
            .apply(event)
            .map_err(|e| err(e.to_string()))?;
        match event.action.as_str() {
            actions::USER_CREATE => {
                let p: actions::UserCreated = payload(event).map_err(err)?;
                self.users.insert(
                    p.user.clone(),
                    User {
                        id: p.user,
                        name: p.name,
                        role: p.role,
                        kind: p.kind,
                        locked: false,
                        must_change_password: p.must_change_password,
                        password_set_at: (p.kind == UserKind::Person).then_some(at),
                        created_at: at,
                        failed_logins: 0,
                        last_login: None,
                    },
                );
            }
            actions::USER_ROLE_CHANGE => {
                let p: actions::RoleChanged = payload(event).map_err(err)?;
                self.user_mut(&p.user).map_err(err)?.role = p.to;
            }
            actions::USER_LOCK => {
                let p: actions::UserLocked = payload(event).map_err(err)?;
                let user = self.user_mut(&p.user).map_err(err)?;
                user.locked = true;
                if p.cause == LockCause::Administrator {
                    user.failed_logins = 0;
                }
            }
            actions::USER_UNLOCK => {
                let p: actions::UserRef = payload(event).map_err(err)?;
                let user = self.user_mut(&p.user).map_err(err)?;
                user.locked = false;
                user.failed_logins = 0;
                self.failures.remove(&p.user);
            }
            actions::USER_PASSWORD_SET => {
                let p: actions::PasswordSet = payload(event).map_err(err)?;
                let user = self.user_mut(&p.user).map_err(err)?;
                user.password_set_at = Some(at);
                user.must_change_password = p.must_change;
            }
            actions::AUTH_LOGIN => {
                let p: actions::UserRef = payload(event).map_err(err)?;
                let user = self.user_mut(&p.user).map_err(err)?;
                user.failed_logins = 0;
                user.last_login = Some(at);
                self.failures.remove(&p.user);
            }
            actions::AUTH_LOGIN_FAILED => {
                let p: actions::LoginFailed = payload(event).map_err(err)?;
                *self.failures.entry(p.username.clone()).or_insert(0) += 1;
                if let Some(user) = self.users.get_mut(&p.username) {
                    user.failed_logins += 1;
                }
            }
            actions::TOKEN_ISSUE => {
                let p: actions::TokenIssued = payload(event).map_err(err)?;
                self.user_mut(&p.user).map_err(err)?;
                self.tokens.insert(
                    p.digest,
                    ApiToken {
                        token_id: p.token_id,
                        user: p.user,
                        label: p.label,
                        issued_at: at,
                        revoked: false,
                    },
                );
            }
            actions::TOKEN_REVOKE => {
                let p: actions::TokenRevoked = payload(event).map_err(err)?;
                let token = self
                    .tokens
                    .values_mut()
                    .find(|t| t.token_id == p.token_id && t.user == p.user)
                    .ok_or_else(|| err(format!("no token {} of {}", p.token_id, p.user)))?;
                token.revoked = true;
            }
            actions::SECURITY_ALERT => {
                let p: actions::SecurityAlert = payload(event).map_err(err)?;
                self.alerts.push(Alert {
                    seq: event.seq,
                    timestamp: at,
                    kind: p.kind,
                    username: p.username,
                    failures: p.failures,
                    message: p.message,
                });
            }
            actions::DECISION_RECORD | actions::DECISION_REVIEW => {
                self.decisions.apply(event).map_err(err)?
            }
            a if a.starts_with("mlflow.") => self.mlflow.apply(event).map_err(err)?,
            actions::LINEAGE_RUN_EVENT => self
                .lineage
                .apply_run_event(event)
                .map_err(|e| err(e.to_string()))?,
            actions::RECORD_CREATE | actions::RECORD_UPDATE | actions::RECORD_VOID => {
                let record = event
                    .record
                    .as_ref()
                    .ok_or_else(|| err("a record event names no record".into()))?;
                let key = (record.kind.clone(), record.id.clone());
                let state = self.records.entry(key).or_insert_with(|| RecordState {
                    kind: record.kind.clone(),
                    id: record.id.clone(),
                    voided: false,
                    versions: Vec::new(),
                    signatures: Vec::new(),
                    workflow: machine(&record.kind).map(|m| m.initial.to_owned()),
                    transitions: Vec::new(),
                    signature_requests: Vec::new(),
                });
                if record.version != state.versions.len() as u64 + 1 {
                    return Err(err(format!(
                        "version {} does not follow version {}",
                        record.version,
                        state.versions.len()
                    )));
                }
                state.voided = event.action == actions::RECORD_VOID;
                let content = match state.voided {
                    true => &serde_json::Value::Null,
                    false => &event.payload,
                };
                self.lineage.apply_record(&record.kind, &record.id, content);
                if event.action != actions::RECORD_VOID {
                    for (kind, id) in references(&event.payload) {
                        self.referrers
                            .entry((kind.to_owned(), id.to_owned()))
                            .or_default()
                            .insert((record.kind.clone(), record.id.clone()));
                    }
                }
                state.versions.push(VersionInfo {
                    version: record.version,
                    seq: event.seq,
                    leaf,
                    timestamp: at,
                    action: event.action.clone(),
                    actor: event.actor.clone(),
                    reason: event.reason.clone(),
                });
            }
            actions::RECORD_SIGN => {
                let p: actions::Signed = payload(event).map_err(err)?;
                let record = event
                    .record
                    .as_ref()
                    .ok_or_else(|| err("a signature names no record".into()))?;
                let target = event
                    .target
                    .ok_or_else(|| err("a signature names no signed leaf".into()))?;
                let state = self
                    .records
                    .get_mut(&(record.kind.clone(), record.id.clone()))
                    .ok_or_else(|| err("a signature of a record not in the log".into()))?;
                state.signatures.push(Manifestation {
                    signer: event.actor.id.clone(),
                    name: event.actor.name.clone(),
                    role: event.actor.role.clone(),
                    meaning: p.meaning,
                    signed_at: at,
                    version: record.version,
                    leaf: target,
                    seq: event.seq,
                    comment: p.comment,
                });
            }
            actions::RECORD_TRANSITION => {
                let p: actions::Transitioned = payload(event).map_err(err)?;
                let record = event
                    .record
                    .as_ref()
                    .ok_or_else(|| err("a transition names no record".into()))?;
                let state = self
                    .records
                    .get_mut(&(record.kind.clone(), record.id.clone()))
                    .ok_or_else(|| err("a transition of a record not in the log".into()))?;
                if state.workflow.as_deref() != Some(p.from.as_str()) {
                    return Err(err(format!(
                        "a step from `{}` while the record is {:?}",
                        p.from, state.workflow
                    )));
                }
                state.workflow = Some(p.to.clone());
                state.transitions.push(TransitionInfo {
                    from: p.from,
                    to: p.to,
                    version: record.version,
                    seq: event.seq,
                    timestamp: at,
                    actor: event.actor.clone(),
                    reason: event.reason.clone(),
                });
            }
            actions::RECORD_SIGNATURE_REQUEST => {
                let p: crate::notifications::SignatureRequested = payload(event).map_err(err)?;
                let record = event
                    .record
                    .as_ref()
                    .ok_or_else(|| err("a signature request names no record".into()))?;
                let state = self
                    .records
                    .get_mut(&(record.kind.clone(), record.id.clone()))
                    .ok_or_else(|| err("a signature request of a record not in the log".into()))?;
                state.signature_requests.push(SignatureRequestInfo {
                    signer: p.signer,
                    meaning: p.meaning,
                    version: record.version,
                    seq: event.seq,
                    requested_at: at,
                    requested_by: event.actor.id.clone(),
                    comment: p.comment,
                });
            }
            _ => {}
        }
        Ok(())
    }

    fn user_mut(&mut self, id: &str) -> Result<&mut User, String> {
        self.users
            .get_mut(id)
            .ok_or_else(|| format!("no user `{id}`"))
    }
}

fn payload<T: DeserializeOwned>(event: &Event) -> Result<T, String> {
    T::deserialize(&event.payload).map_err(|e| format!("payload: {e}"))
}

/// Whether `signer` may sign `version` of `record` with `meaning`: nobody approves a version
/// they wrote or signed as its author, and nobody signs the same version twice with one meaning.
pub fn check_signature(
    record: &RecordState,
    version: u64,
    signer: &str,
    meaning: Meaning,
) -> Result<(), crate::signature::SignatureRefused> {
    use crate::signature::SignatureRefused;
    let on_version = || record.signatures.iter().filter(|s| s.version == version);
    if on_version().any(|s| s.signer == signer && s.meaning == meaning) {
        return Err(SignatureRefused::Duplicate {
            signer: signer.to_owned(),
            version,
            meaning,
        });
    }
    if meaning == Meaning::Approved {
        let wrote = record
            .version(version)
            .is_some_and(|v| v.actor.id == signer);
        let signed_as_author =
            on_version().any(|s| s.signer == signer && s.meaning == Meaning::Authored);
        if wrote || signed_as_author {
            return Err(SignatureRefused::ApproverIsAuthor {
                signer: signer.to_owned(),
                version,
            });
        }
    }
    Ok(())
}
