//! Experiments: create, get (by id or name), search, rename, tags, and delete/restore as
//! lifecycle changes. An experiment's id is the sequence number of the event that created it;
//! `0` is the `Default` experiment every MLflow server has.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use modeltrail_domain::mlflow::{self as m, Experiment, KeyValue, Lifecycle};
use serde::Deserialize;
use serde_json::{json, Value};

use super::append;
use super::auth::Caller;
use super::search::{self, Searchable, Val};
use super::wire::{self, body, key_values, required, Answer, MlflowError};
use crate::state::Shared;

/// Longest experiment name accepted.
const MAX_NAME: usize = 500;

pub fn experiment_json(e: &Experiment) -> Value {
    json!({
        "experiment_id": e.id,
        "name": e.name,
        "artifact_location": format!("mlflow-artifacts:/{}", e.id),
        "lifecycle_stage": e.lifecycle.as_str(),
        "creation_time": e.creation_time,
        "last_update_time": e.last_update_time,
        "tags": key_values(&e.tags),
    })
}

pub fn not_found(id: &str) -> MlflowError {
    MlflowError::missing(format!("No Experiment with id={id} exists"))
}

/// The experiment, or RESOURCE_DOES_NOT_EXIST.
pub fn find(state: &Shared, id: &str) -> Result<Experiment, MlflowError> {
    state
        .read()
        .mlflow()
        .experiment(id)
        .cloned()
        .ok_or_else(|| not_found(id))
}

fn check_name(name: &str) -> Result<(), MlflowError> {
    if name.is_empty() {
        return Err(MlflowError::invalid("Invalid experiment name: ''"));
    }
    if name.len() > MAX_NAME {
        return Err(MlflowError::invalid(format!(
            "Experiment name exceeds the maximum length of {MAX_NAME}"
        )));
    }
    Ok(())
}

fn check_tags(tags: &[KeyValue]) -> Result<(), MlflowError> {
    for t in tags {
        if t.key.is_empty() || t.key.len() > 250 {
            return Err(MlflowError::invalid(format!(
                "Invalid tag name: '{}'",
                t.key
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
pub struct CreateExperiment {
    name: Option<String>,
    artifact_location: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn create(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: CreateExperiment = body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    check_name(&name)?;
    check_tags(&request.tags)?;
    // Every artifact is kept by this server, by digest: a location elsewhere would put files
    // outside the trail.
    if let Some(location) = request
        .artifact_location
        .as_deref()
        .filter(|l| !l.is_empty())
    {
        return Err(MlflowError::invalid(format!(
            "artifact_location '{location}' is not supported: this server keeps every artifact \
             itself (mlflow-artifacts:/<experiment id>)"
        )));
    }
    let _writes = state.mlflow.writes.lock().await;
    if state.read().mlflow().experiment_by_name(&name).is_some() {
        return Err(MlflowError::exists(format!(
            "Experiment(name={name}) already exists. Error: the name is taken"
        )));
    }
    let draft = who.0.draft(
        m::EXPERIMENT_CREATE,
        json!(m::ExperimentCreated {
            name,
            tags: request.tags
        }),
    );
    let appended = append(&state, vec![draft]).await?;
    let id = appended.first().map(|a| a.seq).unwrap_or_default();
    Ok(Json(json!({"experiment_id": id.to_string()})))
}

#[derive(Deserialize)]
pub struct ById {
    experiment_id: Option<String>,
}

/// MLflow 3's capability answer, which the client reads before artifact transfers: artifacts
/// are served by this proxy, one request each (no multipart, no presigned URLs), no workspaces.
pub async fn server_info(State(state): State<Shared>, who: Caller) -> Answer {
    who.reader(&state).await?;
    Ok(Json(json!({
        "store_type": null,
        "artifact_serving_enabled": true,
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "artifacts_presigned_only": false,
    })))
}

pub async fn get(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: ById = wire::query(&q, &[])?;
    let id = required(&q.experiment_id, "experiment_id")?;
    Ok(Json(
        json!({"experiment": experiment_json(&find(&state, id)?)}),
    ))
}

#[derive(Deserialize)]
pub struct ByName {
    experiment_name: Option<String>,
}

pub async fn get_by_name(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: ByName = wire::query(&q, &[])?;
    let name = required(&q.experiment_name, "experiment_name")?;
    let found = state.read().mlflow().experiment_by_name(name).cloned();
    match found {
        Some(e) => Ok(Json(json!({"experiment": experiment_json(&e)}))),
        None => Err(MlflowError::missing(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

#[derive(Deserialize, Default)]
pub struct SearchExperiments {
    #[serde(default, deserialize_with = "wire::int64::option")]
    max_results: Option<i64>,
    page_token: Option<String>,
    filter: Option<String>,
    #[serde(default)]
    order_by: Vec<String>,
    view_type: Option<String>,
}

impl Searchable for Experiment {
    fn metric(&self, _: &str) -> Option<f64> {
        None
    }
    fn param(&self, _: &str) -> Option<&str> {
        None
    }
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    fn attribute(&self, key: &str) -> Option<Val> {
        match key {
            "name" => Some(Val::Str(self.name.clone())),
            "experiment_id" => Some(Val::Str(self.id.clone())),
            "creation_time" => Some(Val::Num(self.creation_time as f64)),
            "last_update_time" => Some(Val::Num(self.last_update_time as f64)),
            "lifecycle_stage" => Some(Val::Str(self.lifecycle.as_str().into())),
            _ => None,
        }
    }
}

/// Whether an item in `lifecycle` is shown for the view type.
pub fn in_view(view: Option<&str>, lifecycle: Lifecycle) -> Result<bool, MlflowError> {
    match view.unwrap_or("ACTIVE_ONLY") {
        "ACTIVE_ONLY" | "1" | "" => Ok(lifecycle == Lifecycle::Active),
        "DELETED_ONLY" | "2" => Ok(lifecycle == Lifecycle::Deleted),
        "ALL" | "3" => Ok(true),
        other => Err(MlflowError::invalid(format!("Invalid view_type '{other}'"))),
    }
}

fn run_search(state: &Shared, q: SearchExperiments) -> Answer {
    let max = q.max_results.unwrap_or(1000);
    if !(1..=50_000).contains(&max) {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be between 1 and 50000"
        )));
    }
    let clauses = search::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut terms = search::order_by(&q.order_by)?;
    let default_order =
        search::order_by(&["creation_time DESC".into(), "experiment_id ASC".into()])?;
    terms.extend(default_order);
    let mut found: Vec<Experiment> = Vec::new();
    for e in state.read().mlflow().experiments() {
        if in_view(q.view_type.as_deref(), e.lifecycle)? && search::matches(e, &clauses) {
            found.push(e.clone());
        }
    }
    found.sort_by(|a, b| search::compare_by(a, b, &terms));
    let (page, next) = search::page(found, max as usize, q.page_token.as_deref())?;
    let mut answer = json!({"experiments": page.iter().map(experiment_json).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}

pub async fn search(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.reader(&state).await?;
    run_search(&state, body(&bytes)?)
}

pub async fn search_get(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    run_search(&state, wire::query(&q, &["order_by"])?)
}

#[derive(Deserialize)]
pub struct Rename {
    experiment_id: Option<String>,
    new_name: Option<String>,
}

pub async fn update(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: Rename = body(&bytes)?;
    let id = required(&request.experiment_id, "experiment_id")?.to_owned();
    let new_name = required(&request.new_name, "new_name")?.to_owned();
    check_name(&new_name)?;
    let _writes = state.mlflow.writes.lock().await;
    let e = find(&state, &id)?;
    if e.lifecycle != Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "Cannot rename a non-active experiment {id}"
        )));
    }
    if e.name == new_name {
        return Ok(Json(json!({})));
    }
    if state
        .read()
        .mlflow()
        .experiment_by_name(&new_name)
        .is_some()
    {
        return Err(MlflowError::exists(format!(
            "Experiment(name={new_name}) already exists"
        )));
    }
    let draft = who.0.draft(
        m::EXPERIMENT_UPDATE,
        json!(m::ExperimentRenamed {
            experiment_id: e.id,
            new_name
        }),
    );
    append(&state, vec![draft]).await?;
    Ok(Json(json!({})))
}

async fn lifecycle(state: &Shared, who: &Caller, bytes: &Bytes, to: Lifecycle) -> Answer {
    who.writer(state).await?;
    let request: ById = body(bytes)?;
    let id = required(&request.experiment_id, "experiment_id")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let e = find(state, &id)?;
    if e.id == m::DEFAULT_EXPERIMENT_ID && to == Lifecycle::Deleted {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'",
        ));
    }
    if e.lifecycle == to {
        return match to {
            Lifecycle::Active => Err(MlflowError::invalid(format!(
                "Cannot restore an experiment that is not deleted: {id}"
            ))),
            Lifecycle::Deleted => Ok(Json(json!({}))),
        };
    }
    let draft = who.0.draft(
        m::EXPERIMENT_LIFECYCLE,
        json!(m::LifecycleChanged { id: e.id, to }),
    );
    append(state, vec![draft]).await?;
    Ok(Json(json!({})))
}

pub async fn delete(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    lifecycle(&state, &who, &bytes, Lifecycle::Deleted).await
}

pub async fn restore(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    lifecycle(&state, &who, &bytes, Lifecycle::Active).await
}

#[derive(Deserialize)]
pub struct Tag {
    experiment_id: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

async fn tags(state: &Shared, who: &Caller, bytes: &Bytes, set: bool) -> Answer {
    who.writer(state).await?;
    let request: Tag = body(bytes)?;
    let id = required(&request.experiment_id, "experiment_id")?.to_owned();
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let e = find(state, &id)?;
    if e.lifecycle != Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "The experiment {id} must be in the 'active' state"
        )));
    }
    let change = match set {
        true => {
            let value = request.value.unwrap_or_default();
            check_tags(&[KeyValue {
                key: key.clone(),
                value: value.clone(),
            }])?;
            m::TagsChanged {
                id: e.id,
                set: vec![KeyValue { key, value }],
                delete: vec![],
            }
        }
        false => {
            if !e.tags.contains_key(&key) {
                return Err(MlflowError::missing(format!(
                    "No tag with name: {key} in experiment with id {id}"
                )));
            }
            m::TagsChanged {
                id: e.id,
                set: vec![],
                delete: vec![key],
            }
        }
    };
    append(state, vec![who.0.draft(m::EXPERIMENT_TAGS, json!(change))]).await?;
    Ok(Json(json!({})))
}

pub async fn set_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    tags(&state, &who, &bytes, true).await
}

pub async fn delete_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    tags(&state, &who, &bytes, false).await
}
