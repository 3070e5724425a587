//! Drift monitoring computations for a batch under a plan: the plan's reference columns read
//! from the reference dataset version's stored data files (cleaned and sorted once, then kept
//! by the digest of the files and features they came from), and a batch's drift per feature,
//! dataset verdict, performance metrics and operational anomalies (`modeltrail_stats`), turned
//! into the batch record's computed fields and the breaches they amount to
//! (`modeltrail_domain::monitoring`).

use modeltrail_domain::monitoring::{drift_breach, Breach, Plan};
use modeltrail_domain::profiled::profiled_files;
use modeltrail_stats::drift::binning::numeric_bins;
use modeltrail_stats::drift::{
    column_drift, Bins, CategoryCounts, ColumnKind, ColumnSample, DriftTest, NumericSample, Side,
    TestDetail, TestOverride,
};
use modeltrail_stats::performance::{classification, regression};
use modeltrail_stats::table_columns::{read_columns, Column, Wanted};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::error::ApiError;
use crate::state::Shared;

/// References in memory, by the digest of the files and features they were read from.
#[derive(Default)]
pub struct ReferenceCache {
    loaded: Mutex<HashMap<String, Arc<Reference>>>,
}

/// The most references kept in memory; the oldest is not tracked, so the cache is emptied
/// when it is full.
const CACHED_REFERENCES: usize = 16;

/// One reference feature, cleaned, with what the anomaly checks read.
pub struct ReferenceFeature {
    pub sample: ColumnSample,
    /// Smallest and largest finite value (numerical features).
    pub range: Option<(f64, f64)>,
}

/// The plan's features as the reference dataset holds them.
pub struct Reference {
    pub dataset: String,
    /// SHA-256 of the files and features the reference was read from.
    pub digest: String,
    pub features: HashMap<String, ReferenceFeature>,
}

/// The kind of a plan feature.
pub fn kind_of(kind: &str) -> ColumnKind {
    match kind {
        "categorical" => ColumnKind::Categorical,
        _ => ColumnKind::Numerical,
    }
}

/// The plan's test name as the statistics name it.
fn test_of(name: &str) -> Option<DriftTest> {
    DriftTest::from_name(match name {
        "chi_square" => "chisquare",
        "z_test" => "z",
        "jensen_shannon" => "jensenshannon",
        other => other,
    })
}

/// The statistics' test name as the plan and batch name it.
fn plan_name(test: DriftTest) -> &'static str {
    match test.name() {
        "chisquare" => "chi_square",
        "z" => "z_test",
        "jensenshannon" => "jensen_shannon",
        other => other,
    }
}

/// The reference of `plan`: from the cache, or read from the reference dataset's stored files.
pub async fn reference(state: &Shared, plan: &Plan) -> Result<Arc<Reference>, ApiError> {
    let dataset_id = plan.reference_dataset.clone();
    let record = state
        .read()
        .record("dataset_version", &dataset_id)
        .cloned()
        .ok_or_else(|| {
            ApiError::conflict(
                "reference_missing",
                format!("the plan's reference dataset_version `{dataset_id}` does not exist"),
            )
        })?;
    let head = record
        .head()
        .ok_or_else(|| ApiError::internal("a record without versions"))?;
    let content = state.event(head.seq).await?.payload;
    let files = profiled_files(&content);
    if files.is_empty() {
        return Err(ApiError::conflict(
            "reference_not_profiled",
            format!(
                "the plan's reference dataset_version `{dataset_id}` has no uploaded data: upload \
                 its CSV or Parquet files (POST /api/v1/dataset-versions/{dataset_id}/data)"
            ),
        ));
    }
    let mut key = Sha256::new();
    for file in &files {
        key.update(file.sha256.as_bytes());
        key.update(b"\n");
    }
    for feature in &plan.features {
        key.update(format!("{}\t{}\n", feature.name, feature.kind).as_bytes());
    }
    let digest = hex::encode(key.finalize());
    if let Some(found) = cached(state, &digest) {
        return Ok(found);
    }
    let blobs = state.blobs.clone();
    let wanted: Vec<Wanted> = plan
        .features
        .iter()
        .map(|f| Wanted::required(&f.name, kind_of(&f.kind)))
        .collect();
    let digest_for_task = digest.clone();
    let dataset_for_task = dataset_id.clone();
    let reference = tokio::task::spawn_blocking(move || {
        read_reference(&blobs, &files, &wanted, dataset_for_task, digest_for_task)
    })
    .await
    .map_err(ApiError::internal)??;
    let reference = Arc::new(reference);
    if let Ok(mut loaded) = state.references.loaded.lock() {
        if loaded.len() >= CACHED_REFERENCES {
            loaded.clear();
        }
        loaded.insert(digest, reference.clone());
    }
    Ok(reference)
}

fn cached(state: &Shared, digest: &str) -> Option<Arc<Reference>> {
    state
        .references
        .loaded
        .lock()
        .ok()
        .and_then(|loaded| loaded.get(digest).cloned())
}

fn read_reference(
    blobs: &modeltrail_store::blobs::BlobStore,
    files: &[modeltrail_domain::profiled::ProfiledFile],
    wanted: &[Wanted],
    dataset: String,
    digest: String,
) -> Result<Reference, ApiError> {
    let mut numbers: HashMap<String, Vec<f64>> = HashMap::new();
    let mut categories: HashMap<String, Vec<Option<std::sync::Arc<str>>>> = HashMap::new();
    for file in files {
        let bytes = blobs
            .get(&file.sha256)
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::internal(format!(
                    "the reference file {} ({}) is missing from the blob store",
                    file.path, file.sha256
                ))
            })?;
        let read = read_columns(&bytes, wanted).map_err(|e| {
            ApiError::conflict(
                "reference_unusable",
                format!(
                    "the reference dataset_version `{dataset}`, file {}: {e}",
                    file.path
                ),
            )
        })?;
        for (name, column) in read.columns {
            match column {
                Some(Column::Numbers(values)) => numbers.entry(name).or_default().extend(values),
                Some(Column::Categories(values)) => {
                    categories.entry(name).or_default().extend(values)
                }
                None => {}
            }
        }
    }
    let unusable = |name: &str, e: modeltrail_stats::drift::DriftError| {
        ApiError::conflict(
            "reference_unusable",
            format!("the reference dataset_version `{dataset}`, feature {name}: {e}"),
        )
    };
    let mut features = HashMap::new();
    for (name, values) in numbers {
        let sample =
            NumericSample::new(Side::Reference, &values).map_err(|e| unusable(&name, e))?;
        let range = sample
            .sorted()
            .first()
            .copied()
            .zip(sample.sorted().last().copied());
        features.insert(
            name,
            ReferenceFeature {
                sample: ColumnSample::Numerical(sample),
                range,
            },
        );
    }
    for (name, values) in categories {
        let counts =
            CategoryCounts::new(Side::Reference, values).map_err(|e| unusable(&name, e))?;
        features.insert(
            name,
            ReferenceFeature {
                sample: ColumnSample::Categorical(counts),
                range: None,
            },
        );
    }
    Ok(Reference {
        dataset,
        digest,
        features,
    })
}

/// A batch's columns, read and checked.
pub struct BatchColumns {
    pub rows: u64,
    /// The plan's features the batch has, by name.
    pub features: HashMap<String, Column>,
    /// Predicted labels (classification) or values (regression), when given.
    pub predictions: Option<Outcomes>,
    /// Scores for ROC AUC, when given.
    pub scores: Option<Vec<f64>>,
    pub labels: Option<Outcomes>,
    pub prediction_errors: u64,
}

/// The computed fields of a batch record and the breaches they amount to.
pub struct Evaluation {
    pub fields: Value,
    pub report: Value,
    pub breaches: Vec<Breach>,
}

/// Evaluates `batch` against `reference` under `plan`.
pub fn evaluate(
    plan: &Plan,
    reference: &Reference,
    batch: &BatchColumns,
) -> Result<Evaluation, ApiError> {
    let tested = batch.rows >= plan.minimum_batch_rows && batch.rows > 0;
    let mut fields = json!({"rows": batch.rows, "tested": tested});
    if !tested {
        fields["breach"] = json!(false);
        fields["breaches"] = json!([]);
        return Ok(Evaluation {
            report: json!({"tested": false, "rows": batch.rows,
                           "minimum_batch_rows": plan.minimum_batch_rows}),
            fields,
            breaches: Vec::new(),
        });
    }
    let mut breaches = Vec::new();
    let mut anomalies = Vec::new();
    let mut drift_rows = Vec::new();
    let mut report_columns = Vec::new();
    let mut verdicts = Vec::new();
    let rows = batch.rows as f64;
    let limits = plan.anomalies;
    for feature in &plan.features {
        let Some(column) = batch.features.get(&feature.name) else {
            anomalies.push(
                json!({"anomaly": "missing_feature", "feature": feature.name,
                                  "value": 1.0, "limit": 0.0, "breached": true}),
            );
            breaches.push(Breach::Anomaly {
                anomaly: "missing_feature".into(),
                feature: Some(feature.name.clone()),
                value: 1.0,
                limit: 0.0,
            });
            continue;
        };
        let reference_feature = reference.features.get(&feature.name).ok_or_else(|| {
            ApiError::internal(format!("the reference lacks feature {}", feature.name))
        })?;
        let mut anomaly = |name: &str, value: f64, limit: f64, examples: Vec<String>| {
            let breached = value > limit;
            let mut entry = json!({"anomaly": name, "feature": feature.name, "value": value,
                                   "limit": limit, "breached": breached});
            if !examples.is_empty() {
                entry["examples"] = json!(examples);
            }
            anomalies.push(entry);
            if breached {
                breaches.push(Breach::Anomaly {
                    anomaly: name.into(),
                    feature: Some(feature.name.clone()),
                    value,
                    limit,
                });
            }
        };
        let current = match column {
            Column::Numbers(values) => {
                let missing = values.iter().filter(|v| v.is_nan()).count() as f64;
                anomaly(
                    "missing_share",
                    missing / rows,
                    limits.max_missing_share,
                    vec![],
                );
                if let Some((low, high)) = reference_feature.range {
                    let outside: Vec<f64> = values
                        .iter()
                        .copied()
                        .filter(|v| !v.is_nan() && (*v < low || *v > high))
                        .collect();
                    let examples = outside.iter().take(10).map(|v| v.to_string()).collect();
                    anomaly(
                        "out_of_range_share",
                        outside.len() as f64 / rows,
                        limits.max_out_of_range_share,
                        examples,
                    );
                }
                NumericSample::new(Side::Current, values).map(ColumnSample::Numerical)
            }
            Column::Categories(values) => {
                let missing = values.iter().filter(|v| v.is_none()).count() as f64;
                anomaly(
                    "missing_share",
                    missing / rows,
                    limits.max_missing_share,
                    vec![],
                );
                if let ColumnSample::Categorical(known) = &reference_feature.sample {
                    let unseen: Vec<&str> = values
                        .iter()
                        .flatten()
                        .map(|v| &**v)
                        .filter(|v| !known.counts().contains_key(*v))
                        .collect();
                    let examples: BTreeSet<&str> = unseen.iter().copied().take(200).collect();
                    anomaly(
                        "unseen_category_share",
                        unseen.len() as f64 / rows,
                        limits.max_unseen_category_share,
                        examples.into_iter().take(10).map(str::to_owned).collect(),
                    );
                }
                CategoryCounts::new(Side::Current, values.iter().map(|v| v.as_deref()))
                    .map(ColumnSample::Categorical)
            }
        };
        // A column with no usable cell is reported by its missing share; it has no drift.
        let Ok(current) = current else {
            continue;
        };
        let refused = |e: modeltrail_stats::drift::DriftError| {
            ApiError::invalid(
                format!("columns/{}", feature.name),
                format!("feature {}: {e}", feature.name),
            )
        };
        let over = match plan.test_of(feature) {
            Some(name) => Some(TestOverride {
                test: test_of(name).ok_or_else(|| {
                    ApiError::internal(format!("the plan names an unknown test {name}"))
                })?,
                threshold: plan.threshold_of(feature),
            }),
            None => None,
        };
        let mut result =
            column_drift(&reference_feature.sample, &current, over).map_err(refused)?;
        // The default test with the plan's threshold.
        if let (None, Some(threshold)) = (over, plan.threshold_of(feature)) {
            let over = TestOverride {
                test: result.test,
                threshold: Some(threshold),
            };
            result =
                column_drift(&reference_feature.sample, &current, Some(over)).map_err(refused)?;
        }
        verdicts.push((feature.name.clone(), result.drifted));
        let statistic = match &result.detail {
            TestDetail::KolmogorovSmirnov(r) => Some(r.statistic),
            TestDetail::Wasserstein(r) => Some(r.normed),
            TestDetail::Psi { result, .. } => Some(result.value),
            TestDetail::JensenShannon { result, .. } => Some(result.value),
            TestDetail::ChiSquare { result, .. } => Some(result.statistic),
            TestDetail::Z { result, .. } => result.statistic,
        }
        // Infinite (a category the reference never had, under chi-square): JSON has no
        // infinity, so the statistic is null and the p-value tells.
        .filter(|s| s.is_finite());
        let mut row = json!({
            "feature": feature.name,
            "test": plan_name(result.test),
            "choice": result.choice,
            "statistic": statistic,
            "score": result.score,
            "comparison": result.comparison.symbol(),
            "threshold": result.threshold,
            "drifted": result.drifted,
            "reference_rows": result.reference.rows,
            "current_rows": result.current.rows,
            "dropped": result.current.dropped,
        });
        if result.score_is_p_value {
            row["p_value"] = json!(result.score);
        }
        drift_rows.push(row);
        let mut column = json!({"feature": feature.name, "result": result});
        if let Some(bins) = chart_bins(&reference_feature.sample, &current, &result.detail) {
            column["bins"] = json!(bins);
        }
        report_columns.push(column);
    }
    if batch.prediction_errors > 0 {
        let rate = batch.prediction_errors as f64 / rows;
        let breached = rate > limits.max_prediction_error_rate;
        anomalies.push(json!({"anomaly": "prediction_error_rate", "value": rate,
                              "limit": limits.max_prediction_error_rate, "breached": breached}));
        if breached {
            breaches.push(Breach::Anomaly {
                anomaly: "prediction_error_rate".into(),
                feature: None,
                value: rate,
                limit: limits.max_prediction_error_rate,
            });
        }
    }
    let drifted = verdicts.iter().filter(|(_, d)| *d).count();
    let share = match verdicts.len() {
        0 => 0.0,
        n => drifted as f64 / n as f64,
    };
    if let Some(breach) = drift_breach(plan, &verdicts) {
        breaches.insert(0, breach);
    }
    fields["drift"] = json!({
        "features": drift_rows,
        "drifted_share": share,
        "drift_share": plan.drift_share,
        "dataset_drift": share >= plan.drift_share && !verdicts.is_empty(),
    });
    let performance = performance(plan, batch)?;
    for result in &performance {
        if result["passed"] == json!(false) {
            breaches.push(Breach::Performance {
                metric: result["metric"].as_str().unwrap_or_default().to_owned(),
                value: result["value"].as_f64(),
                op: result["op"].as_str().unwrap_or_default().to_owned(),
                threshold: result["threshold"].as_f64().unwrap_or(0.0),
            });
        }
    }
    if !performance.is_empty() {
        fields["performance"] = json!(performance);
    }
    fields["anomalies"] = json!(anomalies);
    fields["breach"] = json!(!breaches.is_empty());
    fields["breaches"] = json!(breaches.iter().map(Breach::describe).collect::<Vec<_>>());
    let report = json!({
        "reference": {"dataset_version": reference.dataset, "digest": reference.digest},
        "columns": report_columns,
        "log_base": "e",
        "computed_by": concat!("modeltrail ", env!("CARGO_PKG_VERSION")),
    });
    Ok(Evaluation {
        fields,
        report,
        breaches,
    })
}

/// Evidently's bins of a feature whose test has none of its own (Kolmogorov–Smirnov and
/// Wasserstein walk the sorted values), kept in the report for the drift chart: Sturges over
/// both sides when the reference has more than 20 distinct values, else one bin per value.
/// None when the test has bins (they are in its detail) or no bins can be made.
fn chart_bins(
    reference: &ColumnSample,
    current: &ColumnSample,
    detail: &TestDetail,
) -> Option<Bins> {
    match (detail, reference, current) {
        (
            TestDetail::KolmogorovSmirnov(_) | TestDetail::Wasserstein(_),
            ColumnSample::Numerical(reference),
            ColumnSample::Numerical(current),
        ) => numeric_bins(reference, current).ok(),
        _ => None,
    }
}

const CLASSIFICATION: &[&str] = &["accuracy", "precision", "recall", "f1", "roc_auc"];
const REGRESSION: &[&str] = &["mae", "rmse", "r2"];

/// The plan's performance metrics computed from the batch's labels and predictions; empty when
/// the batch has no labels.
fn performance(plan: &Plan, batch: &BatchColumns) -> Result<Vec<Value>, ApiError> {
    let (Some(labels), Some(predictions)) = (&batch.labels, &batch.predictions) else {
        return Ok(Vec::new());
    };
    if plan.performance.is_empty() {
        return Ok(Vec::new());
    }
    if labels.len() != predictions.len() {
        return Err(ApiError::invalid(
            "labels",
            format!(
                "{} labels for {} predictions: one label per prediction",
                labels.len(),
                predictions.len()
            ),
        ));
    }
    let wants_classification = plan
        .performance
        .iter()
        .any(|m| CLASSIFICATION.contains(&m.metric.as_str()));
    let mut values: HashMap<&str, Option<f64>> = HashMap::new();
    if wants_classification {
        let labels = labels.binary("labels")?;
        let predicted = predictions.binary("predictions")?;
        let metrics = classification(&labels, &predicted, batch.scores.as_deref())
            .map_err(|e| ApiError::invalid("labels", e.to_string()))?;
        values.insert("accuracy", Some(metrics.accuracy));
        values.insert("precision", metrics.precision);
        values.insert("recall", metrics.recall);
        values.insert("f1", metrics.f1);
        values.insert("roc_auc", metrics.roc_auc);
    }
    if plan
        .performance
        .iter()
        .any(|m| REGRESSION.contains(&m.metric.as_str()))
    {
        let labels = labels.numbers("labels")?;
        let predicted = predictions.numbers("predictions")?;
        let metrics = regression(&labels, &predicted)
            .map_err(|e| ApiError::invalid("labels", e.to_string()))?;
        values.insert("mae", Some(metrics.mae));
        values.insert("rmse", Some(metrics.rmse));
        values.insert("r2", metrics.r2);
    }
    let mut results = Vec::new();
    for threshold in &plan.performance {
        let value = values.get(threshold.metric.as_str()).copied().flatten();
        results.push(json!({
            "metric": threshold.metric,
            "value": value,
            "op": threshold.op,
            "threshold": threshold.threshold,
            "passed": value.is_some_and(|v| threshold.passes(v)),
        }));
    }
    Ok(results)
}

/// Predictions or labels in the form they came in: JSON values (the JSON upload) or numbers
/// read from a file (NaN where a cell is missing), so a large file's columns are not copied
/// into JSON. Serialized as JSON values, NaN as `null`.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(untagged)]
pub enum Outcomes {
    Json(Vec<Value>),
    Numbers(Vec<f64>),
}

impl Outcomes {
    pub(crate) fn len(&self) -> usize {
        match self {
            Outcomes::Json(values) => values.len(),
            Outcomes::Numbers(values) => values.len(),
        }
    }

    fn binary(&self, field: &str) -> Result<Vec<bool>, ApiError> {
        match self {
            Outcomes::Json(values) => binary(values, field),
            Outcomes::Numbers(values) => values
                .iter()
                .enumerate()
                .map(|(row, &v)| match v {
                    1.0 => Ok(true),
                    0.0 => Ok(false),
                    other => Err(not_binary(field, row, &number_text(other))),
                })
                .collect(),
        }
    }

    fn numbers(&self, field: &str) -> Result<Vec<f64>, ApiError> {
        match self {
            Outcomes::Json(values) => numbers(values, field),
            Outcomes::Numbers(values) => match values.iter().position(|v| v.is_nan()) {
                Some(row) => Err(not_a_number(field, row, "null")),
                None => Ok(values.clone()),
            },
        }
    }
}

fn number_text(v: f64) -> String {
    match v.is_nan() {
        true => "null".to_owned(),
        false => v.to_string(),
    }
}

fn not_binary(field: &str, row: usize, found: &str) -> ApiError {
    ApiError::invalid(
        format!("{field}/{row}"),
        format!("{field}[{row}] is {found}: a binary classification takes true/false or 1/0"),
    )
}

fn not_a_number(field: &str, row: usize, found: &str) -> ApiError {
    ApiError::invalid(
        format!("{field}/{row}"),
        format!("{field}[{row}] is {found}, not a number"),
    )
}

/// Labels of a binary classification: booleans, or the numbers 0 and 1.
fn binary(values: &[Value], field: &str) -> Result<Vec<bool>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(row, value)| match value {
            Value::Bool(flag) => Ok(*flag),
            Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
            Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
            other => Err(not_binary(field, row, &other.to_string())),
        })
        .collect()
}

fn numbers(values: &[Value], field: &str) -> Result<Vec<f64>, ApiError> {
    values
        .iter()
        .enumerate()
        .map(|(row, value)| {
            value
                .as_f64()
                .ok_or_else(|| not_a_number(field, row, &value.to_string()))
        })
        .collect()
}
