//! Reports over HTTP: a model version's validation dossier as a self-contained HTML page or a
//! paginated PDF (read permission). The dossier is gathered from the projection and the log,
//! drawn at the signed checkpoint that covers everything it shows, kept as a blob, and its
//! handing out recorded as a `report.generated` event naming the report id, the document's
//! SHA-256 and that checkpoint, so a printed report can be tied back to the log.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use modeltrail_domain::actions::{self, ReportGenerated};
use modeltrail_domain::dossier::{Doc, Dossier};
use modeltrail_domain::gate::release_checklist;
use modeltrail_domain::lifecycle::status;
use modeltrail_domain::roles::Permission;
use modeltrail_ledger::Timestamp;
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::auth::Principal;
use crate::dossier::{doc, gather};
use crate::error::{ApiError, ErrorBody};
use crate::report::dossier::{capa_ids, REPORT};
use crate::report::{self, dossier_document, DossierReport, DrawnAt, Format};
use crate::state::Shared;

/// The headers that tie an answer to its `report.generated` event.
pub const REPORT_ID_HEADER: &str = "x-modeltrail-report-id";
pub const REPORT_SHA256_HEADER: &str = "x-modeltrail-report-sha256";
pub const REPORT_SEQ_HEADER: &str = "x-modeltrail-report-seq";

/// A model version's dossier as HTML
///
/// The validation dossier of a model version as one self-contained HTML page (inline CSS, no
/// script, every record text escaped): model and intended use, risk, the release-readiness
/// checklist with the records satisfying each condition, validation results against their
/// criteria, fairness tables, global explanation, monitoring and drift, exceptions and CAPA,
/// change control, lineage, every signature manifestation, and how to verify the report
/// against an export bundle. Each report is recorded as a `report.generated` event.
#[utoipa::path(
    get,
    operation_id = "model_version_dossier_html",
    path = "/api/v1/model-versions/{id}/dossier.html",
    tag = "reports",
    security(("bearer" = [])),
    params(("id", description = "The model_version record id.", example = "mv-1")),
    responses(
        (status = 200, description = "The dossier; headers `X-Modeltrail-Report-Id`, `X-Modeltrail-Report-Sha256` and `X-Modeltrail-Report-Seq` (the `report.generated` event).", body = String, content_type = "text/html"),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version.", body = ErrorBody),
    ),
)]
pub async fn dossier_html(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    produce(&state, &who, &id, Format::Html).await
}

/// A model version's dossier as PDF
///
/// The same validation dossier as a paginated PDF (A4, fonts embedded), drawn in the server:
/// every page carries the model, the version, the report id, the generation time and the
/// checkpoint's size and root hash, and "Page X of Y". Each report is recorded as a
/// `report.generated` event.
#[utoipa::path(
    get,
    operation_id = "model_version_dossier_pdf",
    path = "/api/v1/model-versions/{id}/dossier.pdf",
    tag = "reports",
    security(("bearer" = [])),
    params(("id", description = "The model_version record id.", example = "mv-1")),
    responses(
        (status = 200, description = "The dossier; headers `X-Modeltrail-Report-Id`, `X-Modeltrail-Report-Sha256` and `X-Modeltrail-Report-Seq` (the `report.generated` event).", body = Vec<u8>, content_type = "application/pdf"),
        (status = 401, description = "`unauthenticated`, `invalid_token` or `account_locked`: no valid bearer token.", body = ErrorBody),
        (status = 403, description = "`forbidden`: the caller's role may not read records; `password_change_required`: the caller must change their password first. Logged as `access.denied`.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such model version.", body = ErrorBody),
    ),
)]
pub async fn dossier_pdf(
    State(state): State<Shared>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(&state, Permission::ReadRecords).await?;
    produce(&state, &who, &id, Format::Pdf).await
}

/// The CAPA records the dossier's exceptions name (their `capa` field: the exception
/// workflow names its CAPA there before CAPA is planned).
async fn capas(state: &Shared, dossier: &Dossier) -> Result<Vec<Doc>, ApiError> {
    let ids = capa_ids(dossier.of_kind("exception"));
    let records: Vec<_> = {
        let p = state.read();
        ids.iter()
            .filter_map(|id| p.record("capa", id).cloned())
            .collect()
    };
    let mut docs = Vec::new();
    for record in &records {
        let capa = doc(state, record).await?;
        if !capa.voided {
            docs.push(capa);
        }
    }
    Ok(docs)
}

/// The highest sequence number of an event the dossier shows.
fn last_seq(dossier: &Dossier, capas: &[Doc]) -> u64 {
    std::iter::once(&dossier.model_version)
        .chain(dossier.model.as_ref())
        .chain(&dossier.related)
        .chain(capas)
        .flat_map(|d| std::iter::once(d.seq).chain(d.signatures.iter().map(|s| s.seq)))
        .max()
        .unwrap_or(0)
}

/// The signed checkpoint that covers event `seq`: the latest, once the sequencer has
/// published the one of the commit that holds it (the projection is updated just before).
async fn covering_checkpoint(
    state: &Shared,
    seq: u64,
) -> Result<std::sync::Arc<modeltrail_ledger::checkpoint::SignedCheckpoint>, ApiError> {
    for _ in 0..2000 {
        let latest = state.sequencer.latest_checkpoint();
        if latest.checkpoint().size > seq {
            return Ok(latest);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Err(ApiError::internal(format!(
        "no signed checkpoint covers event {seq} yet"
    )))
}

/// A name safe in a `Content-Disposition` header.
fn file_name_part(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .take(80)
        .collect()
}

async fn produce(
    state: &Shared,
    who: &Principal,
    id: &str,
    format: Format,
) -> Result<Response, ApiError> {
    let dossier = gather(state, id).await?;
    let capas = capas(state, &dossier).await?;
    let checkpoint = covering_checkpoint(state, last_seq(&dossier, &capas)).await?;
    let drawn = DrawnAt {
        checkpoint_size: checkpoint.checkpoint().size,
        checkpoint_root: checkpoint.checkpoint().root,
        checkpoint_text: checkpoint.text().to_owned(),
        generated_at: Timestamp::now(),
    };
    let report_id = report::report_id(REPORT, id, &drawn, format);
    let checklist = release_checklist(&dossier);
    let lifecycle = status(&dossier);
    let document = dossier_document(&DossierReport {
        dossier: &dossier,
        checklist: &checklist,
        status: lifecycle,
        capas: &capas,
        drawn: &drawn,
        report_id: &report_id,
        format,
    });
    let (bytes, pages, content_type) = match format {
        Format::Html => (
            report::html::render(&document).into_bytes(),
            None,
            "text/html; charset=utf-8",
        ),
        Format::Pdf => {
            let pdf = tokio::task::spawn_blocking(move || report::pdf::render(&document))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            (pdf.bytes, Some(pdf.pages as u64), "application/pdf")
        }
    };
    let blobs = state.blobs.clone();
    let (bytes, digest) = tokio::task::spawn_blocking(move || {
        let digest = blobs.put(&bytes);
        (bytes, digest)
    })
    .await
    .map_err(ApiError::internal)?;
    let digest = digest?;
    debug_assert_eq!(digest, hex::encode(Sha256::digest(&bytes)));
    let event = ReportGenerated {
        report_id: report_id.clone(),
        report: REPORT.to_owned(),
        model_version: id.to_owned(),
        format: format.as_str().to_owned(),
        generated_at: drawn.generated_at,
        checkpoint_size: drawn.checkpoint_size,
        checkpoint_root: drawn.checkpoint_root.to_hex(),
        sha256: digest.clone(),
        bytes: bytes.len() as u64,
        pages,
    };
    let mut draft = who.draft(actions::REPORT_GENERATED, serde_json::json!(event));
    draft.reason = Some(format!(
        "validation dossier of {id} handed out as {}",
        format.as_str()
    ));
    let appended = state.sequencer.append(draft).await?;
    let seq = appended.seq;
    let file_name = format!(
        "dossier-{}-{}.{}",
        file_name_part(id),
        report_id,
        format.as_str()
    );
    let header_value = |text: &str| HeaderValue::from_str(text).map_err(ApiError::internal);
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        header_value(&format!("inline; filename=\"{file_name}\""))?,
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if format == Format::Html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    headers.insert(REPORT_ID_HEADER, header_value(&report_id)?);
    headers.insert(REPORT_SHA256_HEADER, header_value(&digest)?);
    headers.insert(REPORT_SEQ_HEADER, header_value(&seq.to_string())?);
    Ok(response)
}
