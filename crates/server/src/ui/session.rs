//! The UI's session: the API's own interactive session, carried in an HttpOnly, SameSite=Strict
//! cookie (Secure under TLS) instead of a bearer header, and the CSRF token every
//! state-changing form carries: an HMAC of the session's secret, so it needs no storage and
//! dies with the session.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::layout::UiError;
use crate::auth::{principal_of, Principal};
use crate::error::ApiError;
use crate::state::Shared;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mt_session";
/// The login form's own CSRF cookie (there is no session yet).
pub const LOGIN_COOKIE: &str = "mt_login";

/// The signed-in person looking at a page, and the CSRF token of their session.
#[derive(Clone)]
pub struct Viewer {
    pub who: Principal,
    pub csrf: String,
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, Secure when served over TLS;
/// `None` as the value ends the cookie.
pub fn set_cookie(state: &Shared, name: &str, value: Option<&str>) -> String {
    let secure = match state.config.tls.is_some() {
        true => "; Secure",
        false => "",
    };
    match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The CSRF token of a secret: HMAC-SHA256 keyed by it, so only its holder's pages know it.
pub fn csrf_token(secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(b"modeltrail web UI form token");
    hex::encode(mac.finalize().into_bytes())
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, UiError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(UiError::Login)?;
        let who = principal_of(parts, state, token).map_err(|e| match e.code {
            "account_locked" => UiError::from(ApiError::forbidden(
                "account_locked",
                "the account is locked; an administrator can unlock it",
            )),
            _ => UiError::Login,
        })?;
        // A session cookie names a session; an API token pasted into a cookie is not one.
        if who.session.is_none() {
            return Err(UiError::Login);
        }
        let path = parts.uri.path();
        if who.must_change_password && path != "/password" && path != "/logout" {
            return Err(UiError::ChangePassword);
        }
        Ok(Viewer {
            csrf: csrf_token(token),
            who,
        })
    }
}
