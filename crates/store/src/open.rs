//! Choosing a backend: SQLite in the data directory by default, PostgreSQL when a database URL
//! is given. [`AnyStore`] is the one store type the rest of the program holds.

use modeltrail_ledger::tree::NodeId;
use modeltrail_ledger::Hash;
use std::path::PathBuf;

use crate::credentials::CredentialStore;
use crate::log_store::{
    Batch, CheckedChunk, LogIdentity, LogStore, RecordHead, StoredCheckpoint, StoredEntry,
};
use crate::postgres::PgStore;
use crate::sqlite::SqliteStore;
use crate::StoreError;

/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE: &str = "modeltrail.db";

/// Where the log lives.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Holds the signing key, blobs, and (without a database URL) the SQLite database.
    pub data_dir: PathBuf,
    /// `postgres://...` selects PostgreSQL; none selects SQLite in the data directory.
    pub database_url: Option<String>,
}

/// Either backend, behind the one interface.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Describes a database URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

impl StoreConfig {
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join(SQLITE_FILE)
    }

    /// The blob directory in the data directory (used with either database).
    pub fn blobs(&self) -> crate::blobs::BlobStore {
        crate::blobs::BlobStore::new(self.data_dir.join("blobs"))
    }

    /// Opens the store for the server, creating the data directory and database as needed.
    pub async fn open(&self) -> Result<AnyStore, StoreError> {
        match &self.database_url {
            Some(url) if is_postgres_url(url) => {
                Ok(AnyStore::Postgres(PgStore::connect(url, None).await?))
            }
            Some(url) => Err(unsupported(url)),
            None => {
                std::fs::create_dir_all(&self.data_dir).map_err(|e| {
                    StoreError::io(format!("creating {}", self.data_dir.display()), e)
                })?;
                Ok(AnyStore::Sqlite(SqliteStore::open(&self.sqlite_path())?))
            }
        }
    }

    /// Opens an existing store for reading only (verification); creates nothing.
    pub async fn open_existing(&self) -> Result<AnyStore, StoreError> {
        match &self.database_url {
            Some(url) if is_postgres_url(url) => {
                Ok(AnyStore::Postgres(PgStore::connect_existing(url).await?))
            }
            Some(url) => Err(unsupported(url)),
            None => Ok(AnyStore::Sqlite(SqliteStore::open_read_only(
                &self.sqlite_path(),
            )?)),
        }
    }
}

fn unsupported(url: &str) -> StoreError {
    StoreError::Config(format!(
        "database URL {} is not supported: use postgres://user@host:port/database, or no URL for \
         SQLite in the data directory",
        redact_url(url)
    ))
}

macro_rules! delegate {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl LogStore for AnyStore {
    async fn init_identity(&self, identity: &LogIdentity) -> Result<LogIdentity, StoreError> {
        delegate!(self, s => s.init_identity(identity).await)
    }
    async fn identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        delegate!(self, s => s.identity().await)
    }
    async fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        delegate!(self, s => s.append(batch).await)
    }
    async fn size(&self) -> Result<u64, StoreError> {
        delegate!(self, s => s.size().await)
    }
    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        delegate!(self, s => s.nodes(ids).await)
    }
    async fn entries(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        delegate!(self, s => s.entries(from, limit).await)
    }
    async fn checked_entries(&self, begin: u64, end: u64) -> Result<CheckedChunk, StoreError> {
        delegate!(self, s => s.checked_entries(begin, end).await)
    }
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        delegate!(self, s => s.checkpoints().await)
    }
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        delegate!(self, s => s.latest_checkpoint().await)
    }
    async fn record_head(&self, kind: &str, id: &str) -> Result<Option<RecordHead>, StoreError> {
        delegate!(self, s => s.record_head(kind, id).await)
    }
    async fn record_heads(&self, keys: &[(String, String)]) -> Result<Vec<RecordHead>, StoreError> {
        delegate!(self, s => s.record_heads(keys).await)
    }
}

impl CredentialStore for AnyStore {
    async fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        delegate!(self, s => s.password_hash(user).await)
    }
    async fn set_password_hash(&self, user: &str, hash: &str) -> Result<(), StoreError> {
        delegate!(self, s => s.set_password_hash(user, hash).await)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://alice:s3cret@db:5432/x"),
            "postgres://alice@db:5432/x"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }
}
