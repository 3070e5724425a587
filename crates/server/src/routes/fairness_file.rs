//! Fairness assessments computed from a data file: `POST /api/v1/fairness-assessments/file`
//! takes `multipart/form-data` with a `record` part (the assessment, as for the JSON upload, and
//! which columns hold the labels, predictions and sensitive attributes) and a `file` part (CSV
//! with a header row, or Parquet). The server reads the columns (`modeltrail_stats::fairness_file`),
//! computes the figures and evaluates the criteria as the JSON upload does, keeps the file and
//! the full report as blobs, and records the file's name, SHA-256, size, format and the column
//! mapping in the assessment's `data.source`, so a reviewer can trace every figure to the file.
//!
//! This module owns: reading the two parts (each at most once, no other part), the mapping of
//! the file reader's errors onto 4xx answers that name the part or column at fault, and the
//! route's documentation. The file is spooled to a blob draft as it arrives and read mapped;
//! it is stored (and the record appended) only when every check has passed.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::roles::Permission;
use modeltrail_stats::fairness_file::{assess_file, FairnessColumns, FairnessFileError};
use modeltrail_stats::profile::Format;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::routes::assessments::{positive_label, record_figures, sensitive_attributes};
use crate::routes::computed::{create, fresh_id, model_version_exists, validate_client_data};
use crate::state::Shared;
use modeltrail_store::blobs::{BlobDraft, BlobStore};

/// The file route; it takes the larger upload body limit.
pub const FILE_PATH: &str = "/api/v1/fairness-assessments/file";

/// The longest file name kept in the record.
const MAX_NAME_CHARS: usize = 255;

/// The `record` part: the assessment and where its inputs are in the file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FairnessFileRecord {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The assessment as the `fairness_assessment` schema describes it, without the computed
    /// fields (`rows`, `groups`, `disparities`, `criteria_results`, `passed`, `data`).
    #[schema(value_type = Object)]
    data: Value,
    /// Which columns of the file hold what.
    columns: FileColumns,
    /// Why the assessment is recorded; optional.
    reason: Option<String>,
}

/// Which columns of the file hold the inputs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileColumns {
    /// The column of true labels.
    labels: String,
    /// The column of the model's predictions.
    predictions: String,
    /// The sensitive-attribute columns, each named as its attribute: exactly the names of
    /// `data.sensitive_attributes` (in any order); those names when left out.
    sensitive: Option<Vec<String>>,
}

/// The multipart form.
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only: the parts are read one by one.
pub struct FairnessFileForm {
    /// The assessment, as JSON (`Content-Type: application/json` on the part is optional).
    record: FairnessFileRecord,
    /// The data file: CSV with a header row (comma-separated, RFC 4180 quoting) or flat Parquet
    /// (uncompressed or Snappy). Its file name is recorded.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Record a fairness assessment from a data file
///
/// As `POST /api/v1/fairness-assessments`, with the labels, predictions and sensitive
/// attributes read from columns of a CSV or Parquet file rather than sent as JSON arrays. The
/// body is `multipart/form-data` with two parts: `record`, the JSON of the assessment with
/// `columns` naming the labels, predictions and sensitive-attribute columns, and `file`, the
/// file. Every named cell must hold a value (CSV: not empty, not an NA spelling such as `NA`;
/// Parquet: not null or NaN). The file is stored as a blob; `data.data.source` records its
/// name, SHA-256, size, format, rows and the column mapping.
#[utoipa::path(
    post,
    operation_id = "record_fairness_assessment_from_file",
    path = "/api/v1/fairness-assessments/file",
    tag = "release",
    security(("bearer" = [])),
    request_body(content = FairnessFileForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The fairness_assessment record at version 1 with the computed figures, verdicts and `data.source`, and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_multipart`: the multipart body cannot be read; `malformed_json`, `empty_body` or `invalid_utf8`: the `record` part is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the model version does not exist.", body = ErrorBody),
        (status = 409, description = "`record_exists`: the id is taken.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the upload limit.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `multipart/form-data`.", body = ErrorBody),
        (status = 422, description = "`invalid`: a part missing, repeated or unknown; an unknown field in `record`; a column not in the file (the message lists the file's columns); a file that is not CSV or Parquet, is empty or has no rows; a missing cell (its column and row); labels that are not binary or not of the positive label's kind; a criterion that does not parse or names an unknown figure or group. `field` names the part, column or field.", body = ErrorBody),
    ),
)]
pub async fn fairness_file(
    State(state): State<Shared>,
    who: Principal,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let upload = read_parts(request, &state.blobs).await?;
    let record: FairnessFileRecord = parse(&upload.record)?;
    let mut data = record.data;
    validate_client_data(&state, "fairness_assessment", &mut data)?;
    let id = fresh_id(&state, "fairness_assessment", record.id)?;
    model_version_exists(&state, &data)?;
    let columns = column_mapping(&data, record.columns)?;
    let positive = positive_label(&data)?;

    let mapping = columns.clone();
    let file = upload.file;
    let (report, inputs, file) = tokio::task::spawn_blocking(move || {
        let assessed = {
            let bytes = file.map().map_err(ApiError::internal)?;
            assess_file(&bytes, &columns, &positive).map_err(file_error)?
        };
        Ok::<_, ApiError>((assessed.0, assessed.1, file))
    })
    .await
    .map_err(ApiError::internal)??;
    record_figures(&mut data, &report)?;

    // Every check passed: keep the file and the report, then append.
    let blobs = state.blobs.clone();
    // Serialised as the JSON upload serialises it, so the same report has the same digest.
    let report_json = serde_json::to_vec(&json!(report)).map_err(ApiError::internal)?;
    let (file_digest, size, report_digest) = tokio::task::spawn_blocking(move || {
        let (file, size) = file.finish().map_err(ApiError::internal)?;
        let report = blobs.put(&report_json).map_err(ApiError::internal)?;
        Ok::<_, ApiError>((file, size, report))
    })
    .await
    .map_err(ApiError::internal)??;
    let format = match inputs.format {
        Format::Csv => "csv",
        Format::Parquet => "parquet",
        Format::Mixed => "mixed",
    };
    data["data"] = json!({
        "inputs": file_digest,
        "report": report_digest,
        "source": {
            "name": upload.name,
            "sha256": file_digest,
            "bytes": size,
            "format": format,
            "rows": inputs.rows,
            "columns": mapping,
        },
    });
    let answer = create(
        &state,
        &who,
        "fairness_assessment",
        &id,
        data,
        record.reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The two parts of the form: the record in memory, the file as it arrived in a blob draft
/// (on disk, hashed; stored only when the draft is finished).
pub(crate) struct Upload {
    pub record: Bytes,
    pub file: BlobDraft,
    pub name: String,
}

/// Reads a form of exactly one `record` part (JSON) and one `file` part (CSV or Parquet); the
/// file is written to a blob draft chunk by chunk as it arrives, never held whole in memory.
pub(crate) async fn read_parts(request: Request, blobs: &BlobStore) -> Result<Upload, ApiError> {
    let mut form = Multipart::from_request(request, &()).await.map_err(|e| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the body must be multipart/form-data with a `record` part (JSON) and a `file` \
                 part (CSV or Parquet): {}",
                e.body_text()
            ),
        )
    })?;
    let mut record = None;
    let mut file: Option<(BlobDraft, String)> = None;
    while let Some(part) = form.next_field().await.map_err(multipart_error)? {
        let name = part.name().unwrap_or_default().to_owned();
        if name != "record" && name != "file" {
            return Err(ApiError::invalid(
                name.clone(),
                format!(
                    "unknown part {name:?}: the form has a `record` part (JSON) and a `file` part \
                     (CSV or Parquet)"
                ),
            ));
        }
        let file_name = part.file_name().map(str::to_owned);
        let given_twice = || {
            ApiError::invalid(
                name.clone(),
                format!("part `{name}` is given more than once"),
            )
        };
        match name.as_str() {
            "record" if record.is_none() => {
                record = Some(part.bytes().await.map_err(multipart_error)?)
            }
            "file" if file.is_none() => {
                let name = file_name_of(file_name)?;
                let mut draft = blobs.draft().map_err(ApiError::internal)?;
                let mut part = part;
                while let Some(chunk) = part.chunk().await.map_err(multipart_error)? {
                    draft.write(&chunk).map_err(ApiError::internal)?;
                }
                file = Some((draft, name));
            }
            _ => return Err(given_twice()),
        }
    }
    let missing = |part: &str, what: &str| {
        ApiError::invalid(
            part.to_owned(),
            format!("the form has no `{part}` part ({what})"),
        )
    };
    let record = record.ok_or_else(|| missing("record", "the record as JSON"))?;
    let (file, name) = file.ok_or_else(|| missing("file", "the CSV or Parquet file"))?;
    Ok(Upload { record, file, name })
}

/// The file name the client gave, as recorded: `file` when none was given.
fn file_name_of(given: Option<String>) -> Result<String, ApiError> {
    let name = given
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "file".to_owned());
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "file",
            format!(
                "the file name must be at most {MAX_NAME_CHARS} characters without control \
                 characters"
            ),
        ));
    }
    Ok(name)
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is larger than the upload limit",
        ),
        _ => ApiError::bad_request(
            "malformed_multipart",
            format!("the multipart body cannot be read: {}", error.body_text()),
        ),
    }
}

/// The columns to read: those named, the sensitive ones checked against the attributes.
fn column_mapping(data: &Value, columns: FileColumns) -> Result<FairnessColumns, ApiError> {
    for (field, column) in [
        ("columns/labels", &columns.labels),
        ("columns/predictions", &columns.predictions),
    ] {
        if column.is_empty() {
            return Err(ApiError::invalid(field, "name the column (an empty name)"));
        }
    }
    let attributes = sensitive_attributes(data);
    let sensitive = columns.sensitive.unwrap_or_else(|| attributes.clone());
    if let Some(extra) = sensitive.iter().find(|c| !attributes.contains(c)) {
        return Err(ApiError::invalid(
            "columns/sensitive",
            format!(
                "column {extra:?} is not among data.sensitive_attributes ({}): each sensitive \
                 column is the attribute of its name",
                attributes.join(", ")
            ),
        ));
    }
    if let Some(absent) = attributes.iter().find(|a| !sensitive.contains(a)) {
        return Err(ApiError::invalid(
            "columns/sensitive",
            format!("sensitive attribute {absent:?} has no column: name it in columns.sensitive"),
        ));
    }
    Ok(FairnessColumns {
        labels: columns.labels,
        predictions: columns.predictions,
        sensitive,
    })
}

/// The file reader's refusal as a 422 naming the column or the file.
fn file_error(error: FairnessFileError) -> ApiError {
    let field = match &error {
        FairnessFileError::ColumnNotFound { role, .. } => match role.as_str() {
            "labels" => "columns/labels",
            "predictions" => "columns/predictions",
            _ => "columns/sensitive",
        },
        FairnessFileError::NoSensitiveColumns
        | FairnessFileError::DuplicateSensitiveColumn { .. } => "columns/sensitive",
        _ => "file",
    };
    ApiError::invalid(field, error.to_string())
}
