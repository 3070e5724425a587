//! A model version's lifecycle status, derived from the log rather than stored: the same
//! records always give the same status, and the status can never disagree with the evidence.

use serde::Serialize;
use serde_json::Value;

use crate::dossier::{Doc, Dossier};
use crate::gate::RELEASING_ROLE;

/// Where a model version stands, latest stage first when several apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Draft,
    InValidation,
    Validated,
    Approved,
    Released,
    Suspended,
    RevalidationRequired,
    Retired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::InValidation => "in_validation",
            Status::Validated => "validated",
            Status::Approved => "approved",
            Status::Released => "released",
            Status::Suspended => "suspended",
            Status::RevalidationRequired => "revalidation_required",
            Status::Retired => "retired",
        }
    }
}

/// An exception is open until its workflow closes or cancels it.
pub fn is_open(exception: &Doc) -> bool {
    !matches!(exception.state.as_deref(), Some("closed" | "cancelled"))
}

/// Whether an open exception puts the model versions it affects under re-validation: drift,
/// performance and data-quality exceptions (monitoring raises these on a breach).
pub fn requires_revalidation(exception: &Doc) -> bool {
    is_open(exception)
        && matches!(
            exception.text("category"),
            Some("drift" | "performance" | "data_quality")
        )
}

/// The status of `dossier.model_version`:
/// - retired: the model version is voided, or production withdrew it (undeploy) for good;
/// - suspended: an open critical exception affects it;
/// - re-validation required: an open drift, performance or data-quality exception affects it
///   (monitoring raises these on a breach), or it changed
///   after QA approved an earlier version;
/// - released: its latest production deployment deploys it;
/// - approved: QA approved its current version;
/// - validated: a result against an approved protocol passed every criterion;
/// - in validation: a protocol for it is approved, or a result was recorded;
/// - draft: none of these.
pub fn status(dossier: &Dossier) -> Status {
    let mv = &dossier.model_version;
    if mv.voided {
        return Status::Retired;
    }
    let affecting: Vec<&Doc> = dossier
        .for_version("exception", "/affected_model_versions")
        .filter(|e| is_open(e))
        .collect();
    if affecting
        .iter()
        .any(|e| e.text("severity") == Some("critical"))
    {
        return Status::Suspended;
    }
    let approved_now = mv.approval_by(RELEASING_ROLE).is_some();
    let approved_before = mv
        .signatures
        .iter()
        .any(|s| s.role == RELEASING_ROLE && s.version < mv.version);
    if affecting.iter().any(|e| requires_revalidation(e)) || (approved_before && !approved_now) {
        return Status::RevalidationRequired;
    }
    let production: Option<&Doc> = dossier
        .for_version("deployment", "/model_version")
        .filter(|d| d.text("environment") == Some("production"))
        .max_by_key(|d| d.seq);
    if let Some(deployment) = production {
        match deployment.text("action").unwrap_or("deploy") {
            "deploy" => return Status::Released,
            "undeploy" => return Status::Retired,
            _ => {}
        }
    }
    if approved_now {
        return Status::Approved;
    }
    let results: Vec<&Doc> = dossier
        .for_version("validation_result", "/model_version")
        .collect();
    if results
        .iter()
        .any(|r| r.data.get("passed").and_then(Value::as_bool) == Some(true))
    {
        return Status::Validated;
    }
    let protocol_approved = dossier
        .of_kind("validation_protocol")
        .filter(|p| {
            p.names("/model_version", &mv.id)
                || (p.text("model_version").is_none() && p.text("model") == mv.text("model"))
        })
        .any(|p| p.approval().is_some());
    if protocol_approved || !results.is_empty() {
        return Status::InValidation;
    }
    Status::Draft
}
