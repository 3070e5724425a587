//! The routes: which handler answers which path. Everything but `/healthz`, the login, and the
//! public checkpoint and key needs a bearer token; each handler makes its own authority check.

pub(crate) mod assessments;
pub(crate) mod auth;
pub(crate) mod charts;
pub(crate) mod computed;
pub(crate) mod datasets;
pub(crate) mod decisions;
pub(crate) mod fairness_file;
pub(crate) mod feedback;
pub(crate) mod ledger;
pub(crate) mod lineage;
pub(crate) mod mlflow;
pub(crate) mod monitoring;
pub(crate) mod notifications;
pub(crate) mod qualification;
pub(crate) mod records;
pub(crate) mod release;
pub(crate) mod reports;
pub(crate) mod users;
pub(crate) mod validation;
pub(crate) mod workflow;

use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use crate::error::{ApiError, ErrorBody};
use crate::openapi;
use crate::state::Shared;

/// One endpoint: its method, its full path, and the handler that answers it.
pub(crate) struct Endpoint {
    /// Routed through `handler`; read as such by the OpenAPI check.
    #[cfg_attr(not(test), allow(dead_code))]
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Shared>,
}

fn endpoint<H, T>(method: Method, path: &'static str, handler: H) -> Endpoint
where
    H: Handler<T, Shared>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
    Endpoint {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every endpoint the server answers: the one table the router is built from. The OpenAPI
/// document is checked against it (`openapi`'s tests), so no route can go undocumented.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    use Method as M;
    vec![
        endpoint(M::GET, "/healthz", health),
        endpoint(M::GET, "/metrics", metrics),
        endpoint(M::GET, "/api/v1/openapi.json", openapi::document),
        endpoint(M::POST, "/api/v1/auth/login", auth::login),
        endpoint(M::POST, "/api/v1/auth/logout", auth::logout),
        endpoint(M::GET, "/api/v1/auth/me", auth::me),
        endpoint(M::POST, "/api/v1/auth/password", auth::change_password),
        endpoint(M::GET, "/api/v1/users", users::list),
        endpoint(M::POST, "/api/v1/users", users::create),
        endpoint(M::GET, "/api/v1/users/{id}", users::get_one),
        endpoint(M::POST, "/api/v1/users/{id}/role", users::change_role),
        endpoint(M::POST, "/api/v1/users/{id}/lock", users::lock),
        endpoint(M::POST, "/api/v1/users/{id}/unlock", users::unlock),
        endpoint(
            M::POST,
            "/api/v1/users/{id}/password",
            users::reset_password,
        ),
        endpoint(M::GET, "/api/v1/users/{id}/tokens", users::tokens),
        endpoint(M::POST, "/api/v1/users/{id}/tokens", users::issue_token),
        endpoint(
            M::POST,
            "/api/v1/users/{id}/tokens/{token_id}/revoke",
            users::revoke_token,
        ),
        endpoint(M::GET, "/api/v1/security/alerts", users::alerts),
        endpoint(M::GET, "/api/v1/record-types", records::types),
        endpoint(M::GET, "/api/v1/record-types/{kind}", records::schema),
        endpoint(M::GET, "/api/v1/records/{kind}", records::list),
        endpoint(M::POST, "/api/v1/records/{kind}", records::create),
        endpoint(M::GET, "/api/v1/records/{kind}/{id}", records::read),
        endpoint(M::PUT, "/api/v1/records/{kind}/{id}", records::update),
        endpoint(M::POST, "/api/v1/records/{kind}/{id}/void", records::void),
        endpoint(
            M::GET,
            "/api/v1/records/{kind}/{id}/versions",
            records::history,
        ),
        endpoint(
            M::GET,
            "/api/v1/records/{kind}/{id}/versions/{version}",
            records::read_version,
        ),
        endpoint(M::GET, "/api/v1/records/{kind}/{id}/diff", records::diff),
        endpoint(
            M::POST,
            "/api/v1/records/{kind}/{id}/versions/{version}/signatures",
            records::sign,
        ),
        endpoint(
            M::POST,
            "/api/v1/records/{kind}/{id}/transitions",
            workflow::transition,
        ),
        endpoint(
            M::GET,
            "/api/v1/records/{kind}/{id}/workflow",
            workflow::workflow,
        ),
        endpoint(
            M::GET,
            "/api/v1/model-versions/{id}/release-readiness",
            release::readiness,
        ),
        endpoint(
            M::POST,
            "/api/v1/model-versions/{id}/deployments",
            release::deploy,
        ),
        endpoint(
            M::GET,
            "/api/v1/model-versions/{id}/dossier.html",
            reports::dossier_html,
        ),
        endpoint(
            M::GET,
            "/api/v1/model-versions/{id}/dossier.pdf",
            reports::dossier_pdf,
        ),
        endpoint(M::POST, datasets::UPLOAD_PATH, datasets::upload),
        endpoint(M::POST, "/api/v1/validation-results", validation::record),
        endpoint(
            M::POST,
            "/api/v1/fairness-assessments",
            assessments::fairness,
        ),
        endpoint(
            M::POST,
            fairness_file::FILE_PATH,
            fairness_file::fairness_file,
        ),
        endpoint(M::POST, "/api/v1/explanations", assessments::explanation),
        endpoint(
            M::POST,
            "/api/v1/monitoring-batches",
            monitoring::record_batch,
        ),
        endpoint(
            M::POST,
            monitoring::FILE_PATH,
            monitoring::record_batch_file,
        ),
        endpoint(
            M::GET,
            "/api/v1/monitoring-batches/{id}/chart.svg",
            charts::batch_chart,
        ),
        endpoint(
            M::GET,
            "/api/v1/model-versions/{id}/drift-chart.svg",
            charts::model_version_chart,
        ),
        endpoint(M::GET, "/api/v1/decisions", decisions::list),
        endpoint(M::POST, "/api/v1/decisions", decisions::record),
        endpoint(M::POST, decisions::BATCH_PATH, decisions::record_batch),
        endpoint(M::GET, "/api/v1/decisions/{request_id}", decisions::read),
        endpoint(
            M::GET,
            "/api/v1/decisions/{request_id}/proof",
            decisions::proof,
        ),
        endpoint(
            M::POST,
            "/api/v1/decisions/{request_id}/review",
            decisions::review,
        ),
        endpoint(
            M::GET,
            "/api/v1/model-versions/{id}/decision-stats",
            decisions::stats,
        ),
        endpoint(M::GET, "/api/v1/checkpoint", ledger::checkpoint),
        endpoint(
            M::POST,
            "/api/v1/feedback/{id}/escalate",
            feedback::escalate,
        ),
        endpoint(M::POST, "/api/v1/lineage", lineage::record),
        endpoint(M::GET, "/api/v1/lineage/runs/{run_id}", lineage::run),
        endpoint(M::GET, "/api/v1/lineage/datasets", lineage::dataset),
        endpoint(M::GET, "/api/v1/lineage/jobs", lineage::jobs),
        endpoint(M::GET, "/api/v1/webhooks", notifications::list),
        endpoint(M::POST, "/api/v1/webhooks", notifications::subscribe),
        endpoint(M::GET, "/api/v1/webhooks/{id}", notifications::read),
        endpoint(
            M::POST,
            "/api/v1/webhooks/{id}/unsubscribe",
            notifications::unsubscribe,
        ),
        endpoint(
            M::POST,
            "/api/v1/records/{kind}/{id}/versions/{version}/signature-requests",
            notifications::request_signature,
        ),
        endpoint(M::GET, "/api/v1/log/public-key", ledger::public_key),
        endpoint(M::GET, "/api/v1/events", ledger::events),
        endpoint(M::GET, "/api/v1/proofs/inclusion", ledger::inclusion),
        endpoint(M::GET, "/api/v1/proofs/consistency", ledger::consistency),
        endpoint(
            M::POST,
            "/api/v1/qualification-reports",
            qualification::record,
        ),
    ]
    .into_iter()
    .chain(mlflow::endpoints())
    .collect()
}

pub fn router(state: Shared) -> Router {
    let limit = state.config.body_limit;
    let upload_limit = state.config.upload_limit;
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, e| {
            // Uploads of data files take the larger limit; everything else the JSON one.
            let upload = [
                datasets::UPLOAD_PATH,
                fairness_file::FILE_PATH,
                monitoring::FILE_PATH,
                mlflow::UPLOAD_PATH,
                decisions::BATCH_PATH,
            ]
            .contains(&e.path);
            let handler = match upload {
                true => e.handler.layer(DefaultBodyLimit::max(upload_limit)),
                false => e.handler,
            };
            router.route(e.path, handler)
        })
        .merge(crate::ui::router())
        .fallback(not_found)
        .layer(middleware::from_fn(errors_as_json))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Liveness: answers as long as the process serves HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses(
        (status = 200, description = "The server is up.", body = String, content_type = "text/plain", example = "ok\n"),
    ),
)]
async fn health() -> &'static str {
    "ok\n"
}

async fn not_found(uri: axum::http::Uri) -> Response {
    match mlflow::is_mlflow_path(uri.path()) {
        true => mlflow::wire::MlflowError::no_endpoint().into_response(),
        false => ApiError::not_found("no such endpoint").into_response(),
    }
}

/// Answers the framework's own refusals (wrong method, oversize body, bad path parameter) in
/// the one error shape.
async fn errors_as_json(request: Request, next: Next) -> Response {
    let mlflow = mlflow::is_mlflow_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error())
        || is_json
        || crate::ui::is_html(&response)
    {
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
    match mlflow {
        true => mlflow::wire::MlflowError::from_status(status, message).into_response(),
        false => ApiError::new(status, code, message).into_response(),
    }
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
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Metrics in the Prometheus text format.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: neither the scrape token nor a valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden` or `password_change_required`: the caller's role may not read metrics.", body = ErrorBody),
    ),
)]
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
