//! The MLflow-compatible API: MLflow's tracking and model-registry REST paths
//! (`/api/2.0/mlflow/...`, and the same under `/ajax-api/2.0/mlflow/...`) and its artifact proxy
//! (`/api/2.0/mlflow-artifacts/artifacts/...`), enough for the unmodified `mlflow` client.
//!
//! Every call that changes state appends `mlflow.*` events (see `modeltrail_domain::mlflow`)
//! attributed to the authenticated caller, through the one sequencer; the MLflow state is part
//! of the projection, so it is rebuilt from the log on start. MLflow entities are mirrored into
//! modeltrail's records (`records`): a run is a `training_run` record, a registered model is the
//! `model` record of the same name when there is one, and a model version of such a model is a
//! `model_version` record with its artifacts' digests and its run as lineage. A transition to
//! the `Production` stage passes the release gate or is refused.
//!
//! Writes take `MlflowShared::writes`: the check against the state and the append happen one
//! call at a time, so two racing calls cannot both pass a check only one may pass.

mod artifacts;
mod auth;
mod experiments;
mod logged_models;
mod records;
mod registry;
mod runs;
mod search;
pub(crate) mod wire;

use axum::http::Method;
use modeltrail_ledger::event::EventDraft;
use modeltrail_store::Appended;

use super::{endpoint, Endpoint};
use crate::state::Shared;
use wire::MlflowError;

pub use auth::BasicCache;

/// The artifact proxy's root.
pub const ARTIFACTS: &str = "/api/2.0/mlflow-artifacts/artifacts";

/// Whether a path belongs to the MLflow API (its errors take MLflow's shape).
pub fn is_mlflow_path(path: &str) -> bool {
    ["/api/2.0/", "/ajax-api/2.0/", "/api/3.0/", "/ajax-api/3.0/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
}

/// What the MLflow API keeps beside the projection.
pub struct MlflowShared {
    /// Held while a write is checked and appended.
    pub writes: tokio::sync::Mutex<()>,
    pub basic: BasicCache,
}

impl MlflowShared {
    pub fn new() -> Result<MlflowShared, String> {
        Ok(MlflowShared {
            writes: tokio::sync::Mutex::new(()),
            basic: BasicCache::new()?,
        })
    }
}

/// Appends a call's events, all or none.
pub(crate) async fn append(
    state: &Shared,
    drafts: Vec<EventDraft>,
) -> Result<Vec<Appended>, MlflowError> {
    Ok(state.sequencer.append_all(drafts).await?)
}

/// One documented MLflow operation.
pub(crate) struct Doc {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    pub write: bool,
}

macro_rules! both {
    ($out:ident, $docs:ident, $method:expr, $path:literal, $write:expr, $summary:literal, $handler:expr) => {
        for path in [
            concat!("/api/2.0/mlflow", $path),
            concat!("/ajax-api/2.0/mlflow", $path),
        ] {
            $out.push(endpoint($method, path, $handler));
            $docs.push(Doc {
                method: $method,
                path,
                summary: $summary,
                write: $write,
            });
        }
    };
}

/// The MLflow endpoints and their documentation, in one table.
pub(crate) fn table() -> (Vec<Endpoint>, Vec<Doc>) {
    use Method as M;
    let mut e = Vec::new();
    let mut d = Vec::new();
    both!(
        e,
        d,
        M::POST,
        "/experiments/create",
        true,
        "Create an experiment",
        experiments::create
    );
    both!(
        e,
        d,
        M::GET,
        "/experiments/get",
        false,
        "Get an experiment",
        experiments::get
    );
    both!(
        e,
        d,
        M::GET,
        "/experiments/get-by-name",
        false,
        "Get an experiment by name",
        experiments::get_by_name
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/search",
        false,
        "Search experiments",
        experiments::search
    );
    both!(
        e,
        d,
        M::GET,
        "/experiments/search",
        false,
        "Search experiments (query string)",
        experiments::search_get
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/update",
        true,
        "Rename an experiment",
        experiments::update
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/delete",
        true,
        "Mark an experiment deleted",
        experiments::delete
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/restore",
        true,
        "Restore a deleted experiment",
        experiments::restore
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/set-experiment-tag",
        true,
        "Set an experiment tag",
        experiments::set_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/experiments/delete-experiment-tag",
        true,
        "Delete an experiment tag",
        experiments::delete_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/create",
        true,
        "Create a run",
        runs::create
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/update",
        true,
        "Update a run's status, end time or name",
        runs::update
    );
    both!(e, d, M::GET, "/runs/get", false, "Get a run", runs::get);
    both!(
        e,
        d,
        M::POST,
        "/runs/search",
        false,
        "Search runs",
        runs::search
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/delete",
        true,
        "Mark a run deleted",
        runs::delete
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/restore",
        true,
        "Restore a deleted run",
        runs::restore
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/log-metric",
        true,
        "Log a metric value",
        runs::log_metric
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/log-parameter",
        true,
        "Log a parameter (write-once)",
        runs::log_param
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/set-tag",
        true,
        "Set a run tag",
        runs::set_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/delete-tag",
        true,
        "Delete a run tag",
        runs::delete_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/log-batch",
        true,
        "Log metrics, params and tags in one call",
        runs::log_batch
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/log-inputs",
        true,
        "Log a run's input datasets and models",
        runs::log_inputs
    );
    both!(
        e,
        d,
        M::POST,
        "/runs/outputs",
        true,
        "Log a run's output models",
        runs::log_outputs
    );
    both!(
        e,
        d,
        M::GET,
        "/metrics/get-history",
        false,
        "A metric's history",
        runs::metric_history
    );
    both!(
        e,
        d,
        M::GET,
        "/artifacts/list",
        false,
        "List a run's artifacts",
        artifacts::list_run
    );
    both!(
        e,
        d,
        M::POST,
        "/logged-models",
        true,
        "Create a logged model",
        logged_models::create
    );
    both!(
        e,
        d,
        M::GET,
        "/logged-models/{model_id}",
        false,
        "Get a logged model",
        logged_models::get
    );
    both!(
        e,
        d,
        M::PATCH,
        "/logged-models/{model_id}",
        true,
        "Finalize a logged model",
        logged_models::finalize
    );
    both!(
        e,
        d,
        M::DELETE,
        "/logged-models/{model_id}",
        true,
        "Mark a logged model deleted",
        logged_models::delete
    );
    both!(
        e,
        d,
        M::POST,
        "/logged-models/search",
        false,
        "Search logged models",
        logged_models::search
    );
    both!(
        e,
        d,
        M::PATCH,
        "/logged-models/{model_id}/tags",
        true,
        "Set logged model tags",
        logged_models::set_tags
    );
    both!(
        e,
        d,
        M::DELETE,
        "/logged-models/{model_id}/tags/{tag_key}",
        true,
        "Delete a logged model tag",
        logged_models::delete_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/logged-models/{model_id}/params",
        true,
        "Log logged model params",
        logged_models::log_params
    );
    both!(
        e,
        d,
        M::POST,
        "/registered-models/create",
        true,
        "Create a registered model",
        registry::create_model
    );
    both!(
        e,
        d,
        M::GET,
        "/registered-models/get",
        false,
        "Get a registered model",
        registry::get_model
    );
    both!(
        e,
        d,
        M::POST,
        "/registered-models/rename",
        true,
        "Rename a registered model",
        registry::rename_model
    );
    both!(
        e,
        d,
        M::PATCH,
        "/registered-models/update",
        true,
        "Update a registered model's description",
        registry::update_model
    );
    both!(
        e,
        d,
        M::DELETE,
        "/registered-models/delete",
        true,
        "Mark a registered model deleted",
        registry::delete_model
    );
    both!(
        e,
        d,
        M::GET,
        "/registered-models/search",
        false,
        "Search registered models",
        registry::search_models
    );
    both!(
        e,
        d,
        M::POST,
        "/registered-models/get-latest-versions",
        false,
        "Latest version per stage",
        registry::latest_versions
    );
    both!(
        e,
        d,
        M::GET,
        "/registered-models/get-latest-versions",
        false,
        "Latest version per stage (query string)",
        registry::latest_versions_get
    );
    both!(
        e,
        d,
        M::POST,
        "/registered-models/set-tag",
        true,
        "Set a registered model tag",
        registry::set_model_tag
    );
    both!(
        e,
        d,
        M::DELETE,
        "/registered-models/delete-tag",
        true,
        "Delete a registered model tag",
        registry::delete_model_tag
    );
    both!(
        e,
        d,
        M::POST,
        "/registered-models/alias",
        true,
        "Set an alias",
        registry::set_alias
    );
    both!(
        e,
        d,
        M::DELETE,
        "/registered-models/alias",
        true,
        "Delete an alias",
        registry::delete_alias
    );
    both!(
        e,
        d,
        M::GET,
        "/registered-models/alias",
        false,
        "Get a model version by alias",
        registry::get_by_alias
    );
    both!(
        e,
        d,
        M::POST,
        "/model-versions/create",
        true,
        "Create a model version",
        registry::create_version
    );
    both!(
        e,
        d,
        M::GET,
        "/model-versions/get",
        false,
        "Get a model version",
        registry::get_version
    );
    both!(
        e,
        d,
        M::PATCH,
        "/model-versions/update",
        true,
        "Update a model version's description",
        registry::update_version
    );
    both!(
        e,
        d,
        M::DELETE,
        "/model-versions/delete",
        true,
        "Mark a model version deleted",
        registry::delete_version
    );
    both!(
        e,
        d,
        M::GET,
        "/model-versions/search",
        false,
        "Search model versions",
        registry::search_versions
    );
    both!(
        e,
        d,
        M::POST,
        "/model-versions/transition-stage",
        true,
        "Transition a model version's stage (Production through the release gate)",
        registry::transition_stage
    );
    both!(
        e,
        d,
        M::GET,
        "/model-versions/get-download-uri",
        false,
        "A model version's artifact location",
        registry::download_uri
    );
    both!(
        e,
        d,
        M::POST,
        "/model-versions/set-tag",
        true,
        "Set a model version tag",
        registry::set_version_tag
    );
    both!(
        e,
        d,
        M::DELETE,
        "/model-versions/delete-tag",
        true,
        "Delete a model version tag",
        registry::delete_version_tag
    );
    for (method, path, write, summary) in [
        (M::GET, ARTIFACTS, false, "List artifacts under a path"),
        (
            M::GET,
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            false,
            "Download an artifact",
        ),
        (
            M::PUT,
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            true,
            "Upload an artifact (stored by SHA-256)",
        ),
    ] {
        let handler = match (&method, path == ARTIFACTS) {
            (&M::GET, true) => endpoint(method.clone(), path, artifacts::list),
            (&M::GET, false) => endpoint(method.clone(), path, artifacts::download),
            _ => endpoint(method.clone(), path, artifacts::upload),
        };
        e.push(handler);
        d.push(Doc {
            method,
            path,
            summary,
            write,
        });
    }
    for path in [
        "/api/3.0/mlflow/server-info",
        "/ajax-api/3.0/mlflow/server-info",
    ] {
        e.push(endpoint(M::GET, path, experiments::server_info));
        d.push(Doc {
            method: M::GET,
            path,
            summary: "What the server supports (artifact serving, no multipart or presigned transfers, no workspaces)",
            write: false,
        });
    }
    (e, d)
}

/// The MLflow endpoints.
pub(crate) fn endpoints() -> Vec<Endpoint> {
    table().0
}

/// Their documentation.
pub(crate) fn docs() -> Vec<Doc> {
    table().1
}

/// The artifact upload path (the larger body limit applies).
pub const UPLOAD_PATH: &str = "/api/2.0/mlflow-artifacts/artifacts/{*path}";
