//! Monitoring batches over HTTP: `POST /api/v1/monitoring-batches` takes a window of
//! production inputs (one JSON array per feature, with predictions and labels when known),
//! evaluates it under an approved monitoring plan against the plan's reference data
//! (`crate::monitor`), and records the batch. A breach is handled in the same transaction: the
//! batch, an exception detected by the system (which marks the model version "re-validation
//! required") and a draft change request linked to it are appended together or not at all.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::gate::RELEASING_ROLE;
use modeltrail_domain::identity::new_id;
use modeltrail_domain::monitoring::{breach_change_request, breach_exception, Plan};
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::event::RecordRef;
use modeltrail_stats::drift::ColumnKind;
use modeltrail_stats::profile::Format;
use modeltrail_stats::table_columns::{
    read_columns, read_csv_columns, Column, ColumnsError, Wanted,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::dossier::doc;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::monitor::{evaluate, kind_of, reference, BatchColumns, Outcomes};
use crate::routes::assessments::store_blobs;
use crate::routes::computed::{fresh_id, validate_client_data};
use crate::routes::fairness_file::read_parts;
use crate::state::{Receipt, Shared};
use modeltrail_store::blobs::BlobDraft;

const KIND: &str = "monitoring_batch";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The batch as the `monitoring_batch` schema describes it (`plan`, `window`, optionally
    /// `model_version` and `prediction_errors`), without the computed fields.
    #[schema(value_type = Object)]
    data: Value,
    /// The inputs: for each feature of the plan, one value per row. Numerical features take
    /// numbers, `null` for a missing cell, and the strings `NaN`, `Infinity`, `-Infinity`;
    /// categorical features take strings (numbers and booleans are read as their spelling) and
    /// `null`. A feature of the plan left out is recorded as a `missing_feature` anomaly.
    #[schema(value_type = Object)]
    columns: BTreeMap<String, Vec<Value>>,
    /// The model's predictions, one per row: true/false or 1/0 for a classifier, numbers for a
    /// regression.
    #[schema(value_type = Option<Vec<Object>>)]
    predictions: Option<Vec<Value>>,
    /// The classifier's scores (larger: more likely positive), for `roc_auc`.
    scores: Option<Vec<f64>>,
    /// The true labels, one per prediction, when known.
    #[schema(value_type = Option<Vec<Object>>)]
    labels: Option<Vec<Value>>,
    /// Why the batch is recorded; optional.
    reason: Option<String>,
}

/// Record a monitoring batch
///
/// The server evaluates the batch under its monitoring plan, which must be approved by QA on
/// its current version: each feature's drift test against the plan's reference dataset (the
/// plan's test and threshold, else Evidently's default for the column), the dataset verdict,
/// the plan's performance metrics when labels are given, and operational anomalies (missing
/// features, missing cells, unseen categories, values outside the reference's range,
/// prediction errors). NaN and infinities are counted and reported, never silently dropped. A
/// batch smaller than the plan's `minimum_batch_rows` is recorded untested. On a breach the
/// batch, an exception (detected by the system) and a draft change request are appended in one
/// transaction; the model version's status becomes `revalidation_required`.
#[utoipa::path(
    post,
    operation_id = "record_monitoring_batch",
    path = "/api/v1/monitoring-batches",
    tag = "monitoring",
    security(("bearer" = [])),
    request_body(content = BatchRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The monitoring_batch record at version 1 with the computed drift, performance, anomalies and verdict; `raised` names the exception and change request a breach opened; the `receipt` of every event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the plan does not exist.", body = ErrorBody),
        (status = 409, description = "`record_exists`: the id is taken; `plan_not_approved`: QA has not approved the plan's current version; `voided`: the plan is voided; `reference_missing`, `reference_not_profiled` or `reference_unusable`: the plan's reference data cannot be read.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type; a column that is not a feature of the plan; columns of different lengths; a value of the wrong type (its row); the window ends before it starts; a model version other than the plan's; labels that are not binary or numeric. `field` names it.", body = ErrorBody),
    ),
)]
pub async fn record_batch(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: BatchRequest = parse(&body)?;
    let mut data = request.data;
    let (id, plan_id, plan) = admit(&state, &mut data, request.id).await?;
    let batch = batch_columns(
        &plan,
        request.columns,
        request.predictions,
        request.scores,
        request.labels,
        &data,
    )?;
    let inputs = json!({
        "columns": batch.features.iter().map(|(name, column)| (name.clone(), column_json(column))).collect::<BTreeMap<_, _>>(),
        "predictions": batch.predictions,
        "scores": batch.scores,
    });
    let answer = evaluate_and_record(
        &state,
        &who,
        Batch {
            id,
            plan_id,
            plan,
            data,
            columns: batch,
            reason: request.reason,
        },
        Inputs::Json(inputs),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The route of batches sent as a file; it takes the upload body limit.
pub const FILE_PATH: &str = "/api/v1/monitoring-batches/file";

/// The `record` part of a batch sent as a file.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchFileRecord {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The batch as for the JSON upload (`plan`, `window`, optionally `model_version` and
    /// `prediction_errors`).
    #[schema(value_type = Object)]
    data: Value,
    /// Which columns of the file hold the predictions, scores and labels, when it has them.
    /// The plan's features are read from the columns of their names.
    columns: Option<BatchFileColumns>,
    /// Why the batch is recorded; optional.
    reason: Option<String>,
}

/// Columns of the file besides the features.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BatchFileColumns {
    /// The model's predictions: true/false or 1/0 for a classifier, numbers for a regression.
    predictions: Option<String>,
    /// The classifier's scores, for `roc_auc`.
    scores: Option<String>,
    /// The true labels.
    labels: Option<String>,
}

/// The multipart form.
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only: the parts are read one by one.
pub struct BatchFileForm {
    /// The batch, as JSON.
    record: BatchFileRecord,
    /// The inputs: CSV with a header row or flat Parquet, a column per feature of the plan
    /// (other columns are ignored). Its file name is recorded.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Record a monitoring batch from a file
///
/// As `POST /api/v1/monitoring-batches`, with the inputs read from the columns of a CSV or
/// Parquet file: each feature of the plan from the column of its name (a feature the file
/// lacks is a `missing_feature` anomaly), predictions, scores and labels from the columns
/// `record.columns` names. The file is kept as a blob and described in `data.source`.
#[utoipa::path(
    post,
    operation_id = "record_monitoring_batch_from_file",
    path = "/api/v1/monitoring-batches/file",
    tag = "monitoring",
    security(("bearer" = [])),
    request_body(content = BatchFileForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "The monitoring_batch record at version 1, as for the JSON upload, with `data.source`; `raised` and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_multipart`: the multipart body cannot be read; `malformed_json`, `empty_body` or `invalid_utf8`: the `record` part is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the plan does not exist.", body = ErrorBody),
        (status = 409, description = "As for the JSON upload: `record_exists`, `plan_not_approved`, `voided`, `reference_missing`, `reference_not_profiled`, `reference_unusable`.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the upload limit.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `multipart/form-data`.", body = ErrorBody),
        (status = 422, description = "`invalid`: a part missing, repeated or unknown; a file that is not CSV or Parquet or is empty; a named column the file lacks (the message lists its columns); a cell of a numerical feature that is not a number (its column and row); and what the JSON upload refuses. `field` names it.", body = ErrorBody),
    ),
)]
pub async fn record_batch_file(
    State(state): State<Shared>,
    who: Principal,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let upload = read_parts(request, &state.blobs).await?;
    let record: BatchFileRecord = parse(&upload.record)?;
    let mut data = record.data;
    let (id, plan_id, plan) = admit(&state, &mut data, record.id).await?;
    let named = record.columns.unwrap_or_default();
    let mut wanted: Vec<Wanted> = plan
        .features
        .iter()
        .map(|f| Wanted::optional(&f.name, kind_of(&f.kind)))
        .collect();
    for column in [&named.predictions, &named.scores, &named.labels]
        .into_iter()
        .flatten()
    {
        wanted.push(Wanted::required(column, ColumnKind::Numerical));
    }
    let file = upload.file;
    let prediction_errors = data
        .pointer("/prediction_errors/count")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (table, file) = tokio::task::spawn_blocking(move || {
        // A Parquet file is read mapped; a CSV file streamed, so the upload is not held in
        // memory beside its columns.
        let bytes = file.map().map_err(ApiError::internal)?;
        let table = if bytes.starts_with(b"PAR1") {
            read_columns(&bytes, &wanted)
        } else {
            drop(bytes);
            read_csv_columns(file.reader().map_err(ApiError::internal)?, &wanted)
        }
        .map_err(columns_error)?;
        Ok::<_, ApiError>((table, file))
    })
    .await
    .map_err(ApiError::internal)??;
    // The columns are moved out of what was read, not copied: a large batch is held once.
    let mut table = table;
    let mut numbers = |name: &Option<String>| -> Option<Vec<f64>> {
        match table.take(name.as_deref()?) {
            Some(Column::Numbers(values)) => Some(values),
            _ => None,
        }
    };
    let predictions = numbers(&named.predictions);
    let scores = numbers(&named.scores);
    let labels = numbers(&named.labels);
    let features = plan
        .features
        .iter()
        .filter_map(|f| table.take(&f.name).map(|c| (f.name.clone(), c)))
        .collect();
    let batch = BatchColumns {
        rows: table.rows,
        features,
        predictions: predictions.map(Outcomes::Numbers),
        scores,
        labels: labels.map(Outcomes::Numbers),
        prediction_errors,
    };
    if batch.labels.is_some() && batch.predictions.is_none() {
        return Err(ApiError::invalid(
            "columns/predictions",
            "labels were named without the predictions they judge",
        ));
    }
    let format = match table.format {
        Format::Parquet => "parquet",
        _ => "csv",
    };
    let source = json!({"name": upload.name, "bytes": file.size(), "format": format});
    let answer = evaluate_and_record(
        &state,
        &who,
        Batch {
            id,
            plan_id,
            plan,
            data,
            columns: batch,
            reason: record.reason,
        },
        Inputs::File { file, source },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The file reader's refusal as a 422 naming the file or the column.
fn columns_error(error: ColumnsError) -> ApiError {
    let field = match &error {
        ColumnsError::ColumnNotFound { column, .. } | ColumnsError::NotANumber { column, .. } => {
            format!("file/{column}")
        }
        _ => "file".to_owned(),
    };
    ApiError::invalid(field, error.to_string())
}

/// A batch ready to be evaluated: its id, plan, client data and columns.
struct Batch {
    id: String,
    plan_id: String,
    plan: Plan,
    data: Value,
    columns: BatchColumns,
    reason: Option<String>,
}

/// What the batch's inputs were: JSON arrays (kept as a JSON blob), or a file spooled to a blob
/// draft (stored once the batch is evaluated) and the `source` to record.
enum Inputs {
    Json(Value),
    File { file: BlobDraft, source: Value },
}

/// Evaluates a batch under its plan and appends it, with what a breach raises, in one
/// transaction; the answer the endpoints give.
async fn evaluate_and_record(
    state: &Shared,
    who: &Principal,
    batch: Batch,
    inputs: Inputs,
) -> Result<Value, ApiError> {
    let Batch {
        id,
        plan_id,
        plan,
        mut data,
        columns: batch,
        reason,
    } = batch;
    let reference = reference(state, &plan).await?;
    let evaluation = evaluate(&plan, &reference, &batch)?;
    // Evaluated: only the labels are still needed (kept as a blob); the columns go now.
    let BatchColumns {
        labels,
        features,
        predictions,
        scores,
        ..
    } = batch;
    drop((features, predictions, scores));
    let (inputs_digest, report_digest) = match inputs {
        Inputs::Json(inputs) => store_blobs(state, &inputs, &evaluation.report).await?,
        Inputs::File { file, mut source } => {
            // Stored only now that the batch has been evaluated: a refused batch leaves no blob.
            let (digest, _) = tokio::task::spawn_blocking(move || file.finish())
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            source["sha256"] = json!(digest);
            data["source"] = source;
            let (report, _) = store_blobs(state, &evaluation.report, &Value::Null).await?;
            (digest, report)
        }
    };
    if let Some(fields) = evaluation.fields.as_object() {
        for (key, value) in fields {
            data[key.as_str()] = value.clone();
        }
    }
    data["inputs"] = json!(inputs_digest);
    if let Some(labels) = labels {
        // Serialized straight to bytes (a large file's labels never become a JSON tree).
        let bytes = serde_json::to_vec(&labels).map_err(ApiError::internal)?;
        drop(labels);
        let blobs = state.blobs.clone();
        let labels_digest = tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        data["labels"] = json!(labels_digest);
    }
    if data.get("drift").is_some() {
        data["drift"]["report"] = json!(report_digest);
    }
    let mut drafts = Vec::new();
    let mut raised = json!({});
    let mut more = Vec::new();
    if !evaluation.breaches.is_empty() {
        let exception_id = new_id().map_err(ApiError::internal)?;
        let request_id = new_id().map_err(ApiError::internal)?;
        data["exception"] = json!(exception_id);
        data["change_request"] = json!(request_id);
        let detected_at = modeltrail_ledger::Timestamp::now().to_string();
        let exception = breach_exception(&plan_id, &plan, &id, &evaluation.breaches, &detected_at);
        let model = model_of(state, &plan.model_version).await?;
        let change =
            breach_change_request(&plan, model.as_deref(), &exception_id, &evaluation.breaches);
        more.push(("exception", exception_id.clone(), exception));
        more.push(("change_request", request_id.clone(), change));
        raised = json!({"exception": exception_id, "change_request": request_id});
    }
    state.record_types.validate(KIND, &data).map_err(|e| {
        ApiError::internal(format!("computed {KIND} does not meet its schema: {e}"))
    })?;
    drafts.push(create_draft(who, KIND, &id, data.clone(), reason.clone()));
    for (kind, record_id, content) in more {
        state.record_types.validate(kind, &content).map_err(|e| {
            ApiError::internal(format!(
                "the {kind} a breach raises does not meet its schema: {e}"
            ))
        })?;
        let reason = format!("raised by monitoring batch {id} under plan {plan_id}");
        drafts.push(create_draft(who, kind, &record_id, content, Some(reason)));
    }
    let appended = state.sequencer.append_all(drafts).await?;
    Ok(json!({
            "type": KIND,
            "id": id,
            "version": 1,
            "data": data,
            "raised": raised,
            "receipt": Receipt::of(&appended),
    }))
}

/// What every batch passes before its columns are read, JSON or file: the data valid, the id
/// fresh, the window in order, the plan approved and its model version filled in. Returns the
/// batch's id, the plan's id and the plan.
async fn admit(
    state: &Shared,
    data: &mut Value,
    id: Option<String>,
) -> Result<(String, String, Plan), ApiError> {
    validate_client_data(state, KIND, data)?;
    let id = fresh_id(state, KIND, id)?;
    check_window(data)?;
    let (plan_id, plan) = approved_plan(state, data).await?;
    fill_model_version(data, &plan_id, &plan)?;
    Ok((id, plan_id, plan))
}

/// The plan's model version in the batch's data: filled in, or 422 when another is named.
fn fill_model_version(data: &mut Value, plan_id: &str, plan: &Plan) -> Result<(), ApiError> {
    match data.get("model_version").and_then(Value::as_str) {
        Some(given) if given != plan.model_version => {
            return Err(ApiError::invalid(
                "data/model_version",
                format!(
                    "the batch names model_version `{given}` but plan `{plan_id}` monitors `{}`",
                    plan.model_version
                ),
            ))
        }
        _ => data["model_version"] = json!(plan.model_version),
    }
    Ok(())
}

fn create_draft(
    who: &Principal,
    kind: &str,
    id: &str,
    data: Value,
    reason: Option<String>,
) -> modeltrail_ledger::event::EventDraft {
    let mut draft = who.draft(actions::RECORD_CREATE, data);
    draft.record = Some(RecordRef {
        kind: kind.into(),
        id: id.into(),
        version: 1,
    });
    draft.reason = reason.filter(|r| !r.trim().is_empty());
    draft
}

/// 422 when the window ends before it starts (RFC 3339 UTC text compares in time order only
/// when written alike, so both are parsed).
fn check_window(data: &Value) -> Result<(), ApiError> {
    let parse = |field: &str| {
        let text = data["window"][field].as_str().unwrap_or_default();
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(
            |e| ApiError::invalid(format!("data/window/{field}"), format!("{text:?}: {e}")),
        )
    };
    let (start, end) = (parse("start")?, parse("end")?);
    if end < start {
        return Err(ApiError::invalid(
            "data/window/end",
            "the window ends before it starts",
        ));
    }
    Ok(())
}

/// The batch's plan: it must exist, be live, and be approved by QA on its current version.
async fn approved_plan(state: &Shared, data: &Value) -> Result<(String, Plan), ApiError> {
    let plan_id = data["plan"].as_str().unwrap_or_default().to_owned();
    let record = state
        .read()
        .record("monitoring_plan", &plan_id)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!("monitoring_plan `{plan_id}` does not exist"))
                .with_field("data/plan")
        })?;
    if record.voided {
        return Err(ApiError::conflict(
            "voided",
            format!("monitoring_plan `{plan_id}` is voided"),
        ));
    }
    let plan_doc = doc(state, &record).await?;
    if plan_doc.approval_by(RELEASING_ROLE).is_none() {
        return Err(ApiError::conflict(
            "plan_not_approved",
            format!(
                "monitoring_plan `{plan_id}` version {} is not approved by QA: batches are \
                 evaluated only under an approved plan",
                plan_doc.version
            ),
        )
        .with_field("data/plan"));
    }
    Ok((plan_id, Plan::from_content(&plan_doc.data)))
}

/// The model a model version belongs to, when it names one.
async fn model_of(state: &Shared, model_version: &str) -> Result<Option<String>, ApiError> {
    let record = state.read().record("model_version", model_version).cloned();
    match record {
        Some(record) => Ok(doc(state, &record)
            .await?
            .data
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned)),
        None => Ok(None),
    }
}

/// The request's columns checked against the plan: known features, one length, right types.
fn batch_columns(
    plan: &Plan,
    columns: BTreeMap<String, Vec<Value>>,
    predictions: Option<Vec<Value>>,
    scores: Option<Vec<f64>>,
    labels: Option<Vec<Value>>,
    data: &Value,
) -> Result<BatchColumns, ApiError> {
    let kinds: HashMap<&str, &str> = plan
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.kind.as_str()))
        .collect();
    let mut rows: Option<(String, usize)> = None;
    let mut same_length = |name: &str, length: usize| match &rows {
        Some((first, expected)) if *expected != length => Err(ApiError::invalid(
            name.to_owned(),
            format!("{name} has {length} values but {first} has {expected}: one value per row"),
        )),
        Some(_) => Ok(()),
        None => {
            rows = Some((name.to_owned(), length));
            Ok(())
        }
    };
    let mut features = HashMap::new();
    for (name, values) in columns {
        let field = format!("columns/{name}");
        let Some(kind) = kinds.get(name.as_str()) else {
            return Err(ApiError::invalid(
                field,
                format!(
                    "{name} is not a feature of the monitoring plan; its features are {}",
                    plan.features
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        same_length(&field, values.len())?;
        let column = match kind_of(kind) {
            modeltrail_stats::drift::ColumnKind::Numerical => {
                Column::Numbers(numeric_cells(&name, &values)?)
            }
            modeltrail_stats::drift::ColumnKind::Categorical => {
                Column::Categories(category_cells(&name, &values)?)
            }
        };
        features.insert(name, column);
    }
    for (field, length) in [
        ("predictions", predictions.as_ref().map(Vec::len)),
        ("scores", scores.as_ref().map(Vec::len)),
        ("labels", labels.as_ref().map(Vec::len)),
    ] {
        if let Some(length) = length {
            same_length(field, length)?;
        }
    }
    if labels.is_some() && predictions.is_none() {
        return Err(ApiError::invalid(
            "predictions",
            "labels were given without the predictions they judge",
        ));
    }
    Ok(BatchColumns {
        rows: rows.map_or(0, |(_, n)| n) as u64,
        features,
        predictions: predictions.map(Outcomes::Json),
        scores,
        labels: labels.map(Outcomes::Json),
        prediction_errors: data
            .pointer("/prediction_errors/count")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

fn numeric_cells(name: &str, values: &[Value]) -> Result<Vec<f64>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(row, value)| match value {
            Value::Null => Ok(f64::NAN),
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| ApiError::internal("a JSON number")),
            Value::String(s) if s == "NaN" => Ok(f64::NAN),
            Value::String(s) if s == "Infinity" => Ok(f64::INFINITY),
            Value::String(s) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
            other => Err(ApiError::invalid(
                format!("columns/{name}/{row}"),
                format!(
                    "{name}[{row}] is {other}: a numerical feature takes numbers, null, \"NaN\", \
                     \"Infinity\" or \"-Infinity\""
                ),
            )),
        })
        .collect()
}

fn category_cells(
    name: &str,
    values: &[Value],
) -> Result<Vec<Option<std::sync::Arc<str>>>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(row, value)| match value {
            Value::Null => Ok(None),
            Value::String(s) if s.is_empty() => Ok(None),
            Value::String(s) => Ok(Some(s.as_str().into())),
            Value::Number(n) => Ok(Some(n.to_string().into())),
            Value::Bool(b) => Ok(Some(b.to_string().into())),
            other => Err(ApiError::invalid(
                format!("columns/{name}/{row}"),
                format!("{name}[{row}] is {other}: a categorical feature takes strings or null"),
            )),
        })
        .collect()
}

/// A column as the inputs blob keeps it (non-finite numbers as strings).
fn column_json(column: &Column) -> Value {
    match column {
        Column::Numbers(values) => Value::Array(
            values
                .iter()
                .map(|v| match v {
                    v if v.is_nan() => Value::Null,
                    v if *v == f64::INFINITY => json!("Infinity"),
                    v if *v == f64::NEG_INFINITY => json!("-Infinity"),
                    v => json!(v),
                })
                .collect(),
        ),
        Column::Categories(values) => {
            json!(values.iter().map(Option::as_deref).collect::<Vec<_>>())
        }
    }
}
