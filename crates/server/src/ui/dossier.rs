//! The model dossier page: intended use and risk, the release-readiness checklist (each item
//! green or red, linked to the records that bear on it), validation results against their
//! criteria, fairness tables, the global explanation chart, drift charts over time; and the
//! release gate run from the page (a deployment, refused with every unmet item listed).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup, PreEscaped};
use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::lifecycle::status;
use modeltrail_domain::roles::Permission;
use serde::Deserialize;
use serde_json::{json, Value};

use super::forms::{checked, csrf_field, text_field, FieldErrors, Form};
use super::layout::{
    enc, html, page as frame, plain, record_link, unmet_conditions, PageResult, UiError,
};
use super::records::signatures_table;
use super::session::Viewer;
use crate::dossier::gather;
use crate::routes::{charts, release, reports};
use crate::state::Shared;

/// The record kinds that bear on each release condition.
fn kinds_of(code: &str) -> &'static [&'static str] {
    match code {
        "intended_use_approved" => &["model"],
        "model_version_current" => &["model_version"],
        "datasets_ready" => &["dataset_version"],
        "protocol_approved_before_results" => &["validation_protocol", "validation_result"],
        "validation_criteria_passed" | "test_data_independent" => &["validation_result"],
        "fairness_passed" => &["fairness_assessment", "exception"],
        "explanation_recorded" => &["explanation"],
        "monitoring_plan_approved" => &["monitoring_plan"],
        "change_verified" | "revalidated" => &["change_request", "exception", "validation_result"],
        "qa_release_signature" => &["model_version"],
        _ => &[],
    }
}

fn docs<'a>(d: &'a Dossier, kind: &'a str) -> Vec<&'a Doc> {
    match kind {
        "model_version" => vec![&d.model_version],
        "model" => d.model.iter().collect(),
        k => d.of_kind(k).collect(),
    }
}

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.4}"),
        None => plain(v),
    }
}

fn verdict(passed: Option<bool>) -> Markup {
    match passed {
        Some(true) => html! { span.badge.ok { "✓ pass" } },
        Some(false) => html! { span.badge.bad { "✗ fail" } },
        None => html! { span.badge.warn { "not evaluated" } },
    }
}

/// Global importance as a horizontal bar chart (SVG, no script).
fn importance_chart(items: &[Value]) -> Markup {
    let bars: Vec<(String, f64)> = items
        .iter()
        .filter_map(|i| Some((plain(&i["feature"]), i["importance"].as_f64()?)))
        .take(30)
        .collect();
    let max = bars
        .iter()
        .map(|b| b.1)
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = 24 * bars.len() + 10;
    html! {
        svg.bars role="img" aria-label="Global feature importance" viewBox=(format!("0 0 640 {height}")) width="640" height=(height) xmlns="http://www.w3.org/2000/svg" {
            title { "Global feature importance (mean absolute attribution)" }
            @for (i, (name, value)) in bars.iter().enumerate() {
                @let y = 5 + 24 * i;
                text x="0" y=(y + 15) { (name) }
                rect x="200" y=(y) width=(format!("{:.1}", 360.0 * value / max)) height="18" fill="#0b3d91" {}
                text x=(format!("{:.1}", 205.0 + 360.0 * value / max)) y=(y + 15) { (format!("{value:.4}")) }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct DossierQuery {
    done: Option<String>,
}

async fn render(
    state: &Shared,
    viewer: &Viewer,
    id: &str,
    deploy_errors: &FieldErrors,
    notice: Option<Markup>,
    status_code: StatusCode,
) -> PageResult {
    viewer.who.require(state, Permission::ReadRecords).await?;
    let dossier = gather(state, id).await?;
    let checklist = release_checklist(&dossier);
    let lifecycle = status(&dossier);
    let model = dossier.model.as_ref();
    let features: Vec<String> = dossier
        .of_kind("monitoring_plan")
        .flat_map(|p| p.data["features"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .fold(Vec::new(), |mut acc, f| {
            if !acc.contains(&f) {
                acc.push(f);
            }
            acc
        });
    let has_batches = dossier.of_kind("monitoring_batch").next().is_some();
    // The reports' own pages under the UI's session (the API's are for bearer tokens).
    let reports = format!("/model-versions/{}", enc(id));
    let body = html! {
        @if let Some(n) = notice { (n) }
        dl.kv {
            dt { "Model version" } dd { (record_link("model_version", id)) }
            dt { "Lifecycle status" } dd { strong { (lifecycle.as_str()) } }
            dt { "Model risk" } dd { (checklist.model_risk.map(|r| format!("{r:?}").to_lowercase()).unwrap_or_else(|| "not assessed (treated as high)".into())) }
            dt { "Release" } dd { @if checklist.ready { span.badge.ok { "ready: every condition met" } } @else { span.badge.bad { (checklist.unmet().count()) " condition(s) unmet" } } }
        }
        p { "Reports: " a href=(format!("{reports}/dossier.html")) { "dossier (HTML)" } " · " a href=(format!("{reports}/dossier.pdf")) { "dossier (PDF)" } }
        h2 { "Intended use and risk" }
        @match model {
            None => p.bad { "No model record: intended use and risk are missing." },
            Some(m) => {
                dl.kv {
                    dt { "Model" } dd { (record_link("model", &m.id)) " " (plain(&m.data["name"])) }
                    dt { "Intended use" } dd { (plain(&m.data["intended_use"])) }
                    dt { "Context of use" } dd { (plain(&m.data["context_of_use"])) }
                    dt { "GAMP 5 category" } dd { (plain(&m.data["gamp_category"])) }
                    dt { "Model influence" } dd { (plain(&m.data["risk"]["model_influence"])) }
                    dt { "Decision consequence" } dd { (plain(&m.data["risk"]["decision_consequence"])) }
                    dt { "Model risk" } dd { strong { (plain(&m.data["risk"]["model_risk"])) } }
                    dt { "Rationale" } dd { (plain(&m.data["risk"]["rationale"])) }
                    dt { "Limitations" } dd { (plain(&m.data["limitations"])) }
                }
                @if let Some(a) = m.approval() { p.ok { "Approved: " (a.line()) } } @else { p.bad { "Not approved on its current version." } }
            }
        }
        h2 { "Release-readiness checklist" }
        table.checklist {
            thead { tr { th { "" } th { "Condition" } th { "Detail" } th { "Records" } } }
            tbody { @for c in &checklist.conditions {
                tr class=(if c.met { "ok" } else { "bad" }) {
                    td { @if c.met { "✓" span.sr { " met" } } @else { "✗" span.sr { " unmet" } } }
                    td { code { (c.code) } }
                    td { (c.detail) @if !c.missing.is_empty() { ul { @for m in &c.missing { li { (m) } } } } }
                    td { @for k in kinds_of(c.code) { @for d in docs(&dossier, k) { (record_link(&d.kind, &d.id)) br; } } }
                }
            } }
        }
        h2 { "Run the release gate" }
        form method="post" action=(format!("/model-versions/{}/deploy", enc(id))) {
            (deploy_errors.top())
            (csrf_field(viewer))
            div.field {
                label for="environment" { "Environment" }
                select id="environment" name="environment" aria-invalid=[deploy_errors.invalid("environment")] {
                    @for e in ["production", "staging", "test", "development"] { option value=(e) { (e) } }
                }
                (deploy_errors.beside("environment"))
            }
            (text_field(deploy_errors, "target", "Target (serving system or site)", "text", "", true))
            (text_field(deploy_errors, "reason", "Reason", "text", "", false))
            button type="submit" { "Deploy (checks the gate)" }
        }
        h2 { "Validation results against criteria" }
        @let results: Vec<_> = dossier.of_kind("validation_result").collect();
        @if results.is_empty() { p.muted { "No validation results." } }
        @for r in &results {
            h3 { (record_link("validation_result", &r.id)) " against " (record_link("validation_protocol", &plain(&r.data["protocol"]))) " " (verdict(r.data["passed"].as_bool())) }
            table { thead { tr { th { "Criterion" } th { "Values used" } th { "Verdict" } } }
                tbody { @for c in r.data["criteria_results"].as_array().into_iter().flatten() {
                    tr { td { code { (plain(&c["criterion"])) } } td { @for v in c["values"].as_array().into_iter().flatten() { (plain(&v["reference"])) " = " (num(&v["value"])) br; } } td { (verdict(c["passed"].as_bool())) } }
                } } }
            @if let Some(i) = r.data.get("independence") { p { "Test data independent of training data: " (verdict(i["independent"].as_bool())) } }
        }
        h2 { "Fairness" }
        @let fairness: Vec<_> = dossier.of_kind("fairness_assessment").collect();
        @if fairness.is_empty() { p.muted { "No fairness assessment." } }
        @for f in &fairness {
            h3 { (record_link("fairness_assessment", &f.id)) " " (verdict(f.data["passed"].as_bool())) }
            table { caption { "Per group" } thead { tr { th { "Attribute" } th { "Group" } th { "Count" } th { "Selection rate" } th { "TPR" } th { "FPR" } th { "Accuracy" } } }
                tbody { @for g in f.data["groups"].as_array().into_iter().flatten() {
                    tr { td { (plain(&g["attribute"])) } td { (plain(&g["group"])) } td { (plain(&g["count"])) } td { (num(&g["selection_rate"])) } td { (num(&g["tpr"])) } td { (num(&g["fpr"])) } td { (num(&g["accuracy"])) } }
                } } }
            table { caption { "Disparities" } thead { tr { th { "Attribute" } th { "DP difference" } th { "DP ratio" } th { "EO difference" } th { "Disparate impact" } th { "Four-fifths rule" } } }
                tbody { @for d in f.data["disparities"].as_array().into_iter().flatten() {
                    tr { td { (plain(&d["attribute"])) } td { (num(&d["demographic_parity_difference"])) } td { (num(&d["demographic_parity_ratio"])) } td { (num(&d["equalized_odds_difference"])) } td { (num(&d["disparate_impact"])) } td { (verdict(d["four_fifths_rule_passed"].as_bool())) } }
                } } }
            table { caption { "Criteria" } thead { tr { th { "Criterion" } th { "Verdict" } } }
                tbody { @for c in f.data["criteria_results"].as_array().into_iter().flatten() { tr { td { code { (plain(&c["criterion"])) } } td { (verdict(c["passed"].as_bool())) } } } } }
        }
        h2 { "Global explanation" }
        @let explanations: Vec<_> = dossier.of_kind("explanation").collect();
        @if explanations.is_empty() { p.muted { "No explanation." } }
        @for e in &explanations {
            h3 { (record_link("explanation", &e.id)) " — " (plain(&e.data["method"])) }
            (importance_chart(e.data["global_importance"].as_array().map(Vec::as_slice).unwrap_or(&[])))
        }
        h2 { "Drift over time" }
        @if features.is_empty() || !has_batches { p.muted { "No monitoring batches yet." } }
        @else { @for f in &features {
            figure { img src=(format!("/model-versions/{}/drift-chart.svg?feature={}", enc(id), enc(f))) alt=(format!("Drift score of {f} per monitoring batch, with the threshold")) width="640";
                figcaption { (f) } }
        } }
        h2 { "Signatures on the model version" }
        @if let Some(r) = state.read().record("model_version", id) { (signatures_table(r)) }
        (PreEscaped(String::new()))
    };
    Ok(html(
        status_code,
        frame(Some(viewer), &format!("Model dossier: {id}"), body),
    ))
}

pub async fn page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<DossierQuery>,
) -> PageResult {
    let notice = q.done.map(|d| html! { p.notice role="status" { (d) } });
    render(
        &state,
        &viewer,
        &id,
        &FieldErrors::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

pub async fn deploy(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let form: Form = checked(&state, &viewer, &body).await?;
    let mut errors = FieldErrors::default();
    if form.get("target").is_none() {
        errors.add("target", "Name where the model version is deployed.");
        return render(
            &state,
            &viewer,
            &id,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let mut request = json!({
        "environment": form.get("environment").unwrap_or("production"),
        "target": form.get("target"),
    });
    if let Some(r) = form.get("reason") {
        request["reason"] = json!(r);
    }
    match release::deploy(
        State(state.clone()),
        viewer.who.clone(),
        Path(id.clone()),
        Bytes::from(request.to_string()),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/model-versions/{}?done={}",
            enc(&id),
            enc("Deployed: the release gate passed.")
        ))
        .into_response()),
        Err(e) => {
            let unmet = unmet_conditions(&e);
            let notice = html! {
                div.error role="alert" {
                    p { strong { "Release refused: " } (e.message) }
                    @if !unmet.is_empty() { ul { @for u in &unmet { li { (u) } } } }
                }
            };
            let errors = match e.field.as_deref() {
                Some(f @ ("environment" | "target" | "reason")) => {
                    let mut errors = FieldErrors::default();
                    errors.add(f, e.message.clone());
                    errors
                }
                _ => FieldErrors::default(),
            };
            render(&state, &viewer, &id, &errors, Some(notice), e.status).await
        }
    }
}

#[derive(Deserialize)]
pub struct ChartQuery {
    feature: String,
}

/// The drift chart of one feature over the model version's batches, for the page's `<img>`.
pub async fn drift_chart(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ChartQuery>,
) -> Result<Response, UiError> {
    let query = charts::SeriesQuery {
        feature: q.feature,
        plan: None,
    };
    Ok(
        charts::model_version_chart(State(state), viewer.who, Path(id), Query(query))
            .await?
            .into_response(),
    )
}

/// The dossier report as HTML, made as `GET /api/v1/model-versions/{id}/dossier.html` makes it
/// (and logged the same way), for the viewer's session.
pub async fn report_html(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    Ok(reports::dossier_html(State(state), viewer.who, Path(id)).await?)
}

/// The dossier report as PDF, as `GET /api/v1/model-versions/{id}/dossier.pdf`.
pub async fn report_pdf(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    Ok(reports::dossier_pdf(State(state), viewer.who, Path(id)).await?)
}
