//! The routes: which handler answers which path. Everything but `/healthz`, the login, and the
//! public checkpoint and key needs a bearer token; each handler makes its own authority check.

mod auth;
mod ledger;
mod records;
mod users;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::Shared;

pub fn router(state: Shared) -> Router {
    let limit = state.config.body_limit;
    let api = Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/auth/password", post(auth::change_password))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get_one))
        .route("/users/{id}/role", post(users::change_role))
        .route("/users/{id}/lock", post(users::lock))
        .route("/users/{id}/unlock", post(users::unlock))
        .route("/users/{id}/password", post(users::reset_password))
        .route(
            "/users/{id}/tokens",
            get(users::tokens).post(users::issue_token),
        )
        .route(
            "/users/{id}/tokens/{token_id}/revoke",
            post(users::revoke_token),
        )
        .route("/security/alerts", get(users::alerts))
        .route("/record-types", get(records::types))
        .route("/record-types/{kind}", get(records::schema))
        .route("/records/{kind}", get(records::list).post(records::create))
        .route(
            "/records/{kind}/{id}",
            get(records::read).put(records::update),
        )
        .route("/records/{kind}/{id}/void", post(records::void))
        .route("/records/{kind}/{id}/versions", get(records::history))
        .route(
            "/records/{kind}/{id}/versions/{version}",
            get(records::read_version),
        )
        .route("/records/{kind}/{id}/diff", get(records::diff))
        .route(
            "/records/{kind}/{id}/versions/{version}/signatures",
            post(records::sign),
        )
        .route("/checkpoint", get(ledger::checkpoint))
        .route("/log/public-key", get(ledger::public_key))
        .route("/events", get(ledger::events))
        .route("/proofs/inclusion", get(ledger::inclusion))
        .route("/proofs/consistency", get(ledger::consistency));
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .nest("/api/v1", api)
        .fallback(not_found)
        .layer(middleware::from_fn(errors_as_json))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

/// Answers the framework's own refusals (wrong method, oversize body, bad path parameter) in
/// the one error shape.
async fn errors_as_json(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = match (status, text.is_empty()) {
        (StatusCode::PAYLOAD_TOO_LARGE, _) => "the request body is larger than the limit".into(),
        (_, true) => status.canonical_reason().unwrap_or("error").to_owned(),
        (_, false) => text,
    };
    ApiError::new(status, code, message).into_response()
}

/// Counts and logs every request by its route template; never logs headers or bodies.
async fn observe(
    axum::extract::State(state): axum::extract::State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state
        .metrics
        .request(method.as_str(), &route, status, elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// Prometheus metrics, for administrators or the configured scrape token.
async fn metrics(
    axum::extract::State(state): axum::extract::State<Shared>,
    request: Request,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequestParts;
    let (mut parts, _) = request.into_parts();
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let scraper = match (&state.config.metrics_token, bearer) {
        (Some(expected), Some(given)) => {
            modeltrail_domain::identity::secret_digest(expected)
                == modeltrail_domain::identity::secret_digest(given)
        }
        _ => false,
    };
    if !scraper {
        let who = crate::auth::Principal::from_request_parts(&mut parts, &state).await?;
        who.require(&state, modeltrail_domain::roles::Permission::ReadMetrics)
            .await?;
    }
    let size = state.sequencer.latest_checkpoint().checkpoint().size;
    let text = state.metrics.render(size, state.sessions.count());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
