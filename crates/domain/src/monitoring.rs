//! Monitoring (DESIGN sections 2 and 4): a monitoring plan's content read as typed settings,
//! the breaches a batch's computed results amount to under the plan, and the records a breach
//! raises — an exception detected by the system and a draft change request linked to it. The
//! figures themselves are computed by the server (`modeltrail_stats`); this module decides what
//! they mean.

use serde::Serialize;
use serde_json::{json, Value};

/// Share of a feature's cells that may be missing before the batch counts as anomalous.
pub const DEFAULT_MAX_MISSING_SHARE: f64 = 0.1;
/// Share of a categorical feature's cells that may hold a category the reference never had.
pub const DEFAULT_MAX_UNSEEN_CATEGORY_SHARE: f64 = 0.01;
/// Share of a numerical feature's cells that may lie outside the reference's range.
pub const DEFAULT_MAX_OUT_OF_RANGE_SHARE: f64 = 0.01;
/// Prediction errors reported by the serving system, per row of the batch.
pub const DEFAULT_MAX_PREDICTION_ERROR_RATE: f64 = 0.01;

/// A feature the plan watches.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanFeature {
    pub name: String,
    /// `numerical` or `categorical`.
    pub kind: String,
    /// The plan's test name (`ks`, `chi_square`, ...), `None` or `auto` for the default.
    pub test: Option<String>,
    pub threshold: Option<f64>,
}

/// A performance metric and the threshold it must meet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerformanceThreshold {
    pub metric: String,
    pub op: String,
    pub threshold: f64,
}

impl PerformanceThreshold {
    /// Whether `value` meets the threshold.
    pub fn passes(&self, value: f64) -> bool {
        match self.op.as_str() {
            ">=" => value >= self.threshold,
            ">" => value > self.threshold,
            "<=" => value <= self.threshold,
            "<" => value < self.threshold,
            _ => value == self.threshold,
        }
    }
}

/// The limits on operational anomalies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AnomalyLimits {
    pub max_missing_share: f64,
    pub max_unseen_category_share: f64,
    pub max_out_of_range_share: f64,
    pub max_prediction_error_rate: f64,
}

/// What a dataset-level drift breach is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachOn {
    /// The share of drifted features reaches the drift share.
    DatasetDrift,
    /// Any feature drifts.
    AnyFeature,
}

/// A monitoring plan's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub model_version: String,
    pub reference_dataset: String,
    pub features: Vec<PlanFeature>,
    pub default_test: Option<String>,
    pub default_threshold: Option<f64>,
    pub drift_share: f64,
    pub breach_on: BreachOn,
    pub performance: Vec<PerformanceThreshold>,
    pub minimum_batch_rows: u64,
    pub anomalies: AnomalyLimits,
    pub severity: String,
    pub notify: Vec<String>,
    pub action_plan: String,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn number(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}

impl Plan {
    /// The plan's settings from its content (already valid against its schema), defaults
    /// filled in.
    pub fn from_content(content: &Value) -> Plan {
        let features = content["features"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| PlanFeature {
                name: text(f, "/name").unwrap_or_default(),
                kind: text(f, "/type").unwrap_or_else(|| "numerical".into()),
                test: text(f, "/test").filter(|t| t != "auto"),
                threshold: number(f, "/threshold"),
            })
            .collect();
        let performance = content["performance_metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| PerformanceThreshold {
                metric: text(m, "/metric").unwrap_or_default(),
                op: text(m, "/op").unwrap_or_else(|| ">=".into()),
                threshold: number(m, "/threshold").unwrap_or(0.0),
            })
            .collect();
        let limit = |name: &str, default: f64| {
            number(content, &format!("/anomalies/{name}")).unwrap_or(default)
        };
        Plan {
            model_version: text(content, "/model_version").unwrap_or_default(),
            reference_dataset: text(content, "/reference_dataset").unwrap_or_default(),
            features,
            default_test: text(content, "/drift/test").filter(|t| t != "auto"),
            default_threshold: number(content, "/drift/threshold"),
            drift_share: number(content, "/drift/drift_share").unwrap_or(0.5),
            breach_on: match text(content, "/drift/breach_on").as_deref() {
                Some("any_feature") => BreachOn::AnyFeature,
                _ => BreachOn::DatasetDrift,
            },
            performance,
            minimum_batch_rows: content["minimum_batch_rows"].as_u64().unwrap_or(1),
            anomalies: AnomalyLimits {
                max_missing_share: limit("max_missing_share", DEFAULT_MAX_MISSING_SHARE),
                max_unseen_category_share: limit(
                    "max_unseen_category_share",
                    DEFAULT_MAX_UNSEEN_CATEGORY_SHARE,
                ),
                max_out_of_range_share: limit(
                    "max_out_of_range_share",
                    DEFAULT_MAX_OUT_OF_RANGE_SHARE,
                ),
                max_prediction_error_rate: limit(
                    "max_prediction_error_rate",
                    DEFAULT_MAX_PREDICTION_ERROR_RATE,
                ),
            },
            severity: text(content, "/breach_severity").unwrap_or_else(|| "major".into()),
            notify: content["notify"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            action_plan: text(content, "/action_plan").unwrap_or_default(),
        }
    }

    /// The test a feature runs: its own, else the plan's default, else `None` (automatic).
    pub fn test_of<'p>(&'p self, feature: &'p PlanFeature) -> Option<&'p str> {
        feature.test.as_deref().or(self.default_test.as_deref())
    }

    /// The threshold a feature's test compares with: its own, else the plan's default.
    pub fn threshold_of(&self, feature: &PlanFeature) -> Option<f64> {
        feature.threshold.or(self.default_threshold)
    }
}

/// One threshold a batch breached.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Breach {
    /// Drift beyond the plan's verdict rule.
    Drift {
        drifted: Vec<String>,
        share: f64,
        drift_share: f64,
        breach_on: BreachOn,
    },
    /// A performance metric outside its threshold, or not computable from the batch.
    Performance {
        metric: String,
        value: Option<f64>,
        op: String,
        threshold: f64,
    },
    /// An operational anomaly beyond its limit.
    Anomaly {
        anomaly: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        feature: Option<String>,
        value: f64,
        limit: f64,
    },
}

impl Breach {
    /// The exception category the breach is filed under.
    pub fn category(&self) -> &'static str {
        match self {
            Breach::Drift { .. } => "drift",
            Breach::Performance { .. } => "performance",
            Breach::Anomaly { .. } => "data_quality",
        }
    }

    /// One line a person reads.
    pub fn describe(&self) -> String {
        match self {
            Breach::Drift {
                drifted,
                share,
                drift_share,
                breach_on,
            } => match breach_on {
                BreachOn::DatasetDrift => format!(
                    "data drift: {} of the features drifted (share {share:.3} >= {drift_share}): {}",
                    drifted.len(),
                    drifted.join(", ")
                ),
                BreachOn::AnyFeature => format!("data drift in {}", drifted.join(", ")),
            },
            Breach::Performance {
                metric,
                value: Some(value),
                op,
                threshold,
            } => format!("performance: {metric} = {value} does not meet {op} {threshold}"),
            Breach::Performance {
                metric,
                value: None,
                op,
                threshold,
            } => format!(
                "performance: {metric} could not be computed from the batch (threshold {op} \
                 {threshold})"
            ),
            Breach::Anomaly {
                anomaly,
                feature,
                value,
                limit,
            } => match feature {
                Some(feature) => {
                    format!("anomaly: {anomaly} of {feature} is {value}, above the limit {limit}")
                }
                None => format!("anomaly: {anomaly} is {value}, above the limit {limit}"),
            },
        }
    }
}

/// The drift breach, if the features' verdicts amount to one under the plan.
pub fn drift_breach(plan: &Plan, verdicts: &[(String, bool)]) -> Option<Breach> {
    if verdicts.is_empty() {
        return None;
    }
    let drifted: Vec<String> = verdicts
        .iter()
        .filter(|(_, d)| *d)
        .map(|(n, _)| n.clone())
        .collect();
    let share = drifted.len() as f64 / verdicts.len() as f64;
    let breached = match plan.breach_on {
        BreachOn::DatasetDrift => share >= plan.drift_share,
        BreachOn::AnyFeature => !drifted.is_empty(),
    };
    breached.then_some(Breach::Drift {
        drifted,
        share,
        drift_share: plan.drift_share,
        breach_on: plan.breach_on,
    })
}

/// The exception a breach raises: detected by the system, against the plan's model version,
/// sourced from the batch, filed under the first breach's category.
pub fn breach_exception(
    plan_id: &str,
    plan: &Plan,
    batch_id: &str,
    breaches: &[Breach],
    detected_at: &str,
) -> Value {
    let category = breaches.first().map_or("drift", Breach::category);
    let lines: Vec<String> = breaches.iter().map(Breach::describe).collect();
    let mut exception = json!({
        "title": format!("Monitoring breach on {} (batch {batch_id})", plan.model_version),
        "description": format!(
            "Batch {batch_id} under monitoring plan {plan_id} breached: {}. Action plan: {}",
            lines.join("; "),
            plan.action_plan
        ),
        "category": category,
        "severity": plan.severity,
        "detected_by": {"kind": "system", "id": "monitoring"},
        "detected_at": detected_at,
        "source": batch_id,
        "affected_model_versions": [plan.model_version],
    });
    if !plan.notify.is_empty() {
        exception["notified_stakeholders"] = json!(plan.notify);
    }
    exception
}

/// The draft change request a breach opens, linked to the exception it raised.
pub fn breach_change_request(
    plan: &Plan,
    model: Option<&str>,
    exception_id: &str,
    breaches: &[Breach],
) -> Value {
    let lines: Vec<String> = breaches.iter().map(Breach::describe).collect();
    let mut request = json!({
        "title": format!("Re-validate {} after a monitoring breach", plan.model_version),
        "description": format!(
            "Opened by the system for exception {exception_id}: {}",
            lines.join("; ")
        ),
        "reason": format!("Monitoring breach: {}", lines.join("; ")),
        "category": "retraining",
        "affected_model_versions": [plan.model_version],
        "raised_by": exception_id,
        "impact_assessment": "To be assessed: the model version is marked re-validation required \
                              until this change is verified.",
        "risk": {"level": "high", "assessment": "Production behaviour left the validated state."},
    });
    if let Some(model) = model {
        request["model"] = json!(model);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan::from_content(&json!({
            "model_version": "mv1", "reference_dataset": "ref",
            "features": [{"name": "age", "type": "numerical", "test": "auto"},
                         {"name": "site", "type": "categorical", "test": "psi", "threshold": 0.2}],
            "drift": {"drift_share": 0.5},
            "performance_metrics": [{"metric": "accuracy", "op": ">=", "threshold": 0.8}],
            "action_plan": "Investigate within 5 days.", "notify": ["qa"]
        }))
    }

    #[test]
    fn defaults_fill_what_the_plan_leaves_out() {
        let plan = plan();
        assert_eq!(plan.features[0].test, None);
        assert_eq!(plan.test_of(&plan.features[1]), Some("psi"));
        assert_eq!(plan.threshold_of(&plan.features[1]), Some(0.2));
        assert_eq!(plan.minimum_batch_rows, 1);
        assert_eq!(plan.anomalies.max_missing_share, DEFAULT_MAX_MISSING_SHARE);
        assert_eq!(plan.severity, "major");
        assert_eq!(plan.breach_on, BreachOn::DatasetDrift);
    }

    #[test]
    fn drift_breaches_by_share_or_any_feature() {
        let mut plan = plan();
        let half = [("age".to_owned(), true), ("site".to_owned(), false)];
        assert!(drift_breach(&plan, &half).is_some());
        plan.drift_share = 0.75;
        assert!(drift_breach(&plan, &half).is_none());
        plan.breach_on = BreachOn::AnyFeature;
        assert!(drift_breach(&plan, &half).is_some());
        let none = [("age".to_owned(), false)];
        assert!(drift_breach(&plan, &none).is_none());
    }

    #[test]
    fn a_breach_raises_an_exception_and_a_change_request_naming_it() {
        let plan = plan();
        let breaches = [
            Breach::Drift {
                drifted: vec!["age".into()],
                share: 0.5,
                drift_share: 0.5,
                breach_on: BreachOn::DatasetDrift,
            },
            Breach::Performance {
                metric: "accuracy".into(),
                value: Some(0.7),
                op: ">=".into(),
                threshold: 0.8,
            },
        ];
        let e = breach_exception("mp1", &plan, "b1", &breaches, "2026-12-04T00:00:00Z");
        assert_eq!(e["category"], "drift");
        assert_eq!(e["detected_by"]["kind"], "system");
        assert_eq!(e["affected_model_versions"], json!(["mv1"]));
        let description = e["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("accuracy = 0.7 does not meet >= 0.8"),
            "{description}"
        );
        let cr = breach_change_request(&plan, Some("m1"), "ex1", &breaches);
        assert_eq!(cr["raised_by"], "ex1");
        assert_eq!(cr["model"], "m1");
        assert!(PerformanceThreshold {
            metric: "mae".into(),
            op: "<".into(),
            threshold: 1.0
        }
        .passes(0.5));
    }
}
