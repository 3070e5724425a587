//! MLflow entities mirrored into modeltrail's records, so the lifecycle and the release gate
//! see them: a run is a `training_run` record (`mlflow-run-<run id>`: created with the run,
//! updated with its parameters, metrics, tags and datasets when it ends); a registered model is
//! the `model` record whose `name` is the same (created in modeltrail, with its intended use
//! and risk, never invented here); a version of such a model is a `model_version` record with
//! the SHA-256 of each of its artifact files and its run as lineage.

use modeltrail_domain::actions;
use modeltrail_domain::mlflow::{MlflowState, Run};
use modeltrail_ledger::event::{EventDraft, RecordRef};
use modeltrail_ledger::Timestamp;
use serde_json::{json, Value};

use super::wire::MlflowError;
use crate::auth::Principal;
use crate::state::Shared;

pub fn run_record_id(run_id: &str) -> String {
    format!("mlflow-run-{run_id}")
}

fn rfc3339(ms: i64) -> String {
    Timestamp::from_micros(ms.saturating_mul(1000)).to_string()
}

fn status(mlflow: &str) -> &'static str {
    match mlflow {
        "SCHEDULED" => "scheduled",
        "FINISHED" => "finished",
        "FAILED" => "failed",
        "KILLED" => "killed",
        _ => "running",
    }
}

/// Whether a run status ends the run.
pub fn terminal(status: &str) -> bool {
    matches!(status, "FINISHED" | "FAILED" | "KILLED")
}

/// The training_run content for a run as it stands.
pub fn run_data(state: &Shared, mlflow: &MlflowState, run: &Run) -> Value {
    let experiment = mlflow
        .experiment(&run.experiment_id)
        .map_or_else(|| run.experiment_id.clone(), |e| e.name.clone());
    let mut data = json!({
        "name": if run.name.is_empty() { run.id.clone() } else { run.name.chars().take(250).collect() },
        "experiment": experiment,
        "mlflow_run_id": run.id,
        "status": status(&run.status),
        "started_at": rfc3339(run.start_time),
    });
    if let Some(end) = run.end_time {
        data["ended_at"] = json!(rfc3339(end));
    }
    let params: Vec<Value> = run
        .params
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    if !params.is_empty() {
        data["parameters"] = json!(params);
    }
    let metrics: Vec<Value> = run
        .metrics
        .values()
        .flatten()
        .filter(|m| m.value.0.is_finite())
        .map(|m| {
            let mut v =
                json!({"key": m.key, "value": m.value.0, "timestamp": rfc3339(m.timestamp)});
            if m.step >= 0 {
                v["step"] = json!(m.step);
            }
            v
        })
        .collect();
    if !metrics.is_empty() {
        data["metrics"] = json!(metrics);
    }
    let tags: Vec<Value> = run
        .tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    if !tags.is_empty() {
        data["tags"] = json!(tags);
    }
    // A dataset logged under the id of a dataset_version record is that version.
    let projection = state.read();
    let inputs: Vec<Value> = run
        .inputs
        .iter()
        .filter(|i| {
            projection
                .record("dataset_version", &i.dataset.name)
                .is_some_and(|r| !r.voided)
        })
        .map(|i| {
            let context = i
                .tags
                .iter()
                .find(|t| t.key == "mlflow.data.context")
                .map(|t| t.value.as_str());
            let mut v = json!({"dataset_version": i.dataset.name});
            let role = match context {
                Some("training" | "train") => Some("training"),
                Some("validation" | "eval") => Some("validation"),
                Some("test" | "testing") => Some("test"),
                Some("calibration") => Some("calibration"),
                _ => None,
            };
            if let Some(role) = role {
                v["role"] = json!(role);
            }
            v
        })
        .collect();
    if !inputs.is_empty() {
        data["input_datasets"] = json!(inputs);
    }
    data
}

/// Version 1 of a record, by `who`.
pub fn create_draft(
    who: &Principal,
    kind: &str,
    id: &str,
    data: Value,
    reason: &str,
) -> EventDraft {
    let mut draft = who.draft(actions::RECORD_CREATE, data);
    draft.record = Some(RecordRef {
        kind: kind.into(),
        id: id.into(),
        version: 1,
    });
    draft.reason = Some(reason.into());
    draft
}

/// The next version of a record with `data`, or nothing when it would not change.
pub async fn update_draft(
    state: &Shared,
    who: &Principal,
    kind: &str,
    id: &str,
    data: Value,
    reason: &str,
) -> Result<Option<EventDraft>, MlflowError> {
    let head = state
        .read()
        .record(kind, id)
        .filter(|r| !r.voided)
        .and_then(|r| r.head().cloned());
    let Some(head) = head else {
        return Ok(None);
    };
    if state.event(head.seq).await?.payload == data {
        return Ok(None);
    }
    state
        .record_types
        .validate(kind, &data)
        .map_err(|e| MlflowError::invalid(format!("the {kind} record would not be valid: {e}")))?;
    let mut draft = who.draft(actions::RECORD_UPDATE, data);
    draft.record = Some(RecordRef {
        kind: kind.into(),
        id: id.into(),
        version: head.version + 1,
    });
    draft.prev = Some(head.leaf);
    draft.reason = Some(reason.into());
    Ok(Some(draft))
}

/// The `model` record named `name`, if modeltrail has one.
pub async fn model_record(state: &Shared, name: &str) -> Result<Option<String>, MlflowError> {
    let heads: Vec<(String, u64)> = state
        .read()
        .records_of("model", None)
        .filter(|r| !r.voided)
        .filter_map(|r| r.head().map(|h| (r.id.clone(), h.seq)))
        .collect();
    for (id, seq) in heads {
        if state.event(seq).await?.payload["name"] == name {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// A record id for an MLflow model version: letters, digits and `._-:` only.
pub fn version_record_id(state: &Shared, name: &str, version: u64) -> Result<String, MlflowError> {
    let clean: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "._-".contains(c) {
            true => c,
            false => '_',
        })
        .take(80)
        .collect();
    let id = format!("mlflow:{clean}:v{version}");
    if state.read().record("model_version", &id).is_none() {
        return Ok(id);
    }
    modeltrail_domain::identity::new_id()
        .map(|random| format!("mlflow:{random}"))
        .map_err(|e| MlflowError::from(crate::error::ApiError::internal(e)))
}
