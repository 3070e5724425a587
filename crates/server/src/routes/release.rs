//! The release gate over HTTP: a model version's release readiness (its lifecycle status and
//! the gate's checklist) and deployments, which to production only succeed when every
//! condition is met; a refusal lists every unmet condition.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::lifecycle::status;
use modeltrail_domain::roles::Permission;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::dossier::gather;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::routes::computed::{create, fresh_id, validate_client_data};
use crate::state::Shared;

/// Release readiness of a model version
///
/// The model version's lifecycle status (derived from the log) and every condition of the
/// release gate, met or not; unmet ones name the record or signature missing. Deploying to
/// production checks exactly this list.
#[utoipa::path(
    get,
    operation_id = "release_readiness",
    path = "/api/v1/model-versions/{id}/release-readiness",
    tag = "release",
    security(("bearer" = [])),
    params(("id", description = "The model_version record id.")),
    responses(
        (status = 200, description = "`status`, `model_risk`, `demands`, `ready` and `conditions` (each `code`, `met`, `detail`, `missing`).", body = Object),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version.", body = ErrorBody),
    ),
)]
pub async fn readiness(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let dossier = gather(&state, &id).await?;
    let checklist = release_checklist(&dossier);
    let mut answer = json!(checklist);
    answer["status"] = json!(status(&dossier));
    Ok(Json(answer))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// `development`, `test`, `staging` or `production`.
    environment: String,
    /// Where: the serving system, endpoint or site.
    target: String,
    /// Id of the change_request that authorises the deployment.
    change_request: Option<String>,
    /// SHA-256 of the artifact actually installed.
    artifact_sha256: Option<String>,
    /// Installation notes (IQ evidence, configuration).
    notes: Option<String>,
    /// Why the deployment is made.
    reason: Option<String>,
    /// Defaults for decision records served by this deployment (`confidence_threshold`,
    /// `max_override_rate`, `min_reviews`), used where the monitoring plan sets none.
    #[schema(value_type = Option<Object>)]
    decisions: Option<Value>,
}

/// Deploy a model version
///
/// Records a deployment of the model version. To `production` the release gate is checked
/// first: when any condition is unmet nothing is written and the answer is 409 with
/// `details.unmet` listing every unmet condition.
#[utoipa::path(
    post,
    operation_id = "deploy_model_version",
    path = "/api/v1/model-versions/{id}/deployments",
    tag = "release",
    security(("bearer" = [])),
    params(("id", description = "The model_version record id.")),
    request_body(content = DeployRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The deployment record at version 1 and the `receipt` of its event.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version.", body = ErrorBody),
        (status = 409, description = "`release_refused`: the release gate is not passed; `details.unmet` lists every unmet condition with what is missing.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: a field is missing, unknown or not acceptable; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn deploy(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: DeployRequest = parse(&body)?;
    let mut data = json!({
        "model_version": id,
        "environment": request.environment,
        "target": request.target,
        "action": "deploy",
    });
    for (key, value) in [
        ("change_request", request.change_request),
        ("artifact_sha256", request.artifact_sha256),
        ("notes", request.notes),
    ] {
        if let Some(value) = value {
            data[key] = json!(value);
        }
    }
    if let Some(decisions) = request.decisions {
        data["decisions"] = decisions;
    }
    // The deployment's fields are the request's own: name them as the client sent them.
    validate_client_data(&state, "deployment", &mut data).map_err(|mut e| {
        e.field = e.field.map(|f| f.trim_start_matches("data/").to_owned());
        e
    })?;
    let dossier = gather(&state, &id).await?;
    if dossier.model_version.voided {
        return Err(ApiError::conflict(
            "release_refused",
            format!("model_version `{id}` is voided"),
        ));
    }
    if data["environment"] == "production" {
        let checklist = release_checklist(&dossier);
        if !checklist.ready {
            let unmet: Vec<_> = checklist.unmet().cloned().collect();
            let lines: Vec<String> = unmet
                .iter()
                .map(|c| format!("{}: {}", c.code, c.missing.join("; ")))
                .collect();
            return Err(ApiError::conflict(
                "release_refused",
                format!(
                    "model_version `{id}` cannot be released to production: {} condition(s) \
                     unmet: {}",
                    unmet.len(),
                    lines.join(" | ")
                ),
            )
            .with_details(json!({ "unmet": unmet })));
        }
    }
    let deployment_id = fresh_id(&state, "deployment", None)?;
    let answer = create(
        &state,
        &who,
        "deployment",
        &deployment_id,
        data,
        request.reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}
