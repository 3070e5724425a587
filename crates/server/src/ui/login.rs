//! Logging in and out, and changing one's password (forced at the first login, after a reset
//! and on expiry): the API's own login and password change, with the session in a cookie.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use maud::html;
use modeltrail_domain::identity::new_secret;
use serde_json::json;

use super::forms::{checked, csrf_field, text_field, FieldErrors, Form};
use super::layout::{html, page as frame, PageResult, UiError};
use super::session::{
    cookie, csrf_token, same_token, set_cookie, Viewer, LOGIN_COOKIE, SESSION_COOKIE,
};
use crate::routes::auth::{self, ClientInfo};
use crate::state::Shared;

fn login_page(state: &Shared, status: StatusCode, user: &str, errors: &FieldErrors) -> PageResult {
    let secret = new_secret("mtl_")
        .map_err(|e| UiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let threshold = state.config.lockout_threshold;
    let body = html! {
        form.login method="post" action="/login" {
            (errors.top())
            input type="hidden" name="csrf" value=(csrf_token(&secret));
            (text_field(errors, "username", "User id", "text", user, true))
            (text_field(errors, "password", "Password", "password", "", true))
            p.muted { "After " (threshold) " consecutive failed logins the account is locked until an administrator unlocks it. Every attempt is recorded in the audit trail." }
            button type="submit" { "Log in" }
        }
    };
    let mut response = html(status, frame(None, "Log in", body));
    if let Ok(v) = set_cookie(state, LOGIN_COOKIE, Some(&secret)).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub async fn form(State(state): State<Shared>) -> PageResult {
    login_page(&state, StatusCode::OK, "", &FieldErrors::default())
}

pub async fn submit(
    State(state): State<Shared>,
    client: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let form = Form::parse(&body);
    let username = form.get("username").unwrap_or_default().to_owned();
    let mut errors = FieldErrors::default();
    let expected = cookie(&headers, LOGIN_COOKIE).map(csrf_token);
    if !expected.is_some_and(|t| same_token(&t, form.get("csrf").unwrap_or_default())) {
        errors.add(
            "",
            "The login form had expired or was not sent from this site; please log in again.",
        );
        return login_page(&state, StatusCode::FORBIDDEN, &username, &errors);
    }
    if username.is_empty() {
        errors.add("username", "Enter your user id.");
    }
    if form.raw("password").is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !errors.is_empty() {
        return login_page(&state, StatusCode::UNPROCESSABLE_ENTITY, &username, &errors);
    }
    let request = json!({"username": username, "password": form.raw("password")});
    let answer = auth::login(
        State(state.clone()),
        client,
        Bytes::from(request.to_string()),
    )
    .await;
    let Json(answer) = match answer {
        Ok(answer) => answer,
        Err(e) => {
            let message = match e.code {
                "account_locked" => "This account is locked after repeated failed logins. An administrator can unlock it.".to_owned(),
                "invalid_credentials" => format!(
                    "The user id or password is wrong. After {} consecutive failures the account is locked.",
                    state.config.lockout_threshold
                ),
                _ => e.message.clone(),
            };
            errors.add("", message);
            return login_page(&state, e.status, &username, &errors);
        }
    };
    let token = answer["token"].as_str().unwrap_or_default();
    let next = match answer["must_change_password"].as_bool() {
        Some(true) => "/password",
        _ => "/",
    };
    let mut response = Redirect::to(next).into_response();
    for value in [
        set_cookie(&state, SESSION_COOKIE, Some(token)),
        set_cookie(&state, LOGIN_COOKIE, None),
    ] {
        if let Ok(v) = value.parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

pub async fn logout(State(state): State<Shared>, viewer: Viewer, body: Bytes) -> PageResult {
    checked(&state, &viewer, &body).await?;
    let _receipt = auth::logout(State(state.clone()), viewer.who).await?;
    let mut response = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(&state, SESSION_COOKIE, None).parse() {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

fn password_page(viewer: &Viewer, status: StatusCode, errors: &FieldErrors) -> Response {
    let body = html! {
        @if viewer.who.must_change_password {
            p.notice role="status" { "Your password must be changed before you can do anything else." }
        }
        form method="post" action="/password" {
            (errors.top())
            (csrf_field(viewer))
            (text_field(errors, "current_password", "Current password", "password", "", true))
            (text_field(errors, "new_password", "New password", "password", "", true))
            (text_field(errors, "confirm_password", "New password again", "password", "", true))
            button type="submit" { "Change password" }
        }
    };
    html(status, frame(Some(viewer), "Change password", body))
}

pub async fn password_form(viewer: Viewer) -> Response {
    password_page(&viewer, StatusCode::OK, &FieldErrors::default())
}

pub async fn password_submit(
    State(state): State<Shared>,
    viewer: Viewer,
    body: Bytes,
) -> PageResult {
    let form = checked(&state, &viewer, &body).await?;
    let mut errors = FieldErrors::default();
    for (name, what) in [
        ("current_password", "your current password"),
        ("new_password", "a new password"),
    ] {
        if form.raw(name).is_empty() {
            errors.add(name, format!("Enter {what}."));
        }
    }
    if form.raw("new_password") != form.raw("confirm_password") {
        errors.add("confirm_password", "The two new passwords differ.");
    }
    if !errors.is_empty() {
        return Ok(password_page(
            &viewer,
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
        ));
    }
    let request = json!({
        "current_password": form.raw("current_password"),
        "new_password": form.raw("new_password"),
    });
    match auth::change_password(
        State(state.clone()),
        viewer.who.clone(),
        Bytes::from(request.to_string()),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/").into_response()),
        Err(e) => {
            let errors = FieldErrors::from_api(
                &e,
                &[
                    ("current_password", "current_password"),
                    ("new_password", "new_password"),
                ],
            );
            Ok(password_page(&viewer, e.status, &errors))
        }
    }
}
