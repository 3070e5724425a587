//! Escalating feedback: a feedback record raises an exception (detected by the person who
//! escalates it), and the feedback's next version records that triage, both in one transaction.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::feedback::{self, Escalation};
use modeltrail_domain::identity::new_id;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::schemas::SchemaError;
use modeltrail_ledger::event::RecordRef;
use serde::Deserialize;
use serde_json::{json, Value};

use super::records::{check_current, find};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// The feedback's latest version: a stale one is refused with 409.
    version: u64,
    /// Why it is escalated; recorded as the triage rationale and the reason of both events.
    rationale: String,
    /// The exception's title; derived from the feedback when absent.
    title: Option<String>,
    /// `minor`, `major` or `critical`; from the reporter's severity when absent.
    severity: Option<String>,
    /// The exception's category; from the feedback's category when absent.
    category: Option<String>,
}

/// Escalate feedback into an exception
///
/// Raises an exception from a feedback record (source: the feedback; detected by the caller;
/// the feedback's model version affected) and records the feedback's triage as
/// `exception_raised` naming it, in one transaction. Subscribers to `exception_raised` are
/// notified.
#[utoipa::path(
    post,
    operation_id = "escalate_feedback",
    path = "/api/v1/feedback/{id}/escalate",
    tag = "records",
    security(("bearer" = [])),
    params(("id", description = "The feedback record's id.")),
    request_body(content = EscalateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Escalated: the `exception` raised (type, id, version 1, data), the feedback's new `version` and the `receipt` of both events.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such feedback record.", body = ErrorBody),
        (status = 409, description = "`stale_version`, `voided`, or `already_escalated` (naming the exception it raised).", body = ErrorBody),
        (status = 422, description = "`invalid`: the rationale is empty, or the exception would not meet its schema (a severity or category outside its values); `field` names it.", body = ErrorBody),
    ),
)]
pub async fn escalate(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: EscalateRequest = parse(&body)?;
    if request.rationale.trim().is_empty() {
        return Err(ApiError::invalid(
            "rationale",
            "say why the feedback is escalated",
        ));
    }
    let record = find(&state, feedback::KIND, &id)?;
    check_current(&record, request.version)?;
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?
        .clone();
    let content = state.event(head.seq).await?.payload;
    let exception_id = new_id().map_err(ApiError::internal)?;
    let escalation = Escalation {
        title: request.title,
        severity: request.severity,
        category: request.category,
        rationale: request.rationale.clone(),
    };
    let detected_at = modeltrail_ledger::Timestamp::now().to_string();
    let (exception, next) = feedback::escalate(
        &id,
        &content,
        &exception_id,
        &escalation,
        &who.user,
        &detected_at,
    )
    .map_err(|e| ApiError::conflict("already_escalated", e.to_string()))?;
    state
        .record_types
        .validate("exception", &exception)
        .map_err(|e| match e {
            SchemaError::Invalid { field, message } => ApiError::invalid(
                field.trim_start_matches('/').to_owned(),
                format!("the exception would not meet its schema: {message}"),
            ),
            other => ApiError::internal(other),
        })?;
    state
        .record_types
        .validate(feedback::KIND, &next)
        .map_err(|e| ApiError::internal(format!("the triaged feedback: {e}")))?;
    let mut raise = who.draft(actions::RECORD_CREATE, exception.clone());
    raise.record = Some(RecordRef {
        kind: "exception".into(),
        id: exception_id.clone(),
        version: 1,
    });
    raise.reason = Some(format!(
        "escalated from feedback {id}: {}",
        request.rationale
    ));
    let mut triage = who.draft(actions::RECORD_UPDATE, next);
    triage.record = Some(RecordRef {
        kind: feedback::KIND.into(),
        id: id.clone(),
        version: head.version + 1,
    });
    triage.prev = Some(head.leaf);
    triage.reason = Some(request.rationale);
    let appended = state.sequencer.append_all(vec![raise, triage]).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "exception": {"type": "exception", "id": exception_id, "version": 1, "data": exception},
            "feedback": {"type": feedback::KIND, "id": id, "version": head.version + 1},
            "receipt": Receipt::of(&appended),
        })),
    ))
}
