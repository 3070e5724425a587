//! The storage interface every backend implements, and the rows it stores.
//!
//! Invariants every implementation keeps: the log tables (events, checkpoints, log identity)
//! refuse UPDATE and DELETE at the database level; an append is one transaction that stores a
//! whole batch and its checkpoint or nothing; a batch must start exactly at the log's size.

use modeltrail_ledger::hash::HASH_LEN;
use modeltrail_ledger::tree::{completed_count, NodeId};
pub use modeltrail_ledger::verify::CheckedChunk;
use modeltrail_ledger::{Hash, Timestamp};
use std::future::Future;

use crate::StoreError;

/// One event to append, already sequenced and encoded by the sequencer.
#[derive(Clone, Debug)]
pub struct NewEntry {
    pub seq: u64,
    pub timestamp: Timestamp,
    /// Canonical JSON bytes of the event: the Merkle leaf.
    pub body: Vec<u8>,
    /// The hashes of the perfect subtrees this leaf completes, level 0 first.
    pub hashes: Vec<Hash>,
    /// The record version this event creates, if it touches a record.
    pub record: Option<RecordHead>,
}

/// The latest version of a record, as the log's chain of versions needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHead {
    pub kind: String,
    pub id: String,
    pub version: u64,
    pub leaf: Hash,
    pub seq: u64,
}

/// A signed checkpoint as stored: its size and the exact signed-note text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub text: String,
}

/// What one append transaction writes.
#[derive(Clone, Debug)]
pub struct Batch {
    pub entries: Vec<NewEntry>,
    pub checkpoint: StoredCheckpoint,
    pub checkpoint_time: Timestamp,
}

impl Batch {
    /// Checks that the batch is exactly the next piece of a log of `size` events: consecutive
    /// sequence numbers from `size`, each with the subtree hashes its leaf completes, and a
    /// checkpoint for the size the batch reaches. Backends call it inside the transaction.
    pub fn check_extends(&self, size: u64) -> Result<(), StoreError> {
        if let Some(first) = self.entries.first() {
            if first.seq != size {
                return Err(StoreError::OutOfOrder {
                    size,
                    first: first.seq,
                });
            }
        }
        for (i, entry) in self.entries.iter().enumerate() {
            let expected = size + i as u64;
            if entry.seq != expected {
                return Err(StoreError::MalformedBatch(format!(
                    "entry {i} has seq {}, expected {expected}",
                    entry.seq
                )));
            }
            if entry.hashes.len() != completed_count(expected) {
                return Err(StoreError::MalformedBatch(format!(
                    "seq {expected} completes {} subtrees, {} hashes were given",
                    completed_count(expected),
                    entry.hashes.len()
                )));
            }
        }
        let reached = size + self.entries.len() as u64;
        if self.checkpoint.size != reached {
            return Err(StoreError::MalformedBatch(format!(
                "the batch reaches size {reached}, its checkpoint is for size {}",
                self.checkpoint.size
            )));
        }
        Ok(())
    }
}

/// An event as read back for verification and proofs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    pub seq: u64,
    pub body: Vec<u8>,
    /// Concatenated 32-byte hashes of the subtrees this leaf completes.
    pub hashes: Vec<u8>,
}

/// Which log a database holds: its origin and the verifier key of its checkpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogIdentity {
    pub origin: String,
    pub verifier_key: String,
}

impl LogIdentity {
    /// The identity from its two stored rows: both, neither (a new database), or damage.
    pub(crate) fn from_stored(
        origin: Option<String>,
        verifier_key: Option<String>,
    ) -> Result<Option<LogIdentity>, StoreError> {
        match (origin, verifier_key) {
            (Some(origin), Some(verifier_key)) => Ok(Some(LogIdentity {
                origin,
                verifier_key,
            })),
            (None, None) => Ok(None),
            _ => Err(StoreError::Corrupt(
                "the log identity is half written".into(),
            )),
        }
    }
}

/// The hash of node `id` from the subtree hashes stored with the leaf that completed it.
pub(crate) fn node_from_row(id: NodeId, hashes: &[u8]) -> Result<Hash, StoreError> {
    let at = usize::from(id.level) * HASH_LEN;
    let bytes = hashes.get(at..at + HASH_LEN).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "seq {} holds {} bytes of subtree hashes, too few for level {}",
            id.completed_by(),
            hashes.len(),
            id.level
        ))
    })?;
    Hash::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A log position or count as the databases' signed 64-bit integers hold it.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(format!("{what} {value}")))
}

/// A stored signed integer back as a log position or count; a negative one is damage.
pub(crate) fn to_u64(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value} is negative")))
}

/// The storage interface: the same contract for SQLite and PostgreSQL, checked by one
/// conformance suite run against both.
pub trait LogStore: Send + Sync + 'static {
    /// Records which log this database holds, the first time; afterwards returns what is stored,
    /// and fails with [`StoreError::WrongLog`] if it differs.
    fn init_identity(
        &self,
        identity: &LogIdentity,
    ) -> impl Future<Output = Result<LogIdentity, StoreError>> + Send;

    /// The stored identity, if any.
    fn identity(&self) -> impl Future<Output = Result<Option<LogIdentity>, StoreError>> + Send;

    /// Durably appends a batch and its checkpoint in one transaction: all of it or nothing.
    fn append(&self, batch: &Batch) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The number of events in the log.
    fn size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Hashes of perfect subtrees, in the order asked. Each is one indexed read.
    fn nodes(&self, ids: &[NodeId]) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send;

    /// Up to `limit` events from `from` on, in order.
    fn entries(
        &self,
        from: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEntry>, StoreError>> + Send;

    /// Checks the stored events with seq in `[begin, end)` on their own, in order, where they
    /// are read and without copying them (see [`modeltrail_ledger::verify::ChunkChecker`]): it
    /// stops reading at the first divergence. A missing seq is reported as a gap by the ordered
    /// half of verification.
    fn checked_entries(
        &self,
        begin: u64,
        end: u64,
    ) -> impl Future<Output = Result<CheckedChunk, StoreError>> + Send;

    /// Every stored checkpoint, by size.
    fn checkpoints(&self)
        -> impl Future<Output = Result<Vec<StoredCheckpoint>, StoreError>> + Send;

    /// The checkpoint of the largest size, if any.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<StoredCheckpoint>, StoreError>> + Send;

    /// The latest versions of several records, in one read; records that do not exist are
    /// absent from the answer.
    fn record_heads(
        &self,
        keys: &[(String, String)],
    ) -> impl Future<Output = Result<Vec<RecordHead>, StoreError>> + Send;

    /// The latest version of a record, if it exists.
    fn record_head(
        &self,
        kind: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<RecordHead>, StoreError>> + Send;
}
