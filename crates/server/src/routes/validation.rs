//! Validation results over HTTP: a result is accepted only against a protocol approved by
//! signature beforehand; the server evaluates every acceptance criterion against the reported
//! metrics and checks the test data's independence from the training data, then records the
//! result with its verdicts.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::profiled::row_digests_blob;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::validation::{evaluate_result, independence, ValidationError};
use modeltrail_stats::profile::RowDigestSet;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::dossier::gather;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::routes::computed::{create, fresh_id, validate_client_data};
use crate::state::Shared;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultRequest {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The validation result as the `validation_result` schema describes it, without the
    /// fields the server computes (`criteria_results`, `passed`, `independence`).
    #[schema(value_type = Object)]
    data: Value,
    /// Why the result is recorded; optional.
    reason: Option<String>,
}

/// Record a validation result
///
/// The protocol named must be approved (a signature with meaning `approved`) before the result
/// is recorded; the server evaluates each acceptance criterion against the metrics given,
/// records each verdict with the values it used, and checks the test datasets against the
/// model version's training datasets. Metrics a criterion needs but the result lacks are a 422
/// naming them; nothing is written.
#[utoipa::path(
    post,
    operation_id = "record_validation_result",
    path = "/api/v1/validation-results",
    tag = "release",
    security(("bearer" = [])),
    request_body(content = ResultRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The validation_result record at version 1, with `criteria_results`, `passed` and `independence`, and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the protocol or model version does not exist.", body = ErrorBody),
        (status = 409, description = "`protocol_not_approved`: the protocol has no approval yet; `record_exists`: the id is taken.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: the data does not meet the schema, states a computed field, or lacks metrics the criteria need; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: ResultRequest = parse(&body)?;
    let mut data = request.data;
    validate_client_data(&state, "validation_result", &mut data)?;
    let id = fresh_id(&state, "validation_result", request.id)?;
    let protocol_id = data["protocol"].as_str().unwrap_or_default().to_owned();
    let mv_id = data["model_version"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let protocol_state = state
        .read()
        .record("validation_protocol", &protocol_id)
        .cloned()
        .filter(|p| !p.voided)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "validation_protocol `{protocol_id}` does not exist"
            ))
            .with_field("data/protocol")
        })?;
    let head = protocol_state
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let approved = protocol_state.signatures.iter().any(|s| {
        s.version == head.version && s.meaning == modeltrail_domain::signature::Meaning::Approved
    });
    if !approved {
        return Err(ApiError::conflict(
            "protocol_not_approved",
            format!(
                "validation_protocol `{protocol_id}` version {} is not approved: no result may \
                 be recorded against it until it is signed as approved",
                head.version
            ),
        )
        .with_field("data/protocol"));
    }
    let protocol = state.event(head.seq).await?.payload;
    let evaluation = evaluate_result(&protocol, &data["metrics"]).map_err(|e| match e {
        ValidationError::MissingMetrics(_) | ValidationError::DuplicateMetric { .. } => {
            ApiError::invalid("data/metrics", e.to_string())
        }
        other => ApiError::invalid("data/protocol", other.to_string()),
    })?;
    let dossier = gather(&state, &mv_id)
        .await
        .map_err(|e| e.with_field("data/model_version"))?;
    let test_ids: Vec<String> = match data.get("test_datasets").and_then(Value::as_array) {
        Some(ids) => ids
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        None => protocol
            .get("test_datasets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    };
    let mut test = Vec::new();
    for id in &test_ids {
        test.push((id.clone(), dataset_content(&state, id).await?));
    }
    let mut training = Vec::new();
    for id in dossier
        .training_dataset_ids()
        .into_iter()
        .filter(|id| !test_ids.contains(id))
    {
        let content = dataset_content(&state, &id).await?;
        training.push((id, content));
    }
    let shared_rows = shared_rows(&state, &test, &training).await?;
    let checked = independence(&test, &training, shared_rows);
    if data.get("test_datasets").is_none() && !test_ids.is_empty() {
        data["test_datasets"] = json!(test_ids);
    }
    data["criteria_results"] = json!(evaluation.criteria_results);
    data["passed"] = json!(evaluation.passed);
    data["independence"] = json!(checked);

    let answer = create(&state, &who, "validation_result", &id, data, request.reason).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Rows shared between the test and training datasets, from the row-digest sets of their
/// profiled data; `None` unless every dataset on both sides has one.
async fn shared_rows(
    state: &Shared,
    test: &[(String, Value)],
    training: &[(String, Value)],
) -> Result<Option<u64>, ApiError> {
    let digest_of = |data: &Value| row_digests_blob(data).map(str::to_owned);
    let test_sets: Option<Vec<String>> = test.iter().map(|(_, d)| digest_of(d)).collect();
    let train_sets: Option<Vec<String>> = training.iter().map(|(_, d)| digest_of(d)).collect();
    let (Some(test_sets), Some(train_sets)) = (test_sets, train_sets) else {
        return Ok(None);
    };
    if test_sets.is_empty() || train_sets.is_empty() {
        return Ok(None);
    }
    let blobs = state.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let load = |digest: &String| -> Result<RowDigestSet, ApiError> {
            let bytes = blobs
                .get(digest)
                .map_err(ApiError::internal)?
                .ok_or_else(|| {
                    ApiError::internal(format!("row-digest blob {digest} is missing"))
                })?;
            RowDigestSet::from_bytes(&bytes).map_err(ApiError::internal)
        };
        let mut shared = 0;
        for t in &test_sets {
            let t = load(t)?;
            for r in &train_sets {
                shared += t.shared_with(&load(r)?);
            }
        }
        Ok(Some(shared))
    })
    .await
    .map_err(ApiError::internal)?
}

/// The current content of a dataset version; 404 naming it when it does not exist.
async fn dataset_content(state: &Shared, id: &str) -> Result<Value, ApiError> {
    let seq = state
        .read()
        .record("dataset_version", id)
        .and_then(|r| r.head().map(|h| h.seq))
        .ok_or_else(|| ApiError::not_found(format!("dataset_version `{id}` does not exist")))?;
    Ok(state.event(seq).await?.payload)
}
