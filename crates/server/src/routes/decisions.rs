//! Decision records over HTTP: one prediction (`POST /api/v1/decisions`) or up to 10,000 as
//! JSON lines (`POST /api/v1/decisions:batch`, read as the body streams in, checked wholly
//! before anything is written, then appended in one transaction under one checkpoint); the
//! inclusion proof of a decision by request id (found through the store's record index); the
//! review queue and signed reviews, whose override rate may raise an exception; queries and
//! statistics per model version.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::actions::UserKind;
use modeltrail_domain::decisions::{
    self, override_exception, rfc3339_micros, Checked, DecisionState, Filter, OverrideLimit,
    Recorded, Reviewed, Row, Settings, ThresholdSource, Verdict, DEFAULT_CONFIDENCE_THRESHOLD,
    DEFAULT_MIN_REVIEWS, KIND, MAX_BATCH,
};
use modeltrail_domain::identity::new_id;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::signature::Meaning;
use modeltrail_ledger::event::{Event, EventDraft, RecordRef};
use modeltrail_ledger::hash::leaf_hash;
use modeltrail_store::proofs::inclusion_proof;
use modeltrail_store::{AppendError, Appended, LogStore};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::routes::records::reauthenticate;
use crate::start::system_actor;
use crate::state::{Receipt, Shared};

/// The batch path: a custom method after a colon, as in Google's API style.
pub const BATCH_PATH: &str = "/api/v1/decisions:batch";

/// Where in a batch a record was refused: its 1-based line, the field, what is wrong.
fn line_error(line: usize, field: &str, message: impl std::fmt::Display) -> ApiError {
    let named = match field.is_empty() {
        true => String::new(),
        false => format!(" {field}:"),
    };
    ApiError::invalid(field, format!("line {line}:{named} {message}"))
        .with_details(json!({"line": line, "field": field}))
}

/// The serving identity: only service accounts record decisions.
async fn require_service(state: &Shared, who: &Principal) -> Result<(), ApiError> {
    who.require(state, Permission::WriteRecords).await?;
    let service = state
        .read()
        .user(&who.user)
        .is_some_and(|u| u.kind == UserKind::Service);
    if service {
        return Ok(());
    }
    Err(who
        .deny(
            state,
            ApiError::forbidden(
                "service_account_required",
                "decisions are recorded by the serving system's service account (an API token)",
            ),
        )
        .await)
}

/// The latest non-voided record of `kind` naming `model_version` (and passing `keep`), with
/// its content.
async fn latest_naming(
    state: &Shared,
    kind: &str,
    model_version: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<Option<(String, Value)>, ApiError> {
    let mut heads: Vec<(u64, String)> = state
        .read()
        .referrers("model_version", model_version)
        .filter(|r| r.kind == kind && !r.voided)
        .filter_map(|r| r.head().map(|h| (h.seq, r.id.clone())))
        .collect();
    heads.sort_unstable_by_key(|head| std::cmp::Reverse(head.0));
    for (seq, id) in heads {
        let content = state.event(seq).await?.payload;
        if content["model_version"] == model_version && keep(&content) {
            return Ok(Some((id, content)));
        }
    }
    Ok(None)
}

/// What a model version serving in an environment records decisions under.
struct Serving {
    threshold: f64,
    source: ThresholdSource,
}

/// Refuses a model version not deployed in `environment` (its latest deployment there must
/// not be an undeploy); the confidence threshold from its monitoring plan, else the
/// deployment's, else the default.
async fn serving(
    state: &Shared,
    model_version: &str,
    environment: &str,
) -> Result<Result<Serving, String>, ApiError> {
    let deployment = latest_naming(state, "deployment", model_version, |c| {
        c["environment"] == environment
    })
    .await?;
    let Some((deployment_id, deployment)) = deployment else {
        return Ok(Err(format!(
            "model_version `{model_version}` is not deployed in {environment}"
        )));
    };
    if deployment["action"] == "undeploy" {
        return Ok(Err(format!(
            "model_version `{model_version}` was undeployed from {environment} \
             (deployment `{deployment_id}`)"
        )));
    }
    let plan = latest_naming(state, "monitoring_plan", model_version, |_| true).await?;
    let from_plan = plan.and_then(|(id, content)| {
        Settings::from_content(&content)
            .confidence_threshold
            .map(|t| (t, ThresholdSource::MonitoringPlan(id)))
    });
    let (threshold, source) = from_plan
        .or_else(|| {
            Settings::from_content(&deployment)
                .confidence_threshold
                .map(|t| (t, ThresholdSource::Deployment(deployment_id)))
        })
        .unwrap_or((DEFAULT_CONFIDENCE_THRESHOLD, ThresholdSource::Default));
    Ok(Ok(Serving { threshold, source }))
}

/// Checked lines, then: no request id twice, every model version deployed where it serves,
/// each line's threshold; the drafts to append, in line order.
async fn drafts_of(
    state: &Shared,
    who: &Principal,
    checked: Vec<Checked>,
    first_line: usize,
) -> Result<(Vec<EventDraft>, usize), ApiError> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(checked.len());
    for (i, c) in checked.iter().enumerate() {
        if let Some(first) = seen.insert(c.submitted.request_id.as_str(), i + first_line) {
            return Err(line_error(
                i + first_line,
                "request_id",
                format!("`{}` is already on line {first}", c.submitted.request_id),
            ));
        }
    }
    let mut serving_of: HashMap<(String, String), (f64, ThresholdSource)> = HashMap::new();
    for (i, c) in checked.iter().enumerate() {
        let key = (
            c.submitted.model_version.clone(),
            c.submitted.environment.clone(),
        );
        if serving_of.contains_key(&key) {
            continue;
        }
        match serving(state, &key.0, &key.1).await? {
            Ok(s) => {
                serving_of.insert(key, (s.threshold, s.source));
            }
            Err(problem) => return Err(line_error(i + first_line, "model_version", problem)),
        }
    }
    for c in &checked {
        if let Some(bytes) = &c.input_bytes {
            state.blobs.put(bytes)?;
        }
    }
    let mut undecided = 0;
    let drafts = checked
        .into_iter()
        .map(|c| {
            let key = (
                c.submitted.model_version.clone(),
                c.submitted.environment.clone(),
            );
            let (threshold, source) = serving_of[&key].clone();
            let id = c.submitted.request_id.clone();
            let recorded = Recorded::new(c, threshold, source);
            if recorded.state == DecisionState::Undecided {
                undecided += 1;
            }
            let mut draft = who.draft(actions::DECISION_RECORD, json!(recorded));
            draft.record = Some(RecordRef {
                kind: KIND.into(),
                id,
                version: 1,
            });
            draft
        })
        .collect();
    Ok((drafts, undecided))
}

/// A request id already in the log, named by its line.
fn conflict_line(e: AppendError, lines: &HashMap<String, usize>) -> ApiError {
    match e {
        AppendError::Conflict { record, .. } => {
            let id = record.strip_prefix("decision/").unwrap_or(&record);
            match lines.get(id) {
                Some(&line) => ApiError::conflict(
                    "decision_exists",
                    format!("line {line}: request_id `{id}` is already recorded"),
                )
                .with_field("request_id")
                .with_details(json!({"line": line, "field": "request_id"})),
                None => {
                    ApiError::conflict("decision_exists", format!("{record} is already recorded"))
                }
            }
        }
        other => ApiError::from(other),
    }
}

async fn append(state: &Shared, drafts: Vec<EventDraft>) -> Result<Vec<Appended>, ApiError> {
    let lines: HashMap<String, usize> = drafts
        .iter()
        .enumerate()
        .filter_map(|(i, d)| d.record.as_ref().map(|r| (r.id.clone(), i + 1)))
        .collect();
    state
        .sequencer
        .append_all(drafts)
        .await
        .map_err(|e| conflict_line(e, &lines))
}

/// A decision as one JSON object (see `decisions::Submitted`).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct DecisionBody {
    /// Unique per decision: the record's id.
    request_id: String,
    /// The model_version that answered; it must be deployed in `environment`.
    model_version: String,
    /// `development`, `test`, `staging` or `production`.
    environment: String,
    /// When the prediction was made, RFC 3339.
    predicted_at: String,
    /// The model's input (any JSON); its SHA-256 is taken over its RFC 8785 form.
    #[schema(value_type = Option<Object>)]
    input: Option<Value>,
    /// SHA-256 (hex) of the input's canonical form, instead of (or checked against) `input`.
    input_digest: Option<String>,
    /// Keep the input's canonical bytes as a blob (by its digest).
    keep_input: Option<bool>,
    /// The model's output (any JSON but null).
    #[schema(value_type = Object)]
    output: Value,
    /// The model's confidence, in [0, 1].
    confidence: f64,
    /// The top feature attributions, `[{"feature", "value"}]`.
    #[schema(value_type = Option<Vec<Object>>)]
    attributions: Option<Vec<Value>>,
}

/// Record one decision
///
/// One prediction of a deployed model version, by the serving system's service account: the
/// input's digest, the output, the confidence; below the threshold (the model version's
/// monitoring plan's, else the deployment's, else 0.5) it is `undecided` and queued for review.
#[utoipa::path(
    post,
    operation_id = "record_decision",
    path = "/api/v1/decisions",
    tag = "decisions",
    security(("bearer" = [])),
    request_body(content = DecisionBody, content_type = "application/json"),
    responses(
        (status = 201, description = "`request_id`, `seq`, `state`, `threshold` and the `receipt`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the role may not write records; `service_account_required`: a person's token. Logged as `access.denied`.", body = ErrorBody),
        (status = 409, description = "`decision_exists`: the request id is already recorded.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing or wrong, or the model version is not deployed in the environment; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn record(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&state, &who).await?;
    let checked = decisions::read(&body).map_err(|e| {
        let field = e.field.clone();
        ApiError::invalid(field, e.to_string())
    })?;
    let (drafts, undecided) =
        drafts_of(&state, &who, vec![checked], 1)
            .await
            .map_err(|mut e| {
                e.message = e.message.trim_start_matches("line 1: ").to_owned();
                e.details = None;
                e
            })?;
    let id = drafts[0]
        .record
        .as_ref()
        .map(|r| r.id.clone())
        .unwrap_or_default();
    let appended = append(&state, drafts).await.map_err(|mut e| {
        e.message = e.message.trim_start_matches("line 1: ").to_owned();
        e.details = None;
        e
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "request_id": id,
            "seq": appended[0].seq,
            "state": if undecided == 1 { "undecided" } else { "decided" },
            "receipt": Receipt::of(&appended),
        })),
    ))
}

/// Reads the body as it arrives, one line at a time: each line is checked as soon as it is
/// complete, so a bad line is found before the rest is read.
async fn read_lines(mut body: Body) -> Result<Vec<Checked>, ApiError> {
    use http_body_util::BodyExt;
    let mut pending: Vec<u8> = Vec::new();
    let mut checked = Vec::new();
    let mut line = 0usize;
    let mut take = |bytes: &[u8], checked: &mut Vec<Checked>| -> Result<(), ApiError> {
        line += 1;
        let text = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(line_error(
                line,
                "",
                "an empty line; one JSON object per line",
            ));
        }
        if line > MAX_BATCH {
            return Err(line_error(
                line,
                "",
                format!("a batch holds at most {MAX_BATCH} records"),
            ));
        }
        let c = decisions::read(text).map_err(|e| line_error(line, &e.field, &e.message))?;
        checked.push(c);
        Ok(())
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request("bad_request", format!("the body could not be read: {e}"))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let mut rest: &[u8] = &data;
        while let Some(end) = memchr_newline(rest) {
            if pending.is_empty() {
                take(&rest[..end], &mut checked)?;
            } else {
                pending.extend_from_slice(&rest[..end]);
                let whole = std::mem::take(&mut pending);
                take(&whole, &mut checked)?;
            }
            rest = &rest[end + 1..];
        }
        pending.extend_from_slice(rest);
    }
    if !pending.iter().all(u8::is_ascii_whitespace) {
        take(&pending, &mut checked)?;
    }
    if checked.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "the batch holds no records: one JSON object per line",
        ));
    }
    Ok(checked)
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Record a batch of decisions
///
/// Up to 10,000 decisions as JSON lines (`application/x-ndjson`), each as for
/// `POST /api/v1/decisions`. The whole batch is checked first: a batch invalid anywhere is
/// refused whole, naming the 1-based line of the first bad record and what is wrong, and
/// nothing is written. Then every record becomes its own leaf, all appended in one durable
/// transaction under one signed checkpoint.
#[utoipa::path(
    post,
    operation_id = "record_decision_batch",
    path = "/api/v1/decisions:batch",
    tag = "decisions",
    security(("bearer" = [])),
    request_body(content = String, content_type = "application/x-ndjson", description = "One decision object per line."),
    responses(
        (status = 201, description = "`count`, `undecided`, `first_seq`, `last_seq`, `tree_size` and the signed `checkpoint` that includes them.", body = Object),
        (status = 400, description = "`empty_body`: no records.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`; `service_account_required`. Logged as `access.denied`.", body = ErrorBody),
        (status = 409, description = "`decision_exists`: a request id is already recorded; `details.line` names its line.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: `details.line` (1-based) and `field` name the first bad record and field; nothing was written.", body = ErrorBody),
    ),
)]
pub async fn record_batch(
    State(state): State<Shared>,
    who: Principal,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_service(&state, &who).await?;
    let checked = read_lines(body).await?;
    let count = checked.len();
    let (drafts, undecided) = drafts_of(&state, &who, checked, 1).await?;
    let appended = append(&state, drafts).await?;
    let (first, last) = match (appended.first(), appended.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(ApiError::internal("an append answered no events")),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "count": count,
            "undecided": undecided,
            "first_seq": first.seq,
            "last_seq": last.seq,
            "tree_size": last.checkpoint.checkpoint().size,
            "checkpoint": last.checkpoint.text(),
        })),
    ))
}

/// The decision recorded under `request_id`: its seq through the store's index, its event.
async fn find(state: &Shared, request_id: &str) -> Result<(u64, Event, Vec<u8>), ApiError> {
    let head = state
        .store
        .record_head(KIND, request_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no decision `{request_id}`")))?;
    let entry = state
        .store
        .entries(head.seq, 1)
        .await?
        .into_iter()
        .next()
        .filter(|e| e.seq == head.seq)
        .ok_or_else(|| ApiError::internal(format!("event {} is missing", head.seq)))?;
    let event = Event::from_bytes(&entry.body)
        .map_err(|e| ApiError::internal(format!("event {}: {e}", head.seq)))?;
    Ok((head.seq, event, entry.body))
}

/// Inclusion proof of a decision
///
/// The decision's event (its canonical bytes are its leaf), its sequence number and the
/// RFC 9162 inclusion proof in the latest signed checkpoint, found by request id.
#[utoipa::path(
    get,
    operation_id = "decision_proof",
    path = "/api/v1/decisions/{request_id}/proof",
    tag = "decisions",
    security(("bearer" = [])),
    params(("request_id", description = "The decision's request id.")),
    responses(
        (status = 200, description = "`request_id`, `index`, `size`, `leaf`, `event`, `proof` (hex, leaf to root) and the signed `checkpoint` of `size`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no decision with that request id.", body = ErrorBody),
    ),
)]
pub async fn proof(
    State(state): State<Shared>,
    who: Principal,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let (seq, event, body) = find(&state, &request_id).await?;
    let latest = state.sequencer.latest_checkpoint();
    let size = latest.checkpoint().size;
    let proof = inclusion_proof(&state.store, seq, size)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({
        "request_id": request_id,
        "index": seq,
        "size": size,
        "leaf": leaf_hash(&body),
        "event": event,
        "proof": proof,
        "checkpoint": latest.text(),
    })))
}

/// A decision as read: its content, state, and review when reviewed.
async fn present(state: &Shared, seq: u64, event: Event) -> Result<Value, ApiError> {
    let (row, review_seq) = {
        let projection = state.read();
        let d = projection.decisions();
        (d.row(seq).copied(), d.review_of(seq))
    };
    let mut answer = json!({
        "request_id": event.record.as_ref().map(|r| r.id.clone()),
        "seq": seq,
        "recorded_at": event.timestamp,
        "served_by": event.actor,
        "data": event.payload,
        "state": row.map(|r| r.state.as_str()),
    });
    if let Some(review_seq) = review_seq {
        let review = state.event(review_seq).await?;
        answer["review"] = json!({
            "seq": review_seq,
            "signer": review.actor.id,
            "name": review.actor.name,
            "role": review.actor.role,
            "signed_at": review.timestamp,
            "meaning": review.payload["meaning"],
            "verdict": review.payload["verdict"],
            "output": review.payload.get("output"),
            "reason": review.reason,
            "leaf": review.target,
        });
    }
    Ok(answer)
}

/// A decision by request id
#[utoipa::path(
    get,
    operation_id = "read_decision",
    path = "/api/v1/decisions/{request_id}",
    tag = "decisions",
    security(("bearer" = [])),
    params(("request_id", description = "The decision's request id.")),
    responses(
        (status = 200, description = "`request_id`, `seq`, `recorded_at`, `served_by`, `data`, `state` and, once reviewed, `review` (signer, name, `signed_at`, meaning, verdict, reason).", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no decision with that request id.", body = ErrorBody),
    ),
)]
pub async fn read(
    State(state): State<Shared>,
    who: Principal,
    Path(request_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let (seq, event, _) = find(&state, &request_id).await?;
    Ok(Json(present(&state, seq, event).await?))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this model version's decisions.
    model_version: Option<String>,
    /// Predicted at or after (RFC 3339).
    from: Option<String>,
    /// Predicted before (RFC 3339).
    to: Option<String>,
    /// Only this request id.
    request_id: Option<String>,
    /// Confidence at least.
    min_confidence: Option<f64>,
    /// Confidence at most.
    max_confidence: Option<f64>,
    /// Review state: `decided`, `undecided` (the review queue), `accepted`, `overridden`.
    review: Option<String>,
    /// The cursor: the `next` of the previous page.
    after: Option<u64>,
    /// At most this many (default 50, at most 500).
    limit: Option<usize>,
}

fn time_param(field: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    value
        .as_deref()
        .map(|t| {
            rfc3339_micros(t).ok_or_else(|| {
                ApiError::invalid(field, format!("`{t}` is not an RFC 3339 date-time"))
            })
        })
        .transpose()
}

/// Decisions, filtered
///
/// Decisions in log order, by model version, prediction time, request id, confidence band and
/// review state (`review=undecided` is the review queue), a page at a time: pass `next` back
/// as `after`.
#[utoipa::path(
    get,
    operation_id = "list_decisions",
    path = "/api/v1/decisions",
    tag = "decisions",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "`decisions` (as `GET /api/v1/decisions/{request_id}`) and `next`, the cursor, or null at the end.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is unknown or malformed.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`. Logged as `access.denied`.", body = ErrorBody),
        (status = 422, description = "`invalid`: a time, band or state is not acceptable; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let review = q
        .review
        .as_deref()
        .map(|r| {
            DecisionState::parse(r).ok_or_else(|| {
                ApiError::invalid(
                    "review",
                    format!("`{r}` is not one of decided, undecided, accepted, overridden"),
                )
            })
        })
        .transpose()?;
    for (field, band) in [
        ("min_confidence", q.min_confidence),
        ("max_confidence", q.max_confidence),
    ] {
        if band.is_some_and(|c| !(0.0..=1.0).contains(&c)) {
            return Err(ApiError::invalid(field, "a confidence is within [0, 1]"));
        }
    }
    let filter = Filter {
        model_version: q.model_version.clone(),
        from: time_param("from", &q.from)?,
        to: time_param("to", &q.to)?,
        min_confidence: q.min_confidence,
        max_confidence: q.max_confidence,
        state: review,
    };
    let rows: Vec<Row> = match &q.request_id {
        Some(id) => match state.store.record_head(KIND, id).await? {
            Some(head) => {
                let projection = state.read();
                let d = projection.decisions();
                d.row(head.seq)
                    .filter(|r| q.after.is_none_or(|a| r.seq > a) && d.matches(r, &filter))
                    .copied()
                    .into_iter()
                    .collect()
            }
            None => Vec::new(),
        },
        None => state.read().decisions().query(&filter, q.after, limit + 1),
    };
    let more = rows.len() > limit;
    let mut found = Vec::with_capacity(rows.len().min(limit));
    for row in rows.iter().take(limit) {
        let event = state.event(row.seq).await?;
        found.push(present(&state, row.seq, event).await?);
    }
    let next = match more {
        true => rows.get(limit - 1).map(|r| r.seq),
        false => None,
    };
    Ok(Json(json!({"decisions": found, "next": next})))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    /// `accept` (the model's output stands) or `override` (replaced by `output`).
    verdict: String,
    /// Why; required.
    reason: String,
    /// The output that replaces the model's, for an override.
    #[schema(value_type = Option<Object>)]
    output: Option<Value>,
    /// The signature's meaning; `reviewed` when absent.
    #[schema(schema_with = crate::openapi::meaning_schema)]
    meaning: Option<Meaning>,
    /// The reviewer's user id: required at the first signature of a session.
    username: Option<String>,
    /// The reviewer's password, at every signature.
    #[schema(format = Password)]
    password: String,
}

/// The override-rate limit of a model version: its monitoring plan's, else its deployment's.
async fn override_limit(
    state: &Shared,
    model_version: &str,
    environment: &str,
) -> Result<Option<OverrideLimit>, ApiError> {
    let mut settings = Vec::new();
    if let Some((_, plan)) =
        latest_naming(state, "monitoring_plan", model_version, |_| true).await?
    {
        settings.push(Settings::from_content(&plan));
    }
    if let Some((_, d)) = latest_naming(state, "deployment", model_version, |c| {
        c["environment"] == environment
    })
    .await?
    {
        settings.push(Settings::from_content(&d));
    }
    Ok(settings
        .iter()
        .find_map(|s| s.max_override_rate.map(|max| (max, s.min_reviews)))
        .map(|(max_rate, min_reviews)| OverrideLimit {
            max_rate,
            min_reviews: min_reviews.unwrap_or(DEFAULT_MIN_REVIEWS),
        }))
}

/// Review an undecided decision
///
/// A person accepts or overrides a low-confidence output, with a reason: an electronic
/// signature (re-authentication with the password; the user id too at a session's first
/// signature) bound to the decision's leaf hash. When the model version's override rate then
/// exceeds its limit (monitoring plan or deployment `decisions.max_override_rate`, judged from
/// `min_reviews` reviews), an exception detected by the system is raised in the same
/// transaction (once while it is open).
#[utoipa::path(
    post,
    operation_id = "review_decision",
    path = "/api/v1/decisions/{request_id}/review",
    tag = "decisions",
    security(("bearer" = [])),
    params(("request_id", description = "The decision's request id.")),
    request_body(content = ReviewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The decision as read, with its `review`, `raised` (the exception, if any) and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`; `session_required`; `not_signer`; `wrong_password`. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no decision with that request id.", body = ErrorBody),
        (status = 409, description = "`not_undecided`: the decision is not waiting for review (decided, or already reviewed).", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing or wrong (an override needs `output`, every review a `reason`); `field` names it.", body = ErrorBody),
    ),
)]
pub async fn review(
    State(state): State<Shared>,
    who: Principal,
    Path(request_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::Sign).await?;
    let request: ReviewRequest = parse(&body)?;
    let verdict = match request.verdict.as_str() {
        "accept" | "accepted" => Verdict::Accepted,
        "override" | "overridden" => Verdict::Overridden,
        other => {
            return Err(ApiError::invalid(
                "verdict",
                format!("`{other}` is not `accept` or `override`"),
            ))
        }
    };
    if request.reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "a review needs a reason"));
    }
    let output = match (verdict, request.output) {
        (Verdict::Overridden, None | Some(Value::Null)) => {
            return Err(ApiError::invalid(
                "output",
                "an override needs the output that replaces the model's",
            ))
        }
        (Verdict::Accepted, Some(_)) => {
            return Err(ApiError::invalid(
                "output",
                "an accepted decision keeps the model's output; give none",
            ))
        }
        (_, output) => output,
    };
    reauthenticate(&state, &who, request.username.as_deref(), &request.password).await?;
    let one_at_a_time = state.decision_reviews.lock().await;
    let (seq, event, body) = find(&state, &request_id).await?;
    let row = state.read().decisions().row(seq).copied();
    if !row.is_some_and(|r| r.state == DecisionState::Undecided) {
        return Err(ApiError::conflict(
            "not_undecided",
            format!(
                "decision `{request_id}` is {}, not waiting for review",
                row.map_or("unknown", |r| r.state.as_str())
            ),
        ));
    }
    let recorded: Recorded = serde_json::from_value(event.payload.clone())
        .map_err(|e| ApiError::internal(format!("decision {seq}: {e}")))?;
    let mut count = state
        .read()
        .decisions()
        .override_count(&recorded.model_version);
    count.reviews += 1;
    if verdict == Verdict::Overridden {
        count.overrides += 1;
    }
    let mut raised = None;
    let mut exception_draft = None;
    if let Some(limit) =
        override_limit(&state, &recorded.model_version, &recorded.environment).await?
    {
        let open = {
            let projection = state.read();
            projection
                .decisions()
                .override_exception(&recorded.model_version)
                .and_then(|id| projection.record("exception", id))
                .is_some_and(|r| !matches!(r.workflow.as_deref(), Some("closed" | "cancelled")))
        };
        if count.breaches(&limit) && !open {
            let id = new_id().map_err(ApiError::internal)?;
            let content = override_exception(
                &recorded.model_version,
                &count,
                &limit,
                &request_id,
                &modeltrail_ledger::Timestamp::now().to_string(),
            );
            state
                .record_types
                .validate("exception", &content)
                .map_err(|e| ApiError::internal(format!("the override-rate exception: {e}")))?;
            exception_draft = Some(EventDraft {
                actor: system_actor(),
                client: Default::default(),
                action: actions::RECORD_CREATE.into(),
                record: Some(RecordRef {
                    kind: "exception".into(),
                    id: id.clone(),
                    version: 1,
                }),
                prev: None,
                reason: Some(format!(
                    "override rate of {} above its limit at the review of decision {request_id}",
                    recorded.model_version
                )),
                target: None,
                payload: content,
            });
            raised = Some(id);
        }
    }
    let mut draft = who.draft(
        actions::DECISION_REVIEW,
        json!(Reviewed {
            decision_seq: seq,
            verdict,
            meaning: request.meaning.unwrap_or(Meaning::Reviewed),
            output,
            raised_exception: raised.clone(),
        }),
    );
    draft.record = Some(RecordRef {
        kind: KIND.into(),
        id: request_id.clone(),
        version: 1,
    });
    draft.target = Some(leaf_hash(&body));
    draft.reason = Some(request.reason);
    let mut drafts = vec![draft];
    drafts.extend(exception_draft);
    let appended = state.sequencer.append_all(drafts).await?;
    drop(one_at_a_time);
    if let Some(digest) = &who.session {
        state.sessions.update(digest, |s| s.has_signed = true);
    }
    let mut answer = present(&state, seq, event).await?;
    answer["raised"] = json!(raised.map(|id| json!({"exception": id})));
    answer["receipt"] = json!(Receipt::of(&appended));
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Predicted at or after (RFC 3339).
    from: Option<String>,
    /// Predicted before (RFC 3339).
    to: Option<String>,
}

/// Decision statistics of a model version
///
/// Daily counts by state, the confidence histogram (ten bins over [0, 1]), the review queue's
/// length, and the override rate with its limit.
#[utoipa::path(
    get,
    operation_id = "decision_stats",
    path = "/api/v1/model-versions/{id}/decision-stats",
    tag = "decisions",
    security(("bearer" = [])),
    params(("id", description = "The model_version record id."), StatsQuery),
    responses(
        (status = 200, description = "`total`, `daily` (`day`, `total`, `decided`, `undecided`, `accepted`, `overridden`), `histogram`, `pending_review`, `reviews`, `overrides`, `override_rate`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`.", body = ErrorBody),
        (status = 403, description = "`forbidden`. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version.", body = ErrorBody),
        (status = 422, description = "`invalid`: `from` or `to` is not RFC 3339.", body = ErrorBody),
    ),
)]
pub async fn stats(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let (from, to) = (time_param("from", &q.from)?, time_param("to", &q.to)?);
    let projection = state.read();
    if projection.record("model_version", &id).is_none() {
        return Err(ApiError::not_found(format!("no model_version `{id}`")));
    }
    Ok(Json(json!(projection.decisions().stats(&id, from, to))))
}
