//! OpenLineage: RunEvents as the 2-0-2 spec defines them, checked field by field, and the
//! lineage they add up to (jobs, runs with their states, the datasets runs read and wrote),
//! linked to modeltrail's dataset versions (their `openlineage` namespace and name) and
//! training runs (their `openlineage_run_id`). Each accepted RunEvent is one `lineage.run_event`
//! event of the log, carried as it was sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use modeltrail_ledger::event::Event;
use modeltrail_ledger::Timestamp;

/// A RunEvent's `eventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RunEventType {
    Start,
    Running,
    Complete,
    Abort,
    Fail,
    Other,
}

/// A RunEvent that does not meet the spec: the field (a JSON Pointer-like dotted path) and why.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {problem}")]
pub struct LineageError {
    pub field: String,
    pub problem: String,
}

fn wrong(field: impl Into<String>, problem: impl Into<String>) -> LineageError {
    LineageError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A dataset as OpenLineage names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DatasetName {
    pub namespace: String,
    pub name: String,
}

/// The parts of a checked RunEvent the lineage keeps.
#[derive(Clone, Debug, PartialEq)]
pub struct RunEventSummary {
    pub event_type: Option<RunEventType>,
    pub event_time: String,
    pub run_id: String,
    pub job: DatasetName,
    pub inputs: Vec<DatasetName>,
    pub outputs: Vec<DatasetName>,
    /// `run.facets.parent.run.runId`, when the run says it belongs to another.
    pub parent: Option<String>,
}

/// Checks a RunEvent against the 2-0-2 spec: the required fields and their formats (`eventTime`
/// a date-time, `producer` and `schemaURL` URIs, `run.runId` a UUID, `job` and every dataset
/// with a namespace and a name, every facet an object with `_producer` and `_schemaURL`), the
/// event type one of the six, and the schema an OpenLineage 2-x one. Other fields are allowed,
/// as the spec allows them.
pub fn check_run_event(event: &Value) -> Result<RunEventSummary, LineageError> {
    let top = object(event, "")?;
    if top.get("run").is_none() && top.get("dataset").is_some() {
        return Err(wrong(
            "run",
            "a DatasetEvent: only RunEvents are accepted here",
        ));
    }
    if top.get("run").is_none() && top.get("job").is_some() && top.get("eventType").is_none() {
        return Err(wrong("run", "a JobEvent: only RunEvents are accepted here"));
    }
    let event_time = text(top, "", "eventTime")?;
    time::OffsetDateTime::parse(event_time, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            wrong(
                "eventTime",
                format!("`{event_time}` is not an RFC 3339 date-time with an offset"),
            )
        })?;
    uri(text(top, "", "producer")?, "producer")?;
    let schema = text(top, "", "schemaURL")?;
    uri(schema, "schemaURL")?;
    check_spec_version(schema)?;
    let event_type = match top.get("eventType") {
        None | Some(Value::Null) => None,
        Some(v) => Some(RunEventType::deserialize(v).map_err(|_| {
            wrong(
                "eventType",
                format!("{v} is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"),
            )
        })?),
    };
    let run = object(required(top, "", "run")?, "run")?;
    let run_id = text(run, "run", "runId")?;
    if !is_uuid(run_id) {
        return Err(wrong("run.runId", format!("`{run_id}` is not a UUID")));
    }
    facets(run, "run", "facets")?;
    let job = object(required(top, "", "job")?, "job")?;
    let job_name = DatasetName {
        namespace: text(job, "job", "namespace")?.to_owned(),
        name: text(job, "job", "name")?.to_owned(),
    };
    facets(job, "job", "facets")?;
    let inputs = datasets(top, "inputs", "inputFacets")?;
    let outputs = datasets(top, "outputs", "outputFacets")?;
    let parent = run
        .get("facets")
        .and_then(|f| f.get("parent"))
        .and_then(|p| p.get("run"))
        .and_then(|r| r.get("runId"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(parent) = &parent {
        if !is_uuid(parent) {
            return Err(wrong(
                "run.facets.parent.run.runId",
                format!("`{parent}` is not a UUID"),
            ));
        }
    }
    Ok(RunEventSummary {
        event_type,
        event_time: event_time.to_owned(),
        run_id: run_id.to_ascii_lowercase(),
        job: job_name,
        inputs,
        outputs,
        parent: parent.map(|p| p.to_ascii_lowercase()),
    })
}

fn path(parent: &str, field: &str) -> String {
    match parent.is_empty() {
        true => field.to_owned(),
        false => format!("{parent}.{field}"),
    }
}

fn object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, LineageError> {
    value.as_object().ok_or_else(|| {
        wrong(
            if at.is_empty() { "body" } else { at },
            "must be a JSON object",
        )
    })
}

fn required<'a>(
    map: &'a Map<String, Value>,
    parent: &str,
    field: &str,
) -> Result<&'a Value, LineageError> {
    map.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| wrong(path(parent, field), "is required"))
}

fn text<'a>(
    map: &'a Map<String, Value>,
    parent: &str,
    field: &str,
) -> Result<&'a str, LineageError> {
    let value = required(map, parent, field)?;
    let text = value
        .as_str()
        .ok_or_else(|| wrong(path(parent, field), "must be a string"))?;
    if text.trim().is_empty() {
        return Err(wrong(path(parent, field), "must not be empty"));
    }
    Ok(text)
}

/// An absolute URI: a scheme (RFC 3986: a letter, then letters, digits, `+`, `-`, `.`), a
/// colon, and something after it, with no spaces.
fn uri(text: &str, field: &str) -> Result<(), LineageError> {
    let ok = text.split_once(':').is_some_and(|(scheme, rest)| {
        scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            && !rest.is_empty()
    }) && !text.chars().any(char::is_whitespace);
    match ok {
        true => Ok(()),
        false => Err(wrong(field, format!("`{text}` is not an absolute URI"))),
    }
}

/// OpenLineage's own schema URLs name their version: `.../spec/2-0-2/OpenLineage.json#...`.
/// Version 2 is accepted; another is refused by name. Other schema URLs (a producer's own
/// extension of the spec) are accepted as URIs.
fn check_spec_version(schema: &str) -> Result<(), LineageError> {
    let Some(rest) = schema.split("openlineage.io/spec/").nth(1) else {
        return Ok(());
    };
    let version = rest.split('/').next().unwrap_or_default();
    match version.split('-').next() {
        Some("2") => Ok(()),
        _ => Err(wrong(
            "schemaURL",
            format!("OpenLineage spec `{version}` is not supported: send RunEvents of spec 2-0-x"),
        )),
    }
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A facets map: optional; each facet an object with `_producer` and `_schemaURL` URIs.
fn facets(map: &Map<String, Value>, parent: &str, field: &str) -> Result<(), LineageError> {
    let at = path(parent, field);
    let Some(value) = map.get(field).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let facets = object(value, &at)?;
    for (name, facet) in facets {
        let here = format!("{at}.{name}");
        let facet = object(facet, &here)?;
        uri(
            text(facet, &here, "_producer")?,
            &format!("{here}._producer"),
        )?;
        uri(
            text(facet, &here, "_schemaURL")?,
            &format!("{here}._schemaURL"),
        )?;
    }
    Ok(())
}

fn datasets(
    top: &Map<String, Value>,
    field: &str,
    io_facets: &str,
) -> Result<Vec<DatasetName>, LineageError> {
    let Some(value) = top.get(field).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = value
        .as_array()
        .ok_or_else(|| wrong(field, "must be an array of datasets"))?;
    list.iter()
        .enumerate()
        .map(|(i, dataset)| {
            let at = format!("{field}[{i}]");
            let map = object(dataset, &at)?;
            let name = DatasetName {
                namespace: text(map, &at, "namespace")?.to_owned(),
                name: text(map, &at, "name")?.to_owned(),
            };
            facets(map, &at, "facets")?;
            facets(map, &at, io_facets)?;
            Ok(name)
        })
        .collect()
}

/// One RunEvent of a run, as logged.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunEventInfo {
    pub seq: u64,
    pub event_type: Option<RunEventType>,
    pub event_time: String,
    pub received_at: Timestamp,
    pub actor: String,
}

/// A run: its job, the RunEvents received for it, and the datasets they named.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineageRun {
    pub run_id: String,
    pub job: DatasetName,
    /// The type of the RunEvent with the latest `eventTime` (the spec lets events arrive out
    /// of order).
    pub state: Option<RunEventType>,
    pub parent: Option<String>,
    pub events: Vec<RunEventInfo>,
    pub inputs: BTreeSet<DatasetName>,
    pub outputs: BTreeSet<DatasetName>,
}

/// What runs did with one dataset.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LineageDataset {
    pub read_by: BTreeSet<String>,
    pub written_by: BTreeSet<String>,
}

/// The lineage folded from `lineage.run_event` events, and the links to modeltrail's records.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    runs: BTreeMap<String, LineageRun>,
    jobs: BTreeMap<DatasetName, BTreeSet<String>>,
    datasets: BTreeMap<DatasetName, LineageDataset>,
    /// OpenLineage dataset -> dataset_version ids whose `openlineage` names it.
    dataset_versions: BTreeMap<DatasetName, BTreeSet<String>>,
    /// OpenLineage run id -> training_run ids whose `openlineage_run_id` names it.
    training_runs: BTreeMap<String, BTreeSet<String>>,
}

impl Lineage {
    /// Folds in a `lineage.run_event` (already checked when it was accepted).
    pub fn apply_run_event(&mut self, event: &Event) -> Result<(), LineageError> {
        let summary = check_run_event(&event.payload)?;
        let run = self
            .runs
            .entry(summary.run_id.clone())
            .or_insert_with(|| LineageRun {
                run_id: summary.run_id.clone(),
                job: summary.job.clone(),
                state: None,
                parent: None,
                events: Vec::new(),
                inputs: BTreeSet::new(),
                outputs: BTreeSet::new(),
            });
        let latest = run
            .events
            .iter()
            .map(|e| e.event_time.as_str())
            .max()
            .unwrap_or("");
        if summary.event_type.is_some() && later(&summary.event_time, latest) {
            run.state = summary.event_type;
        }
        if summary.parent.is_some() {
            run.parent = summary.parent.clone();
        }
        run.events.push(RunEventInfo {
            seq: event.seq,
            event_type: summary.event_type,
            event_time: summary.event_time.clone(),
            received_at: event.timestamp,
            actor: event.actor.id.clone(),
        });
        for input in &summary.inputs {
            run.inputs.insert(input.clone());
            self.datasets
                .entry(input.clone())
                .or_default()
                .read_by
                .insert(summary.run_id.clone());
        }
        for output in &summary.outputs {
            run.outputs.insert(output.clone());
            self.datasets
                .entry(output.clone())
                .or_default()
                .written_by
                .insert(summary.run_id.clone());
        }
        self.jobs
            .entry(run.job.clone())
            .or_default()
            .insert(summary.run_id);
        Ok(())
    }

    /// Notes the links a dataset_version or training_run version declares.
    pub fn apply_record(&mut self, kind: &str, id: &str, content: &Value) {
        match kind {
            "dataset_version" => {
                let named = content.get("openlineage").and_then(|o| {
                    Some(DatasetName {
                        namespace: o.get("namespace")?.as_str()?.to_owned(),
                        name: o.get("name")?.as_str()?.to_owned(),
                    })
                });
                for ids in self.dataset_versions.values_mut() {
                    ids.remove(id);
                }
                if let Some(named) = named {
                    self.dataset_versions
                        .entry(named)
                        .or_default()
                        .insert(id.to_owned());
                }
            }
            "training_run" => {
                for ids in self.training_runs.values_mut() {
                    ids.remove(id);
                }
                if let Some(run) = content.get("openlineage_run_id").and_then(Value::as_str) {
                    self.training_runs
                        .entry(run.to_ascii_lowercase())
                        .or_default()
                        .insert(id.to_owned());
                }
            }
            _ => {}
        }
    }

    pub fn run(&self, run_id: &str) -> Option<&LineageRun> {
        self.runs.get(&run_id.to_ascii_lowercase())
    }

    pub fn dataset(&self, name: &DatasetName) -> Option<&LineageDataset> {
        self.datasets.get(name)
    }

    /// Jobs with the ids of their runs, by namespace and name.
    pub fn jobs(&self) -> impl Iterator<Item = (&DatasetName, &BTreeSet<String>)> {
        self.jobs.iter()
    }

    /// The dataset_version records that say they are this OpenLineage dataset.
    pub fn dataset_versions_of(&self, name: &DatasetName) -> impl Iterator<Item = &String> {
        self.dataset_versions.get(name).into_iter().flatten()
    }

    /// The training_run records that say they are this OpenLineage run.
    pub fn training_runs_of(&self, run_id: &str) -> impl Iterator<Item = &String> {
        self.training_runs
            .get(&run_id.to_ascii_lowercase())
            .into_iter()
            .flatten()
    }
}

/// Whether RFC 3339 time `a` is later than or as late as `b` (`""` is earlier than anything).
fn later(a: &str, b: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    match (
        time::OffsetDateTime::parse(a, &Rfc3339),
        time::OffsetDateTime::parse(b, &Rfc3339),
    ) {
        (Ok(a), Ok(b)) => a >= b,
        (Ok(_), Err(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RUN: &str = "0176a8c2-fe01-7439-87e6-56a1a1b4029f";

    fn facet() -> Value {
        json!({"_producer": "https://example.org/pipeline", "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/SchemaDatasetFacet.json"})
    }

    fn event(kind: &str, time: &str) -> Value {
        json!({
            "eventType": kind,
            "eventTime": time,
            "run": {"runId": RUN, "facets": {"nominalTime": facet()}},
            "job": {"namespace": "pharma-ml", "name": "train_assay_model", "facets": {}},
            "inputs": [{"namespace": "s3://lake", "name": "assay/2026-11.csv", "facets": {"schema": facet()}}],
            "outputs": [],
            "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        })
    }

    fn refused(mut body: Value, edit: impl FnOnce(&mut Value)) -> LineageError {
        edit(&mut body);
        check_run_event(&body).expect_err("refused")
    }

    #[test]
    fn a_spec_run_event_is_read() {
        let summary = check_run_event(&event("START", "2026-12-04T10:00:00.000Z")).unwrap();
        assert_eq!(summary.event_type, Some(RunEventType::Start));
        assert_eq!(summary.job.name, "train_assay_model");
        assert_eq!(summary.inputs[0].namespace, "s3://lake");
        assert!(summary.outputs.is_empty());
    }

    #[test]
    fn each_wrong_field_is_named() {
        let base = event("START", "2026-12-04T10:00:00Z");
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|b| b["eventType"] = json!("BEGIN")), "eventType"),
            (
                Box::new(|b| b["eventTime"] = json!("yesterday")),
                "eventTime",
            ),
            (
                Box::new(|b| {
                    b.as_object_mut()
                        .unwrap()
                        .remove("eventTime")
                        .map(drop)
                        .unwrap_or(())
                }),
                "eventTime",
            ),
            (Box::new(|b| b["producer"] = json!("not a uri")), "producer"),
            (
                Box::new(|b| {
                    b["schemaURL"] = json!(
                        "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent"
                    )
                }),
                "schemaURL",
            ),
            (Box::new(|b| b["run"]["runId"] = json!("42")), "run.runId"),
            (Box::new(|b| b["job"]["name"] = json!("")), "job.name"),
            (Box::new(|b| b["job"] = json!("train")), "job"),
            (
                Box::new(|b| {
                    b["inputs"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("namespace")
                        .map(drop)
                        .unwrap_or(())
                }),
                "inputs[0].namespace",
            ),
            (
                Box::new(|b| {
                    b["inputs"][0]["facets"]["schema"] = json!({"_producer": "https://x"})
                }),
                "inputs[0].facets.schema._schemaURL",
            ),
            (
                Box::new(|b| b["run"]["facets"]["nominalTime"] = json!(3)),
                "run.facets.nominalTime",
            ),
            (Box::new(|b| b["outputs"] = json!({})), "outputs"),
        ];
        for (edit, field) in cases {
            let e = refused(base.clone(), edit);
            assert_eq!(e.field, field, "{e}");
        }
        let dataset_event = json!({"eventTime": "2026-12-04T10:00:00Z", "dataset": {"namespace": "a", "name": "b"},
            "producer": "https://x", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"});
        assert!(check_run_event(&dataset_event)
            .unwrap_err()
            .problem
            .contains("DatasetEvent"));
    }

    fn logged(seq: u64, payload: Value) -> Event {
        Event {
            seq,
            timestamp: Timestamp::from_micros(seq as i64),
            actor: modeltrail_ledger::event::Actor {
                id: "pipeline".into(),
                name: "pipeline".into(),
                role: "developer".into(),
                auth: modeltrail_ledger::event::AuthMethod::ApiToken,
            },
            client: Default::default(),
            action: "lineage.run_event".into(),
            record: None,
            prev: None,
            reason: None,
            target: None,
            payload,
        }
    }

    #[test]
    fn the_state_follows_event_time_not_arrival() {
        let mut lineage = Lineage::default();
        let mut complete = event("COMPLETE", "2026-12-04T10:05:00Z");
        complete["outputs"] = json!([{"namespace": "models", "name": "assay-v3"}]);
        lineage.apply_run_event(&logged(0, complete)).unwrap();
        lineage
            .apply_run_event(&logged(1, event("START", "2026-12-04T10:00:00+00:00")))
            .unwrap();
        let run = lineage.run(&RUN.to_uppercase()).expect("run");
        assert_eq!(run.state, Some(RunEventType::Complete));
        assert_eq!(run.events.len(), 2);
        let model = DatasetName {
            namespace: "models".into(),
            name: "assay-v3".into(),
        };
        assert!(lineage.dataset(&model).unwrap().written_by.contains(RUN));
        lineage.apply_record(
            "dataset_version",
            "dv1",
            &json!({"openlineage": {"namespace": "models", "name": "assay-v3"}}),
        );
        assert_eq!(
            lineage.dataset_versions_of(&model).collect::<Vec<_>>(),
            ["dv1"]
        );
        lineage.apply_record("dataset_version", "dv1", &json!({}));
        assert_eq!(
            lineage.dataset_versions_of(&model).count(),
            0,
            "a later version dropped it"
        );
        lineage.apply_record("training_run", "tr1", &json!({"openlineage_run_id": RUN}));
        assert_eq!(lineage.training_runs_of(RUN).collect::<Vec<_>>(), ["tr1"]);
    }
}
