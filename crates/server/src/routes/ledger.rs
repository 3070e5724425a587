//! The ledger over HTTP: the latest signed checkpoint and the log's public key (open to all),
//! and for those who may read the log, its events and proofs.

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

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::Shared;

/// Events read per page while filtering.
const PAGE: usize = 1024;
/// Events looked at per request at most; past that the answer says where to go on.
const SCAN_BUDGET: u64 = 100_000;

pub async fn checkpoint(State(state): State<Shared>) -> impl IntoResponse {
    let latest = state.sequencer.latest_checkpoint();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        latest.text().to_owned(),
    )
}

pub async fn public_key(State(state): State<Shared>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}\n", state.verifier_key),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    from: Option<u64>,
    limit: Option<usize>,
    actor: Option<String>,
    action: Option<String>,
    record_type: Option<String>,
    record_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

fn time(field: &str, text: &Option<String>) -> Result<Option<Timestamp>, ApiError> {
    text.as_deref()
        .map(|t| {
            Timestamp::parse(t).map_err(|e| ApiError::invalid(field.to_owned(), e.to_string()))
        })
        .transpose()
}

/// Events in log order from `from`, filtered; `next` says where to continue.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

pub async fn inclusion(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadLog).await?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

pub async fn consistency(
    State(state): State<Shared>,
    who: Principal,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadLog).await?;
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
