//! Who is told what: webhook subscriptions (administrators subscribe a receiver URL to kinds of
//! notification and read every delivery attempt) and signature requests (asking a user to sign
//! a record version, which notifies the subscribers). Delivery itself is `crate::webhooks`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions;
use modeltrail_domain::identity::new_id;
use modeltrail_domain::notifications::{
    DeliveryState, NotificationKind, SignatureRequested, Subscribed, Unsubscribed,
};
use modeltrail_domain::roles::Permission;
use modeltrail_domain::signature::Meaning;
use modeltrail_ledger::event::RecordRef;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::records::{check_current, check_id, find};
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};
use crate::webhooks::{DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Id of the subscription (letters, digits, `.`, `_`, `-`, `:`); generated when absent.
    id: Option<String>,
    /// Where notifications are POSTed: an `http` or `https` URL.
    url: String,
    /// The kinds wanted: `drift_breach`, `exception_raised`, `capa_overdue`, `security_alert`,
    /// `signature_requested`.
    #[schema(value_type = Vec<String>)]
    events: BTreeSet<NotificationKind>,
    description: Option<String>,
    reason: Option<String>,
}

/// Subscribe a webhook
///
/// Subscribes a receiver to kinds of notification (administrators). Each notification raised
/// after this is POSTed as JSON with `X-Modeltrail-Signature: v1=<hex HMAC-SHA256(secret,
/// "<X-Modeltrail-Timestamp>.<body>")>`, retried with exponential backoff until the receiver
/// answers 2xx; every attempt is a `webhook.attempt` event.
#[utoipa::path(
    post,
    operation_id = "subscribe_webhook",
    path = "/api/v1/webhooks",
    tag = "notifications",
    security(("bearer" = [])),
    request_body(content = NewSubscription, content_type = "application/json"),
    responses(
        (status = 201, description = "Subscribed: the `subscription`, its HMAC `secret` (shown here; derived from the server's webhook key, never logged) and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage notifications. Logged as `access.denied`.", body = ErrorBody),
        (status = 409, description = "`exists`: a subscription with this id exists.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or wrong (the URL, an unknown kind, no kind at all); `field` names it.", body = ErrorBody),
    ),
)]
pub async fn subscribe(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::ManageNotifications).await?;
    let request: NewSubscription = parse(&body)?;
    let url = check_url(&request.url)?;
    if request.events.is_empty() {
        return Err(ApiError::invalid(
            "events",
            format!("name at least one kind of notification: {}", kinds_list()),
        ));
    }
    let id = match request.id {
        Some(id) => {
            check_id(&id)?;
            id
        }
        None => new_id().map_err(ApiError::internal)?,
    };
    if state.read().notifications().subscription(&id).is_some() {
        return Err(ApiError::conflict(
            "exists",
            format!("webhook subscription `{id}` already exists"),
        ));
    }
    let mut draft = who.draft(
        actions::WEBHOOK_SUBSCRIBE,
        json!(Subscribed {
            subscription: id.clone(),
            url,
            events: request.events,
            description: request.description.filter(|d| !d.trim().is_empty()),
        }),
    );
    draft.reason = request.reason.filter(|r| !r.trim().is_empty());
    let appended = state.sequencer.append(draft).await?;
    let subscription = state.read().notifications().subscription(&id).cloned();
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "subscription": subscription,
            "secret": state.webhooks.secret(&id),
            "signature": {
                "header": SIGNATURE_HEADER,
                "timestamp_header": TIMESTAMP_HEADER,
                "delivery_header": DELIVERY_HEADER,
                "scheme": "v1=hex(HMAC-SHA256(secret, timestamp + \".\" + body))",
            },
            "receipt": Receipt::of(&[appended]),
        })),
    ))
}

fn kinds_list() -> String {
    NotificationKind::ALL
        .map(NotificationKind::as_str)
        .join(", ")
}

/// An absolute `http` or `https` URL with a host; the answer names what is wrong.
fn check_url(text: &str) -> Result<String, ApiError> {
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| ApiError::invalid("url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::invalid(
            "url",
            format!("the scheme must be http or https, not `{}`", url.scheme()),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("url", "the URL names no host"));
    }
    Ok(url.to_string())
}

/// Webhook subscriptions
#[utoipa::path(
    get,
    operation_id = "list_webhooks",
    path = "/api/v1/webhooks",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`subscriptions`: each with `deliveries`, the count of deliveries in each state.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage notifications. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageNotifications).await?;
    let projection = state.read();
    let notifications = projection.notifications();
    let subscriptions: Vec<Value> = notifications
        .subscriptions()
        .map(|s| {
            let mut counts = serde_json::Map::new();
            for state in [
                DeliveryState::Pending,
                DeliveryState::Delivered,
                DeliveryState::Failed,
                DeliveryState::Cancelled,
            ] {
                let n = notifications
                    .deliveries_of(&s.id)
                    .filter(|d| d.state == state)
                    .count();
                counts.insert(json!(state).as_str().unwrap_or("?").to_owned(), json!(n));
            }
            let mut entry = json!(s);
            entry["deliveries"] = Value::Object(counts);
            entry
        })
        .collect();
    Ok(Json(json!({ "subscriptions": subscriptions })))
}

/// One webhook subscription and every delivery attempt
#[utoipa::path(
    get,
    operation_id = "read_webhook",
    path = "/api/v1/webhooks/{id}",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id", description = "The subscription id.")),
    responses(
        (status = 200, description = "The `subscription` and its `deliveries`, oldest first, each with its state, when the next attempt is due and every attempt (time, HTTP status, error, the `webhook.attempt` event's seq).", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage notifications. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such subscription.", body = ErrorBody),
    ),
)]
pub async fn read(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageNotifications).await?;
    let projection = state.read();
    let notifications = projection.notifications();
    let subscription = notifications
        .subscription(&id)
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription `{id}`")))?;
    let deliveries: Vec<_> = notifications.deliveries_of(&id).collect();
    Ok(Json(json!({
        "subscription": subscription,
        "deliveries": deliveries,
    })))
}

#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: Option<String>,
}

/// End a webhook subscription
#[utoipa::path(
    post,
    operation_id = "unsubscribe_webhook",
    path = "/api/v1/webhooks/{id}/unsubscribe",
    tag = "notifications",
    security(("bearer" = [])),
    params(("id", description = "The subscription id.")),
    request_body(content = Reason, content_type = "application/json"),
    responses(
        (status = 200, description = "Ended: nothing more is delivered, pending deliveries are cancelled; the `receipt`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage notifications. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such subscription.", body = ErrorBody),
        (status = 409, description = "`unsubscribed`: it has ended already.", body = ErrorBody),
    ),
)]
pub async fn unsubscribe(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageNotifications).await?;
    let request: Reason = match body.iter().all(u8::is_ascii_whitespace) {
        true => Reason::default(),
        false => parse(&body)?,
    };
    let active = state
        .read()
        .notifications()
        .subscription(&id)
        .map(|s| s.active)
        .ok_or_else(|| ApiError::not_found(format!("no webhook subscription `{id}`")))?;
    if !active {
        return Err(ApiError::conflict(
            "unsubscribed",
            format!("webhook subscription `{id}` has ended already"),
        ));
    }
    let mut draft = who.draft(
        actions::WEBHOOK_UNSUBSCRIBE,
        json!(Unsubscribed {
            subscription: id.clone(),
        }),
    );
    draft.reason = request.reason.filter(|r| !r.trim().is_empty());
    let appended = state.sequencer.append(draft).await?;
    Ok(Json(json!({ "receipt": Receipt::of(&[appended]) })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSignatureRequest {
    /// The user asked to sign: a person who may sign.
    signer: String,
    /// The meaning asked for.
    #[schema(value_type = String)]
    meaning: Meaning,
    comment: Option<String>,
}

/// Ask a user to sign a record version
///
/// Records the request (a `record.signature_request` event naming the version and its leaf)
/// and notifies the `signature_requested` subscribers. The version must be the record's latest.
#[utoipa::path(
    post,
    operation_id = "request_signature",
    path = "/api/v1/records/{kind}/{id}/versions/{version}/signature-requests",
    tag = "records",
    security(("bearer" = [])),
    params(
        ("kind", description = "The record type."),
        ("id", description = "The record id."),
        ("version", description = "The version to be signed: the latest."),
    ),
    request_body(content = NewSignatureRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Requested: the `request` and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such record type or record.", body = ErrorBody),
        (status = 409, description = "`stale_version` or `voided`: the version is not the latest, or the record is voided.", body = ErrorBody),
        (status = 422, description = "`invalid`: the signer is not a person who may sign, or a field is wrong; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn request_signature(
    State(state): State<Shared>,
    who: Principal,
    Path((kind, id, version)): Path<(String, String, u64)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: NewSignatureRequest = parse(&body)?;
    let signer = state
        .read()
        .user(&request.signer)
        .cloned()
        .ok_or_else(|| ApiError::invalid("signer", format!("no user `{}`", request.signer)))?;
    if signer.kind != actions::UserKind::Person || !signer.role.allows(Permission::Sign) {
        return Err(ApiError::invalid(
            "signer",
            format!(
                "`{}` cannot sign: signatures are given by people whose role may sign (qa, developer)",
                signer.id
            ),
        ));
    }
    if signer.locked {
        return Err(ApiError::invalid(
            "signer",
            format!("`{}` is locked", signer.id),
        ));
    }
    let record = find(&state, &kind, &id)?;
    check_current(&record, version)?;
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let mut draft = who.draft(
        actions::RECORD_SIGNATURE_REQUEST,
        json!(SignatureRequested {
            signer: signer.id.clone(),
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
    let request = state
        .read()
        .record(&kind, &id)
        .and_then(|r| r.signature_requests.last().cloned());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "request": request,
            "receipt": Receipt::of(&[appended]),
        })),
    ))
}
