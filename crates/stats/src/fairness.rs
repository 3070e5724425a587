//! Fairness figures of a binary classifier, computed from uploaded labels, predictions and
//! sensitive attributes exactly as Fairlearn 0.15 defines them, so that bias evidence in the trail
//! is derived rather than typed in.
//!
//! This module owns: the [`Label`] type and binarisation against a positive label; the per-group
//! metrics of Fairlearn's `MetricFrame.by_group` (count, selection rate, true and false positive
//! rates, accuracy, with the confusion counts behind them); the aggregates
//! `demographic_parity_difference` / `_ratio`, `equalized_odds_difference` / `_ratio` (Fairlearn's
//! defaults `method="between_groups"`, `agg="worst_case"`, and the `agg="mean"` variants),
//! `equal_opportunity_difference` / `_ratio`; disparate impact with the four-fifths rule; and the
//! lookup of named figures ([`FairnessReport::figure`]) that acceptance criteria are evaluated on.
//!
//! # Groups
//!
//! [`FairnessReport::intersection`] groups rows by the combination of all sensitive attributes,
//! as Fairlearn does when given several `sensitive_features`; combinations that no row has (which
//! Fairlearn lists as all-NaN rows and skips) are only counted. [`FairnessReport::by_attribute`]
//! holds the same figures for each attribute on its own. Groups are ordered as Fairlearn orders
//! them: by value, then by the next attribute's value (code-point order).
//!
//! # Undefined rates
//!
//! A group with no actual positives has no true positive rate, and one with no actual negatives
//! has no false positive rate. Fairlearn (through scikit-learn's `confusion_matrix(normalize=
//! "true")`) returns 0.0 for these without a warning, and uses that 0.0 in every aggregate. Here:
//! - the group's rate is `None` (JSON `null`) and its `positives` / `negatives` count is 0, so the
//!   report never shows an invented 0;
//! - the aggregates count it as 0.0, exactly as Fairlearn does (so they match Fairlearn's numbers:
//!   a group without positives makes `equal_opportunity_ratio` and `equalized_odds_ratio` 0), and
//!   [`Disaggregation::notes`] says so;
//! - looking the group's rate up by name is an error ([`FigureError::Undefined`]).
//!
//! A ratio whose largest group value is 0 (every group's selection rate is 0, say) is 0/0: NaN in
//! Fairlearn, `None` here. `equalized_odds_ratio` follows Fairlearn's `min(tpr_ratio, fpr_ratio)`
//! exactly, NaN handling included: undefined when the true-positive-rate ratio is undefined, the
//! true-positive-rate ratio when only the false-positive-rate ratio is undefined. The `_mean`
//! variants average the defined parts (pandas skips NaN).
//!
//! # Figure names
//!
//! Looked up by [`FairnessReport::figure`] (`attribute` `None` means the intersection of all
//! attributes, `Some(name)` that attribute alone):
//!
//! | name | value |
//! |---|---|
//! | `demographic_parity_difference` | largest minus smallest group selection rate |
//! | `demographic_parity_ratio` | smallest over largest group selection rate |
//! | `disparate_impact` | the same ratio, named as the four-fifths rule names it |
//! | `four_fifths_rule_passed` | 1.0 if every group's selection rate is at least 4/5 of the highest, else 0.0 |
//! | `equalized_odds_difference` | larger of the TPR and FPR differences (`agg="worst_case"`) |
//! | `equalized_odds_ratio` | smaller of the TPR and FPR ratios (`agg="worst_case"`) |
//! | `equalized_odds_difference_mean`, `equalized_odds_ratio_mean` | `agg="mean"` |
//! | `equal_opportunity_difference`, `equal_opportunity_ratio` | of the true positive rates |
//! | `true_positive_rate_difference`, `true_positive_rate_ratio` | same as equal opportunity |
//! | `false_positive_rate_difference`, `false_positive_rate_ratio` | of the false positive rates |
//! | `group_count` | number of (non-empty) groups |
//! | `smallest_group_count` | rows in the smallest group |
//!
//! and the per-group metrics `count`, `positives`, `negatives`, `predicted_positives`,
//! `selection_rate`, `true_positive_rate`, `false_positive_rate`, `accuracy` and
//! `disparate_impact_ratio` (the group's selection rate over the highest), written
//! `selection_rate[F]` for group `F` of the attribute, or `selection_rate[F][old]` for a group of
//! the intersection (one bracket per attribute, in attribute order). Without brackets they are
//! the overall figure over all rows (`disparate_impact_ratio` has no overall value).
//! [`FairnessReport::group_figure`] takes the group as a slice instead (for values holding `]`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

/// The Fairlearn release whose definitions this module reproduces (and whose output the tests'
/// fixtures hold).
pub const FAIRLEARN_REFERENCE: &str = "fairlearn 0.15.0";

/// The four-fifths rule: a group's selection rate below this fraction of the highest group's
/// indicates adverse impact.
pub const FOUR_FIFTHS_THRESHOLD: f64 = 0.8;

/// One label or prediction as uploaded: a boolean, a number (0/1, -1/1, …) or a string.
///
/// Labels, predictions and the positive label must all be of the same kind; values are equal
/// only when kind and value are equal (`1` is not `"1"`, `true` is not `1`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Label {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl Label {
    /// Reads one JSON value as a label; `column` and `row` name it in the error.
    pub fn from_json(
        value: &serde_json::Value,
        column: &str,
        row: usize,
    ) -> Result<Label, FairnessError> {
        use serde_json::Value;
        let unsupported = |found: &'static str| FairnessError::UnsupportedLabelValue {
            column: column.to_owned(),
            row,
            found,
        };
        match value {
            Value::Bool(flag) => Ok(Label::Bool(*flag)),
            Value::Number(number) => number
                .as_f64()
                .filter(|number| number.is_finite())
                .map(Label::Number)
                .ok_or_else(|| unsupported("a number outside the range of f64")),
            Value::String(text) => Ok(Label::Text(text.clone())),
            Value::Null => Err(unsupported("null")),
            Value::Array(_) => Err(unsupported("an array")),
            Value::Object(_) => Err(unsupported("an object")),
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Label::Bool(_) => "a boolean",
            Label::Number(_) => "a number",
            Label::Text(_) => "a string",
        }
    }
}

impl fmt::Display for Label {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Bool(flag) => write!(formatter, "{flag}"),
            Label::Number(number) => write!(formatter, "{number}"),
            Label::Text(text) => write!(formatter, "{text:?}"),
        }
    }
}

/// Reads a column of JSON values as labels (see [`Label::from_json`]).
pub fn labels_from_json(
    values: &[serde_json::Value],
    column: &str,
) -> Result<Vec<Label>, FairnessError> {
    values
        .iter()
        .enumerate()
        .map(|(row, value)| Label::from_json(value, column, row))
        .collect()
}

/// Why fairness figures could not be computed from the input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FairnessError {
    #[error("no rows: labels and predictions are both empty")]
    Empty,
    #[error(
        "{what} has {found} values but labels has {expected}: every column needs one value per row"
    )]
    LengthMismatch {
        what: String,
        found: usize,
        expected: usize,
    },
    #[error(
        "no sensitive attribute given: fairness figures compare groups of at least one attribute"
    )]
    NoSensitiveAttributes,
    #[error("sensitive attribute number {index} has an empty name")]
    UnnamedAttribute { index: usize },
    #[error("sensitive attribute {attribute:?} is given more than once")]
    DuplicateAttribute { attribute: String },
    #[error("sensitive attribute {attribute:?} has no values")]
    AttributeWithoutValues { attribute: String },
    #[error("sensitive attribute {attribute:?} has an empty value in row {row}: name the group (\"unknown\", say) rather than leave it blank")]
    MissingSensitiveValue { attribute: String, row: usize },
    #[error(
        "{column} row {row} is {found}, which cannot be a label (a boolean, number or string)"
    )]
    UnsupportedLabelValue {
        column: String,
        row: usize,
        found: &'static str,
    },
    #[error("{column} row {row} is not a finite number")]
    NonFiniteLabel { column: String, row: usize },
    #[error("the positive label is not a finite number")]
    NonFinitePositiveLabel,
    #[error("{column} row {row} is {found} but the positive label {positive} is {expected}: labels, predictions and the positive label must all be booleans, all numbers or all strings")]
    MixedLabelKinds {
        column: String,
        row: usize,
        found: &'static str,
        positive: Label,
        expected: &'static str,
    },
    #[error("labels and predictions together hold more than two distinct values ({}, …): a binary classification has two", .values.join(", "))]
    NotBinary { values: Vec<String> },
    #[error("the positive label {positive} is not one of the two values of labels and predictions ({})", .values.join(", "))]
    PositiveLabelAbsent {
        positive: Label,
        values: Vec<String>,
    },
}

/// Why a named figure could not be read from a report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FigureError {
    #[error("unknown fairness figure {name:?}; known: {}", known_figures())]
    UnknownFigure { name: String },
    #[error("malformed figure name {name:?}: write metric or metric[group value] (one bracket per attribute)")]
    MalformedName { name: String },
    #[error("figure {name:?} needs a group, written {name}[value]")]
    GroupRequired { name: String },
    #[error("aggregate figure {name:?} takes no group")]
    GroupNotAllowed { name: String },
    #[error("no sensitive attribute {attribute:?}; known: {}", .known.join(", "))]
    UnknownAttribute {
        attribute: String,
        known: Vec<String>,
    },
    #[error("no group {} among {attributes:?}", format_group(.group))]
    UnknownGroup {
        group: Vec<String>,
        attributes: Vec<String>,
    },
    #[error("figure {name:?} is undefined: {reason}")]
    Undefined { name: String, reason: String },
}

fn format_group(group: &[String]) -> String {
    group
        .iter()
        .map(|value| format!("[{value}]"))
        .collect::<String>()
}

/// The aggregate figure names [`FairnessReport::figure`] knows.
pub const AGGREGATE_FIGURES: &[&str] = &[
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "four_fifths_rule_passed",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equalized_odds_difference_mean",
    "equalized_odds_ratio_mean",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "true_positive_rate_difference",
    "true_positive_rate_ratio",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "group_count",
    "smallest_group_count",
];

/// The per-group (or overall) metric names [`FairnessReport::figure`] knows.
pub const GROUP_FIGURES: &[&str] = &[
    "count",
    "positives",
    "negatives",
    "predicted_positives",
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "accuracy",
    "disparate_impact_ratio",
];

/// The names of [`AGGREGATE_FIGURES`] and [`GROUP_FIGURES`], for the unknown-figure message.
fn known_figures() -> String {
    AGGREGATE_FIGURES
        .iter()
        .map(|name| (*name).to_owned())
        .chain(GROUP_FIGURES.iter().map(|name| format!("{name}[group]")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The metrics of one group of rows (or of all rows), with the confusion counts behind them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// The group's value of each attribute, in the disaggregation's attribute order (empty for
    /// the overall figures).
    pub group: Vec<String>,
    pub count: u64,
    /// Rows whose label is positive.
    pub positives: u64,
    /// Rows whose label is negative.
    pub negatives: u64,
    /// Rows predicted positive.
    pub predicted_positives: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub true_negatives: u64,
    pub false_negatives: u64,
    /// Predicted positives over count.
    pub selection_rate: f64,
    /// True positives over positives (recall); `None` when the group has no positives.
    pub true_positive_rate: Option<f64>,
    /// False positives over negatives; `None` when the group has no negatives.
    pub false_positive_rate: Option<f64>,
    /// Correct predictions over count.
    pub accuracy: f64,
}

/// One group's standing under the four-fifths rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupImpact {
    pub group: Vec<String>,
    pub selection_rate: f64,
    /// Selection rate over the reference group's; `None` when no group is selected at all.
    pub ratio_to_reference: Option<f64>,
    /// Whether the ratio is at least 4/5 (decided on exact counts); `None` when undefined.
    pub passes: Option<bool>,
}

/// Disparate impact: each group's selection rate against the highest, and the four-fifths rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DisparateImpact {
    /// The group with the highest selection rate (the first in group order on a tie).
    pub reference_group: Vec<String>,
    pub reference_selection_rate: f64,
    /// Lowest over highest selection rate (equal to `demographic_parity_ratio`); `None` when
    /// every selection rate is 0.
    pub ratio: Option<f64>,
    /// Whether every group's ratio is at least 4/5, decided on exact counts so that a ratio of
    /// exactly 4/5 passes whatever floating point makes of it; `None` when the ratio is undefined.
    pub passes_four_fifths_rule: Option<bool>,
    pub groups: Vec<GroupImpact>,
}

/// Per-group metrics and their aggregates for one grouping of the rows: one attribute, or the
/// intersection of all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Disaggregation {
    /// The attributes whose combined values form the groups.
    pub attributes: Vec<String>,
    /// The non-empty groups, in Fairlearn's order.
    pub groups: Vec<GroupMetrics>,
    /// Combinations of attribute values that no row has (Fairlearn's all-NaN rows; skipped by
    /// every aggregate). Always 0 for a single attribute.
    pub empty_intersections: u64,
    pub demographic_parity_difference: f64,
    pub demographic_parity_ratio: Option<f64>,
    pub true_positive_rate_difference: f64,
    pub true_positive_rate_ratio: Option<f64>,
    pub false_positive_rate_difference: f64,
    pub false_positive_rate_ratio: Option<f64>,
    /// `agg="worst_case"`: the larger of the two differences.
    pub equalized_odds_difference: f64,
    /// `agg="worst_case"`: Fairlearn's `min(tpr_ratio, fpr_ratio)` (see the module notes).
    pub equalized_odds_ratio: Option<f64>,
    /// `agg="mean"`: the mean of the two differences.
    pub equalized_odds_difference_mean: f64,
    /// `agg="mean"`: the mean of the defined ratios.
    pub equalized_odds_ratio_mean: Option<f64>,
    pub disparate_impact: DisparateImpact,
    /// What a reader must know to read the figures right (undefined rates and how they count).
    pub notes: Vec<String>,
}

/// Every fairness figure of one assessment; stored as JSON in the ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FairnessReport {
    /// Whose definitions the figures follow.
    pub definitions: String,
    pub rows: u64,
    /// The label value counted as positive (`true` when the input was already binary).
    pub positive_label: Label,
    /// The sensitive attributes, in the order given.
    pub attributes: Vec<String>,
    /// Metrics over all rows (Fairlearn's `MetricFrame.overall`).
    pub overall: GroupMetrics,
    /// Groups formed by all attributes together (Fairlearn with every sensitive feature).
    pub intersection: Disaggregation,
    /// Each attribute on its own, in the order given.
    pub by_attribute: Vec<Disaggregation>,
}

/// Computes the fairness figures of predictions against labels, grouped by the sensitive
/// attributes (`(name, one value per row)`), counting `positive_label` as the positive class.
pub fn assess(
    labels: &[Label],
    predictions: &[Label],
    positive_label: &Label,
    sensitive: &[(String, Vec<String>)],
) -> Result<FairnessReport, FairnessError> {
    check_columns(labels.len(), predictions.len(), sensitive)?;
    let (labels, predictions) = binarise(labels, predictions, positive_label)?;
    Ok(assess_checked(
        &labels,
        &predictions,
        positive_label.clone(),
        sensitive,
    ))
}

/// [`assess`] for labels and predictions already binary (`true` is positive).
pub fn assess_binary(
    labels: &[bool],
    predictions: &[bool],
    sensitive: &[(String, Vec<String>)],
) -> Result<FairnessReport, FairnessError> {
    check_columns(labels.len(), predictions.len(), sensitive)?;
    Ok(assess_checked(
        labels,
        predictions,
        Label::Bool(true),
        sensitive,
    ))
}

/// Turns labels and predictions into booleans (`true` = equal to `positive_label`), refusing
/// them unless, as Fairlearn requires, labels and predictions together hold at most two distinct
/// values and, when they hold two, one of them is the positive label.
pub fn binarise(
    labels: &[Label],
    predictions: &[Label],
    positive_label: &Label,
) -> Result<(Vec<bool>, Vec<bool>), FairnessError> {
    if matches!(positive_label, Label::Number(number) if !number.is_finite()) {
        return Err(FairnessError::NonFinitePositiveLabel);
    }
    let mut distinct: Vec<&Label> = Vec::with_capacity(2);
    for (column, values) in [("labels", labels), ("predictions", predictions)] {
        for (row, value) in values.iter().enumerate() {
            if std::mem::discriminant(value) != std::mem::discriminant(positive_label) {
                return Err(FairnessError::MixedLabelKinds {
                    column: column.to_owned(),
                    row,
                    found: value.kind(),
                    positive: positive_label.clone(),
                    expected: positive_label.kind(),
                });
            }
            if matches!(value, Label::Number(number) if !number.is_finite()) {
                return Err(FairnessError::NonFiniteLabel {
                    column: column.to_owned(),
                    row,
                });
            }
            if !distinct.contains(&value) {
                distinct.push(value);
                if distinct.len() > 2 {
                    return Err(FairnessError::NotBinary {
                        values: distinct.iter().map(ToString::to_string).collect(),
                    });
                }
            }
        }
    }
    if distinct.len() == 2 && !distinct.contains(&positive_label) {
        return Err(FairnessError::PositiveLabelAbsent {
            positive: positive_label.clone(),
            values: distinct.iter().map(ToString::to_string).collect(),
        });
    }
    let is_positive = |values: &[Label]| -> Vec<bool> {
        values.iter().map(|value| value == positive_label).collect()
    };
    Ok((is_positive(labels), is_positive(predictions)))
}

/// Checks what every assessment needs: rows, one prediction and one value of each (named,
/// distinct) attribute per label, no blank attribute value.
fn check_columns(
    labels: usize,
    predictions: usize,
    sensitive: &[(String, Vec<String>)],
) -> Result<(), FairnessError> {
    if labels == 0 && predictions == 0 {
        return Err(FairnessError::Empty);
    }
    if predictions != labels {
        return Err(FairnessError::LengthMismatch {
            what: "predictions".to_owned(),
            found: predictions,
            expected: labels,
        });
    }
    if sensitive.is_empty() {
        return Err(FairnessError::NoSensitiveAttributes);
    }
    let mut seen = BTreeSet::new();
    for (index, (name, values)) in sensitive.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(FairnessError::UnnamedAttribute { index });
        }
        if !seen.insert(name.as_str()) {
            return Err(FairnessError::DuplicateAttribute {
                attribute: name.clone(),
            });
        }
        if values.is_empty() {
            return Err(FairnessError::AttributeWithoutValues {
                attribute: name.clone(),
            });
        }
        if values.len() != labels {
            return Err(FairnessError::LengthMismatch {
                what: format!("sensitive attribute {name:?}"),
                found: values.len(),
                expected: labels,
            });
        }
        if let Some(row) = values.iter().position(|value| value.trim().is_empty()) {
            return Err(FairnessError::MissingSensitiveValue {
                attribute: name.clone(),
                row,
            });
        }
    }
    Ok(())
}

/// The four cells of a confusion matrix.
#[derive(Clone, Copy, Debug, Default)]
struct ConfusionCounts {
    true_positives: u64,
    false_positives: u64,
    true_negatives: u64,
    false_negatives: u64,
}

impl ConfusionCounts {
    fn add(&mut self, label: bool, prediction: bool) {
        match (label, prediction) {
            (true, true) => self.true_positives += 1,
            (false, true) => self.false_positives += 1,
            (false, false) => self.true_negatives += 1,
            (true, false) => self.false_negatives += 1,
        }
    }

    fn metrics(&self, group: Vec<String>) -> GroupMetrics {
        let positives = self.true_positives + self.false_negatives;
        let negatives = self.false_positives + self.true_negatives;
        let count = positives + negatives;
        let predicted_positives = self.true_positives + self.false_positives;
        let fraction = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        GroupMetrics {
            group,
            count,
            positives,
            negatives,
            predicted_positives,
            true_positives: self.true_positives,
            false_positives: self.false_positives,
            true_negatives: self.true_negatives,
            false_negatives: self.false_negatives,
            selection_rate: fraction(predicted_positives, count).unwrap_or(0.0),
            true_positive_rate: fraction(self.true_positives, positives),
            false_positive_rate: fraction(self.false_positives, negatives),
            accuracy: fraction(self.true_positives + self.true_negatives, count).unwrap_or(0.0),
        }
    }
}

/// The report, once every input check has passed (lengths equal and non-zero, attributes valid).
fn assess_checked(
    labels: &[bool],
    predictions: &[bool],
    positive_label: Label,
    sensitive: &[(String, Vec<String>)],
) -> FairnessReport {
    let mut overall = ConfusionCounts::default();
    for (&label, &prediction) in labels.iter().zip(predictions) {
        overall.add(label, prediction);
    }
    let all_attributes: Vec<usize> = (0..sensitive.len()).collect();
    FairnessReport {
        definitions: format!(
            "{FAIRLEARN_REFERENCE}: method=\"between_groups\", equalized odds agg=\"worst_case\" (and \"mean\"); undefined rates count as 0 in aggregates"
        ),
        rows: labels.len() as u64,
        positive_label,
        attributes: sensitive.iter().map(|(name, _)| name.clone()).collect(),
        overall: overall.metrics(Vec::new()),
        intersection: disaggregate(labels, predictions, sensitive, &all_attributes),
        by_attribute: all_attributes
            .iter()
            .map(|&attribute| disaggregate(labels, predictions, sensitive, &[attribute]))
            .collect(),
    }
}

/// Groups the rows by the chosen attributes' values and computes every figure over the groups.
fn disaggregate(
    labels: &[bool],
    predictions: &[bool],
    sensitive: &[(String, Vec<String>)],
    chosen: &[usize],
) -> Disaggregation {
    let mut counts_by_group: BTreeMap<Vec<&str>, ConfusionCounts> = BTreeMap::new();
    for (row, (&label, &prediction)) in labels.iter().zip(predictions).enumerate() {
        let key: Vec<&str> = chosen
            .iter()
            .map(|&attribute| sensitive[attribute].1[row].as_str())
            .collect();
        counts_by_group
            .entry(key)
            .or_default()
            .add(label, prediction);
    }
    let possible_combinations = chosen.iter().fold(1_u64, |product, &attribute| {
        let distinct: BTreeSet<&str> = sensitive[attribute].1.iter().map(String::as_str).collect();
        product.saturating_mul(distinct.len() as u64)
    });
    let attributes: Vec<String> = chosen
        .iter()
        .map(|&attribute| sensitive[attribute].0.clone())
        .collect();
    let groups: Vec<GroupMetrics> = counts_by_group
        .iter()
        .map(|(key, counts)| counts.metrics(key.iter().map(|value| (*value).to_owned()).collect()))
        .collect();
    aggregate(
        attributes,
        groups,
        possible_combinations.saturating_sub(counts_by_group.len() as u64),
    )
}

/// Fairlearn's `between_groups` difference and ratio of one metric over the groups.
struct Spread {
    smallest: f64,
    largest: f64,
}

impl Spread {
    fn of(values: impl Iterator<Item = f64>) -> Spread {
        values.fold(
            Spread {
                smallest: f64::INFINITY,
                largest: f64::NEG_INFINITY,
            },
            |spread, value| Spread {
                smallest: spread.smallest.min(value),
                largest: spread.largest.max(value),
            },
        )
    }

    fn difference(&self) -> f64 {
        self.largest - self.smallest
    }

    /// `None` for 0/0 (every value 0), Fairlearn's NaN.
    fn ratio(&self) -> Option<f64> {
        (self.largest != 0.0).then(|| self.smallest / self.largest)
    }
}

fn aggregate(
    attributes: Vec<String>,
    groups: Vec<GroupMetrics>,
    empty_intersections: u64,
) -> Disaggregation {
    let selection = Spread::of(groups.iter().map(|group| group.selection_rate));
    // Fairlearn counts an undefined rate as 0.0 (scikit-learn's normalised confusion matrix).
    let true_positive = Spread::of(
        groups
            .iter()
            .map(|group| group.true_positive_rate.unwrap_or(0.0)),
    );
    let false_positive = Spread::of(
        groups
            .iter()
            .map(|group| group.false_positive_rate.unwrap_or(0.0)),
    );
    let true_positive_rate_ratio = true_positive.ratio();
    let false_positive_rate_ratio = false_positive.ratio();
    // Python's min([tpr_ratio, fpr_ratio]) with NaN: a NaN first stays, a NaN second is passed by.
    let equalized_odds_ratio = match (true_positive_rate_ratio, false_positive_rate_ratio) {
        (None, _) => None,
        (Some(tpr), None) => Some(tpr),
        (Some(tpr), Some(fpr)) => Some(tpr.min(fpr)),
    };
    let equalized_odds_ratio_mean = match (true_positive_rate_ratio, false_positive_rate_ratio) {
        (None, None) => None,
        (Some(only), None) | (None, Some(only)) => Some(only),
        (Some(tpr), Some(fpr)) => Some((tpr + fpr) / 2.0),
    };
    let notes = undefined_rate_notes(&attributes, &groups);
    let disparate_impact = disparate_impact(&groups);
    Disaggregation {
        attributes,
        empty_intersections,
        demographic_parity_difference: selection.difference(),
        demographic_parity_ratio: selection.ratio(),
        true_positive_rate_difference: true_positive.difference(),
        true_positive_rate_ratio,
        false_positive_rate_difference: false_positive.difference(),
        false_positive_rate_ratio,
        equalized_odds_difference: true_positive.difference().max(false_positive.difference()),
        equalized_odds_ratio,
        equalized_odds_difference_mean: (true_positive.difference() + false_positive.difference())
            / 2.0,
        equalized_odds_ratio_mean,
        disparate_impact,
        notes,
        groups,
    }
}

fn describe_group(attributes: &[String], group: &[String]) -> String {
    attributes
        .iter()
        .zip(group)
        .map(|(attribute, value)| format!("{attribute}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn undefined_rate_notes(attributes: &[String], groups: &[GroupMetrics]) -> Vec<String> {
    let mut notes = Vec::new();
    for group in groups {
        let name = describe_group(attributes, &group.group);
        if group.positives == 0 {
            notes.push(format!(
                "group {name} has no actual positives: its true positive rate is undefined, and is counted as 0 in the true-positive-rate, equal opportunity and equalized odds aggregates, as Fairlearn does"
            ));
        }
        if group.negatives == 0 {
            notes.push(format!(
                "group {name} has no actual negatives: its false positive rate is undefined, and is counted as 0 in the false-positive-rate and equalized odds aggregates, as Fairlearn does"
            ));
        }
    }
    notes
}

fn disparate_impact(groups: &[GroupMetrics]) -> DisparateImpact {
    // The highest selection rate, compared on exact fractions; the first group wins a tie.
    let reference = groups
        .iter()
        .fold(None::<&GroupMetrics>, |best, group| match best {
            Some(best)
                if u128::from(group.predicted_positives) * u128::from(best.count)
                    <= u128::from(best.predicted_positives) * u128::from(group.count) =>
            {
                Some(best)
            }
            _ => Some(group),
        });
    let Some(reference) = reference else {
        return DisparateImpact {
            reference_group: Vec::new(),
            reference_selection_rate: 0.0,
            ratio: None,
            passes_four_fifths_rule: None,
            groups: Vec::new(),
        };
    };
    let anyone_selected = reference.predicted_positives > 0;
    let impacts: Vec<GroupImpact> = groups
        .iter()
        .map(|group| {
            // rate / reference_rate >= 4/5  <=>  5 * selected * n_ref >= 4 * n * selected_ref
            let passes = 5 * u128::from(group.predicted_positives) * u128::from(reference.count)
                >= 4 * u128::from(group.count) * u128::from(reference.predicted_positives);
            GroupImpact {
                group: group.group.clone(),
                selection_rate: group.selection_rate,
                ratio_to_reference: anyone_selected
                    .then(|| group.selection_rate / reference.selection_rate),
                passes: anyone_selected.then_some(passes),
            }
        })
        .collect();
    let smallest = Spread::of(groups.iter().map(|group| group.selection_rate));
    DisparateImpact {
        reference_group: reference.group.clone(),
        reference_selection_rate: reference.selection_rate,
        ratio: anyone_selected.then(|| smallest.smallest / reference.selection_rate),
        passes_four_fifths_rule: anyone_selected
            .then(|| impacts.iter().all(|impact| impact.passes == Some(true))),
        groups: impacts,
    }
}

impl FairnessReport {
    /// The disaggregation by one attribute (`Some`), or by all of them together (`None`).
    pub fn disaggregation(&self, attribute: Option<&str>) -> Result<&Disaggregation, FigureError> {
        match attribute {
            None => Ok(&self.intersection),
            Some(wanted) => self
                .by_attribute
                .iter()
                .find(|disaggregation| disaggregation.attributes == [wanted])
                .ok_or_else(|| FigureError::UnknownAttribute {
                    attribute: wanted.to_owned(),
                    known: self.attributes.clone(),
                }),
        }
    }

    /// A named figure (see the module documentation for the names), for the given attribute or,
    /// with `None`, for the intersection of all attributes. Group metrics name their group in
    /// brackets: `selection_rate[F]`; without brackets they are the overall figure.
    pub fn figure(&self, name: &str, attribute: Option<&str>) -> Result<f64, FigureError> {
        let (metric, group) = parse_figure_name(name)?;
        match group {
            Some(group) => {
                let group: Vec<&str> = group.iter().map(String::as_str).collect();
                self.group_figure(metric, attribute, &group)
            }
            None if GROUP_FIGURES.contains(&metric) => {
                // Validate the attribute even though the overall figure does not depend on it.
                self.disaggregation(attribute)?;
                if metric == "disparate_impact_ratio" {
                    return Err(FigureError::GroupRequired {
                        name: metric.to_owned(),
                    });
                }
                group_metric(metric, &self.overall, None, "all rows")
            }
            None => aggregate_figure(metric, self.disaggregation(attribute)?),
        }
    }

    /// A per-group metric (one of [`GROUP_FIGURES`]) of the group with these attribute values
    /// (one per attribute of the disaggregation, in its order).
    pub fn group_figure(
        &self,
        name: &str,
        attribute: Option<&str>,
        group: &[&str],
    ) -> Result<f64, FigureError> {
        let disaggregation = self.disaggregation(attribute)?;
        if !GROUP_FIGURES.contains(&name) {
            return Err(if AGGREGATE_FIGURES.contains(&name) {
                FigureError::GroupNotAllowed {
                    name: name.to_owned(),
                }
            } else {
                FigureError::UnknownFigure {
                    name: name.to_owned(),
                }
            });
        }
        let found = disaggregation
            .groups
            .iter()
            .find(|metrics| {
                metrics
                    .group
                    .iter()
                    .map(String::as_str)
                    .eq(group.iter().copied())
            })
            .ok_or_else(|| FigureError::UnknownGroup {
                group: group.iter().map(|value| (*value).to_owned()).collect(),
                attributes: disaggregation.attributes.clone(),
            })?;
        let impact = disaggregation
            .disparate_impact
            .groups
            .iter()
            .find(|impact| impact.group == found.group);
        let description = format!(
            "group {}",
            describe_group(&disaggregation.attributes, &found.group)
        );
        group_metric(name, found, impact, &description)
    }
}

/// Splits `metric[a][b]` into `metric` and `["a", "b"]`.
fn parse_figure_name(name: &str) -> Result<(&str, Option<Vec<String>>), FigureError> {
    let malformed = || FigureError::MalformedName {
        name: name.to_owned(),
    };
    let Some(open) = name.find('[') else {
        return if name.contains(']') {
            Err(malformed())
        } else {
            Ok((name.trim(), None))
        };
    };
    let metric = name[..open].trim();
    let mut rest = &name[open..];
    let mut values = Vec::new();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[').ok_or_else(malformed)?;
        let close = inner.find(']').ok_or_else(malformed)?;
        let value = &inner[..close];
        if value.contains('[') {
            return Err(malformed());
        }
        values.push(value.to_owned());
        rest = &inner[close + 1..];
    }
    if metric.is_empty() {
        return Err(malformed());
    }
    Ok((metric, Some(values)))
}

fn defined(name: &str, value: Option<f64>, reason: &str) -> Result<f64, FigureError> {
    value.ok_or_else(|| FigureError::Undefined {
        name: name.to_owned(),
        reason: reason.to_owned(),
    })
}

fn aggregate_figure(name: &str, disaggregation: &Disaggregation) -> Result<f64, FigureError> {
    const NO_SELECTION: &str = "no group has any predicted positive (0/0)";
    const NO_TRUE_POSITIVE: &str = "no group has any true positive (0/0)";
    const NO_FALSE_POSITIVE: &str = "no group has any false positive (0/0)";
    const NO_RATE: &str = "neither true nor false positive rates differ from 0 in any group (0/0)";
    let d = disaggregation;
    match name {
        "demographic_parity_difference" => Ok(d.demographic_parity_difference),
        "demographic_parity_ratio" | "disparate_impact" => {
            defined(name, d.demographic_parity_ratio, NO_SELECTION)
        }
        "four_fifths_rule_passed" => defined(
            name,
            d.disparate_impact
                .passes_four_fifths_rule
                .map(|passed| if passed { 1.0 } else { 0.0 }),
            NO_SELECTION,
        ),
        "equalized_odds_difference" => Ok(d.equalized_odds_difference),
        "equalized_odds_ratio" => defined(name, d.equalized_odds_ratio, NO_TRUE_POSITIVE),
        "equalized_odds_difference_mean" => Ok(d.equalized_odds_difference_mean),
        "equalized_odds_ratio_mean" => defined(name, d.equalized_odds_ratio_mean, NO_RATE),
        "equal_opportunity_difference" | "true_positive_rate_difference" => {
            Ok(d.true_positive_rate_difference)
        }
        "equal_opportunity_ratio" | "true_positive_rate_ratio" => {
            defined(name, d.true_positive_rate_ratio, NO_TRUE_POSITIVE)
        }
        "false_positive_rate_difference" => Ok(d.false_positive_rate_difference),
        "false_positive_rate_ratio" => {
            defined(name, d.false_positive_rate_ratio, NO_FALSE_POSITIVE)
        }
        "group_count" => Ok(d.groups.len() as f64),
        "smallest_group_count" => {
            Ok(d.groups.iter().map(|group| group.count).min().unwrap_or(0) as f64)
        }
        _ => Err(FigureError::UnknownFigure {
            name: name.to_owned(),
        }),
    }
}

fn group_metric(
    name: &str,
    metrics: &GroupMetrics,
    impact: Option<&GroupImpact>,
    description: &str,
) -> Result<f64, FigureError> {
    match name {
        "count" => Ok(metrics.count as f64),
        "positives" => Ok(metrics.positives as f64),
        "negatives" => Ok(metrics.negatives as f64),
        "predicted_positives" => Ok(metrics.predicted_positives as f64),
        "selection_rate" => Ok(metrics.selection_rate),
        "accuracy" => Ok(metrics.accuracy),
        "true_positive_rate" => defined(
            name,
            metrics.true_positive_rate,
            &format!("{description} has no actual positives"),
        ),
        "false_positive_rate" => defined(
            name,
            metrics.false_positive_rate,
            &format!("{description} has no actual negatives"),
        ),
        "disparate_impact_ratio" => defined(
            name,
            impact.and_then(|impact| impact.ratio_to_reference),
            "no group has any predicted positive (0/0)",
        ),
        _ => Err(FigureError::UnknownFigure {
            name: name.to_owned(),
        }),
    }
}
