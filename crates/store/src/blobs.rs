//! The content-addressed blob directory beside the log (uploaded data, row-digest sets,
//! artifacts): each blob is stored once under its SHA-256, written to a temporary file, synced
//! and renamed into place, so a blob either is whole under its digest or is absent. The log
//! holds digests; a blob read back is checked against its name.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::StoreError;

/// Blobs under one directory: `<dir>/<first two hex digits>/<the other 62>`.
#[derive(Clone, Debug)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    /// The blob directory `dir` (created on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> BlobStore {
        BlobStore { dir: dir.into() }
    }

    fn path_of(&self, digest: &str) -> Result<PathBuf, StoreError> {
        let well_formed = digest.len() == 64
            && digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Err(StoreError::Config(format!(
                "`{digest}` is not a SHA-256 digest (64 lower-case hex digits)"
            )));
        }
        Ok(self.dir.join(&digest[..2]).join(&digest[2..]))
    }

    /// Stores `bytes`, returning their SHA-256 (lower-case hex). Storing the same bytes again
    /// changes nothing.
    pub fn put(&self, bytes: &[u8]) -> Result<String, StoreError> {
        let digest = hex::encode(Sha256::digest(bytes));
        let path = self.path_of(&digest)?;
        if path.exists() {
            return Ok(digest);
        }
        let parent = path
            .parent()
            .ok_or_else(|| StoreError::Config("a blob path without a directory".into()))?;
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::io(format!("creating {}", parent.display()), e))?;
        let mut temp = tempfile::NamedTempFile::new_in(parent)
            .map_err(|e| StoreError::io(format!("writing a blob in {}", parent.display()), e))?;
        temp.write_all(bytes)
            .and_then(|_| temp.as_file().sync_all())
            .map_err(|e| StoreError::io(format!("writing blob {digest}"), e))?;
        temp.persist(&path)
            .map_err(|e| StoreError::io(format!("storing blob {digest}"), e.error))?;
        sync_dir(parent)?;
        Ok(digest)
    }

    /// The blob with SHA-256 `digest`, checked against it; `None` when there is none.
    pub fn get(&self, digest: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.path_of(digest)?;
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading blob {digest}"), e)),
        };
        let found = hex::encode(Sha256::digest(&bytes));
        if found != digest {
            return Err(StoreError::Config(format!(
                "blob {digest} is damaged: its bytes hash to {found}"
            )));
        }
        Ok(Some(bytes))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(format!("syncing {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_stored_once_by_digest_and_checked_on_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(dir.path().join("blobs"));
        let digest = blobs.put(b"hello").expect("put");
        assert_eq!(
            digest,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(blobs.put(b"hello").expect("again"), digest);
        assert_eq!(blobs.get(&digest).expect("get"), Some(b"hello".to_vec()));
        assert_eq!(blobs.get(&"0".repeat(64)).expect("absent"), None);
        assert!(blobs.get("not-a-digest").is_err());
        // A damaged blob is an error, never silently returned.
        let path = dir
            .path()
            .join("blobs")
            .join(&digest[..2])
            .join(&digest[2..]);
        std::fs::write(&path, b"jello").expect("damage");
        let err = blobs.get(&digest).expect_err("damaged");
        assert!(err.to_string().contains("damaged"), "{err}");
    }
}
