//! OpenLineage ingest and reads: `POST /api/v1/lineage` takes a RunEvent (spec 2-0-2, plain or
//! gzip-compressed as the OpenLineage HTTP transport sends it), checks it field by field and
//! logs it as a `lineage.run_event` by the caller; the reads show runs, jobs and datasets with
//! the dataset versions and training runs they are linked to.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::lineage::{check_run_event, DatasetName, LineageRun};
use modeltrail_domain::roles::Permission;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Read;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

/// Record a RunEvent
///
/// Accepts an OpenLineage RunEvent (spec 2-0-2: START, RUNNING, COMPLETE, ABORT, FAIL, OTHER)
/// as the OpenLineage HTTP transport posts it (`Content-Encoding: gzip` allowed), checks it and
/// logs it by the caller. Runs, jobs and datasets are linked to training runs (their
/// `openlineage_run_id`) and dataset versions (their `openlineage` namespace and name).
#[utoipa::path(
    post,
    operation_id = "record_lineage_event",
    path = "/api/v1/lineage",
    tag = "lineage",
    security(("bearer" = [])),
    request_body(content = Object, description = "An OpenLineage RunEvent.", content_type = "application/json"),
    responses(
        (status = 201, description = "Logged: the `run` as it now stands and the `receipt` of the `lineage.run_event` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body`, `invalid_utf8` or `bad_encoding`: the body is not JSON (or not gzip when it says so).", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body (or what it inflates to) is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: the event does not meet the spec; `field` names the field (`run.runId`, `inputs[0].namespace`, ...).", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<Shared>,
    who: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let body = decoded(&headers, body, state.config.body_limit)?;
    let event: Value = parse(&body)?;
    let summary =
        check_run_event(&event).map_err(|e| ApiError::invalid(e.field.clone(), e.problem))?;
    let mut draft = who.draft(actions::LINEAGE_RUN_EVENT, event);
    draft.reason = Some(format!(
        "OpenLineage {} of job {}/{}",
        summary.event_type.map_or_else(
            || "event".to_owned(),
            |t| json!(t).as_str().unwrap_or("").to_owned()
        ),
        summary.job.namespace,
        summary.job.name
    ));
    let appended = state.sequencer.append(draft).await?;
    let run = present_run(&state, &summary.run_id)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"run": run, "receipt": Receipt::of(&[appended])})),
    ))
}

/// The body as sent, or inflated when it says it is gzip; at most `limit` bytes either way.
fn decoded(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("identity") => Ok(body),
        Some("gzip") => {
            let mut inflated = Vec::new();
            let read = flate2::read::GzDecoder::new(&body[..])
                .take(limit as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| {
                    ApiError::bad_request("bad_encoding", format!("the gzip body is damaged: {e}"))
                })?;
            if read > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too_large",
                    format!("the body inflates to more than {limit} bytes"),
                ));
            }
            Ok(Bytes::from(inflated))
        }
        Some(other) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Encoding `{other}` is not supported: send gzip or no encoding"),
        )),
    }
}

/// A run with what it is linked to.
fn present_run(state: &Shared, run_id: &str) -> Result<Value, ApiError> {
    let projection = state.read();
    let lineage = projection.lineage();
    let run: &LineageRun = lineage
        .run(run_id)
        .ok_or_else(|| ApiError::not_found(format!("no OpenLineage run `{run_id}`")))?;
    let datasets = |names: &std::collections::BTreeSet<DatasetName>| -> Vec<Value> {
        names
            .iter()
            .map(|d| {
                let versions: Vec<&String> = lineage.dataset_versions_of(d).collect();
                json!({"namespace": d.namespace, "name": d.name, "dataset_versions": versions})
            })
            .collect()
    };
    let training_runs: Vec<&String> = lineage.training_runs_of(&run.run_id).collect();
    Ok(json!({
        "run_id": run.run_id,
        "job": run.job,
        "state": run.state,
        "parent": run.parent,
        "events": run.events,
        "inputs": datasets(&run.inputs),
        "outputs": datasets(&run.outputs),
        "training_runs": training_runs,
    }))
}

/// An OpenLineage run
#[utoipa::path(
    get,
    operation_id = "read_lineage_run",
    path = "/api/v1/lineage/runs/{run_id}",
    tag = "lineage",
    security(("bearer" = [])),
    params(("run_id", description = "The run's UUID.")),
    responses(
        (status = 200, description = "The run: job, state (the type of the RunEvent with the latest eventTime), every RunEvent logged (seq, type, time, by whom), inputs and outputs with the `dataset_versions` that are them, and the `training_runs` that are it.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no RunEvent named this run.", body = ErrorBody),
    ),
)]
pub async fn run(
    State(state): State<Shared>,
    who: Principal,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    Ok(Json(present_run(&state, &run_id)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct DatasetQuery {
    /// The dataset's OpenLineage namespace.
    namespace: String,
    /// The dataset's OpenLineage name.
    name: String,
}

/// An OpenLineage dataset
#[utoipa::path(
    get,
    operation_id = "read_lineage_dataset",
    path = "/api/v1/lineage/datasets",
    tag = "lineage",
    security(("bearer" = [])),
    params(DatasetQuery),
    responses(
        (status = 200, description = "The runs that read (`read_by`) and wrote (`written_by`) it, and the `dataset_versions` that are it.", body = Object),
        (status = 400, description = "`bad_request`: namespace or name missing.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no RunEvent and no dataset version names it.", body = ErrorBody),
    ),
)]
pub async fn dataset(
    State(state): State<Shared>,
    who: Principal,
    Query(query): Query<DatasetQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let name = DatasetName {
        namespace: query.namespace,
        name: query.name,
    };
    let projection = state.read();
    let lineage = projection.lineage();
    let versions: Vec<&String> = lineage.dataset_versions_of(&name).collect();
    let used = lineage.dataset(&name);
    if used.is_none() && versions.is_empty() {
        return Err(ApiError::not_found(format!(
            "no OpenLineage dataset `{}` in namespace `{}`",
            name.name, name.namespace
        )));
    }
    Ok(Json(json!({
        "namespace": name.namespace,
        "name": name.name,
        "read_by": used.map(|u| &u.read_by),
        "written_by": used.map(|u| &u.written_by),
        "dataset_versions": versions,
    })))
}

/// OpenLineage jobs
#[utoipa::path(
    get,
    operation_id = "list_lineage_jobs",
    path = "/api/v1/lineage/jobs",
    tag = "lineage",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`jobs`: each job's namespace, name and the ids of its runs.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn jobs(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let projection = state.read();
    let jobs: Vec<Value> = projection
        .lineage()
        .jobs()
        .map(|(job, runs)| json!({"namespace": job.namespace, "name": job.name, "runs": runs}))
        .collect();
    Ok(Json(json!({ "jobs": jobs })))
}
