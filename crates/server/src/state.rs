//! What every handler shares: the store, the sequencer, the projection it keeps current, the
//! sessions, the record types and the settings.

use modeltrail_domain::projection::Projection;
use modeltrail_domain::schemas::RecordTypes;
use modeltrail_ledger::event::Event;
use modeltrail_store::blobs::BlobStore;
use modeltrail_store::{AnyStore, Appended, LogStore, Sequencer};
use serde::Serialize;
use std::sync::{Arc, RwLock, RwLockReadGuard};

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::sessions::Sessions;

pub type Shared = Arc<AppState>;

pub struct AppState {
    pub config: ServerConfig,
    pub store: AnyStore,
    /// Uploaded data and derived sets, by SHA-256.
    pub blobs: BlobStore,
    pub sequencer: Sequencer,
    pub projection: Arc<RwLock<Projection>>,
    pub sessions: Sessions,
    pub record_types: RecordTypes,
    pub verifier_key: String,
    pub metrics: Arc<Metrics>,
    /// Held while a workflow step is checked and appended: one step at a time.
    pub workflow_steps: tokio::sync::Mutex<()>,
    /// Held while a decision review is checked and appended: one review at a time, so a
    /// decision is reviewed once and an override-rate breach raises one exception.
    pub decision_reviews: tokio::sync::Mutex<()>,
    /// Monitoring plans' reference data, read once and kept.
    pub references: crate::monitor::ReferenceCache,
    /// The MLflow API's own: its writes one at a time, the HTTP Basic credential cache.
    pub mlflow: crate::routes::mlflow::MlflowShared,
    /// Webhook secrets, the delivery task's wake-up and its HTTP client.
    pub webhooks: crate::webhooks::Webhooks,
}

impl AppState {
    /// The projection for reading. It is only written by the sequencer's observer.
    pub fn read(&self) -> RwLockReadGuard<'_, Projection> {
        self.projection.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The event at `seq`, read back from the log.
    pub async fn event(&self, seq: u64) -> Result<Event, ApiError> {
        let entry = self
            .store
            .entries(seq, 1)
            .await?
            .into_iter()
            .next()
            .filter(|e| e.seq == seq)
            .ok_or_else(|| ApiError::internal(format!("event {seq} is missing from the store")))?;
        Event::from_bytes(&entry.body).map_err(|e| ApiError::internal(format!("event {seq}: {e}")))
    }
}

/// What every state-changing response carries: the sequence numbers of its events and the
/// signed checkpoint that includes them.
#[derive(Serialize, Debug)]
pub struct Receipt {
    pub seq: Vec<u64>,
    pub leaf: Vec<String>,
    pub tree_size: u64,
    pub checkpoint: String,
}

impl Receipt {
    pub fn of(appended: &[Appended]) -> Receipt {
        let checkpoint = appended.last().map(|a| a.checkpoint.clone());
        Receipt {
            seq: appended.iter().map(|a| a.seq).collect(),
            leaf: appended.iter().map(|a| a.leaf.to_hex()).collect(),
            tree_size: checkpoint.as_ref().map_or(0, |c| c.checkpoint().size),
            checkpoint: checkpoint.map_or_else(String::new, |c| c.text().to_owned()),
        }
    }
}
