//! Backups of a data directory as one file, and restoring them. The file is a SQLite Archive
//! (the `sqlar` table that `sqlite3 -A` lists and extracts) holding: a consistent snapshot of
//! the log's database (SQLite's online backup API while the server writes, or a `pg_dump`
//! archive the caller made), the blob directory, the public verifier key and, only when asked,
//! the secret keys; plus `manifest.json` with every entry's size and SHA-256 and the signed
//! checkpoint the snapshot holds. Restoring checks every digest before anything is put in
//! place, and puts the data directory in place in one rename.
//!
//! The snapshot is taken before the blobs are copied: a blob is stored before the event that
//! names it is appended, and blobs are never deleted, so every blob the snapshot names is in
//! the backup.

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, DatabaseName, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::keys::{SIGNING_KEY_FILE, VERIFIER_KEY_FILE, WEBHOOK_KEY_FILE};
use crate::open::SQLITE_FILE;
use crate::StoreError;

/// The format named in every backup's manifest.
pub const BACKUP_FORMAT: &str = "modeltrail-backup/1";
/// The manifest's name inside the archive.
pub const MANIFEST_ENTRY: &str = "manifest.json";
/// The name of a PostgreSQL dump (`pg_dump --format=custom`) inside the archive.
pub const POSTGRES_DUMP_ENTRY: &str = "postgres.dump";
/// The blob directory's name, in the data directory and in the archive.
const BLOBS: &str = "blobs";
/// Bytes copied at a time between files and archive entries.
const CHUNK: usize = 1 << 20;

/// Which database the backup holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One archived file: its name in the data directory, size and SHA-256 (lower-case hex).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// What a backup holds, written into it as `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// When the backup was made (RFC 3339, UTC).
    pub created_at: String,
    pub backend: Backend,
    /// The log's size at the checkpoint below (0 for an empty log).
    pub tree_size: u64,
    /// The latest signed checkpoint the database snapshot holds (for PostgreSQL: the latest one
    /// before the dump started; the dump holds at least that much).
    pub checkpoint: Option<String>,
    /// Whether `signing.key` and `webhook.key` are in the archive.
    pub includes_secret_keys: bool,
    pub entries: Vec<ManifestEntry>,
}

/// The database part of a backup.
#[derive(Clone, Debug)]
pub enum DatabaseSource {
    /// The SQLite database in the data directory, snapshotted with the online backup API.
    Sqlite,
    /// A `pg_dump --format=custom` file the caller made, and the checkpoint read before it.
    PostgresDump {
        dump: PathBuf,
        checkpoint: Option<crate::StoredCheckpoint>,
    },
}

/// What to back up.
#[derive(Clone, Debug)]
pub struct BackupPlan {
    pub data_dir: PathBuf,
    pub database: DatabaseSource,
    /// Put `signing.key` and `webhook.key` in the archive too (then the file is as secret as
    /// they are).
    pub include_secret_keys: bool,
    /// The backup file to create; it must not exist.
    pub out: PathBuf,
}

/// Where the secret keys of a restored data directory come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    /// From the backup itself (made with the secret keys in it).
    Backup,
    /// From a directory holding `signing.key` and `webhook.key`, kept apart from backups.
    Directory(PathBuf),
    /// None: the restored directory can be verified and read offline, not served.
    Without,
}

/// What to restore.
#[derive(Clone, Debug)]
pub struct RestorePlan {
    pub backup: PathBuf,
    /// The data directory to create; it must not exist or be empty.
    pub data_dir: PathBuf,
    pub keys: KeySource,
    /// For a PostgreSQL backup: where to write its dump for the caller to `pg_restore`.
    pub postgres_dump_to: Option<PathBuf>,
}

fn io(context: impl Into<String>, e: std::io::Error) -> StoreError {
    StoreError::io(context, e)
}

fn now_rfc3339() -> String {
    modeltrail_ledger::Timestamp::now().to_string()
}

/// Makes the backup file `plan.out`: written beside it under a temporary name and renamed into
/// place once complete and synced, so a failed backup leaves no file that looks whole.
pub fn write_backup(plan: &BackupPlan) -> Result<Manifest, StoreError> {
    if plan.out.exists() {
        return Err(StoreError::Config(format!(
            "{} exists; a backup never overwrites a file",
            plan.out.display()
        )));
    }
    let out_dir = match plan.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let verifier = plan.data_dir.join(VERIFIER_KEY_FILE);
    if !verifier.exists() {
        return Err(StoreError::Config(format!(
            "{} has no {VERIFIER_KEY_FILE}: is it a modeltrail data directory?",
            plan.data_dir.display()
        )));
    }
    let partial = tempfile::Builder::new()
        .prefix(".modeltrail-backup-")
        .tempfile_in(&out_dir)
        .map_err(|e| io(format!("creating a file in {}", out_dir.display()), e))?;
    restrict(partial.path())?;
    let mut archive = Connection::open(partial.path())?;
    archive.execute_batch(
        "PRAGMA journal_mode=DELETE;
         CREATE TABLE sqlar(name TEXT PRIMARY KEY, mode INT, mtime INT, sz INT, data BLOB);",
    )?;
    let tx = archive.transaction()?;
    let mut entries = Vec::new();
    let (backend, checkpoint) = match &plan.database {
        DatabaseSource::Sqlite => {
            let snapshot = tempfile::Builder::new()
                .prefix(".modeltrail-snapshot-")
                .tempfile_in(&out_dir)
                .map_err(|e| io(format!("creating a file in {}", out_dir.display()), e))?;
            restrict(snapshot.path())?;
            let checkpoint = snapshot_sqlite(&plan.data_dir.join(SQLITE_FILE), snapshot.path())?;
            entries.push(add_file(&tx, SQLITE_FILE, snapshot.path(), 0o600)?);
            (Backend::Sqlite, checkpoint)
        }
        DatabaseSource::PostgresDump { dump, checkpoint } => {
            entries.push(add_file(&tx, POSTGRES_DUMP_ENTRY, dump, 0o600)?);
            (Backend::Postgres, checkpoint.clone())
        }
    };
    entries.push(add_file(&tx, VERIFIER_KEY_FILE, &verifier, 0o644)?);
    if plan.include_secret_keys {
        for key in [SIGNING_KEY_FILE, WEBHOOK_KEY_FILE] {
            let path = plan.data_dir.join(key);
            if !path.exists() {
                return Err(StoreError::Config(format!(
                    "{} is missing; without it the backup cannot hold the secret keys",
                    path.display()
                )));
            }
            entries.push(add_file(&tx, key, &path, 0o600)?);
        }
    }
    for (name, path) in blob_files(&plan.data_dir.join(BLOBS))? {
        entries.push(add_file(&tx, &name, &path, 0o644)?);
    }
    let manifest = Manifest {
        format: BACKUP_FORMAT.to_owned(),
        created_at: now_rfc3339(),
        backend,
        tree_size: checkpoint.as_ref().map_or(0, |c| c.size),
        checkpoint: checkpoint.map(|c| c.text),
        includes_secret_keys: plan.include_secret_keys,
        entries,
    };
    let text = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| StoreError::Config(format!("writing the manifest: {e}")))?;
    add_bytes(&tx, MANIFEST_ENTRY, &text, 0o644)?;
    tx.commit()?;
    archive.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    partial
        .as_file()
        .sync_all()
        .map_err(|e| io(format!("syncing {}", partial.path().display()), e))?;
    partial
        .persist_noclobber(&plan.out)
        .map_err(|e| io(format!("creating {}", plan.out.display()), e.error))?;
    sync_dir(&out_dir)?;
    Ok(manifest)
}

/// Copies the database at `source` into `target` with SQLite's online backup API, in one step:
/// the copy is one read transaction, a consistent snapshot, while writers go on (WAL). Returns
/// the snapshot's latest checkpoint.
fn snapshot_sqlite(
    source: &Path,
    target: &Path,
) -> Result<Option<crate::StoredCheckpoint>, StoreError> {
    if !source.exists() {
        return Err(StoreError::Config(format!(
            "no database at {}",
            source.display()
        )));
    }
    // Read-write without create: a read-only connection cannot always open a WAL database
    // whose shared-memory file is missing. Nothing is written through it.
    let from = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    from.busy_timeout(std::time::Duration::from_secs(30))?;
    let mut to = Connection::open(target)?;
    {
        let backup = Backup::new(&from, &mut to)?;
        // -1: every page in one step, under one read transaction of the source. Busy or
        // locked (a checkpoint of the WAL holding a lock): the whole step is tried again.
        let mut tries = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked if tries < 1000 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                _ => {
                    return Err(StoreError::Config(format!(
                        "{} stayed locked: no snapshot could be taken",
                        source.display()
                    )))
                }
            }
        }
    }
    to.pragma_update(None, "journal_mode", "DELETE")?;
    let latest: Option<(i64, String)> = to
        .query_row(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    to.close().map_err(|(_, e)| StoreError::Sqlite(e))?;
    latest
        .map(|(size, text)| {
            Ok(crate::StoredCheckpoint {
                size: u64::try_from(size)
                    .map_err(|_| StoreError::Corrupt(format!("checkpoint size {size}")))?,
                text,
            })
        })
        .transpose()
}

/// The stored blobs under `dir`, as (archive name, path): only files laid out as blobs are
/// (`<2 hex>/<62 hex>`), so unfinished uploads (temporary files) are left out.
fn blob_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, StoreError> {
    let is_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut found = Vec::new();
    let top = match fs::read_dir(dir) {
        Ok(top) => top,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(format!("reading {}", dir.display()), e)),
    };
    for prefix in top {
        let prefix = prefix.map_err(|e| io(format!("reading {}", dir.display()), e))?;
        let prefix_name = prefix.file_name().to_string_lossy().into_owned();
        if !is_hex(&prefix_name, 2) || !prefix.path().is_dir() {
            continue;
        }
        let inner = fs::read_dir(prefix.path())
            .map_err(|e| io(format!("reading {}", prefix.path().display()), e))?;
        for blob in inner {
            let blob = blob.map_err(|e| io(format!("reading {}", prefix.path().display()), e))?;
            let name = blob.file_name().to_string_lossy().into_owned();
            if is_hex(&name, 62) {
                found.push((format!("{BLOBS}/{prefix_name}/{name}"), blob.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Streams the file at `path` into the archive as `name`, hashing it as it goes.
fn add_file(
    tx: &rusqlite::Transaction,
    name: &str,
    path: &Path,
    mode: u32,
) -> Result<ManifestEntry, StoreError> {
    let mut file = File::open(path).map_err(|e| io(format!("reading {}", path.display()), e))?;
    let size = file
        .metadata()
        .map_err(|e| io(format!("reading {}", path.display()), e))?
        .len();
    let length = i64::try_from(size).map_err(|_| StoreError::OutOfRange(name.to_owned()))?;
    tx.execute(
        "INSERT INTO sqlar(name, mode, mtime, sz, data) VALUES (?1, ?2, ?3, ?4, zeroblob(?4))",
        rusqlite::params![name, 0o100000 | mode, unix_now(), length],
    )?;
    let row = tx.last_insert_rowid();
    let mut blob = tx.blob_open(DatabaseName::Main, "sqlar", "data", row, false)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK];
    let mut written = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        if written + n as u64 > size {
            return Err(StoreError::Config(format!(
                "{} grew while it was backed up",
                path.display()
            )));
        }
        hasher.update(&buffer[..n]);
        blob.write_all(&buffer[..n])
            .map_err(|e| io(format!("archiving {name}"), e))?;
        written += n as u64;
    }
    if written != size {
        return Err(StoreError::Config(format!(
            "{} shrank while it was backed up",
            path.display()
        )));
    }
    Ok(ManifestEntry {
        name: name.to_owned(),
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

fn add_bytes(
    tx: &rusqlite::Transaction,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sqlar(name, mode, mtime, sz, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![name, 0o100000 | mode, unix_now(), bytes.len() as i64, bytes],
    )?;
    Ok(())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An opened backup file and its manifest.
pub struct BackupFile {
    archive: Connection,
    pub manifest: Manifest,
}

/// Opens a backup file read-only and reads its manifest; refuses anything else.
pub fn open_backup(path: &Path) -> Result<BackupFile, StoreError> {
    if !path.is_file() {
        return Err(StoreError::Config(format!(
            "no backup file at {}",
            path.display()
        )));
    }
    let archive = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let not_a_backup = |why: String| {
        StoreError::Config(format!(
            "{} is not a modeltrail backup: {why}",
            path.display()
        ))
    };
    let text: Option<Vec<u8>> = archive
        .query_row(
            "SELECT data FROM sqlar WHERE name = ?1",
            [MANIFEST_ENTRY],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| not_a_backup(e.to_string()))?;
    let text = text.ok_or_else(|| not_a_backup(format!("it has no {MANIFEST_ENTRY}")))?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| not_a_backup(format!("{MANIFEST_ENTRY}: {e}")))?;
    if manifest.format != BACKUP_FORMAT {
        return Err(not_a_backup(format!(
            "format {:?}, expected {BACKUP_FORMAT:?}",
            manifest.format
        )));
    }
    Ok(BackupFile { archive, manifest })
}

impl BackupFile {
    /// Writes entry `entry` to `path` (created new, with `mode`), checking its size and SHA-256
    /// against the manifest.
    fn extract(&self, entry: &ManifestEntry, path: &Path, mode: u32) -> Result<(), StoreError> {
        let row: i64 = self
            .archive
            .query_row(
                "SELECT rowid FROM sqlar WHERE name = ?1",
                [&entry.name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the backup's manifest names {} but the archive does not hold it",
                    entry.name
                ))
            })?;
        let mut blob = self
            .archive
            .blob_open(DatabaseName::Main, "sqlar", "data", row, true)?;
        if blob.len() as u64 != entry.size {
            return Err(StoreError::Corrupt(format!(
                "backup entry {} has {} bytes, the manifest says {}",
                entry.name,
                blob.len(),
                entry.size
            )));
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| io(format!("creating {}", parent.display()), e))?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options
            .open(path)
            .map_err(|e| io(format!("creating {}", path.display()), e))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = blob
                .read(&mut buffer)
                .map_err(|e| io(format!("reading backup entry {}", entry.name), e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n])
                .map_err(|e| io(format!("writing {}", path.display()), e))?;
        }
        let digest = hex::encode(hasher.finalize());
        if digest != entry.sha256 {
            return Err(StoreError::Corrupt(format!(
                "backup entry {} has SHA-256 {digest}, the manifest says {}: the backup file is \
                 damaged",
                entry.name, entry.sha256
            )));
        }
        file.sync_all()
            .map_err(|e| io(format!("syncing {}", path.display()), e))
    }

    /// Reads every entry and checks it against the manifest, writing nothing: the check of a
    /// backup's integrity without restoring it.
    pub fn check(&self) -> Result<(), StoreError> {
        let scratch = tempfile::tempdir().map_err(|e| io("creating a scratch directory", e))?;
        for (i, entry) in self.manifest.entries.iter().enumerate() {
            let path = scratch.path().join(i.to_string());
            self.extract(entry, &path, 0o600)?;
            fs::remove_file(&path).map_err(|e| io(format!("removing {}", path.display()), e))?;
        }
        Ok(())
    }
}

/// Restores a backup into a new data directory: every entry is extracted and checked into a
/// directory beside it, which is then renamed into place; on any error nothing is left behind.
/// A PostgreSQL backup's dump is written to `plan.postgres_dump_to` for the caller.
pub fn restore_backup(plan: &RestorePlan) -> Result<Manifest, StoreError> {
    let backup = open_backup(&plan.backup)?;
    let target = &plan.data_dir;
    let existed_empty = match fs::read_dir(target) {
        Ok(mut entries) => match entries.next() {
            None => true,
            Some(_) => {
                return Err(StoreError::Config(format!(
                    "{} is not empty; restore only into a new or empty data directory",
                    target.display()
                )))
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(format!("reading {}", target.display()), e)),
    };
    let manifest = backup.manifest.clone();
    if manifest.backend == Backend::Postgres && plan.postgres_dump_to.is_none() {
        return Err(StoreError::Config(
            "this backup holds a PostgreSQL dump: restore it with a database URL".into(),
        ));
    }
    if manifest.backend == Backend::Sqlite && plan.postgres_dump_to.is_some() {
        return Err(StoreError::Config(
            "this backup holds a SQLite database, not a PostgreSQL dump: restore it without a \
             database URL"
                .into(),
        ));
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| io(format!("creating {}", parent.display()), e))?;
    let staging = tempfile::Builder::new()
        .prefix(".modeltrail-restore-")
        .tempdir_in(&parent)
        .map_err(|e| io(format!("creating a directory in {}", parent.display()), e))?;
    restrict_dir(staging.path())?;
    for entry in &manifest.entries {
        let secret = entry.name == SIGNING_KEY_FILE || entry.name == WEBHOOK_KEY_FILE;
        if secret && !matches!(plan.keys, KeySource::Backup) {
            continue;
        }
        if entry.name == POSTGRES_DUMP_ENTRY {
            if let Some(to) = &plan.postgres_dump_to {
                backup.extract(entry, to, 0o600)?;
            }
            continue;
        }
        let relative = safe_relative(&entry.name)?;
        let mode = match secret || entry.name == SQLITE_FILE {
            true => 0o600,
            false => 0o644,
        };
        backup.extract(entry, &staging.path().join(relative), mode)?;
    }
    match &plan.keys {
        KeySource::Backup if !manifest.includes_secret_keys => {
            return Err(StoreError::Config(format!(
                "this backup does not hold the secret keys ({SIGNING_KEY_FILE}, \
                 {WEBHOOK_KEY_FILE}): give the directory they are kept in, or restore without \
                 keys for offline verification only"
            )))
        }
        KeySource::Directory(dir) => {
            for key in [SIGNING_KEY_FILE, WEBHOOK_KEY_FILE] {
                let from = dir.join(key);
                let text =
                    fs::read(&from).map_err(|e| io(format!("reading {}", from.display()), e))?;
                write_private(&staging.path().join(key), &text)?;
            }
        }
        _ => {}
    }
    if !matches!(plan.keys, KeySource::Without) {
        check_key_pair(staging.path())?;
    }
    if existed_empty {
        fs::remove_dir(target).map_err(|e| io(format!("replacing {}", target.display()), e))?;
    }
    let staged = staging.keep();
    if let Err(e) = fs::rename(&staged, target) {
        let _ = fs::remove_dir_all(&staged);
        return Err(io(
            format!("moving the restored files to {}", target.display()),
            e,
        ));
    }
    sync_dir(&parent)?;
    Ok(manifest)
}

/// The signing key must be the private half of the backup's verifier key.
fn check_key_pair(dir: &Path) -> Result<(), StoreError> {
    let signer = crate::keys::load_signer(dir)?;
    let verifier = crate::keys::load_verifier(dir)?;
    if signer.verifier().to_text() != verifier.to_text() {
        return Err(StoreError::Config(format!(
            "the signing key given is not the one this log was signed with: its public key is \
             {}, the backup's is {}",
            signer.verifier().to_text(),
            verifier.to_text()
        )));
    }
    crate::keys::load_or_create_webhook_key(dir)?;
    Ok(())
}

/// An archive name as a relative path with no `..`, root or prefix in it.
fn safe_relative(name: &str) -> Result<PathBuf, StoreError> {
    let path = Path::new(name);
    let plain = path
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain || name.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the backup names an entry {name:?} outside the data directory"
        )));
    }
    Ok(path.to_owned())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| io(format!("creating {}", path.display()), e))?;
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| io(format!("writing {}", path.display()), e))
}

#[cfg(unix)]
fn restrict(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|e| io(format!("restricting {}", path.display()), e))
}

#[cfg(unix)]
fn restrict_dir(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(|e| io(format!("restricting {}", path.display()), e))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(not(unix))]
fn restrict_dir(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(format!("syncing {}", dir.display()), e))
}
