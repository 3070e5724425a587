//! Qualification reports over HTTP: `modeltrail selftest` records the report of its
//! installation/operational checks in the log, so the report is timestamped by the server,
//! attributed to whoever ran it and covered by the log's signed checkpoints; the answer's
//! receipt lets the report be proved included later.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::roles::Permission;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualificationReport {
    /// `pass` when every check passed, else `fail`.
    result: String,
    /// The checks and their outcomes, as the selftest reports them.
    #[schema(value_type = Object)]
    report: Value,
}

/// Record a qualification report
///
/// Appends a `system.qualification` event holding the report of an installation or
/// operational qualification run (`modeltrail selftest`). Those who may read the log may record
/// one.
#[utoipa::path(
    post,
    path = "/api/v1/qualification-reports",
    tag = "ledger",
    operation_id = "record_qualification_report",
    security(("bearer" = [])),
    request_body(content = QualificationReport, content_type = "application/json"),
    responses(
        (status = 201, description = "Recorded: the `receipt` of the `system.qualification` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read the log; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: `result` is not `pass` or `fail`, `report` is not an object, or an unknown field; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::ReadLog).await?;
    let request: QualificationReport = parse(&body)?;
    if request.result != "pass" && request.result != "fail" {
        return Err(ApiError::invalid(
            "result",
            format!("`result` is `pass` or `fail`, not {:?}", request.result),
        ));
    }
    if !request.report.is_object() {
        return Err(ApiError::invalid(
            "report",
            "`report` must be a JSON object",
        ));
    }
    let draft = who.draft(
        actions::SYSTEM_QUALIFICATION,
        json!({"result": request.result, "report": request.report}),
    );
    let appended = state.sequencer.append(draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"receipt": Receipt::of(&[appended])})),
    ))
}
