//! Export bundles: a directory an inspector takes away and verifies offline with nothing from
//! the server. It holds the events as their exact canonical bytes, one a line (canonical JSON
//! has no raw line breaks); every signed checkpoint; the log's public key; and a manifest with
//! the size, root and the SHA-256 of each file. Verification recomputes everything from the
//! events and checkpoints, as for a data directory; the manifest is checked last.

use modeltrail_ledger::checkpoint::Checkpoint;
use modeltrail_ledger::hash::HASH_LEN;
use modeltrail_ledger::note::NoteVerifier;
use modeltrail_ledger::tree::Frontier;
use modeltrail_ledger::verify::{check_leaf, open_checkpoint, Divergence, LogVerifier, Summary};
use modeltrail_ledger::{leaf_hash, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::log_store::LogStore;
use crate::StoreError;

pub const MANIFEST_FILE: &str = "manifest.json";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const CHECKPOINTS_FILE: &str = "checkpoints.jsonl";
pub const KEY_FILE: &str = "verifier.key";
pub const FORMAT: &str = "modeltrail-bundle/1";

/// What a bundle says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub verifier_key: String,
    pub tree_size: u64,
    pub root: String,
    pub exported_at: Timestamp,
    pub checkpoints: u64,
    pub files: BTreeMap<String, FileDigest>,
}

/// The size and SHA-256 of one file of the bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    pub bytes: u64,
    pub sha256: String,
}

/// One line of the checkpoints file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    size: u64,
    note: String,
}

/// The outcome of verifying a bundle.
#[derive(Debug)]
pub enum BundleVerdict {
    Sound(Summary),
    /// The log in the bundle is not what its checkpoints say.
    Divergent(Divergence),
    /// The log is sound but the bundle around it is not what its manifest says.
    Damaged(String),
}

/// A file being written while its digest is computed.
struct HashingFile {
    out: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl HashingFile {
    fn create(path: &Path) -> Result<HashingFile, StoreError> {
        let file = File::create_new(path)
            .map_err(|e| StoreError::io(format!("creating {}", path.display()), e))?;
        Ok(HashingFile {
            out: BufWriter::new(file),
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    fn write(&mut self, data: &[u8], path: &Path) -> Result<(), StoreError> {
        self.hasher.update(data);
        self.bytes += data.len() as u64;
        self.out
            .write_all(data)
            .map_err(|e| StoreError::io(format!("writing {}", path.display()), e))
    }

    fn finish(self, path: &Path) -> Result<FileDigest, StoreError> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| StoreError::io(format!("writing {}", path.display()), e.into_error()))?;
        file.sync_all()
            .map_err(|e| StoreError::io(format!("syncing {}", path.display()), e))?;
        Ok(FileDigest {
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

/// Writes the log up to its latest signed checkpoint into the new directory `out`.
pub async fn export<S: LogStore>(
    store: &S,
    verifier: &NoteVerifier,
    out: &Path,
) -> Result<Manifest, StoreError> {
    let stored = store.checkpoints().await?;
    let latest = stored
        .last()
        .ok_or_else(|| StoreError::Corrupt("the log has no signed checkpoint".into()))?;
    let head = open_checkpoint(latest.size, &latest.text, verifier)
        .map_err(|e| StoreError::Corrupt(format!("the latest checkpoint: {e}")))?;
    std::fs::create_dir(out).map_err(|e| {
        StoreError::io(
            format!("creating the bundle directory {}", out.display()),
            e,
        )
    })?;
    let mut files = BTreeMap::new();

    let path = out.join(EVENTS_FILE);
    let mut events = HashingFile::create(&path)?;
    let mut from = 0;
    while from < head.size {
        let limit = (head.size - from).min(4096) as usize;
        let page = store.entries(from, limit).await?;
        if page.is_empty() {
            return Err(StoreError::Corrupt(format!("event {from} is missing")));
        }
        for entry in page {
            if entry.seq != from {
                return Err(StoreError::Corrupt(format!("event {from} is missing")));
            }
            events.write(&entry.body, &path)?;
            events.write(b"\n", &path)?;
            from += 1;
        }
    }
    files.insert(EVENTS_FILE.to_owned(), events.finish(&path)?);

    let path = out.join(CHECKPOINTS_FILE);
    let mut lines = HashingFile::create(&path)?;
    let mut count = 0;
    for c in stored.iter().filter(|c| c.size <= head.size) {
        let line = serde_json::to_string(&CheckpointLine {
            size: c.size,
            note: c.text.clone(),
        })
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        lines.write(line.as_bytes(), &path)?;
        lines.write(b"\n", &path)?;
        count += 1;
    }
    files.insert(CHECKPOINTS_FILE.to_owned(), lines.finish(&path)?);

    let path = out.join(KEY_FILE);
    let mut key = HashingFile::create(&path)?;
    key.write(format!("{}\n", verifier.to_text()).as_bytes(), &path)?;
    files.insert(KEY_FILE.to_owned(), key.finish(&path)?);

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        origin: verifier.name().to_owned(),
        verifier_key: verifier.to_text(),
        tree_size: head.size,
        root: head.root.to_hex(),
        exported_at: Timestamp::now(),
        checkpoints: count,
        files,
    };
    let path = out.join(MANIFEST_FILE);
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut file = HashingFile::create(&path)?;
    file.write(&text, &path)?;
    file.finish(&path)?;
    Ok(manifest)
}

/// Whether `dir` is a bundle (it has a manifest).
pub fn is_bundle(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).is_file()
}

/// Reads a bundle's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest, StoreError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path)
        .map_err(|e| StoreError::io(format!("reading {}", path.display()), e))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))?;
    if manifest.format != FORMAT {
        return Err(StoreError::Corrupt(format!(
            "{}: format {:?} is not {FORMAT}",
            path.display(),
            manifest.format
        )));
    }
    Ok(manifest)
}

fn open(dir: &Path, name: &str) -> Result<BufReader<File>, StoreError> {
    let path = dir.join(name);
    File::open(&path)
        .map(BufReader::new)
        .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))
}

/// Verifies a bundle against `verifier` (the log's public key, obtained apart from the bundle)
/// and any checkpoints the caller already trusts. Blocking: run it off the async threads.
pub fn verify_bundle(
    dir: &Path,
    verifier: &NoteVerifier,
    pinned: Vec<Checkpoint>,
    progress: &dyn Fn(u64),
) -> Result<BundleVerdict, StoreError> {
    let manifest = read_manifest(dir)?;
    let mut checkpoints = pinned;
    for (n, line) in open(dir, CHECKPOINTS_FILE)?.lines().enumerate() {
        let line = line.map_err(|e| StoreError::io(format!("reading {CHECKPOINTS_FILE}"), e))?;
        let parsed: CheckpointLine = match serde_json::from_str(&line) {
            Ok(p) => p,
            Err(e) => {
                return Ok(BundleVerdict::Damaged(format!(
                    "{CHECKPOINTS_FILE} line {}: {e}",
                    n + 1
                )))
            }
        };
        match open_checkpoint(parsed.size, &parsed.note, verifier) {
            Ok(c) => checkpoints.push(c),
            Err(d) => return Ok(BundleVerdict::Divergent(d)),
        }
    }
    let mut log = match LogVerifier::new(checkpoints) {
        Ok(log) => log,
        Err(d) => return Ok(BundleVerdict::Divergent(d)),
    };
    // The bundle carries no subtree hashes: each leaf's are computed here and the verifier
    // recomputes them again, so the check of "stored" hashes is trivially met.
    let mut frontier = Frontier::new();
    let mut events = open(dir, EVENTS_FILE)?;
    let mut line = Vec::with_capacity(512);
    let mut position = 0u64;
    let mut hashes = Vec::with_capacity(HASH_LEN * 8);
    loop {
        line.clear();
        let read = events
            .read_until(b'\n', &mut line)
            .map_err(|e| StoreError::io(format!("reading {EVENTS_FILE}"), e))?;
        if read == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        hashes.clear();
        for h in frontier.append(leaf_hash(&line)) {
            hashes.extend_from_slice(&h.0);
        }
        if let Err(d) = check_leaf(position, &line, &hashes).and_then(|leaf| log.push(leaf)) {
            return Ok(BundleVerdict::Divergent(d));
        }
        position += 1;
        if position % 65536 == 0 {
            progress(position);
        }
    }
    progress(position);
    let summary = match log.finish() {
        Ok(s) => s,
        Err(d) => return Ok(BundleVerdict::Divergent(d)),
    };
    if let Some(problem) = manifest_problem(dir, &manifest, &summary, verifier)? {
        return Ok(BundleVerdict::Damaged(problem));
    }
    Ok(BundleVerdict::Sound(summary))
}

/// What the manifest says that the bundle does not bear out, if anything.
fn manifest_problem(
    dir: &Path,
    manifest: &Manifest,
    summary: &Summary,
    verifier: &NoteVerifier,
) -> Result<Option<String>, StoreError> {
    if manifest.verifier_key != verifier.to_text() {
        return Ok(Some(format!(
            "the manifest names key {}, the bundle was verified with {}",
            manifest.verifier_key,
            verifier.to_text()
        )));
    }
    if manifest.tree_size != summary.size || manifest.root != summary.root.to_hex() {
        return Ok(Some(format!(
            "the manifest says size {} root {}, the events give size {} root {}",
            manifest.tree_size, manifest.root, summary.size, summary.root
        )));
    }
    for name in [EVENTS_FILE, CHECKPOINTS_FILE, KEY_FILE] {
        let Some(expected) = manifest.files.get(name) else {
            return Ok(Some(format!("the manifest lists no {name}")));
        };
        let mut reader = open(dir, name)?;
        let mut hasher = Sha256::new();
        let bytes = std::io::copy(&mut reader, &mut hasher)
            .map_err(|e| StoreError::io(format!("reading {name}"), e))?;
        let found = FileDigest {
            bytes,
            sha256: hex::encode(hasher.finalize()),
        };
        if found != *expected {
            return Ok(Some(format!(
                "{name}: the manifest says {} bytes sha256 {}, the file has {} bytes sha256 {}",
                expected.bytes, expected.sha256, found.bytes, found.sha256
            )));
        }
    }
    Ok(None)
}
