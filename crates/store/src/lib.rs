//! Storage for modeltrail's log. One interface, [`LogStore`], with two implementations (SQLite,
//! the embedded default, and PostgreSQL), the log's signing key in the data directory, the
//! sequencer (the only code that appends), proofs served from stored subtree hashes,
//! verification of a stored log, and the content-addressed blob directory beside it.

pub mod audit;
pub mod backup;
pub mod blobs;
pub mod bundle;
pub mod credentials;
pub mod error;
pub mod keys;
pub mod log_store;
pub mod open;
pub mod postgres;
pub mod proofs;
pub mod sequencer;
pub mod sqlite;

pub use credentials::CredentialStore;
pub use error::StoreError;
pub use log_store::{
    Batch, LogIdentity, LogStore, NewEntry, RecordHead, StoredCheckpoint, StoredEntry,
};
pub use open::{AnyStore, StoreConfig};
pub use sequencer::{
    AppendError, Appended, Committed, Observer, Sequencer, SequencerConfig, SequencerTask,
};
