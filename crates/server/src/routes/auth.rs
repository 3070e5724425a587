//! Login, logout, the caller's own account, and changing one's password.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::Json;
use modeltrail_domain::actions::{self, LockCause, LoginFailure, UserKind};
use modeltrail_domain::identity::{
    hash_password, new_secret, secret_digest, verify_password, SESSION_PREFIX,
};
use modeltrail_domain::projection::User;
use modeltrail_ledger::event::{Actor, AuthMethod, Client, EventDraft};
use modeltrail_store::CredentialStore;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

use crate::auth::{client_of, Principal};
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::sessions::Session;
use crate::start::system_actor;
use crate::state::{Receipt, Shared};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The user id.
    username: String,
    #[schema(format = Password)]
    password: String,
}

/// The request's client, for handlers with no principal.
pub struct ClientInfo(pub Client);

impl FromRequestParts<Shared> for ClientInfo {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Self, ApiError> {
        Ok(ClientInfo(client_of(parts)))
    }
}

fn unauthenticated_actor() -> Actor {
    Actor {
        id: "unauthenticated".into(),
        name: "unauthenticated client".into(),
        role: "none".into(),
        auth: AuthMethod::Unauthenticated,
    }
}

/// Checks a password against the stored hash on a blocking thread (Argon2id is slow on purpose).
pub async fn password_matches(
    state: &Shared,
    user: &str,
    password: &str,
) -> Result<bool, ApiError> {
    let Some(stored) = state.store.password_hash(user).await? else {
        return Ok(false);
    };
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || verify_password(&stored, &password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Hashes a new password on a blocking thread.
pub async fn hash(password: &str) -> Result<String, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Log in
///
/// Checks a person's user id and password and opens a session. Every attempt is logged; after
/// the configured number of consecutive failures the account is locked and an alert raised.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body(content = LoginRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in: the session `token` (shown once), the user, `must_change_password`, `password_expired`, `idle_timeout_seconds` and the `receipt` of the `auth.login` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`invalid_credentials`: the user id or the password is wrong (the answer does not say which).", body = ErrorBody),
        (status = 403, description = "`account_locked`: the account is locked; an administrator can unlock it.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or of the wrong type; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn login(
    State(state): State<Shared>,
    ClientInfo(client): ClientInfo,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: LoginRequest = parse(&body)?;
    let user =
        check_credentials(&state, client.clone(), &request.username, &request.password).await?;
    let token = new_secret(SESSION_PREFIX).map_err(ApiError::internal)?;
    let expired = user.password_set_at.is_some_and(|t| {
        state.config.password_policy.expired(
            t.as_micros(),
            modeltrail_ledger::Timestamp::now().as_micros(),
        )
    });
    let must_change = user.must_change_password || expired;
    let actor = Actor {
        id: user.id.clone(),
        name: user.name.clone(),
        role: user.role.as_str().into(),
        auth: AuthMethod::Session,
    };
    let appended = state
        .sequencer
        .append(EventDraft {
            actor,
            client,
            action: actions::AUTH_LOGIN.into(),
            record: None,
            prev: None,
            reason: None,
            target: None,
            payload: json!(actions::UserRef {
                user: user.id.clone()
            }),
        })
        .await?;
    state.sessions.insert(
        secret_digest(&token),
        Session {
            user: user.id.clone(),
            last_seen: Instant::now(),
            must_change_password: must_change,
            has_signed: false,
        },
    );
    Ok(Json(json!({
        "token": token,
        "user": user.id,
        "name": user.name,
        "role": user.role,
        "must_change_password": must_change,
        "password_expired": expired,
        "idle_timeout_seconds": state.sessions.idle().as_secs(),
        "receipt": Receipt::of(&[appended]),
    })))
}

/// Checks a person's user id and password, as every way of logging in does (the login, and
/// HTTP Basic on the MLflow API): a failure is recorded as `auth.login_failed`, and at the
/// threshold the account is locked and an alert raised. The answer does not say whether the
/// user exists.
pub(crate) async fn check_credentials(
    state: &Shared,
    client: Client,
    username: &str,
    password: &str,
) -> Result<User, ApiError> {
    let user = state.read().user(username).cloned();
    let failure = match &user {
        None => Some(LoginFailure::UnknownUser),
        Some(u) if u.kind != UserKind::Person => Some(LoginFailure::NotAPerson),
        Some(u) if u.locked => Some(LoginFailure::Locked),
        Some(_) => match password_matches(state, username, password).await? {
            true => None,
            false => Some(LoginFailure::WrongPassword),
        },
    };
    match user.filter(|_| failure.is_none()) {
        Some(user) => Ok(user),
        None => {
            let failure = failure.unwrap_or(LoginFailure::WrongPassword);
            Err(record_failure(state, client, username, failure).await)
        }
    }
}

/// Records a failed login (and, at the threshold, the lockout and an alert) and returns the
/// answer for the client, which does not say whether the user exists.
async fn record_failure(
    state: &Shared,
    client: Client,
    username: &str,
    failure: LoginFailure,
) -> ApiError {
    let threshold = state.config.lockout_threshold;
    let (failures, existing) = {
        let p = state.read();
        let user = p.user(username);
        (
            p.failures(username) + 1,
            user.map(|u| (u.locked, u.kind == UserKind::Person)),
        )
    };
    let mut drafts = vec![EventDraft {
        actor: unauthenticated_actor(),
        client,
        action: actions::AUTH_LOGIN_FAILED.into(),
        record: None,
        prev: None,
        reason: None,
        target: None,
        payload: json!(actions::LoginFailed {
            username: username.to_owned(),
            failure,
        }),
    }];
    let system = |action: &str, payload: Value| EventDraft {
        actor: system_actor(),
        client: Client::default(),
        action: action.into(),
        record: None,
        prev: None,
        reason: None,
        target: None,
        payload,
    };
    if failures == threshold {
        if existing == Some((false, true)) {
            drafts.push(system(
                actions::USER_LOCK,
                json!(actions::UserLocked {
                    user: username.to_owned(),
                    cause: LockCause::FailedLogins,
                }),
            ));
        }
        drafts.push(system(
            actions::SECURITY_ALERT,
            json!(actions::SecurityAlert {
                kind: "repeated_login_failures".into(),
                username: username.to_owned(),
                failures,
                message: format!(
                    "{failures} consecutive failed logins for user id {username:?}{}",
                    match existing {
                        Some((false, true)) => "; the account is now locked",
                        Some(_) => "",
                        None => " (no such user)",
                    }
                ),
            }),
        ));
    }
    if let Err(e) = state.sequencer.append_all(drafts).await {
        return ApiError::from(e);
    }
    match failure {
        LoginFailure::Locked => ApiError::forbidden(
            "account_locked",
            "the account is locked; an administrator can unlock it",
        ),
        _ => ApiError::unauthorized("invalid_credentials", "the user id or password is wrong"),
    }
}

/// Log out
///
/// Ends the caller's session (an API token stays valid) and logs `auth.logout`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Logged out: the `receipt` of the `auth.logout` event.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
    ),
)]
pub async fn logout(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    let appended = state
        .sequencer
        .append(who.draft(
            actions::AUTH_LOGOUT,
            json!(actions::UserRef {
                user: who.user.clone()
            }),
        ))
        .await?;
    if let Some(digest) = &who.session {
        state.sessions.remove(digest);
    }
    Ok(Json(json!({"receipt": Receipt::of(&[appended])})))
}

/// The caller
///
/// The caller's own account, how they authenticated, and whether they must change their
/// password before anything else.
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's `user`, `auth` method and `must_change_password`.", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 404, description = "`not_found`: the caller's account no longer exists.", body = ErrorBody),
    ),
)]
pub async fn me(State(state): State<Shared>, who: Principal) -> Result<Json<Value>, ApiError> {
    let user = state
        .read()
        .user(&who.user)
        .cloned()
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    Ok(Json(json!({
        "user": user,
        "auth": who.auth,
        "must_change_password": who.must_change_password,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(format = Password)]
    current_password: String,
    /// Must meet the password policy and differ from the current one.
    #[schema(format = Password)]
    new_password: String,
}

/// Change one's password
///
/// A person changes their own password, giving the current one; this is the one thing a caller
/// who must change their password may do.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    tag = "auth",
    security(("bearer" = [])),
    request_body(content = ChangePassword, content_type = "application/json"),
    responses(
        (status = 200, description = "Changed: the `receipt` of the `user.password_set` event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`wrong_password`: the current password is wrong; `forbidden`: service accounts have no password. Logged as `access.denied`.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing or unknown, or the new password breaks the policy or equals the current one; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn change_password(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let request: ChangePassword = parse(&body)?;
    if who.auth != AuthMethod::Session {
        return Err(who
            .deny(
                &state,
                ApiError::forbidden("forbidden", "service accounts have no password"),
            )
            .await);
    }
    if !password_matches(&state, &who.user, &request.current_password).await? {
        return Err(who
            .deny(
                &state,
                ApiError::forbidden("wrong_password", "the current password is wrong")
                    .with_field("current_password"),
            )
            .await);
    }
    state
        .config
        .password_policy
        .check(&who.user, &request.new_password)
        .map_err(|e| ApiError::invalid("new_password", e.to_string()))?;
    if request.new_password == request.current_password {
        return Err(ApiError::invalid(
            "new_password",
            "the new password must differ from the current one",
        ));
    }
    let hashed = hash(&request.new_password).await?;
    state.store.set_password_hash(&who.user, &hashed).await?;
    let appended = state
        .sequencer
        .append(who.draft(
            actions::USER_PASSWORD_SET,
            json!(actions::PasswordSet {
                user: who.user.clone(),
                must_change: false,
            }),
        ))
        .await?;
    if let Some(digest) = &who.session {
        state
            .sessions
            .update(digest, |s| s.must_change_password = false);
    }
    Ok(Json(json!({"receipt": Receipt::of(&[appended])})))
}
