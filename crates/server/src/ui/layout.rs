//! The page frame every UI page shares (navigation, the signed-in user, the logout form), the
//! HTML response with its security headers, and the error page.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::Timestamp;

use super::session::Viewer;
use crate::error::ApiError;

/// Whether a response is one of the UI's HTML pages (the API's error rewriting leaves it alone).
pub(crate) fn is_html(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
}

/// The content security policy: nothing but this server's own CSS, script and images.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML page answered with `status` and the UI's security headers.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A page with the frame around `body`; `viewer` is `None` on the login pages.
pub fn page(viewer: Option<&Viewer>, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · modeltrail" }
                link rel="stylesheet" href="/ui/static/app.css";
                script src="/ui/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "modeltrail" }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            a href="/" { "Dashboard" }
                            @if v.who.role.allows(Permission::ReadLog) {
                                a href="/trail" { "Audit trail" }
                                a href="/review" { "Trail review" }
                            }
                            a href="/records" { "Records" }
                            a href="/boards/exception" { "Exceptions" }
                            a href="/boards/capa" { "CAPA" }
                            a href="/boards/change_request" { "Change requests" }
                        }
                        form.logout method="post" action="/logout" {
                            span.who { (v.who.name) " (" (v.who.user) ", " (v.who.role.as_str()) ")" }
                            input type="hidden" name="csrf" value=(v.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A time shown in UTC, turned into the viewer's local time by the page's script.
pub fn when(t: &Timestamp) -> Markup {
    let text = t.to_string();
    let utc = text.replace('T', " ").replace('Z', " UTC");
    html! {
        time datetime=(text) { (utc) }
        span.local data-utc=(text) {}
    }
}

/// The conditions a refusal lists as unmet (`details.unmet`, the release gate's and the
/// workflow's), each as "code: what is missing" (or its detail when it names nothing missing).
pub fn unmet_conditions(error: &crate::error::ApiError) -> Vec<String> {
    let conditions = error
        .details
        .as_ref()
        .and_then(|d| d.get("unmet"))
        .and_then(serde_json::Value::as_array);
    conditions
        .into_iter()
        .flatten()
        .map(|c| {
            let missing = c["missing"]
                .as_array()
                .map(|m| m.iter().map(plain).collect::<Vec<_>>().join("; "));
            format!(
                "{}: {}",
                plain(&c["code"]),
                missing.unwrap_or_else(|| plain(&c["detail"]))
            )
        })
        .collect()
}

/// A JSON value as readable text (strings unquoted).
pub fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// A JSON value pretty-printed in a block.
pub fn pretty(value: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    html! { pre.json { (text) } }
}

/// Links to a record page.
pub fn record_link(kind: &str, id: &str) -> Markup {
    html! { a href=(format!("/records/{}/{}", enc(kind), enc(id))) { (kind) " " code { (id) } } }
}

/// A path segment or query value, percent-encoded.
pub fn enc(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An empty-markup helper for optional parts.
pub fn none() -> Markup {
    PreEscaped(String::new())
}

/// What went wrong, as a page: the status and a message that names the problem.
#[derive(Debug)]
pub enum UiError {
    /// Not signed in (or the session ended): to the login page.
    Login,
    /// Signed in but the password must be changed first.
    ChangePassword,
    Page {
        status: StatusCode,
        code: String,
        message: String,
    },
}

impl UiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> UiError {
        UiError::Page {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> UiError {
        match e.status {
            StatusCode::UNAUTHORIZED => UiError::Login,
            _ => UiError::Page {
                status: e.status,
                code: e.code.to_owned(),
                message: e.message,
            },
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::Login => Redirect::to("/login").into_response(),
            UiError::ChangePassword => Redirect::to("/password").into_response(),
            UiError::Page {
                status,
                code,
                message,
            } => {
                let title = match status {
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    StatusCode::CONFLICT => "Refused",
                    s if s.is_server_error() => "Server error",
                    _ => "Cannot do that",
                };
                let body = html! {
                    div.error role="alert" {
                        p { strong { (message) } }
                        p.muted { "Code: " code { (code) } }
                    }
                    p { a href="/" { "Back to the dashboard" } }
                };
                html(status, page(None, title, body))
            }
        }
    }
}

/// The result of every page handler.
pub type PageResult = Result<Response, UiError>;
