//! The PostgreSQL backend: the same tables and append-only triggers as the SQLite backend, in an
//! optional dedicated schema. One writer connection (the sequencer's appends, the log identity),
//! and one reader connection shared by all reads, with every statement prepared once at connect.
//! A connection found closed (the database restarted, the network dropped) is opened again on
//! its next use, so the server recovers by itself once the database is back.

use modeltrail_ledger::tree::NodeId;
use modeltrail_ledger::verify::{CheckedChunk, ChunkChecker};
use modeltrail_ledger::Hash;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

use crate::credentials::CredentialStore;
use crate::log_store::{
    node_from_row, to_i64, to_u64, Batch, LogIdentity, LogStore, RecordHead, StoredCheckpoint,
    StoredEntry,
};
use crate::StoreError;

/// The tables, the refusal function and the append-only triggers. Run in one transaction under an
/// advisory lock, so that processes starting at once neither race on the catalog nor see half of
/// it. Every statement is idempotent; none takes a lock that waits for running appends.
const SCHEMA: &str = r#"
SELECT pg_advisory_xact_lock(hashtext('modeltrail: schema setup'));
CREATE TABLE IF NOT EXISTS log_identity (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    seq    BIGINT PRIMARY KEY,
    ts     BIGINT NOT NULL,
    body   BYTEA NOT NULL,
    hashes BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    ts   BIGINT NOT NULL,
    note TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS record_heads (
    kind    TEXT NOT NULL,
    id      TEXT NOT NULL,
    version BIGINT NOT NULL,
    leaf    BYTEA NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS credentials (
    user_id       TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
);
CREATE OR REPLACE FUNCTION modeltrail_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION '%: % refused',
        CASE TG_TABLE_NAME
            WHEN 'events' THEN 'the event log is append-only'
            WHEN 'checkpoints' THEN 'checkpoints are append-only'
            WHEN 'log_identity' THEN 'the log identity is fixed'
            ELSE TG_TABLE_NAME || ' is append-only'
        END,
        TG_OP;
END
$fn$;
DO $do$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['events', 'checkpoints', 'log_identity'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = t::regclass AND tgname = t || '_no_update_delete') THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I '
                           'FOR EACH ROW EXECUTE FUNCTION modeltrail_refuse_change()',
                           t || '_no_update_delete', t);
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = t::regclass AND tgname = t || '_no_truncate') THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION modeltrail_refuse_change()',
                           t || '_no_truncate', t);
        END IF;
    END LOOP;
END
$do$;
"#;

const SIZE: &str = "SELECT seq FROM events ORDER BY seq DESC LIMIT 1";
const IDENTITY: &str =
    "SELECT key, value FROM log_identity WHERE key IN ('origin', 'verifier_key')";

/// The PostgreSQL store. Cloning is cheap: clones share the connections.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    schema: Option<String>,
    writer: Mutex<Writer>,
    reader: Mutex<Arc<Reader>>,
}

/// The reader connection and the statements prepared on it.
struct Reader {
    client: Client,
    reads: ReadStatements,
}

/// The writer connection and the statements prepared on it.
struct Writer {
    client: Client,
    size: Statement,
    identity: Statement,
    insert_identity: Statement,
    insert_events: Statement,
    upsert_heads: Statement,
    insert_checkpoint: Statement,
}

/// Statements prepared on the reader connection.
struct ReadStatements {
    size: Statement,
    identity: Statement,
    nodes: Statement,
    entries: Statement,
    entry_range: Statement,
    checkpoints: Statement,
    latest_checkpoint: Statement,
    record_head: Statement,
}

/// Checks a schema name: `[a-z_][a-z0-9_]{0,62}`, and not one PostgreSQL reserves (`pg_*`).
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let valid = schema.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !schema.starts_with("pg_");
    if valid {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "invalid PostgreSQL schema name {schema:?}: use 1 to 63 characters of a-z, 0-9 and _, \
             not starting with a digit or pg_"
        )))
    }
}

/// Quotes a checked schema name as an SQL identifier.
fn quote_ident(schema: &str) -> String {
    format!("\"{}\"", schema.replace('"', "\"\""))
}

/// Reads a connection URL; the error never repeats the URL, which may hold a password.
fn parse_url(url: &str) -> Result<Config, StoreError> {
    url.parse::<Config>()
        .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))
}

/// Opens one connection and drives it on a tokio task. Connection errors are logged there
/// without the URL.
async fn open_connection(config: &Config, role: &'static str) -> Result<Client, StoreError> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::error!(%error, connection = role, "PostgreSQL connection failed");
        }
    });
    Ok(client)
}

fn hash_from(bytes: &[u8]) -> Result<Hash, StoreError> {
    Hash::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn size_from(row: Option<Row>) -> Result<u64, StoreError> {
    match row {
        Some(row) => {
            let seq = to_u64(row.try_get::<_, i64>(0)?, "seq")?;
            seq.checked_add(1)
                .ok_or_else(|| StoreError::Corrupt(format!("seq {seq} is the largest possible")))
        }
        None => Ok(0),
    }
}

fn identity_from(rows: &[Row]) -> Result<Option<LogIdentity>, StoreError> {
    let (mut origin, mut verifier_key) = (None, None);
    for row in rows {
        let key: &str = row.try_get(0)?;
        let value: String = row.try_get(1)?;
        match key {
            "origin" => origin = Some(value),
            "verifier_key" => verifier_key = Some(value),
            _ => {}
        }
    }
    LogIdentity::from_stored(origin, verifier_key)
}

fn checkpoint_from(row: &Row) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        size: to_u64(row.try_get(0)?, "size")?,
        text: row.try_get(1)?,
    })
}

/// Whether connecting may create the schema objects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Setup {
    CreateMissing,
    UseExisting,
}

impl PgStore {
    /// Connects to the database at `url` (a `postgres://` URL or key=value string; no TLS),
    /// creating `schema` if given and missing and using it on every connection, then creates the
    /// tables and append-only triggers if missing.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgStore, StoreError> {
        PgStore::open(url, schema, Setup::CreateMissing).await
    }

    /// Connects to an existing log without creating or changing anything, so a read-only role
    /// (an auditor's) is enough. Fails if the tables are not there.
    pub async fn connect_existing(url: &str) -> Result<PgStore, StoreError> {
        PgStore::open(url, None, Setup::UseExisting).await
    }

    async fn open(url: &str, schema: Option<&str>, setup: Setup) -> Result<PgStore, StoreError> {
        let mut config = parse_url(url)?;
        if let Some(schema) = schema {
            check_schema_name(schema)?;
            // A checked name needs no escaping inside the options string.
            let option = format!("-c search_path={schema}");
            let options = match config.get_options() {
                Some(given) if !given.trim().is_empty() => format!("{given} {option}"),
                _ => option,
            };
            config.options(options);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(30));
        }

        let mut client = open_connection(&config, "writer").await?;
        if setup == Setup::CreateMissing {
            let tx = client.transaction().await?;
            if let Some(schema) = schema {
                tx.batch_execute(&format!(
                    "SELECT pg_advisory_xact_lock(hashtext('modeltrail: schema setup'));
                     CREATE SCHEMA IF NOT EXISTS {}",
                    quote_ident(schema)
                ))
                .await?;
            }
            tx.batch_execute(SCHEMA).await?;
            tx.commit().await?;
        }

        let writer = Writer::prepare(client).await?;
        let reader = Reader::connect(&config).await?;
        Ok(PgStore {
            inner: Arc::new(Inner {
                config,
                schema: schema.map(str::to_owned),
                writer: Mutex::new(writer),
                reader: Mutex::new(Arc::new(reader)),
            }),
        })
    }

    /// The schema this store uses, if one was given; otherwise the connection's default
    /// `search_path` decides.
    pub fn schema(&self) -> Option<&str> {
        self.inner.schema.as_deref()
    }
}

impl Writer {
    /// Prepares the writer's statements on `client`.
    async fn prepare(client: Client) -> Result<Writer, StoreError> {
        Ok(Writer {
            size: client.prepare(SIZE).await?,
            identity: client.prepare(IDENTITY).await?,
            insert_identity: client
                .prepare(
                    "INSERT INTO log_identity (key, value) \
                     VALUES ('origin', $1::text), ('verifier_key', $2::text)",
                )
                .await?,
            insert_events: client
                .prepare(
                    "INSERT INTO events (seq, ts, body, hashes) \
                     SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[])",
                )
                .await?,
            upsert_heads: client
                .prepare(
                    "INSERT INTO record_heads (kind, id, version, leaf, seq) \
                     SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[], \
                     $5::bigint[]) \
                     ON CONFLICT (kind, id) DO UPDATE SET version = excluded.version, \
                     leaf = excluded.leaf, seq = excluded.seq",
                )
                .await?,
            insert_checkpoint: client
                .prepare(
                    "INSERT INTO checkpoints (size, ts, note) VALUES ($1::bigint, $2::bigint, $3::text)",
                )
                .await?,
            client,
        })
    }
}

impl Reader {
    /// Opens the reader connection and prepares its statements.
    async fn connect(config: &Config) -> Result<Reader, StoreError> {
        let client = open_connection(config, "reader").await?;
        let reads = ReadStatements {
            size: client.prepare(SIZE).await?,
            identity: client.prepare(IDENTITY).await?,
            nodes: client
                .prepare("SELECT seq, hashes FROM events WHERE seq = ANY($1::bigint[])")
                .await?,
            entries: client
                .prepare(
                    "SELECT seq, body, hashes FROM events WHERE seq >= $1::bigint \
                     ORDER BY seq LIMIT $2::bigint",
                )
                .await?,
            entry_range: client
                .prepare(
                    "SELECT seq, body, hashes FROM events \
                     WHERE seq >= $1::bigint AND seq < $2::bigint ORDER BY seq",
                )
                .await?,
            checkpoints: client
                .prepare("SELECT size, note FROM checkpoints ORDER BY size")
                .await?,
            latest_checkpoint: client
                .prepare("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1")
                .await?,
            record_head: client
                .prepare(
                    "SELECT version, leaf, seq FROM record_heads \
                     WHERE kind = $1::text AND id = $2::text",
                )
                .await?,
        };
        Ok(Reader { client, reads })
    }
}

impl PgStore {
    /// The reader connection, opened again first if it was found closed.
    async fn reader(&self) -> Result<Arc<Reader>, StoreError> {
        let mut current = self.inner.reader.lock().await;
        if current.client.is_closed() {
            tracing::warn!("the PostgreSQL reader connection was closed; reconnecting");
            *current = Arc::new(Reader::connect(&self.inner.config).await?);
        }
        Ok(current.clone())
    }

    /// The writer connection, locked, opened again first if it was found closed.
    async fn writer(&self) -> Result<tokio::sync::MutexGuard<'_, Writer>, StoreError> {
        let mut writer = self.inner.writer.lock().await;
        if writer.client.is_closed() {
            tracing::warn!("the PostgreSQL writer connection was closed; reconnecting");
            let client = open_connection(&self.inner.config, "writer").await?;
            *writer = Writer::prepare(client).await?;
        }
        Ok(writer)
    }
}

/// Drops `schema` and everything in it (for tests and tooling). A missing schema is no error.
pub async fn drop_schema(url: &str, schema: &str) -> Result<(), StoreError> {
    check_schema_name(schema)?;
    let client = open_connection(&parse_url(url)?, "drop_schema").await?;
    client
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            quote_ident(schema)
        ))
        .await?;
    Ok(())
}

impl LogStore for PgStore {
    async fn init_identity(&self, identity: &LogIdentity) -> Result<LogIdentity, StoreError> {
        let mut guard = self.writer().await?;
        let writer = &mut *guard;
        let tx = writer.client.transaction().await?;
        // Two processes initialising at once: the second waits, then reads the first's identity.
        tx.batch_execute("LOCK TABLE log_identity IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        let stored = match identity_from(&tx.query(&writer.identity, &[]).await?)? {
            Some(stored) => stored,
            None => {
                tx.execute(
                    &writer.insert_identity,
                    &[&identity.origin, &identity.verifier_key],
                )
                .await?;
                identity.clone()
            }
        };
        tx.commit().await?;
        if stored != *identity {
            return Err(StoreError::WrongLog {
                stored: format!("{} (key {})", stored.origin, stored.verifier_key),
                given: format!("{} (key {})", identity.origin, identity.verifier_key),
            });
        }
        Ok(stored)
    }

    async fn identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        let reader = self.reader().await?;
        identity_from(&reader.client.query(&reader.reads.identity, &[]).await?)
    }

    async fn append(&self, batch: &Batch) -> Result<(), StoreError> {
        // Everything that can fail without the database is done before the transaction starts.
        let n = batch.entries.len();
        let (mut seqs, mut times, mut bodies, mut hashes) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        // The last version of each record in the batch wins, as with one upsert per entry
        // (one INSERT ... ON CONFLICT may not touch a row twice).
        let mut heads: HashMap<(&str, &str), &RecordHead> = HashMap::new();
        for entry in &batch.entries {
            seqs.push(to_i64(entry.seq, "seq")?);
            times.push(entry.timestamp.as_micros());
            bodies.push(entry.body.as_slice());
            hashes.push(
                entry
                    .hashes
                    .iter()
                    .flat_map(|h| h.as_bytes().iter().copied())
                    .collect::<Vec<u8>>(),
            );
            if let Some(r) = &entry.record {
                heads.insert((r.kind.as_str(), r.id.as_str()), r);
            }
        }
        let (mut kinds, mut ids, mut versions, mut leaves, mut head_seqs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in heads.values() {
            kinds.push(r.kind.as_str());
            ids.push(r.id.as_str());
            versions.push(to_i64(r.version, "version")?);
            leaves.push(r.leaf.as_bytes().as_slice());
            head_seqs.push(to_i64(r.seq, "seq")?);
        }
        let checkpoint_size = to_i64(batch.checkpoint.size, "size")?;

        let mut guard = self.writer().await?;
        let writer = &mut *guard;
        // Dropping the transaction before commit (an error, a cancelled future) rolls it back.
        let tx = writer.client.transaction().await?;
        // Self-exclusive and exclusive of inserts, not of reads: appends from two processes
        // queue here, and the size read below is the one this append extends.
        tx.batch_execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        batch.check_extends(size_from(tx.query_opt(&writer.size, &[]).await?)?)?;
        if !seqs.is_empty() {
            tx.execute(&writer.insert_events, &[&seqs, &times, &bodies, &hashes])
                .await?;
        }
        if !kinds.is_empty() {
            tx.execute(
                &writer.upsert_heads,
                &[&kinds, &ids, &versions, &leaves, &head_seqs],
            )
            .await?;
        }
        tx.execute(
            &writer.insert_checkpoint,
            &[
                &checkpoint_size,
                &batch.checkpoint_time.as_micros(),
                &batch.checkpoint.text,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn size(&self) -> Result<u64, StoreError> {
        let reader = self.reader().await?;
        size_from(reader.client.query_opt(&reader.reads.size, &[]).await?)
    }

    async fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut seqs = ids
            .iter()
            .map(|id| to_i64(id.completed_by(), "seq"))
            .collect::<Result<Vec<i64>, StoreError>>()?;
        seqs.sort_unstable();
        seqs.dedup();
        let reader = self.reader().await?;
        let rows = reader.client.query(&reader.reads.nodes, &[&seqs]).await?;
        let mut by_seq: HashMap<i64, Vec<u8>> = HashMap::with_capacity(rows.len());
        for row in &rows {
            by_seq.insert(row.try_get(0)?, row.try_get(1)?);
        }
        ids.iter()
            .map(|id| {
                let seq = to_i64(id.completed_by(), "seq")?;
                let hashes = by_seq.get(&seq).ok_or(StoreError::MissingNode(*id))?;
                node_from_row(*id, hashes)
            })
            .collect()
    }

    async fn entries(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError> {
        let from = to_i64(from, "seq")?;
        // A limit beyond i64 means "all of them".
        let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
        let reader = self.reader().await?;
        let rows = reader
            .client
            .query(&reader.reads.entries, &[&from, &limit_sql])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(StoredEntry {
                seq: to_u64(row.try_get(0)?, "seq")?,
                body: row.try_get(1)?,
                hashes: row.try_get(2)?,
            });
        }
        Ok(out)
    }

    async fn checked_entries(&self, begin: u64, end: u64) -> Result<CheckedChunk, StoreError> {
        let (from, to) = (to_i64(begin, "seq")?, to_i64(end, "seq")?);
        let reader = self.reader().await?;
        let rows = reader
            .client
            .query(&reader.reads.entry_range, &[&from, &to])
            .await?;
        let mut checker = ChunkChecker::new(begin, end);
        for row in &rows {
            let seq = to_u64(row.try_get(0)?, "seq")?;
            let body: &[u8] = row.try_get(1)?;
            let hashes: &[u8] = row.try_get(2)?;
            if !checker.push(seq, body, hashes) {
                break;
            }
        }
        Ok(checker.finish())
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let reader = self.reader().await?;
        let rows = reader.client.query(&reader.reads.checkpoints, &[]).await?;
        rows.iter().map(checkpoint_from).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let reader = self.reader().await?;
        let row = reader
            .client
            .query_opt(&reader.reads.latest_checkpoint, &[])
            .await?;
        row.as_ref().map(checkpoint_from).transpose()
    }

    async fn record_head(&self, kind: &str, id: &str) -> Result<Option<RecordHead>, StoreError> {
        let reader = self.reader().await?;
        let row = reader
            .client
            .query_opt(&reader.reads.record_head, &[&kind, &id])
            .await?;
        row.map(|row| {
            Ok(RecordHead {
                kind: kind.to_owned(),
                id: id.to_owned(),
                version: to_u64(row.try_get(0)?, "version")?,
                leaf: hash_from(row.try_get::<_, &[u8]>(1)?)?,
                seq: to_u64(row.try_get(2)?, "seq")?,
            })
        })
        .transpose()
    }

    async fn record_heads(&self, keys: &[(String, String)]) -> Result<Vec<RecordHead>, StoreError> {
        let (kinds, ids): (Vec<&str>, Vec<&str>) =
            keys.iter().map(|(k, i)| (k.as_str(), i.as_str())).unzip();
        let rows = self
            .reader()
            .await?
            .client
            .query(
                "SELECT h.kind, h.id, h.version, h.leaf, h.seq FROM record_heads h \
                 JOIN UNNEST($1::text[], $2::text[]) AS k(kind, id) \
                 ON h.kind = k.kind AND h.id = k.id",
                &[&kinds, &ids],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RecordHead {
                    kind: row.try_get(0)?,
                    id: row.try_get(1)?,
                    version: to_u64(row.try_get(2)?, "version")?,
                    leaf: hash_from(row.try_get::<_, &[u8]>(3)?)?,
                    seq: to_u64(row.try_get(4)?, "seq")?,
                })
            })
            .collect()
    }
}

impl CredentialStore for PgStore {
    async fn password_hash(&self, user: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .reader()
            .await?
            .client
            .query_opt(
                "SELECT password_hash FROM credentials WHERE user_id = $1::text",
                &[&user],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn set_password_hash(&self, user: &str, hash: &str) -> Result<(), StoreError> {
        self.reader()
            .await?
            .client
            .execute(
                "INSERT INTO credentials (user_id, password_hash) VALUES ($1::text, $2::text) \
                 ON CONFLICT (user_id) DO UPDATE SET password_hash = excluded.password_hash",
                &[&user, &hash],
            )
            .await?;
        Ok(())
    }
}
