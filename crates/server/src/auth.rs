//! Who is asking, and may they: the bearer token of a request becomes a [`Principal`], and
//! [`Principal::require`] is the authority check every endpoint makes. A refusal is recorded in
//! the log before it is answered.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use modeltrail_domain::actions::{self, UserKind};
use modeltrail_domain::identity::{secret_digest, API_TOKEN_PREFIX, SESSION_PREFIX};
use modeltrail_domain::roles::{Permission, Role};
use modeltrail_ledger::event::{Actor, AuthMethod, Client, EventDraft};
use modeltrail_ledger::Hash;
use std::net::SocketAddr;

use crate::error::ApiError;
use crate::state::Shared;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: String,
    pub name: String,
    pub role: Role,
    pub auth: AuthMethod,
    /// The session's digest, for a session.
    pub session: Option<Hash>,
    pub must_change_password: bool,
    pub has_signed: bool,
    pub client: Client,
    pub method: Method,
    pub path: String,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.user.clone(),
            name: self.name.clone(),
            role: self.role.as_str().to_owned(),
            auth: self.auth,
        }
    }

    /// A draft of an event by this caller.
    pub fn draft(&self, action: &str, payload: serde_json::Value) -> EventDraft {
        EventDraft {
            actor: self.actor(),
            client: self.client.clone(),
            action: action.to_owned(),
            record: None,
            prev: None,
            reason: None,
            target: None,
            payload,
        }
    }

    /// The authority check: the caller's role must allow `permission`, and a caller who must
    /// change their password may do nothing else. A refusal is logged as `access.denied`.
    pub async fn require(&self, state: &Shared, permission: Permission) -> Result<(), ApiError> {
        let refusal = if self.must_change_password {
            Some(ApiError::forbidden(
                "password_change_required",
                "the password must be changed first: POST /api/v1/auth/password",
            ))
        } else if !self.role.allows(permission) {
            Some(ApiError::forbidden(
                "forbidden",
                format!(
                    "role {} may not do this ({permission:?} is needed)",
                    self.role
                ),
            ))
        } else {
            None
        };
        match refusal {
            None => Ok(()),
            Some(refusal) => Err(self.deny(state, refusal).await),
        }
    }

    /// Records a refusal in the log and returns it.
    pub async fn deny(&self, state: &Shared, refusal: ApiError) -> ApiError {
        let draft = self.draft(
            actions::ACCESS_DENIED,
            serde_json::json!(actions::AccessDenied {
                method: self.method.to_string(),
                path: self.path.clone(),
                reason: refusal.message.clone(),
            }),
        );
        if let Err(e) = state.sequencer.append(draft).await {
            return ApiError::from(e);
        }
        refusal
    }
}

/// Address, user agent and client id of a request: the device check of 11.10(h).
pub fn client_of(parts: &Parts) -> Client {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect::<String>())
    };
    Client {
        address: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        user_agent: header(header::USER_AGENT.as_str()),
        client_id: header("x-client-id"),
    }
}

impl FromRequestParts<Shared> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "unauthenticated",
                    "log in first: send `Authorization: Bearer <token>`",
                )
            })?;
        principal_of(parts, state, token)
    }
}

/// The caller a secret names (a session token or an API token), as the bearer extractor and
/// the web UI's session cookie both find it.
pub fn principal_of(parts: &Parts, state: &Shared, token: &str) -> Result<Principal, ApiError> {
    let digest = secret_digest(token);
    let invalid =
        || ApiError::unauthorized("invalid_token", "the token is not valid or has expired");
    let (user_id, auth, session) = if token.starts_with(SESSION_PREFIX) {
        let session = state.sessions.touch(&digest).ok_or_else(invalid)?;
        (session.user.clone(), AuthMethod::Session, Some(session))
    } else if token.starts_with(API_TOKEN_PREFIX) {
        let projection = state.read();
        let t = projection
            .token(&digest)
            .filter(|t| !t.revoked)
            .ok_or_else(invalid)?;
        (t.user.clone(), AuthMethod::ApiToken, None)
    } else {
        return Err(invalid());
    };
    let projection = state.read();
    let user = projection.user(&user_id).ok_or_else(invalid)?;
    if user.locked {
        return Err(ApiError::unauthorized(
            "account_locked",
            "the account is locked; an administrator can unlock it",
        ));
    }
    if auth == AuthMethod::Session && user.kind != UserKind::Person {
        return Err(invalid());
    }
    Ok(Principal {
        user: user.id.clone(),
        name: user.name.clone(),
        role: user.role,
        auth,
        session: session.as_ref().map(|_| digest),
        must_change_password: session.as_ref().is_some_and(|s| s.must_change_password),
        has_signed: session.as_ref().is_some_and(|s| s.has_signed),
        client: client_of(parts),
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
    })
}
