//! Assessments the server computes from uploaded data: fairness (per-group metrics and
//! disparities as Fairlearn defines them, criteria evaluated) and explanations (global
//! importance from an attribution matrix). The inputs and full reports are kept as blobs; the
//! record holds their digests, the figures and the verdicts.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use modeltrail_domain::criteria::{FactError, FactsFn, Reference};
use modeltrail_domain::roles::Permission;
use modeltrail_domain::validation::{criteria_list, evaluate_all};
use modeltrail_stats::fairness::{assess, labels_from_json, FairnessReport, Label};
use modeltrail_stats::importance::{global_importance, local_explanations, AttributionMatrix};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ErrorBody};
use crate::json::parse;
use crate::routes::computed::{create, fresh_id, model_version_exists, validate_client_data};
use crate::state::Shared;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FairnessRequest {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The assessment as the `fairness_assessment` schema describes it, without the computed
    /// fields (`rows`, `groups`, `disparities`, `criteria_results`, `passed`, `data`).
    #[schema(value_type = Object)]
    data: Value,
    /// The true labels, one per row.
    #[schema(value_type = Vec<Object>)]
    labels: Vec<Value>,
    /// The model's predictions, one per row.
    #[schema(value_type = Vec<Object>)]
    predictions: Vec<Value>,
    /// Each sensitive attribute's value per row, by attribute name (those named in
    /// `data.sensitive_attributes`).
    sensitive: BTreeMap<String, Vec<String>>,
    /// Why the assessment is recorded; optional.
    reason: Option<String>,
}

/// Record a fairness assessment
///
/// The server computes, from the labels, predictions and sensitive attributes given, each
/// group's count, selection rate, true and false positive rates and accuracy, and the
/// demographic-parity and equalized-odds differences and ratios and disparate impact with the
/// four-fifths rule, exactly as Fairlearn defines them; it evaluates the criteria and records
/// the verdict. Inputs and the full report are stored as blobs.
#[utoipa::path(
    post,
    operation_id = "record_fairness_assessment",
    path = "/api/v1/fairness-assessments",
    tag = "release",
    security(("bearer" = [])),
    request_body(content = FairnessRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The fairness_assessment record at version 1 with the computed figures and verdicts, and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the model version does not exist.", body = ErrorBody),
        (status = 409, description = "`record_exists`: the id is taken.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: arrays of different lengths, non-binary or mixed labels, an attribute without values, a criterion that does not parse or names an unknown figure or group; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn fairness(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: FairnessRequest = parse(&body)?;
    let mut data = request.data;
    validate_client_data(&state, "fairness_assessment", &mut data)?;
    let id = fresh_id(&state, "fairness_assessment", request.id)?;
    model_version_exists(&state, &data)?;
    let attributes = sensitive_attributes(&data);
    let mut sensitive = Vec::new();
    for attribute in &attributes {
        let values = request.sensitive.get(attribute).cloned().ok_or_else(|| {
            ApiError::invalid(
                format!("sensitive/{attribute}"),
                format!("no values given for sensitive attribute {attribute}"),
            )
        })?;
        sensitive.push((attribute.clone(), values));
    }
    if let Some(extra) = request.sensitive.keys().find(|k| !attributes.contains(k)) {
        return Err(ApiError::invalid(
            format!("sensitive/{extra}"),
            format!("{extra} is not among data.sensitive_attributes"),
        ));
    }
    let invalid = |field: &str| {
        let field = field.to_owned();
        move |e: modeltrail_stats::fairness::FairnessError| ApiError::invalid(field, e.to_string())
    };
    let labels = labels_from_json(&request.labels, "labels").map_err(invalid("labels"))?;
    let predictions =
        labels_from_json(&request.predictions, "predictions").map_err(invalid("predictions"))?;
    let positive = positive_label(&data)?;
    let report = assess(&labels, &predictions, &positive, &sensitive).map_err(invalid("labels"))?;
    record_figures(&mut data, &report)?;

    let inputs = json!({
        "labels": request.labels,
        "predictions": request.predictions,
        "sensitive": request.sensitive,
    });
    let (inputs_digest, report_digest) = store_blobs(&state, &inputs, &json!(report)).await?;
    data["data"] = json!({"inputs": inputs_digest, "report": report_digest});
    let answer = create(
        &state,
        &who,
        "fairness_assessment",
        &id,
        data,
        request.reason,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The names in `data.sensitive_attributes` (the schema has checked them).
pub(crate) fn sensitive_attributes(data: &Value) -> Vec<String> {
    data["sensitive_attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// `data.positive_label`, 1 when not given.
pub(crate) fn positive_label(data: &Value) -> Result<Label, ApiError> {
    match data.get("positive_label") {
        Some(value) => Label::from_json(value, "positive_label", 0)
            .map_err(|e| ApiError::invalid("data/positive_label", e.to_string())),
        None => Ok(Label::Number(1.0)),
    }
}

/// Evaluates the assessment's criteria on the report and writes the computed fields (`rows`,
/// `groups`, `disparities`, `criteria_results`, `passed`) into its data; 422 naming the
/// criterion that does not parse or names an unknown figure.
pub(crate) fn record_figures(data: &mut Value, report: &FairnessReport) -> Result<(), ApiError> {
    let criteria = criteria_list(data, "criteria")
        .map_err(|(field, message)| ApiError::invalid(format!("data{field}"), message))?;
    let facts = FactsFn(|r: &Reference| fairness_fact(report, r));
    let evaluation = evaluate_all(&criteria, &facts)
        .map_err(|e| ApiError::invalid("data/criteria", e.to_string()))?;
    data["rows"] = json!(report.rows);
    data["groups"] = json!(groups_of(report));
    data["disparities"] = json!(disparities_of(report));
    data["criteria_results"] = json!(evaluation.criteria_results);
    data["passed"] = json!(evaluation.passed);
    Ok(())
}

/// A figure a fairness criterion names: `name` over the intersection, `name[attribute=a]`
/// over one attribute, `name[a=v]` for the group of value v of attribute a.
fn fairness_fact(report: &FairnessReport, r: &Reference) -> Result<f64, FactError> {
    let unavailable =
        |e: modeltrail_stats::fairness::FigureError| FactError::Unavailable(e.to_string());
    match r.selector() {
        [] => report.figure(r.name(), None).map_err(unavailable),
        [(key, attribute)] if key == "attribute" => report
            .figure(r.name(), Some(attribute))
            .map_err(unavailable),
        [(attribute, group)] => report
            .group_figure(r.name(), Some(attribute), &[group.as_str()])
            .map_err(unavailable),
        _ => Err(FactError::Unavailable(
            "name one attribute (`[attribute=sex]`) or one group (`[sex=F]`)".into(),
        )),
    }
}

fn groups_of(report: &FairnessReport) -> Vec<Value> {
    report
        .by_attribute
        .iter()
        .flat_map(|d| {
            let attribute = d.attributes.join(",");
            d.groups.iter().map(move |g| {
                let mut group = json!({
                    "attribute": attribute,
                    "group": g.group.join(","),
                    "count": g.count,
                    "selection_rate": g.selection_rate,
                    "accuracy": g.accuracy,
                });
                if let Some(tpr) = g.true_positive_rate {
                    group["tpr"] = json!(tpr);
                }
                if let Some(fpr) = g.false_positive_rate {
                    group["fpr"] = json!(fpr);
                }
                group
            })
        })
        .collect()
}

fn disparities_of(report: &FairnessReport) -> Vec<Value> {
    report
        .by_attribute
        .iter()
        .map(|d| {
            let mut figures = json!({
                "attribute": d.attributes.join(","),
                "demographic_parity_difference": d.demographic_parity_difference,
                "equalized_odds_difference": d.equalized_odds_difference,
                "equal_opportunity_difference": d.true_positive_rate_difference,
            });
            for (key, value) in [
                ("demographic_parity_ratio", d.demographic_parity_ratio),
                ("equalized_odds_ratio", d.equalized_odds_ratio),
                ("disparate_impact", d.disparate_impact.ratio),
            ] {
                if let Some(value) = value {
                    figures[key] = json!(value);
                }
            }
            if let Some(passes) = d.disparate_impact.passes_four_fifths_rule {
                figures["four_fifths_rule_passed"] = json!(passes);
            }
            figures
        })
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplanationRequest {
    /// The record id; a random one if not given.
    id: Option<String>,
    /// The explanation as the `explanation` schema describes it, without the computed fields
    /// (`global_importance`, `attributions`, `additivity`); `feature_names` name the matrix's
    /// columns.
    #[schema(value_type = Object)]
    data: Value,
    /// One row per explained prediction, one attribution per feature.
    attributions: Vec<Vec<f64>>,
    /// The base value: one for all rows, or one per row.
    #[schema(value_type = Object)]
    base_values: Value,
    /// The model's output per row, when known: enables the additivity check.
    outputs: Option<Vec<f64>>,
    /// Rows kept as local explanations in the record.
    #[serde(default)]
    local_rows: Vec<usize>,
    /// Why the explanation is recorded; optional.
    reason: Option<String>,
}

/// Record an explanation
///
/// The server computes global importance (mean absolute attribution per feature, most
/// important first) from the uploaded attribution matrix, checks additivity when outputs are
/// given, keeps the rows asked for as local explanations, and stores the matrix as a blob.
#[utoipa::path(
    post,
    operation_id = "record_explanation",
    path = "/api/v1/explanations",
    tag = "release",
    security(("bearer" = [])),
    request_body(content = ExplanationRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The explanation record at version 1 with `global_importance`, and the `receipt`.", body = Object),
        (status = 400, description = "`malformed_json`, `empty_body` or `invalid_utf8`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not write records. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: the model version does not exist.", body = ErrorBody),
        (status = 409, description = "`record_exists`: the id is taken.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body is larger than the limit.", body = ErrorBody),
        (status = 422, description = "`invalid`: ragged rows, non-finite values, feature names that do not match the columns, an empty matrix; `field` names it.", body = ErrorBody),
    ),
)]
pub async fn explanation(
    State(state): State<Shared>,
    who: Principal,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    who.require(&state, Permission::WriteRecords).await?;
    let request: ExplanationRequest = parse(&body)?;
    let mut data = request.data;
    validate_client_data(&state, "explanation", &mut data)?;
    let id = fresh_id(&state, "explanation", request.id)?;
    model_version_exists(&state, &data)?;
    let feature_names: Vec<String> = data
        .get("feature_names")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let matrix: AttributionMatrix = serde_json::from_value(json!({
        "feature_names": feature_names,
        "attributions": request.attributions,
        "base_values": request.base_values,
        "outputs": request.outputs,
    }))
    .map_err(|e| ApiError::invalid("base_values", e.to_string()))?;
    let importance =
        global_importance(&matrix).map_err(|e| ApiError::invalid("attributions", e.to_string()))?;
    let locals = local_explanations(&matrix, &request.local_rows)
        .map_err(|e| ApiError::invalid("local_rows", e.to_string()))?;
    let (matrix_digest, _) = store_blobs(&state, &json!(matrix), &Value::Null).await?;
    data["global_importance"] = json!(importance
        .ranking
        .iter()
        .map(|f| json!({"feature": f.feature, "importance": f.mean_abs_attribution}))
        .collect::<Vec<_>>());
    data["attributions"] = json!({"sha256": matrix_digest, "rows": importance.rows,
                                  "features": importance.features});
    if let Some(a) = &importance.additivity {
        data["additivity"] = json!({"rows_checked": a.rows_checked,
            "max_abs_deviation": a.max_abs_deviation, "worst_row": a.worst_row,
            "mean_abs_deviation": a.mean_abs_deviation});
    }
    if !locals.is_empty() {
        let explained: Vec<Value> = locals
            .iter()
            .map(|l| {
                let mut local = json!({
                    "instance": format!("row {}", l.row),
                    "base_value": l.base_value,
                    "contributions": l.attributions.iter()
                        .map(|a| json!({"feature": a.feature, "value": a.attribution}))
                        .collect::<Vec<_>>(),
                });
                local["prediction"] = json!(l.output.unwrap_or(l.explained_output));
                local
            })
            .collect();
        data["local_explanations"] = json!(explained);
    }
    let answer = create(&state, &who, "explanation", &id, data, request.reason).await?;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Stores two JSON documents as blobs (a null one is skipped); their digests.
pub(crate) async fn store_blobs(
    state: &Shared,
    first: &Value,
    second: &Value,
) -> Result<(String, String), ApiError> {
    let blobs = state.blobs.clone();
    let first = serde_json::to_vec(first).map_err(ApiError::internal)?;
    let second = (!second.is_null())
        .then(|| serde_json::to_vec(second))
        .transpose()
        .map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let a = blobs.put(&first).map_err(ApiError::internal)?;
        let b = match second {
            Some(bytes) => blobs.put(&bytes).map_err(ApiError::internal)?,
            None => String::new(),
        };
        Ok::<_, ApiError>((a, b))
    })
    .await
    .map_err(ApiError::internal)?
}
