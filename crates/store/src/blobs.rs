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

    /// A blob to be written piece by piece (an upload as it arrives): hashed as it goes and
    /// stored under its digest by [`BlobDraft::finish`]; dropped unfinished, nothing is stored.
    pub fn draft(&self) -> Result<BlobDraft, StoreError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| StoreError::io(format!("creating {}", self.dir.display()), e))?;
        let temp = tempfile::NamedTempFile::new_in(&self.dir)
            .map_err(|e| StoreError::io(format!("writing a blob in {}", self.dir.display()), e))?;
        Ok(BlobDraft {
            store: self.clone(),
            temp,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The stored blob with SHA-256 `digest` mapped into memory (not re-hashed: for blobs this
    /// process has just stored); `None` when there is none. The pages are the file's: reading
    /// a large upload this way costs page cache, not heap.
    pub fn map(&self, digest: &str) -> Result<Option<memmap2::Mmap>, StoreError> {
        let path = self.path_of(digest)?;
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(format!("reading blob {digest}"), e)),
        };
        // SAFETY: blobs are written whole to a temporary file and renamed into place; nothing
        // writes to a stored blob, so the mapped bytes do not change under the reader.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .map_err(|e| StoreError::io(format!("mapping blob {digest}"), e))?;
        Ok(Some(map))
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

/// A blob being written: see [`BlobStore::draft`].
pub struct BlobDraft {
    store: BlobStore,
    temp: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
}

impl BlobDraft {
    /// Appends `bytes` (to the page cache; durability comes with `finish`).
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.temp
            .write_all(bytes)
            .map_err(|e| StoreError::io("writing an uploaded blob".to_owned(), e))?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The bytes written so far, mapped into memory for reading (page cache, not heap). The
    /// map borrows the draft, so nothing is written while it is read.
    pub fn map(&self) -> Result<MappedDraft<'_>, StoreError> {
        if self.size == 0 {
            return Ok(MappedDraft {
                map: None,
                _draft: std::marker::PhantomData,
            });
        }
        // SAFETY: the temporary file is this draft's own; it is written only through `write`,
        // which needs `&mut self` and so cannot run while the map borrows the draft.
        let map = unsafe { memmap2::Mmap::map(self.temp.as_file()) }
            .map_err(|e| StoreError::io("mapping an uploaded blob".to_owned(), e))?;
        Ok(MappedDraft {
            map: Some(map),
            _draft: std::marker::PhantomData,
        })
    }

    /// The bytes written so far as a file of their own, read from the start through the page
    /// cache (nothing is mapped); reading it does not move where the draft writes.
    pub fn reader(&self) -> Result<std::fs::File, StoreError> {
        self.temp
            .reopen()
            .map_err(|e| StoreError::io("reopening an uploaded blob".to_owned(), e))
    }

    /// Syncs the bytes and stores them under their SHA-256, returned with their size; bytes
    /// already stored under it are kept and the draft is dropped.
    pub fn finish(self) -> Result<(String, u64), StoreError> {
        let digest = hex::encode(self.hasher.finalize());
        let path = self.store.path_of(&digest)?;
        if path.exists() {
            return Ok((digest, self.size));
        }
        let parent = path
            .parent()
            .ok_or_else(|| StoreError::Config("a blob path without a directory".into()))?;
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::io(format!("creating {}", parent.display()), e))?;
        self.temp
            .as_file()
            .sync_all()
            .map_err(|e| StoreError::io(format!("writing blob {digest}"), e))?;
        self.temp
            .persist(&path)
            .map_err(|e| StoreError::io(format!("storing blob {digest}"), e.error))?;
        sync_dir(parent)?;
        Ok((digest, self.size))
    }
}

/// A draft's bytes, mapped: see [`BlobDraft::map`].
pub struct MappedDraft<'a> {
    map: Option<memmap2::Mmap>,
    _draft: std::marker::PhantomData<&'a BlobDraft>,
}

impl std::ops::Deref for MappedDraft<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or_default()
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
    fn a_draft_is_stored_under_the_digest_of_all_it_was_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::new(dir.path().join("blobs"));
        let mut draft = blobs.draft().expect("draft");
        draft.write(b"hel").expect("write");
        draft.write(b"lo").expect("write");
        assert_eq!(draft.size(), 5);
        assert_eq!(&draft.map().expect("map")[..], b"hello");
        assert!(blobs.draft().expect("empty").map().expect("map").is_empty());
        let (digest, size) = draft.finish().expect("finish");
        assert_eq!(digest, blobs.put(b"hello").expect("put"));
        assert_eq!(size, 5);
        assert_eq!(
            &blobs.map(&digest).expect("map").expect("there")[..],
            b"hello"
        );
        assert!(blobs.map(&"0".repeat(64)).expect("absent").is_none());
        // Dropped unfinished: nothing stays behind but the directory.
        let mut dropped = blobs.draft().expect("draft");
        dropped.write(b"half").expect("write");
        drop(dropped);
        let left: Vec<_> = std::fs::read_dir(dir.path().join("blobs"))
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

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
