//! Dataset data over HTTP: a dataset version's data files are uploaded one by one, each checked
//! against the digest its record declares and kept as a blob; after each, the server profiles
//! every file uploaded so far as one table (read back from the blob directory one at a time, in
//! manifest order), evaluates the readiness checks declared with the dataset against that
//! profile, and records the profile, the files it covers, the verdicts and the digest of the
//! rows' digest set as the dataset version's next version.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::criteria::{Criterion, FactError, FactsFn, Reference};
use modeltrail_domain::profiled::{profiled_files, ProfiledFile};
use modeltrail_domain::roles::Permission;
use modeltrail_stats::profile::{DataProfile, ProfileError, TableProfiler};
use modeltrail_store::blobs::BlobStore;
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
/// The body is one data file (CSV with a header row, or Parquet). Its SHA-256 must be the one
/// the dataset version declares (the manifest entry for `path`, or the content digest when
/// there is no manifest). Each upload adds a file: the server profiles every file uploaded so
/// far as one table (the same columns in the same order; CSV and Parquet may mix): rows, column
/// types, missing rates, numeric summaries and quantiles, category counts, duplicate rows across
/// files. It evaluates each readiness check's `criterion` against that profile, stores the file
/// and the row-digest set of all rows as blobs, and records the profile (its `source` lists the
/// files it covers, `row_digests` names the digest-set blob) as the dataset version's next
/// version.
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
        (status = 409, description = "`voided`: the dataset version is voided; `already_profiled`: the profile already covers this file.", body = ErrorBody),
        (status = 413, description = "`too_large`: the file is larger than the upload limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: the file is not CSV or Parquet, is empty or malformed, does not match the declared digest, or its columns differ from the other files' (named); `field` names the part at fault. Nothing is recorded.", body = ErrorBody),
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
    let mut files = profiled_files(&data);
    if let Some(earlier) = files.iter().find(|file| file.path == path) {
        return Err(ApiError::conflict(
            "already_profiled",
            format!(
                "{path} is already profiled for dataset_version `{id}` (as {}); the profile \
                 covers {}",
                earlier.sha256,
                files
                    .iter()
                    .map(|file| file.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    files.push(ProfiledFile {
        path: path.clone(),
        sha256: sha256.clone(),
        bytes: body.len() as u64,
    });
    let order = manifest_order(&data);
    files.sort_by_key(|file| order.iter().position(|listed| *listed == file.path));

    let blobs = state.blobs.clone();
    let table_files = files.clone();
    let (profile, row_digests) =
        tokio::task::spawn_blocking(move || profile_files(&blobs, &table_files, &sha256, &body))
            .await
            .map_err(ApiError::internal)??;

    let checks = evaluate_checks(&data, &profile);
    let mut profile_json = json!(profile);
    profile_json["source"] = Value::Array(files.iter().map(ProfiledFile::to_json).collect());
    profile_json["row_digests"] = json!(row_digests);
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
        .unwrap_or_else(|| {
            format!(
                "data profiled by the server from {} file(s), {path} added",
                files.len()
            )
        });
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

/// The manifest's paths in its order (empty without a manifest).
fn manifest_order(data: &Value) -> Vec<String> {
    data.get("manifest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("path").and_then(Value::as_str))
        .map(str::to_owned)
        .collect()
}

/// Profiles `files` as one table, reading each from the blob directory (one at a time) except
/// the one just uploaded (`body`, SHA-256 `sha256`); when it profiles, stores the upload and the
/// row-digest set of all rows, returning the profile and the digest set's blob digest. Nothing
/// is stored when profiling fails.
fn profile_files(
    blobs: &BlobStore,
    files: &[ProfiledFile],
    sha256: &str,
    body: &[u8],
) -> Result<(DataProfile, String), ApiError> {
    let mut table = TableProfiler::new();
    for file in files {
        let refused = |e: ProfileError| match e {
            ProfileError::ColumnsDiffer { .. } => ApiError::invalid("body", e.to_string()),
            _ => ApiError::invalid("body", format!("the data file {}: {e}", file.path)),
        };
        table = if file.sha256 == sha256 {
            table.add(&file.path, body).map_err(refused)?
        } else {
            let stored = blobs
                .get(&file.sha256)
                .map_err(ApiError::internal)?
                .ok_or_else(|| {
                    ApiError::internal(format!(
                        "the blob of profiled data file {} ({}) is missing",
                        file.path, file.sha256
                    ))
                })?;
            table.add(&file.path, &stored).map_err(refused)?
        };
    }
    let profiled = table
        .finish()
        .map_err(|e| ApiError::invalid("body", format!("the data: {e}")))?;
    blobs.put(body).map_err(ApiError::internal)?;
    let digests = blobs
        .put(&profiled.digests.to_bytes())
        .map_err(ApiError::internal)?;
    Ok((profiled.profile, digests))
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
