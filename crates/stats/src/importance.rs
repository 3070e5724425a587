//! Importance figures of an uploaded attribution matrix (rows × features, SHAP values say) for
//! explainability records.
//!
//! This module owns: the [`AttributionMatrix`] as uploaded (feature names, one attribution per
//! row and feature, base values, optionally the model's outputs) and its validation; global
//! importance, the mean absolute attribution per feature as `shap`'s bar plot shows it, sorted
//! descending (ties keep the uploaded feature order); the additivity check (base value plus the
//! row's attributions equals the model output) with its largest deviation; and the selection of
//! local explanations (chosen rows' attributions).

use serde::{Deserialize, Serialize};

/// Base values: one for every row, or one per row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BaseValues {
    Shared(f64),
    PerRow(Vec<f64>),
}

/// An attribution matrix as uploaded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributionMatrix {
    /// One name per column.
    pub feature_names: Vec<String>,
    /// One row per explained sample, one attribution per feature.
    pub attributions: Vec<Vec<f64>>,
    /// The expected model output the attributions start from.
    pub base_values: BaseValues,
    /// The model's output for each row, when given: enables the additivity check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<f64>>,
}

/// Why an attribution matrix could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportanceError {
    #[error("the attribution matrix has no rows")]
    EmptyMatrix,
    #[error("the attribution matrix has no features (no feature names and empty rows)")]
    NoFeatures,
    #[error("{names} feature names for {columns} attribution columns: give one name per column")]
    FeatureNameCount { names: usize, columns: usize },
    #[error("feature name {name:?} appears more than once")]
    DuplicateFeatureName { name: String },
    #[error("attribution row {row} has {found} values but the matrix has {expected} features")]
    RaggedRow {
        row: usize,
        found: usize,
        expected: usize,
    },
    #[error("attribution of feature {feature:?} in row {row} is not a finite number ({value})")]
    NonFiniteAttribution {
        row: usize,
        feature: String,
        value: f64,
    },
    #[error("{what} in row {row} is not a finite number ({value})")]
    NonFiniteValue {
        what: &'static str,
        row: usize,
        value: f64,
    },
    #[error("{found} {what} for {rows} rows: give one per row")]
    CountMismatch {
        what: &'static str,
        found: usize,
        rows: usize,
    },
    #[error("row {index} was asked for, but the matrix has {rows} rows (0 to {})", .rows.saturating_sub(1))]
    RowOutOfRange { index: usize, rows: usize },
}

/// One feature's global importance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureImportance {
    pub feature: String,
    /// Mean over rows of the absolute attribution.
    pub mean_abs_attribution: f64,
}

/// How far the rows are from base value + sum of attributions = model output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdditivityCheck {
    pub rows_checked: u64,
    /// The largest |base value + sum of attributions − output|.
    pub max_abs_deviation: f64,
    /// The first row with that deviation.
    pub worst_row: u64,
    pub mean_abs_deviation: f64,
}

impl AdditivityCheck {
    /// Whether every row's deviation is at most `tolerance`.
    pub fn holds_within(&self, tolerance: f64) -> bool {
        self.max_abs_deviation <= tolerance
    }
}

/// Global importance of an attribution matrix; stored as JSON in the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportanceReport {
    pub rows: u64,
    pub features: u64,
    /// Every feature, most important first (ties in uploaded order).
    pub ranking: Vec<FeatureImportance>,
    /// Present when the outputs were uploaded.
    pub additivity: Option<AdditivityCheck>,
}

impl ImportanceReport {
    /// The mean absolute attribution of a feature, if the matrix has it.
    pub fn importance_of(&self, feature: &str) -> Option<f64> {
        self.ranking
            .iter()
            .find(|importance| importance.feature == feature)
            .map(|importance| importance.mean_abs_attribution)
    }
}

/// One feature's attribution in one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureAttribution {
    pub feature: String,
    pub attribution: f64,
}

/// One row's explanation: where it starts, what each feature adds, where it ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalExplanation {
    pub row: u64,
    pub base_value: f64,
    /// Base value plus the sum of the attributions.
    pub explained_output: f64,
    /// The uploaded model output, when given.
    pub output: Option<f64>,
    /// In uploaded feature order.
    pub attributions: Vec<FeatureAttribution>,
}

impl AttributionMatrix {
    /// Checks the shape and the numbers: at least one row and one feature, one name per column
    /// and no name twice, every row as long as the names, one base value (or one per row) and
    /// one output per row when outputs are given, every number finite.
    pub fn validate(&self) -> Result<(), ImportanceError> {
        if self.attributions.is_empty() {
            return Err(ImportanceError::EmptyMatrix);
        }
        let rows = self.attributions.len();
        let columns = self.attributions[0].len();
        if self.feature_names.is_empty() && columns == 0 {
            return Err(ImportanceError::NoFeatures);
        }
        if self.feature_names.len() != columns {
            return Err(ImportanceError::FeatureNameCount {
                names: self.feature_names.len(),
                columns,
            });
        }
        for (index, name) in self.feature_names.iter().enumerate() {
            if self.feature_names[..index].contains(name) {
                return Err(ImportanceError::DuplicateFeatureName { name: name.clone() });
            }
        }
        for (row, values) in self.attributions.iter().enumerate() {
            if values.len() != columns {
                return Err(ImportanceError::RaggedRow {
                    row,
                    found: values.len(),
                    expected: columns,
                });
            }
            if let Some((column, &value)) = values
                .iter()
                .enumerate()
                .find(|(_, value)| !value.is_finite())
            {
                return Err(ImportanceError::NonFiniteAttribution {
                    row,
                    feature: self.feature_names[column].clone(),
                    value,
                });
            }
        }
        match &self.base_values {
            BaseValues::Shared(value) => check_finite("the base value", &[*value])?,
            BaseValues::PerRow(values) => {
                check_count("base values", values.len(), rows)?;
                check_finite("base value", values)?;
            }
        }
        if let Some(outputs) = &self.outputs {
            check_count("outputs", outputs.len(), rows)?;
            check_finite("output", outputs)?;
        }
        Ok(())
    }

    /// The base value of a row (validated matrix).
    fn base_value(&self, row: usize) -> f64 {
        match &self.base_values {
            BaseValues::Shared(value) => *value,
            BaseValues::PerRow(values) => values[row],
        }
    }
}

fn check_count(what: &'static str, found: usize, rows: usize) -> Result<(), ImportanceError> {
    if found == rows {
        Ok(())
    } else {
        Err(ImportanceError::CountMismatch { what, found, rows })
    }
}

fn check_finite(what: &'static str, values: &[f64]) -> Result<(), ImportanceError> {
    match values.iter().position(|value| !value.is_finite()) {
        Some(row) => Err(ImportanceError::NonFiniteValue {
            what,
            row,
            value: values[row],
        }),
        None => Ok(()),
    }
}

/// Global importance (mean |attribution| per feature, most important first) and, when outputs
/// were uploaded, the additivity check.
pub fn global_importance(matrix: &AttributionMatrix) -> Result<ImportanceReport, ImportanceError> {
    matrix.validate()?;
    let rows = matrix.attributions.len();
    let mut sums = vec![0.0_f64; matrix.feature_names.len()];
    for values in &matrix.attributions {
        for (sum, value) in sums.iter_mut().zip(values) {
            *sum += value.abs();
        }
    }
    let mut ranking: Vec<FeatureImportance> = matrix
        .feature_names
        .iter()
        .zip(&sums)
        .map(|(feature, sum)| FeatureImportance {
            feature: feature.clone(),
            mean_abs_attribution: sum / rows as f64,
        })
        .collect();
    // A stable sort: equal importances keep the uploaded feature order.
    ranking.sort_by(|a, b| b.mean_abs_attribution.total_cmp(&a.mean_abs_attribution));
    Ok(ImportanceReport {
        rows: rows as u64,
        features: matrix.feature_names.len() as u64,
        ranking,
        additivity: matrix
            .outputs
            .as_deref()
            .map(|outputs| additivity(matrix, outputs)),
    })
}

fn additivity(matrix: &AttributionMatrix, outputs: &[f64]) -> AdditivityCheck {
    let mut max_abs_deviation = 0.0_f64;
    let mut worst_row = 0;
    let mut total = 0.0_f64;
    for (row, (values, output)) in matrix.attributions.iter().zip(outputs).enumerate() {
        let explained = matrix.base_value(row) + values.iter().sum::<f64>();
        let deviation = (explained - output).abs();
        total += deviation;
        if deviation > max_abs_deviation {
            max_abs_deviation = deviation;
            worst_row = row;
        }
    }
    AdditivityCheck {
        rows_checked: outputs.len() as u64,
        max_abs_deviation,
        worst_row: worst_row as u64,
        mean_abs_deviation: total / outputs.len() as f64,
    }
}

/// The explanations of the chosen rows, in the order asked (a row asked twice is given twice).
pub fn local_explanations(
    matrix: &AttributionMatrix,
    row_indices: &[usize],
) -> Result<Vec<LocalExplanation>, ImportanceError> {
    matrix.validate()?;
    let rows = matrix.attributions.len();
    row_indices
        .iter()
        .map(|&row| {
            let values = matrix
                .attributions
                .get(row)
                .ok_or(ImportanceError::RowOutOfRange { index: row, rows })?;
            let base_value = matrix.base_value(row);
            Ok(LocalExplanation {
                row: row as u64,
                base_value,
                explained_output: base_value + values.iter().sum::<f64>(),
                output: matrix.outputs.as_ref().map(|outputs| outputs[row]),
                attributions: matrix
                    .feature_names
                    .iter()
                    .zip(values)
                    .map(|(feature, &attribution)| FeatureAttribution {
                        feature: feature.clone(),
                        attribution,
                    })
                    .collect(),
            })
        })
        .collect()
}
