//! Validation results: a protocol's acceptance criteria evaluated by the server against the
//! metrics a result reports, and the independence of the test data from the training data.
//! A criterion is an expression (`auc >= 0.85 and sensitivity >= 0.9`) or the older triple
//! metric, op, threshold; subgroup metrics are reported with a `subgroup` and named
//! `auc[sex=female]`.

use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::criteria::{Criterion, EvalError, FactError, FactsFn, Reference};
use crate::profiled::profiled_files;

/// Why a result cannot be evaluated against its protocol.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ValidationError {
    #[error("acceptance criterion {index} of the protocol does not parse: {message}")]
    BadCriterion { index: usize, message: String },
    #[error("the protocol has no acceptance criteria")]
    NoCriteria,
    #[error("metrics missing from the result: {}", .0.join(", "))]
    MissingMetrics(Vec<String>),
    #[error("metric {metric} is reported twice")]
    DuplicateMetric { metric: String },
    #[error("criterion {index} cannot be evaluated: {source}")]
    Unevaluable { index: usize, source: EvalError },
}

/// The text of criterion `item` of a protocol: its expression, or the triple made one.
fn criterion_text(item: &Value) -> Option<String> {
    if let Some(text) = item.get("criterion").and_then(Value::as_str) {
        return Some(text.to_owned());
    }
    let metric = item.get("metric")?.as_str()?;
    let op = item.get("op")?.as_str()?;
    let threshold = item.get("threshold")?.as_f64()?;
    match item.get("attribute").and_then(Value::as_str) {
        Some(attribute) => Some(format!(
            "{metric}[attribute=\"{}\"] {op} {threshold}",
            attribute.replace('\\', "\\\\").replace('"', "\\\"")
        )),
        None => Some(format!("{metric} {op} {threshold}")),
    }
}

/// Parses every acceptance criterion of a protocol's content; the error names the first that
/// does not parse (its JSON pointer and what is wrong, with the position).
pub fn protocol_criteria(protocol: &Value) -> Result<Vec<(Value, Criterion)>, (String, String)> {
    criteria_list(protocol, "acceptance_criteria")
}

/// Parses the criteria listed under `list` in a record's content (items with a `criterion`
/// expression, or metric, op, threshold and optionally attribute).
pub fn criteria_list(
    content: &Value,
    list: &str,
) -> Result<Vec<(Value, Criterion)>, (String, String)> {
    let items = content
        .get(list)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut parsed = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let field = format!("/{list}/{index}/criterion");
        let text = criterion_text(&item).ok_or_else(|| {
            (
                field.clone(),
                "give `criterion` (an expression such as `auc >= 0.85`) or metric, op and \
                 threshold"
                    .to_owned(),
            )
        })?;
        let criterion = Criterion::parse(&text).map_err(|e| {
            (
                field.clone(),
                format!("`{text}` does not parse: {e}\n{}", e.pointer(&text)),
            )
        })?;
        parsed.push((item, criterion));
    }
    Ok(parsed)
}

/// One reported metric: its name, the subgroup it was measured on (sorted), its value.
struct Reported {
    metric: String,
    subgroup: Vec<(String, String)>,
    value: f64,
}

fn reported(metrics: &Value) -> Result<Vec<Reported>, ValidationError> {
    let mut out: Vec<Reported> = Vec::new();
    let mut seen = BTreeSet::new();
    for item in metrics.as_array().into_iter().flatten() {
        let (Some(metric), Some(value)) = (
            item.get("metric").and_then(Value::as_str),
            item.get("value").and_then(Value::as_f64),
        ) else {
            continue;
        };
        let mut subgroup: Vec<(String, String)> = item
            .get("subgroup")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|part| {
                Some((
                    part.get("attribute")?.as_str()?.to_owned(),
                    part.get("value")?.as_str()?.to_owned(),
                ))
            })
            .collect();
        subgroup.sort();
        let key = (metric.to_owned(), subgroup.clone());
        if !seen.insert(key) {
            let name = if subgroup.is_empty() {
                metric.to_owned()
            } else {
                let parts: Vec<String> = subgroup.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{metric}[{}]", parts.join(","))
            };
            return Err(ValidationError::DuplicateMetric { metric: name });
        }
        out.push(Reported {
            metric: metric.to_owned(),
            subgroup,
            value,
        });
    }
    Ok(out)
}

fn lookup(reported: &[Reported], reference: &Reference) -> Option<f64> {
    if !reference.args().is_empty() {
        return None;
    }
    reported
        .iter()
        .find(|r| r.metric == reference.name() && r.subgroup == reference.selector())
        .map(|r| r.value)
}

/// The server's evaluation of a result: each criterion with its verdict and the values used,
/// and whether all passed.
#[derive(Debug, Serialize)]
pub struct ResultEvaluation {
    pub criteria_results: Vec<Value>,
    pub passed: bool,
}

/// Evaluates every criterion of `protocol` against the `metrics` a result reports. Metrics a
/// criterion needs but the result lacks are an error naming all of them; nothing is guessed.
pub fn evaluate_result(
    protocol: &Value,
    metrics: &Value,
) -> Result<ResultEvaluation, ValidationError> {
    let criteria = protocol_criteria(protocol).map_err(|(field, message)| {
        let index = field
            .split('/')
            .nth(2)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        ValidationError::BadCriterion { index, message }
    })?;
    if criteria.is_empty() {
        return Err(ValidationError::NoCriteria);
    }
    let reported = reported(metrics)?;
    let mut missing = Vec::new();
    for (_, criterion) in &criteria {
        for reference in criterion.references() {
            let name = reference.to_string();
            if lookup(&reported, reference).is_none() && !missing.contains(&name) {
                missing.push(name);
            }
        }
    }
    if !missing.is_empty() {
        return Err(ValidationError::MissingMetrics(missing));
    }
    let facts = FactsFn(|r: &Reference| lookup(&reported, r).ok_or(FactError::Missing));
    evaluate_all(&criteria, &facts)
}

/// Evaluates parsed criteria against `facts`: each verdict with the values used, and whether
/// all passed. A criterion that cannot be evaluated is an error naming it and why.
pub fn evaluate_all<F: crate::criteria::Facts>(
    criteria: &[(Value, Criterion)],
    facts: &F,
) -> Result<ResultEvaluation, ValidationError> {
    let mut results = Vec::new();
    let mut all = true;
    for (index, (item, criterion)) in criteria.iter().enumerate() {
        let evaluation = criterion
            .evaluate(facts)
            .map_err(|source| ValidationError::Unevaluable { index, source })?;
        all &= evaluation.passed;
        let mut entry = json!({
            "criterion": criterion.source(),
            "passed": evaluation.passed,
            "values": evaluation.values,
        });
        if let Some(id) = item.get("id") {
            entry["id"] = id.clone();
        }
        results.push(entry);
    }
    Ok(ResultEvaluation {
        criteria_results: results,
        passed: all,
    })
}

/// Independence of test data from training data, as recorded with a result.
#[derive(Debug, Serialize, PartialEq)]
pub struct Independence {
    pub independent: bool,
    pub test_datasets: Vec<String>,
    pub training_datasets: Vec<String>,
    /// File digests (or whole-content digests) found in both.
    pub shared_files: Vec<String>,
    /// Rows found in both, where both have row digests; `None` where they could not be
    /// compared.
    pub shared_rows: Option<u64>,
    pub method: String,
}

/// The digests a dataset version's content is known by: its content digest and each file's,
/// those its manifest lists and those its profile was computed from.
pub fn file_digests(dataset: &Value) -> BTreeSet<String> {
    let mut digests = BTreeSet::new();
    if let Some(d) = dataset.get("content_digest").and_then(Value::as_str) {
        digests.insert(d.to_owned());
    }
    for file in dataset
        .get("manifest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = file.get("sha256").and_then(Value::as_str) {
            digests.insert(d.to_owned());
        }
    }
    digests.extend(profiled_files(dataset).into_iter().map(|file| file.sha256));
    digests
}

/// Compares test and training datasets by file digests; `shared_rows` comes from the caller
/// (row digests live in blobs the server holds) when both sides have them.
pub fn independence(
    test: &[(String, Value)],
    training: &[(String, Value)],
    shared_rows: Option<u64>,
) -> Independence {
    let train_digests: BTreeSet<String> = training
        .iter()
        .flat_map(|(_, data)| file_digests(data))
        .collect();
    let shared_files: Vec<String> = test
        .iter()
        .flat_map(|(_, data)| file_digests(data))
        .filter(|d| train_digests.contains(d))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let overlap = test
        .iter()
        .any(|(id, _)| training.iter().any(|(t, _)| t == id));
    Independence {
        independent: !test.is_empty()
            && !overlap
            && shared_files.is_empty()
            && shared_rows.unwrap_or(0) == 0,
        test_datasets: test.iter().map(|(id, _)| id.clone()).collect(),
        training_datasets: training.iter().map(|(id, _)| id.clone()).collect(),
        shared_files,
        shared_rows,
        method: match shared_rows {
            Some(_) => "file digests and row digests".into(),
            None => "file digests (no row digests on both sides)".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_are_evaluated_with_the_values_used() {
        let protocol = json!({"acceptance_criteria": [
            {"id": "AC-1", "criterion": "auc >= 0.85 and sensitivity >= 0.9"},
            {"metric": "auc", "op": ">=", "threshold": 0.8, "id": "AC-2"},
            {"criterion": "auc[sex=female] >= 0.8"}
        ]});
        let metrics = json!([
            {"metric": "auc", "value": 0.9},
            {"metric": "sensitivity", "value": 0.85},
            {"metric": "auc", "value": 0.82, "subgroup": [{"attribute": "sex", "value": "female"}]}
        ]);
        let e = evaluate_result(&protocol, &metrics).expect("evaluates");
        assert!(!e.passed);
        assert_eq!(e.criteria_results[0]["passed"], false);
        assert_eq!(e.criteria_results[0]["id"], "AC-1");
        assert_eq!(e.criteria_results[0]["values"][1]["value"], 0.85);
        assert_eq!(e.criteria_results[1]["passed"], true);
        assert_eq!(e.criteria_results[2]["passed"], true);
    }

    #[test]
    fn missing_metrics_are_named_all_at_once() {
        let protocol = json!({"acceptance_criteria": [
            {"criterion": "auc >= 0.85 and sensitivity >= 0.9"},
            {"criterion": "tpr[site=\"Basel 2\"] > 0.7"}
        ]});
        let err = evaluate_result(&protocol, &json!([{"metric": "auc", "value": 0.9}]))
            .expect_err("missing");
        let ValidationError::MissingMetrics(names) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(err.to_string().contains("sensitivity"), "{err}");
    }

    #[test]
    fn a_criterion_that_does_not_parse_is_named_with_its_position() {
        let protocol = json!({"acceptance_criteria": [{"criterion": "auc >= "}]});
        let (field, message) = protocol_criteria(&protocol).expect_err("bad");
        assert_eq!(field, "/acceptance_criteria/0/criterion");
        assert!(message.contains("column"), "{message}");
    }

    #[test]
    fn shared_files_break_independence() {
        let train = vec![(
            "train".to_owned(),
            json!({"content_digest": "aa", "manifest": [{"sha256": "f1"}]}),
        )];
        let test = vec![(
            "test".to_owned(),
            json!({"content_digest": "bb", "manifest": [{"sha256": "f1"}]}),
        )];
        let i = independence(&test, &train, None);
        assert!(!i.independent);
        assert_eq!(i.shared_files, vec!["f1".to_owned()]);
        let second_part = vec![(
            "test".to_owned(),
            json!({"content_digest": "dd", "profile": {"source": [
                {"path": "t.csv", "sha256": "f3", "bytes": 1},
                {"path": "u.csv", "sha256": "f2", "bytes": 1}
            ]}}),
        )];
        let train_parts = vec![(
            "train".to_owned(),
            json!({"content_digest": "ee", "manifest": [{"sha256": "f1"}, {"sha256": "f2"}]}),
        )];
        let i = independence(&second_part, &train_parts, Some(0));
        assert!(
            !i.independent,
            "a file profiled for the test data is a training file"
        );
        assert_eq!(i.shared_files, vec!["f2".to_owned()]);
        let clean = vec![("test".to_owned(), json!({"content_digest": "cc"}))];
        assert!(independence(&clean, &train, Some(0)).independent);
        assert!(!independence(&clean, &train, Some(3)).independent);
        assert!(
            !independence(&train, &train, None).independent,
            "the same dataset"
        );
    }
}
