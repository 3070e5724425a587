//! Runs: create, update, get, search, delete/restore, and what is logged to them: metrics
//! (every value kept, with step and time), parameters (write-once), tags, batches (one event
//! per call, within MLflow's limits), input datasets and models, output models, and metric
//! histories.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::Json;
use modeltrail_domain::identity::new_id;
use modeltrail_domain::mlflow::{
    self as m, DatasetInput, KeyValue, Lifecycle, Metric, MetricValue, ModelIo, Run,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::append;
use super::auth::Caller;
use super::experiments::{self, in_view};
use super::records::{self, run_record_id};
use super::search::{self, Searchable, Val};
use super::wire::{self, body, key_values, required, Answer, MlflowError};
use crate::error::ApiError;
use crate::state::Shared;

/// MLflow's limits on one log-batch call.
pub const MAX_METRICS: usize = 1000;
pub const MAX_PARAMS: usize = 100;
pub const MAX_TAGS: usize = 100;
pub const MAX_ENTRIES: usize = 1000;
/// Longest parameter value MLflow accepts.
pub const MAX_PARAM_VALUE: usize = 6000;
/// Longest tag value MLflow accepts.
pub const MAX_TAG_VALUE: usize = 8000;

pub fn artifact_uri(run: &Run) -> String {
    format!(
        "mlflow-artifacts:/{}/{}/artifacts",
        run.experiment_id, run.id
    )
}

pub fn info_json(run: &Run) -> Value {
    let mut info = json!({
        "run_id": run.id,
        "run_uuid": run.id,
        "run_name": run.name,
        "experiment_id": run.experiment_id,
        "user_id": run.user_id,
        "status": run.status,
        "start_time": run.start_time,
        "artifact_uri": artifact_uri(run),
        "lifecycle_stage": run.lifecycle.as_str(),
    });
    if let Some(end) = run.end_time {
        info["end_time"] = json!(end);
    }
    info
}

fn metric_json(metric: &Metric) -> Value {
    let mut v = json!({
        "key": metric.key,
        "value": metric.value,
        "timestamp": metric.timestamp,
        "step": metric.step,
    });
    for (name, value) in [
        ("model_id", &metric.model_id),
        ("dataset_name", &metric.dataset_name),
        ("dataset_digest", &metric.dataset_digest),
    ] {
        if let Some(value) = value {
            v[name] = json!(value);
        }
    }
    v
}

pub fn run_json(run: &Run) -> Value {
    let latest: Vec<Value> = run
        .metrics
        .keys()
        .filter_map(|k| run.latest(k))
        .map(|m| json!({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}))
        .collect();
    json!({
        "info": info_json(run),
        "data": {
            "metrics": latest,
            "params": key_values(&run.params),
            "tags": key_values(&run.tags),
        },
        "inputs": {
            "dataset_inputs": run.inputs,
            "model_inputs": run.model_inputs.iter().map(|i| json!({"model_id": i.model_id})).collect::<Vec<_>>(),
        },
        "outputs": {
            "model_outputs": run.model_outputs.iter().map(|o| json!({"model_id": o.model_id, "step": o.step.unwrap_or(0)})).collect::<Vec<_>>(),
        },
    })
}

pub fn find(state: &Shared, run_id: &str) -> Result<Run, MlflowError> {
    state
        .read()
        .mlflow()
        .run(run_id)
        .cloned()
        .ok_or_else(|| MlflowError::missing(format!("Run with id={run_id} not found")))
}

/// The run, which must be active to be written to.
fn active(state: &Shared, run_id: &str) -> Result<Run, MlflowError> {
    let run = find(state, run_id)?;
    if run.lifecycle != Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    Ok(run)
}

fn check_key(kind: &str, key: &str) -> Result<(), MlflowError> {
    let bad = key.is_empty()
        || key.len() > 250
        || key.starts_with('/')
        || key.split('/').any(|part| part == ".." || part == ".");
    match bad {
        true => Err(MlflowError::invalid(format!(
            "Invalid {kind} name: '{key}'"
        ))),
        false => Ok(()),
    }
}

#[derive(Deserialize)]
pub struct CreateRun {
    experiment_id: Option<String>,
    run_name: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

pub async fn create(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: CreateRun = body(&bytes)?;
    let experiment_id = required(&request.experiment_id, "experiment_id")?.to_owned();
    for t in &request.tags {
        check_key("tag", &t.key)?;
    }
    let run_id = new_id().map_err(|e| MlflowError::from(ApiError::internal(e)))?;
    let name_tag = request
        .tags
        .iter()
        .find(|t| t.key == "mlflow.runName")
        .map(|t| t.value.clone());
    let run_name = request
        .run_name
        .filter(|n| !n.is_empty())
        .or(name_tag)
        .unwrap_or_else(|| format!("run-{}", &run_id[..8]));
    let mut tags: Vec<KeyValue> = request
        .tags
        .into_iter()
        .filter(|t| t.key != "mlflow.runName")
        .collect();
    tags.push(KeyValue {
        key: "mlflow.runName".into(),
        value: run_name.clone(),
    });
    let start_time = request
        .start_time
        .unwrap_or_else(|| modeltrail_ledger::Timestamp::now().as_micros() / 1000);
    let _writes = state.mlflow.writes.lock().await;
    let experiment = experiments::find(&state, &experiment_id)?;
    if experiment.lifecycle != Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    let record = run_record_id(&run_id);
    let created = m::RunCreated {
        run_id: run_id.clone(),
        experiment_id,
        run_name,
        user_id: who.0.user.clone(),
        start_time,
        tags,
        record: record.clone(),
    };
    // The record's first version is the run as created.
    let run = Run {
        id: run_id.clone(),
        experiment_id: created.experiment_id.clone(),
        name: created.run_name.clone(),
        user_id: created.user_id.clone(),
        status: "RUNNING".into(),
        start_time,
        end_time: None,
        lifecycle: Lifecycle::Active,
        params: Default::default(),
        tags: created
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect(),
        metrics: Default::default(),
        inputs: vec![],
        model_inputs: vec![],
        model_outputs: vec![],
        record: record.clone(),
        seq: 0,
    };
    let data = records::run_data(&state, state.read().mlflow(), &run);
    state
        .record_types
        .validate("training_run", &data)
        .map_err(|e| {
            MlflowError::invalid(format!("the training_run record would not be valid: {e}"))
        })?;
    let drafts = vec![
        who.0.draft(m::RUN_CREATE, json!(created)),
        records::create_draft(&who.0, "training_run", &record, data, "MLflow run created"),
    ];
    append(&state, drafts).await?;
    let run = find(&state, &run_id)?;
    Ok(Json(json!({"run": run_json(&run)})))
}

#[derive(Deserialize)]
pub struct UpdateRun {
    run_id: Option<String>,
    run_uuid: Option<String>,
    status: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    end_time: Option<i64>,
    run_name: Option<String>,
}

fn run_id_of(run_id: &Option<String>, run_uuid: &Option<String>) -> Result<String, MlflowError> {
    match (run_id.as_deref(), run_uuid.as_deref()) {
        (Some(id), _) if !id.is_empty() => Ok(id.to_owned()),
        (_, Some(id)) if !id.is_empty() => Ok(id.to_owned()),
        _ => Err(MlflowError::invalid(
            "Missing value for required parameter 'run_id'.",
        )),
    }
}

pub async fn update(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: UpdateRun = body(&bytes)?;
    let run_id = run_id_of(&request.run_id, &request.run_uuid)?;
    if let Some(status) = &request.status {
        if !matches!(
            status.as_str(),
            "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED"
        ) {
            return Err(MlflowError::invalid(format!(
                "Invalid run status '{status}'"
            )));
        }
    }
    let _writes = state.mlflow.writes.lock().await;
    let mut run = active(&state, &run_id)?;
    let update = m::RunUpdated {
        run_id: run_id.clone(),
        status: request.status.clone(),
        end_time: request.end_time,
        run_name: request.run_name.clone().filter(|n| !n.is_empty()),
    };
    if let Some(s) = &update.status {
        run.status = s.clone();
    }
    if let Some(e) = update.end_time {
        run.end_time = Some(e);
    }
    if let Some(n) = &update.run_name {
        run.name = n.clone();
        run.tags.insert("mlflow.runName".into(), n.clone());
    }
    let mut drafts = vec![who.0.draft(m::RUN_UPDATE, json!(update))];
    if records::terminal(&run.status) {
        let data = records::run_data(&state, state.read().mlflow(), &run);
        let reason = format!("MLflow run ended ({})", run.status);
        if let Some(d) =
            records::update_draft(&state, &who.0, "training_run", &run.record, data, &reason)
                .await?
        {
            drafts.push(d);
        }
    }
    append(&state, drafts).await?;
    let run = find(&state, &run_id)?;
    Ok(Json(json!({"run_info": info_json(&run)})))
}

#[derive(Deserialize)]
pub struct RunRef {
    run_id: Option<String>,
    run_uuid: Option<String>,
}

pub async fn get(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: RunRef = wire::query(&q, &[])?;
    let run_id = run_id_of(&q.run_id, &q.run_uuid)?;
    Ok(Json(json!({"run": run_json(&find(&state, &run_id)?)})))
}

async fn lifecycle(state: &Shared, who: &Caller, bytes: &Bytes, to: Lifecycle) -> Answer {
    who.writer(state).await?;
    let request: RunRef = body(bytes)?;
    let run_id = run_id_of(&request.run_id, &request.run_uuid)?;
    let _writes = state.mlflow.writes.lock().await;
    let run = find(state, &run_id)?;
    if run.lifecycle == to {
        return Ok(Json(json!({})));
    }
    let draft = who.0.draft(
        m::RUN_LIFECYCLE,
        json!(m::LifecycleChanged { id: run_id, to }),
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

/// A metric as MLflow sends it.
#[derive(Deserialize)]
pub struct MetricIn {
    key: Option<String>,
    value: Option<Value>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    step: Option<i64>,
    model_id: Option<String>,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
}

impl MetricIn {
    fn check(self) -> Result<Metric, MlflowError> {
        let key = required(&self.key, "key")?.to_owned();
        check_key("metric", &key)?;
        let value = match &self.value {
            Some(Value::Number(n)) => n.as_f64().map(MetricValue),
            Some(Value::String(s)) => MetricValue::parse(s),
            None => {
                return Err(MlflowError::invalid(
                    "Missing value for required parameter 'value'.",
                ))
            }
            _ => None,
        }
        .ok_or_else(|| {
            MlflowError::invalid(format!(
                "Got invalid value for metric '{key}': not a number"
            ))
        })?;
        let timestamp = self.timestamp.ok_or_else(|| {
            MlflowError::invalid("Missing value for required parameter 'timestamp'.")
        })?;
        Ok(Metric {
            key,
            value,
            timestamp,
            step: self.step.unwrap_or(0),
            model_id: self.model_id.filter(|s| !s.is_empty()),
            dataset_name: self.dataset_name.filter(|s| !s.is_empty()),
            dataset_digest: self.dataset_digest.filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Deserialize)]
pub struct KeyValueIn {
    key: Option<String>,
    value: Option<Value>,
}

impl KeyValueIn {
    fn check(self, kind: &str, limit: usize) -> Result<KeyValue, MlflowError> {
        let key = required(&self.key, "key")?.to_owned();
        check_key(kind, &key)?;
        let value = match self.value {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
        };
        if value.len() > limit {
            return Err(MlflowError::invalid(format!(
                "{kind} '{key}' had length {}, which exceeded length limit of {limit}",
                value.len()
            )));
        }
        Ok(KeyValue { key, value })
    }
}

/// Checks what a call logs against the run (parameters are write-once) and appends it as one
/// event; a parameter logged again with the same value is not logged twice.
async fn log(state: &Shared, who: &Caller, mut logged: m::RunLogged) -> Answer {
    // Only write-once parameters need the check and the append to be one step; metrics and
    // tags are appended concurrently (group commit).
    let _writes = match logged.params.is_empty() {
        true => None,
        false => Some(state.mlflow.writes.lock().await),
    };
    let run = active(state, &logged.run_id)?;
    let mut seen = std::collections::BTreeMap::new();
    for p in &logged.params {
        if let Some(old) = run.params.get(&p.key).or_else(|| seen.get(&p.key)) {
            if *old != p.value {
                return Err(MlflowError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{}' was already \
                     logged with value='{}' for run ID='{}'. Attempted logging new value '{}'.",
                    p.key, old, run.id, p.value
                )));
            }
        }
        seen.insert(p.key.clone(), p.value.clone());
    }
    logged.params.retain(|p| !run.params.contains_key(&p.key));
    let mut unique = std::collections::BTreeSet::new();
    logged.params.retain(|p| unique.insert(p.key.clone()));
    if logged.params.is_empty() && logged.metrics.is_empty() && logged.tags.is_empty() {
        return Ok(Json(json!({})));
    }
    append(state, vec![who.0.draft(m::RUN_LOG, json!(logged))]).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct LogMetric {
    run_id: Option<String>,
    run_uuid: Option<String>,
    key: Option<String>,
    value: Option<Value>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    step: Option<i64>,
    model_id: Option<String>,
    dataset_name: Option<String>,
    dataset_digest: Option<String>,
}

pub async fn log_metric(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogMetric = body(&bytes)?;
    let run_id = run_id_of(&request.run_id, &request.run_uuid)?;
    let metric = MetricIn {
        key: request.key,
        value: request.value,
        timestamp: request.timestamp,
        step: request.step,
        model_id: request.model_id,
        dataset_name: request.dataset_name,
        dataset_digest: request.dataset_digest,
    }
    .check()?;
    let logged = m::RunLogged {
        run_id,
        metrics: vec![metric],
        ..Default::default()
    };
    log(&state, &who, logged).await
}

#[derive(Deserialize)]
pub struct LogKeyValue {
    run_id: Option<String>,
    run_uuid: Option<String>,
    key: Option<String>,
    value: Option<String>,
}

impl LogKeyValue {
    fn item(self) -> KeyValueIn {
        KeyValueIn {
            key: self.key,
            value: self.value.map(Value::String),
        }
    }
}

pub async fn log_param(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogKeyValue = body(&bytes)?;
    let run_id = run_id_of(&request.run_id, &request.run_uuid)?;
    let param = request.item().check("param", MAX_PARAM_VALUE)?;
    let logged = m::RunLogged {
        run_id,
        params: vec![param],
        ..Default::default()
    };
    log(&state, &who, logged).await
}

pub async fn set_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogKeyValue = body(&bytes)?;
    let run_id = run_id_of(&request.run_id, &request.run_uuid)?;
    let tag = request.item().check("tag", MAX_TAG_VALUE)?;
    let logged = m::RunLogged {
        run_id,
        tags: vec![tag],
        ..Default::default()
    };
    log(&state, &who, logged).await
}

#[derive(Deserialize)]
pub struct DeleteTag {
    run_id: Option<String>,
    key: Option<String>,
}

pub async fn delete_tag(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: DeleteTag = body(&bytes)?;
    let run_id = required(&request.run_id, "run_id")?.to_owned();
    let key = required(&request.key, "key")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    let run = active(&state, &run_id)?;
    if !run.tags.contains_key(&key) {
        return Err(MlflowError::missing(format!(
            "No tag with name: {key} in run with id {run_id}"
        )));
    }
    let change = m::TagsChanged {
        id: run_id,
        set: vec![],
        delete: vec![key],
    };
    append(&state, vec![who.0.draft(m::RUN_DELETE_TAG, json!(change))]).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct LogBatch {
    run_id: Option<String>,
    #[serde(default)]
    metrics: Vec<Value>,
    #[serde(default)]
    params: Vec<KeyValueIn>,
    #[serde(default)]
    tags: Vec<KeyValueIn>,
}

pub async fn log_batch(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogBatch = body(&bytes)?;
    let run_id = required(&request.run_id, "run_id")?.to_owned();
    let (nm, np, nt) = (
        request.metrics.len(),
        request.params.len(),
        request.tags.len(),
    );
    if nm > MAX_METRICS || np > MAX_PARAMS || nt > MAX_TAGS || nm + np + nt > MAX_ENTRIES {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS} metrics, {MAX_PARAMS} \
             params and {MAX_TAGS} tags, and at most {MAX_ENTRIES} entries in total; got \
             {nm} metrics, {np} params and {nt} tags"
        )));
    }
    let logged = m::RunLogged {
        run_id,
        metrics: request
            .metrics
            .iter()
            .map(|m| {
                serde_json::from_value::<MetricIn>(m.clone())
                    .ok()
                    .and_then(|m| m.check().ok())
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                wire::invalid_value("metrics", &Value::Array(request.metrics.clone()))
            })?,
        params: request
            .params
            .into_iter()
            .map(|p| p.check("param", MAX_PARAM_VALUE))
            .collect::<Result<_, _>>()?,
        tags: request
            .tags
            .into_iter()
            .map(|t| t.check("tag", MAX_TAG_VALUE))
            .collect::<Result<_, _>>()?,
    };
    log(&state, &who, logged).await
}

#[derive(Deserialize)]
pub struct LogInputs {
    run_id: Option<String>,
    #[serde(default)]
    datasets: Vec<DatasetInput>,
    #[serde(default)]
    models: Vec<ModelIo>,
}

pub async fn log_inputs(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogInputs = body(&bytes)?;
    let run_id = required(&request.run_id, "run_id")?.to_owned();
    for d in &request.datasets {
        if d.dataset.name.is_empty() || d.dataset.digest.is_empty() {
            return Err(MlflowError::invalid("A dataset needs a name and a digest"));
        }
    }
    let _writes = state.mlflow.writes.lock().await;
    active(&state, &run_id)?;
    for model in &request.models {
        if state
            .read()
            .mlflow()
            .logged_model(&model.model_id)
            .is_none()
        {
            return Err(MlflowError::missing(format!(
                "Logged model with ID '{}' not found.",
                model.model_id
            )));
        }
    }
    let inputs = m::RunInputs {
        run_id,
        datasets: request.datasets,
        models: request.models,
    };
    append(&state, vec![who.0.draft(m::RUN_INPUTS, json!(inputs))]).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct LogOutputs {
    run_id: Option<String>,
    #[serde(default)]
    models: Vec<ModelIo>,
}

pub async fn log_outputs(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.writer(&state).await?;
    let request: LogOutputs = body(&bytes)?;
    let run_id = required(&request.run_id, "run_id")?.to_owned();
    let _writes = state.mlflow.writes.lock().await;
    active(&state, &run_id)?;
    for model in &request.models {
        if state
            .read()
            .mlflow()
            .logged_model(&model.model_id)
            .is_none()
        {
            return Err(MlflowError::missing(format!(
                "Logged model with ID '{}' not found.",
                model.model_id
            )));
        }
    }
    let outputs = m::RunOutputs {
        run_id,
        models: request.models,
    };
    append(&state, vec![who.0.draft(m::RUN_OUTPUTS, json!(outputs))]).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct History {
    run_id: Option<String>,
    run_uuid: Option<String>,
    metric_key: Option<String>,
    page_token: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    max_results: Option<i64>,
}

pub async fn metric_history(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: History = wire::query(&q, &[])?;
    let run_id = run_id_of(&q.run_id, &q.run_uuid)?;
    let key = required(&q.metric_key, "metric_key")?;
    let run = find(&state, &run_id)?;
    let values: Vec<Value> = run
        .metrics
        .get(key)
        .map(|h| h.iter().map(metric_json).collect())
        .unwrap_or_default();
    let max = q.max_results.filter(|m| *m > 0).unwrap_or(25_000) as usize;
    let (page, next) = search::page(values, max, q.page_token.as_deref())?;
    let mut answer = json!({"metrics": page});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}

impl Searchable for Run {
    fn metric(&self, key: &str) -> Option<f64> {
        self.latest(key).map(|m| m.value.0)
    }
    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
    fn attribute(&self, key: &str) -> Option<Val> {
        match key {
            "run_id" | "run_uuid" => Some(Val::Str(self.id.clone())),
            "run_name" | "name" => Some(Val::Str(self.name.clone())),
            "status" => Some(Val::Str(self.status.clone())),
            "user_id" => Some(Val::Str(self.user_id.clone())),
            "experiment_id" => Some(Val::Str(self.experiment_id.clone())),
            "artifact_uri" => Some(Val::Str(artifact_uri(self))),
            "lifecycle_stage" => Some(Val::Str(self.lifecycle.as_str().into())),
            "start_time" | "created" | "Created" => Some(Val::Num(self.start_time as f64)),
            "end_time" => self.end_time.map(|e| Val::Num(e as f64)),
            _ => None,
        }
    }
    fn dataset(&self, key: &str) -> Vec<String> {
        self.inputs
            .iter()
            .filter_map(|i| match key {
                "name" => Some(i.dataset.name.clone()),
                "digest" => Some(i.dataset.digest.clone()),
                "context" => i
                    .tags
                    .iter()
                    .find(|t| t.key == "mlflow.data.context")
                    .map(|t| t.value.clone()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Deserialize)]
pub struct SearchRuns {
    #[serde(default)]
    experiment_ids: Vec<String>,
    filter: Option<String>,
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "wire::int64::option")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<String>,
    page_token: Option<String>,
}

pub async fn search(State(state): State<Shared>, who: Caller, bytes: Bytes) -> Answer {
    who.reader(&state).await?;
    let q: SearchRuns = body(&bytes)?;
    let max = q.max_results.unwrap_or(1000);
    if !(1..=50_000).contains(&max) {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be between 1 and 50000"
        )));
    }
    let clauses = search::parse(q.filter.as_deref().unwrap_or(""))?;
    let mut terms = search::order_by(&q.order_by)?;
    terms.extend(search::order_by(&[
        "start_time DESC".into(),
        "run_id ASC".into(),
    ])?);
    let mut found: Vec<Run> = Vec::new();
    {
        let projection = state.read();
        for run in projection.mlflow().runs() {
            if q.experiment_ids.contains(&run.experiment_id)
                && in_view(q.run_view_type.as_deref(), run.lifecycle)?
                && search::matches(run, &clauses)
            {
                found.push(run.clone());
            }
        }
    }
    found.sort_by(|a, b| search::compare_by(a, b, &terms).then(a.seq.cmp(&b.seq)));
    let (page, next) = search::page(found, max as usize, q.page_token.as_deref())?;
    let mut answer = json!({"runs": page.iter().map(run_json).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["next_page_token"] = json!(next);
    }
    Ok(Json(answer))
}
