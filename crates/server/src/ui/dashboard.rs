//! The dashboard: model versions by lifecycle status, open exceptions and CAPA, overdue CAPA
//! actions, drift and performance alerts, security alerts (for those who see them), and the
//! signatures asked of the viewer that are still to give.

use axum::extract::State;
use axum::http::StatusCode;
use maud::{html, Markup};
use modeltrail_domain::lifecycle::status;
use modeltrail_domain::notifications::overdue_actions;
use modeltrail_domain::projection::RecordState;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::workflow::machine;
use modeltrail_ledger::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

use super::layout::{enc, html, page as frame, plain, record_link, when, PageResult};
use super::session::Viewer;
use crate::dossier::gather;
use crate::state::Shared;

/// Records of `kind` whose workflow has not ended, with their state.
pub fn open_records(state: &Shared, kind: &str) -> Vec<(RecordState, String)> {
    let Some(m) = machine(kind) else {
        return Vec::new();
    };
    state
        .read()
        .records_of(kind, None)
        .filter(|r| !r.voided)
        .map(|r| {
            let s = r.workflow.clone().unwrap_or_else(|| m.initial.to_owned());
            (r.clone(), s)
        })
        .filter(|(_, s)| !m.is_terminal(s))
        .collect()
}

/// A record's latest content.
pub async fn content(state: &Shared, record: &RecordState) -> Value {
    match record.head() {
        Some(h) => state
            .event(h.seq)
            .await
            .map(|e| e.payload)
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

pub async fn page_handler(state: &Shared, viewer: &Viewer) -> PageResult {
    viewer.who.require(state, Permission::ReadRecords).await?;
    let model_versions: Vec<String> = state
        .read()
        .records_of("model_version", None)
        .filter(|r| !r.voided)
        .map(|r| r.id.clone())
        .collect();
    let mut by_status: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for id in model_versions {
        let dossier = gather(state, &id).await?;
        by_status
            .entry(status(&dossier).as_str())
            .or_default()
            .push(id);
    }
    let exceptions = open_records(state, "exception");
    let capas = open_records(state, "capa");
    let mut exception_rows = Vec::new();
    for (r, s) in &exceptions {
        exception_rows.push((r.id.clone(), s.clone(), content(state, r).await));
    }
    let today = Timestamp::now().to_string()[..10].to_owned();
    let mut capa_rows = Vec::new();
    let mut overdue = Vec::new();
    for (r, s) in &capas {
        let data = content(state, r).await;
        for o in overdue_actions(&data, &today) {
            overdue.push((
                r.id.clone(),
                serde_json::to_value(&o).unwrap_or(Value::Null),
            ));
        }
        capa_rows.push((r.id.clone(), s.clone(), data));
    }
    let pending: Vec<(String, String, u64, String, bool)> = {
        let p = state.read();
        let kinds: Vec<String> = state.record_types.names().map(str::to_owned).collect();
        kinds
            .iter()
            .flat_map(|k| p.records_of(k, None).collect::<Vec<_>>())
            .flat_map(|r| {
                r.signature_requests
                    .iter()
                    .filter(|q| q.signer == viewer.who.user && !r.fulfils(q))
                    .map(|q| {
                        let current = q.version == r.versions.len() as u64;
                        (
                            r.kind.clone(),
                            r.id.clone(),
                            q.version,
                            q.meaning.as_str().to_owned(),
                            current,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let alerts: Vec<_> = match viewer.who.role.allows(Permission::ViewSecurity) {
        true => state
            .read()
            .alerts()
            .iter()
            .rev()
            .take(10)
            .cloned()
            .collect(),
        false => Vec::new(),
    };
    let drift: Vec<_> = exception_rows
        .iter()
        .filter(|(_, _, d)| {
            matches!(
                d.get("category").and_then(Value::as_str),
                Some("drift" | "performance" | "data_quality")
            )
        })
        .collect();
    let body = html! {
        div.cards {
            section.card aria-labelledby="h-models" {
                h2 id="h-models" { "Model versions by lifecycle status" }
                @if by_status.is_empty() { p.muted { "No model versions yet." } }
                @for (s, ids) in &by_status {
                    h3 { (s) " (" (ids.len()) ")" }
                    ul { @for id in ids { li { a href=(format!("/model-versions/{}", enc(id))) { (id) } } } }
                }
            }
            section.card aria-labelledby="h-sign" {
                h2 id="h-sign" { "Signatures asked of me" }
                @if pending.is_empty() { p.muted { "None pending." } }
                ul { @for (kind, id, version, meaning, current) in &pending {
                    li { (record_link(kind, id)) " version " (version) ": " strong { (meaning) }
                        @if !*current { " " span.badge.warn { "asked for an older version" } }
                        " " a href=(format!("/records/{}/{}/sign", enc(kind), enc(id))) { "Sign" } }
                } }
            }
            section.card aria-labelledby="h-drift" {
                h2 id="h-drift" { "Drift and performance alerts" }
                @if drift.is_empty() { p.muted { "No open drift, performance or data-quality exception." } }
                ul { @for (id, s, d) in &drift {
                    li { (record_link("exception", id)) " " span.badge.bad { (plain(&d["category"])) } " " (s) ": " (plain(&d["title"])) }
                } }
            }
            section.card aria-labelledby="h-overdue" {
                h2 id="h-overdue" { "Overdue CAPA actions" }
                @if overdue.is_empty() { p.muted { "Nothing overdue." } }
                ul { @for (id, o) in &overdue {
                    li.bad { (record_link("capa", id)) " action " (plain(&o["action"])) ", due " (plain(&o["due_date"])) }
                } }
            }
        }
        section aria-labelledby="h-exc" {
            h2 id="h-exc" { "Open exceptions (" (exception_rows.len()) ")" }
            (workflow_table(&exception_rows, "exception", &["title", "severity", "category"]))
        }
        section aria-labelledby="h-capa" {
            h2 id="h-capa" { "Open CAPA (" (capa_rows.len()) ")" }
            (workflow_table(&capa_rows, "capa", &["title"]))
        }
        @if !alerts.is_empty() {
            section aria-labelledby="h-sec" {
                h2 id="h-sec" { "Security alerts (latest 10)" }
                table { thead { tr { th { "When" } th { "Kind" } th { "Message" } } }
                    tbody { @for a in &alerts { tr { td { (when(&a.timestamp)) } td { (a.kind) } td { (a.message) } } } } }
            }
        }
    };
    Ok(html(StatusCode::OK, frame(Some(viewer), "Dashboard", body)))
}

fn workflow_table(rows: &[(String, String, Value)], kind: &str, fields: &[&str]) -> Markup {
    html! {
        @if rows.is_empty() { p.muted { "None." } } @else {
            table {
                thead { tr { th { "Record" } th { "State" } @for f in fields { th { (f) } } } }
                tbody { @for (id, s, d) in rows {
                    tr { td { (record_link(kind, id)) } td { (s) } @for f in fields { td { (plain(&d[*f])) } } }
                } }
            }
        }
    }
}

pub async fn page(State(state): State<Shared>, viewer: Viewer) -> PageResult {
    page_handler(&state, &viewer).await
}
