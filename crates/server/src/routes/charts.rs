//! Drift charts over HTTP, as SVG for the UI and reports: one feature of one monitoring batch
//! (reference against current per bin, from the batch's drift result and the bins its stored
//! report holds) and one feature over every monitoring batch of a model version (the drift
//! score per batch in window order, with the threshold). Reads only: the batch records from
//! the projection and the log, the reports from the blob store; drawing is `crate::charts`.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use modeltrail_domain::projection::RecordState;
use modeltrail_domain::roles::Permission;
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::auth::Principal;
use crate::charts::{self, comparison_of, figure, BinAxis, Histogram, Point, Series, Verdict};
use crate::dossier::doc;
use crate::error::{ApiError, ErrorBody};
use crate::state::Shared;

const BATCH: &str = "monitoring_batch";

/// Which feature to chart.
#[derive(Deserialize, IntoParams)]
pub struct ChartQuery {
    /// A feature of the monitoring plan, by name.
    #[param(example = "age")]
    feature: String,
}

/// Which feature to chart over time, and optionally under which plan.
#[derive(Deserialize, IntoParams)]
pub struct SeriesQuery {
    /// A feature of the monitoring plan, by name.
    #[param(example = "age")]
    pub(crate) feature: String,
    /// Only the batches evaluated under this monitoring plan; all of them if left out.
    pub(crate) plan: Option<String>,
}

/// A monitoring batch's drift chart
///
/// One feature of one monitoring batch as SVG: the share of the reference's rows and of the
/// batch's rows in each bin, side by side (numerical features: Evidently's bins by their
/// edges; few-valued and categorical features: one bin per value), titled with the test, its
/// score and threshold, and the verdict.
#[utoipa::path(
    get,
    operation_id = "monitoring_batch_drift_chart",
    path = "/api/v1/monitoring-batches/{id}/chart.svg",
    tag = "monitoring",
    security(("bearer" = [])),
    params(
        ("id", description = "The monitoring_batch record id.", example = "b-1"),
        ChartQuery,
    ),
    responses(
        (status = 200, description = "The chart, a self-contained SVG document (no script, no external reference).", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "`bad_request`: the `feature` query parameter is missing.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such monitoring batch; the batch was not tested (fewer rows than its plan's minimum); it has no drift result for the feature (the message lists those it has); or its report holds no bins for it.", body = ErrorBody),
    ),
)]
pub async fn batch_chart(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<ChartQuery>,
) -> Result<Response, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let feature = query.feature;
    let record = batch_record(&state, &id)?;
    let data = doc(&state, &record).await?.data;
    if data["tested"] == Value::Bool(false) {
        return Err(ApiError::not_found(format!(
            "{BATCH} `{id}` was not tested: its {} rows are fewer than its plan's \
             minimum_batch_rows, so it has no drift results",
            data["rows"]
        )));
    }
    let Some(row) = drift_row(&data, &feature) else {
        return Err(ApiError::not_found(format!(
            "{BATCH} `{id}` has no drift result for feature `{feature}`; it has drift results \
             for: {}",
            listed(&drift_features(&data))
        )));
    };
    let verdict = verdict_of(row).ok_or_else(|| {
        ApiError::internal(format!(
            "{BATCH} {id}: the drift result of {feature} is unreadable"
        ))
    })?;
    let digest = data["drift"]["report"]
        .as_str()
        .ok_or_else(|| ApiError::internal(format!("{BATCH} {id} names no drift report")))?
        .to_owned();
    let blobs = state.blobs.clone();
    let report_digest = digest.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&report_digest))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "the drift report {digest} of {BATCH} {id} is missing from the blob store"
            ))
        })?;
    let report: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::internal(format!("the drift report of {BATCH} {id}: {e}")))?;
    let bins = report["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["feature"] == feature.as_str())
        .and_then(|column| {
            [&column["result"]["detail"]["bins"], &column["bins"]]
                .into_iter()
                .find(|b| b.is_object())
        })
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "the drift report of {BATCH} `{id}` holds no bins for feature `{feature}` \
                 (tested with {}, recorded before reports kept bins for charts)",
                verdict.test
            ))
        })?;
    let (axis, reference_counts, current_counts, reference_rows, current_rows) = bins_of(bins)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "{BATCH} {id}: the report's bins of {feature} are unreadable"
            ))
        })?;
    let chart = Histogram {
        batch: format!("{BATCH} {id}, {}", window_text(&data)),
        feature,
        verdict,
        axis,
        reference_counts,
        current_counts,
        reference_rows,
        current_rows,
    };
    let svg =
        charts::histogram(&chart).map_err(|e| ApiError::internal(format!("{BATCH} {id}: {e}")))?;
    Ok(svg_response(svg))
}

/// A model version's drift chart over time
///
/// One feature over every monitoring batch of the model version, as SVG: the drift score of
/// each batch that has a result for it, in the order of the batches' windows (ties by
/// recording order), the threshold as a line with the drift side shaded, drifted batches
/// marked. Voided batches, untested ones and those without a result for the feature are left
/// out and named in the chart's description. `plan` keeps the batches of one monitoring plan.
#[utoipa::path(
    get,
    operation_id = "model_version_drift_chart",
    path = "/api/v1/model-versions/{id}/drift-chart.svg",
    tag = "monitoring",
    security(("bearer" = [])),
    params(
        ("id", description = "The model_version record id.", example = "mv-1"),
        SeriesQuery,
    ),
    responses(
        (status = 200, description = "The chart, a self-contained SVG document (no script, no external reference); without batches, an empty chart that says so.", body = String, content_type = "image/svg+xml"),
        (status = 400, description = "`bad_request`: the `feature` query parameter is missing.", body = ErrorBody),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version, or none of its monitoring batches has a drift result for the feature (the message lists the features they have).", body = ErrorBody),
    ),
)]
pub async fn model_version_chart(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Result<Response, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    let feature = query.feature;
    let batches: Vec<RecordState> = {
        let projection = state.read();
        if projection.record("model_version", &id).is_none() {
            return Err(ApiError::not_found(format!(
                "no model_version record `{id}`"
            )));
        }
        projection
            .referrers("model_version", &id)
            .filter(|r| r.kind == BATCH)
            .cloned()
            .collect()
    };
    // (window end, first seq) orders the batches; window end as written labels them.
    let mut found: Vec<((Option<time::OffsetDateTime>, u64), Point)> = Vec::new();
    let mut skipped = Vec::new();
    let mut features = std::collections::BTreeSet::new();
    for record in &batches {
        let batch = doc(&state, record).await?;
        let data = &batch.data;
        if data["model_version"].as_str() != Some(id.as_str()) {
            continue;
        }
        if let Some(plan) = &query.plan {
            if data["plan"].as_str() != Some(plan.as_str()) {
                continue;
            }
        }
        if record.voided {
            skipped.push(format!("{}: voided", record.id));
            continue;
        }
        if data["tested"] == Value::Bool(false) {
            skipped.push(format!("{}: not tested", record.id));
            continue;
        }
        features.extend(drift_features(data));
        let Some(row) = drift_row(data, &feature) else {
            skipped.push(format!("{}: no drift result for {feature}", record.id));
            continue;
        };
        let Some(verdict) = verdict_of(row) else {
            skipped.push(format!("{}: the drift result is unreadable", record.id));
            continue;
        };
        let end = data["window"]["end"].as_str();
        let at = end.map_or_else(
            || {
                record
                    .versions
                    .first()
                    .map(|v| v.timestamp.to_string())
                    .unwrap_or_default()
            },
            str::to_owned,
        );
        let when = end.and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
        });
        found.push((
            (when, batch.created_seq),
            Point {
                batch: record.id.clone(),
                at,
                verdict,
            },
        ));
    }
    if found.is_empty() && !features.is_empty() {
        return Err(ApiError::not_found(format!(
            "no monitoring_batch of model_version `{id}` has a drift result for feature \
             `{feature}`; they have drift results for: {}",
            listed(&features.into_iter().collect::<Vec<_>>())
        )));
    }
    found.sort_by_key(|(key, _)| *key);
    let subject = match &query.plan {
        Some(plan) => format!("model_version {id} under monitoring_plan {plan}"),
        None => format!("model_version {id}"),
    };
    let chart = Series {
        feature,
        subject,
        points: found.into_iter().map(|(_, point)| point).collect(),
        skipped,
    };
    let svg = charts::series(&chart)
        .map_err(|e| ApiError::internal(format!("model_version {id}: {e}")))?;
    Ok(svg_response(svg))
}

fn batch_record(state: &Shared, id: &str) -> Result<RecordState, ApiError> {
    state
        .read()
        .record(BATCH, id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no {BATCH} record `{id}`")))
}

/// The batch's drift result for `feature`.
fn drift_row<'a>(data: &'a Value, feature: &str) -> Option<&'a Value> {
    data["drift"]["features"]
        .as_array()?
        .iter()
        .find(|row| row["feature"] == feature)
}

/// The features the batch has drift results for.
fn drift_features(data: &Value) -> Vec<String> {
    data["drift"]["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| row["feature"].as_str().map(str::to_owned))
        .collect()
}

fn listed(names: &[String]) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A drift result as the batch record holds it.
fn verdict_of(row: &Value) -> Option<Verdict> {
    Some(Verdict {
        test: row["test"].as_str()?.to_owned(),
        score: row["score"].as_f64()?,
        threshold: row["threshold"].as_f64()?,
        comparison: comparison_of(row["comparison"].as_str()?)?,
        drifted: row["drifted"].as_bool()?,
    })
}

type ReadBins = (BinAxis, Vec<u64>, Vec<u64>, u64, u64);

/// Bins as the report holds them (`modeltrail_stats::drift::Bins`): the rule with its edges
/// or keys, each side's counts and rows.
fn bins_of(bins: &Value) -> Option<ReadBins> {
    let counts = |field: &str| -> Option<Vec<u64>> {
        bins[field].as_array()?.iter().map(Value::as_u64).collect()
    };
    let axis = match bins["rule"].as_str()? {
        "sturges" => BinAxis::Edges(
            bins["edges"]
                .as_array()?
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<f64>>>()?,
        ),
        "values" => BinAxis::Values(
            bins["keys"]
                .as_array()?
                .iter()
                .map(|key| match key {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(n) => n.as_f64().map(figure),
                    _ => None,
                })
                .collect::<Option<Vec<String>>>()?,
        ),
        _ => return None,
    };
    Some((
        axis,
        counts("reference_counts")?,
        counts("current_counts")?,
        bins["reference_rows"].as_u64()?,
        bins["current_rows"].as_u64()?,
    ))
}

/// "window 2026-11-01T00:00:00Z to 2026-11-08T00:00:00Z".
fn window_text(data: &Value) -> String {
    match (
        data["window"]["start"].as_str(),
        data["window"]["end"].as_str(),
    ) {
        (Some(start), Some(end)) => format!("window {start} to {end}"),
        _ => "no window".to_owned(),
    }
}

/// An SVG answer: its media type, never sniffed as anything else, and, opened on its own, no
/// script or outside resource allowed.
fn svg_response(svg: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response()
}
