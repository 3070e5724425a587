//! The ledger over HTTP: the latest signed checkpoint and the log's public key (open to all),
//! and for everyone signed in, proofs (they reveal only hashes); for those who may read the log, its events.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::event::Event;
use modeltrail_ledger::{leaf_hash, Timestamp};
use modeltrail_store::proofs::{consistency_proof, inclusion_proof, ProofFetchError};
use modeltrail_store::LogStore;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::state::Shared;

/// Events read per page while filtering.
const PAGE: usize = 1024;
/// Events looked at per request at most; past that the answer says where to go on.
const SCAN_BUDGET: u64 = 100_000;

/// The latest checkpoint
///
/// The log's latest signed checkpoint in the signed-note format: origin, tree size, root hash
/// and time, then the signature. Open to all.
#[utoipa::path(
    get,
    path = "/api/v1/checkpoint",
    tag = "ledger",
    responses(
        (status = 200, description = "The signed checkpoint text.", body = String, content_type = "text/plain"),
    ),
)]
pub async fn checkpoint(State(state): State<Shared>) -> impl IntoResponse {
    let latest = state.sequencer.latest_checkpoint();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        latest.text().to_owned(),
    )
}

/// The log's public key
///
/// The verifier key that checks the checkpoints' signatures. Open to all.
#[utoipa::path(
    get,
    path = "/api/v1/log/public-key",
    tag = "ledger",
    responses(
        (status = 200, description = "The verifier key, one line.", body = String, content_type = "text/plain"),
    ),
)]
pub async fn public_key(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", state.verifier_key),
    )
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The sequence number to start at (0 if not given).
    from: Option<u64>,
    /// At most this many events (1 to 1000; 100 if not given).
    limit: Option<usize>,
    /// Only events by this user id.
    actor: Option<String>,
    /// Only events with this action, such as `record.update`.
    action: Option<String>,
    /// Only events about records of this type.
    record_type: Option<String>,
    /// Only events about records with this id.
    record_id: Option<String>,
    /// Only events at or after this time (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`).
    since: Option<String>,
    /// Only events at or before this time (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`).
    until: Option<String>,
}

fn time(field: &str, text: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    text.as_deref()
        .map(|t| {
            Timestamp::parse(t).map_err(|e| ApiError::invalid(field.to_owned(), e.to_string()))
        })
        .transpose()
}

/// The log's events
///
/// Events in log order from `from`, filtered; `next` says where to continue. Each event comes
/// with its leaf hash. At most 100,000 events are looked at per request.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "ledger",
    security(("bearer" = [])),
    params(EventQuery),
    responses(
        (status = 200, description = "`events`, the log's `tree_size`, and `next`: where to continue, or null at the end.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is unknown or malformed.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read the log; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 422, description = "`invalid`: `since` or `until` is not a timestamp; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn events(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<EventQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadLog).await?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (since, until) = (time("since", &q.since)?, time("until", &q.until)?);
    let size = state.sequencer.latest_checkpoint().checkpoint().size;
    let mut at = q.from.unwrap_or(0);
    let stop = size.min(at.saturating_add(SCAN_BUDGET));
    let mut found = Vec::new();
    'scan: while at < stop && found.len() < limit {
        let page = state
            .store
            .entries(at, PAGE.min((stop - at) as usize))
            .await?;
        if page.is_empty() {
            break;
        }
        for entry in page {
            at = entry.seq + 1;
            let event = Event::from_bytes(&entry.body)
                .map_err(|e| ApiError::internal(format!("event {}: {e}", entry.seq)))?;
            if until.is_some_and(|u| event.timestamp > u) {
                at = size;
                break 'scan;
            }
            let record = event.record.as_ref();
            let keep = q.actor.as_ref().is_none_or(|a| *a == event.actor.id)
                && q.action.as_ref().is_none_or(|a| *a == event.action)
                && q.record_type
                    .as_ref()
                    .is_none_or(|t| record.is_some_and(|r| r.kind == *t))
                && q.record_id
                    .as_ref()
                    .is_none_or(|i| record.is_some_and(|r| r.id == *i))
                && since.is_none_or(|s| event.timestamp >= s);
            if keep {
                let mut value = json!(event);
                value["leaf"] = json!(leaf_hash(&entry.body));
                found.push(value);
                if found.len() == limit {
                    break 'scan;
                }
            }
        }
    }
    Ok(Json(json!({
        "events": found,
        "tree_size": size,
        "next": (at < size).then_some(at),
    })))
}

fn proof_error(e: ProofFetchError) -> ApiError {
    match e {
        ProofFetchError::Plan(p) => ApiError::bad_request("bad_proof_request", p.to_string()),
        ProofFetchError::Store(s) => ApiError::from(s),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The sequence number of the event.
    index: u64,
    /// The tree size to prove against (the latest if not given).
    size: Option<u64>,
}

/// An inclusion proof
///
/// Proves that the event at `index` is in the tree of `size` events; with the latest size the
/// answer carries the signed checkpoint too.
#[utoipa::path(
    get,
    path = "/api/v1/proofs/inclusion",
    tag = "ledger",
    security(("bearer" = [])),
    params(InclusionQuery),
    responses(
        (status = 200, description = "The `leaf` hash, the `proof` hashes and, for the latest size, the `checkpoint`.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is missing, unknown or malformed; `bad_proof_request`: the index or size is out of range.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read the log; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn inclusion(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    // Proofs reveal only hashes: everyone signed in may check that the log only grew.
    who.require(&state, Permission::ReadRecords).await?;
    let latest = state.sequencer.latest_checkpoint();
    let size = q.size.unwrap_or(latest.checkpoint().size);
    if size > latest.checkpoint().size {
        return Err(ApiError::bad_request(
            "bad_proof_request",
            format!(
                "size {size} is beyond the log's {}",
                latest.checkpoint().size
            ),
        ));
    }
    let proof = inclusion_proof(&state.store, q.index, size)
        .await
        .map_err(proof_error)?;
    let leaf = state
        .store
        .entries(q.index, 1)
        .await?
        .into_iter()
        .next()
        .map(|e| leaf_hash(&e.body));
    Ok(Json(json!({
        "index": q.index,
        "size": size,
        "leaf": leaf,
        "proof": proof,
        "checkpoint": (size == latest.checkpoint().size).then(|| latest.text().to_owned()),
    })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size.
    from: u64,
    /// The newer tree size (the latest if not given).
    to: Option<u64>,
}

/// A consistency proof
///
/// Proves that the tree of `to` events extends the tree of `from` events; with the latest size
/// the answer carries the signed checkpoint too.
#[utoipa::path(
    get,
    path = "/api/v1/proofs/consistency",
    tag = "ledger",
    security(("bearer" = [])),
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The `proof` hashes and, for the latest size, the `checkpoint`.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is missing, unknown or malformed; `bad_proof_request`: the sizes are out of range.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read the log; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn consistency(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let latest = state.sequencer.latest_checkpoint();
    let to = q.to.unwrap_or(latest.checkpoint().size);
    if to > latest.checkpoint().size {
        return Err(ApiError::bad_request(
            "bad_proof_request",
            format!("size {to} is beyond the log's {}", latest.checkpoint().size),
        ));
    }
    let proof = consistency_proof(&state.store, q.from, to)
        .await
        .map_err(proof_error)?;
    Ok(Json(json!({
        "from": q.from,
        "to": to,
        "proof": proof,
        "checkpoint": (to == latest.checkpoint().size).then(|| latest.text().to_owned()),
    })))
}
