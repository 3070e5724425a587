//! One conformance suite for every storage backend: each story below runs on SQLite (a file in a
//! temporary directory) and on the local PostgreSQL (a schema of its own), through the public
//! interface only: the sequencer appends, proofs come from the store, verification reads it back.

use ed25519_dalek::SigningKey;
use modeltrail_ledger::checkpoint::SignedCheckpoint;
use modeltrail_ledger::event::{Actor, AuthMethod, EventDraft, RecordRef};
use modeltrail_ledger::note::NoteSigner;
use modeltrail_ledger::proof::{verify_consistency, verify_inclusion};
use modeltrail_ledger::tree::MemoryTree;
use modeltrail_ledger::{leaf_hash, Hash, Timestamp};
use modeltrail_store::audit::{verify_store, AuditConfig};
use modeltrail_store::postgres::{drop_schema, PgStore};
use modeltrail_store::proofs::{consistency_proof, inclusion_proof, root_at};
use modeltrail_store::sqlite::SqliteStore;
use modeltrail_store::{
    AnyStore, AppendError, Batch, CredentialStore, LogStore, Sequencer, SequencerConfig,
    StoreError, StoredCheckpoint,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store under test and how to reach its tables behind the interface's back.
struct Fixture {
    store: AnyStore,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl Fixture {
    async fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("log.db")).unwrap();
        Fixture {
            store: AnyStore::Sqlite(store),
            _dir: Some(dir),
            schema: None,
        }
    }

    async fn postgres() -> Fixture {
        let schema = format!("t_{:016x}", rand::random::<u64>());
        let store = PgStore::connect(PG_URL, Some(&schema)).await.unwrap();
        Fixture {
            store: AnyStore::Postgres(store),
            _dir: None,
            schema: Some(schema),
        }
    }

    /// Runs raw SQL on the store's tables, bypassing the interface; returns the error text.
    async fn raw(&self, sql: &str) -> Result<(), String> {
        match &self.store {
            AnyStore::Sqlite(s) => {
                let conn = rusqlite::Connection::open(s.path()).map_err(|e| e.to_string())?;
                conn.execute_batch(sql).map_err(|e| e.to_string())
            }
            AnyStore::Postgres(_) => {
                let (client, conn) = tokio_postgres::connect(PG_URL, tokio_postgres::NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(conn);
                let schema = self.schema.as_deref().unwrap_or("public");
                client
                    .batch_execute(&format!("SET search_path TO {schema}; {sql}"))
                    .await
                    .map_err(|e| match e.as_db_error() {
                        Some(db) => db.message().to_owned(),
                        None => e.to_string(),
                    })
            }
        }
    }

    async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            drop_schema(PG_URL, schema).await.unwrap();
        }
    }
}

fn signer(seed: u8) -> NoteSigner {
    NoteSigner::new("test.example/log", SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn draft(action: &str, payload: serde_json::Value) -> EventDraft {
    EventDraft {
        actor: Actor {
            id: "u-1".into(),
            name: "Test User".into(),
            role: "developer".into(),
            auth: AuthMethod::ApiToken,
        },
        client: Default::default(),
        action: action.into(),
        record: None,
        prev: None,
        reason: None,
        target: None,
        payload,
    }
}

fn record_draft(id: &str, version: u64, prev: Option<Hash>) -> EventDraft {
    EventDraft {
        record: Some(RecordRef {
            kind: "model".into(),
            id: id.into(),
            version,
        }),
        prev,
        reason: Some(format!("version {version}")),
        target: None,
        ..draft("record.write", serde_json::json!({"v": version}))
    }
}

async fn start(store: &AnyStore, config: SequencerConfig) -> Sequencer {
    Sequencer::start(Arc::new(store.clone()), signer(1), config)
        .await
        .unwrap()
        .0
}

async fn verified(store: &AnyStore) -> modeltrail_ledger::verify::Summary {
    verify_store(
        store,
        &signer(1).verifier(),
        Vec::new(),
        &AuditConfig::default(),
        Arc::new(|_| {}),
    )
    .await
    .unwrap()
    .unwrap()
}

async fn all_leaves(store: &AnyStore) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for e in store.entries(0, usize::MAX >> 1).await.unwrap() {
        tree.append(leaf_hash(&e.body));
    }
    tree
}

macro_rules! on_both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                let f = super::Fixture::sqlite().await;
                super::$story(&f).await;
                f.cleanup().await;
            })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $story() {
                let f = super::Fixture::postgres().await;
                super::$story(&f).await;
                f.cleanup().await;
            })*
        }
    };
}

on_both_backends!(
    a_new_log_has_a_signed_empty_checkpoint,
    appends_are_durable_ordered_and_provable,
    concurrent_writers_are_group_committed_without_loss,
    a_request_is_all_or_nothing,
    record_versions_form_a_chain,
    attestations_bind_the_latest_version,
    time_never_goes_backwards,
    a_restart_continues_the_same_tree,
    a_batch_out_of_order_changes_nothing,
    a_transaction_failing_half_way_leaves_the_log_as_it_was,
    another_key_cannot_take_over_the_log,
    the_log_tables_refuse_update_and_delete,
    proofs_beyond_the_log_are_refused,
    stopping_commits_everything_already_queued,
    password_hashes_are_kept_beside_the_log,
    the_observer_sees_every_commit_in_order_before_the_caller,
);

async fn a_new_log_has_a_signed_empty_checkpoint(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    let latest = seq.latest_checkpoint();
    assert_eq!(latest.checkpoint().size, 0);
    assert_eq!(latest.checkpoint().root, Hash::empty_tree());
    let stored = f.store.latest_checkpoint().await.unwrap().unwrap();
    SignedCheckpoint::open(&stored.text, &signer(1).verifier()).unwrap();
    let identity = f.store.identity().await.unwrap().unwrap();
    assert_eq!(identity.origin, "test.example/log");
    assert_eq!(verified(&f.store).await.size, 0);
}

async fn appends_are_durable_ordered_and_provable(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    let mut appended = Vec::new();
    for i in 0..37 {
        appended.push(
            seq.append(draft("test.event", serde_json::json!({"i": i})))
                .await
                .unwrap(),
        );
    }
    for (i, a) in appended.iter().enumerate() {
        assert_eq!(a.seq, i as u64);
        assert!(a.checkpoint.checkpoint().size > a.seq);
        // Each acknowledgement carries a checkpoint that includes the event: prove it.
        let cp = a.checkpoint.checkpoint();
        let proof = inclusion_proof(&f.store, a.seq, cp.size).await.unwrap();
        verify_inclusion(&a.leaf, a.seq, cp.size, &proof, &cp.root).unwrap();
    }
    assert_eq!(f.store.size().await.unwrap(), 37);
    // Every root and every consistency proof the store serves matches the events it holds.
    let tree = all_leaves(&f.store).await;
    for size in 0..=37 {
        assert_eq!(
            root_at(&f.store, size).await.unwrap(),
            tree.root(size).unwrap()
        );
    }
    for first in 1..=37 {
        let proof = consistency_proof(&f.store, first, 37).await.unwrap();
        assert_eq!(proof, tree.consistency_proof(first, 37).unwrap());
        verify_consistency(
            first,
            37,
            &proof,
            &tree.root(first).unwrap(),
            &tree.root(37).unwrap(),
        )
        .unwrap();
    }
    let stored = f.store.entries(5, 3).await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    let event = modeltrail_ledger::event::Event::from_bytes(&stored[0].body).unwrap();
    assert_eq!(event.payload, serde_json::json!({"i": 5}));
    assert_eq!(verified(&f.store).await.size, 37);
}

async fn concurrent_writers_are_group_committed_without_loss(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    let mut tasks = Vec::new();
    for w in 0..32 {
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..20 {
                let a = seq
                    .append(draft("test.event", serde_json::json!({"w": w, "i": i})))
                    .await
                    .unwrap();
                mine.push((a.seq, a.leaf));
            }
            mine
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    acked.sort();
    assert_eq!(acked.len(), 640);
    for (i, (s, leaf)) in acked.iter().enumerate() {
        assert_eq!(*s, i as u64, "sequence numbers are dense");
        let stored = f.store.entries(*s, 1).await.unwrap();
        assert_eq!(leaf_hash(&stored[0].body), *leaf);
    }
    // Fewer checkpoints than events: concurrent appends shared transactions.
    let checkpoints = f.store.checkpoints().await.unwrap();
    assert!(checkpoints.len() < 640, "{} checkpoints", checkpoints.len());
    assert_eq!(verified(&f.store).await.size, 640);
}

async fn a_request_is_all_or_nothing(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    seq.append(draft("test.event", serde_json::json!(1)))
        .await
        .unwrap();
    let before = f.store.latest_checkpoint().await.unwrap();
    let batch = vec![
        draft("test.event", serde_json::json!(2)),
        draft("", serde_json::json!(3)),
        draft("test.event", serde_json::json!(4)),
    ];
    match seq.append_all(batch).await {
        Err(AppendError::Invalid { index: 1, source }) => {
            assert!(source.to_string().contains("action"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    let too_big = draft(
        "test.event",
        serde_json::json!({"n": 9_007_199_254_740_993u64}),
    );
    match seq
        .append_all(vec![draft("ok", serde_json::json!(0)), too_big])
        .await
    {
        Err(AppendError::Invalid { index: 1, source }) => {
            assert!(source.to_string().contains("9007199254740993"), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.store.size().await.unwrap(), 1);
    assert_eq!(f.store.latest_checkpoint().await.unwrap(), before);
    let ok = seq
        .append_all(
            (0..5)
                .map(|i| draft("test.event", serde_json::json!(i)))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(
        ok.iter().map(|a| a.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(verified(&f.store).await.size, 6);
}

async fn record_versions_form_a_chain(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    let v1 = seq.append(record_draft("m-1", 1, None)).await.unwrap();
    let v2 = seq
        .append(record_draft("m-1", 2, Some(v1.leaf)))
        .await
        .unwrap();
    // A second writer who also read version 1 loses: version 2 exists.
    match seq.append(record_draft("m-1", 2, Some(v1.leaf))).await {
        Err(AppendError::Conflict { record, problem }) => {
            assert_eq!(record, "model/m-1");
            assert!(problem.contains("is at version 2"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    match seq.append(record_draft("m-1", 3, Some(v1.leaf))).await {
        Err(AppendError::Conflict { problem, .. }) => {
            assert!(problem.contains("leaf hash"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
    match seq.append(record_draft("m-2", 2, Some(v1.leaf))).await {
        Err(AppendError::Conflict { problem, .. }) => {
            assert!(problem.contains("does not exist"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
    // Versions chained inside one request are checked against each other.
    let both = seq
        .append_all(vec![
            record_draft("m-3", 1, None),
            record_draft("m-3", 2, None),
        ])
        .await;
    assert!(
        matches!(both, Err(AppendError::Invalid { index: 1, .. })),
        "{both:?}"
    );
    let v3 = seq
        .append(record_draft("m-1", 3, Some(v2.leaf)))
        .await
        .unwrap();
    let head = f.store.record_head("model", "m-1").await.unwrap().unwrap();
    assert_eq!((head.version, head.leaf, head.seq), (3, v3.leaf, v3.seq));
    let keys = [
        ("model".to_string(), "m-1".to_string()),
        ("model".to_string(), "nothing".to_string()),
        ("other".to_string(), "m-1".to_string()),
    ];
    assert_eq!(f.store.record_heads(&keys).await.unwrap(), vec![head]);
    assert_eq!(f.store.size().await.unwrap(), 3);
    let summary = verified(&f.store).await;
    assert_eq!(summary.records, 1);
}

fn attestation(id: &str, version: u64, target: Hash) -> EventDraft {
    EventDraft {
        target: Some(target),
        prev: None,
        ..record_draft(id, version, None)
    }
}

async fn attestations_bind_the_latest_version(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    let v1 = seq.append(record_draft("m-1", 1, None)).await.unwrap();
    let signed = seq.append(attestation("m-1", 1, v1.leaf)).await.unwrap();
    // The attestation creates no version: the head is still version 1.
    let head = f.store.record_head("model", "m-1").await.unwrap().unwrap();
    assert_eq!((head.version, head.seq), (1, v1.seq));
    let v2 = seq
        .append(record_draft("m-1", 2, Some(v1.leaf)))
        .await
        .unwrap();
    assert!(v2.seq > signed.seq);
    for (bad, expected) in [
        (attestation("m-1", 1, v1.leaf), "is at version 2"),
        (attestation("m-1", 2, v1.leaf), "is at version 2"),
        (attestation("m-9", 1, v1.leaf), "does not exist"),
    ] {
        match seq.append(bad).await {
            Err(AppendError::Conflict { problem, .. }) => {
                assert!(problem.contains(expected), "{problem}")
            }
            other => panic!("{other:?}"),
        }
    }
    seq.append(attestation("m-1", 2, v2.leaf)).await.unwrap();
    assert_eq!(f.store.size().await.unwrap(), 4);
    assert_eq!(verified(&f.store).await.records, 1);
}

async fn time_never_goes_backwards(f: &Fixture) {
    let now = Arc::new(AtomicI64::new(1_800_000_000_000_000));
    let clock = now.clone();
    let config = SequencerConfig {
        clock: Arc::new(move || Timestamp::from_micros(clock.load(Ordering::SeqCst))),
        ..SequencerConfig::default()
    };
    let seq = start(&f.store, config).await;
    let a = seq.append(draft("t", serde_json::json!(1))).await.unwrap();
    now.store(1_700_000_000_000_000, Ordering::SeqCst); // the wall clock steps back a long way
    let b = seq.append(draft("t", serde_json::json!(2))).await.unwrap();
    now.store(1_800_000_000_000_500, Ordering::SeqCst);
    let c = seq.append(draft("t", serde_json::json!(3))).await.unwrap();
    assert_eq!(
        b.timestamp, a.timestamp,
        "held at the last time, not stepped back"
    );
    assert_eq!(c.timestamp.as_micros(), 1_800_000_000_000_500);
    assert!(b.checkpoint.checkpoint().timestamp >= a.checkpoint.checkpoint().timestamp);
    verified(&f.store).await;
}

async fn a_restart_continues_the_same_tree(f: &Fixture) {
    let first = {
        let seq = start(&f.store, SequencerConfig::default()).await;
        for i in 0..11 {
            seq.append(draft("t", serde_json::json!(i))).await.unwrap();
        }
        seq.latest_checkpoint()
    };
    let seq = start(&f.store, SequencerConfig::default()).await;
    let again = seq.latest_checkpoint();
    assert_eq!(again.text(), first.text(), "restart signs nothing new");
    for i in 0..6 {
        seq.append(draft("t", serde_json::json!(i))).await.unwrap();
    }
    let later = seq.latest_checkpoint();
    let (c1, c2) = (first.checkpoint(), later.checkpoint());
    let proof = consistency_proof(&f.store, c1.size, c2.size).await.unwrap();
    verify_consistency(c1.size, c2.size, &proof, &c1.root, &c2.root).unwrap();
    assert_eq!(verified(&f.store).await.size, 17);
}

async fn a_batch_out_of_order_changes_nothing(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    seq.append(draft("t", serde_json::json!(1))).await.unwrap();
    let before = f.store.checkpoints().await.unwrap();
    let stray = Batch {
        entries: vec![modeltrail_store::NewEntry {
            seq: 5,
            timestamp: Timestamp::from_micros(1),
            body: b"{}".to_vec(),
            hashes: vec![leaf_hash(b"{}")],
            record: None,
        }],
        checkpoint: StoredCheckpoint {
            size: 6,
            text: "bogus".into(),
        },
        checkpoint_time: Timestamp::from_micros(1),
    };
    match f.store.append(&stray).await {
        Err(StoreError::OutOfOrder { size: 1, first: 5 }) => {}
        other => panic!("{other:?}"),
    }
    let mut gappy = stray.clone();
    gappy.entries[0].seq = 1;
    gappy.entries.push(modeltrail_store::NewEntry {
        seq: 3,
        ..stray.entries[0].clone()
    });
    assert!(matches!(
        f.store.append(&gappy).await,
        Err(StoreError::MalformedBatch(_))
    ));
    assert_eq!(f.store.size().await.unwrap(), 1);
    assert_eq!(f.store.checkpoints().await.unwrap(), before);
    assert_eq!(verified(&f.store).await.size, 1);
}

async fn a_transaction_failing_half_way_leaves_the_log_as_it_was(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    seq.append(draft("t", serde_json::json!(1))).await.unwrap();
    let entries = f.store.entries(0, 10).await.unwrap();
    // Plant a row where the next checkpoint goes (inserts are not refused): the next append
    // writes its event, then fails on its checkpoint, and must roll the event back.
    f.raw("INSERT INTO checkpoints (size, ts, note) VALUES (2, 0, 'planted')")
        .await
        .unwrap();
    match seq.append(draft("t", serde_json::json!(2))).await {
        Err(AppendError::Unavailable(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(f.store.size().await.unwrap(), 1);
    assert_eq!(f.store.entries(0, 10).await.unwrap(), entries);
    // The sequencer now refuses to sign on top of a log whose checkpoints disagree with it.
    match seq.append(draft("t", serde_json::json!(3))).await {
        Err(AppendError::Unavailable(message)) => {
            assert!(message.contains("checkpoint"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.store.size().await.unwrap(), 1);
}

async fn another_key_cannot_take_over_the_log(f: &Fixture) {
    start(&f.store, SequencerConfig::default()).await;
    let result = Sequencer::start(
        Arc::new(f.store.clone()),
        signer(2),
        SequencerConfig::default(),
    )
    .await;
    match result {
        Err(StoreError::WrongLog { .. }) => {}
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a second key was accepted"),
    }
    let wrong = verify_store(
        &f.store,
        &signer(2).verifier(),
        Vec::new(),
        &AuditConfig::default(),
        Arc::new(|_| {}),
    )
    .await;
    assert!(matches!(wrong, Err(StoreError::WrongLog { .. })));
}

async fn the_log_tables_refuse_update_and_delete(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    seq.append(draft("t", serde_json::json!(1))).await.unwrap();
    for sql in [
        "UPDATE events SET body = x'00'",
        "DELETE FROM events",
        "UPDATE checkpoints SET note = 'x'",
        "DELETE FROM checkpoints",
        "UPDATE log_identity SET value = 'x'",
        "DELETE FROM log_identity",
    ] {
        let sql = if matches!(f.store, AnyStore::Postgres(_)) {
            sql.replace("x'00'", "'\\x00'::bytea")
        } else {
            sql.to_owned()
        };
        let err = f.raw(&sql).await.expect_err(&sql);
        assert!(err.contains("refused"), "{sql}: {err}");
    }
    assert_eq!(verified(&f.store).await.size, 1);
}

async fn proofs_beyond_the_log_are_refused(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    for i in 0..4 {
        seq.append(draft("t", serde_json::json!(i))).await.unwrap();
    }
    assert!(inclusion_proof(&f.store, 2, 9).await.is_err());
    assert!(inclusion_proof(&f.store, 4, 4).await.is_err());
    assert!(consistency_proof(&f.store, 3, 9).await.is_err());
    assert!(consistency_proof(&f.store, 4, 3).await.is_err());
    assert!(root_at(&f.store, 5).await.is_err());
}

async fn stopping_commits_everything_already_queued(f: &Fixture) {
    let (seq, task) = Sequencer::start(
        Arc::new(f.store.clone()),
        signer(1),
        SequencerConfig::default(),
    )
    .await
    .unwrap();
    let pending: Vec<_> = (0..200)
        .map(|i| {
            let seq = seq.clone();
            tokio::spawn(async move { seq.append(draft("t", serde_json::json!(i))).await })
        })
        .collect();
    // The caller lets go of its handle at once; the sequencer stops only when every queued
    // request has been committed and answered.
    drop(seq);
    let mut acked = Vec::new();
    for p in pending {
        acked.push(p.await.unwrap().unwrap().seq);
    }
    task.finished().await.unwrap();
    acked.sort();
    assert_eq!(acked, (0..200).collect::<Vec<u64>>());
    assert_eq!(f.store.size().await.unwrap(), 200);
    assert_eq!(verified(&f.store).await.size, 200);
}

async fn password_hashes_are_kept_beside_the_log(f: &Fixture) {
    let seq = start(&f.store, SequencerConfig::default()).await;
    seq.append(draft("user.create", serde_json::json!({"user": "alice"})))
        .await
        .unwrap();
    assert_eq!(f.store.password_hash("alice").await.unwrap(), None);
    f.store
        .set_password_hash("alice", "$argon2id$first")
        .await
        .unwrap();
    f.store
        .set_password_hash("bob", "$argon2id$bob")
        .await
        .unwrap();
    f.store
        .set_password_hash("alice", "$argon2id$second")
        .await
        .unwrap();
    assert_eq!(
        f.store.password_hash("alice").await.unwrap().as_deref(),
        Some("$argon2id$second")
    );
    assert_eq!(
        f.store.password_hash("bob").await.unwrap().as_deref(),
        Some("$argon2id$bob")
    );
    // Nothing of it enters the log.
    assert_eq!(f.store.size().await.unwrap(), 1);
    verified(&f.store).await;
}

async fn the_observer_sees_every_commit_in_order_before_the_caller(f: &Fixture) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let config = SequencerConfig {
        observer: Some(Arc::new(move |events: &[modeltrail_store::Committed]| {
            let mut seen = sink.lock().unwrap();
            seen.extend(
                events
                    .iter()
                    .map(|c| (c.event.seq, c.leaf, c.event.payload.clone())),
            );
        })),
        ..SequencerConfig::default()
    };
    let seq = start(&f.store, config).await;
    let mut writers = Vec::new();
    for i in 0..40 {
        let (seq, seen) = (seq.clone(), seen.clone());
        writers.push(tokio::spawn(async move {
            let appended = seq
                .append(draft("t", serde_json::json!({"i": i})))
                .await
                .unwrap();
            // By the time the caller hears back, the observer has seen the event.
            let seen = seen.lock().unwrap();
            let entry = seen.iter().find(|(s, _, _)| *s == appended.seq).cloned();
            assert_eq!(
                entry,
                Some((appended.seq, appended.leaf, serde_json::json!({"i": i})))
            );
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let seqs: Vec<u64> = seen.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(seqs, (0..40).collect::<Vec<_>>());
}
