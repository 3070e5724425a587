//! The exception, CAPA and change-request boards: each record in the column of its workflow
//! state, and the steps the viewer's role may take from there. A step goes through the API's
//! own transition (legal steps, roles, what each step needs); a refusal lists what is missing.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{html, Markup};
use modeltrail_domain::roles::Permission;
use modeltrail_domain::workflow::machine;
use serde_json::{json, Value};

use super::dashboard::content;
use super::forms::{checked, csrf_field, FieldErrors};
use super::layout::{enc, html, page as frame, plain, record_link, unmet_conditions, PageResult};
use super::records::stale_notice;
use super::session::Viewer;
use crate::error::ApiError;
use crate::routes::records::find;
use crate::routes::workflow;
use crate::state::Shared;

/// The form that moves a record to one of its next states.
#[allow(clippy::too_many_arguments)]
pub fn transition_form(
    viewer: &Viewer,
    kind: &str,
    id: &str,
    version: u64,
    state: &str,
    next: &[&str],
    errors: &FieldErrors,
    back: &str,
) -> Markup {
    let form_id = format!(
        "t-{}",
        id.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    html! {
        form.transition method="post" action=(format!("/records/{}/{}/transition", enc(kind), enc(id))) aria-label=(format!("Move {kind} {id}")) {
            (errors.top())
            (csrf_field(viewer))
            input type="hidden" name="version" value=(version);
            input type="hidden" name="back" value=(back);
            div.field {
                label for=(format!("{form_id}-to")) { "Move from " (state) " to" }
                select id=(format!("{form_id}-to")) name="to" required aria-invalid=[errors.invalid("to")] {
                    @for n in next { option value=(n) { (n) } }
                }
                (errors.beside("to"))
            }
            div.field {
                label for=(format!("{form_id}-reason")) { "Reason (required)" }
                input id=(format!("{form_id}-reason")) name="reason" type="text" required aria-invalid=[errors.invalid("reason")];
                (errors.beside("reason"))
            }
            button type="submit" { "Take the step" }
        }
    }
}

pub async fn page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(kind): Path<String>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadRecords).await?;
    let m = machine(&kind)
        .ok_or_else(|| ApiError::not_found(format!("{kind} records have no workflow board")))?;
    let records: Vec<_> = state
        .read()
        .records_of(&kind, None)
        .filter(|r| !r.voided)
        .cloned()
        .collect();
    let mut cards: Vec<(String, String, u64, Value)> = Vec::new();
    for r in &records {
        let s = r.workflow.clone().unwrap_or_else(|| m.initial.to_owned());
        cards.push((
            r.id.clone(),
            s,
            r.versions.len() as u64,
            content(&state, r).await,
        ));
    }
    let can_step = viewer.who.role.allows(Permission::WriteRecords);
    let back = format!("/boards/{}", enc(&kind));
    let body = html! {
        p.muted { "Steps offered are those the workflow allows from each state; the server also checks your role and what the step needs." }
        div.board {
            @for s in m.states() {
                section.column aria-label=(format!("{s}")) {
                    h2 { (s) " (" (cards.iter().filter(|c| c.1 == s).count()) ")" }
                    @for (id, _, version, data) in cards.iter().filter(|c| c.1 == s) {
                        div.card {
                            p { (record_link(&kind, id)) br; (plain(&data["title"])) }
                            @let next = m.next(s);
                            @if can_step && !next.is_empty() {
                                details { summary { "Move…" }
                                    (transition_form(&viewer, &kind, id, *version, s, &next, &FieldErrors::default(), &back)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let title = match kind.as_str() {
        "exception" => "Exceptions",
        "capa" => "CAPA",
        _ => "Change requests",
    };
    Ok(html(StatusCode::OK, frame(Some(&viewer), title, body)))
}

pub async fn transition(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> PageResult {
    let form = checked(&state, &viewer, &body).await?;
    let record = find(&state, &kind, &id)?;
    let m = machine(&kind)
        .ok_or_else(|| ApiError::not_found(format!("{kind} records have no workflow")))?;
    let back = form
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/")
        .to_owned();
    let opened: u64 = form
        .get("version")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let latest = record.versions.len() as u64;
    let current = record
        .workflow
        .clone()
        .unwrap_or_else(|| m.initial.to_owned());
    let next = m.next(&current);
    let to = form.get("to").unwrap_or_default().to_owned();
    let reason = form.get("reason").unwrap_or_default().to_owned();
    let render = |status: StatusCode, errors: FieldErrors, notice: Option<Markup>| {
        let body = html! {
            @if let Some(n) = notice { (n) }
            p { (record_link(&kind, &id)) " is " strong { (current) } " at version " (latest) "." }
            (transition_form(&viewer, &kind, &id, latest, &current, &next, &errors, &back))
        };
        html(
            status,
            frame(Some(&viewer), &format!("Move {kind} {id}"), body),
        )
    };
    if opened != latest {
        let notice = stale_notice(&state, &record, opened).await?;
        return Ok(render(
            StatusCode::CONFLICT,
            FieldErrors::default(),
            Some(notice),
        ));
    }
    let mut errors = FieldErrors::default();
    if to.is_empty() {
        errors.add("to", "Choose the state to move to.");
    }
    if reason.is_empty() {
        errors.add("reason", "Give the reason for the step.");
    }
    if !errors.is_empty() {
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, errors, None));
    }
    let request = json!({"to": to, "version": opened, "reason": reason});
    match workflow::transition(
        State(state.clone()),
        viewer.who.clone(),
        Path((kind.clone(), id.clone())),
        Bytes::from(request.to_string()),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(e) => {
            let unmet = unmet_conditions(&e);
            let message = match unmet.is_empty() {
                true => e.message.clone(),
                false => format!("{} Missing: {}", e.message, unmet.join(" | ")),
            };
            let mut errors = FieldErrors::default();
            let field = match e.field.as_deref() {
                Some("reason") => "reason",
                _ => "to",
            };
            errors.add(field, message);
            Ok(render(e.status, errors, None))
        }
    }
}
