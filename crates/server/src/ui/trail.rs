//! The audit-trail browser: every event newest first, paginated by a cursor (`before`, a
//! sequence number), filtered by time range, actor, action, record type and record; each event
//! with who (printed name), what, when (UTC and local), why and, for updates, the field-level
//! old and new values; the per-event page with its inclusion proof checked here against the
//! current checkpoint (and downloadable raw); CSV and JSON export of any filtered view.
//!
//! A time range is found by binary search over the log (times never decrease), and each page
//! looks at a bounded number of events, so a page costs the same at any size of log.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use memchr::memmem;
use modeltrail_domain::diff::diff as field_diff;
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::event::Event;
use modeltrail_ledger::proof::verify_inclusion;
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};
use modeltrail_store::proofs::inclusion_proof;
use modeltrail_store::LogStore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::layout::{
    enc, html, none, page as frame, plain, pretty, record_link, when, PageResult, UiError,
};
use super::session::Viewer;
use crate::error::ApiError;
use crate::state::Shared;

/// Events shown per page.
pub const PAGE_SIZE: usize = 50;
/// Events looked at per page at most; past that the page offers to search on.
pub const SCAN_BUDGET: u64 = 20_000;
/// Rows in one export at most.
pub const EXPORT_LIMIT: usize = 100_000;
/// Events read from the store at a time.
const CHUNK: u64 = 512;

/// The filters of a view of the trail, as the query string carries them.
#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    /// UTC, `YYYY-MM-DDTHH:MM[:SS]` (a datetime-local input) or a full timestamp.
    pub since: Option<String>,
    pub until: Option<String>,
    pub actor: Option<String>,
    pub action: Option<String>,
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    /// Only events before this sequence number (the cursor).
    pub before: Option<u64>,
}

fn blank(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A time typed into a filter, as a timestamp; seconds and fractions may be left out.
pub fn parse_time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    let t = text.trim().trim_end_matches('Z');
    let full = match t.len() {
        16 => format!("{t}:00.000000Z"),
        19 => format!("{t}.000000Z"),
        10 => format!("{t}T00:00:00.000000Z"),
        _ if t.contains('.') => {
            let (head, frac) = t.split_once('.').unwrap_or((t, ""));
            format!("{head}.{:0<6}Z", &frac[..frac.len().min(6)])
        }
        _ => format!("{t}Z"),
    };
    Timestamp::parse(&full).map_err(|_| {
        ApiError::invalid(
            field.to_owned(),
            format!("`{text}` is not a UTC time such as 2026-01-31T14:00"),
        )
    })
}

impl Filters {
    pub fn range(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let since = blank(&self.since)
            .map(|t| parse_time("since", t))
            .transpose()?;
        let until = blank(&self.until)
            .map(|t| parse_time("until", t))
            .transpose()?;
        if let (Some(s), Some(u)) = (since, until) {
            if s > u {
                return Err(ApiError::invalid(
                    "until",
                    "the end of the range is before its start",
                ));
            }
        }
        Ok((since, until))
    }

    /// The query string of these filters with another cursor.
    pub fn query(&self, before: Option<u64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("since", &self.since),
            ("until", &self.until),
            ("actor", &self.actor),
            ("action", &self.action),
            ("record_type", &self.record_type),
            ("record_id", &self.record_id),
        ] {
            if let Some(v) = blank(v) {
                q.append_pair(k, v);
            }
        }
        if let Some(b) = before {
            q.append_pair("before", &b.to_string());
        }
        q.finish()
    }

    /// Byte strings an event's canonical JSON must contain to match (a cheap first check; the
    /// parsed event decides).
    fn needles(&self) -> Vec<Vec<u8>> {
        let quoted = |key: &str, v: &str| format!("\"{key}\":{}", json!(v)).into_bytes();
        let mut n = Vec::new();
        if let Some(a) = blank(&self.actor) {
            n.push(quoted("id", a));
        }
        if let Some(a) = blank(&self.action) {
            n.push(quoted("action", a));
        }
        if let Some(t) = blank(&self.record_type) {
            n.push(quoted("type", t));
        }
        if let Some(i) = blank(&self.record_id) {
            n.push(quoted("id", i));
        }
        n
    }

    fn keeps(&self, e: &Event) -> bool {
        let record = e.record.as_ref();
        blank(&self.actor).is_none_or(|a| e.actor.id == a)
            && blank(&self.action).is_none_or(|a| e.action == a)
            && blank(&self.record_type).is_none_or(|t| record.is_some_and(|r| r.kind == t))
            && blank(&self.record_id).is_none_or(|i| record.is_some_and(|r| r.id == i))
    }
}

/// The first sequence number whose event is at or after `t` (binary search: times never
/// decrease along the log).
async fn first_at_or_after(state: &Shared, size: u64, t: Timestamp) -> Result<u64, ApiError> {
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let entry = state.store.entries(mid, 1).await?.into_iter().next();
        let Some(entry) = entry else { break };
        let head = modeltrail_ledger::event::EventHead::from_bytes(&entry.body)
            .map_err(|e| ApiError::internal(format!("event {mid}: {e}")))?;
        match head.timestamp < t {
            true => lo = mid + 1,
            false => hi = mid,
        }
    }
    Ok(lo)
}

/// What a scan found: events newest first with their leaf hashes, and where to go on.
pub struct Found {
    pub events: Vec<(Event, Hash)>,
    /// The cursor of the next (older) page, if there is more to look at.
    pub next: Option<u64>,
    /// How many events were looked at.
    pub scanned: u64,
    pub tree_size: u64,
}

/// Walks the log newest first under `filters` (and `extra`), until `limit` events are found,
/// `budget` events were looked at, or the range is done.
pub async fn scan(
    state: &Shared,
    filters: &Filters,
    limit: usize,
    budget: u64,
    extra: &(dyn Fn(&Event) -> bool + Sync),
) -> Result<Found, ApiError> {
    let size = state.sequencer.latest_checkpoint().checkpoint().size;
    let (since, until) = filters.range()?;
    let lo = match since {
        Some(t) => first_at_or_after(state, size, t).await?,
        None => 0,
    };
    let mut hi = match until {
        // One past the last event at or before `until`.
        Some(t) => {
            first_at_or_after(state, size, Timestamp::from_micros(t.as_micros() + 1)).await?
        }
        None => size,
    };
    hi = hi.min(filters.before.unwrap_or(u64::MAX)).min(size);
    let needles: Vec<_> = filters.needles();
    let finders: Vec<_> = needles.iter().map(memmem::Finder::new).collect();
    let mut events = Vec::new();
    let mut at = hi;
    let mut scanned = 0u64;
    'scan: while at > lo && scanned < budget && events.len() < limit {
        let from = at.saturating_sub(CHUNK).max(lo);
        let chunk = state.store.entries(from, (at - from) as usize).await?;
        for entry in chunk.into_iter().rev() {
            if entry.seq >= at {
                continue;
            }
            at = entry.seq;
            scanned += 1;
            if finders.iter().all(|f| f.find(&entry.body).is_some()) {
                let event = Event::from_bytes(&entry.body)
                    .map_err(|e| ApiError::internal(format!("event {}: {e}", entry.seq)))?;
                if filters.keeps(&event) && extra(&event) {
                    events.push((event, leaf_hash(&entry.body)));
                }
            }
            if events.len() >= limit || scanned >= budget {
                break 'scan;
            }
        }
        if from == lo {
            at = lo;
        }
    }
    Ok(Found {
        events,
        next: (at > lo).then_some(at),
        scanned,
        tree_size: size,
    })
}

/// The field-level changes an update made, from the version before it.
pub async fn changes_of(state: &Shared, event: &Event) -> Option<Vec<Value>> {
    let record = event.record.as_ref()?;
    if event.action != "record.update" || record.version < 2 {
        return None;
    }
    let before = state
        .read()
        .record(&record.kind, &record.id)
        .and_then(|r| r.version(record.version - 1).map(|v| v.seq))?;
    let old = state.event(before).await.ok()?.payload;
    Some(
        field_diff(&old, &event.payload)
            .into_iter()
            .map(|c| json!(c))
            .collect(),
    )
}

/// Field-level changes as a table.
pub fn changes_table(changes: &[Value]) -> Markup {
    html! {
        table.changes {
            thead { tr { th { "Field" } th { "Old value" } th { "New value" } } }
            tbody { @for c in changes {
                tr { td { code { (plain(&c["field"])) } } td { (display(&c["old"])) } td { (display(&c["new"])) } }
            } }
        }
    }
}

fn display(v: &Value) -> Markup {
    match v {
        Value::Null => html! { span.muted { "(absent)" } },
        Value::String(s) => html! { (s) },
        other => html! { code { (other.to_string()) } },
    }
}

/// One event as a table row.
pub async fn event_row(state: &Shared, event: &Event, highlight: Option<&str>) -> Markup {
    let changes = changes_of(state, event).await;
    html! {
        tr.attention[highlight.is_some()] {
            td { a href=(format!("/trail/{}", event.seq)) { (event.seq) } }
            td { (when(&event.timestamp)) }
            td { strong { (event.actor.name) } br; span.muted { (event.actor.id) ", " (event.actor.role) ", " (format!("{:?}", event.actor.auth).to_lowercase()) } }
            td {
                code { (event.action) }
                @if let Some(r) = &event.record { br; (record_link(&r.kind, &r.id)) " v" (r.version) }
                @if let Some(h) = highlight { br; span.badge.warn { (h) } }
            }
            td { @match &event.reason { Some(r) => (r), None => span.muted { "—" } } }
            td {
                @if let Some(c) = &changes { (changes_table(c)) }
                @else { details { summary { "payload" } (pretty(&event.payload)) } }
            }
        }
    }
}

/// The filter form.
pub fn filter_form(f: &Filters, error: Option<&ApiError>, action: &str) -> Markup {
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let err = |name: &str| {
        error
            .filter(|e| e.field.as_deref() == Some(name))
            .map(|e| e.message.clone())
    };
    html! {
        form.filters method="get" action=(action) role="search" aria-label="Filter the audit trail" {
            @for (name, label, kind, value) in [
                ("since", "From (UTC)", "datetime-local", v(&f.since)),
                ("until", "To (UTC)", "datetime-local", v(&f.until)),
                ("actor", "Actor (user id)", "text", v(&f.actor)),
                ("action", "Action", "text", v(&f.action)),
                ("record_type", "Record type", "text", v(&f.record_type)),
                ("record_id", "Record id", "text", v(&f.record_id)),
            ] {
                div.field {
                    label for=(format!("f-{name}")) { (label) }
                    input id=(format!("f-{name}")) name=(name) type=(kind) value=(value) step=[(kind == "datetime-local").then_some("1")]
                        aria-invalid=[err(name).map(|_| "true")] aria-describedby=[err(name).map(|_| format!("f-{name}-error"))];
                    @if let Some(m) = err(name) { span.field-error id=(format!("f-{name}-error")) role="alert" { (m) } }
                }
            }
            button type="submit" { "Filter" }
            a href=(action) { "Clear" }
        }
    }
}

pub async fn page(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadLog).await?;
    let found = match scan(&state, &filters, PAGE_SIZE, SCAN_BUDGET, &|_| true).await {
        Ok(found) => found,
        Err(e) if e.field.is_some() => {
            let body = html! { (filter_form(&filters, Some(&e), "/trail")) };
            return Ok(html(
                StatusCode::UNPROCESSABLE_ENTITY,
                frame(Some(&viewer), "Audit trail", body),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let mut rows = Vec::new();
    for (event, _) in &found.events {
        rows.push(event_row(&state, event, None).await);
    }
    let query = filters.query(filters.before);
    let body = html! {
        (filter_form(&filters, None, "/trail"))
        p {
            "The log holds " (found.tree_size) " events. "
            @if let Some(b) = filters.before { "Showing events before #" (b) ". " a href=(format!("/trail?{}", filters.query(None))) { "Newest" } " · " }
            "Export this view: " a href=(format!("/trail/export.csv?{query}")) { "CSV" } " · " a href=(format!("/trail/export.json?{query}")) { "JSON" }
        }
        @if rows.is_empty() { p.muted { "No event matches among the " (found.scanned) " looked at." } }
        @else {
            table.trail {
                caption.muted { "Newest first" }
                thead { tr { th scope="col" { "#" } th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Why" } th scope="col" { "Details" } } }
                tbody { @for r in &rows { (r) } }
            }
        }
        @if let Some(next) = found.next {
            p { a.button href=(format!("/trail?{}", filters.query(Some(next)))) rel="next" {
                @if rows.len() < PAGE_SIZE { "Search older events (before #" (next) ")" } @else { "Older events" }
            } }
        }
    };
    Ok(html(
        StatusCode::OK,
        frame(Some(&viewer), "Audit trail", body),
    ))
}

/// Every event of the view (newest first), up to the export limit.
async fn export_events(
    state: &Shared,
    viewer: &Viewer,
    filters: &Filters,
) -> Result<Found, UiError> {
    viewer.who.require(state, Permission::ReadLog).await?;
    Ok(scan(state, filters, EXPORT_LIMIT, u64::MAX, &|_| true).await?)
}

fn download(content_type: &'static str, name: &str, body: String, truncated: bool) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        body,
    )
        .into_response();
    if truncated {
        response.headers_mut().insert(
            "x-modeltrail-truncated",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    response
}

/// A CSV cell, quoted when it must be (RFC 4180), and kept from being read as a formula.
fn cell(text: &str) -> String {
    let text = match text.starts_with(['=', '+', '-', '@']) {
        true => format!("'{text}"),
        false => text.to_owned(),
    };
    match text.contains([',', '"', '\n', '\r']) {
        true => format!("\"{}\"", text.replace('"', "\"\"")),
        false => text,
    }
}

pub async fn export_csv(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult {
    let found = export_events(&state, &viewer, &filters).await?;
    let mut out = String::from("seq,timestamp,actor_id,actor_name,actor_role,auth,action,record_type,record_id,record_version,reason,client_address,leaf,payload\n");
    for (e, leaf) in &found.events {
        let r = e.record.as_ref();
        let fields = [
            e.seq.to_string(),
            e.timestamp.to_string(),
            e.actor.id.clone(),
            e.actor.name.clone(),
            e.actor.role.clone(),
            format!("{:?}", e.actor.auth).to_lowercase(),
            e.action.clone(),
            r.map(|r| r.kind.clone()).unwrap_or_default(),
            r.map(|r| r.id.clone()).unwrap_or_default(),
            r.map(|r| r.version.to_string()).unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            e.client.address.clone().unwrap_or_default(),
            leaf.to_hex(),
            e.payload.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| cell(f)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    let truncated = found.events.len() >= EXPORT_LIMIT && found.next.is_some();
    Ok(download(
        "text/csv; charset=utf-8",
        "audit-trail.csv",
        out,
        truncated,
    ))
}

pub async fn export_json(
    State(state): State<Shared>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> PageResult {
    let found = export_events(&state, &viewer, &filters).await?;
    let events: Vec<Value> = found
        .events
        .iter()
        .map(|(e, leaf)| {
            let mut v = json!(e);
            v["leaf"] = json!(leaf);
            v
        })
        .collect();
    let truncated = found.events.len() >= EXPORT_LIMIT && found.next.is_some();
    let body = json!({
        "tree_size": found.tree_size,
        "filters": {
            "since": filters.since, "until": filters.until, "actor": filters.actor,
            "action": filters.action, "record_type": filters.record_type, "record_id": filters.record_id,
        },
        "truncated": truncated,
        "events": events,
    });
    Ok(download(
        "application/json",
        "audit-trail.json",
        body.to_string(),
        truncated,
    ))
}

/// An event's inclusion proof against the current checkpoint, checked here.
pub struct CheckedProof {
    pub leaf: Hash,
    pub size: u64,
    pub root: Hash,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
    pub verdict: Result<(), String>,
}

pub async fn checked_proof(state: &Shared, seq: u64) -> Result<(Event, CheckedProof), UiError> {
    let latest = state.sequencer.latest_checkpoint();
    let size = latest.checkpoint().size;
    if seq >= size {
        return Err(
            ApiError::not_found(format!("no event #{seq}: the log holds {size} events")).into(),
        );
    }
    let entry = state
        .store
        .entries(seq, 1)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::not_found(format!("no event #{seq}")))?;
    let event = Event::from_bytes(&entry.body)
        .map_err(|e| ApiError::internal(format!("event {seq}: {e}")))?;
    let leaf = leaf_hash(&entry.body);
    let proof = inclusion_proof(&state.store, seq, size)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let root = latest.checkpoint().root;
    let verdict = verify_inclusion(&leaf, seq, size, &proof, &root).map_err(|e| e.to_string());
    Ok((
        event,
        CheckedProof {
            leaf,
            size,
            root,
            proof,
            checkpoint: latest.text().to_owned(),
            verdict,
        },
    ))
}

pub async fn proof_page(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(seq): Path<u64>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadLog).await?;
    let (event, proof) = checked_proof(&state, seq).await?;
    let changes = changes_of(&state, &event).await;
    let body = html! {
        dl.kv {
            dt { "Sequence number" } dd { (event.seq) }
            dt { "When" } dd { (when(&event.timestamp)) }
            dt { "Who" } dd { (event.actor.name) " (" (event.actor.id) ", " (event.actor.role) ", " (format!("{:?}", event.actor.auth).to_lowercase()) ")" }
            dt { "Client" } dd { (event.client.address.clone().unwrap_or_default()) " " (event.client.user_agent.clone().unwrap_or_default()) }
            dt { "What" } dd { code { (event.action) } @if let Some(r) = &event.record { " on " (record_link(&r.kind, &r.id)) " version " (r.version) } }
            dt { "Why" } dd { (event.reason.clone().unwrap_or_else(|| "—".into())) }
        }
        @if let Some(c) = &changes { h2 { "Changes" } (changes_table(c)) }
        h2 { "Payload" }
        (pretty(&event.payload))
        h2 { "Inclusion proof" }
        @match &proof.verdict {
            Ok(()) => p.notice role="status" { "Verified by the server: event #" (seq) " is leaf " (seq) " of the signed checkpoint of " (proof.size) " events." },
            Err(e) => p.error role="alert" { "The proof does NOT verify: " (e) },
        }
        dl.kv {
            dt { "Leaf hash" } dd { code { (proof.leaf.to_hex()) } }
            dt { "Tree size" } dd { (proof.size) }
            dt { "Root hash" } dd { code { (proof.root.to_hex()) } }
            dt { "Proof (" (proof.proof.len()) " hashes)" } dd { ol { @for h in &proof.proof { li { code { (h.to_hex()) } } } } }
        }
        h3 { "Signed checkpoint" }
        pre.json { (proof.checkpoint) }
        p { a.button href=(format!("/trail/{seq}/proof.json")) download { "Download the raw proof (JSON)" } " "
            a href=(format!("/trail?record_type={}&record_id={}", event.record.as_ref().map(|r| enc(&r.kind)).unwrap_or_default(), event.record.as_ref().map(|r| enc(&r.id)).unwrap_or_default())) { "Other events of this record" } }
        p.muted { "Check it offline: the leaf is SHA-256(0x00 ‖ the event's canonical bytes); fold the proof as RFC 9162 §2.1.3.2 says and compare with the checkpoint's root, whose signature the log's public key checks." }
        (none())
    };
    Ok(html(
        StatusCode::OK,
        frame(Some(&viewer), &format!("Event #{seq}"), body),
    ))
}

pub async fn proof_json(
    State(state): State<Shared>,
    viewer: Viewer,
    Path(seq): Path<u64>,
) -> PageResult {
    viewer.who.require(&state, Permission::ReadLog).await?;
    let (event, proof) = checked_proof(&state, seq).await?;
    let body = json!({
        "index": seq,
        "size": proof.size,
        "leaf": proof.leaf,
        "proof": proof.proof,
        "root": proof.root,
        "checkpoint": proof.checkpoint,
        "verified": proof.verdict.is_ok(),
        "event": event,
    });
    Ok(download(
        "application/json",
        &format!("proof-{seq}.json"),
        body.to_string(),
        false,
    ))
}
