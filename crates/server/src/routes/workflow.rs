//! Workflow steps over HTTP: a record of a kind with a workflow (`workflow::machine`) is moved
//! from its state to the next by a `record.transition` event, after the step is checked against
//! the kind's machine, the caller's role and what the step needs (for change requests,
//! `change_control::step_conditions`). Steps are taken one at a time per server, so two callers
//! can never both move a record out of the same state.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::change_control::{step_conditions, ChangeFile};
use modeltrail_domain::dossier::{references, Doc};
use modeltrail_domain::gate::Condition;
use modeltrail_domain::projection::RecordState;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::workflow::{machine, Machine, StepRefused};
use modeltrail_ledger::event::RecordRef;
use modeltrail_ledger::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use super::records::{check_current, find, known_type, present};
use super::users::require_reason;
use crate::auth::Principal;
use crate::dossier::doc;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// The state to move to.
    to: String,
    /// The record's latest version, which the step is taken on: a stale one is refused with 409.
    version: u64,
    /// Why the step is taken; required.
    reason: String,
}

fn workflow_of(kind: &str) -> Result<&'static Machine, ApiError> {
    machine(kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_workflow",
            format!("{kind} records have no workflow"),
        )
    })
}

fn current_state(machine: &Machine, record: &RecordState) -> String {
    record
        .workflow
        .clone()
        .unwrap_or_else(|| machine.initial.to_owned())
}

/// The workflow part of a record's answer: its state, the states it may move to, and the
/// steps that led there.
fn workflow_view(machine: &Machine, record: &RecordState) -> Value {
    let state = current_state(machine, record);
    json!({
        "state": state,
        "next": machine.next(&state),
        "closed": machine.is_terminal(&state),
        "transitions": record.transitions,
    })
}

/// Move a record to its next workflow state
///
/// Checks that the step is legal from the record's state, that the caller's role may take it,
/// and that what it needs is there; then records a `record.transition` event on the record's
/// latest version. For change requests: `submitted` needs the model and the re-validation
/// scope and protocols; `approved` needs QA's `approved` signature on the current version, or
/// `covered_by_pccp` naming an approved plan in force that allows the request's category;
/// `implemented` needs `proposed_model_version`; `verified` needs a passing result of every
/// re-validation protocol on the new model version, the covering plan's bounds (and same code,
/// when the plan demands it), and QA's `verified` signature; only QA rejects or closes.
#[utoipa::path(
    post,
    operation_id = "transition_record",
    path = "/api/v1/records/{kind}/{id}/transitions",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "A record type with a workflow, such as `change_request`.", example = "change_request"),
        ("id", description = "The record id.", example = "cr-1"),
    ),
    request_body(content = TransitionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Moved: the record with its `workflow` (state, next states, steps so far) and the `receipt` of the `record.transition` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records, or may not take this step (e.g. only QA rejects). Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type`, `not_found` or `no_workflow`: no such record type, record, or no workflow for the type.", body = ErrorBody),
        (status = 409, description = "`illegal_transition`: the step is not possible from the record's state (`details.state`, `details.allowed`); `transition_refused`: what the step needs is missing (`details.unmet`, each condition naming the record or signature); `stale_version` or `voided`.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown, of the wrong type, the reason is empty or `to` is not a state of the workflow; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn transition(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: TransitionRequest = parse(&body)?;
    require_reason(&request.reason)?;
    known_type(&state, &kind)?;
    let machine = workflow_of(&kind)?;
    // One step at a time: the state read here is still the state when the event is appended.
    let one_at_a_time = state.workflow_steps.lock().await;
    let record = find(&state, &kind, &id)?;
    check_current(&record, request.version)?;
    let from = current_state(machine, &record);
    match machine.step(&from, &request.to, who.role) {
        Ok(_) => {}
        Err(e @ StepRefused::UnknownState { .. }) => {
            return Err(ApiError::invalid("to", e.to_string()));
        }
        Err(e @ StepRefused::Illegal { .. }) => {
            return Err(ApiError::conflict("illegal_transition", e.to_string())
                .with_details(json!({ "state": from, "allowed": machine.next(&from) })));
        }
        Err(e @ StepRefused::Role { .. }) => {
            return Err(who
                .deny(&state, ApiError::forbidden("forbidden", e.to_string()))
                .await);
        }
    }
    let unmet: Vec<Condition> = needs(&state, &record, &request.to)
        .await?
        .into_iter()
        .filter(|c| !c.met)
        .collect();
    if !unmet.is_empty() {
        let names: Vec<String> = unmet.iter().flat_map(|c| c.missing.clone()).collect();
        return Err(ApiError::conflict(
            "transition_refused",
            format!(
                "{kind} `{id}` cannot move from `{from}` to `{}`: missing {}",
                request.to,
                names.join("; ")
            ),
        )
        .with_details(json!({ "unmet": unmet })));
    }

    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?
        .clone();
    let mut draft = who.draft(
        actions::RECORD_TRANSITION,
        json!(actions::Transitioned {
            from: from.clone(),
            to: request.to.clone(),
        }),
    );
    draft.record = Some(RecordRef {
        kind: kind.clone(),
        id: id.clone(),
        version: head.version,
    });
    draft.target = Some(head.leaf);
    draft.reason = Some(request.reason);
    let appended = state.sequencer.append(draft).await?;
    drop(one_at_a_time);

    let record = find(&state, &kind, &id)?;
    let mut answer = present(&state, &record, head.version, None).await?;
    answer["workflow"] = workflow_view(machine, &record);
    answer["receipt"] = json!(Receipt::of(&[appended]));
    Ok(Json(answer))
}

/// Where a record stands in its workflow
///
/// Its state, whether it is closed, the steps that led there (who, when, why, on which
/// version), and for each state it may move to, what that step needs and whether it is met
/// now, so a board can show what is missing before anyone tries.
#[utoipa::path(
    get,
    operation_id = "record_workflow",
    path = "/api/v1/records/{kind}/{id}/workflow",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "A record type with a workflow, such as `change_request`.", example = "change_request"),
        ("id", description = "The record id.", example = "cr-1"),
    ),
    responses(
        (status = 200, description = "`state`, `closed`, `transitions`, and `steps`: for each next state, its `conditions` (code, met, detail, missing) and `ready`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type`, `not_found` or `no_workflow`.", body = ErrorBody),
    ),
)]
pub async fn workflow(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    let machine = workflow_of(&kind)?;
    let mut view = workflow_view(machine, &record);
    let from = current_state(machine, &record);
    let mut steps = Vec::new();
    for to in machine.next(&from) {
        let conditions = match record.voided {
            true => Vec::new(),
            false => needs(&state, &record, to).await?,
        };
        let by: Vec<&str> = machine
            .steps
            .iter()
            .find(|s| s.to == to && s.from.contains(&from.as_str()))
            .map(|s| s.by.iter().map(|r| r.as_str()).collect())
            .unwrap_or_default();
        steps.push(json!({
            "to": to,
            "by": by,
            "ready": !record.voided && conditions.iter().all(|c| c.met),
            "conditions": conditions,
        }));
    }
    view["steps"] = json!(steps);
    view["type"] = json!(kind);
    view["id"] = json!(id);
    Ok(Json(view))
}

/// What moving `record` to `to` needs, evaluated now.
async fn needs(state: &Shared, record: &RecordState, to: &str) -> Result<Vec<Condition>, ApiError> {
    match record.kind.as_str() {
        "change_request" => {
            let file = change_file(state, record).await?;
            let today = Timestamp::now().to_string();
            Ok(step_conditions(&file, to, today.get(..10).unwrap_or("")))
        }
        "exception" => {
            let exception = doc(state, record).await?;
            let named: Vec<RecordState> = {
                let p = state.read();
                exception
                    .texts("/capa")
                    .into_iter()
                    .filter_map(|id| p.record("capa", id).cloned())
                    .collect()
            };
            let mut capas = Vec::with_capacity(named.len());
            for capa in &named {
                capas.push(doc(state, capa).await?);
            }
            Ok(modeltrail_domain::capa::exception_step(
                &exception, &capas, to,
            ))
        }
        "capa" => Ok(modeltrail_domain::capa::capa_step(
            &doc(state, record).await?,
            to,
        )),
        _ => Ok(Vec::new()),
    }
}

/// A change request with what its content names, two steps out (the plan; the model
/// versions, their training runs and code versions; the protocols), and the validation results
/// of its proposed model version.
async fn change_file(state: &Shared, record: &RecordState) -> Result<ChangeFile, ApiError> {
    let request = doc(state, record).await?;
    let mut wanted: BTreeMap<(String, String), RecordState> = BTreeMap::new();
    let mut frontier: Vec<Doc> = vec![request.clone()];
    let mut related = Vec::new();
    let mut first_ring: Vec<RecordState> = Vec::new();
    if let Some(proposed) = request.text("proposed_model_version") {
        let p = state.read();
        for r in p.referrers("model_version", proposed) {
            if r.kind == "validation_result" {
                wanted.insert((r.kind.clone(), r.id.clone()), r.clone());
                first_ring.push(r.clone());
            }
        }
    }
    for ring in 0..3 {
        let mut next = match ring {
            0 => std::mem::take(&mut first_ring),
            _ => Vec::new(),
        };
        {
            let p = state.read();
            for d in &frontier {
                let mut named: Vec<(&str, &str)> = references(&d.data);
                for protocol in d.texts("/revalidation/protocols") {
                    named.push(("validation_protocol", protocol));
                }
                for (kind, target) in named {
                    let found = match kind {
                        "" => None,
                        kind => p.record(kind, target),
                    };
                    if let Some(r) = found {
                        let key = (r.kind.clone(), r.id.clone());
                        if key != (record.kind.clone(), record.id.clone())
                            && !wanted.contains_key(&key)
                        {
                            wanted.insert(key, r.clone());
                            next.push(r.clone());
                        }
                    }
                }
            }
        }
        frontier.clear();
        for r in next {
            let d = doc(state, &r).await?;
            frontier.push(d.clone());
            related.push(d);
        }
    }
    Ok(ChangeFile { request, related })
}
