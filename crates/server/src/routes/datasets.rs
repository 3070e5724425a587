//! Dataset data over HTTP: a dataset version's data file is uploaded, checked against the
//! digest its record declares, kept as a blob, and profiled by the server; the readiness checks
//! declared with the dataset are evaluated against the profile, and the profile, the verdicts
//! and the digest of the file's row-digest set become the dataset version's next version.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::criteria::{Criterion, FactError, FactsFn, Reference};
use modeltrail_domain::roles::Permission;
use modeltrail_stats::profile::{profile_with_digests, DataProfile};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::routes::records::NextVersion;
use crate::state::Shared;

/// The upload route; it takes the larger upload body limit.
pub const UPLOAD_PATH: &str = "/api/v1/dataset-versions/{id}/data";

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's path in the dataset's manifest (required when it has a manifest).
    path: Option<String>,
    /// Why the data is uploaded; a default reason is recorded otherwise.
    reason: Option<String>,
}

/// Upload and profile a dataset version's data
///
/// The body is the data file itself (CSV with a header row, or Parquet). Its SHA-256 must be
/// the one the dataset version declares (the manifest entry for `path`, or the content digest
/// when there is no manifest). The server profiles it (rows, column types, missing rates,
/// numeric summaries and quantiles, category counts, duplicate rows), evaluates each readiness
/// check's `criterion` against the profile, stores the file and its row-digest set as blobs,
/// and records all of it as the dataset version's next version.
#[utoipa::path(
    post,
    operation_id = "upload_dataset_data",
    path = "/api/v1/dataset-versions/{id}/data",
    tag = "release",
    security(("bearer" = [])),
    params(("id", description = "The dataset_version record id."), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The CSV or Parquet file."),
    responses(
        (status = 200, description = "The dataset version's new version, with `profile` and evaluated `quality_checks`, and the `receipt`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such dataset version.", body = ErrorBody),
        (status = 409, description = "`voided`: the dataset version is voided; `already_profiled`: it was profiled from another file.", body = ErrorBody),
        (status = 413, description = "`too_large`: the file is larger than the upload limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: the file is not CSV or Parquet, is empty or malformed, or does not match the declared digest; `field` names the part at fault.", body = ErrorBody),
    ),
)]
pub async fn upload(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let record = state
        .read()
        .record("dataset_version", &id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("dataset_version `{id}` does not exist")))?;
    if record.voided {
        return Err(ApiError::conflict(
            "voided",
            format!("dataset_version `{id}` is voided"),
        ));
    }
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?
        .clone();
    let mut data = state.event(head.seq).await?.payload;
    let sha256 = hex::encode(Sha256::digest(&body));
    let path = declared_path(&data, query.path.as_deref(), &sha256)?;
    if let Some(earlier) = data.pointer("/profile/source/path").and_then(Value::as_str) {
        if earlier != path {
            return Err(ApiError::conflict(
                "already_profiled",
                format!(
                    "dataset_version `{id}` was profiled from {earlier}; a dataset version is \
                     profiled from one data file: register {path} as a dataset version of its own"
                ),
            ));
        }
    }

    let blobs = state.blobs.clone();
    let (profile, row_digests) = tokio::task::spawn_blocking(move || {
        let profiled = profile_with_digests(&body)
            .map_err(|e| ApiError::invalid("body", format!("the data file: {e}")))?;
        blobs.put(&body).map_err(ApiError::internal)?;
        let digests = blobs
            .put(&profiled.digests.to_bytes())
            .map_err(ApiError::internal)?;
        Ok::<_, ApiError>((profiled.profile, digests))
    })
    .await
    .map_err(ApiError::internal)??;

    let checks = evaluate_checks(&data, &profile);
    let mut profile_json = json!(profile);
    profile_json["source"] = json!({
        "path": path,
        "sha256": sha256,
        "bytes": body_len(&data, &path).unwrap_or_default(),
        "row_digests": row_digests,
    });
    data["profile"] = profile_json;
    if let Some(checks) = checks {
        data["quality_checks"] = checks;
    }
    let next = NextVersion {
        kind: "dataset_version",
        id: &id,
        head: &head,
    };
    let reason = query
        .reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| format!("data profiled by the server from {path} ({sha256})"));
    let answer = next
        .append(&state, &who, actions::RECORD_UPDATE, data, reason)
        .await?;
    Ok(Json(answer))
}

/// The manifest path the upload is, checked against the declared digest.
fn declared_path(data: &Value, path: Option<&str>, sha256: &str) -> Result<String, ApiError> {
    let manifest = data
        .get("manifest")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty());
    let Some(manifest) = manifest else {
        let declared = data
            .get("content_digest")
            .and_then(Value::as_str)
            .unwrap_or("");
        if declared != sha256 {
            return Err(ApiError::invalid(
                "body",
                format!(
                    "the uploaded bytes hash to {sha256}, but the dataset version's content \
                     digest is {declared} (a dataset version without a manifest is one file)"
                ),
            ));
        }
        return Ok(path.unwrap_or("data").to_owned());
    };
    let listed: Vec<&str> = manifest
        .iter()
        .filter_map(|f| f.get("path").and_then(Value::as_str))
        .collect();
    let Some(path) = path else {
        return Err(ApiError::invalid(
            "path",
            format!(
                "name the manifest file this is with ?path=; the manifest lists {}",
                listed.join(", ")
            ),
        ));
    };
    let entry = manifest
        .iter()
        .find(|f| f.get("path").and_then(Value::as_str) == Some(path))
        .ok_or_else(|| {
            ApiError::invalid(
                "path",
                format!(
                    "the manifest has no file {path}; it lists {}",
                    listed.join(", ")
                ),
            )
        })?;
    let declared = entry.get("sha256").and_then(Value::as_str).unwrap_or("");
    if declared != sha256 {
        return Err(ApiError::invalid(
            "body",
            format!(
                "the uploaded bytes hash to {sha256}, but the manifest declares {declared} for \
                 {path}"
            ),
        ));
    }
    Ok(path.to_owned())
}

/// The size the manifest declares for `path`, if any.
fn body_len(data: &Value, path: &str) -> Option<u64> {
    data.get("manifest")?
        .as_array()?
        .iter()
        .find(|f| f.get("path").and_then(Value::as_str) == Some(path))?
        .get("size_bytes")?
        .as_u64()
}

/// Each declared readiness check with a criterion, evaluated against the profile: `passed`, the
/// values used, and why when it could not be evaluated (which fails it).
fn evaluate_checks(data: &Value, profile: &DataProfile) -> Option<Value> {
    let checks = data.get("quality_checks")?.as_array()?;
    let facts = FactsFn(|reference: &Reference| {
        let column = reference.args().first().map(|arg| match arg {
            modeltrail_domain::criteria::Arg::Name(name) => name.clone(),
            modeltrail_domain::criteria::Arg::Number(n) => n.to_string(),
        });
        profile
            .fact(reference.name(), column.as_deref())
            .map_err(|e| FactError::Unavailable(e.to_string()))
    });
    let evaluated = checks
        .iter()
        .map(|check| {
            let mut check = check.clone();
            let Some(text) = check.get("criterion").and_then(Value::as_str) else {
                return check;
            };
            let outcome = Criterion::parse(text)
                .map_err(|e| e.to_string())
                .and_then(|c| c.evaluate(&facts).map_err(|e| e.to_string()));
            match outcome {
                Ok(evaluation) => {
                    check["passed"] = json!(evaluation.passed);
                    check["values"] = json!(evaluation.values);
                }
                Err(why) => {
                    check["passed"] = json!(false);
                    check["details"] = json!(format!("could not be evaluated: {why}"));
                }
            }
            check
        })
        .collect();
    Some(Value::Array(evaluated))
}
