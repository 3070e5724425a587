//! The MLflow tracking and registry state, folded from the log's `mlflow.*` events: experiments,
//! runs (parameters, metric histories, tags, inputs, outputs), MLflow 3 logged models, the
//! artifact files uploaded through the artifact proxy, registered models, their versions and
//! aliases. Nothing is ever removed: deleting an experiment, run or registered model is a
//! lifecycle change (`deleted`), and a deleted registry entry is kept with `deleted` set so its
//! history stays readable.
//!
//! The writer (the server's MLflow routes) checks every request against this state before it
//! appends; the fold refuses an event that names something missing, so a log the server never
//! wrote is noticed.

use modeltrail_ledger::event::Event;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const EXPERIMENT_CREATE: &str = "mlflow.experiment.create";
pub const EXPERIMENT_UPDATE: &str = "mlflow.experiment.update";
pub const EXPERIMENT_LIFECYCLE: &str = "mlflow.experiment.lifecycle";
pub const EXPERIMENT_TAGS: &str = "mlflow.experiment.tags";
pub const RUN_CREATE: &str = "mlflow.run.create";
pub const RUN_UPDATE: &str = "mlflow.run.update";
pub const RUN_LIFECYCLE: &str = "mlflow.run.lifecycle";
pub const RUN_LOG: &str = "mlflow.run.log";
pub const RUN_DELETE_TAG: &str = "mlflow.run.delete_tag";
pub const RUN_INPUTS: &str = "mlflow.run.inputs";
pub const RUN_OUTPUTS: &str = "mlflow.run.outputs";
pub const LOGGED_MODEL_CREATE: &str = "mlflow.logged_model.create";
pub const LOGGED_MODEL_UPDATE: &str = "mlflow.logged_model.update";
pub const ARTIFACT_PUT: &str = "mlflow.artifact.put";
pub const REGISTERED_MODEL_CREATE: &str = "mlflow.registered_model.create";
pub const REGISTERED_MODEL_UPDATE: &str = "mlflow.registered_model.update";
pub const MODEL_VERSION_CREATE: &str = "mlflow.model_version.create";
pub const MODEL_VERSION_UPDATE: &str = "mlflow.model_version.update";

/// The experiment every MLflow server has: id `0`, named `Default`. It exists without an event.
pub const DEFAULT_EXPERIMENT_ID: &str = "0";

/// A key and a value, as MLflow's params and tags are. Protobuf's JSON leaves out empty
/// strings, so a missing value is the empty one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// A metric value: a finite number, or `NaN`, `Infinity`, `-Infinity` as strings (canonical
/// JSON has no such numbers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricValue(pub f64);

impl Serialize for MetricValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(v)
        }
    }
}

impl<'de> Deserialize<'de> for MetricValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(MetricValue)
                .ok_or_else(|| serde::de::Error::custom("a metric value out of range")),
            serde_json::Value::String(s) => MetricValue::parse(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not a metric value: {s:?}"))),
            _ => Err(serde::de::Error::custom("a metric value is a number")),
        }
    }
}

impl MetricValue {
    /// A number as MLflow's JSON writes it: digits, or `NaN`, `Infinity`, `-Infinity`.
    pub fn parse(text: &str) -> Option<MetricValue> {
        match text {
            "NaN" | "nan" => Some(MetricValue(f64::NAN)),
            "Infinity" | "inf" => Some(MetricValue(f64::INFINITY)),
            "-Infinity" | "-inf" => Some(MetricValue(f64::NEG_INFINITY)),
            _ => text.trim().parse::<f64>().ok().map(MetricValue),
        }
    }
}

/// One logged metric value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub key: String,
    pub value: MetricValue,
    /// Milliseconds since the epoch, as the client measured it.
    pub timestamp: i64,
    pub step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
}

/// A dataset a run used, as MLflow describes it (fields MLflow leaves empty are empty).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub source_type: String,
    #[serde(default)]
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetInput {
    pub dataset: Dataset,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// A logged model named as a run's input or output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelIo {
    pub model_id: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "int64_text"
    )]
    pub step: Option<i64>,
}

/// An int64 as protobuf's JSON may write it: a number or its digits in a string.
fn int64_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("not an integer")),
        Some(serde_json::Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("not an integer: {s:?}"))),
        Some(_) => Err(serde::de::Error::custom("not an integer")),
    }
}

/// `active` or `deleted`: deleting is a change of lifecycle, never a removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    Active,
    Deleted,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deleted => "deleted",
        }
    }
}

// ---- event payloads -------------------------------------------------------------------------

/// `mlflow.experiment.create`: the experiment's id is the event's sequence number.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentCreated {
    pub name: String,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentRenamed {
    pub experiment_id: String,
    pub new_name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleChanged {
    /// The experiment id, run id or registered model name.
    pub id: String,
    pub to: Lifecycle,
}

/// Tags set (`set`) and removed (`delete`) in one step.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsChanged {
    pub id: String,
    #[serde(default)]
    pub set: Vec<KeyValue>,
    #[serde(default)]
    pub delete: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunCreated {
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: String,
    pub user_id: String,
    pub start_time: i64,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    /// The training_run record that mirrors the run.
    pub record: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunUpdated {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_name: Option<String>,
}

/// `mlflow.run.log`: what one log-metric, log-parameter, set-tag or log-batch call logged.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunLogged {
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInputs {
    pub run_id: String,
    #[serde(default)]
    pub datasets: Vec<DatasetInput>,
    #[serde(default)]
    pub models: Vec<ModelIo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOutputs {
    pub run_id: String,
    #[serde(default)]
    pub models: Vec<ModelIo>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelCreated {
    pub model_id: String,
    pub experiment_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_run_id: Option<String>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// `mlflow.logged_model.update`: a finalization, tags, params or deletion of a logged model.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelUpdated {
    pub model_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

/// `mlflow.artifact.put`: a file stored in the blob directory under its SHA-256.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactPut {
    /// Path under the artifact root, such as `1/<run id>/artifacts/model.pkl`.
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredModelCreated {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// `mlflow.registered_model.update`: a rename, description, tags, aliases or deletion.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredModelUpdated {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_tags: Vec<String>,
    /// Alias -> version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_alias: Option<(String, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_alias: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionCreated {
    pub name: String,
    pub version: u64,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    /// The model_version record created with it, when the registered model has a model record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// `mlflow.model_version.update`: description, stage, tags or deletion of a version.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionUpdated {
    pub name: String,
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Moves the other versions in the same stage to `Archived`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub archive_existing_versions: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_tags: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_tags: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

// ---- the state ------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    pub lifecycle: Lifecycle,
    /// Milliseconds since the epoch.
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: BTreeMap<String, String>,
    pub created_by: String,
}

#[derive(Clone, Debug)]
pub struct Run {
    pub id: String,
    pub experiment_id: String,
    pub name: String,
    pub user_id: String,
    pub status: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle: Lifecycle,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Every value of every metric, in the order logged.
    pub metrics: BTreeMap<String, Vec<Metric>>,
    pub inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<ModelIo>,
    pub model_outputs: Vec<ModelIo>,
    /// The training_run record mirroring the run.
    pub record: String,
    /// Sequence number of the creating event: search order ties.
    pub seq: u64,
}

impl Run {
    /// A metric's latest value as MLflow defines it: the greatest (step, timestamp, value).
    pub fn latest(&self, key: &str) -> Option<&Metric> {
        self.metrics.get(key)?.iter().max_by(|a, b| {
            (a.step, a.timestamp)
                .cmp(&(b.step, b.timestamp))
                .then(a.value.0.total_cmp(&b.value.0))
        })
    }
}

#[derive(Clone, Debug)]
pub struct LoggedModel {
    pub id: String,
    pub experiment_id: String,
    pub name: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub status: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Metrics the run logged for this model.
    pub metrics: Vec<Metric>,
    pub deleted: bool,
}

#[derive(Clone, Debug)]
pub struct ArtifactFile {
    pub sha256: String,
    pub size: u64,
}

#[derive(Clone, Debug)]
pub struct ModelVersion {
    pub name: String,
    pub version: u64,
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub stage: String,
    pub tags: BTreeMap<String, String>,
    pub model_id: Option<String>,
    pub record: Option<String>,
    pub user_id: String,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub deleted: bool,
}

#[derive(Clone, Debug)]
pub struct RegisteredModel {
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub aliases: BTreeMap<String, u64>,
    pub versions: BTreeMap<u64, ModelVersion>,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub user_id: String,
    /// Versions ever created: numbers are never reused, even after a deletion.
    pub version_count: u64,
    pub deleted: bool,
}

/// The MLflow view of the log.
#[derive(Debug)]
pub struct MlflowState {
    experiments: BTreeMap<u64, Experiment>,
    experiment_names: HashMap<String, String>,
    runs: HashMap<String, Run>,
    logged_models: BTreeMap<String, LoggedModel>,
    artifacts: BTreeMap<String, ArtifactFile>,
    registered: BTreeMap<String, RegisteredModel>,
}

impl Default for MlflowState {
    fn default() -> MlflowState {
        MlflowState {
            experiments: BTreeMap::from([(0, MlflowState::default_experiment())]),
            experiment_names: HashMap::from([(
                "Default".to_owned(),
                DEFAULT_EXPERIMENT_ID.to_owned(),
            )]),
            runs: HashMap::new(),
            logged_models: BTreeMap::new(),
            artifacts: BTreeMap::new(),
            registered: BTreeMap::new(),
        }
    }
}

fn millis(event: &Event) -> i64 {
    event.timestamp.as_micros() / 1000
}

fn apply_tags(map: &mut BTreeMap<String, String>, set: &[KeyValue], delete: &[String]) {
    for t in set {
        map.insert(t.key.clone(), t.value.clone());
    }
    for k in delete {
        map.remove(k);
    }
}

fn payload<T: serde::de::DeserializeOwned>(event: &Event) -> Result<T, String> {
    T::deserialize(&event.payload).map_err(|e| format!("payload: {e}"))
}

impl MlflowState {
    fn default_experiment() -> Experiment {
        Experiment {
            id: DEFAULT_EXPERIMENT_ID.into(),
            name: "Default".into(),
            lifecycle: Lifecycle::Active,
            creation_time: 0,
            last_update_time: 0,
            tags: BTreeMap::new(),
            created_by: String::new(),
        }
    }

    pub fn experiment(&self, id: &str) -> Option<&Experiment> {
        if id.is_empty() || (id.len() > 1 && id.starts_with('0')) {
            return None;
        }
        self.experiments.get(&id.parse::<u64>().ok()?)
    }

    pub fn experiment_by_name(&self, name: &str) -> Option<&Experiment> {
        self.experiment(self.experiment_names.get(name)?)
    }

    /// Experiments in id order.
    pub fn experiments(&self) -> impl Iterator<Item = &Experiment> {
        self.experiments.values()
    }

    pub fn run(&self, id: &str) -> Option<&Run> {
        self.runs.get(id)
    }

    pub fn runs(&self) -> impl Iterator<Item = &Run> {
        self.runs.values()
    }

    pub fn logged_model(&self, id: &str) -> Option<&LoggedModel> {
        self.logged_models.get(id)
    }

    pub fn logged_models(&self) -> impl Iterator<Item = &LoggedModel> {
        self.logged_models.values()
    }

    pub fn artifact(&self, path: &str) -> Option<&ArtifactFile> {
        self.artifacts.get(path)
    }

    /// Files whose path starts with `prefix` (which should end with `/`, or be empty), in
    /// path order.
    pub fn artifacts_under<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a ArtifactFile)> + 'a {
        self.artifacts
            .range(prefix.to_owned()..)
            .take_while(move |(p, _)| p.starts_with(prefix))
    }

    pub fn registered_model(&self, name: &str) -> Option<&RegisteredModel> {
        self.registered.get(name).filter(|m| !m.deleted)
    }

    pub fn registered_models(&self) -> impl Iterator<Item = &RegisteredModel> {
        self.registered.values().filter(|m| !m.deleted)
    }

    /// Folds one `mlflow.*` event in.
    pub fn apply(&mut self, event: &Event) -> Result<(), String> {
        let at = millis(event);
        let who = event.actor.id.clone();
        match event.action.as_str() {
            EXPERIMENT_CREATE => {
                let p: ExperimentCreated = payload(event)?;
                if self.experiment_names.contains_key(&p.name) {
                    return Err(format!("experiment {:?} exists", p.name));
                }
                let id = event.seq.to_string();
                self.experiment_names.insert(p.name.clone(), id.clone());
                let mut tags = BTreeMap::new();
                apply_tags(&mut tags, &p.tags, &[]);
                self.experiments.insert(
                    event.seq,
                    Experiment {
                        id,
                        name: p.name,
                        lifecycle: Lifecycle::Active,
                        creation_time: at,
                        last_update_time: at,
                        tags,
                        created_by: who,
                    },
                );
            }
            EXPERIMENT_UPDATE => {
                let p: ExperimentRenamed = payload(event)?;
                let old = self.experiment_mut(&p.experiment_id)?;
                let old_name = std::mem::replace(&mut old.name, p.new_name.clone());
                old.last_update_time = at;
                self.experiment_names.remove(&old_name);
                self.experiment_names.insert(p.new_name, p.experiment_id);
            }
            EXPERIMENT_LIFECYCLE => {
                let p: LifecycleChanged = payload(event)?;
                let e = self.experiment_mut(&p.id)?;
                e.lifecycle = p.to;
                e.last_update_time = at;
            }
            EXPERIMENT_TAGS => {
                let p: TagsChanged = payload(event)?;
                let e = self.experiment_mut(&p.id)?;
                apply_tags(&mut e.tags, &p.set, &p.delete);
                e.last_update_time = at;
            }
            RUN_CREATE => {
                let p: RunCreated = payload(event)?;
                if self.experiment(&p.experiment_id).is_none() {
                    return Err(format!("no experiment {}", p.experiment_id));
                }
                if self.runs.contains_key(&p.run_id) {
                    return Err(format!("run {} exists", p.run_id));
                }
                let mut tags = BTreeMap::new();
                apply_tags(&mut tags, &p.tags, &[]);
                self.runs.insert(
                    p.run_id.clone(),
                    Run {
                        id: p.run_id,
                        experiment_id: p.experiment_id,
                        name: p.run_name,
                        user_id: p.user_id,
                        status: "RUNNING".into(),
                        start_time: p.start_time,
                        end_time: None,
                        lifecycle: Lifecycle::Active,
                        params: BTreeMap::new(),
                        tags,
                        metrics: BTreeMap::new(),
                        inputs: Vec::new(),
                        model_inputs: Vec::new(),
                        model_outputs: Vec::new(),
                        record: p.record,
                        seq: event.seq,
                    },
                );
            }
            RUN_UPDATE => {
                let p: RunUpdated = payload(event)?;
                let run = self.run_mut(&p.run_id)?;
                if let Some(status) = p.status {
                    run.status = status;
                }
                if let Some(end) = p.end_time {
                    run.end_time = Some(end);
                }
                if let Some(name) = p.run_name {
                    run.tags.insert("mlflow.runName".into(), name.clone());
                    run.name = name;
                }
            }
            RUN_LIFECYCLE => {
                let p: LifecycleChanged = payload(event)?;
                self.run_mut(&p.id)?.lifecycle = p.to;
            }
            RUN_LOG => {
                let p: RunLogged = payload(event)?;
                let run = self.run_mut(&p.run_id)?;
                for param in p.params {
                    match run.params.get(&param.key) {
                        Some(v) if *v != param.value => {
                            return Err(format!("param {} is already logged", param.key))
                        }
                        _ => {
                            run.params.insert(param.key, param.value);
                        }
                    }
                }
                for tag in p.tags {
                    if tag.key == "mlflow.runName" {
                        run.name = tag.value.clone();
                    }
                    run.tags.insert(tag.key, tag.value);
                }
                let mut for_models = Vec::new();
                for metric in p.metrics {
                    if metric.model_id.is_some() {
                        for_models.push(metric.clone());
                    }
                    // The same value at the same step and time is one measurement, as in
                    // MLflow's stores (log_model logs the run's metrics again for its model).
                    let history = run.metrics.entry(metric.key.clone()).or_default();
                    let known = history.iter().any(|m| {
                        m.step == metric.step
                            && m.timestamp == metric.timestamp
                            && m.value.0.to_bits() == metric.value.0.to_bits()
                    });
                    if !known {
                        history.push(metric);
                    }
                }
                for metric in for_models {
                    let model = metric
                        .model_id
                        .as_deref()
                        .and_then(|id| self.logged_models.get_mut(id));
                    if let Some(model) = model {
                        model.metrics.push(metric);
                    }
                }
            }
            RUN_DELETE_TAG => {
                let p: TagsChanged = payload(event)?;
                let run = self.run_mut(&p.id)?;
                apply_tags(&mut run.tags, &p.set, &p.delete);
            }
            RUN_INPUTS => {
                let p: RunInputs = payload(event)?;
                let run = self.run_mut(&p.run_id)?;
                for input in p.datasets {
                    let known = run.inputs.iter().any(|i| {
                        i.dataset.name == input.dataset.name
                            && i.dataset.digest == input.dataset.digest
                    });
                    if !known {
                        run.inputs.push(input);
                    }
                }
                run.model_inputs.extend(p.models);
            }
            RUN_OUTPUTS => {
                let p: RunOutputs = payload(event)?;
                self.run_mut(&p.run_id)?.model_outputs.extend(p.models);
            }
            LOGGED_MODEL_CREATE => {
                let p: LoggedModelCreated = payload(event)?;
                if self.logged_models.contains_key(&p.model_id) {
                    return Err(format!("logged model {} exists", p.model_id));
                }
                let mut params = BTreeMap::new();
                apply_tags(&mut params, &p.params, &[]);
                let mut tags = BTreeMap::new();
                apply_tags(&mut tags, &p.tags, &[]);
                self.logged_models.insert(
                    p.model_id.clone(),
                    LoggedModel {
                        id: p.model_id,
                        experiment_id: p.experiment_id,
                        name: p.name,
                        model_type: p.model_type,
                        source_run_id: p.source_run_id,
                        status: "LOGGED_MODEL_PENDING".into(),
                        creation_time: at,
                        last_update_time: at,
                        params,
                        tags,
                        metrics: Vec::new(),
                        deleted: false,
                    },
                );
            }
            LOGGED_MODEL_UPDATE => {
                let p: LoggedModelUpdated = payload(event)?;
                let m = self
                    .logged_models
                    .get_mut(&p.model_id)
                    .ok_or_else(|| format!("no logged model {}", p.model_id))?;
                if let Some(status) = p.status {
                    m.status = status;
                }
                apply_tags(&mut m.tags, &p.set_tags, &p.delete_tags);
                apply_tags(&mut m.params, &p.params, &[]);
                m.deleted |= p.deleted;
                m.last_update_time = at;
            }
            ARTIFACT_PUT => {
                let p: ArtifactPut = payload(event)?;
                self.artifacts.insert(
                    p.path,
                    ArtifactFile {
                        sha256: p.sha256,
                        size: p.size,
                    },
                );
            }
            REGISTERED_MODEL_CREATE => {
                let p: RegisteredModelCreated = payload(event)?;
                if self.registered_model(&p.name).is_some() {
                    return Err(format!("registered model {:?} exists", p.name));
                }
                let mut tags = BTreeMap::new();
                apply_tags(&mut tags, &p.tags, &[]);
                // A name used before by a deleted model starts afresh; the old one stays in
                // the log.
                self.registered.insert(
                    p.name.clone(),
                    RegisteredModel {
                        name: p.name,
                        description: p.description,
                        tags,
                        aliases: BTreeMap::new(),
                        versions: BTreeMap::new(),
                        creation_time: at,
                        last_update_time: at,
                        user_id: who,
                        version_count: 0,
                        deleted: false,
                    },
                );
            }
            REGISTERED_MODEL_UPDATE => {
                let p: RegisteredModelUpdated = payload(event)?;
                let mut model = self
                    .registered
                    .remove(&p.name)
                    .filter(|m| !m.deleted)
                    .ok_or_else(|| format!("no registered model {:?}", p.name))?;
                model.last_update_time = at;
                if let Some(d) = p.description {
                    model.description = Some(d);
                }
                apply_tags(&mut model.tags, &p.set_tags, &p.delete_tags);
                if let Some((alias, version)) = p.set_alias {
                    model.aliases.insert(alias, version);
                }
                if let Some(alias) = p.delete_alias {
                    model.aliases.remove(&alias);
                }
                if p.deleted {
                    model.deleted = true;
                    for v in model.versions.values_mut() {
                        v.deleted = true;
                    }
                    model.aliases.clear();
                }
                let name = match p.new_name {
                    Some(new) => {
                        if self.registered_model(&new).is_some() {
                            return Err(format!("registered model {new:?} exists"));
                        }
                        for v in model.versions.values_mut() {
                            v.name = new.clone();
                        }
                        model.name = new.clone();
                        new
                    }
                    None => p.name,
                };
                if model.deleted {
                    // Kept under a name no live model can take, so its history stays readable.
                    self.registered.insert(
                        format!("\u{0}deleted\u{0}{}\u{0}{}", name, event.seq),
                        model,
                    );
                } else {
                    self.registered.insert(name, model);
                }
            }
            MODEL_VERSION_CREATE => {
                let p: ModelVersionCreated = payload(event)?;
                let model = self
                    .registered
                    .get_mut(&p.name)
                    .filter(|m| !m.deleted)
                    .ok_or_else(|| format!("no registered model {:?}", p.name))?;
                if p.version != model.version_count + 1 {
                    return Err(format!(
                        "version {} does not follow {}",
                        p.version, model.version_count
                    ));
                }
                model.version_count = p.version;
                model.last_update_time = at;
                let mut tags = BTreeMap::new();
                apply_tags(&mut tags, &p.tags, &[]);
                model.versions.insert(
                    p.version,
                    ModelVersion {
                        name: p.name,
                        version: p.version,
                        source: p.source,
                        run_id: p.run_id,
                        run_link: p.run_link,
                        description: p.description,
                        stage: "None".into(),
                        tags,
                        model_id: p.model_id,
                        record: p.record,
                        user_id: who,
                        creation_time: at,
                        last_update_time: at,
                        deleted: false,
                    },
                );
            }
            MODEL_VERSION_UPDATE => {
                let p: ModelVersionUpdated = payload(event)?;
                let model = self
                    .registered
                    .get_mut(&p.name)
                    .filter(|m| !m.deleted)
                    .ok_or_else(|| format!("no registered model {:?}", p.name))?;
                let v = model
                    .versions
                    .get_mut(&p.version)
                    .filter(|v| !v.deleted)
                    .ok_or_else(|| format!("no version {} of {:?}", p.version, p.name))?;
                v.last_update_time = at;
                if let Some(d) = p.description {
                    v.description = Some(d);
                }
                apply_tags(&mut v.tags, &p.set_tags, &p.delete_tags);
                v.deleted |= p.deleted;
                let stage = p.stage.clone();
                if let Some(stage) = &stage {
                    v.stage = stage.clone();
                }
                if p.deleted {
                    model.aliases.retain(|_, version| *version != p.version);
                }
                if let (Some(stage), true) = (stage, p.archive_existing_versions) {
                    for other in model.versions.values_mut() {
                        if other.version != p.version && other.stage == stage && !other.deleted {
                            other.stage = "Archived".into();
                            other.last_update_time = at;
                        }
                    }
                }
                model.last_update_time = at;
            }
            other => return Err(format!("unknown MLflow action {other}")),
        }
        Ok(())
    }

    fn experiment_mut(&mut self, id: &str) -> Result<&mut Experiment, String> {
        let key = self
            .experiment(id)
            .map(|e| e.id.clone())
            .and_then(|id| id.parse::<u64>().ok())
            .ok_or_else(|| format!("no experiment {id}"))?;
        self.experiments
            .get_mut(&key)
            .ok_or_else(|| format!("no experiment {id}"))
    }

    fn run_mut(&mut self, id: &str) -> Result<&mut Run, String> {
        self.runs.get_mut(id).ok_or_else(|| format!("no run {id}"))
    }
}

impl RegisteredModel {
    /// Live versions, in version order.
    pub fn live_versions(&self) -> impl Iterator<Item = &ModelVersion> {
        self.versions.values().filter(|v| !v.deleted)
    }
}
