//! Versioned records: create, update with a reason, void with a reason, read any version, the
//! history with field-level diffs, and electronic signatures on a version.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::computed::{prepare_client_data, ClientDataError};
use modeltrail_domain::diff::diff as field_diff;
use modeltrail_domain::identity::new_id;
use modeltrail_domain::projection::{check_signature, RecordState, VersionInfo};
use modeltrail_domain::roles::Permission;
use modeltrail_domain::schemas::SchemaError;
use modeltrail_domain::signature::{Meaning, SignatureRefused};
use modeltrail_domain::training;
use modeltrail_ledger::event::{AuthMethod, RecordRef};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::auth::password_matches;
use super::users::require_reason;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

/// The longest record id accepted.
const MAX_ID_LEN: usize = 128;

pub(crate) fn known_type(state: &Shared, kind: &str) -> Result<(), ApiError> {
    match state.record_types.schema(kind) {
        Some(_) => Ok(()),
        None => Err(schema_error(SchemaError::UnknownType {
            kind: kind.to_owned(),
            known: state.record_types.names().map(str::to_owned).collect(),
        })),
    }
}

fn schema_error(e: SchemaError) -> ApiError {
    match e {
        SchemaError::UnknownType { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "unknown_record_type", e.to_string())
        }
        SchemaError::Invalid { field, message } => {
            let field = match field.is_empty() {
                true => "data".to_owned(),
                false => format!("data{field}"),
            };
            ApiError::invalid(field, message)
        }
        other => ApiError::internal(other),
    }
}

fn client_data_error(e: ClientDataError) -> ApiError {
    ApiError::invalid(format!("data{}", e.field()), e.to_string())
}

/// A training record names a person of the user directory; their printed name is filled in.
fn complete_training(state: &Shared, kind: &str, data: &mut Value) -> Result<(), ApiError> {
    if kind != training::KIND {
        return Ok(());
    }
    training::complete_content(data, &state.read()).map_err(|e| {
        ApiError::invalid(
            format!("data/{}", e.field().unwrap_or_default()),
            e.to_string(),
        )
    })
}

pub(crate) fn find(state: &Shared, kind: &str, id: &str) -> Result<RecordState, ApiError> {
    known_type(state, kind)?;
    state
        .read()
        .record(kind, id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no {kind} record `{id}`")))
}

pub(crate) fn check_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b':'));
    match ok {
        true => Ok(()),
        false => Err(ApiError::invalid(
            "id",
            format!(
                "a record id is 1 to {MAX_ID_LEN} characters of letters, digits, `.`, `_`, `-`, `:`"
            ),
        )),
    }
}

/// A record as every read shows it: the version asked for, its content, and every signature
/// with its manifestation, marked when it applies to another version.
/// `known` is the version's content when the caller has it, which saves reading the event back.
pub(crate) async fn present(
    state: &Shared,
    record: &RecordState,
    version: u64,
    known: Option<Value>,
) -> Result<Value, ApiError> {
    let info = record
        .version(version)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{} `{}` has versions 1 to {}",
                record.kind,
                record.id,
                record.versions.len()
            ))
        })?
        .clone();
    let data = match known {
        Some(data) => data,
        None => state.event(info.seq).await?.payload,
    };
    let latest = record.versions.len() as u64;
    let created = record
        .versions
        .first()
        .map(|v| json!({"by": v.actor.id, "name": v.actor.name, "at": v.timestamp}));
    let signatures: Vec<Value> = record
        .signatures
        .iter()
        .map(|s| {
            let mut v = json!(s);
            v["applies_to_this_version"] = json!(s.version == version);
            v["manifestation"] = json!(s.line());
            v
        })
        .collect();
    let mut answer = json!({
        "type": record.kind,
        "id": record.id,
        "version": version,
        "latest_version": latest,
        "status": match record.voided && version == latest { true => "voided", false => "active" },
        "data": data,
        "seq": info.seq,
        "leaf": info.leaf,
        "created": created,
        "changed": {"by": info.actor.id, "name": info.actor.name, "at": info.timestamp,
                    "action": info.action, "reason": info.reason},
        "signatures": signatures,
    });
    if !record.signature_requests.is_empty() {
        let requests: Vec<Value> = record
            .signature_requests
            .iter()
            .map(|r| {
                let mut v = json!(r);
                v["applies_to_this_version"] = json!(r.version == version);
                v["signed"] = json!(record.fulfils(r));
                v
            })
            .collect();
        answer["signature_requests"] = json!(requests);
    }
    if let Some(workflow) = &record.workflow {
        answer["workflow_state"] = json!(workflow);
    }
    if record.kind == training::KIND {
        let current = match (version == latest, record.head()) {
            (true, _) | (_, None) => answer["data"].clone(),
            (false, Some(head)) => state.event(head.seq).await?.payload,
        };
        let acknowledged = training::acknowledgement(record, &current)
            .map(|s| json!({"by": s.signer, "name": s.name, "at": s.signed_at, "version": s.version, "manifestation": s.line()}));
        answer["trainee_acknowledgement"] = acknowledged.unwrap_or(Value::Null);
    }
    Ok(answer)
}

/// Record types
///
/// The names of the record types this server keeps.
#[utoipa::path(
    get,
    path = "/api/v1/record-types",
    tag = "records",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`types`: the record type names.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn types(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let names: Vec<&str> = state.record_types.names().collect();
    Ok(Json(json!({ "types": names })))
}

/// A record type's schema
///
/// The JSON Schema a record's `data` must meet.
#[utoipa::path(
    get,
    path = "/api/v1/record-types/{kind}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
    ),
    responses(
        (status = 200, description = "The JSON Schema of the type.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type`: no such record type.", body = ErrorBody),
    ),
)]
pub async fn schema(
    State(state): State<Shared>,
    who: Principal,
    Path(kind): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    known_type(&state, &kind)?;
    Ok(Json(
        state
            .record_types
            .schema(&kind)
            .cloned()
            .unwrap_or(Value::Null),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Start after this record id (ids are in order).
    after: Option<String>,
    /// At most this many records (1 to 1000; 100 if not given).
    limit: Option<usize>,
}

/// Records of a type
///
/// In id order, a page at a time: each with its latest version, status, last change and number
/// of signatures.
#[utoipa::path(
    get,
    operation_id = "list_records",
    path = "/api/v1/records/{kind}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ListQuery,
    ),
    responses(
        (status = 200, description = "`records`: the page of records.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is missing, unknown or malformed.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type`: no such record type.", body = ErrorBody),
    ),
)]
pub async fn list(
    State(state): State<Shared>,
    who: Principal,
    Path(kind): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    known_type(&state, &kind)?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let p = state.read();
    let records: Vec<Value> = p
        .records_of(&kind, q.after.as_deref())
        .take(limit)
        .map(|r| {
            let head = r.head();
            json!({
                "id": r.id,
                "version": head.map_or(0, |h| h.version),
                "status": if r.voided { "voided" } else { "active" },
                "changed_at": head.map(|h| h.timestamp),
                "changed_by": head.map(|h| h.actor.id.clone()),
                "signatures": r.signatures.len(),
                "workflow_state": r.workflow,
            })
        })
        .collect();
    Ok(Json(json!({ "records": records })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// The record id: 1 to 128 letters, digits, `.`, `_`, `-` or `:`; a random one if not given.
    id: Option<String>,
    /// The record's content, which must meet the type's JSON Schema.
    #[schema(value_type = Object)]
    data: Value,
    /// Why the record is created; optional.
    reason: Option<String>,
}

/// Create a record
///
/// Version 1 of a new record.
#[utoipa::path(
    post,
    operation_id = "create_record",
    path = "/api/v1/records/{kind}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
    ),
    request_body(content = CreateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: the record at version 1 and the `receipt` of the `record.create` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type`: no such record type.", body = ErrorBody),
        (status = 409, description = "`record_exists`: a record with that id exists; update it instead.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, the id is not acceptable, or `data` does not meet the schema; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<Shared>,
    who: Principal,
    Path(kind): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    known_type(&state, &kind)?;
    let mut request: CreateRequest = parse(&body)?;
    let id = match request.id {
        Some(id) => id,
        None => new_id().map_err(ApiError::internal)?,
    };
    check_id(&id)?;
    state
        .record_types
        .validate(&kind, &request.data)
        .map_err(schema_error)?;
    prepare_client_data(&kind, &mut request.data).map_err(client_data_error)?;
    complete_training(&state, &kind, &mut request.data)?;
    if state.read().record(&kind, &id).is_some() {
        return Err(ApiError::conflict(
            "record_exists",
            format!("{kind} `{id}` already exists; update it with a reason instead"),
        ));
    }
    let mut draft = who.draft(actions::RECORD_CREATE, request.data.clone());
    draft.record = Some(RecordRef {
        kind: kind.clone(),
        id: id.clone(),
        version: 1,
    });
    draft.reason = request.reason.filter(|r| !r.trim().is_empty());
    let appended = state.sequencer.append(draft).await?;
    let record = find(&state, &kind, &id)?;
    let mut answer = present(&state, &record, 1, Some(request.data)).await?;
    answer["receipt"] = json!(Receipt::of(&[appended]));
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequest {
    /// The version the change was made from: a stale one is refused with 409.
    version: u64,
    /// Why the record changes; required.
    reason: String,
    /// The new content, which must meet the type's JSON Schema and differ from the current.
    #[schema(value_type = Object)]
    data: Value,
}

/// Refuses a change to anything but the latest version of a live record.
pub(crate) fn check_current(record: &RecordState, version: u64) -> Result<(), ApiError> {
    let latest = record.versions.len() as u64;
    if record.voided {
        return Err(ApiError::conflict(
            "voided",
            format!(
                "{} `{}` is voided (version {latest}); it cannot change",
                record.kind, record.id
            ),
        ));
    }
    if version != latest {
        return Err(ApiError::conflict(
            "stale_version",
            format!(
                "{} `{}` is at version {latest}, not {version}; read it again and retry",
                record.kind, record.id
            ),
        )
        .with_field("version"));
    }
    Ok(())
}

/// Refuses a change to a record whose workflow has ended (closed, rejected, cancelled).
fn check_open(record: &RecordState) -> Result<(), ApiError> {
    let closed = record
        .workflow
        .as_deref()
        .zip(modeltrail_domain::workflow::machine(&record.kind))
        .filter(|(state, machine)| machine.is_terminal(state));
    match closed {
        Some((state, _)) => Err(ApiError::conflict(
            "workflow_closed",
            format!(
                "{} `{}` is {state}: its workflow has ended and its content can no longer change",
                record.kind, record.id
            ),
        )),
        None => Ok(()),
    }
}

/// Update a record
///
/// A new version, with a reason, made from the latest one.
#[utoipa::path(
    put,
    path = "/api/v1/records/{kind}/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
    ),
    request_body(content = UpdateRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Updated: the new version, its field-level `changes` and the `receipt` of the `record.update` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
        (status = 409, description = "`stale_version`: the record has changed since the version given; `voided`: the record is voided; `workflow_closed`: its workflow has ended (closed, rejected, cancelled).", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, the reason is empty, `data` does not meet the schema, or nothing changes; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn update(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let mut request: UpdateRequest = parse(&body)?;
    require_reason(&request.reason)?;
    let record = find(&state, &kind, &id)?;
    check_current(&record, request.version)?;
    check_open(&record)?;
    state
        .record_types
        .validate(&kind, &request.data)
        .map_err(schema_error)?;
    prepare_client_data(&kind, &mut request.data).map_err(client_data_error)?;
    complete_training(&state, &kind, &mut request.data)?;
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let current = state.event(head.seq).await?;
    if current.payload == request.data {
        return Err(ApiError::invalid(
            "data",
            "the data is unchanged: nothing to update",
        ));
    }
    let next = NextVersion {
        kind: &kind,
        id: &id,
        head,
    };
    let mut answer = next
        .append(
            &state,
            &who,
            actions::RECORD_UPDATE,
            request.data,
            request.reason,
        )
        .await?;
    answer["changes"] = json!(field_diff(&current.payload, &answer["data"]));
    Ok(Json(answer))
}

/// The version that follows a record's latest one.
pub(crate) struct NextVersion<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub head: &'a VersionInfo,
}

impl NextVersion<'_> {
    /// Appends the next version, chained to the head's leaf, with its reason; returns the
    /// record as read at that version, with the receipt.
    pub(crate) async fn append(
        &self,
        state: &Shared,
        who: &Principal,
        action: &str,
        data: Value,
        reason: String,
    ) -> Result<Value, ApiError> {
        let version = self.head.version + 1;
        let mut draft = who.draft(action, data.clone());
        draft.record = Some(RecordRef {
            kind: self.kind.to_owned(),
            id: self.id.to_owned(),
            version,
        });
        draft.prev = Some(self.head.leaf);
        draft.reason = Some(reason);
        let appended = state.sequencer.append(draft).await?;
        let record = find(state, self.kind, self.id)?;
        let mut answer = present(state, &record, version, Some(data)).await?;
        answer["receipt"] = json!(Receipt::of(&[appended]));
        Ok(answer)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// The latest version, which is voided: a stale one is refused with 409.
    version: u64,
    /// Why the record is voided; required.
    reason: String,
}

/// Voids a record: a new version with the same content, marked void. Nothing is deleted.
#[utoipa::path(
    post,
    path = "/api/v1/records/{kind}/{id}/void",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
    ),
    request_body(content = VoidRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Voided: the new, voided version and the `receipt` of the `record.void` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
        (status = 409, description = "`stale_version`: the record has changed since the version given; `voided`: the record is voided.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, or the reason is empty; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn void(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: VoidRequest = parse(&body)?;
    require_reason(&request.reason)?;
    let record = find(&state, &kind, &id)?;
    check_current(&record, request.version)?;
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let current = state.event(head.seq).await?;
    let next = NextVersion {
        kind: &kind,
        id: &id,
        head,
    };
    let answer = next
        .append(
            &state,
            &who,
            actions::RECORD_VOID,
            current.payload,
            request.reason,
        )
        .await?;
    Ok(Json(answer))
}

/// Read a record
///
/// The latest version with its content and every signature with its manifestation.
#[utoipa::path(
    get,
    path = "/api/v1/records/{kind}/{id}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
    ),
    responses(
        (status = 200, description = "The record at its latest version.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
    ),
)]
pub async fn read(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    let latest = record.versions.len() as u64;
    Ok(Json(present(&state, &record, latest, None).await?))
}

/// Read a version of a record
///
/// That version with its content, and every signature marked by whether it applies to it.
#[utoipa::path(
    get,
    path = "/api/v1/records/{kind}/{id}/versions/{version}",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
        ("version", description = "A version of the record, from 1.", example = 1),
    ),
    responses(
        (status = 200, description = "The record at that version.", body = Object),
        (status = 400, description = "`bad_request`: the version is not a number.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type, record or version.", body = ErrorBody),
    ),
)]
pub async fn read_version(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id, version)): Path<(String, String, u64)>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    Ok(Json(present(&state, &record, version, None).await?))
}

/// Every version: who, what, when, why, and the field-level changes from the one before.
#[utoipa::path(
    get,
    path = "/api/v1/records/{kind}/{id}/versions",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
    ),
    responses(
        (status = 200, description = "The record's `status` and its `versions`, oldest first.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
    ),
)]
pub async fn history(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    let mut previous: Option<Value> = None;
    let mut versions = Vec::with_capacity(record.versions.len());
    for v in &record.versions {
        let data = state.event(v.seq).await?.payload;
        let changes = match &previous {
            None => Vec::new(),
            Some(old) => field_diff(old, &data),
        };
        let signatures: Vec<_> = record
            .signatures
            .iter()
            .filter(|s| s.version == v.version)
            .collect();
        versions.push(json!({
            "version": v.version,
            "action": v.action,
            "by": v.actor.id,
            "name": v.actor.name,
            "at": v.timestamp,
            "reason": v.reason,
            "seq": v.seq,
            "leaf": v.leaf,
            "changes": changes,
            "signatures": signatures,
        }));
        previous = Some(data);
    }
    Ok(Json(json!({
        "type": record.kind,
        "id": record.id,
        "status": if record.voided { "voided" } else { "active" },
        "versions": versions,
    })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The older version.
    from: u64,
    /// The newer version.
    to: u64,
}

/// Compare two versions
///
/// The field-level changes from one version of a record to another.
#[utoipa::path(
    get,
    path = "/api/v1/records/{kind}/{id}/diff",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "`changes`: each changed field with its old and new value.", body = Object),
        (status = 400, description = "`bad_request`: a query parameter is missing, unknown or malformed.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
        (status = 422, description = "`invalid`: no such version; `field` says which of `from` and `to`.", body = ErrorBody),
    ),
)]
pub async fn diff(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    let seq_of = |v: u64, field: &str| {
        record.version(v).map(|i| i.seq).ok_or_else(|| {
            ApiError::invalid(
                field.to_owned(),
                format!(
                    "no version {v}: versions are 1 to {}",
                    record.versions.len()
                ),
            )
        })
    };
    let (from, to) = (seq_of(q.from, "from")?, seq_of(q.to, "to")?);
    let old = state.event(from).await?.payload;
    let new = state.event(to).await?.payload;
    Ok(Json(json!({
        "type": kind, "id": id, "from": q.from, "to": q.to,
        "changes": field_diff(&old, &new),
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    #[schema(schema_with = crate::openapi::meaning_schema)]
    meaning: Meaning,
    /// A comment shown with the signature; optional.
    comment: Option<String>,
    /// The signer's user id: required at the first signature of a session.
    username: Option<String>,
    /// The signer's password, at every signature.
    #[schema(format = Password)]
    password: String,
}

/// Sign a version
///
/// An electronic signature with a meaning on the latest version of a record, by a person in an
/// interactive session who gives their password again.
#[utoipa::path(
    post,
    path = "/api/v1/records/{kind}/{id}/versions/{version}/signatures",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type, such as `model`.", example = "model"),
        ("id", description = "The record id.", example = "m-1"),
        ("version", description = "A version of the record, from 1.", example = 1),
    ),
    request_body(content = SignRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Signed: the signed version with its signatures and the `receipt` of the `record.sign` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON; `bad_request`: the version is not a number.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not sign; `password_change_required`; `session_required`: API tokens cannot sign; `not_signer`: a user signs only as themself; `wrong_password`; `segregation_of_duties`: nobody approves a version they authored, and a trainee does not approve or verify their own training record; `not_trainee`: only the trainee acknowledges a training record (meaning `reviewed`). Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`unknown_record_type` or `not_found`: no such record type or record.", body = ErrorBody),
        (status = 409, description = "`stale_version`: only the latest version can be signed; `voided`: the record is voided; `already_signed`: the signer already signed the version with that meaning.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, or the first signature of a session lacks the user id; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn sign(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id, version)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::Sign).await?;
    let request: SignRequest = parse(&body)?;
    reauthenticate(&state, &who, request.username.as_deref(), &request.password).await?;
    let record = find(&state, &kind, &id)?;
    check_current(&record, version)?;
    match check_signature(&record, version, &who.user, request.meaning) {
        Ok(()) => {}
        Err(e @ SignatureRefused::ApproverIsAuthor { .. }) => {
            return Err(who
                .deny(
                    &state,
                    ApiError::forbidden("segregation_of_duties", e.to_string()),
                )
                .await)
        }
        Err(e @ SignatureRefused::Duplicate { .. }) => {
            return Err(ApiError::conflict("already_signed", e.to_string()))
        }
    }
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    if kind == training::KIND {
        let content = state.event(head.seq).await?.payload;
        if let Err(e) = training::check_signature(&content, &who.user, request.meaning) {
            let code = match e {
                training::TrainingRefused::SelfCertified { .. } => "segregation_of_duties",
                _ => "not_trainee",
            };
            return Err(who
                .deny(&state, ApiError::forbidden(code, e.to_string()))
                .await);
        }
    }
    let mut draft = who.draft(
        actions::RECORD_SIGN,
        json!(actions::Signed {
            meaning: request.meaning,
            comment: request.comment.filter(|c| !c.trim().is_empty()),
        }),
    );
    draft.record = Some(RecordRef {
        kind: kind.clone(),
        id: id.clone(),
        version,
    });
    draft.target = Some(head.leaf);
    let appended = state.sequencer.append(draft).await?;
    if let Some(digest) = &who.session {
        state.sessions.update(digest, |s| s.has_signed = true);
    }
    let record = find(&state, &kind, &id)?;
    let mut answer = present(&state, &record, version, None).await?;
    answer["receipt"] = json!(Receipt::of(&[appended]));
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The re-authentication every electronic signature needs (21 CFR 11.200(a)(1)): an
/// interactive session, the user id at the session's first signature (and only the caller's
/// own), and the password every time. Each refusal but a missing user id is logged.
pub(crate) async fn reauthenticate(
    state: &Shared,
    who: &Principal,
    username: Option<&str>,
    password: &str,
) -> Result<(), ApiError> {
    if who.auth != AuthMethod::Session {
        return Err(who
            .deny(
                state,
                ApiError::forbidden(
                    "session_required",
                    "an electronic signature needs an interactive login; API tokens cannot sign",
                ),
            )
            .await);
    }
    match (username, who.has_signed) {
        (None, false) => {
            return Err(ApiError::invalid(
                "username",
                "the first signature of a session needs both the user id and the password",
            ))
        }
        (Some(u), _) if *u != who.user => {
            return Err(who
                .deny(
                    state,
                    ApiError::forbidden("not_signer", "a user can only sign as themself")
                        .with_field("username"),
                )
                .await)
        }
        _ => {}
    }
    if !password_matches(state, &who.user, password).await? {
        return Err(who
            .deny(
                state,
                ApiError::forbidden("wrong_password", "the signature's password is wrong")
                    .with_field("password"),
            )
            .await);
    }
    Ok(())
}
