//! The audit-trail review (EU GMP Annex 11 clause 9): the reviewer picks a period and a scope,
//! the page lists the events of the period that need attention (failed logins and lockouts,
//! security alerts, refusals, changes after approval, voids, changes by administrators,
//! signatures by a record's author), and the reviewer records findings as an
//! `audit_trail_review` record, then signs it.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{html, Markup};
use modeltrail_domain::actions;
use modeltrail_domain::projection::Projection;
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::event::Event;
use serde::Deserialize;
use serde_json::{json, Value};

use super::forms::{checked, csrf_field, text_area, text_field, FieldErrors, Form};
use super::layout::{enc, html, page as frame, PageResult};
use super::session::Viewer;
use super::trail::{event_row, parse_time, scan, Filters, SCAN_BUDGET};
use crate::routes::records as api;
use crate::state::Shared;

/// Events needing attention listed per page.
const REVIEW_PAGE: usize = 100;
/// Finding rows the form offers.
const FINDING_ROWS: usize = 3;
const CLASSIFICATIONS: [&str; 4] = ["observation", "minor", "major", "critical"];

/// Why an event needs a reviewer's attention, if it does.
pub fn attention(p: &Projection, e: &Event) -> Option<&'static str> {
    match e.action.as_str() {
        actions::AUTH_LOGIN_FAILED => return Some("failed login"),
        actions::USER_LOCK => return Some("account locked"),
        actions::SECURITY_ALERT => return Some("security alert"),
        actions::ACCESS_DENIED => {
            return Some("refused (role, signature or segregation of duties)")
        }
        actions::RECORD_VOID => return Some("void"),
        _ => {}
    }
    if e.actor.role == "admin" && !e.action.starts_with("auth.") {
        return Some("change by an administrator");
    }
    let r = e.record.as_ref()?;
    let record = p.record(&r.kind, &r.id)?;
    match e.action.as_str() {
        actions::RECORD_UPDATE => record
            .signatures
            .iter()
            .any(|s| s.meaning.as_str() == "approved" && s.version < r.version && s.seq < e.seq)
            .then_some("change after approval"),
        actions::RECORD_SIGN => {
            let meaning = e
                .payload
                .get("meaning")
                .and_then(Value::as_str)
                .unwrap_or("");
            let authored = record
                .versions
                .iter()
                .any(|v| v.version <= r.version && v.actor.id == e.actor.id);
            (meaning != "authored" && authored).then_some("signature by the record's author")
        }
        _ => None,
    }
}

#[derive(Deserialize, Default)]
pub struct ReviewQuery {
    since: Option<String>,
    until: Option<String>,
    record_type: Option<String>,
    before: Option<u64>,
}

fn review_form(viewer: &Viewer, q: &ReviewQuery, errors: &FieldErrors, scope: &str) -> Markup {
    let since = q.since.clone().unwrap_or_default();
    let until = q.until.clone().unwrap_or_default();
    html! {
        form method="post" action="/review" aria-labelledby="h-findings" {
            h2 id="h-findings" { "Findings and conclusion" }
            (errors.top())
            (csrf_field(viewer))
            input type="hidden" name="since" value=(since);
            input type="hidden" name="until" value=(until);
            @if let Some(t) = &q.record_type { input type="hidden" name="record_type" value=(t); }
            (text_area(errors, "scope", "Scope and the risk-based reasoning behind it", scope, 2, true))
            (text_field(errors, "method", "Method (filters, sampling, tools)", "text", "Audit-trail review page: events needing attention in the period", false))
            @for i in 0..FINDING_ROWS {
                fieldset {
                    legend { "Finding " (i + 1) " (leave blank if none)" }
                    (text_field(errors, &format!("finding_{i}"), "What was found", "text", "", false))
                    div.field {
                        label for=(format!("class_{i}")) { "Classification" }
                        select id=(format!("class_{i}")) name=(format!("class_{i}")) {
                            @for c in CLASSIFICATIONS { option value=(c) { (c) } }
                        }
                    }
                    (text_field(errors, &format!("events_{i}"), "Event numbers concerned (comma-separated)", "text", "", false))
                }
            }
            (text_area(errors, "conclusion", "Conclusion on the integrity of the trail for the period", "", 3, true))
            button type="submit" { "Record the review and sign it" }
        }
    }
}

fn period_form(q: &ReviewQuery, errors: &FieldErrors, types: &[String]) -> Markup {
    html! {
        form.filters method="get" action="/review" aria-label="Review period and scope" {
            (text_field(errors, "since", "Period start (UTC)", "datetime-local", q.since.as_deref().unwrap_or(""), true))
            (text_field(errors, "until", "Period end (UTC)", "datetime-local", q.until.as_deref().unwrap_or(""), true))
            div.field {
                label for="record_type" { "Record type (scope)" }
                select id="record_type" name="record_type" {
                    option value="" { "all" }
                    @for t in types { option value=(t) selected[q.record_type.as_deref() == Some(t.as_str())] { (t) } }
                }
            }
            button type="submit" { "Review this period" }
        }
    }
}

pub async fn page_handler(
    state: &Shared,
    viewer: &Viewer,
    q: ReviewQuery,
    errors: FieldErrors,
) -> PageResult {
    viewer.who.require(state, Permission::ReadLog).await?;
    let types: Vec<String> = state.record_types.names().map(str::to_owned).collect();
    let mut errors = errors;
    let (since, until) = (
        q.since.clone().filter(|s| !s.is_empty()),
        q.until.clone().filter(|s| !s.is_empty()),
    );
    let (Some(since_text), Some(until_text)) = (since, until) else {
        let body = html! {
            p { "Choose the period to review. The page then lists every event in it that needs attention." }
            (period_form(&q, &errors, &types))
        };
        return Ok(html(
            StatusCode::OK,
            frame(Some(viewer), "Audit-trail review", body),
        ));
    };
    let filters = Filters {
        since: Some(since_text.clone()),
        until: Some(until_text.clone()),
        before: q.before,
        ..Filters::default()
    };
    let scope_type = q.record_type.clone().filter(|t| !t.is_empty());
    let found = {
        let projection = state.projection.clone();
        let scope_type = scope_type.clone();
        let pick = move |e: &Event| {
            let in_scope = match (&scope_type, &e.record) {
                (Some(t), Some(r)) => r.kind == *t,
                _ => true,
            };
            let p = projection.read().unwrap_or_else(|p| p.into_inner());
            in_scope && attention(&p, e).is_some()
        };
        match scan(state, &filters, REVIEW_PAGE, SCAN_BUDGET, &pick).await {
            Ok(found) => found,
            Err(e) => {
                errors.add(e.field.as_deref().unwrap_or(""), e.message.clone());
                let body = period_form(&q, &errors, &types);
                return Ok(html(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    frame(Some(viewer), "Audit-trail review", body),
                ));
            }
        }
    };
    let mut rows = Vec::new();
    for (e, _) in &found.events {
        let why = attention(&state.read(), e);
        rows.push(event_row(state, e, why).await);
    }
    let scope = format!(
        "Events from {since_text} to {until_text} UTC{}",
        scope_type
            .as_ref()
            .map(|t| format!(", records of type {t} (and every security event)"))
            .unwrap_or_default()
    );
    let next_query = |before: u64| {
        format!(
            "/review?since={}&until={}&record_type={}&before={before}",
            enc(&since_text),
            enc(&until_text),
            enc(scope_type.as_deref().unwrap_or(""))
        )
    };
    let body = html! {
        (period_form(&q, &FieldErrors::default(), &types))
        p { (found.events.len()) " event(s) need attention among the " (found.scanned) " looked at"
            @if q.before.is_some() { " (before #" (q.before.unwrap_or(0)) ")" } ". "
            a href=(format!("/trail?since={}&until={}", enc(&since_text), enc(&until_text))) { "Every event of the period" } }
        @if !rows.is_empty() {
            table {
                caption.muted { "Events needing attention, newest first" }
                thead { tr { th { "#" } th { "When" } th { "Who" } th { "What / why flagged" } th { "Why" } th { "Details" } } }
                tbody { @for r in &rows { (r) } }
            }
        }
        @if let Some(next) = found.next { p { a.button href=(next_query(next)) rel="next" { "Look at older events of the period" } } }
        (review_form(viewer, &q, &errors, &scope))
    };
    Ok(html(
        StatusCode::OK,
        frame(Some(viewer), "Audit-trail review", body),
    ))
}

pub async fn page(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(q): Query<ReviewQuery>,
) -> PageResult {
    page_handler(&state, &viewer, q, FieldErrors::default()).await
}

fn findings(form: &Form, errors: &mut FieldErrors) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..FINDING_ROWS {
        let Some(description) = form.get(&format!("finding_{i}")) else {
            if form.get(&format!("events_{i}")).is_some() {
                errors.add(
                    &format!("finding_{i}"),
                    "Say what was found about these events.",
                );
            }
            continue;
        };
        let class = form.get(&format!("class_{i}")).unwrap_or("observation");
        let mut finding = json!({"description": description, "classification": class});
        if let Some(events) = form.get(&format!("events_{i}")) {
            let parsed: Result<Vec<u64>, _> = events
                .split(',')
                .map(|s| s.trim().trim_start_matches('#'))
                .filter(|s| !s.is_empty())
                .map(str::parse::<u64>)
                .collect();
            match parsed {
                Ok(list) => finding["events"] = json!(list),
                Err(_) => errors.add(
                    &format!("events_{i}"),
                    "Event numbers are whole numbers separated by commas, such as 12, 40.",
                ),
            }
        }
        out.push(finding);
    }
    out
}

pub async fn submit(State(state): State<Shared>, viewer: Viewer, body: Bytes) -> PageResult {
    let form = checked(&state, &viewer, &body).await?;
    viewer.who.require(&state, Permission::WriteRecords).await?;
    let q = ReviewQuery {
        since: form.get("since").map(str::to_owned),
        until: form.get("until").map(str::to_owned),
        record_type: form.get("record_type").map(str::to_owned),
        before: None,
    };
    let mut errors = FieldErrors::default();
    let period = match (q.since.as_deref(), q.until.as_deref()) {
        (Some(s), Some(u)) => match (parse_time("since", s), parse_time("until", u)) {
            (Ok(s), Ok(u)) if s <= u => Some((s, u)),
            (Ok(_), Ok(_)) => {
                errors.add("", "The period ends before it starts.");
                None
            }
            (Err(e), _) | (_, Err(e)) => {
                errors.add("", e.message);
                None
            }
        },
        _ => {
            errors.add("", "Choose the period first.");
            None
        }
    };
    let scope = form.get("scope").unwrap_or_default().to_owned();
    if scope.is_empty() {
        errors.add("scope", "Describe the scope of the review.");
    }
    let conclusion = form.get("conclusion").unwrap_or_default().to_owned();
    if conclusion.is_empty() {
        errors.add("conclusion", "Give the conclusion of the review.");
    }
    let findings = findings(&form, &mut errors);
    let Some((start, end)) = period.filter(|_| errors.is_empty()) else {
        return page_handler(&state, &viewer, q, errors).await.map(|mut r| {
            *r.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            r
        });
    };
    let latest = state.sequencer.latest_checkpoint();
    let mut scope_value = json!({"description": scope});
    if let Some(t) = q.record_type.as_deref().filter(|t| !t.is_empty()) {
        scope_value["record_types"] = json!([t]);
    }
    let mut data = json!({
        "period": {"start": start.to_string(), "end": end.to_string()},
        "checkpoint": {"tree_size": latest.checkpoint().size, "root_hash": latest.checkpoint().root.to_hex()},
        "scope": scope_value,
        "reviewer": viewer.who.user,
        "findings": findings,
        "conclusion": conclusion,
    });
    if let Some(m) = form.get("method") {
        data["method"] = json!(m);
    }
    let request = json!({"data": data, "reason": "periodic audit-trail review"});
    match api::create(
        State(state.clone()),
        viewer.who.clone(),
        axum::extract::Path("audit_trail_review".to_owned()),
        Bytes::from(request.to_string()),
    )
    .await
    {
        Ok((_, axum::Json(answer))) => {
            let id = answer["id"].as_str().unwrap_or_default();
            Ok(
                Redirect::to(&format!("/records/audit_trail_review/{}/sign", enc(id)))
                    .into_response(),
            )
        }
        Err(e) => {
            let errors = FieldErrors::from_api(
                &e,
                &[("data/scope", "scope"), ("data/conclusion", "conclusion")],
            );
            let status = e.status;
            page_handler(&state, &viewer, q, errors).await.map(|mut r| {
                *r.status_mut() = status;
                r
            })
        }
    }
}
