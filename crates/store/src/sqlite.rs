//! The embedded backend: one SQLite file (WAL, synchronous=FULL). One writer connection, used
//! only by the sequencer's appends, and a small pool of reader connections. Blocking SQLite calls
//! run on tokio's blocking threads.

use modeltrail_ledger::tree::NodeId;
use modeltrail_ledger::verify::{CheckedChunk, ChunkChecker};
use modeltrail_ledger::Hash;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::credentials::CredentialStore;
use crate::log_store::{
    node_from_row, to_i64, to_u64, Batch, LogIdentity, LogStore, RecordHead, StoredCheckpoint,
    StoredEntry,
};
use crate::StoreError;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS log_identity (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq    INTEGER PRIMARY KEY,
    ts     INTEGER NOT NULL,
    body   BLOB NOT NULL,
    hashes BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    ts   INTEGER NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_heads (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    leaf    BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS credentials (
    user_id       TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS log_identity_no_update BEFORE UPDATE ON log_identity
BEGIN SELECT RAISE(ABORT, 'the log identity is fixed: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS log_identity_no_delete BEFORE DELETE ON log_identity
BEGIN SELECT RAISE(ABORT, 'the log identity is fixed: DELETE refused'); END;
"#;

/// The page size of a new database (an existing one keeps its own until a VACUUM). Large
/// pages make the long in-order scans of verification and export markedly cheaper (fewer
/// pages to parse, each mapped once); a commit writes a few more bytes to the WAL, which the
/// append benchmark shows costs little (see the storage benchmark in README).
const PAGE_SIZE: i64 = 65536;

/// How much of the database file a reader connection maps into memory.
const READER_MMAP_BYTES: i64 = 1 << 34;

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and its schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let writer = Connection::open(path)?;
        configure(&writer)?;
        writer.execute_batch(SCHEMA)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Opens an existing database without creating or changing anything (for verification).
    pub fn open_read_only(path: &Path) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return Err(StoreError::Config(format!(
                "no database at {}",
                path.display()
            )));
        }
        let writer = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        writer.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer connection on a blocking thread.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| StoreError::TaskFailed("SQLite writer lock poisoned".into()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }

    /// Runs `f` on a pooled reader connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().ok().and_then(|mut pool| pool.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => {
                    let conn = Connection::open_with_flags(
                        &inner.path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    conn.busy_timeout(std::time::Duration::from_secs(10))?;
                    // Reads map the file instead of copying pages into SQLite's cache: long
                    // sequential scans (verification, exports) run markedly faster.
                    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                    conn
                }
            };
            let result = f(&conn);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::TaskFailed(e.to_string()))?
    }
}

fn read_identity(conn: &Connection) -> Result<Option<LogIdentity>, StoreError> {
    let get = |key: &str| -> Result<Option<String>, StoreError> {
        Ok(conn
            .query_row(
                "SELECT value FROM log_identity WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    };
    LogIdentity::from_stored(get("origin")?, get("verifier_key")?)
}

fn current_size(conn: &Connection) -> Result<u64, StoreError> {
    let last: Option<i64> = conn
        .query_row(
            "SELECT seq FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    match last {
        Some(seq) => Ok(to_u64(seq, "seq")? + 1),
        None => Ok(0),
    }
}

impl LogStore for SqliteStore {
    async fn init_identity(&self, identity: &LogIdentity) -> Result<LogIdentity, StoreError> {
        let identity = identity.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let stored = match read_identity(&tx)? {
                Some(stored) => stored,
                None => {
                    tx.execute(
                        "INSERT INTO log_identity (key, value) VALUES ('origin', ?1), ('verifier_key', ?2)",
                        params![identity.origin, identity.verifier_key],
                    )?;
                    identity.clone()
                }
            };
            tx.commit()?;
            if stored != identity {
                return Err(StoreError::WrongLog {
                    stored: format!("{} (key {})", stored.origin, stored.verifier_key),
                    given: format!("{} (key {})", identity.origin, identity.verifier_key),
                });
            }
            Ok(stored)
        })
        .await
    }

    async fn identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        self.read(read_identity).await
    }

    async fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        let batch = batch.clone();
        self.write(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            batch.check_extends(current_size(&tx)?)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO events (seq, ts, body, hashes) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut head = tx.prepare_cached(
                    "INSERT INTO record_heads (kind, id, version, leaf, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version,
                     leaf = excluded.leaf, seq = excluded.seq",
                )?;
                let mut hashes = Vec::new();
                for entry in &batch.entries {
                    hashes.clear();
                    for h in &entry.hashes {
                        hashes.extend_from_slice(h.as_bytes());
                    }
                    insert.execute(params![
                        to_i64(entry.seq, "seq")?,
                        entry.timestamp.as_micros(),
                        entry.body,
                        hashes
                    ])?;
                    if let Some(r) = &entry.record {
                        head.execute(params![
                            r.kind,
                            r.id,
                            to_i64(r.version, "version")?,
                            r.leaf.as_bytes().as_slice(),
                            to_i64(r.seq, "seq")?
                        ])?;
                    }
                }
            }
            tx.execute(
                "INSERT INTO checkpoints (size, ts, note) VALUES (?1, ?2, ?3)",
                params![
                    to_i64(batch.checkpoint.size, "size")?,
                    batch.checkpoint_time.as_micros(),
                    batch.checkpoint.text
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn size(&self) -> Result<u64, StoreError> {
        self.read(current_size).await
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        let ids = ids.to_vec();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT hashes FROM events WHERE seq = ?1")?;
            ids.iter()
                .map(|id| {
                    let hashes: Option<Vec<u8>> = stmt
                        .query_row([to_i64(id.completed_by(), "seq")?], |r| r.get(0))
                        .optional()?;
                    node_from_row(*id, &hashes.ok_or(StoreError::MissingNode(*id))?)
                })
                .collect()
        })
        .await
    }

    async fn entries(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, body, hashes FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )?;
            // Bytes are taken whatever type the column holds now: a value rewritten as TEXT
            // is then judged by its hash like any other change, not refused as unreadable.
            let rows = stmt.query_map(params![to_i64(from, "seq")?, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get_ref(1)?.as_bytes()?.to_vec(),
                    r.get_ref(2)?.as_bytes()?.to_vec(),
                ))
            })?;
            let mut out = Vec::with_capacity(limit.min(1 << 16));
            for row in rows {
                let (seq, body, hashes) = row?;
                out.push(StoredEntry {
                    seq: to_u64(seq, "seq")?,
                    body,
                    hashes,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn checked_entries(&self, begin: u64, end: u64) -> Result<CheckedChunk, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, body, hashes FROM events WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![to_i64(begin, "seq")?, to_i64(end, "seq")?])?;
            let mut checker = ChunkChecker::new(begin, end);
            while let Some(row) = rows.next()? {
                let seq = to_u64(row.get(0)?, "seq")?;
                // Bytes whatever the column's type, as in `entries`.
                let more = match (row.get_ref(1)?.as_bytes(), row.get_ref(2)?.as_bytes()) {
                    (Ok(body), Ok(hashes)) => checker.push(seq, body, hashes),
                    _ => {
                        checker.push_unreadable(seq, "the stored event or its hashes are not bytes")
                    }
                };
                if !more {
                    break;
                }
            }
            Ok(checker.finish())
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT size, note FROM checkpoints ORDER BY size")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))?;
            rows.map(|row| {
                let (size, text) = row?;
                Ok(StoredCheckpoint {
                    size: to_u64(size, "size")?,
                    text,
                })
            })
            .collect()
        })
        .await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.read(|conn| {
            let row: Option<(i64, String)> = conn
                .query_row(
                    "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            row.map(|(size, text)| {
                Ok(StoredCheckpoint {
                    size: to_u64(size, "size")?,
                    text,
                })
            })
            .transpose()
        })
        .await
    }

    async fn record_head(&self, kind: &str, id: &str) -> Result<Option<RecordHead>, StoreError> {
        let keys = [(kind.to_owned(), id.to_owned())];
        Ok(self.record_heads(&keys).await?.pop())
    }

    async fn record_heads(&self, keys: &[(String, String)]) -> Result<Vec<RecordHead>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT version, leaf, seq FROM record_heads WHERE kind = ?1 AND id = ?2",
            )?;
            let mut heads = Vec::new();
            for (kind, id) in keys {
                let row: Option<(i64, Vec<u8>, i64)> = statement
                    .query_row(params![kind, id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                if let Some((version, leaf, seq)) = row {
                    heads.push(RecordHead {
                        kind,
                        id,
                        version: to_u64(version, "version")?,
                        leaf: Hash::from_slice(&leaf)
                            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                        seq: to_u64(seq, "seq")?,
                    });
                }
            }
            Ok(heads)
        })
        .await
    }
}

impl CredentialStore for SqliteStore {
    async fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        let user = user.to_owned();
        self.read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT password_hash FROM credentials WHERE user_id = ?1",
                    [user],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    async fn set_password_hash(&self, user: &str, hash: &str) -> Result<(), StoreError> {
        let (user, hash) = (user.to_owned(), hash.to_owned());
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO credentials (user_id, password_hash) VALUES (?1, ?2) \
                 ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash",
                params![user, hash],
            )?;
            Ok(())
        })
        .await
    }
}
