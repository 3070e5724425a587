//! The model registry: registered models (create, get, rename, update, delete, search, latest
//! versions, tags), model versions (create, get, update, delete, search, tags, download
//! location), aliases, and stage transitions. A transition to `Production` is a release: it
//! passes modeltrail's release gate for the version's `model_version` record, and is then
//! recorded as a `deployment` record too; when the gate refuses, nothing is written and the
//! answer names every unmet condition.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::mlflow::{self as m, KeyValue, ModelVersion, RegisteredModel};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::search::{self, Searchable, Val};
use super::wire::{self, key_values, required, Answer, MlflowError};
use super::{append, records};
use crate::state::Shared;

const STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

fn canonical_stage(stage: &str) -> Option<&'static str> {
    STAGES
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(stage))
}

pub fn version_json(model: &RegisteredModel, v: &ModelVersion) -> Value {
    let aliases: Vec<&String> = model
        .aliases
        .iter()
        .filter(|(_, version)| **version == v.version)
        .map(|(alias, _)| alias)
        .collect();
    let mut out = json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_update_time,
        "user_id": v.user_id,
        "current_stage": v.stage,
        "source": v.source,
        "status": "READY",
        "tags": key_values(&v.tags),
        "aliases": aliases,
    });
    for (key, value) in [
        ("description", &v.description),
        ("run_id", &v.run_id),
        ("run_link", &v.run_link),
        ("model_id", &v.model_id),
    ] {
        if let Some(value) = value {
            out[key] = json!(value);
        }
    }
    out
}

/// The latest live version in each stage.
fn latest_per_stage<'a>(model: &'a RegisteredModel, stages: &[String]) -> Vec<&'a ModelVersion> {
    let mut latest: std::collections::BTreeMap<&str, &ModelVersion> = Default::default();
    for v in model.live_versions() {
        latest.insert(v.stage.as_str(), v);
    }
    let mut out: Vec<&ModelVersion> = latest
        .into_values()
        .filter(|v| stages.is_empty() || stages.iter().any(|s| s.eq_ignore_ascii_case(&v.stage)))
        .collect();
    out.sort_by_key(|v| v.version);
    out
}

pub fn model_json(model: &RegisteredModel) -> Value {
    let mut out = json!({
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_update_time,
        "user_id": model.user_id,
        "latest_versions": latest_per_stage(model, &[]).into_iter().map(|v| version_json(model, v)).collect::<Vec<_>>(),
        "tags": key_values(&model.tags),
        "aliases": model.aliases.iter().map(|(a, v)| json!({"alias": a, "version": v.to_string()})).collect::<Vec<_>>(),
    });
    if let Some(d) = &model.description {
        out["description"] = json!(d);
    }
    out
}

fn find_model(state: &Shared, name: &str) -> Result<RegisteredModel, MlflowError> {
    state
        .read()
        .mlflow()
        .registered_model(name)
        .cloned()
        .ok_or_else(|| MlflowError::missing(format!("Registered Model with name={name} not found")))
}

fn parse_version(text: &str) -> Result<u64, MlflowError> {
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Parameter 'version' must be an integer, got '{text}'."
            ))
        })
}

fn find_version(
    state: &Shared,
    name: &str,
    version: &str,
) -> Result<(RegisteredModel, ModelVersion), MlflowError> {
    let number = parse_version(version)?;
    let model = find_model(state, name)?;
    let v = model
        .versions
        .get(&number)
        .filter(|v| !v.deleted)
        .cloned()
        .ok_or_else(|| {
            MlflowError::missing(format!(
                "Model Version (name={name}, version={version}) not found"
            ))
        })?;
    Ok((model, v))
}

/// A request from the body, or from the query string when the body is empty (DELETE calls
/// come either way).
fn either<T: DeserializeOwned>(
    bytes: &Bytes,
    query: &[(String, String)],
) -> Result<T, MlflowError> {
    match bytes.iter().all(u8::is_ascii_whitespace) {
        true => wire::query(query, &[]),
        false => wire::body(bytes),
    }
}

fn value_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

#[derive(Deserialize)]
pub struct ModelRequest {
    name: Option<String>,
    new_name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    key: Option<String>,
    value: Option<String>,
    alias: Option<String>,
    #[serde(default, deserialize_with = "value_string")]
    version: Option<String>,
}

async fn write_model(
    state: &Shared,
    who: &Caller,
    update: m::RegisteredModelUpdated,
) -> Result<(), MlflowError> {
    append(
        state,
        vec![who.0.draft(m::REGISTERED_MODEL_UPDATE, json!(update))],
    )
    .await?;
    Ok(())
}

fn check_name(name: &str) -> Result<(), MlflowError> {
    if name.is_empty() || name.len() > 256 || name.contains('/') && name.contains("..") {
        return Err(MlflowError::invalid(format!(
            "Invalid model name: '{name}'"
        )));
    }
    Ok(())
}

pub async fn create_model(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    check_name(&name)?;
    let _writes = state.mlflow.writes.lock().await;
    if state.read().mlflow().registered_model(&name).is_some() {
        return Err(MlflowError::exists(format!(
            "Registered Model (name={name}) already exists."
        )));
    }
    let created = m::RegisteredModelCreated {
        name: name.clone(),
        description: request.description.filter(|d| !d.is_empty()),
        tags: request.tags,
    };
    append(
        &state,
        vec![who.0.draft(m::REGISTERED_MODEL_CREATE, json!(created))],
    )
    .await?;
    Ok(Json(
        json!({"registered_model": model_json(&find_model(&state, &name)?)}),
    ))
}

pub async fn get_model(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: ModelRequest = wire::query(&q, &[])?;
    let name = required(&q.name, "name")?;
    Ok(Json(
        json!({"registered_model": model_json(&find_model(&state, name)?)}),
    ))
}

pub async fn rename_model(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    let new_name = required(&request.new_name, "new_name")?.to_owned();
    check_name(&new_name)?;
    let _writes = state.mlflow.writes.lock().await;
    find_model(&state, &name)?;
    if name != new_name && state.read().mlflow().registered_model(&new_name).is_some() {
        return Err(MlflowError::exists(format!(
            "Registered Model (name={new_name}) already exists."
        )));
    }
    if name != new_name {
        write_model(
            &state,
            &who,
            m::RegisteredModelUpdated {
                name,
                new_name: Some(new_name.clone()),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(Json(
        json!({"registered_model": model_json(&find_model(&state, &new_name)?)}),
    ))
}

pub async fn update_model(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    find_model(&state, &name)?;
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name: name.clone(),
            description: Some(request.description.unwrap_or_default()),
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(
        json!({"registered_model": model_json(&find_model(&state, &name)?)}),
    ))
}

pub async fn delete_model(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = either(&bytes, &q)?;
    let name = required(&request.name, "name")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    find_model(&state, &name)?;
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name,
            deleted: true,
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn set_model_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    find_model(&state, &name)?;
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name,
            set_tags: vec![KeyValue {
                key,
                value: request.value.unwrap_or_default(),
            }],
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn delete_model_tag(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = either(&bytes, &q)?;
    let name = required(&request.name, "name")?.to_owned();
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let model = find_model(&state, &name)?;
    if !model.tags.contains_key(&key) {
        return Err(MlflowError::missing(format!(
            "Registered model tag with name={key} not found"
        )));
    }
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name,
            delete_tags: vec![key],
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

fn check_alias(alias: &str) -> Result<(), MlflowError> {
    let reserved = alias.eq_ignore_ascii_case("latest")
        || (alias.len() > 1
            && (alias.starts_with('v') || alias.starts_with('V'))
            && alias[1..].bytes().all(|b| b.is_ascii_digit()));
    let ok = !alias.is_empty()
        && alias.len() <= 255
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match (ok, reserved) {
        (true, false) => Ok(()),
        _ => Err(MlflowError::invalid(format!(
            "Invalid alias name: '{alias}'. Aliases may only contain alphanumeric characters, \
             '_' and '-', and may not be 'latest' or of the form 'v<number>'."
        ))),
    }
}

pub async fn set_alias(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    let alias = required(&request.alias, "alias")?.to_owned();
    let version = required(&request.version, "version")?.to_owned();
    check_alias(&alias)?;
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name,
            set_alias: Some((alias, v.version)),
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn delete_alias(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: ModelRequest = either(&bytes, &q)?;
    let name = required(&request.name, "name")?.to_owned();
    let alias = required(&request.alias, "alias")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let model = find_model(&state, &name)?;
    if !model.aliases.contains_key(&alias) {
        return Err(MlflowError::missing(format!(
            "Registered model alias {alias} not found."
        )));
    }
    write_model(
        &state,
        &who,
        m::RegisteredModelUpdated {
            name,
            delete_alias: Some(alias),
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn get_by_alias(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: ModelRequest = wire::query(&q, &[])?;
    let name = required(&q.name, "name")?;
    let alias = required(&q.alias, "alias")?;
    let model = find_model(&state, name)?;
    let version = model.aliases.get(alias).ok_or_else(|| {
        MlflowError::missing(format!("Registered model alias {alias} not found."))
    })?;
    let (model, v) = find_version(&state, name, &version.to_string())?;
    Ok(Json(json!({"model_version": version_json(&model, &v)})))
}

impl Searchable for RegisteredModel {
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
            "creation_timestamp" | "timestamp" => Some(Val::Num(self.creation_time as f64)),
            "last_updated_timestamp" => Some(Val::Num(self.last_update_time as f64)),
            _ => None,
        }
    }
}

impl Searchable for ModelVersion {
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
            "version" | "version_number" => Some(Val::Num(self.version as f64)),
            "run_id" => self.run_id.clone().map(Val::Str),
            "source" | "source_path" => Some(Val::Str(self.source.clone())),
            "current_stage" => Some(Val::Str(self.stage.clone())),
            "model_id" => self.model_id.clone().map(Val::Str),
            "creation_timestamp" | "timestamp" => Some(Val::Num(self.creation_time as f64)),
            "last_updated_timestamp" => Some(Val::Num(self.last_update_time as f64)),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
pub struct SearchRequest {
    filter: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<String>,
    page_token: Option<String>,
}

pub async fn search_models(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: SearchRequest = wire::query(&q, &["order_by"])?;
    let clauses = search::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut terms = search::order_by(&q.order_by)?;
    terms.extend(search::order_by(&["name ASC".into()])?);
    let mut found: Vec<RegisteredModel> = state
        .read()
        .mlflow()
        .registered_models()
        .filter(|m| search::matches(*m, &clauses))
        .cloned()
        .collect();
    found.sort_by(|a, b| search::compare_by(a, b, &terms));
    let max = q.max_results.filter(|m| *m > 0).unwrap_or(100) as usize;
    let (page, next) = search::page(found, max, q.page_token.as_deref())?;
    let mut answer = json!({"registered_models": page.iter().map(model_json).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}

pub async fn search_versions(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: SearchRequest = wire::query(&q, &["order_by"])?;
    let clauses = search::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut terms = search::order_by(&q.order_by)?;
    terms.extend(search::order_by(&[
        "name ASC".into(),
        "version_number DESC".into(),
    ])?);
    let mut found: Vec<(RegisteredModel, ModelVersion)> = Vec::new();
    for model in state.read().mlflow().registered_models() {
        for v in model.live_versions() {
            if search::matches(v, &clauses) {
                found.push((model.clone(), v.clone()));
            }
        }
    }
    found.sort_by(|a, b| search::compare_by(&a.1, &b.1, &terms));
    let max = q.max_results.filter(|m| *m > 0).unwrap_or(10_000) as usize;
    let (page, next) = search::page(found, max, q.page_token.as_deref())?;
    let mut answer =
        json!({"model_versions": page.iter().map(|(m, v)| version_json(m, v)).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}

#[derive(Deserialize)]
pub struct LatestRequest {
    name: Option<String>,
    #[serde(default)]
    stages: Vec<String>,
}

fn latest(state: &Shared, request: LatestRequest) -> Answer {
    let name = required(&request.name, "name")?;
    let model = find_model(state, name)?;
    let versions: Vec<Value> = latest_per_stage(&model, &request.stages)
        .into_iter()
        .map(|v| version_json(&model, v))
        .collect();
    Ok(Json(json!({"model_versions": versions})))
}

pub async fn latest_versions(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.reader(&state).await?;
    latest(&state, wire::body(&bytes)?)
}

pub async fn latest_versions_get(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    latest(&state, wire::query(&q, &["stages"])?)
}

#[derive(Deserialize)]
pub struct CreateVersion {
    name: Option<String>,
    source: Option<String>,
    run_id: Option<String>,
    #[serde(default)]
    tags: Vec<KeyValue>,
    run_link: Option<String>,
    description: Option<String>,
    model_id: Option<String>,
}

/// Where a version's files are in the artifact store, as a path prefix ending in `/`.
fn artifact_prefix(state: &Shared, source: &str, model_id: Option<&str>) -> Option<String> {
    let projection = state.read();
    let mlflow = projection.mlflow();
    if let Some(model) = model_id.and_then(|id| mlflow.logged_model(id)) {
        return Some(format!("{}/", super::logged_models::artifact_prefix(model)));
    }
    if let Some(rest) = source.strip_prefix("models:/") {
        if let Some(model) = mlflow.logged_model(rest.trim_matches('/')) {
            return Some(format!("{}/", super::logged_models::artifact_prefix(model)));
        }
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
        let run = mlflow.run(run_id)?;
        let base = format!("{}/{}/artifacts", run.experiment_id, run.id);
        return Some(match path.trim_matches('/') {
            "" => format!("{base}/"),
            p => format!("{base}/{p}/"),
        });
    }
    source
        .strip_prefix("mlflow-artifacts:/")
        .map(|p| format!("{}/", p.trim_matches('/')))
}

pub async fn create_version(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: CreateVersion = wire::body(&bytes)?;
    let name = required(&request.name, "name")?.to_owned();
    let source = required(&request.source, "source")?.to_owned();
    let run_id = request.run_id.filter(|r| !r.is_empty());
    let model_id = request.model_id.filter(|r| !r.is_empty());
    let _writes = state.mlflow.writes.lock().await;
    let model = find_model(&state, &name)?;
    if let Some(run) = &run_id {
        super::runs::find(&state, run)?;
    }
    if let Some(id) = &model_id {
        if state.read().mlflow().logged_model(id).is_none() {
            return Err(MlflowError::missing(format!(
                "Logged model with ID '{id}' not found."
            )));
        }
    }
    // A version of a logged model comes from the run that logged it, as in MLflow.
    let run_id = run_id.or_else(|| {
        let projection = state.read();
        model_id
            .as_deref()
            .and_then(|id| projection.mlflow().logged_model(id))
            .and_then(|m| m.source_run_id.clone())
    });
    let version = model.version_count + 1;
    // The model_version record, when modeltrail has the model record of that name and the
    // version's files are in the artifact store.
    let mut record = None;
    let mut drafts = Vec::new();
    if let Some(model_record) = records::model_record(&state, &name).await? {
        let prefix = artifact_prefix(&state, &source, model_id.as_deref());
        let artifacts: Vec<Value> = prefix
            .as_deref()
            .map(|prefix| {
                state
                    .read()
                    .mlflow()
                    .artifacts_under(prefix)
                    .map(|(path, f)| {
                        json!({"path": path[prefix.len()..], "sha256": f.sha256, "size_bytes": f.size})
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !artifacts.is_empty() {
            let id = records::version_record_id(&state, &name, version)?;
            let mut data = json!({
                "model": model_record,
                "version": version.to_string(),
                "artifacts": artifacts,
                "registered_model_name": name,
            });
            let source_run = run_id.clone().or_else(|| {
                let projection = state.read();
                model_id
                    .as_deref()
                    .and_then(|id| projection.mlflow().logged_model(id))
                    .and_then(|m| m.source_run_id.clone())
            });
            let run_record = source_run
                .as_deref()
                .map(records::run_record_id)
                .filter(|r| state.read().record("training_run", r).is_some());
            let mut lineage = serde_json::Map::new();
            if let Some(run_record) = run_record {
                lineage.insert("training_run".into(), json!(run_record));
            }
            // The run's datasets that are modeltrail dataset versions (logged under their id).
            let datasets: Vec<String> = {
                let projection = state.read();
                let mut names: Vec<String> = source_run
                    .as_deref()
                    .and_then(|r| projection.mlflow().run(r))
                    .map(|run| run.inputs.iter().map(|i| i.dataset.name.clone()).collect())
                    .unwrap_or_default();
                names.sort();
                names.dedup();
                names
                    .into_iter()
                    .filter(|n| {
                        projection
                            .record("dataset_version", n)
                            .is_some_and(|r| !r.voided)
                    })
                    .collect()
            };
            if !datasets.is_empty() {
                lineage.insert("dataset_versions".into(), json!(datasets));
            }
            if !lineage.is_empty() {
                data["lineage"] = Value::Object(lineage);
            }
            if let Some(d) = request.description.as_deref().filter(|d| !d.is_empty()) {
                data["description"] = json!(d);
            }
            state
                .record_types
                .validate("model_version", &data)
                .map_err(|e| {
                    MlflowError::invalid(format!(
                        "the model_version record would not be valid: {e}"
                    ))
                })?;
            drafts.push(records::create_draft(
                &who.0,
                "model_version",
                &id,
                data,
                "registered through MLflow",
            ));
            record = Some(id);
        }
    }
    let created = m::ModelVersionCreated {
        name: name.clone(),
        version,
        source,
        run_id,
        run_link: request.run_link.filter(|r| !r.is_empty()),
        description: request.description.filter(|d| !d.is_empty()),
        tags: request.tags,
        model_id,
        record,
    };
    drafts.insert(0, who.0.draft(m::MODEL_VERSION_CREATE, json!(created)));
    append(&state, drafts).await?;
    let (model, v) = find_version(&state, &name, &version.to_string())?;
    Ok(Json(json!({"model_version": version_json(&model, &v)})))
}

#[derive(Deserialize)]
pub struct VersionRequest {
    name: Option<String>,
    #[serde(default, deserialize_with = "value_string")]
    version: Option<String>,
    description: Option<String>,
    stage: Option<String>,
    #[serde(default, deserialize_with = "wire::boolean::option")]
    archive_existing_versions: Option<bool>,
    key: Option<String>,
    value: Option<String>,
}

fn version_of(request: &VersionRequest) -> Result<(String, String), MlflowError> {
    Ok((
        required(&request.name, "name")?.to_owned(),
        required(&request.version, "version")?.to_owned(),
    ))
}

pub async fn get_version(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let request: VersionRequest = wire::query(&q, &[])?;
    let (name, version) = version_of(&request)?;
    let (model, v) = find_version(&state, &name, &version)?;
    Ok(Json(json!({"model_version": version_json(&model, &v)})))
}

pub async fn download_uri(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let request: VersionRequest = wire::query(&q, &[])?;
    let (name, version) = version_of(&request)?;
    let (_, v) = find_version(&state, &name, &version)?;
    let uri = artifact_prefix(&state, &v.source, v.model_id.as_deref())
        .map(|p| format!("mlflow-artifacts:/{}", p.trim_end_matches('/')))
        .unwrap_or(v.source);
    Ok(Json(json!({"artifact_uri": uri})))
}

async fn write_version(state: &Shared, who: &Caller, update: m::ModelVersionUpdated) -> Answer {
    let (name, version) = (update.name.clone(), update.version);
    let deleted = update.deleted;
    append(
        state,
        vec![who.0.draft(m::MODEL_VERSION_UPDATE, json!(update))],
    )
    .await?;
    if deleted {
        return Ok(Json(json!({})));
    }
    let (model, v) = find_version(state, &name, &version.to_string())?;
    Ok(Json(json!({"model_version": version_json(&model, &v)})))
}

pub async fn update_version(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: VersionRequest = wire::body(&bytes)?;
    let (name, version) = version_of(&request)?;
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    write_version(
        &state,
        &who,
        m::ModelVersionUpdated {
            name,
            version: v.version,
            description: Some(request.description.unwrap_or_default()),
            ..Default::default()
        },
    )
    .await
}

pub async fn delete_version(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: VersionRequest = either(&bytes, &q)?;
    let (name, version) = version_of(&request)?;
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    write_version(
        &state,
        &who,
        m::ModelVersionUpdated {
            name,
            version: v.version,
            deleted: true,
            ..Default::default()
        },
    )
    .await
}

pub async fn set_version_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: VersionRequest = wire::body(&bytes)?;
    let (name, version) = version_of(&request)?;
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    let _ = write_version(
        &state,
        &who,
        m::ModelVersionUpdated {
            name,
            version: v.version,
            set_tags: vec![KeyValue {
                key,
                value: request.value.unwrap_or_default(),
            }],
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn delete_version_tag(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let request: VersionRequest = either(&bytes, &q)?;
    let (name, version) = version_of(&request)?;
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    if !v.tags.contains_key(&key) {
        return Err(MlflowError::missing(format!(
            "Model version tag with name={key} not found"
        )));
    }
    let _ = write_version(
        &state,
        &who,
        m::ModelVersionUpdated {
            name,
            version: v.version,
            delete_tags: vec![key],
            ..Default::default()
        },
    )
    .await?;
    Ok(Json(json!({})))
}

pub async fn transition_stage(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: VersionRequest = wire::body(&bytes)?;
    let (name, version) = version_of(&request)?;
    let stage_text = required(&request.stage, "stage")?.to_owned();
    let stage = canonical_stage(&stage_text).ok_or_else(|| {
        MlflowError::invalid(format!(
            "Invalid Model Version stage: {stage_text}. Value must be one of None, Staging, \
             Production, Archived."
        ))
    })?;
    let _writes = state.mlflow.writes.lock().await;
    let (_, v) = find_version(&state, &name, &version)?;
    let mut drafts = vec![who.0.draft(
        m::MODEL_VERSION_UPDATE,
        json!(m::ModelVersionUpdated {
            name: name.clone(),
            version: v.version,
            stage: Some(stage.into()),
            archive_existing_versions: request.archive_existing_versions.unwrap_or(false),
            ..Default::default()
        }),
    )];
    if stage == "Production" {
        drafts.push(release(&state, &who, &name, &v).await?);
    }
    append(&state, drafts).await?;
    let (model, v) = find_version(&state, &name, &version)?;
    Ok(Json(json!({"model_version": version_json(&model, &v)})))
}

/// The release gate for a version moving to Production: its `deployment` record when every
/// condition is met, else RESOURCE_CONFLICT naming each unmet one.
async fn release(
    state: &Shared,
    who: &Caller,
    name: &str,
    v: &ModelVersion,
) -> Result<modeltrail_ledger::event::EventDraft, MlflowError> {
    let record = v.record.clone().ok_or_else(|| {
        MlflowError::conflict(format!(
            "Model version {name} version {} cannot move to Production: it has no \
             model_version record in modeltrail, so the release gate cannot pass. Create the \
             `model` record named {name:?} (intended use, context of use, risk) before \
             registering versions.",
            v.version
        ))
    })?;
    let dossier = crate::dossier::gather(state, &record).await?;
    if dossier.model_version.voided {
        return Err(MlflowError::conflict(format!(
            "model_version `{record}` is voided"
        )));
    }
    let checklist = release_checklist(&dossier);
    if !checklist.ready {
        let lines: Vec<String> = checklist
            .unmet()
            .map(|c| format!("{}: {}", c.code, c.missing.join("; ")))
            .collect();
        return Err(MlflowError::conflict(format!(
            "The release gate refuses model version {name} version {} (model_version `{record}`) \
             for Production: {} condition(s) unmet: {}",
            v.version,
            lines.len(),
            lines.join(" | ")
        )));
    }
    let id = crate::routes::computed::fresh_id(state, "deployment", None)?;
    let data = json!({
        "model_version": record,
        "environment": "production",
        "target": format!("MLflow registry: {name} version {}", v.version),
        "action": "deploy",
    });
    state
        .record_types
        .validate("deployment", &data)
        .map_err(|e| {
            MlflowError::invalid(format!("the deployment record would not be valid: {e}"))
        })?;
    Ok(records::create_draft(
        &who.0,
        "deployment",
        &id,
        data,
        "MLflow stage transition to Production",
    ))
}
