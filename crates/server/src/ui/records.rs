//! Record pages for every record type: the current version, the full history with field-level
//! diffs, signatures with their manifestation (marked when they apply to an older version),
//! the lineage both ways, and the forms that change a record (edit with a reason, sign). A form
//! carries the version it was opened on: if the record has moved since, it is refused and the
//! changes made in between are shown.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use maud::{html, Markup};
use modeltrail_domain::diff::diff as field_diff;
use modeltrail_domain::dossier::references;
use modeltrail_domain::projection::RecordState;
use modeltrail_domain::roles::Permission;
use modeltrail_domain::workflow::machine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::forms::{checked, csrf_field, text_area, text_field, FieldErrors, Form};
use super::layout::{enc, html, page as frame, pretty, record_link, when, PageResult, UiError};
use super::session::Viewer;
use super::trail::changes_table;
use crate::error::ApiError;
use crate::routes::records as api;
use crate::state::Shared;

/// Records listed per page.
const LIST_PAGE: usize = 100;
/// The signature meanings, as the sign form offers them.
pub const MEANINGS: [(&str, &str); 5] = [
    ("authored", "Authored: I wrote this"),
    ("reviewed", "Reviewed: I checked this"),
    ("approved", "Approved: I approve this"),
    ("verified", "Verified: I verified this"),
    ("responsible", "Responsible: I am responsible for this"),
];

fn record_path(kind: &str, id: &str) -> String {
    format!("/records/{}/{}", enc(kind), enc(id))
}

fn find(state: &Shared, kind: &str, id: &str) -> Result<RecordState, UiError> {
    Ok(api::find(state, kind, id)?)
}

/// A version's content, read back from the log.
async fn content_at(state: &Shared, record: &RecordState, version: u64) -> Result<Value, UiError> {
    let info = record.version(version).ok_or_else(|| {
        ApiError::not_found(format!(
            "{} `{}` has no version {version}",
            record.kind, record.id
        ))
    })?;
    Ok(state.event(info.seq).await?.payload)
}

pub async fn types(State(state): State<Shared>, viewer: Viewer) -> PageResult {
    viewer.who.require(&state, Permission::ReadRecords).await?;
    let counts: Vec<(String, usize)> = {
        let p = state.read();
        state
            .record_types
            .names()
            .map(|k| (k.to_owned(), p.records_of(k, None).count()))
            .collect()
    };
    let body = html! {
        table {
            thead { tr { th { "Record type" } th { "Records" } } }
            tbody { @for (k, n) in &counts { tr { td { a href=(format!("/records/{}", enc(k))) { (k) } } td { (n) } } } }
        }
    };
    Ok(html(StatusCode::OK, frame(Some(&viewer), "Records", body)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    after: Option<String>,
}

pub async fn list(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(kind): Path<String>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadRecords).await?;
    api::known_type(&state, &kind)?;
    let records: Vec<RecordState> = state
        .read()
        .records_of(&kind, q.after.as_deref())
        .take(LIST_PAGE + 1)
        .cloned()
        .collect();
    let more = records.len() > LIST_PAGE;
    let shown = &records[..records.len().min(LIST_PAGE)];
    let body = html! {
        @if shown.is_empty() { p.muted { "No " (kind) " records." } }
        @else {
            table {
                thead { tr { th { "Id" } th { "Version" } th { "Status" } th { "Last change" } th { "Signatures" } } }
                tbody { @for r in shown {
                    tr {
                        td { a href=(record_path(&kind, &r.id)) { (r.id) } }
                        td { (r.versions.len()) }
                        td { @if r.voided { span.badge.bad { "voided" } } @else { (r.workflow.clone().unwrap_or_else(|| "active".into())) } }
                        td { @if let Some(h) = r.head() { (h.actor.name) ", " (when(&h.timestamp)) } }
                        td { (r.signatures.len()) }
                    }
                } }
            }
        }
        @if more { @if let Some(last) = shown.last() {
            p { a.button href=(format!("/records/{}?after={}", enc(&kind), enc(&last.id))) rel="next" { "Next page" } }
        } }
    };
    Ok(html(
        StatusCode::OK,
        frame(Some(&viewer), &format!("{kind} records"), body),
    ))
}

#[derive(Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

/// The signatures of a record, each with its manifestation.
pub fn signatures_table(record: &RecordState) -> Markup {
    let latest = record.versions.len() as u64;
    html! {
        @if record.signatures.is_empty() { p.muted { "No signatures." } }
        @else {
            table {
                thead { tr { th { "Manifestation" } th { "Meaning" } th { "Signed by" } th { "When (UTC)" } th { "Version" } th { "Comment" } } }
                tbody { @for s in &record.signatures {
                    tr {
                        td { (s.line()) }
                        td { strong { (s.meaning.as_str()) } }
                        td { (s.name) " (" (s.signer) ", " (s.role) ")" }
                        td { (when(&s.signed_at)) }
                        td { (s.version) @if s.version != latest { " " span.badge.warn { "applies to an older version" } } }
                        td { (s.comment.clone().unwrap_or_default()) }
                    }
                } }
            }
        }
    }
}

/// The lineage both ways: what the record names, and what names it.
fn lineage(state: &Shared, record: &RecordState, data: &Value) -> Markup {
    let names: Vec<(String, String)> = {
        let p = state.read();
        references(data)
            .into_iter()
            .map(|(kind, id)| {
                let kind = match kind {
                    "" => state
                        .record_types
                        .names()
                        .find(|k| p.record(k, id).is_some())
                        .unwrap_or("")
                        .to_owned(),
                    k => k.to_owned(),
                };
                (kind, id.to_owned())
            })
            .collect()
    };
    let named_by: Vec<(String, String)> = {
        let p = state.read();
        p.referrers(&record.kind, &record.id)
            .chain(p.referrers("", &record.id))
            .map(|r| (r.kind.clone(), r.id.clone()))
            .collect()
    };
    html! {
        div.cards {
            div.card { h3 { "Names (upstream)" }
                @if names.is_empty() { p.muted { "Nothing." } }
                ul { @for (k, i) in &names { li { @if k.is_empty() { code { (i) } } @else { (record_link(k, i)) } } } } }
            div.card { h3 { "Named by (downstream)" }
                @if named_by.is_empty() { p.muted { "Nothing." } }
                ul { @for (k, i) in &named_by { li { (record_link(k, i)) } } } }
        }
    }
}

pub async fn page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Query<PageQuery>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadRecords).await?;
    let record = find(&state, &kind, &id)?;
    let latest = record.versions.len() as u64;
    let mut history = Vec::new();
    let mut previous: Option<Value> = None;
    for v in &record.versions {
        let data = state.event(v.seq).await?.payload;
        let changes: Vec<Value> = match &previous {
            Some(old) => field_diff(old, &data)
                .into_iter()
                .map(|c| json!(c))
                .collect(),
            None => Vec::new(),
        };
        history.push((v.clone(), changes));
        previous = Some(data);
    }
    let data = previous.unwrap_or(Value::Null);
    let workflow = machine(&kind).map(|m| {
        let s = record
            .workflow
            .clone()
            .unwrap_or_else(|| m.initial.to_owned());
        let next = m.next(&s);
        (s, next)
    });
    let can_write = viewer.who.role.allows(Permission::WriteRecords);
    let can_sign = viewer.who.role.allows(Permission::Sign);
    let path = record_path(&kind, &id);
    let body = html! {
        @if let Some(done) = &q.done { p.notice role="status" { (done) } }
        dl.kv {
            dt { "Type" } dd { (kind) }
            dt { "Version" } dd { (latest) }
            dt { "Status" } dd { @if record.voided { span.badge.bad { "voided" } } @else { "active" } }
            @if let Some((s, _)) = &workflow { dt { "Workflow state" } dd { strong { (s) } } }
            @if let Some(h) = record.head() { dt { "Last change" } dd { (h.actor.name) ", " (when(&h.timestamp)) @if let Some(r) = &h.reason { " — " (r) } } }
        }
        p {
            @if kind == "model_version" { a.button href=(format!("/model-versions/{}", enc(&id))) { "Model dossier" } " " }
            @if can_write && !record.voided { a.button href=(format!("{path}/edit")) { "Edit" } " " }
            @if can_sign && !record.voided {
                a.button href=(format!("{path}/sign")) data-open-dialog="sign-dialog" { "Sign version " (latest) } " "
            }
            a href=(format!("/trail?record_type={}&record_id={}", enc(&kind), enc(&id))) { "Audit trail of this record" }
        }
        @if let Some((s, next)) = &workflow { @if can_write && !next.is_empty() && !record.voided {
            (super::boards::transition_form(&viewer, &kind, &id, latest, s, next, &FieldErrors::default(), &path))
        } }
        h2 { "Current content (version " (latest) ")" }
        (pretty(&data))
        h2 { "Signatures" }
        (signatures_table(&record))
        @if !record.signature_requests.is_empty() {
            h2 { "Signature requests" }
            ul { @for r in &record.signature_requests {
                li { (r.signer) ": " (r.meaning.as_str()) " on version " (r.version)
                    @if record.fulfils(r) { " " span.badge.ok { "signed" } } @else { " " span.badge.warn { "pending" } } }
            } }
        }
        h2 { "Lineage" }
        (lineage(&state, &record, &data))
        @if !record.transitions.is_empty() {
            h2 { "Workflow steps" }
            table { thead { tr { th { "From" } th { "To" } th { "By" } th { "When" } th { "On version" } th { "Why" } } }
                tbody { @for t in &record.transitions { tr { td { (t.from) } td { (t.to) } td { (t.actor.name) } td { (when(&t.timestamp)) } td { (t.version) } td { (t.reason.clone().unwrap_or_default()) } } } } }
        }
        h2 { "Version history" }
        @for (v, changes) in history.iter().rev() {
            section.card {
                h3 { "Version " (v.version) " — " code { (v.action) } }
                p { (v.actor.name) " (" (v.actor.id) "), " (when(&v.timestamp)) " · " a href=(format!("/trail/{}", v.seq)) { "event #" (v.seq) }
                    @if let Some(r) = &v.reason { br; "Why: " (r) } }
                @if !changes.is_empty() { (changes_table(changes)) }
                @else if v.version > 1 { p.muted { "No field changed." } }
            }
        }
        @if can_sign && !record.voided {
            dialog id="sign-dialog" aria-labelledby="sign-dialog-title" {
                h2 id="sign-dialog-title" { "Sign " (kind) " " (id) ", version " (latest) }
                (sign_form(&viewer, &record, latest, &FieldErrors::default(), ""))
                button.secondary type="button" data-close-dialog { "Cancel" }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        frame(Some(&viewer), &format!("{kind} {id}"), body),
    ))
}

/// The notice of a stale form: the record moved from the version the form was opened on; what
/// changed in between.
pub async fn stale_notice(
    state: &Shared,
    record: &RecordState,
    opened: u64,
) -> Result<Markup, UiError> {
    let latest = record.versions.len() as u64;
    let changes: Vec<Value> = match record.version(opened) {
        Some(_) => {
            let old = content_at(state, record, opened).await?;
            let new = content_at(state, record, latest).await?;
            field_diff(&old, &new)
                .into_iter()
                .map(|c| json!(c))
                .collect()
        }
        None => Vec::new(),
    };
    let between: Vec<_> = record
        .versions
        .iter()
        .filter(|v| v.version > opened)
        .collect();
    Ok(html! {
        div.error role="alert" {
            p { strong { "Refused: the record changed after you opened this form." }
                " You opened version " (opened) "; it is now at version " (latest) ". Nothing was written. Read the changes below and submit again." }
            ul { @for v in &between { li { "Version " (v.version) ": " code { (v.action) } " by " (v.actor.name) ", " (when(&v.timestamp)) @if let Some(r) = &v.reason { " — " (r) } } } }
            @if !changes.is_empty() { (changes_table(&changes)) }
            @if record.voided { p { "The record is now voided." } }
        }
    })
}

fn edit_page(
    viewer: &Viewer,
    record: &RecordState,
    version: u64,
    data: &str,
    reason: &str,
    errors: &FieldErrors,
    notice: Option<Markup>,
) -> Markup {
    let path = record_path(&record.kind, &record.id);
    let body = html! {
        @if let Some(n) = notice { (n) }
        p { "Editing version " (version) " of " (record_link(&record.kind, &record.id)) ". The change becomes version " (version + 1) "; the old values stay in the history." }
        form method="post" action=(format!("{path}/edit")) {
            (errors.top())
            (csrf_field(viewer))
            input type="hidden" name="version" value=(version);
            (text_area(errors, "data", "Content (JSON, checked against the record type's schema)", data, 24, true))
            (text_field(errors, "reason", "Reason for the change (required)", "text", reason, true))
            button type="submit" { "Save version " (version + 1) }
            " " a href=(path) { "Cancel" }
        }
    };
    frame(
        Some(viewer),
        &format!("Edit {} {}", record.kind, record.id),
        body,
    )
}

pub async fn edit_form(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
) -> PageResult {
    viewer.who.require(&state, Permission::WriteRecords).await?;
    let record = find(&state, &kind, &id)?;
    let latest = record.versions.len() as u64;
    let data = content_at(&state, &record, latest).await?;
    let text = serde_json::to_string_pretty(&data).unwrap_or_default();
    Ok(html(
        StatusCode::OK,
        edit_page(
            &viewer,
            &record,
            latest,
            &text,
            "",
            &FieldErrors::default(),
            None,
        ),
    ))
}

fn form_version(form: &Form) -> Result<u64, UiError> {
    form.get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            UiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "the form lacks the version it was opened on; open it again",
            )
        })
}

pub async fn edit_submit(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> PageResult {
    let form = checked(&state, &viewer, &body).await?;
    viewer.who.require(&state, Permission::WriteRecords).await?;
    let record = find(&state, &kind, &id)?;
    let opened = form_version(&form)?;
    let latest = record.versions.len() as u64;
    let (text, reason) = (form.raw("data"), form.raw("reason"));
    if opened != latest {
        let notice = stale_notice(&state, &record, opened).await?;
        return Ok(html(
            StatusCode::CONFLICT,
            edit_page(
                &viewer,
                &record,
                latest,
                text,
                reason,
                &FieldErrors::default(),
                Some(notice),
            ),
        ));
    }
    let mut errors = FieldErrors::default();
    let data: Option<Value> = match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.add("data", format!("not valid JSON: {e}"));
            None
        }
    };
    if reason.trim().is_empty() {
        errors.add("reason", "Give the reason for the change.");
    }
    let Some(data) = data.filter(|_| errors.is_empty()) else {
        return Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            edit_page(&viewer, &record, latest, text, reason, &errors, None),
        ));
    };
    let request = json!({"version": opened, "reason": reason, "data": data});
    match api::update(
        State(state.clone()),
        viewer.who.clone(),
        Path((kind.clone(), id.clone())),
        Bytes::from(request.to_string()),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?done={}",
            record_path(&kind, &id),
            enc(&format!("Saved version {}.", latest + 1))
        ))
        .into_response()),
        Err(e) if e.code == "stale_version" => {
            let record = find(&state, &kind, &id)?;
            let notice = stale_notice(&state, &record, opened).await?;
            Ok(html(
                StatusCode::CONFLICT,
                edit_page(
                    &viewer,
                    &record,
                    record.versions.len() as u64,
                    text,
                    reason,
                    &FieldErrors::default(),
                    Some(notice),
                ),
            ))
        }
        Err(e) => {
            let errors = FieldErrors::from_api(&e, &[("data", "data"), ("reason", "reason")]);
            Ok(html(
                e.status,
                edit_page(&viewer, &record, latest, text, reason, &errors, None),
            ))
        }
    }
}

/// The signing form: exactly which version is signed, the meaning, and the password again
/// (with the user id at the session's first signature).
pub fn sign_form(
    viewer: &Viewer,
    record: &RecordState,
    version: u64,
    errors: &FieldErrors,
    meaning: &str,
) -> Markup {
    let path = record_path(&record.kind, &record.id);
    let leaf = record
        .version(version)
        .map(|v| v.leaf.to_hex())
        .unwrap_or_default();
    let authored = record
        .versions
        .iter()
        .any(|v| v.actor.id == viewer.who.user)
        || record
            .signatures
            .iter()
            .any(|s| s.signer == viewer.who.user && s.meaning.as_str() == "authored");
    html! {
        form method="post" action=(format!("{path}/sign")) {
            (errors.top())
            (csrf_field(viewer))
            input type="hidden" name="version" value=(version);
            p { "You sign " strong { (record.kind) " " (record.id) ", version " (version) } " (leaf " code { (leaf) } ") as "
                strong { (viewer.who.name) } ". The signature binds your name, the time and the meaning to this version only." }
            @if authored { p.warn { "You wrote or signed as author a version of this record: segregation of duties forbids you to approve it." } }
            div.field {
                label for="meaning" { "Meaning of the signature" }
                select id="meaning" name="meaning" required aria-invalid=[errors.invalid("meaning")] aria-describedby=[errors.described("meaning")] {
                    option value="" { "Choose…" }
                    @for (value, label) in MEANINGS { option value=(value) selected[value == meaning] { (label) } }
                }
                (errors.beside("meaning"))
            }
            (text_field(errors, "comment", "Comment (optional)", "text", "", false))
            @if !viewer.who.has_signed { (text_field(errors, "username", "Your user id (first signature of this session)", "text", "", true)) }
            (text_field(errors, "password", "Your password", "password", "", true))
            button type="submit" { "Sign version " (version) }
        }
    }
}

fn sign_page(
    viewer: &Viewer,
    record: &RecordState,
    version: u64,
    content: &Value,
    errors: &FieldErrors,
    meaning: &str,
    notice: Option<Markup>,
) -> Markup {
    let body = html! {
        @if let Some(n) = notice { (n) }
        (sign_form(viewer, record, version, errors, meaning))
        h2 { "What you are signing: version " (version) }
        (pretty(content))
        h2 { "Signatures already given" }
        (signatures_table(record))
    };
    frame(
        Some(viewer),
        &format!("Sign {} {}", record.kind, record.id),
        body,
    )
}

pub async fn sign_form_page(state: &Shared, viewer: &Viewer, kind: &str, id: &str) -> PageResult {
    viewer.who.require(state, Permission::Sign).await?;
    let record = find(state, kind, id)?;
    let latest = record.versions.len() as u64;
    let content = content_at(state, &record, latest).await?;
    Ok(html(
        StatusCode::OK,
        sign_page(
            viewer,
            &record,
            latest,
            &content,
            &FieldErrors::default(),
            "",
            None,
        ),
    ))
}

pub async fn sign_open(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
) -> PageResult {
    sign_form_page(&state, &viewer, &kind, &id).await
}

/// Why a signature was refused, in words a signer can act on.
fn explain_refusal(e: &ApiError) -> String {
    match e.code {
        "segregation_of_duties" => format!(
            "Segregation of duties: {} Someone other than the author (QA) must approve it.",
            e.message
        ),
        "already_signed" => format!("Already signed: {}", e.message),
        "wrong_password" => {
            "The password is wrong. (The attempt is recorded in the audit trail.)".to_owned()
        }
        "not_signer" => "You can only sign as yourself: enter your own user id.".to_owned(),
        "session_required" => "Signatures need an interactive login.".to_owned(),
        _ => e.message.clone(),
    }
}

pub async fn sign_submit(
    State(state): State<Shared>,
    viewer: Viewer,
    Path((kind, id)): Path<(String, String)>,
    body: Bytes,
) -> PageResult {
    let form = checked(&state, &viewer, &body).await?;
    viewer.who.require(&state, Permission::Sign).await?;
    let record = find(&state, &kind, &id)?;
    let opened = form_version(&form)?;
    let latest = record.versions.len() as u64;
    let meaning = form.get("meaning").unwrap_or_default().to_owned();
    let content = content_at(&state, &record, latest).await?;
    if opened != latest || record.voided {
        let notice = stale_notice(&state, &record, opened).await?;
        return Ok(html(
            StatusCode::CONFLICT,
            sign_page(
                &viewer,
                &record,
                latest,
                &content,
                &FieldErrors::default(),
                &meaning,
                Some(notice),
            ),
        ));
    }
    let mut errors = FieldErrors::default();
    if !MEANINGS.iter().any(|(m, _)| *m == meaning) {
        errors.add("meaning", "Choose the meaning of the signature.");
    }
    if form.raw("password").is_empty() {
        errors.add("password", "Enter your password.");
    }
    if !viewer.who.has_signed && form.get("username").is_none() {
        errors.add(
            "username",
            "The first signature of a session needs your user id too.",
        );
    }
    if !errors.is_empty() {
        return Ok(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            sign_page(&viewer, &record, latest, &content, &errors, &meaning, None),
        ));
    }
    let mut request = json!({"meaning": meaning, "password": form.raw("password")});
    if let Some(u) = form.get("username") {
        request["username"] = json!(u);
    }
    if let Some(c) = form.get("comment") {
        request["comment"] = json!(c);
    }
    let answer = api::sign(
        State(state.clone()),
        viewer.who.clone(),
        Path((kind.clone(), id.clone(), opened)),
        Bytes::from(request.to_string()),
    )
    .await;
    match answer {
        Ok(_) => Ok(Redirect::to(&format!(
            "{}?done={}",
            record_path(&kind, &id),
            enc(&format!("Signed version {opened} as {meaning}."))
        ))
        .into_response()),
        Err(e) if e.code == "stale_version" => {
            let record = find(&state, &kind, &id)?;
            let notice = stale_notice(&state, &record, opened).await?;
            let content = content_at(&state, &record, record.versions.len() as u64).await?;
            Ok(html(
                StatusCode::CONFLICT,
                sign_page(
                    &viewer,
                    &record,
                    record.versions.len() as u64,
                    &content,
                    &FieldErrors::default(),
                    &meaning,
                    Some(notice),
                ),
            ))
        }
        Err(e) => {
            let field = match e.code {
                "segregation_of_duties" | "already_signed" | "not_trainee" => "meaning",
                "wrong_password" => "password",
                "not_signer" => "username",
                _ => e.field.as_deref().unwrap_or(""),
            };
            let mut errors = FieldErrors::default();
            errors.add(field, explain_refusal(&e));
            Ok(html(
                e.status,
                sign_page(&viewer, &record, latest, &content, &errors, &meaning, None),
            ))
        }
    }
}
