//! Who is calling the MLflow API. MLflow clients send `MLFLOW_TRACKING_TOKEN` as
//! `Authorization: Bearer` (a session token or an API token, checked exactly as the REST API
//! checks it) or `MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD` as HTTP Basic on every
//! request. Basic credentials go through the login's own check (Argon2id, failures recorded,
//! lockout at the threshold); a success is logged as `auth.login` with method `password` and
//! remembered, by a salted digest of user id and password, for the session idle time, so that
//! not every request pays for Argon2id. A remembered success is forgotten when the account is
//! locked or its password changes. The password itself is never kept or logged.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use modeltrail_domain::actions;
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::event::{Actor, AuthMethod, EventDraft};
use modeltrail_ledger::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::wire::MlflowError;
use crate::auth::{client_of, Principal};
use crate::routes::auth::check_credentials;
use crate::state::Shared;

/// The most remembered Basic credentials; past it the memory starts afresh.
const CACHE_LIMIT: usize = 10_000;

struct Remembered {
    user: String,
    password_set_at: Option<Timestamp>,
    at: Instant,
}

/// Basic credentials checked recently, by `SHA-256(salt ‖ user ‖ 0 ‖ password)`.
pub struct BasicCache {
    salt: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Remembered>>,
}

impl BasicCache {
    pub fn new() -> Result<BasicCache, String> {
        let mut salt = [0u8; 32];
        getrandom::getrandom(&mut salt).map_err(|e| format!("random salt: {e}"))?;
        Ok(BasicCache {
            salt,
            entries: Mutex::new(HashMap::new()),
        })
    }

    fn key(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.salt);
        h.update(user.as_bytes());
        h.update([0u8]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Remembered>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An authenticated MLflow caller.
pub struct Caller(pub Principal);

impl Caller {
    /// The authority check of [`Principal::require`], answered in MLflow's format.
    pub async fn require(&self, state: &Shared, permission: Permission) -> Result<(), MlflowError> {
        Ok(self.0.require(state, permission).await?)
    }

    /// Reads need any signed-in role.
    pub async fn reader(&self, state: &Shared) -> Result<(), MlflowError> {
        self.require(state, Permission::ReadRecords).await
    }

    /// Writes need a role that writes records (developer, qa, or a service account with one).
    pub async fn writer(&self, state: &Shared) -> Result<(), MlflowError> {
        self.require(state, Permission::WriteRecords).await
    }
}

fn unauthenticated(message: &str) -> MlflowError {
    MlflowError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        message,
    )
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = MlflowError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, MlflowError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match value.as_deref().and_then(|v| v.strip_prefix("Basic ")) {
            Some(encoded) => basic(parts, state, encoded.trim()).await.map(Caller),
            None if value.is_some() => {
                Ok(Caller(Principal::from_request_parts(parts, state).await?))
            }
            None => Err(unauthenticated(
                "authenticate: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or \
                 MLFLOW_TRACKING_TOKEN",
            )),
        }
    }
}

async fn basic(parts: &Parts, state: &Shared, encoded: &str) -> Result<Principal, MlflowError> {
    let malformed = || unauthenticated("the Basic credentials are not `user:password` in base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| malformed())?;
    let text = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (username, password) = text.split_once(':').ok_or_else(malformed)?;
    let cache = &state.mlflow.basic;
    let key = cache.key(username, password);
    let current = state.read().user(username).cloned();
    let remembered = {
        let mut entries = cache.lock();
        let fresh = entries.get(&key).is_some_and(|r| {
            r.at.elapsed() < state.sessions.idle()
                && current.as_ref().is_some_and(|u| {
                    u.id == r.user && !u.locked && u.password_set_at == r.password_set_at
                })
        });
        if !fresh {
            entries.remove(&key);
        }
        fresh
    };
    let client = client_of(parts);
    let user = match (remembered, current) {
        (true, Some(user)) => user,
        _ => {
            let user = check_credentials(state, client.clone(), username, password).await?;
            let actor = Actor {
                id: user.id.clone(),
                name: user.name.clone(),
                role: user.role.as_str().into(),
                auth: AuthMethod::Password,
            };
            state
                .sequencer
                .append(EventDraft {
                    actor,
                    client: client.clone(),
                    action: actions::AUTH_LOGIN.into(),
                    record: None,
                    prev: None,
                    reason: None,
                    target: None,
                    payload: serde_json::json!(actions::UserRef {
                        user: user.id.clone()
                    }),
                })
                .await?;
            let mut entries = cache.lock();
            if entries.len() >= CACHE_LIMIT {
                entries.clear();
            }
            entries.insert(
                key,
                Remembered {
                    user: user.id.clone(),
                    password_set_at: user.password_set_at,
                    at: Instant::now(),
                },
            );
            user
        }
    };
    let expired = user.password_set_at.is_some_and(|t| {
        state
            .config
            .password_policy
            .expired(t.as_micros(), Timestamp::now().as_micros())
    });
    Ok(Principal {
        user: user.id.clone(),
        name: user.name.clone(),
        role: user.role,
        auth: AuthMethod::Password,
        session: None,
        must_change_password: user.must_change_password || expired,
        has_signed: false,
        client,
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
    })
}
