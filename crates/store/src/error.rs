//! The storage layer's error type.

use modeltrail_ledger::tree::NodeId;

/// Why a store operation failed. Messages never contain credentials: database URLs are
/// reported without their password.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("append out of order: the log has {size} events, the batch starts at seq {first}")]
    OutOfOrder { size: u64, first: u64 },
    #[error("{0} is beyond what the database can hold (2^63 - 1)")]
    OutOfRange(String),
    #[error("malformed batch: {0}")]
    MalformedBatch(String),
    #[error("the store has no hash for subtree level {} index {}: it is beyond the log", .0.level, .0.index)]
    MissingNode(NodeId),
    #[error("the store holds damaged data: {0}")]
    Corrupt(String),
    #[error("this log belongs to {stored}, not to {given}")]
    WrongLog { stored: String, given: String },
    #[error("{0}")]
    Config(String),
    #[error("the storage task stopped unexpectedly: {0}")]
    TaskFailed(String),
}

impl StoreError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            context: context.into(),
            source,
        }
    }
}
