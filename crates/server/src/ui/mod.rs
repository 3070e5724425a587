//! The web UI for reviewers, served by the same binary at `/`: server-rendered HTML (maud,
//! compiled in), cookie sessions with a CSRF token on every state-changing form, and pages
//! that call the API's own handlers, so every check (roles, signatures, gate, workflow, stale
//! versions) is the API's. Each page area is one module.

mod assets;
mod boards;
mod dashboard;
mod dossier;
mod forms;
mod layout;
mod login;
mod records;
mod review;
mod session;
mod trail;

use axum::routing::{get, post};
use axum::Router;

use crate::state::Shared;

pub(crate) use layout::is_html;

/// Every page of the UI. None is in the API's endpoint table: they answer HTML, authenticate
/// by the session cookie, and are documented in the README rather than the OpenAPI document.
pub(crate) fn router() -> Router<Shared> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route(
            "/password",
            get(login::password_form).post(login::password_submit),
        )
        .route("/ui/static/app.css", get(assets::css))
        .route("/ui/static/app.js", get(assets::js))
        .route("/trail", get(trail::page))
        .route("/trail/export.csv", get(trail::export_csv))
        .route("/trail/export.json", get(trail::export_json))
        .route("/trail/{seq}", get(trail::proof_page))
        .route("/trail/{seq}/proof.json", get(trail::proof_json))
        .route("/records", get(records::types))
        .route("/records/{kind}", get(records::list))
        .route("/records/{kind}/{id}", get(records::page))
        .route(
            "/records/{kind}/{id}/edit",
            get(records::edit_form).post(records::edit_submit),
        )
        .route(
            "/records/{kind}/{id}/sign",
            get(records::sign_open).post(records::sign_submit),
        )
        .route("/records/{kind}/{id}/transition", post(boards::transition))
        .route("/boards/{kind}", get(boards::page))
        .route("/model-versions/{id}", get(dossier::page))
        .route("/model-versions/{id}/deploy", post(dossier::deploy))
        .route(
            "/model-versions/{id}/drift-chart.svg",
            get(dossier::drift_chart),
        )
        .route(
            "/model-versions/{id}/dossier.html",
            get(dossier::report_html),
        )
        .route("/model-versions/{id}/dossier.pdf", get(dossier::report_pdf))
        .route("/review", get(review::page).post(review::submit))
}
