//! The evidence about one model version, as the release gate and the lifecycle read it: the
//! current version of every record that bears on it (its model, datasets, protocols, results,
//! assessments, plans, exceptions, deployments) with their signatures. The server gathers it
//! from the log; the rules that read it are pure.

use serde_json::Value;

use crate::signature::{Manifestation, Meaning};

/// One record as the rules see it: its latest version's content and every signature on it.
#[derive(Clone, Debug)]
pub struct Doc {
    pub kind: String,
    pub id: String,
    /// The latest version's number.
    pub version: u64,
    /// The seq of the event that wrote the latest version.
    pub seq: u64,
    /// The seq of the event that created the record (version 1).
    pub created_seq: u64,
    pub voided: bool,
    /// The workflow state, for kinds that have a workflow.
    pub state: Option<String>,
    pub data: Value,
    pub signatures: Vec<Manifestation>,
}

impl Doc {
    /// The signatures of `meaning` on the latest version (those on earlier versions no longer
    /// count: the record changed after they were given).
    pub fn current_signatures(&self, meaning: Meaning) -> impl Iterator<Item = &Manifestation> {
        self.signatures
            .iter()
            .filter(move |s| s.version == self.version && s.meaning == meaning)
    }

    /// The first `approved` signature on the latest version.
    pub fn approval(&self) -> Option<&Manifestation> {
        self.current_signatures(Meaning::Approved).next()
    }

    /// The first `approved` signature on the latest version by someone holding `role` when
    /// they signed.
    pub fn approval_by(&self, role: &str) -> Option<&Manifestation> {
        self.current_signatures(Meaning::Approved)
            .find(|s| s.role == role)
    }

    /// The earliest seq at which the record was approved, at any version: evidence that it was
    /// approved before something else happened.
    pub fn first_approval_seq(&self) -> Option<u64> {
        self.signatures
            .iter()
            .filter(|s| s.meaning == Meaning::Approved)
            .map(|s| s.seq)
            .min()
    }

    /// A top-level string field.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }

    /// A field that is an array of strings (empty when absent).
    pub fn texts(&self, pointer: &str) -> Vec<&str> {
        self.data
            .pointer(pointer)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Whether the record names `id` in the string field `field` or the string array at
    /// `pointer`.
    pub fn names(&self, pointer: &str, id: &str) -> bool {
        match self.data.pointer(pointer) {
            Some(Value::String(s)) => s == id,
            Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(id)),
            _ => false,
        }
    }

    /// `kind id`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind, self.id)
    }
}

/// Everything the rules need about one model version. Records of other model versions may be
/// present; the rules pick what names this one.
#[derive(Clone, Debug)]
pub struct Dossier {
    pub model_version: Doc,
    /// The model the version belongs to, if that record exists.
    pub model: Option<Doc>,
    /// Records that name the model version or its model, and the dataset and code versions its
    /// lineage names, each once.
    pub related: Vec<Doc>,
}

impl Dossier {
    /// Related records of `kind`, voided ones left out.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Doc> + 'a {
        self.related
            .iter()
            .filter(move |d| d.kind == kind && !d.voided)
    }

    /// Related records of `kind` that name this model version in `field`.
    pub fn for_version<'a>(
        &'a self,
        kind: &'a str,
        pointer: &'a str,
    ) -> impl Iterator<Item = &'a Doc> + 'a {
        let id = self.model_version.id.as_str();
        self.of_kind(kind).filter(move |d| d.names(pointer, id))
    }

    /// A related record by kind and id.
    pub fn find(&self, kind: &str, id: &str) -> Option<&Doc> {
        self.related.iter().find(|d| d.kind == kind && d.id == id)
    }

    /// The dataset versions the model version was trained and tested on: those its lineage
    /// names and those of its training run.
    pub fn training_dataset_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .model_version
            .texts("/lineage/dataset_versions")
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(run) = self
            .model_version
            .data
            .pointer("/lineage/training_run")
            .and_then(Value::as_str)
            .and_then(|run| self.find("training_run", run))
        {
            for input in run
                .data
                .get("input_datasets")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = input
                    .as_str()
                    .or_else(|| input.get("dataset_version").and_then(Value::as_str));
                if let Some(id) = id {
                    ids.push(id.to_owned());
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        ids
    }
}

/// The fields by which a record names another, and the kind it names: top-level fields, then
/// fields inside `lineage`. `source` and `raised_by` may name a record of any kind (`""`).
const REFERENCE_FIELDS: &[(&str, &str)] = &[
    ("/model", "model"),
    ("/model_version", "model_version"),
    ("/protocol", "validation_protocol"),
    ("/dataset_version", "dataset_version"),
    ("/reference_dataset", "dataset_version"),
    ("/code_version", "code_version"),
    ("/output_model_version", "model_version"),
    ("/proposed_model_version", "model_version"),
    ("/covered_by_pccp", "change_request"),
    ("/affected_model_versions", "model_version"),
    ("/test_datasets", "dataset_version"),
    ("/lineage/training_run", "training_run"),
    ("/lineage/dataset_versions", "dataset_version"),
    ("/lineage/code_version", "code_version"),
    ("/source", ""),
    ("/raised_by", ""),
];

/// The records a record's content names, as (kind, id); kind `""` where any kind may be meant.
pub fn references(data: &Value) -> Vec<(&'static str, &str)> {
    let mut found = Vec::new();
    for &(pointer, kind) in REFERENCE_FIELDS {
        match data.pointer(pointer) {
            Some(Value::String(id)) => found.push((kind, id.as_str())),
            Some(Value::Array(items)) => {
                found.extend(items.iter().filter_map(Value::as_str).map(|id| (kind, id)))
            }
            _ => {}
        }
    }
    if let Some(inputs) = data.get("input_datasets").and_then(Value::as_array) {
        found.extend(
            inputs
                .iter()
                .filter_map(|i| i.get("dataset_version").and_then(Value::as_str))
                .map(|id| ("dataset_version", id)),
        );
    }
    found
}
