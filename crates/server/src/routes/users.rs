//! User administration (admins only): accounts, roles, locks, password resets, API tokens of
//! service accounts, and the security alerts.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::actions::{self, LockCause, UserKind};
use modeltrail_domain::identity::{
    check_user_id, new_id, new_secret, random_password, secret_digest, API_TOKEN_PREFIX,
};
use modeltrail_domain::projection::User;
use modeltrail_domain::roles::{Permission, Role};
use modeltrail_store::CredentialStore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::hash;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::state::{Receipt, Shared};

fn find(state: &Shared, id: &str) -> Result<User, ApiError> {
    state
        .read()
        .user(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}`")))
}

/// Every user
///
/// Every account, people and service accounts, locked or not (administrators only).
#[utoipa::path(
    get,
    operation_id = "list_users",
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`users`: every account.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn list(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let users: Vec<User> = state.read().users().cloned().collect();
    Ok(Json(json!({ "users": users })))
}

/// One user
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    responses(
        (status = 200, description = "`user`: the account.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
    ),
)]
pub async fn get_one(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    Ok(Json(json!({ "user": find(&state, &id)? })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user id: 2 to 64 lowercase letters, digits, `.`, `_` or `-`, starting with a letter or
    /// digit. Never reused.
    id: String,
    /// The printed full name, shown with every signature.
    name: String,
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Role,
    #[serde(default = "person")]
    #[schema(schema_with = crate::openapi::user_kind_schema)]
    kind: UserKind,
    /// A first password; without one a random one is made and returned once. Only for people.
    #[schema(format = Password)]
    password: Option<String>,
}

fn person() -> UserKind {
    UserKind::Person
}

/// Create a user
///
/// A person (who must change the first password at the first login) or a service account
/// (which authenticates with API tokens only).
#[utoipa::path(
    post,
    operation_id = "create_user",
    path = "/api/v1/users",
    tag = "users",
    security(("bearer" = [])),
    request_body(content = NewUser, content_type = "application/json"),
    responses(
        (status = 201, description = "Created: the `user`, the `receipt` of the `user.create` event, and the `temporary_password` (shown once) when none was given.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 409, description = "`user_exists`: the user id exists or existed; user ids are never reused.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, the user id or name is not acceptable, or the password breaks the policy; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn create(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let request: NewUser = parse(&body)?;
    check_user_id(&request.id).map_err(|e| ApiError::invalid("id", e.to_string()))?;
    if request.name.trim().is_empty() {
        return Err(ApiError::invalid(
            "name",
            "the printed full name must not be empty",
        ));
    }
    if state.read().user(&request.id).is_some() {
        return Err(ApiError::conflict(
            "user_exists",
            format!(
                "user id `{}` exists or existed; user ids are never reused",
                request.id
            ),
        ));
    }
    let mut first_password = None;
    if request.kind == UserKind::Person {
        let password = match request.password {
            Some(p) => p,
            None => {
                let p = random_password().map_err(ApiError::internal)?;
                first_password = Some(p.clone());
                p
            }
        };
        state
            .config
            .password_policy
            .check(&request.id, &password)
            .map_err(|e| ApiError::invalid("password", e.to_string()))?;
        let hashed = hash(&password).await?;
        state.store.set_password_hash(&request.id, &hashed).await?;
    } else if request.password.is_some() {
        return Err(ApiError::invalid(
            "password",
            "service accounts have no password; issue them API tokens",
        ));
    }
    let appended = state
        .sequencer
        .append(who.draft(
            actions::USER_CREATE,
            json!(actions::UserCreated {
                user: request.id.clone(),
                name: request.name.trim().to_owned(),
                role: request.role,
                kind: request.kind,
                must_change_password: request.kind == UserKind::Person,
            }),
        ))
        .await?;
    let mut answer = json!({
        "user": find(&state, &request.id)?,
        "receipt": Receipt::of(&[appended]),
    });
    if let Some(p) = first_password {
        answer["temporary_password"] = json!(p);
    }
    Ok((StatusCode::CREATED, Json(answer)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    #[schema(schema_with = crate::openapi::role_schema)]
    role: Role,
    /// Why the role changes; required.
    reason: String,
}

/// Change a user's role
///
/// With a reason. The user's sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/role",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    request_body(content = RoleChange, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed: the `user` and the `receipt` of the `user.role_change` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, the reason is empty, or the user already has the role; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn change_role(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let request: RoleChange = parse(&body)?;
    require_reason(&request.reason)?;
    let user = find(&state, &id)?;
    if user.role == request.role {
        return Err(ApiError::invalid(
            "role",
            format!("`{id}` already has role {}", user.role),
        ));
    }
    let mut draft = who.draft(
        actions::USER_ROLE_CHANGE,
        json!(actions::RoleChanged {
            user: id.clone(),
            from: user.role,
            to: request.role,
        }),
    );
    draft.reason = Some(request.reason);
    let appended = state.sequencer.append(draft).await?;
    state.sessions.end_all_of(&id);
    Ok(Json(
        json!({"user": find(&state, &id)?, "receipt": Receipt::of(&[appended])}),
    ))
}

pub fn require_reason(reason: &str) -> Result<(), ApiError> {
    match reason.trim().is_empty() {
        true => Err(ApiError::invalid("reason", "a reason is required")),
        false => Ok(()),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Why; optional.
    reason: Option<String>,
}

fn optional_reason(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(parse::<Reason>(body)?.reason)
}

/// Lock a user
///
/// The user can no longer log in or use their tokens; their sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/lock",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    request_body(content = Option<Reason>, content_type = "application/json", description = "An optional reason; the body may be empty."),
    responses(
        (status = 200, description = "Locked: the `user` and the `receipt` of the `user.lock` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
        (status = 409, description = "`already_locked`: the user is already locked.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: an unknown field, or a field of the wrong type; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn lock(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let reason = optional_reason(&body)?;
    let user = find(&state, &id)?;
    if user.locked {
        return Err(ApiError::conflict(
            "already_locked",
            format!("`{id}` is already locked"),
        ));
    }
    let mut draft = who.draft(
        actions::USER_LOCK,
        json!(actions::UserLocked {
            user: id.clone(),
            cause: LockCause::Administrator,
        }),
    );
    draft.reason = reason;
    let appended = state.sequencer.append(draft).await?;
    state.sessions.end_all_of(&id);
    Ok(Json(
        json!({"user": find(&state, &id)?, "receipt": Receipt::of(&[appended])}),
    ))
}

/// Unlock a user
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/unlock",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    request_body(content = Option<Reason>, content_type = "application/json", description = "An optional reason; the body may be empty."),
    responses(
        (status = 200, description = "Unlocked: the `user` and the `receipt` of the `user.unlock` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
        (status = 409, description = "`not_locked`: the user is not locked.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: an unknown field, or a field of the wrong type; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn unlock(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let reason = optional_reason(&body)?;
    let user = find(&state, &id)?;
    if !user.locked {
        return Err(ApiError::conflict(
            "not_locked",
            format!("`{id}` is not locked"),
        ));
    }
    let mut draft = who.draft(
        actions::USER_UNLOCK,
        json!(actions::UserRef { user: id.clone() }),
    );
    draft.reason = reason;
    let appended = state.sequencer.append(draft).await?;
    Ok(Json(
        json!({"user": find(&state, &id)?, "receipt": Receipt::of(&[appended])}),
    ))
}

/// An administrator's reset: a new temporary password, shown once, to be changed at login.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/password",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    responses(
        (status = 200, description = "Reset: the `temporary_password` (shown once) and the `receipt` of the `user.password_set` event.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
        (status = 422, description = "`invalid`: the user is a service account, which has no password.", body = ErrorBody),
    ),
)]
pub async fn reset_password(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let user = find(&state, &id)?;
    if user.kind != UserKind::Person {
        return Err(ApiError::invalid("id", "service accounts have no password"));
    }
    let password = random_password().map_err(ApiError::internal)?;
    let hashed = hash(&password).await?;
    state.store.set_password_hash(&id, &hashed).await?;
    let appended = state
        .sequencer
        .append(who.draft(
            actions::USER_PASSWORD_SET,
            json!(actions::PasswordSet {
                user: id.clone(),
                must_change: true,
            }),
        ))
        .await?;
    state.sessions.end_all_of(&id);
    Ok(Json(json!({
        "temporary_password": password,
        "receipt": Receipt::of(&[appended]),
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for; required.
    label: String,
}

/// Issues an API token to a service account; the token is shown once, the log keeps its digest.
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/tokens",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    request_body(content = NewToken, content_type = "application/json"),
    responses(
        (status = 201, description = "Issued: the `token` (shown once), its `token_id` and the `receipt` of the `token.issue` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type, the label is empty, or the user is a person; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn issue_token(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let request: NewToken = parse(&body)?;
    if request.label.trim().is_empty() {
        return Err(ApiError::invalid(
            "label",
            "a label saying what the token is for is required",
        ));
    }
    let user = find(&state, &id)?;
    if user.kind != UserKind::Service {
        return Err(ApiError::invalid(
            "id",
            format!("`{id}` is a person; API tokens are for service accounts"),
        ));
    }
    let token = new_secret(API_TOKEN_PREFIX).map_err(ApiError::internal)?;
    let token_id = new_id().map_err(ApiError::internal)?;
    let appended = state
        .sequencer
        .append(who.draft(
            actions::TOKEN_ISSUE,
            json!(actions::TokenIssued {
                user: id.clone(),
                token_id: token_id.clone(),
                digest: secret_digest(&token),
                label: request.label,
            }),
        ))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": token,
            "token_id": token_id,
            "receipt": Receipt::of(&[appended]),
        })),
    ))
}

/// A service account's API tokens
///
/// Their ids, labels and whether they are revoked; never the tokens themselves.
#[utoipa::path(
    get,
    path = "/api/v1/users/{id}/tokens",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
    ),
    responses(
        (status = 200, description = "`tokens`: the user's API tokens.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such user.", body = ErrorBody),
    ),
)]
pub async fn tokens(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    find(&state, &id)?;
    let tokens: Vec<_> = state.read().tokens_of(&id).cloned().collect();
    Ok(Json(json!({ "tokens": tokens })))
}

/// Revoke an API token
#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/tokens/{token_id}/revoke",
    tag = "users",
    security(("bearer" = [])),
    params(
        ("id", description = "The user id.", example = "jdoe"),
        ("token_id", description = "The token's id, as issued.", example = "t-1"),
    ),
    responses(
        (status = 200, description = "Revoked: the `receipt` of the `token.revoke` event.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: only administrators manage users; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the user has no such token.", body = ErrorBody),
        (status = 409, description = "`already_revoked`: the token is already revoked.", body = ErrorBody),
    ),
)]
pub async fn revoke_token(
    State(state): State<Shared>,
    who: Principal,
    Path((id, token_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let token = state
        .read()
        .tokens_of(&id)
        .find(|t| t.token_id == token_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("`{id}` has no token {token_id}")))?;
    if token.revoked {
        return Err(ApiError::conflict(
            "already_revoked",
            "the token is already revoked",
        ));
    }
    let appended = state
        .sequencer
        .append(who.draft(
            actions::TOKEN_REVOKE,
            json!(actions::TokenRevoked { user: id, token_id }),
        ))
        .await?;
    Ok(Json(json!({"receipt": Receipt::of(&[appended])})))
}

/// Security alerts
///
/// Alerts such as repeated failed logins, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/security/alerts",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`alerts`: every security alert.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not view security alerts; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
    ),
)]
pub async fn alerts(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ViewSecurity).await?;
    let alerts = state.read().alerts().to_vec();
    Ok(Json(json!({ "alerts": alerts })))
}
