//! Performance metrics of a model on a labelled batch, as scikit-learn 1.9 computes them:
//! binary classification (accuracy, precision, recall, F1 for the positive class, ROC AUC from
//! scores) and regression (MAE, RMSE, R2).
//!
//! # Undefined figures
//!
//! Where a figure is undefined it is `None` (JSON `null`) rather than the number scikit-learn
//! substitutes by default:
//! - precision with no predicted positive, recall with no actual positive, F1 with neither
//!   (scikit-learn's default `zero_division="warn"` returns 0.0 with a warning;
//!   `zero_division=np.nan` returns NaN, which these match);
//! - ROC AUC when the labels hold one class only (scikit-learn warns and returns NaN);
//! - R2 with fewer than two rows, or when every label is the same (scikit-learn's default
//!   `force_finite=True` returns 1.0 for a perfect prediction and 0.0 otherwise; with
//!   `force_finite=False` NaN or -inf).
//!
//! ROC AUC is the area under the ROC curve with tied scores taken together (one diagonal step,
//! as `roc_auc_score` does), summed exactly in integers and divided once.

use serde::Serialize;

use crate::drift::sample::Sum;

/// What can be wrong with the columns given to the metrics.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PerformanceError {
    #[error("no rows")]
    Empty,
    #[error("{column} has {found} rows but the labels have {labels}")]
    LengthsDiffer {
        column: &'static str,
        labels: usize,
        found: usize,
    },
    #[error("{column} row {row} is not a finite number ({value})")]
    NonFinite {
        column: &'static str,
        row: usize,
        value: f64,
    },
}

/// Binary classification metrics; the positive class is `true`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassificationMetrics {
    pub rows: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub true_negatives: u64,
    pub false_negatives: u64,
    pub accuracy: f64,
    /// None: nothing predicted positive.
    pub precision: Option<f64>,
    /// None: no actual positive.
    pub recall: Option<f64>,
    /// None: no actual and no predicted positive.
    pub f1: Option<f64>,
    /// None: no scores given, or the labels hold one class only.
    pub roc_auc: Option<f64>,
}

/// The metrics of `predictions` (and `scores`, larger meaning more likely positive) against
/// `labels`.
pub fn classification(
    labels: &[bool],
    predictions: &[bool],
    scores: Option<&[f64]>,
) -> Result<ClassificationMetrics, PerformanceError> {
    if labels.is_empty() {
        return Err(PerformanceError::Empty);
    }
    same_length("predictions", labels.len(), predictions.len())?;
    if let Some(scores) = scores {
        same_length("scores", labels.len(), scores.len())?;
        finite("scores", scores)?;
    }
    let (mut tp, mut fp, mut tn, mut fn_) = (0u64, 0u64, 0u64, 0u64);
    for (label, prediction) in labels.iter().zip(predictions) {
        match (label, prediction) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
            (true, false) => fn_ += 1,
        }
    }
    let ratio = |num: u64, den: u64| (den > 0).then(|| num as f64 / den as f64);
    Ok(ClassificationMetrics {
        rows: labels.len() as u64,
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
        accuracy: (tp + tn) as f64 / labels.len() as f64,
        precision: ratio(tp, tp + fp),
        recall: ratio(tp, tp + fn_),
        f1: ratio(2 * tp, 2 * tp + fp + fn_),
        roc_auc: scores.and_then(|scores| roc_auc(labels, scores)),
    })
}

/// The area under the ROC curve, ties handled as one step; None with one class only.
fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_unstable_by(|a, b| scores[*b].total_cmp(&scores[*a]));
    let positives = labels.iter().filter(|l| **l).count() as u128;
    let negatives = labels.len() as u128 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    // Twice the area in units of (1 / P) x (1 / N): each tie group adds fp_g (2 tp_before + tp_g).
    let mut twice_area: u128 = 0;
    let mut tp_before: u128 = 0;
    let mut start = 0;
    while start < order.len() {
        let score = scores[order[start]];
        let mut end = start;
        let (mut tp_group, mut fp_group) = (0u128, 0u128);
        while end < order.len() && scores[order[end]] == score {
            if labels[order[end]] {
                tp_group += 1;
            } else {
                fp_group += 1;
            }
            end += 1;
        }
        twice_area += fp_group * (2 * tp_before + tp_group);
        tp_before += tp_group;
        start = end;
    }
    Some(twice_area as f64 / (2 * positives * negatives) as f64)
}

/// Regression metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegressionMetrics {
    pub rows: u64,
    pub mae: f64,
    pub rmse: f64,
    /// None: fewer than two rows, or constant labels.
    pub r2: Option<f64>,
}

/// MAE, RMSE and R2 of `predictions` against `labels`.
pub fn regression(
    labels: &[f64],
    predictions: &[f64],
) -> Result<RegressionMetrics, PerformanceError> {
    if labels.is_empty() {
        return Err(PerformanceError::Empty);
    }
    same_length("predictions", labels.len(), predictions.len())?;
    finite("labels", labels)?;
    finite("predictions", predictions)?;
    let n = labels.len() as f64;
    let (mut absolute, mut squared, mut total) = (Sum::default(), Sum::default(), Sum::default());
    for (y, p) in labels.iter().zip(predictions) {
        absolute.add((y - p).abs());
        squared.add((y - p) * (y - p));
        total.add(*y);
    }
    let mean = total.value() / n;
    let mut spread = Sum::default();
    labels
        .iter()
        .for_each(|y| spread.add((y - mean) * (y - mean)));
    let (residual, spread) = (squared.value(), spread.value());
    let r2 = (labels.len() >= 2 && spread != 0.0).then(|| 1.0 - residual / spread);
    Ok(RegressionMetrics {
        rows: labels.len() as u64,
        mae: absolute.value() / n,
        rmse: (residual / n).sqrt(),
        r2,
    })
}

fn same_length(column: &'static str, labels: usize, found: usize) -> Result<(), PerformanceError> {
    if labels == found {
        Ok(())
    } else {
        Err(PerformanceError::LengthsDiffer {
            column,
            labels,
            found,
        })
    }
}

fn finite(column: &'static str, values: &[f64]) -> Result<(), PerformanceError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(row) => Err(PerformanceError::NonFinite {
            column,
            row,
            value: values[row],
        }),
        None => Ok(()),
    }
}
