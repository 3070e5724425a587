//! Fields the server computes and clients may not state: verdicts, profiles, per-group figures
//! and importances are derived from uploaded data and evaluated criteria, never typed in. The
//! generic record endpoints refuse them; the dedicated endpoints fill them in.

use serde_json::Value;

use crate::risk::{complete_model_risk, RiskError};
use crate::validation::criteria_list;

/// (record type, JSON pointers of server-computed fields, the endpoint that computes them).
const COMPUTED: &[(&str, &[&str], &str)] = &[
    (
        "validation_result",
        &["/criteria_results", "/passed", "/independence"],
        "POST /api/v1/validation-results",
    ),
    (
        "fairness_assessment",
        &[
            "/groups",
            "/disparities",
            "/criteria_results",
            "/passed",
            "/data",
            "/rows",
        ],
        "POST /api/v1/fairness-assessments (or .../file with a CSV or Parquet file)",
    ),
    (
        "explanation",
        &["/global_importance", "/additivity", "/attributions"],
        "POST /api/v1/explanations",
    ),
    (
        "monitoring_batch",
        &[
            "/rows",
            "/inputs",
            "/labels",
            "/source",
            "/tested",
            "/drift",
            "/performance",
            "/anomalies",
            "/breach",
            "/breaches",
            "/exception",
            "/change_request",
        ],
        "POST /api/v1/monitoring-batches",
    ),
    (
        "dataset_version",
        &["/profile"],
        "POST /api/v1/dataset-versions/{id}/data",
    ),
];

/// A client stated a field the server computes, or a model's risk contradicts its factors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClientDataError {
    #[error("{field} of a {kind} is computed by the server, not stated: use {endpoint}")]
    Computed {
        kind: &'static str,
        field: String,
        endpoint: &'static str,
    },
    #[error(transparent)]
    Risk(#[from] RiskError),
    #[error("{message}")]
    Criterion { field: String, message: String },
}

impl ClientDataError {
    /// The JSON pointer (inside the record's data) of the field at fault.
    pub fn field(&self) -> String {
        match self {
            ClientDataError::Computed { field, .. } => field.clone(),
            ClientDataError::Risk(e) => e.field().to_owned(),
            ClientDataError::Criterion { field, .. } => field.clone(),
        }
    }
}

/// Checks and completes record content written through the generic record endpoints (after
/// schema validation): computed fields are refused, and a model's risk is filled in from its
/// factors.
pub fn prepare_client_data(kind: &str, data: &mut Value) -> Result<(), ClientDataError> {
    if let Some(&(kind, fields, endpoint)) = COMPUTED.iter().find(|(k, ..)| *k == kind) {
        if let Some(field) = fields.iter().find(|f| data.pointer(f).is_some()) {
            return Err(ClientDataError::Computed {
                kind,
                field: (*field).to_owned(),
                endpoint,
            });
        }
        if kind == "dataset_version" {
            let stated = data
                .get("quality_checks")
                .and_then(Value::as_array)
                .and_then(|checks| {
                    checks.iter().enumerate().find_map(|(i, c)| {
                        ["passed", "values"]
                            .into_iter()
                            .find(|key| c.get(key).is_some())
                            .map(|key| format!("/quality_checks/{i}/{key}"))
                    })
                });
            if let Some(field) = stated {
                return Err(ClientDataError::Computed {
                    kind,
                    field,
                    endpoint,
                });
            }
        }
    }
    if kind == "model" {
        complete_model_risk(data)?;
    }
    let criteria_field = match kind {
        "validation_protocol" => Some("acceptance_criteria"),
        "fairness_assessment" => Some("criteria"),
        _ => None,
    };
    if let Some(list) = criteria_field {
        criteria_list(data, list)
            .map_err(|(field, message)| ClientDataError::Criterion { field, message })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn computed_fields_are_refused_by_name() {
        let mut result = json!({"protocol": "p", "model_version": "mv", "passed": true});
        let err = prepare_client_data("validation_result", &mut result).unwrap_err();
        assert_eq!(err.field(), "/passed");
        assert!(err.to_string().contains("POST /api/v1/validation-results"));
        let mut dataset = json!({"quality_checks": [{"name": "a"}, {"name": "b", "passed": true}]});
        let err = prepare_client_data("dataset_version", &mut dataset).unwrap_err();
        assert_eq!(err.field(), "/quality_checks/1/passed");
        let mut fine = json!({"protocol": "p", "model_version": "mv", "metrics": []});
        assert_eq!(prepare_client_data("validation_result", &mut fine), Ok(()));
    }

    #[test]
    fn a_model_gets_its_risk() {
        let mut model =
            json!({"risk": {"model_influence": "medium", "decision_consequence": "high"}});
        prepare_client_data("model", &mut model).expect("fills in");
        assert_eq!(model["risk"]["model_risk"], "high");
    }
}
