//! Creating records whose computed fields the server fills in: the client's part is checked
//! against the schema and for stated verdicts first, the id is checked free, and version 1 is
//! appended once the server has computed the rest (and checked the whole against the schema).

use modeltrail_domain::actions;
use modeltrail_domain::identity::new_id;
use modeltrail_ledger::event::RecordRef;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::{Receipt, Shared};

/// Checks the client's part of a record: its schema, and that it states no computed field.
pub(crate) fn validate_client_data(
    state: &Shared,
    kind: &str,
    data: &mut Value,
) -> Result<(), ApiError> {
    state
        .record_types
        .validate(kind, data)
        .map_err(|e| match e {
            modeltrail_domain::schemas::SchemaError::Invalid { field, message } => {
                ApiError::invalid(format!("data{field}"), message)
            }
            other => ApiError::internal(other),
        })?;
    modeltrail_domain::computed::prepare_client_data(kind, data)
        .map_err(|e| ApiError::invalid(format!("data{}", e.field()), e.to_string()))
}

/// The id asked for, or a new one; 409 when it is taken.
pub(crate) fn fresh_id(state: &Shared, kind: &str, id: Option<String>) -> Result<String, ApiError> {
    let id = match id {
        Some(id) => id,
        None => new_id().map_err(ApiError::internal)?,
    };
    if state.read().record(kind, &id).is_some() {
        return Err(ApiError::conflict(
            "record_exists",
            format!("{kind} `{id}` already exists"),
        ));
    }
    Ok(id)
}

/// 404 (naming `data/model_version`) unless the model version named exists and is not voided.
pub(crate) fn model_version_exists(state: &Shared, data: &Value) -> Result<(), ApiError> {
    let id = data["model_version"].as_str().unwrap_or_default();
    match state.read().record("model_version", id) {
        Some(r) if !r.voided => Ok(()),
        _ => Err(
            ApiError::not_found(format!("model_version `{id}` does not exist"))
                .with_field("data/model_version"),
        ),
    }
}

/// Appends version 1 of a record whose computed fields the server has filled in.
pub(crate) async fn create(
    state: &Shared,
    who: &Principal,
    kind: &str,
    id: &str,
    data: Value,
    reason: Option<String>,
) -> Result<Value, ApiError> {
    state.record_types.validate(kind, &data).map_err(|e| {
        ApiError::internal(format!("computed {kind} does not meet its schema: {e}"))
    })?;
    let mut draft = who.draft(actions::RECORD_CREATE, data.clone());
    draft.record = Some(RecordRef {
        kind: kind.into(),
        id: id.into(),
        version: 1,
    });
    draft.reason = reason.filter(|r| !r.trim().is_empty());
    let appended = state.sequencer.append(draft).await?;
    Ok(json!({
        "type": kind,
        "id": id,
        "version": 1,
        "data": data,
        "receipt": Receipt::of(std::slice::from_ref(&appended)),
    }))
}
