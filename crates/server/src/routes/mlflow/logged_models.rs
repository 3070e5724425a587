//! MLflow 3 logged models: created by `log_model` before its files are uploaded, finalized
//! once they are, with params and tags; searched by experiment. A logged model's files live
//! under `<experiment>/models/<model id>/artifacts/` in the artifact store.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use modeltrail_domain::identity::new_id;
use modeltrail_domain::mlflow::{self as m, KeyValue, LoggedModel};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::search::{self, Searchable, Val};
use super::wire::{self, body, key_values, required, Answer, MlflowError};
use super::{append, experiments};
use crate::error::ApiError;
use crate::state::Shared;

pub fn artifact_prefix(model: &LoggedModel) -> String {
    format!("{}/models/{}/artifacts", model.experiment_id, model.id)
}

pub fn model_json(state: &Shared, model: &LoggedModel) -> Value {
    let registrations: Vec<Value> = state
        .read()
        .mlflow()
        .registered_models()
        .flat_map(|r| r.live_versions())
        .filter(|v| v.model_id.as_deref() == Some(model.id.as_str()))
        .map(|v| json!({"name": v.name, "version": v.version.to_string()}))
        .collect();
    let mut info = json!({
        "model_id": model.id,
        "experiment_id": model.experiment_id,
        "name": model.name,
        "creation_timestamp_ms": model.creation_time,
        "last_updated_timestamp_ms": model.last_update_time,
        "artifact_uri": format!("mlflow-artifacts:/{}", artifact_prefix(model)),
        "status": model.status,
        "tags": key_values(&model.tags),
        "registrations": registrations,
    });
    if let Some(t) = &model.model_type {
        info["model_type"] = json!(t);
    }
    if let Some(r) = &model.source_run_id {
        info["source_run_id"] = json!(r);
    }
    let metrics: Vec<Value> = model
        .metrics
        .iter()
        .map(|m| {
            json!({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step,
                   "run_id": model.source_run_id, "model_id": model.id})
        })
        .collect();
    json!({"info": info, "data": {"params": key_values(&model.params), "metrics": metrics}})
}

fn find(state: &Shared, id: &str) -> Result<LoggedModel, MlflowError> {
    state
        .read()
        .mlflow()
        .logged_model(id)
        .filter(|m| !m.deleted)
        .cloned()
        .ok_or_else(|| MlflowError::missing(format!("Logged model with ID '{id}' not found.")))
}

#[derive(Deserialize)]
pub struct Create {
    experiment_id: Option<String>,
    name: Option<String>,
    model_type: Option<String>,
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn create(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: Create = body(&bytes)?;
    let experiment_id = required(&request.experiment_id, "experiment_id")?.to_owned();
    let random = new_id().map_err(|e| MlflowError::from(ApiError::internal(e)))?;
    let model_id = format!("m-{random}");
    let name = request
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("model-{}", &random[..8]));
    let _writes = state.mlflow.writes.lock().await;
    experiments::find(&state, &experiment_id)?;
    if let Some(run) = request.source_run_id.as_deref().filter(|r| !r.is_empty()) {
        super::runs::find(&state, run)?;
    }
    let created = m::LoggedModelCreated {
        model_id: model_id.clone(),
        experiment_id,
        name,
        model_type: request.model_type.filter(|t| !t.is_empty()),
        source_run_id: request.source_run_id.filter(|r| !r.is_empty()),
        params: request.params,
        tags: request.tags,
    };
    append(
        &state,
        vec![who.0.draft(m::LOGGED_MODEL_CREATE, json!(created))],
    )
    .await?;
    let model = find(&state, &model_id)?;
    Ok(Json(json!({"model": model_json(&state, &model)})))
}

pub async fn get(State(state): State<Shared>, who: Caller, Path(model_id): Path<String>) -> Answer {
    who.reader(&state).await?;
    let model = find(&state, &model_id)?;
    Ok(Json(json!({"model": model_json(&state, &model)})))
}

async fn update(state: &Shared, who: &Caller, update: m::LoggedModelUpdated) -> Answer {
    let _writes = state.mlflow.writes.lock().await;
    find(state, &update.model_id)?;
    let id = update.model_id.clone();
    append(
        state,
        vec![who.0.draft(m::LOGGED_MODEL_UPDATE, json!(update))],
    )
    .await?;
    let model = state.read().mlflow().logged_model(&id).cloned();
    Ok(Json(match model {
        Some(model) if !model.deleted => json!({"model": model_json(state, &model)}),
        _ => json!({}),
    }))
}

#[derive(Deserialize)]
pub struct Finalize {
    status: Option<Value>,
}

pub async fn finalize(
    State(state): State<Shared>,
    who: Caller,
    Path(model_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: Finalize = body(&bytes)?;
    let status = match request.status {
        Some(Value::String(s)) => s,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => "LOGGED_MODEL_PENDING".into(),
            Some(2) => "LOGGED_MODEL_READY".into(),
            Some(3) => "LOGGED_MODEL_UPLOAD_FAILED".into(),
            _ => String::new(),
        },
        _ => String::new(),
    };
    if !matches!(
        status.as_str(),
        "LOGGED_MODEL_PENDING" | "LOGGED_MODEL_READY" | "LOGGED_MODEL_UPLOAD_FAILED"
    ) {
        return Err(MlflowError::invalid(format!(
            "Invalid logged model status '{status}'"
        )));
    }
    update(
        &state,
        &who,
        m::LoggedModelUpdated {
            model_id,
            status: Some(status),
            ..Default::default()
        },
    )
    .await
}

pub async fn delete(
    State(state): State<Shared>,
    who: Caller,
    Path(model_id): Path<String>,
) -> Answer {
    who.writer(&state).await?;
    let _ = update(
        &state,
        &who,
        m::LoggedModelUpdated {
            model_id,
            deleted: true,
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct Tags {
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn set_tags(
    State(state): State<Shared>,
    who: Caller,
    Path(model_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: Tags = body(&bytes)?;
    for t in &request.tags {
        if t.key.is_empty() {
            return Err(MlflowError::invalid("Invalid tag name: ''"));
        }
    }
    update(
        &state,
        &who,
        m::LoggedModelUpdated {
            model_id,
            set_tags: request.tags,
            ..Default::default()
        },
    )
    .await
}

pub async fn delete_tag(
    State(state): State<Shared>,
    who: Caller,
    Path((model_id, key)): Path<(String, String)>,
) -> Answer {
    who.writer(&state).await?;
    let model = find(&state, &model_id)?;
    if !model.tags.contains_key(&key) {
        return Err(MlflowError::missing(format!(
            "No tag with key '{key}' found for logged model '{model_id}'"
        )));
    }
    let _ = update(
        &state,
        &who,
        m::LoggedModelUpdated {
            model_id,
            delete_tags: vec![key],
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct Params {
    #[serde(default)]
    params: Vec<KeyValue>,
}

pub async fn log_params(
    State(state): State<Shared>,
    who: Caller,
    Path(model_id): Path<String>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: Params = body(&bytes)?;
    for p in &request.params {
        if p.key.is_empty() {
            return Err(MlflowError::invalid("Invalid param name: ''"));
        }
    }
    let _ = update(
        &state,
        &who,
        m::LoggedModelUpdated {
            model_id,
            params: request.params,
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

impl Searchable for LoggedModel {
    fn metric(&self, _: &str) -> Option<f64> {
        None
    }
    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    fn attribute(&self, key: &str) -> Option<Val> {
        match key {
            "name" => Some(Val::Str(self.name.clone())),
            "model_id" => Some(Val::Str(self.id.clone())),
            "model_type" => self.model_type.clone().map(Val::Str),
            "status" => Some(Val::Str(self.status.clone())),
            "source_run_id" => self.source_run_id.clone().map(Val::Str),
            "experiment_id" => Some(Val::Str(self.experiment_id.clone())),
            "creation_time" | "creation_timestamp" | "creation_timestamp_ms" => {
                Some(Val::Num(self.creation_time as f64))
            }
            "last_updated_timestamp" | "last_updated_timestamp_ms" => {
                Some(Val::Num(self.last_update_time as f64))
            }
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub struct OrderBy {
    field_name: Option<String>,
    ascending: Option<bool>,
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<OrderBy>,
    page_token: Option<String>,
}

pub async fn search(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.reader(&state).await?;
    let q: Search = body(&bytes)?;
    let clauses = search::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut order: Vec<String> = q
        .order_by
        .iter()
        .filter_map(|o| {
            o.field_name.as_ref().map(|f| {
                format!(
                    "{f} {}",
                    if o.ascending.unwrap_or(true) {
                        "ASC"
                    } else {
                        "DESC"
                    }
                )
            })
        })
        .collect();
    order.extend(["creation_time DESC".to_owned(), "model_id ASC".to_owned()]);
    let terms = search::order_by(&order)?;
    let mut found: Vec<LoggedModel> = state
        .read()
        .mlflow()
        .logged_models()
        .filter(|m| !m.deleted)
        .filter(|m| q.experiment_ids.is_empty() || q.experiment_ids.contains(&m.experiment_id))
        .filter(|m| search::matches(*m, &clauses))
        .cloned()
        .collect();
    found.sort_by(|a, b| search::compare_by(a, b, &terms));
    let max = q.max_results.filter(|m| *m > 0).unwrap_or(100) as usize;
    let (page, next) = search::page(found, max, q.page_token.as_deref())?;
    let mut answer =
        json!({"models": page.iter().map(|m| model_json(&state, m)).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}
