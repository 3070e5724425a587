//! The `mlflow-artifacts` proxy: files uploaded with PUT are kept in the blob directory under
//! their SHA-256 and their path is bound to that digest by an `mlflow.artifact.put` event, so
//! the ledger holds the digest of every artifact; GET reads them back (checked against the
//! digest), and listing shows a directory's direct children. Paths are relative, `/`-separated,
//! without `.`, `..` or empty segments.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use modeltrail_domain::mlflow as m;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::auth::Caller;
use super::wire::{self, Answer, MlflowError};
use super::{append, runs};
use crate::error::ApiError;
use crate::state::Shared;

/// Longest artifact path accepted.
const MAX_PATH: usize = 1024;

fn check_path(path: &str) -> Result<String, MlflowError> {
    let path = path.trim_matches('/');
    let bad = path.len() > MAX_PATH
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    match bad {
        true => Err(MlflowError::invalid("Invalid path")),
        false => Ok(path.to_owned()),
    }
}

pub async fn upload(
    State(state): State<Shared>,
    who: Caller,
    Path(path): Path<String>,
    bytes: Bytes,
) -> Answer {
    who.writer(&state).await?;
    let path = check_path(&path)?;
    let blobs = state.blobs.clone();
    let size = bytes.len() as u64;
    let sha256 = tokio::task::spawn_blocking(move || blobs.put(&bytes))
        .await
        .map_err(|e| MlflowError::from(ApiError::internal(e)))?
        .map_err(|e| MlflowError::from(ApiError::internal(e)))?;
    let put = m::ArtifactPut { path, sha256, size };
    append(&state, vec![who.0.draft(m::ARTIFACT_PUT, json!(put))]).await?;
    Ok(Json(json!({})))
}

pub async fn download(
    State(state): State<Shared>,
    who: Caller,
    Path(path): Path<String>,
) -> Result<Response, MlflowError> {
    who.reader(&state).await?;
    let path = check_path(&path)?;
    let file = state
        .read()
        .mlflow()
        .artifact(&path)
        .cloned()
        .ok_or_else(|| MlflowError::missing(format!("Artifact '{path}' not found")))?;
    let blobs = state.blobs.clone();
    let digest = file.sha256.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&digest))
        .await
        .map_err(|e| MlflowError::from(ApiError::internal(e)))?
        .map_err(|e| MlflowError::from(ApiError::internal(e)))?
        .ok_or_else(|| {
            MlflowError::from(ApiError::internal(format!(
                "the blob {} of artifact {path} is missing",
                file.sha256
            )))
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static("x-content-sha256"),
                file.sha256,
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The direct children of `dir` (empty for the root): files with their size, directories.
fn children(state: &Shared, dir: &str) -> Vec<Value> {
    let prefix = match dir {
        "" => String::new(),
        d => format!("{d}/"),
    };
    let mut entries: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for (path, file) in state.read().mlflow().artifacts_under(&prefix) {
        let rest = &path[prefix.len()..];
        match rest.split_once('/') {
            Some((first, _)) => {
                entries.entry(first.to_owned()).or_insert(None);
            }
            None => {
                entries.insert(rest.to_owned(), Some(file.size));
            }
        }
    }
    entries
        .into_iter()
        .map(|(name, size)| match size {
            Some(size) => json!({"path": name, "is_dir": false, "file_size": size}),
            None => json!({"path": name, "is_dir": true}),
        })
        .collect()
}

#[derive(Deserialize)]
pub struct ListQuery {
    path: Option<String>,
}

pub async fn list(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: ListQuery = wire::query(&q, &[])?;
    let dir = match q.path.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => String::new(),
        Some(p) => check_path(p)?,
    };
    let files = children(&state, &dir);
    Ok(Json(match files.is_empty() {
        true => json!({}),
        false => json!({"files": files}),
    }))
}

#[derive(Deserialize)]
pub struct RunListQuery {
    run_id: Option<String>,
    run_uuid: Option<String>,
    path: Option<String>,
}

/// `GET /api/2.0/mlflow/artifacts/list`: a run's artifacts, paths relative to the run's root.
pub async fn list_run(
    State(state): State<Shared>,
    who: Caller,
    Query(q): Query<Vec<(String, String)>>,
) -> Answer {
    who.reader(&state).await?;
    let q: RunListQuery = wire::query(&q, &[])?;
    let run_id = q
        .run_id
        .or(q.run_uuid)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| MlflowError::invalid("Missing value for required parameter 'run_id'."))?;
    let run = runs::find(&state, &run_id)?;
    let root = format!("{}/{}/artifacts", run.experiment_id, run.id);
    let sub = match q.path.as_deref().map(|p| p.trim_matches('/')) {
        None | Some("") => String::new(),
        Some(p) => check_path(p)?,
    };
    let dir = match sub.as_str() {
        "" => root.clone(),
        s => format!("{root}/{s}"),
    };
    let files: Vec<Value> = children(&state, &dir)
        .into_iter()
        .map(|mut f| {
            let name = f["path"].as_str().unwrap_or_default().to_owned();
            f["path"] = json!(match sub.as_str() {
                "" => name,
                s => format!("{s}/{name}"),
            });
            f
        })
        .collect();
    Ok(Json(
        json!({"root_uri": runs::artifact_uri(&run), "files": files}),
    ))
}
