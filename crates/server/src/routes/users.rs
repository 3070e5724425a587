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
use crate::error::ApiError;
use crate::json::parse;
use crate::state::{Receipt, Shared};

fn find(state: &Shared, id: &str) -> Result<User, ApiError> {
    state
        .read()
        .user(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no user `{id}`")))
}

pub async fn list(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    let users: Vec<User> = state.read().users().cloned().collect();
    Ok(Json(json!({ "users": users })))
}

pub async fn get_one(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ManageUsers).await?;
    Ok(Json(json!({ "user": find(&state, &id)? })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    id: String,
    name: String,
    role: Role,
    #[serde(default = "person")]
    kind: UserKind,
    /// A first password; without one a random one is made and returned once.
    password: Option<String>,
}

fn person() -> UserKind {
    UserKind::Person
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: Role,
    reason: String,
}

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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    reason: Option<String>,
}

fn optional_reason(body: &Bytes) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(parse::<Reason>(body)?.reason)
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    label: String,
}

/// Issues an API token to a service account; the token is shown once, the log keeps its digest.
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

pub async fn alerts(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ViewSecurity).await?;
    let alerts = state.read().alerts().to_vec();
    Ok(Json(json!({ "alerts": alerts })))
}
